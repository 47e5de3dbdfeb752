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
import zlib
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import func, select

from core.database import Database
from core.models import Chunk, Class, Document

if TYPE_CHECKING:  # FAISS and bm25s load on the first search, not on the login page's path
    from core.search.hybrid import HybridIndex

READ_BATCH = 2048  # chunk rows read and indexed at a time (~5 MB of rows at 150 words a chunk)


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


class ChunkTable(Mapping[int, IndexedChunk]):
    """A class's chunks by id, compact: an array per field, each text zlib-compressed on its own, and
    file names once per document. Search needs only ~10 texts per question (a definition question
    scans more), so holding 50,000 chunks as IndexedChunk objects and strings cost ~60 MB for nothing
    (docs/retrieval.md, "Memory"). Read-only: `then` makes a new table; readers of this one are never
    disturbed."""

    def __init__(self, ids: np.ndarray, document_ids: np.ndarray, pages: np.ndarray, labels: np.ndarray,
                 label_names: list[str], texts: list[bytes], files: dict[int, tuple[str, str]]) -> None:
        self.ids = ids  # int64, ascending (rows are read in id order, and an extension only adds above)
        self.document_ids = document_ids  # int64
        self._pages = pages  # int32, -1: none (a text file)
        self._labels = labels  # int32 into label_names, -1: none
        self._label_names = label_names
        self._texts = texts  # zlib-compressed UTF-8, one per chunk
        self._files = files  # document id -> (filename, content type)

    @classmethod
    def empty(cls) -> "ChunkTable":
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int32),
                   [], [], {})

    def _position(self, chunk_id: object) -> int:
        if not isinstance(chunk_id, (int, np.integer)):
            return -1
        at = int(np.searchsorted(self.ids, chunk_id))
        return at if at < len(self.ids) and self.ids[at] == chunk_id else -1

    def __getitem__(self, chunk_id: int) -> IndexedChunk:
        at = self._position(chunk_id)
        if at < 0:
            raise KeyError(chunk_id)
        document_id = int(self.document_ids[at])
        filename, content_type = self._files[document_id]
        page, label = int(self._pages[at]), int(self._labels[at])
        return IndexedChunk(int(chunk_id), document_id, filename, content_type, None if page < 0 else page,
                            zlib.decompress(self._texts[at]).decode(), None if label < 0 else self._label_names[label])

    def __contains__(self, chunk_id: object) -> bool:
        return self._position(chunk_id) >= 0

    @property
    def text_bytes(self) -> int:
        """What the compressed texts hold (bench index reports it)."""
        return sum(map(len, self._texts))

    def __iter__(self) -> Iterator[int]:
        return iter(self.ids.tolist())

    def __len__(self) -> int:
        return len(self.ids)

    def then(self, rows: "_TableRows") -> "ChunkTable":
        """This table's chunks followed by `rows`' (new arrays and lists; the texts are shared)."""
        if not rows.ids:
            return self
        names = dict(zip(self._label_names, range(len(self._label_names))))
        labels = [-1 if label is None else names.setdefault(label, len(names)) for label in rows.labels]
        return ChunkTable(np.concatenate([self.ids, np.asarray(rows.ids, np.int64)]),
                          np.concatenate([self.document_ids, np.asarray(rows.document_ids, np.int64)]),
                          np.concatenate([self._pages, np.asarray(rows.pages, np.int32)]),
                          np.concatenate([self._labels, np.asarray(labels, np.int32)]),
                          list(names), self._texts + rows.texts, {**self._files, **rows.files})


@dataclass
class _TableRows:
    """The chunk rows read for a table, field by field (the texts already compressed)."""

    ids: list[int] = field(default_factory=list)
    document_ids: list[int] = field(default_factory=list)
    pages: list[int] = field(default_factory=list)
    labels: list[str | None] = field(default_factory=list)
    texts: list[bytes] = field(default_factory=list)
    files: dict[int, tuple[str, str]] = field(default_factory=dict)

    def add(self, rows: list) -> tuple[list[int], list[str], np.ndarray]:
        """Keep the rows' fields; return what the search index takes of them (ids, texts, vectors)."""
        ids = [r.id for r in rows]
        texts = [r.text for r in rows]
        self.ids += ids
        self.document_ids += (r.document_id for r in rows)
        self.pages += (-1 if r.page is None else r.page for r in rows)
        self.labels += (r.page_label for r in rows)
        # level 1: ~2x smaller than the text at ~14 us a chunk (level 6 gained 2 % for 20 % more time)
        self.texts += (zlib.compress(t.encode(), 1) for t in texts)
        for r in rows:
            if r.document_id not in self.files:
                self.files[r.document_id] = (r.filename, r.content_type)
        # float32 rows as stored; FAISS copies this batch into its index and the array is dropped
        vectors = np.frombuffer(b"".join(r.embedding for r in rows), dtype=np.float32).reshape(len(rows), -1)
        return ids, texts, vectors


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
    chunks: ChunkTable
    # per chunk, in the hybrid index's order: its document's visibility (core/services/visibility.py
    # turns them into an allowed-mask per asker; the index itself holds every ready chunk)
    instructors_only: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    release_s: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))  # NaN: released
    document_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # per chunk
    documents: dict[int, DocumentState] = field(default_factory=dict)  # the ready documents it holds

    def view(self, allowed: np.ndarray | None = None) -> "IndexView":
        """The index as one asker sees it: only the `allowed` chunks (a bool per chunk, in the index's
        order; None: all), in every look-up."""
        return IndexView(self, allowed)

    def __len__(self) -> int:
        return len(self.chunks)


@dataclass(frozen=True)
class TermStatistics:
    """How common each of a question's (analysed) terms is among the chunks an asker may see: what
    makes a rare word weigh more (IDF). A term the class never uses occurs in 0 chunks."""

    chunks: int
    document_frequency: dict[str, int]


class IndexView:
    """What a question needs of its class's index, under one asker's visibility: the best matches,
    the passages holding a term, and the terms' statistics. Every figure comes from the allowed
    chunks only: a hidden answer key must not make its words "known" to a student."""

    def __init__(self, index: ClassIndex, allowed: np.ndarray | None):
        self._index = index
        self._allowed = allowed

    @property
    def size(self) -> int:
        """How many chunks the asker may see."""
        return self._index.hybrid.size(self._allowed)

    def search(self, question: str, query_vec: np.ndarray, k: int) -> list[Match]:
        """The k chunks that best match the question, best first."""
        chunks = self._index.chunks
        return [Match(chunks[hit.chunk_id], hit.score, hit.cosine)
                for hit in self._index.hybrid.search(question, query_vec, k=k, allowed=self._allowed)]

    def holding(self, terms: Sequence[str], query_vec: np.ndarray, limit: int) -> Iterator[Match]:
        """The chunks that hold every one of the (analysed) terms, best BM25 match first, up to
        `limit`; each with its cosine to the query and no fused score (0.0)."""
        chunks = self._index.chunks
        for hit in self._index.hybrid.holding(terms, query_vec, limit=limit, allowed=self._allowed):
            yield Match(chunks[hit.chunk_id], 0.0, hit.cosine)

    def term_statistics(self, terms: Sequence[str]) -> TermStatistics:
        return TermStatistics(self.size, self._index.hybrid.document_frequencies(terms, self._allowed))


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
            return_freed_memory()
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
        # the version first: if the class changes during the reads, the index is labelled older than
        # what it holds, and the next get() replaces it (never the other way round)
        with self.db.transaction() as s:
            version = _version(s, class_id)
            documents = ready_documents(s, class_id)
        built = _class_index(self.db, class_id, version, documents)
        assert built is not None  # only an extension expects a number of rows
        return built

    def _extend(self, class_id: int, stale: ClassIndex) -> ClassIndex | None:
        """The stale index with the documents added since, or None when anything else changed."""
        last = int(stale.chunks.ids[-1]) if len(stale.chunks) else 0
        with self.db.transaction() as s:
            version = _version(s, class_id)
            if version[1] != stale.version[1]:  # deleted and re-created (or gone)
                return None
            documents = ready_documents(s, class_id)
        added = {d: state for d, state in documents.items() if d not in stale.documents}
        if (any(d not in documents or not documents[d].same_chunks(state) for d, state in stale.documents.items())
                or any(state.first_chunk <= last for state in added.values())):
            return None
        return _class_index(self.db, class_id, version, documents, stale,
                            expected=sum(state.chunks for state in added.values()))


def return_freed_memory() -> None:
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


def release_seconds(release_at: datetime | None) -> float:
    """A release time as the index keeps it: epoch seconds, NaN for none (NaN > now is False)."""
    return float("nan") if release_at is None else release_at.timestamp()


def ready_documents(s, class_id: int) -> dict[int, DocumentState]:
    """Every ready document of the class that has chunks, with its chunks' count and id range."""
    rows = s.execute(
        select(Document.id, Document.created_at, Document.instructors_only, Document.release_at,
               func.count(Chunk.id).label("n"), func.min(Chunk.id).label("first"), func.max(Chunk.id).label("last"))
        .join(Chunk, Chunk.document_id == Document.id)
        .where(Document.class_id == class_id, Document.status == "ready")
        .group_by(Document.id, Document.created_at, Document.instructors_only, Document.release_at)
    ).all()
    return {r.id: DocumentState(r.created_at, r.n, r.first, r.last, bool(r.instructors_only),
                                release_seconds(r.release_at)) for r in rows}


def chunk_batches(db: Database, class_id: int, after: int = 0) -> Iterator[list]:
    """The class's ready chunks with ids above `after`, in id order, READ_BATCH rows at a time, each batch
    one short read: a build never holds the whole class's rows (their embedding bytes alone are as large
    as the index's vectors), nor a transaction open while it analyses."""
    while True:
        with db.transaction() as s:
            rows = s.execute(
                select(Chunk.id, Chunk.document_id, Chunk.page, Chunk.page_label, Chunk.text, Chunk.embedding,
                       Document.filename, Document.content_type)
                .join(Document, Document.id == Chunk.document_id)
                .where(Chunk.class_id == class_id, Document.status == "ready", Chunk.id > after)
                .order_by(Chunk.id).limit(READ_BATCH)
            ).all()
        if rows:
            yield rows
        if len(rows) < READ_BATCH:
            return
        after = rows[-1].id


def _class_index(db: Database, class_id: int, version: Version, documents: dict[int, DocumentState],
                 stale: ClassIndex | None = None, expected: int | None = None) -> ClassIndex | None:
    """A ClassIndex of the stale one's chunks (none for a full build) followed by the class's chunks above
    them, read in batches; None when `expected` rows were expected and a different number was read."""
    from core.search.hybrid import HybridIndex

    after = int(stale.chunks.ids[-1]) if stale is not None and len(stale.chunks) else 0
    rows = _TableRows()
    batches = chunk_batches(db, class_id, after) if expected != 0 else iter(())
    hybrid = HybridIndex.build_from((rows.add(batch) for batch in batches),
                                    base=stale.hybrid if stale is not None else None)
    if expected is not None and len(rows.ids) != expected:
        return None  # not what the document rows say: rebuild rather than guess
    chunks = (stale.chunks if stale is not None else ChunkTable.empty()).then(rows)
    document_ids = chunks.document_ids
    # The reads are separate statements (SQLite and PostgreSQL's read committed give no snapshot
    # across them): if a change landed between them the documents and the chunks disagree. Then keep
    # no document states, so that the next get() (which sees the change's new version) rebuilds.
    # (The rows are read in batches after the documents, so such a change can land during the build.)
    held, counts = np.unique(document_ids, return_counts=True)
    held_list = held.tolist()
    # each chunk's visibility from its document's, which may have changed since the last build;
    # a chunk whose document the read did not see stays hidden from students
    hidden = np.array([documents[d].instructors_only if d in documents else True for d in held_list], dtype=bool)
    release = np.array([documents[d].release_s if d in documents else np.nan for d in held_list], dtype=np.float64)
    if all(d in documents and documents[d].chunks == c for d, c in zip(held_list, counts.tolist())):
        documents = {d: documents[d] for d in held_list}
    else:
        documents = {}
    at = np.searchsorted(held, document_ids)
    return ClassIndex(version=version, hybrid=hybrid, chunks=chunks, instructors_only=hidden[at],
                      release_s=release[at], document_ids=document_ids, documents=documents)

