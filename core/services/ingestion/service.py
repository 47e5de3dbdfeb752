"""Ingestion: an upload becomes a stored original, a document row and a queued job, together; the job
(core/services/ingestion/job.py) turns them into chunks, or removes them with the reason it failed.

This service is the one owner of ingest jobs: it creates them (or finds the upload already in the
class), cancels the waiting one of a deleted document, takes up those a stopped runner left, and is
where the app, the CLI and the Status page read them. Bad input that can be judged at once (type,
size, first bytes, a duplicate) is refused before anything is written.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.config import Settings
from core.database import Database
from core.errors import ClassGPTError, IngestError
from core.events import log_event
from core.ingest.extract import clean_filename, detect_content_type, unsupported_reason
from core.jobs import JobQueue
from core.models import Document, IngestFailure, IngestJob, utcnow
from core.services.actors import Actor
from core.services.ingestion.job import STALE_AFTER, Ingester
from core.services.ingestion.records import ACTIVE, IngestResult, JobInfo, Submitted
from core.services.material import MaterialChanged
from core.services.permissions import require_instructor
from core.services.visibility import apply_visibility, as_utc
from core.storage import FileStore, StoreResolver, checksum, remove_leftover

log = logging.getLogger(__name__)

# a `processing` document without a job is an upload of a version before jobs (revision 0010)
# whose process died; this long after, its leftovers are cleared for a new upload of the file
STALE_PROCESSING = timedelta(minutes=30)
RECENT = timedelta(minutes=30)  # finished jobs the Documents page still lists
FIRST_POLL_S = 0.02  # wait() looks at the rows this soon, then ever less often up to its poll_s


def storage_key(class_id: int, document_id: int) -> str:
    # derived from ids, never from the user's filename
    return f"classes/{class_id}/documents/{document_id}"


class IngestionService:
    def __init__(self, db: Database, store: FileStore, stores: StoreResolver, settings: Settings,
                 material: MaterialChanged, queue: JobQueue, ingester: Ingester):
        self.db = db
        self.store = store  # where new uploads go
        self.stores = stores  # the store each existing row names
        self.settings = settings
        self.material = material
        self._queue = queue  # who runs the jobs
        self._ingester = ingester  # what running one does

    # ---- uploads ----------------------------------------------------------------------------------
    def unsupported_reason(self, filename: str, size: int) -> str | None:
        """Why submit() would refuse a file of this name and size, in words, or None: for the uploader
        to explain a file as soon as it is chosen. Reads nothing; submit() checks again."""
        return unsupported_reason(filename, size, self.settings.max_upload_bytes)

    def submit(self, actor: Actor, class_id: int, filename: str, data: bytes, *, include_notes: bool = False,
               instructors_only: bool = False, release_at: datetime | None = None) -> Submitted:
        """Store one file and queue its ingest job; returns at once. What can be judged without
        reading the file through (its type, size, first bytes; a file already in the class) is
        decided here, in `result`; the rest is the job's (`job_id`: wait_for or the job's row).
        A deck's speaker notes are indexed only with include_notes: they often hold private remarks.
        instructors_only / release_at hide it from students (always / until then).
        (The same bytes uploaded again return the existing document, whichever way it was made;
        asked to hide it, the upload hides that document: the instructor's latest word wins, and
        an answer key must not stay visible because it happened to be uploaded before.)"""
        filename = clean_filename(filename)
        release_at = as_utc(release_at)
        with self.db.transaction() as s:  # permission errors are raised, not recorded as failures
            require_instructor(s, actor, class_id, "upload documents")
        visibility = {"instructors_only": bool(instructors_only), "release_at": release_at}
        try:
            if reason := unsupported_reason(filename, len(data), self.settings.max_upload_bytes):
                raise IngestError(reason)
            content_type = detect_content_type(filename, data)
            digest = checksum(data)
            found = self._find_duplicate(class_id, digest)
            if found is None:
                found = self._store_and_queue(actor, class_id, filename, data, content_type, digest,
                                              include_notes, visibility)
        except ClassGPTError as exc:
            self._record_failure(actor, class_id, filename, str(exc))
            submitted = Submitted(filename, result=IngestResult(filename, "failed", error=str(exc)))
        else:
            if isinstance(found, int):
                submitted = Submitted(filename, job_id=found)
            else:
                if found.document_id is not None and (instructors_only or release_at):
                    with self.db.transaction() as s:
                        apply_visibility(s, found.document_id, **visibility)
                        self.material.record(s, class_id)
                submitted = Submitted(filename, result=found)
        status = "queued" if submitted.job_id is not None else submitted.result.status
        log_event("upload", user=actor.email, class_id=class_id, filename=filename, size_bytes=len(data),
                  status=status, job_id=submitted.job_id,
                  document_id=submitted.result.document_id if submitted.result else None,
                  deduplicated=bool(submitted.result and submitted.result.deduplicated),
                  error=submitted.result.error if submitted.result else None)
        return submitted

    def wait_for(self, submitted: Submitted, follow: Callable[[JobInfo], None] | None = None) -> IngestResult:
        """The upload's outcome: decided at submit, or once its job has ended (where jobs go to
        PostgreSQL's queue, a worker must take it). `follow` hears the job whenever its row changes."""
        if submitted.result is not None:
            return submitted.result
        [job] = self.wait([submitted.job_id], follow)
        return IngestResult.of(job)

    def _store_and_queue(self, actor: Actor, class_id: int, filename: str, data: bytes, content_type: str,
                         digest: str, include_notes: bool, visibility: dict) -> int | IngestResult:
        """One transaction: the document row, its job, the queue's entry, and (last, so a failure
        before it stores nothing) the original. A failed commit removes the stored original."""
        key = None
        try:
            with self.db.transaction() as s:
                row = Document(class_id=class_id, filename=filename, content_type=content_type,
                               size_bytes=len(data), sha256=digest, storage_key="", status="processing",
                               page_count=0, uploaded_by=actor.user_id, storage_backend=self.store.backend,
                               **visibility)
                s.add(row)
                s.flush()
                row.storage_key = storage_key(class_id, row.id)
                job = IngestJob(class_id=class_id, document_id=row.id, filename=filename, size_bytes=len(data),
                                include_notes=include_notes, created_by=actor.user_id, state="queued",
                                stage="queued", progress=0.0)
                s.add(job)
                s.flush()
                self._queue.enqueue(s, job.id)
                self.store.put(row.storage_key, data, content_type)
                key, job_id = row.storage_key, job.id
        except IntegrityError:
            # the same bytes were uploaded concurrently and won the race
            found = self._find_duplicate(class_id, digest)
            if found is not None:
                return found
            raise
        except BaseException:
            if key is not None:  # stored, then the commit failed
                remove_leftover(self.store, key, "a failed upload")
            raise
        return job_id

    def _find_duplicate(self, class_id: int, digest: str) -> IngestResult | int | None:
        """The class's document with these bytes: ready (its result), still being processed (its
        job's id), or None. A `processing` row without a live job is a crashed upload of an
        earlier version: its leftovers are cleared so this upload can proceed."""
        with self.db.transaction() as s:
            existing = s.scalar(select(Document).where(Document.class_id == class_id, Document.sha256 == digest))
            if existing is None:
                return None
            if existing.status == "ready":
                return IngestResult(existing.filename, existing.status, existing.id, pages=existing.page_count,
                                    chunks=existing.chunk_count, deduplicated=True)
            job_id = s.scalar(select(IngestJob.id).where(IngestJob.document_id == existing.id,
                                                         IngestJob.state.in_(ACTIVE)))
            if job_id is not None:
                return job_id
            abandoned = existing.created_at < utcnow() - STALE_PROCESSING
            doc_id, key, backend, name = existing.id, existing.storage_key, existing.storage_backend, existing.filename
        if not abandoned:
            return IngestResult(name, "processing", doc_id, deduplicated=True,
                                error=f"{name}: the same file is being processed right now; it appears when ready.")
        log.warning("removing document %s, left in processing since a crash", doc_id)
        if key:
            remove_leftover(self.stores(backend), key, "a failed upload")
        with self.db.transaction() as s:
            s.execute(delete(Document).where(Document.id == doc_id))
        return None

    def _record_failure(self, actor: Actor, class_id: int, filename: str, error: str) -> None:
        try:
            with self.db.transaction() as s:
                s.add(IngestFailure(class_id=class_id, filename=filename, error=error, user_id=actor.user_id))
        except Exception:
            log.exception("could not record the failure of %s", filename)

    # ---- the jobs' lives --------------------------------------------------------------------------
    def cancel_waiting(self, s: Session, document_id: int) -> None:
        """In the caller's transaction (a document being deleted): its job still waiting has nothing
        left to do. One already running finds the row gone and cancels itself."""
        s.execute(update(IngestJob).where(IngestJob.document_id == document_id, IngestJob.state == "queued")
                  .values(state="cancelled", stage="cancelled", finished_at=utcnow(),
                          error="the document was deleted before it was processed"))

    @property
    def runs_here(self) -> bool:
        """Whether this process runs the jobs (the thread runner: SQLite, or JOB_RUNNER=thread)."""
        return self._queue.kind == "thread"

    def resume(self) -> None:
        """At a runner's start (the app on SQLite, a worker on PostgreSQL): take up the jobs left
        unfinished by a runner that stopped, or by a restored backup (core/jobs)."""
        self._queue.resume(self.unfinished(stale_only=self.runs_here))

    def run_job(self, job_id: int, should_stop: Callable[[], bool] = lambda: False) -> None:
        """The job code, for a runner: process one job to its end (core/services/ingestion/job.py)."""
        self._ingester.run(job_id, should_stop)

    def close(self) -> None:
        """This process's runner takes no more jobs."""
        self._queue.close()

    def unfinished(self, stale_only: bool = True) -> list[int]:
        """Jobs not ended: queued, or working (with stale_only, only under a holder that stopped
        beating: a live one is still at it)."""
        working = IngestJob.state == "working"
        if stale_only:
            working = working & (IngestJob.heartbeat_at < utcnow() - STALE_AFTER)
        with self.db.transaction() as s:
            return list(s.scalars(select(IngestJob.id).where(or_(IngestJob.state == "queued", working))
                                  .order_by(IngestJob.id)).all())

    # ---- reading ----------------------------------------------------------------------------------
    def for_class(self, actor: Actor, class_id: int, since: timedelta = RECENT) -> list[JobInfo]:
        """The class's jobs still running, and those finished lately, in the order they were queued
        (instructors)."""
        with self.db.transaction() as s:
            require_instructor(s, actor, class_id, "see uploads in progress")
            rows = s.scalars(select(IngestJob).where(
                IngestJob.class_id == class_id,
                or_(IngestJob.state.in_(ACTIVE), IngestJob.created_at >= utcnow() - since),
            ).order_by(IngestJob.id)).all()
            return [JobInfo.of(r) for r in rows]

    def listing(self, class_id: int | None = None, states: Iterable[str] | None = None,
                limit: int = 50) -> list[JobInfo]:
        """Jobs for operators (`python -m core jobs`), newest first."""
        query = select(IngestJob).order_by(IngestJob.id.desc()).limit(limit)
        if class_id is not None:
            query = query.where(IngestJob.class_id == class_id)
        if states:
            query = query.where(IngestJob.state.in_(list(states)))
        with self.db.transaction() as s:
            return [JobInfo.of(r) for r in s.scalars(query).all()]

    def summary(self) -> dict:
        """For the Status page and `health`: who runs the jobs, how many workers are alive (the
        queue's), how many jobs wait and run, and how long the oldest has waited (docs/jobs.md)."""
        with self.db.transaction() as s:
            counts = dict(s.execute(select(IngestJob.state, func.count()).where(IngestJob.state.in_(ACTIVE))
                                    .group_by(IngestJob.state)).all())
            oldest = s.scalar(select(func.min(IngestJob.created_at)).where(IngestJob.state == "queued"))
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=timezone.utc)  # (SQLite's aggregate skips the column type)
        waited = round((utcnow() - oldest).total_seconds(), 1) if oldest is not None else 0.0
        return {"runner": self._queue.kind, "workers": self._queue.workers(), "queued": counts.get("queued", 0),
                "working": counts.get("working", 0), "oldest_queued_s": waited}

    def workers(self) -> int | None:
        """Workers that sent a heartbeat lately; None where this process runs the jobs itself."""
        return self._queue.workers()

    def wait(self, job_ids: list[int], on_change: Callable[[JobInfo], None] | None = None, *,
             on_poll: Callable[[], None] | None = None, poll_s: float = 0.25,
             timeout_s: float | None = None) -> list[JobInfo]:
        """Block until every job has ended; on_change hears each job whenever its row changed,
        on_poll each look at the rows."""
        seen: dict[int, JobInfo] = {}
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        pause = min(FIRST_POLL_S, poll_s)  # a small file is ready in a fraction of a second: look soon
        while True:
            with self.db.transaction() as s:
                rows = {r.id: JobInfo.of(r) for r in s.scalars(select(IngestJob).where(IngestJob.id.in_(job_ids)))}
            for job_id in job_ids:
                info = rows.get(job_id)
                if info is not None and seen.get(job_id) != info:
                    seen[job_id] = info
                    if on_change is not None:
                        on_change(info)
            if all(j in rows and not rows[j].active for j in job_ids):
                return [rows[j] for j in job_ids]
            if deadline is not None and time.monotonic() > deadline:
                return [rows[j] for j in job_ids if j in rows]
            if on_poll is not None:
                on_poll()
            time.sleep(pause)
            pause = min(pause * 2, poll_s)
