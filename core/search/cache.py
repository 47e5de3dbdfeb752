"""Per-class search indexes, cached in memory and rebuilt from the database when stale.

The database is the source of truth. Each class carries an `index_version` that every
document change bumps in the same transaction; a cached index is used only while its
version matches the database's, so several processes sharing one database never serve
an index built before another process's change. The version includes the class's creation
time: SQLite gives a deleted class's id to the next new class, whose own version would
otherwise reach the deleted one's and be served its index.

When the only change is added documents (every chunk the index holds is still there, unchanged,
and every new chunk's id is above its largest), the index is extended rather than rebuilt: only
the new chunks are read and analysed (docs/retrieval.md, "Adding a document"). Anything else
(a deleted document, a re-created class) rebuilds it. Either way the new index is a new object,
swapped in under the lock: a search holding the old one keeps a consistent index.
"""
from __future__ import annotations

import ctypes
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import numpy as np
from sqlalchemy import func, select

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


@dataclass(frozen=True)
class DocumentState:
    """What the index must know of a ready document to tell that it is still the one indexed (a
    document's chunks never change once it is ready; SQLite may give a deleted document's id, and
    its chunks' ids, to the next upload, whose created_at differs) and who may see it."""

    created_at: object
    chunks: int
    first_chunk: int
    last_chunk: int
    instructors_only: bool
    release_s: float  # NaN: released

    def same_chunks(self, other: "DocumentState") -> bool:
        return (self.created_at, self.chunks, self.first_chunk, self.last_chunk) == \
            (other.created_at, other.chunks, other.first_chunk, other.last_chunk)


@dataclass
class ClassIndex:
    version: Version
    hybrid: HybridIndex  # holds the class's embeddings, once (FAISS's copy)
    chunks: dict[int, IndexedChunk]
    # per chunk, in the hybrid index's order: its document's visibility (core/services/visibility.py
    # turns them into an allowed-mask per asker; the index itself holds every ready chunk)
    instructors_only: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    release_s: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))  # NaN: released
    document_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # per chunk
    documents: dict[int, DocumentState] = field(default_factory=dict)  # the ready documents it holds

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
            return _version(s, class_id)

    def get(self, class_id: int) -> ClassIndex:
        version = self.current_version(class_id)
        cached = self._cached(class_id, version)
        if cached is not None:
            return cached
        with self._build_lock(class_id):  # one build per class at a time; others wait and reuse it
            cached = self._cached(class_id, version)
            if cached is not None:
                return cached
            with self._lock:
                stale = self._cache.get(class_id)
            built = (self._extend(class_id, stale) if stale is not None else None) or self._build(class_id)
            with self._lock:
                self._cache[class_id] = built
                self._cache.move_to_end(class_id)
                while len(self._cache) > self.max_classes:
                    self._cache.popitem(last=False)
            _return_freed_memory()
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

        # the version first: if the class changes during the reads, the index is labelled older than
        # what it holds, and the next get() replaces it (never the other way round)
        with self.db.transaction() as s:
            version = _version(s, class_id)
            rows = _chunk_rows(s, class_id)
            documents = _documents(s, class_id)
        return _class_index(version, documents, rows, HybridIndex.build, {})

    def _extend(self, class_id: int, stale: ClassIndex) -> ClassIndex | None:
        """The stale index with the documents added since, or None when anything else changed."""
        last = max(stale.chunks, default=0)
        with self.db.transaction() as s:
            version = _version(s, class_id)
            if version[1] != stale.version[1]:  # deleted and re-created (or gone)
                return None
            documents = _documents(s, class_id)
            added = {d: state for d, state in documents.items() if d not in stale.documents}
            if (any(d not in documents or not documents[d].same_chunks(state) for d, state in stale.documents.items())
                    or any(state.first_chunk <= last for state in added.values())):
                return None
            rows = _chunk_rows(s, class_id, after=last) if added else []
        if len(rows) != sum(state.chunks for state in added.values()):
            return None  # not what the document rows say: rebuild rather than guess
        return _class_index(version, documents, rows, lambda *new: stale.hybrid.extended(*new),
                            stale.chunks, stale.document_ids)


def _return_freed_memory() -> None:
    """Give the build's freed temporaries (row bytes, term lists) back to the OS. glibc keeps them
    otherwise: a 50,000-chunk build left RSS at 1,245 MB with the model loaded, ~1,055 MB after this
    (bench index --memory, docs/retrieval.md). A no-op where there is no glibc."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _version(s, class_id: int) -> Version:
    row = s.execute(select(Class.index_version, Class.created_at).where(Class.id == class_id)).first()
    return (-1, None) if row is None else (row.index_version, row.created_at)


def _documents(s, class_id: int) -> dict[int, DocumentState]:
    """Every ready document of the class that has chunks, with its chunks' count and id range."""
    from core.services.visibility import release_seconds

    rows = s.execute(
        select(Document.id, Document.created_at, Document.instructors_only, Document.release_at,
               func.count(Chunk.id).label("n"), func.min(Chunk.id).label("first"), func.max(Chunk.id).label("last"))
        .join(Chunk, Chunk.document_id == Document.id)
        .where(Document.class_id == class_id, Document.status == "ready")
        .group_by(Document.id, Document.created_at, Document.instructors_only, Document.release_at)
    ).all()
    return {r.id: DocumentState(r.created_at, r.n, r.first, r.last, bool(r.instructors_only),
                                release_seconds(r.release_at)) for r in rows}


def _chunk_rows(s, class_id: int, after: int = 0) -> list:
    return s.execute(
        select(Chunk.id, Chunk.document_id, Chunk.page, Chunk.page_label, Chunk.text, Chunk.embedding,
               Document.filename, Document.content_type)
        .join(Document, Document.id == Chunk.document_id)
        .where(Chunk.class_id == class_id, Document.status == "ready", Chunk.id > after)
        .order_by(Chunk.id)
    ).all()


def _class_index(version: Version, documents: dict[int, DocumentState], rows: list,
                 index: Callable[[list[int], list[str], np.ndarray], HybridIndex],
                 chunks: dict[int, IndexedChunk], document_ids: np.ndarray | None = None) -> ClassIndex:
    """A ClassIndex of `chunks` (a dict the new one copies, never changes) followed by `rows`."""
    # float32 rows as stored; FAISS copies them into its own index, and this array is dropped
    vectors = np.frombuffer(b"".join(r.embedding for r in rows), dtype=np.float32)
    vectors = vectors.reshape(len(rows), -1) if rows else vectors.reshape(0, 0)
    hybrid = index([r.id for r in rows], [r.text for r in rows], vectors)
    chunks = dict(chunks)
    chunks.update((r.id, IndexedChunk(r.id, r.document_id, r.filename, r.content_type, r.page, r.text, r.page_label))
                  for r in rows)
    new_docs = np.fromiter((r.document_id for r in rows), dtype=np.int64, count=len(rows))
    document_ids = new_docs if document_ids is None else np.concatenate([document_ids, new_docs])
    # The reads are separate statements (SQLite and PostgreSQL's read committed give no snapshot
    # across them): if a change landed between them the documents and the chunks disagree. Then keep
    # no document states, so that the next get() (which sees the change's new version) rebuilds.
    held, counts = np.unique(document_ids, return_counts=True)
    held_list = held.tolist()
    if all(d in documents and documents[d].chunks == c for d, c in zip(held_list, counts.tolist())):
        documents = {d: documents[d] for d in held_list}
    else:
        documents = {}
    # each chunk's visibility from its document's, which may have changed since the last build;
    # a chunk whose document the read did not see stays hidden from students
    hidden = np.array([documents[d].instructors_only if d in documents else True for d in held_list], dtype=bool)
    release = np.array([documents[d].release_s if d in documents else np.nan for d in held_list], dtype=np.float64)
    at = np.searchsorted(held, document_ids)
    return ClassIndex(version=version, hybrid=hybrid, chunks=chunks, instructors_only=hidden[at],
                      release_s=release[at], document_ids=document_ids, documents=documents)
