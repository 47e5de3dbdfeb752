"""Jobs on PostgreSQL's queue (procrastinate): the app defers a job inside the transaction that
stores its document row, and `python -m core worker` processes, on any machine that reaches the
database and the file store, take them.

Why procrastinate: jobs live in the database we already run and back up (no broker to operate),
workers wake on LISTEN/NOTIFY instead of polling, and it keeps worker heartbeats, so a worker that
died (SIGKILL, OOM, a lost machine) is found and its job handed to another (`recover_stalled`).
"""
from __future__ import annotations

import logging
import os
import socket
from typing import TYPE_CHECKING

from procrastinate import App, JobContext, RetryStrategy
from procrastinate.contrib.sqlalchemy import SQLAlchemyPsycopg2Connector
from procrastinate.exceptions import JobAborted
from sqlalchemy.engine import make_url

from core.jobs import JobHandler, Released, RetryLater

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from core.database import Database

log = logging.getLogger(__name__)

QUEUE = "ingest"
# procrastinate's own bound only keeps a job from cycling for ever; the file's attempts are counted
# and bounded in its ingest_jobs row (INGEST_MAX_ATTEMPTS), which fails it with its reason first
_RETRY = RetryStrategy(max_attempts=20, wait=3, retry_exceptions={RetryLater, Released, JobAborted})
# a worker silent for this long is taken for dead and its job is given to another
STALLED_AFTER_S = 30.0
HEARTBEAT_S = 5.0

_handler: list[JobHandler] = []  # set by run_worker, in the worker process only


def conninfo(sqlalchemy_url: str) -> str:
    """The libpq URL for psycopg 3 from our SQLAlchemy URL (postgresql+psycopg2://...)."""
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)


def _register(app: App) -> App:
    @app.task(name="ingest", queue=QUEUE, pass_context=True, retry=_RETRY)
    def ingest(context: JobContext, ingest_job_id: int) -> None:
        if not _handler:
            raise RuntimeError("ingest jobs run in `python -m core worker` processes")
        try:
            _handler[0](ingest_job_id, context.should_abort)
        except Released:
            raise JobAborted("released by a stopping worker") from None

    # (the sixth cron field is seconds: every STALLED_AFTER_S / 2)
    @app.periodic(cron=f"* * * * * */{int(STALLED_AFTER_S // 2)}")
    @app.task(name="recover-stalled", queue=QUEUE, queueing_lock="recover-stalled", pass_context=True)
    async def recover_stalled(context: JobContext, timestamp: int) -> None:
        """Give the jobs of workers that stopped sending heartbeats back to the queue."""
        manager = context.app.job_manager
        for job in await manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER_S):
            log.warning("job %s (%s) was held by a worker that stopped; queued again", job.id, job.task_kwargs)
            await manager.retry_job(job)
        await manager.prune_stalled_workers(seconds_since_heartbeat=STALLED_AFTER_S * 4)

    return app


class PostgresQueue:
    """The app and CLI side: defer jobs on the caller's own transaction."""

    kind = "queue"

    def __init__(self, db: "Database"):
        self._app = _register(App(connector=SQLAlchemyPsycopg2Connector())).open(db.engine)

    def enqueue(self, session: "Session", job_id: int) -> None:
        # on the session's connection: the job becomes visible to workers with the document row
        # it names, or not at all
        self._app.tasks["ingest"].configure(connection=session.connection()).defer(ingest_job_id=job_id)

    def resume(self, job_ids: list[int]) -> None:
        """Queue again the unfinished jobs the queue has no entry for (a database restored from a
        backup, which leaves the queue's tables out). A dead worker's jobs are not among them:
        the queue keeps those and hands them on itself (recover_stalled)."""
        if not job_ids:
            return
        rows = self._app.connector.execute_query_all(
            "SELECT (args->>'ingest_job_id')::int AS id FROM procrastinate_jobs "
            "WHERE task_name = 'ingest' AND status IN ('todo', 'doing')")
        held = {r["id"] for r in rows}
        for job_id in job_ids:
            if job_id not in held:
                log.warning("ingest job %s had no entry in the queue; queued again", job_id)
                self._app.tasks["ingest"].defer(ingest_job_id=job_id)

    def workers(self) -> int:
        """Workers that sent a heartbeat lately (for `ingest` to say when nobody is taking jobs)."""
        rows = self._app.connector.execute_query_all(
            "SELECT count(*) AS n FROM procrastinate_workers "
            f"WHERE last_heartbeat > now() - interval '{int(STALLED_AFTER_S)} seconds'")
        return int(rows[0]["n"])

    def close(self) -> None:
        self._app.close()


def run_worker(sqlalchemy_url: str, handler: JobHandler, *, concurrency: int = 1, name: str | None = None,
               stop_timeout_s: float = 20.0) -> None:
    """Take jobs until SIGTERM/SIGINT: the running job finishes within stop_timeout_s or is
    released to another worker. Blocks."""
    from procrastinate import PsycopgConnector

    _handler[:] = [handler]
    app = _register(App(connector=PsycopgConnector(conninfo=conninfo(sqlalchemy_url))))
    app.run_worker(queues=[QUEUE], concurrency=concurrency, name=name or worker_name(),
                   delete_jobs="successful", shutdown_graceful_timeout=stop_timeout_s,
                   update_heartbeat_interval=HEARTBEAT_S, stalled_worker_timeout=STALLED_AFTER_S)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"
