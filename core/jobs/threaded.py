"""Jobs in a thread of this process: the SQLite default (and JOB_RUNNER=thread on PostgreSQL, for
one instance without workers). One job at a time: embedding already uses every core.

The thread is a daemon and starts with the first job: a process that exits (a CLI command, a
stopped server) does not wait for it, and what it was doing is taken up at the next start
(`resume`), from the job rows, as a killed worker's job is on PostgreSQL."""
from __future__ import annotations

import logging
import queue
import threading

from sqlalchemy import event
from sqlalchemy.orm import Session

from core.jobs import JobHandler, Released, RetryLater

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5.0
IDLE_EXIT_S = 30.0  # an idle thread ends; the next job starts another


class ThreadQueue:
    kind = "thread"

    def __init__(self, handler: JobHandler):
        self._handler = handler
        self._jobs: queue.Queue[int] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closing = threading.Event()

    def enqueue(self, session: Session, job_id: int) -> None:
        """Run the job once the caller's transaction has committed its row (not before: the
        thread would not see it; not at all if it rolls back)."""
        event.listen(session, "after_commit", lambda _s: self.submit(job_id), once=True)

    def resume(self, job_ids: list[int]) -> None:
        for job_id in job_ids:
            self.submit(job_id)

    def submit(self, job_id: int) -> None:
        if self._closing.is_set():
            return
        self._jobs.put(job_id)
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="ingest-jobs", daemon=True)
                self._thread.start()

    def _work(self) -> None:
        while not self._closing.is_set():
            try:
                job_id = self._jobs.get(timeout=IDLE_EXIT_S)
            except queue.Empty:
                with self._lock:
                    if self._jobs.empty():
                        self._thread = None
                        return
                continue
            try:
                self._handler(job_id, self._closing.is_set)
            except RetryLater:
                # the job row counts the attempts and fails the file once they are spent
                timer = threading.Timer(RETRY_AFTER_S, self.submit, args=(job_id,))
                timer.daemon = True
                timer.start()
            except Released:
                pass  # closing: the next start takes the job up again
            except Exception:
                log.exception("ingest job %s failed unexpectedly", job_id)

    def workers(self) -> None:
        return None  # no worker processes: this one runs the jobs

    def close(self) -> None:
        self._closing.set()
