"""Per-class search indexes, cached in memory and rebuilt from the database when stale.

The database is the source of truth. Each class carries an `index_version` that every
document change bumps in the same transaction; a cached index is used only while its
version matches the database's, so several processes sharing one database never serve
an index built before another process's change. The version includes the class's creation
time: SQLite gives a deleted class's id to the next new class, whose own version would
otherwise reach the deleted one's and be served its index.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import select

from core.database import Database
from core.models import Chunk, Class, Document

if TYPE_CHECKING:  # FAISS and bm25s load on the first search, not on the login page's path
    from core.search.hybrid import HybridIndex


@dataclass(frozen=True)
class IndexedChunk:
    """A chunk as search returns it: its text, its page and the document it comes from."""

    chunk_id: int
    document_id: int
    filename: str
    content_type: str
    page: int | None  # 1-based page index; None for text files
    text: str
    page_label: str | None = None  # the printed page number; None when the PDF declares none (or older rows)


@dataclass(frozen=True)
class Match:
    chunk: IndexedChunk
    score: float  # fused rank score: orders the matches, means nothing on its own
    cosine: float  # the chunk's cosine with the question: how close in meaning it is


Version = tuple[int, object]  # (index_version, created_at); (-1, None) for a class that does not exist


@dataclass
class ClassIndex:
    version: Version
    hybrid: HybridIndex  # holds the class's embeddings, once (FAISS's copy)
    chunks: dict[int, IndexedChunk]
    # per chunk, in the hybrid index's order: its document's visibility (core/services/visibility.py
    # turns them into an allowed-mask per asker; the index itself holds every ready chunk)
    instructors_only: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    release_s: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))  # NaN: released

    def search(self, question: str, query_vec: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[Match]:
        """The k chunks that best match the question, best first; only `allowed` ones when given."""
        return [Match(self.chunks[hit.chunk_id], hit.score, hit.cosine)
                for hit in self.hybrid.search(question, query_vec, k=k, allowed=allowed)]

    def visible_count(self, allowed: np.ndarray | None) -> int:
        return len(self.chunks) if allowed is None else int(np.count_nonzero(allowed))

    def __len__(self) -> int:
        return len(self.chunks)


class IndexCache:
    def __init__(self, db: Database, max_classes: int = 64):
        self.db = db
        self.max_classes = max_classes
        self._cache: OrderedDict[int, ClassIndex] = OrderedDict()
        self._lock = threading.Lock()
        self._build_locks: dict[int, threading.Lock] = {}

    def current_version(self, class_id: int) -> Version:
        with self.db.transaction() as s:
            row = s.execute(select(Class.index_version, Class.created_at).where(Class.id == class_id)).first()
        return (-1, None) if row is None else (row.index_version, row.created_at)

    def get(self, class_id: int) -> ClassIndex:
        version = self.current_version(class_id)
        cached = self._cached(class_id, version)
        if cached is not None:
            return cached
        with self._build_lock(class_id):  # one build per class at a time; others wait and reuse it
            cached = self._cached(class_id, version)
            if cached is not None:
                return cached
            built = self._build(class_id)
            with self._lock:
                self._cache[class_id] = built
                self._cache.move_to_end(class_id)
                while len(self._cache) > self.max_classes:
                    self._cache.popitem(last=False)
            return built

    def _cached(self, class_id: int, version: Version) -> ClassIndex | None:
        with self._lock:
            hit = self._cache.get(class_id)
            if hit is not None and hit.version == version:
                self._cache.move_to_end(class_id)
                return hit
        return None

    def _build_lock(self, class_id: int) -> threading.Lock:
        with self._lock:
            return self._build_locks.setdefault(class_id, threading.Lock())

    def _build(self, class_id: int) -> ClassIndex:
        from core.search.hybrid import HybridIndex
        from core.services.visibility import release_seconds

        # version and chunks are read in one transaction so they describe the same state
        with self.db.transaction() as s:
            klass = s.execute(select(Class.index_version, Class.created_at).where(Class.id == class_id)).first()
            rows = s.execute(
                select(Chunk.id, Chunk.document_id, Chunk.page, Chunk.page_label, Chunk.text, Chunk.embedding,
                       Document.filename, Document.content_type, Document.instructors_only, Document.release_at)
                .join(Document, Document.id == Chunk.document_id)
                .where(Chunk.class_id == class_id, Document.status == "ready")
                .order_by(Chunk.id)
            ).all()
        # float32 rows as stored; FAISS copies them into its own index, and this array is dropped
        vectors = np.frombuffer(b"".join(r.embedding for r in rows), dtype=np.float32)
        vectors = vectors.reshape(len(rows), -1) if rows else vectors.reshape(0, 0)
        return ClassIndex(
            version=(-1, None) if klass is None else (klass.index_version, klass.created_at),
            hybrid=HybridIndex.build([r.id for r in rows], [r.text for r in rows], vectors),
            chunks={r.id: IndexedChunk(r.id, r.document_id, r.filename, r.content_type, r.page, r.text,
                                         r.page_label)
                    for r in rows},
            instructors_only=np.fromiter((bool(r.instructors_only) for r in rows), dtype=bool, count=len(rows)),
            release_s=np.fromiter((release_seconds(r.release_at) for r in rows), dtype=np.float64, count=len(rows)),
        )
