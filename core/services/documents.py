"""Documents: upload (store the original, queue its ingest job), list, download, delete.

A document row, its stored original and its job are written together; the job turns them into
chunks (core/services/ingestion.py), or removes them with the reason of its failure. Bad input
that can be judged at once (type, size, first bytes, a duplicate) is refused before anything is
written.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from core.config import Settings
from core.database import Database
from core.errors import ClassGPTError, IngestError, NotFound, StorageUnavailable, ValidationError
from core.events import log_event
from core.ingest.extract import (
    OFFICE_TYPES,
    PDF,
    PPTX,
    SUPPORTED,
    Page,
    clean_filename,
    detect_content_type,
    extract,
    unsupported_reason,
)
from core.jobs import JobQueue
from core.models import Chunk, Class, Document, IngestFailure, IngestJob, User, utcnow
from core.services.actors import Actor
from core.services.ingestion import ACTIVE, EMBED_GROUP, STAGES, IngestJobs, JobInfo, Progress
from core.services.permissions import require_instructor, require_reader
from core.services.visibility import is_visible, sees_hidden, visible_clause
from core.storage import FileStore, StoreResolver, checksum, remove_leftover

log = logging.getLogger(__name__)

__all__ = ["EMBED_GROUP", "STAGES", "DocumentService", "IngestResult", "Progress", "Submitted"]
# a `processing` document without a job is an upload of a version before jobs (revision 0010)
# whose process died; this long after, its leftovers are cleared for a new upload of the file
STALE_PROCESSING = timedelta(minutes=30)
PREVIEWS_CACHED = 256  # page pictures (~100-300 KB each) kept per process
TEXTS_CACHED = 16  # extracted documents (slides, Word pages or sections), kept per process for text previews


@dataclass(frozen=True)
class IngestResult:
    filename: str
    status: str  # ready | failed
    document_id: int | None = None
    error: str | None = None
    pages: int = 0
    chunks: int = 0
    deduplicated: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ready"


@dataclass(frozen=True)
class Submitted:
    """An upload as submit() left it: queued (follow job_id), or decided at once (result)."""
    filename: str
    job_id: int | None = None
    result: IngestResult | None = None


def _result_of(job: JobInfo) -> IngestResult:
    if job.state == "ready":
        return IngestResult(job.filename, "ready", job.document_id, pages=job.pages, chunks=job.chunks)
    return IngestResult(job.filename, "failed", error=job.error or f"{job.filename}: {job.state}")


@dataclass(frozen=True)
class DocumentInfo:
    id: int
    class_id: int
    filename: str
    content_type: str
    size_bytes: int
    page_count: int
    chunk_count: int
    status: str
    error: str | None
    uploaded_by: str | None  # the uploader's name (their email's local part if they gave none); None: account gone
    created_at: datetime
    instructors_only: bool = False  # hidden from students (core/services/visibility.py)
    release_at: datetime | None = None  # hidden from students until then


@dataclass(frozen=True)
class PageText:
    """A slide or Word page/section to show as text, where PDFs show a picture: nothing renders
    Office files here (no LibreOffice), and the text is what was indexed, minus speaker notes."""
    kind: str  # "slide" | "page" (a Word or PDF page) | "section" (a Word file cited by heading) | "text"
    title: str | None  # the slide's title, the section's heading
    lines: list[str]  # what follows the title: a slide's bullets and table rows, a Word file's paragraphs


@dataclass(frozen=True)
class FailureInfo:
    filename: str
    error: str
    created_at: datetime


def storage_key(class_id: int, document_id: int) -> str:
    # derived from ids, never from the user's filename
    return f"classes/{class_id}/documents/{document_id}"


def shown_as_text(filename: str) -> bool:
    """Whether a document's pages are previewed as text (slides, Word files) rather than pictures:
    its type was fixed by its extension at upload (extract.detect_content_type), so the name
    says it without reading the row."""
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return SUPPORTED.get(f".{suffix}") in OFFICE_TYPES


def _no_progress(stage: str, fraction: float) -> None:
    pass


def _shown_name(name: str | None, email: str | None) -> str | None:
    """How an uploader is shown to the class: their name, else their email's local part; students
    see the list, and an address is not theirs to see. None when the account is gone."""
    return (name or "").strip() or (email.split("@")[0] if email else None)


def _aware(when: datetime | None) -> datetime | None:
    """A release time without a zone is UTC: the app shows every time in UTC (ui.widgets.when)."""
    return when.replace(tzinfo=timezone.utc) if when is not None and when.tzinfo is None else when


class DocumentService:
    def __init__(self, db: Database, store: FileStore, stores: StoreResolver, settings: Settings,
                 on_change: list[Callable[[int], None]] | None = None, *,
                 jobs: IngestJobs, queue: JobQueue):
        self.db = db
        self.jobs = jobs  # the ingest jobs' code and rows
        self.queue = queue  # who runs them
        # called with the class id after a document becomes ready or is deleted (the gold checks
        # run again: core/services/gold.py); the list itself is kept, so build_services may add to it
        self.on_change = on_change if on_change is not None else []
        self.store = store  # where new uploads go
        self.stores = stores  # the store each existing row names
        self._previews: OrderedDict[tuple[str, int, int, str | None], bytes] = OrderedDict()
        self._previews_lock = threading.Lock()
        self._texts: OrderedDict[str, list[Page]] = OrderedDict()  # by the file's sha256, like previews
        self.settings = settings

    def notify_changed(self, class_id: int) -> None:
        """Tell the listeners that a class's material changed; a failure is logged, never raised:
        an upload or a delete must not fail because of what runs after it."""
        for listener in self.on_change:
            try:
                listener(class_id)
            except Exception:
                log.exception("a listener failed after class %s changed", class_id)

    # ---- ingest -------------------------------------------------------------------------------
    def unsupported_reason(self, filename: str, size: int) -> str | None:
        """Why upload() would refuse a file of this name and size, in words, or None: for the
        uploader to explain a file as soon as it is chosen. Reads nothing; upload() checks again."""
        return unsupported_reason(filename, size, self.settings.max_upload_bytes)

    def submit(self, actor: Actor, class_id: int, filename: str, data: bytes, *, include_notes: bool = False,
               instructors_only: bool = False, release_at: datetime | None = None,
               progress: Progress | None = None) -> Submitted:
        """Store one file and queue its ingest job; returns at once. What can be judged without
        reading the file through (its type, size, first bytes; a file already in the class) is
        decided here, in `result`; the rest is the job's (`job_id`, followed in IngestJobs).
        A deck's speaker notes are indexed only with include_notes: they often hold private remarks.
        instructors_only / release_at hide it from students (always / until then). `progress`
        hears every step where the job runs in this process (the thread runner).
        (The same bytes uploaded again return the existing document, whichever way it was made;
        asked to hide it, the upload hides that document: the instructor's latest word wins, and
        an answer key must not stay visible because it happened to be uploaded before.)"""
        filename = clean_filename(filename)
        release_at = _aware(release_at)
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
                                              include_notes, visibility, progress)
        except ClassGPTError as exc:
            self._record_failure(actor, class_id, filename, str(exc))
            submitted = Submitted(filename, result=IngestResult(filename, "failed", error=str(exc)))
        else:
            if isinstance(found, int):
                submitted = Submitted(filename, job_id=found)
            else:
                if found.document_id is not None and (instructors_only or release_at):
                    self._set_visibility(found.document_id, class_id, **visibility)
                submitted = Submitted(filename, result=found)
        status = "queued" if submitted.job_id is not None else submitted.result.status
        log_event("upload", user=actor.email, class_id=class_id, filename=filename, size_bytes=len(data),
                  status=status, job_id=submitted.job_id,
                  document_id=submitted.result.document_id if submitted.result else None,
                  deduplicated=bool(submitted.result and submitted.result.deduplicated),
                  error=submitted.result.error if submitted.result else None)
        if submitted.result is not None and submitted.result.ok:
            self.notify_changed(class_id)
        return submitted

    def resume_jobs(self) -> None:
        """At a runner's start (the app on SQLite, a worker on PostgreSQL): take up the jobs left
        unfinished by a runner that stopped, or by a restored backup (core/jobs)."""
        self.queue.resume(self.jobs.unfinished(stale_only=self.queue.kind == "thread"))

    def upload(self, actor: Actor, class_id: int, filename: str, data: bytes,
               progress: Progress | None = None, *, include_notes: bool = False,
               instructors_only: bool = False, release_at: datetime | None = None) -> IngestResult:
        """submit() and wait for its job: the result once the file is ready or failed (failed
        results carry the reason; nothing of the file is kept). Where jobs go to PostgreSQL's
        queue, this waits for a worker."""
        progress = progress or _no_progress
        started = time.perf_counter()
        progress("checking", 0.0)
        submitted = self.submit(actor, class_id, filename, data, include_notes=include_notes,
                                instructors_only=instructors_only, release_at=release_at, progress=progress)
        if submitted.result is not None:
            result = submitted.result
            progress("ready" if result.ok else "failed", 1.0)
        else:
            follow = None
            if self.queue.kind != "thread":  # the job runs elsewhere: its row tells how it goes
                def follow(job: JobInfo) -> None:
                    if job.active:
                        progress(job.stage or job.state, job.progress)
            job = self.jobs.wait([submitted.job_id], follow)[0]
            result = _result_of(job)
            if self.queue.kind != "thread":
                progress("ready" if result.ok else "failed", 1.0)
        return replace(result, seconds=time.perf_counter() - started)

    def _store_and_queue(self, actor: Actor, class_id: int, filename: str, data: bytes, content_type: str,
                         digest: str, include_notes: bool, visibility: dict,
                         progress: Progress | None) -> int | IngestResult:
        """One transaction: the document row, its job, the queue's entry, and (last, so a failure
        before it stores nothing) the original. A failed commit removes the stored original."""
        if progress is not None:
            progress("saving", 0.01)
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
                if progress is not None:
                    self.jobs.listen(job.id, progress)
                self.queue.enqueue(s, job.id)
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

    # ---- read -----------------------------------------------------------------------------------
    def list(self, actor: Actor, class_id: int) -> list[DocumentInfo]:
        """The class's documents the actor may see (students: not the hidden ones)."""
        with self.db.transaction() as s:
            _, role = require_reader(s, actor, class_id)
            query = (select(Document, User.name, User.email).outerjoin(User, User.id == Document.uploaded_by)
                     .where(Document.class_id == class_id).order_by(Document.created_at.desc(), Document.id.desc()))
            if not sees_hidden(role):  # nor files still being processed: nothing of them answers yet
                query = query.where(visible_clause(), Document.status == "ready")
            return [DocumentInfo(d.id, d.class_id, d.filename, d.content_type, d.size_bytes, d.page_count,
                                 d.chunk_count, d.status, d.error, _shown_name(name, email), d.created_at,
                                 d.instructors_only, d.release_at) for d, name, email in s.execute(query).all()]

    def set_visibility(self, actor: Actor, document_id: int, instructors_only: bool,
                       release_at: datetime | None) -> None:
        """Hide a document from students (instructors_only), or until release_at; or show it again."""
        release_at = _aware(release_at)
        with self.db.transaction() as s:
            doc = s.get(Document, document_id)
            if doc is None:
                raise NotFound(f"Document {document_id} does not exist.")
            require_instructor(s, actor, doc.class_id, "change who sees documents")
            class_id = doc.class_id
        self._set_visibility(document_id, class_id, bool(instructors_only), release_at)
        log_event("visibility", user=actor.email, class_id=class_id, document_id=document_id,
                  instructors_only=bool(instructors_only), release_at=release_at.isoformat() if release_at else None)

    def _set_visibility(self, document_id: int, class_id: int, instructors_only: bool,
                        release_at: datetime | None) -> None:
        with self.db.transaction() as s:
            s.execute(update(Document).where(Document.id == document_id)
                      .values(instructors_only=instructors_only, release_at=release_at))
            # the search index keeps each chunk's visibility: rebuild it, in the same transaction
            s.execute(update(Class).where(Class.id == class_id).values(index_version=Class.index_version + 1))

    def failures(self, actor: Actor, class_id: int, limit: int = 20) -> list[FailureInfo]:
        with self.db.transaction() as s:
            require_instructor(s, actor, class_id, "see failed uploads")
            rows = s.scalars(select(IngestFailure).where(IngestFailure.class_id == class_id)
                             .order_by(IngestFailure.created_at.desc(), IngestFailure.id.desc()).limit(limit))
            return [FailureInfo(f.filename, f.error, f.created_at) for f in rows]

    def _readable(self, actor: Actor, document_id: int) -> Document:
        with self.db.transaction() as s:
            doc = s.get(Document, document_id)
            if doc is None:
                raise NotFound(f"Document {document_id} does not exist.")
            _, role = require_reader(s, actor, doc.class_id)
            if not is_visible(role, doc.instructors_only, doc.release_at):
                # the message a missing document gets: a student must not learn that it exists
                raise NotFound(f"Document {document_id} does not exist.")
            return doc

    def download(self, actor: Actor, document_id: int) -> tuple[str, str, bytes]:
        """(filename, content type, original bytes) of a document the actor may read."""
        doc = self._readable(actor, document_id)
        return doc.filename, doc.content_type, self.stores(doc.storage_backend).get(doc.storage_key)

    def page_preview(self, actor: Actor, document_id: int, page: int, width_px: int = 800,
                     highlight: str | None = None) -> bytes:
        """PNG of one page (1-based) of a PDF the actor may read, with the passage `highlight`
        marked where it is on the page. Access is checked on every call; the picture is cached by
        the file's content, so a deleted or replaced document is never shown from the cache, and
        one rendering serves every reader of the same source."""
        from core.ingest.pdf import render_page_png  # pdfium loads with the first preview

        doc = self._readable(actor, document_id)
        if doc.content_type != PDF:
            raise ValidationError(f"{doc.filename} is not a PDF: only PDF pages are shown as pictures "
                                  "(page_text shows a slide's or Word page's text).")
        key = (doc.sha256, page, width_px, highlight or None)
        with self._previews_lock:
            if key in self._previews:
                self._previews.move_to_end(key)
                return self._previews[key]
        png = render_page_png(self.stores(doc.storage_backend).get(doc.storage_key), page, width_px, highlight)
        with self._previews_lock:
            self._previews[key] = png
            while len(self._previews) > PREVIEWS_CACHED:
                self._previews.popitem(last=False)
        return png

    def page_text(self, actor: Actor, document_id: int, page: int | None, label: str | None = None,
                  passage: str | None = None) -> PageText:
        """The text of one slide (page = slide number), Word page (page) or Word section (page None,
        label "§ heading") of a document the actor may read, laid out for reading: what the Chat
        page shows where nothing can draw a picture. (A PDF page or a text file works too.) Access
        is checked on every call. Speaker notes are never shown: whether they were indexed is not
        recorded, and they may be private. Of two sections with the same heading, the one holding
        `passage` (the cited text) wins."""
        doc = self._readable(actor, document_id)
        pages = self._pages(doc)
        found = [p for p in pages if (p.number == page if page is not None else p.label == label)]
        if not found:
            where = f"slide {page}" if doc.content_type == PPTX else (f"page {page}" if page else label or "such part")
            raise NotFound(f"{doc.filename} has no {where}.")
        start = " ".join((passage or "").split())[:60]
        chosen = next((p for p in found if start and start in " ".join(p.text.split())), found[0])
        lines = [line for line in chosen.text.split("\n") if line.strip()]
        if chosen.title and lines and lines[0] == chosen.title:
            lines = lines[1:]
        kind = ("slide" if doc.content_type == PPTX else "page" if chosen.number is not None
                else "section" if chosen.label else "text")
        return PageText(kind, chosen.title, lines)

    def _pages(self, doc: Document) -> list[Page]:
        """The pages of a stored document, extracted again (quick: no embedding; no speaker notes)
        and cached by content, so a deleted or replaced document is never shown from the cache."""
        with self._previews_lock:
            if doc.sha256 in self._texts:
                self._texts.move_to_end(doc.sha256)
                return self._texts[doc.sha256]
        data = self.stores(doc.storage_backend).get(doc.storage_key)
        pages = extract(doc.filename, data, max_pages=self.settings.max_pages_per_document,
                        max_chars=self.settings.max_text_chars).pages
        with self._previews_lock:
            self._texts[doc.sha256] = pages
            while len(self._texts) > TEXTS_CACHED:
                self._texts.popitem(last=False)
        return pages

    def download_url(self, actor: Actor, document_id: int, expires_s: int = 300, inline: bool = False) -> str | None:
        doc = self._readable(actor, document_id)
        return self.stores(doc.storage_backend).download_url(doc.storage_key, doc.filename, expires_s, inline)

    # ---- delete ---------------------------------------------------------------------------------
    def delete(self, actor: Actor, document_id: int) -> None:
        with self.db.transaction() as s:
            doc = s.get(Document, document_id)
            if doc is None:
                raise NotFound(f"Document {document_id} does not exist.")
            require_instructor(s, actor, doc.class_id, "delete documents")
            class_id, key, backend = doc.class_id, doc.storage_key, doc.storage_backend
            # a job still waiting for it has nothing left to do (one running finds the row gone)
            s.execute(update(IngestJob).where(IngestJob.document_id == document_id, IngestJob.state == "queued")
                      .values(state="cancelled", stage="cancelled", error="the document was deleted before it "
                              "was processed", finished_at=utcnow()))
            s.delete(doc)
            s.execute(update(Class).where(Class.id == class_id).values(index_version=Class.index_version + 1))
        try:
            self.stores(backend).delete(key)
        except StorageUnavailable:
            log.warning("document %s deleted; its file %s stays until `storage check --fix`", document_id, key)
        self.notify_changed(class_id)

    def counts(self) -> dict[str, int]:
        with self.db.transaction() as s:
            return {
                "documents": s.scalar(select(func.count()).select_from(Document)) or 0,
                "chunks": s.scalar(select(func.count()).select_from(Chunk)) or 0,
                "ingest_failures": s.scalar(select(func.count()).select_from(IngestFailure)) or 0,
            }


