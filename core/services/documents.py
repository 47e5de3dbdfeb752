"""Documents: list, download, preview, hide and delete a class's documents.

An upload becomes a document through ingestion (core/services/ingestion): this service reads and
manages what ingestion made. Deleting a document cancels its waiting job in the same transaction,
and every change students could notice (deleted, hidden, shown) is recorded as a change of the
class's material (core/services/material.py).
"""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from core.config import Settings
from core.database import Database
from core.errors import NotFound, StorageUnavailable, ValidationError
from core.events import log_event
from core.ingest.extract import extract
from core.ingest.formats import PDF, PPTX, Page, shown_as_text
from core.models import Chunk, Document, IngestFailure, User
from core.services.actors import Actor
from core.services.ingestion import IngestionService
from core.services.material import MaterialChanged
from core.services.permissions import require_instructor, require_reader
from core.services.visibility import apply_visibility, as_utc, is_visible, sees_hidden, visible_clause
from core.storage import StoreResolver

log = logging.getLogger(__name__)

__all__ = ["DocumentInfo", "DocumentService", "FailureInfo", "PageText", "shown_as_text"]

PREVIEWS_CACHED = 256  # page pictures (~100-300 KB each) kept per process
TEXTS_CACHED = 16  # extracted documents (slides, Word pages or sections), kept per process for text previews


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


def _shown_name(name: str | None, email: str | None) -> str | None:
    """How an uploader is shown to the class: their name, else their email's local part; students
    see the list, and an address is not theirs to see. None when the account is gone."""
    return (name or "").strip() or (email.split("@")[0] if email else None)


class DocumentService:
    def __init__(self, db: Database, stores: StoreResolver, settings: Settings, material: MaterialChanged,
                 ingestion: IngestionService):
        self.db = db
        self.stores = stores  # the store each row names
        self.settings = settings
        self.material = material
        self.ingestion = ingestion  # a deleted document's waiting job is cancelled with it
        self._previews: OrderedDict[tuple[str, int, int, str | None], bytes] = OrderedDict()
        self._previews_lock = threading.Lock()
        self._texts: OrderedDict[str, list[Page]] = OrderedDict()  # by the file's sha256, like previews

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
        release_at = as_utc(release_at)
        with self.db.transaction() as s:
            doc = s.get(Document, document_id)
            if doc is None:
                raise NotFound(f"Document {document_id} does not exist.")
            require_instructor(s, actor, doc.class_id, "change who sees documents")
            class_id = doc.class_id
            apply_visibility(s, document_id, bool(instructors_only), release_at)
            self.material.record(s, class_id)
        log_event("visibility", user=actor.email, class_id=class_id, document_id=document_id,
                  instructors_only=bool(instructors_only), release_at=release_at.isoformat() if release_at else None)

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
            self.ingestion.cancel_waiting(s, document_id)
            s.delete(doc)
            self.material.record(s, class_id)
        try:
            self.stores(backend).delete(key)
        except StorageUnavailable:
            log.warning("document %s deleted; its file %s stays until `storage check --fix`", document_id, key)

    def counts(self) -> dict[str, int]:
        with self.db.transaction() as s:
            return {
                "documents": s.scalar(select(func.count()).select_from(Document)) or 0,
                "chunks": s.scalar(select(func.count()).select_from(Chunk)) or 0,
                "ingest_failures": s.scalar(select(func.count()).select_from(IngestFailure)) or 0,
            }


