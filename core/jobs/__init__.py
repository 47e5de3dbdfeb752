"""Where ingestion jobs run: the small Protocol the ingestion service sees, and its one factory.

The job's state lives in the `ingest_jobs` table (core/services/ingestion); a queue only says
*when* to run which job. On PostgreSQL that is procrastinate, taken by `python -m core worker`
processes on any machine (core/jobs/postgres.py); on SQLite, a thread of this process
(core/jobs/threaded.py), so `make run` stays one command. docs/jobs.md says why.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from core.config import Settings
    from core.database import Database

# The job code: run ingest job `job_id`; `should_stop()` turns true when the runner is asked to
# let go of it (a worker stopping). Raises RetryLater to be run again after a transient failure.
JobHandler = Callable[[int, Callable[[], bool]], None]


class RetryLater(Exception):
    """A job hit a transient failure (storage or database down) and should run again shortly."""


class Released(Exception):
    """A job gave itself back unfinished because its runner is stopping; another one takes it."""


class JobQueue(Protocol):
    kind: str  # "queue" (PostgreSQL, worker processes) | "thread" (this process)

    def enqueue(self, session: "Session", job_id: int) -> None: ...  # on the caller's transaction

    # jobs a runner in this process should take up at start (left by a predecessor that died);
    # the PostgreSQL queue finds those itself
    def resume(self, job_ids: list[int]) -> None: ...

    # workers that sent a heartbeat lately (for `ingest` and the Status page to say when nobody takes
    # jobs); None where this process runs them itself
    def workers(self) -> int | None: ...

    def close(self) -> None: ...  # take no more jobs (this process)


def make_job_queue(settings: "Settings", db: "Database", handler: JobHandler) -> JobQueue:
    if settings.queued_jobs:
        from core.jobs.postgres import PostgresQueue

        return PostgresQueue(db)
    from core.jobs.threaded import ThreadQueue

    return ThreadQueue(handler)
