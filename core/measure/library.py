"""Evaluation classes of any make-up, from documents each ingested once.

Every document of a corpus goes through the real upload path (IngestionService.submit, its job,
the real model) once, into a library class; a class for one evaluation is then made of a choice of
them by copying their rows (documents and chunks, vectors included), which takes milliseconds
where ingesting again would take seconds a document. The copies share the library's stored files.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlalchemy import select

from core.measure.corpora import EvalDocument
from core.models import Chunk, Document
from core.services.actors import SYSTEM
from core.services.material import MaterialChanged

LIBRARY = "evaluation library"


class ClassLibrary:
    def __init__(self, services, progress: Callable[[str], None] | None = None):  # noqa: ANN001
        self.services = services
        self.say = progress or (lambda message: None)
        found = [c for c in services.classes.list_for(SYSTEM) if c.name == LIBRARY]
        self.library_id = found[0].id if found else services.classes.create(SYSTEM, LIBRARY).id
        with services.db.transaction() as s:
            self.ids = {name: doc_id for doc_id, name in s.execute(
                select(Document.id, Document.filename).where(Document.class_id == self.library_id,
                                                             Document.status == "ready"))}
        self.failed: dict[str, str] = {}

    def ingest(self, documents: Iterable[EvalDocument]) -> None:
        """Every document not in the library yet, through the real upload path; failures are kept."""
        ingestion = self.services.ingestion
        todo = [d for d in documents if d.name not in self.ids and d.name not in self.failed]
        queued = [(d, ingestion.submit(SYSTEM, self.library_id, d.name, d.data())) for d in todo]
        for i, (d, submitted) in enumerate(queued, 1):
            result = ingestion.wait_for(submitted)
            if result.ok:
                self.ids[d.name] = result.document_id
            else:
                self.failed[d.name] = result.error or "failed"
            if i % 50 == 0 or i == len(queued):
                self.say(f"library: {i}/{len(queued)} documents ingested")

    def make_class(self, name: str, documents: Iterable[str]) -> int:
        """A new class holding copies of these library documents (those that ingested)."""
        class_id = self.services.classes.create(SYSTEM, name).id
        doc_ids = [self.ids[n] for n in dict.fromkeys(documents) if n in self.ids]
        with self.services.db.transaction() as s:
            for original in s.scalars(select(Document).where(Document.id.in_(doc_ids))).all():
                copy = Document(class_id=class_id, **{c: getattr(original, c) for c in _COPIED})
                s.add(copy)
                s.flush()
                rows = s.execute(select(Chunk.ordinal, Chunk.page, Chunk.page_label, Chunk.text, Chunk.embedding)
                                 .where(Chunk.document_id == original.id)).all()
                s.execute(Chunk.__table__.insert(), [
                    {"document_id": copy.id, "class_id": class_id, "ordinal": r.ordinal, "page": r.page,
                     "page_label": r.page_label, "text": r.text, "embedding": r.embedding} for r in rows])
            MaterialChanged().record(s, class_id)  # nobody listens here: the class's index is built anew
        return class_id


_COPIED = ("filename", "content_type", "size_bytes", "sha256", "storage_key", "status", "page_count",
           "chunk_count", "storage_backend", "instructors_only", "release_at")
