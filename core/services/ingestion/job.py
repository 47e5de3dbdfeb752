"""The job code: what a runner (a worker process, or the app's thread on SQLite) does with one
uploaded file: stored original → text → chunks → vectors → the class's index.

A job's truth is its `ingest_jobs` row: state, stage and progress, attempts, the reason of a
failure, the heartbeat of whoever holds it. The queue (core/jobs) only says when to run it, so a
job survives a closed tab, and a worker killed at any point loses nothing:
- all of a document's chunks are written in one transaction, with the document turning `ready`;
  a run killed before that commit wrote no chunk, and the next run starts from the stored original;
- a run that finds its document already `ready` (killed after the commit, before the queue heard)
  only marks the job done; chunks are unique per (document, ordinal) besides;
- attempts are counted when a run *starts*, so a file that brings its worker down every time is
  failed with its reason after INGEST_MAX_ATTEMPTS, and its document and original are removed.
docs/jobs.md.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import DBAPIError, OperationalError

from core.config import Settings
from core.database import Database
from core.errors import ClassGPTError, IngestError, StorageUnavailable
from core.events import log_event
from core.ingest.chunking import chunk_pages
from core.ingest.extract import extract
from core.jobs import Released, RetryLater
from core.models import Chunk, Document, IngestFailure, IngestJob, utcnow
from core.search.embeddings import Embedder
from core.services.material import MaterialChanged
from core.storage import StoreResolver, remove_leftover

log = logging.getLogger(__name__)

# A progress report: (stage, fraction of the whole upload done, 0..1), written to the job's row.
Progress = Callable[[str, float], None]
# Chunks per embedder call: the progress moves while the slow step runs (~1 s a group with the
# real model on 2 cores, where 256 left it still for 10 s), and no slower in total (docs/upload.md).
EMBED_GROUP = 32
HEARTBEAT_S = 10.0
# a `working` row whose holder has not beaten for this long is taken over (thread runner; the
# PostgreSQL queue decides that itself from its workers' heartbeats)
STALE_AFTER = timedelta(seconds=60)


@dataclass(frozen=True)
class _Claim:
    job_id: int
    class_id: int
    document_id: int | None
    filename: str
    include_notes: bool
    attempts: int
    uploaded_by: object


class Ingester:
    """Runs ingest jobs by id: `run` is the JobHandler a queue calls (core/jobs)."""

    def __init__(self, db: Database, stores: StoreResolver, embedder_factory: Callable[[], Embedder],
                 settings: Settings, material: MaterialChanged, worker_name: str = "app"):
        self.db = db
        self.stores = stores
        self._embedder_factory = embedder_factory
        self.settings = settings
        self.material = material  # a document turning ready changes its class's material
        self.worker_name = worker_name

    # ---- the job ---------------------------------------------------------------------------------
    def run(self, job_id: int, should_stop: Callable[[], bool] = lambda: False) -> None:
        """Process one job to an end state, or raise RetryLater (a transient failure; the job is
        queued again) or Released (should_stop turned true; the job is queued again)."""
        claim = self._claim(job_id)
        if claim is None:
            return  # done already, cancelled, or held by a live runner
        if claim.document_id is None:
            self._finish(job_id, "cancelled", "the document was deleted before it was processed")
            return
        stop_beating = self._heartbeat(job_id)
        started = time.perf_counter()
        try:
            if claim.attempts > self.settings.ingest_max_attempts:
                raise IngestError(f"{claim.filename}: processing stopped {claim.attempts - 1} times before it "
                                  "finished (the worker was stopped or crashed each time); nothing was saved.")
            pages, chunks = self._process(claim, self._reporter(job_id), should_stop)
        except Released:
            self._release(job_id)
            raise
        except _Gone:
            self._finish(job_id, "cancelled", "the document was deleted while it was processed")
        except (StorageUnavailable, OperationalError) as exc:
            if claim.attempts < self.settings.ingest_max_attempts:
                log.warning("ingest job %s: %s; trying again", job_id, exc)
                self._requeue(job_id, f"trying again: {exc}")
                raise RetryLater(str(exc)) from exc
            self._give_up(claim, f"{claim.filename}: processing failed ({_why(exc)}); nothing was saved.")
        except ClassGPTError as exc:  # the file itself: trying again would not help
            self._give_up(claim, str(exc))
        except Exception as exc:
            log.exception("ingest job %s (%s) failed", job_id, claim.filename)
            self._give_up(claim, f"{claim.filename}: processing failed ({type(exc).__name__}); nothing was saved.")
        else:
            log_event("ingested", job_id=job_id, document_id=claim.document_id, class_id=claim.class_id,
                      filename=claim.filename, pages=pages, chunks=chunks, attempt=claim.attempts,
                      seconds=round(time.perf_counter() - started, 3), worker=self.worker_name)
        finally:
            stop_beating()

    def _claim(self, job_id: int) -> _Claim | None:
        """Take the job: queued, or working under a holder that stopped beating (or, handed over by
        the PostgreSQL queue, which knows its holder died). Counts the attempt."""
        now = utcnow()
        takeover = IngestJob.heartbeat_at < now - STALE_AFTER
        if self.settings.queued_jobs:
            takeover = or_(takeover, IngestJob.worker != self.worker_name)
        with self.db.transaction() as s:
            taken = s.execute(
                update(IngestJob)
                .where(IngestJob.id == job_id,
                       or_(IngestJob.state == "queued", (IngestJob.state == "working") & takeover))
                .values(state="working", attempts=IngestJob.attempts + 1, started_at=now, heartbeat_at=now,
                        worker=self.worker_name, stage="checking", progress=0.0)
            ).rowcount
            if taken != 1:
                return None
            job = s.get(IngestJob, job_id)
            uploaded_by = s.scalar(select(Document.uploaded_by).where(Document.id == job.document_id))
            return _Claim(job.id, job.class_id, job.document_id, job.filename, job.include_notes, job.attempts,
                          uploaded_by)

    def _process(self, claim: _Claim, progress: Progress, should_stop: Callable[[], bool]) -> tuple[int, int]:
        with self.db.transaction() as s:
            doc = s.get(Document, claim.document_id)
            if doc is None:
                raise _Gone()
            if doc.status == "ready":  # a run before this one committed, then died
                pages, chunks = doc.page_count, doc.chunk_count
                ready = True
            else:
                key, backend, filename, ready = doc.storage_key, doc.storage_backend, doc.filename, False
        if ready:
            self._finish(claim.job_id, "ready", pages=pages, chunks=chunks)
            return pages, chunks
        data = self.stores(backend).get(key)
        progress("extracting text", 0.02)
        extracted = extract(filename, data, max_bytes=self.settings.max_upload_bytes,
                            max_pages=self.settings.max_pages_per_document, max_chars=self.settings.max_text_chars,
                            include_notes=claim.include_notes)
        chunks = chunk_pages(extracted.pages, self.settings.chunk_words, self.settings.chunk_overlap_words)
        if not chunks:
            raise IngestError(f"{filename}: no text to index was found.")
        if should_stop():
            raise Released()
        vectors = self._embed([c.text for c in chunks], progress, should_stop)
        progress("indexing", 0.95)
        with self.db.transaction() as s:
            # the row lock orders two runners of one job (a takeover of a live one): the second
            # sees `ready` and writes nothing
            doc = s.execute(select(Document).where(Document.id == claim.document_id).with_for_update()).scalar()
            if doc is None:
                raise _Gone()
            if doc.status != "ready":
                s.execute(delete(Chunk).where(Chunk.document_id == doc.id))
                s.execute(
                    Chunk.__table__.insert(),
                    [{"document_id": doc.id, "class_id": doc.class_id, "ordinal": c.ordinal, "page": c.page,
                      "page_label": c.page_label, "text": c.text, "embedding": vectors[i].tobytes()}
                     for i, c in enumerate(chunks)],
                )
                doc.status, doc.page_count, doc.chunk_count = "ready", extracted.page_count, len(chunks)
                self.material.record(s, doc.class_id)
            pages, count = doc.page_count, doc.chunk_count
        # The job ends after the commit, once the material's listeners have run (they run inside it):
        # whoever waits for the upload then sees its consequences (the class's checks) too. A run
        # killed in between leaves the document ready and the job working: the next run finds the
        # document ready and only ends the job.
        self._finish(claim.job_id, "ready", pages=pages, chunks=count)
        progress("ready", 1.0)
        return extracted.page_count, len(chunks)

    def _embed(self, texts: list[str], progress: Progress, should_stop: Callable[[], bool]) -> np.ndarray:
        """Embed in groups of EMBED_GROUP, reporting "embedding n/N passages" from 0.1 to 0.95."""
        embedder = self._embedder_factory()
        total = len(texts)
        # Longest first, as sentence-transformers orders one call's texts: small groups of similar
        # length pad as little as one big call would (unsorted groups of 32 were ~9% slower).
        order = sorted(range(total), key=lambda i: -len(texts[i]))
        parts = []
        progress(f"embedding 0/{total} passages", 0.1)
        for start in range(0, total, EMBED_GROUP):
            if should_stop():
                raise Released()
            parts.append(embedder.embed([texts[i] for i in order[start:start + EMBED_GROUP]]))
            done = min(start + EMBED_GROUP, total)
            progress(f"embedding {done}/{total} passages", 0.1 + 0.85 * done / total)
        vectors = np.empty((total, parts[0].shape[1]), dtype=np.float32)
        vectors[order] = np.vstack(parts)
        return vectors

    # ---- the row ---------------------------------------------------------------------------------
    def _reporter(self, job_id: int) -> Progress:
        """Write every step to the job's row, where the Documents page and `ingest` read it: a step is
        one group of EMBED_GROUP passages (~1 s with the real model), so a 5,000-passage book writes
        ~160 small updates."""

        def report(stage: str, fraction: float) -> None:
            if stage.split(" ", 1)[0] in ("ready", "failed"):
                return  # the end state is written with the result
            with self.db.transaction() as s:
                s.execute(update(IngestJob).where(IngestJob.id == job_id, IngestJob.state == "working")
                          .values(stage=stage[:200], progress=fraction, heartbeat_at=utcnow()))

        return report

    def _heartbeat(self, job_id: int) -> Callable[[], None]:
        """Beat every HEARTBEAT_S while the job runs (extracting a long PDF reports no progress)."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(HEARTBEAT_S):
                try:
                    with self.db.transaction() as s:
                        s.execute(update(IngestJob).where(IngestJob.id == job_id, IngestJob.state == "working")
                                  .values(heartbeat_at=utcnow()))
                except Exception:
                    log.warning("ingest job %s: heartbeat not written", job_id, exc_info=True)

        threading.Thread(target=beat, name=f"ingest-heartbeat-{job_id}", daemon=True).start()
        return stop.set

    def _finish(self, job_id: int, state: str, error: str | None = None, *, pages: int = 0, chunks: int = 0) -> None:
        with self.db.transaction() as s:
            self._finish_in(s, job_id, state, error, pages=pages, chunks=chunks)

    @staticmethod
    def _finish_in(s, job_id: int, state: str, error: str | None = None, *, pages: int = 0,  # noqa: ANN001
                   chunks: int = 0) -> None:
        s.execute(update(IngestJob).where(IngestJob.id == job_id)
                  .values(state=state, stage=state, error=error, pages=pages, chunks=chunks,
                          progress=1.0, finished_at=utcnow()))

    def _release(self, job_id: int) -> None:
        """Give the job back unfinished (its runner is stopping): that attempt does not count."""
        with self.db.transaction() as s:
            s.execute(update(IngestJob).where(IngestJob.id == job_id, IngestJob.state == "working")
                      .values(state="queued", stage="queued again (its worker stopped)", progress=0.0,
                              attempts=IngestJob.attempts - 1, worker=None))

    def _requeue(self, job_id: int, why: str) -> None:
        with self.db.transaction() as s:
            s.execute(update(IngestJob).where(IngestJob.id == job_id)
                      .values(state="queued", stage=why[:200], progress=0.0, worker=None))

    def _give_up(self, claim: _Claim, error: str) -> None:
        """The file failed for good: its document, chunks and stored original go; the reason stays
        (the job row, and the class's upload failures)."""
        with self.db.transaction() as s:
            doc = s.get(Document, claim.document_id) if claim.document_id is not None else None
            key, backend = (doc.storage_key, doc.storage_backend) if doc is not None else (None, None)
        if key:
            remove_leftover(self.stores(backend), key, "a failed ingest")
        with self.db.transaction() as s:
            s.execute(delete(Chunk).where(Chunk.document_id == claim.document_id))
            s.execute(delete(Document).where(Document.id == claim.document_id))
            s.add(IngestFailure(class_id=claim.class_id, filename=claim.filename, error=error,
                                user_id=claim.uploaded_by))
            self._finish_in(s, claim.job_id, "failed", error)
        log_event("ingest_failed", level=logging.WARNING, job_id=claim.job_id, class_id=claim.class_id,
                  filename=claim.filename, attempt=claim.attempts, error=error, worker=self.worker_name)


class _Gone(ClassGPTError):
    """The document was deleted while its job ran."""


def _why(exc: BaseException) -> str:
    if isinstance(exc, DBAPIError):
        return "the database could not be reached"
    return str(exc) or type(exc).__name__
