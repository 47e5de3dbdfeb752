"""Per-class hybrid index: exact dense search (FAISS) plus BM25 (bm25s), fused.

Pure in-memory and built from arrays; the index cache (core/search/cache.py) decides when to rebuild.
Every look-up takes an optional `allowed` mask (a bool per chunk, in build order): chunks outside
it are dropped before any depth is cut, so hiding some never leaves the others short of results.
"""
from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Literal, Sequence

import numpy as np

from core.search import native
from core.search.terms import Analysis, tokenize

if TYPE_CHECKING:
    import bm25s
    import faiss

Mode = Literal["fused", "dense", "bm25"]
Part = tuple[Sequence[int], Sequence[str], np.ndarray]  # chunk ids, texts, float32 vectors (one row each)


@dataclass(frozen=True)
class Hit:
    chunk_id: int
    score: float  # fused score (or the single list's score in dense / bm25 mode)
    cosine: float  # the chunk's exact cosine with the query, whatever the mode
    bm25: float | None  # its exact BM25 score; None in dense mode or when no query term is known


@dataclass(frozen=True)
class Fusion:
    """How the dense and BM25 candidate lists are merged.

    "convex" (default): alpha * cos / max_cos + (1 - alpha) * bm25 / max_bm25, computed on
    the union of both candidate lists with each chunk's exact score in both systems.
    "rrf": sum of weight / (rrf_k + rank). Chosen on SciFact train: see docs/retrieval.md.
    """

    method: Literal["convex", "rrf"] = "convex"
    alpha: float = 0.6
    rrf_k: float = 60.0
    dense_weight: float = 1.0
    bm25_weight: float = 1.0


DEFAULT_FUSION = Fusion()


class HybridIndex:
    """Dense + BM25 index over one class's chunks."""

    def __init__(self, chunk_ids: np.ndarray, dense: "faiss.Index | None",
                 embeddings: np.ndarray, bm25: "bm25s.BM25 | None",
                 vocab: dict[str, int], counts: TermCounts | None = None) -> None:
        self._ids = chunk_ids
        self._dense = dense
        self._emb = embeddings
        self._bm25 = bm25
        self._vocab = vocab
        # every chunk's term counts: an added document rebuilds BM25 from these instead of analysing
        # the whole class again
        self._counts = counts if counts is not None else TermCounts.of([], 0)

    @classmethod
    def build(cls, chunk_ids: Sequence[int], texts: Sequence[str],
              embeddings: np.ndarray) -> "HybridIndex":
        return cls.build_from([(chunk_ids, texts, embeddings)])

    @classmethod
    def build_from(cls, parts: Iterable[Part], base: "HybridIndex | None" = None) -> "HybridIndex":
        """The index of `base`'s chunks (if any) followed by the parts' chunks, in order. `base` is not
        changed (searches in other threads may be reading it): FAISS gets a new flat index (a copy of
        its vectors, then the new ones), and BM25 is rebuilt from its stored term counts, so only the
        new texts are analysed.

        Parts are taken one at a time (the cache streams them from the database): each part's vectors
        go straight into FAISS and only its texts are analysed, so no whole-class temporary (row
        bytes, a second copy of the vectors, every chunk's term list) ever exists. The result is
        the same whatever the parts' sizes (tests/test_index_memory.py)."""
        dense, analysis = None, Analysis(base._vocab if base is not None else None)
        ids, counts = [], []
        if base is not None and len(base):
            dense = native.faiss().IndexFlatIP(base._emb.shape[1])
            dense.add(base._emb)
            ids.append(base._ids)
            counts.append(base._counts)
        for chunk_ids, texts, embeddings in parts:
            part_ids = np.asarray(chunk_ids, dtype=np.int64)
            if len(texts) != len(part_ids) or len(embeddings) != len(part_ids):
                raise ValueError(f"{len(part_ids)} ids, {len(texts)} texts and {len(embeddings)} embeddings")
            if len(part_ids) == 0:
                continue
            vectors = np.ascontiguousarray(embeddings, dtype=np.float32)
            if dense is None:
                dense = native.faiss().IndexFlatIP(vectors.shape[1])
            dense.add(vectors)  # FAISS copies them: its copy is the only one the index keeps
            counts.append(TermCounts.of(analysis.add(texts), len(analysis.vocab)))  # `base`'s vocab is not changed
            ids.append(part_ids)
        if base is not None and len(ids) == (1 if len(base) else 0):
            return base  # nothing added
        if dense is None:
            return cls(np.zeros(0, np.int64), None, np.zeros((0, 0), np.float32), None, {})
        all_counts, vocab = TermCounts.concat(counts), analysis.vocab
        n, dim = dense.ntotal, dense.d
        # fusion reads FAISS's own copy through this view: the vectors are held once
        emb = native.faiss().rev_swig_ptr(dense.get_xb(), n * dim).reshape(n, dim)
        return cls(np.concatenate(ids), dense, emb, bm25_matrix(all_counts, vocab), vocab, all_counts)

    def __len__(self) -> int:
        return len(self._ids)

    def part_bytes(self) -> dict[str, int]:
        """What each part of the index holds in memory: the vectors (FAISS's copy), the BM25 matrix
        and the term counts an extension rebuilds it from (bench index reports them)."""
        bm25 = 0 if self._bm25 is None else sum(a.nbytes for a in self._bm25.scores.values() if hasattr(a, "nbytes"))
        return {"vectors": self._emb.nbytes, "bm25_matrix": bm25, "term_counts": self._counts.nbytes}

    def dense_candidates(self, query_vec: np.ndarray, n: int,
                         allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Return (positions, cosines) of the n nearest (allowed) chunks, best first."""
        if self._dense is None:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        if allowed is not None:
            # the same exact inner products FAISS's flat index computes, over the allowed chunks only
            positions = np.flatnonzero(allowed)
            cos = self._emb[positions] @ np.asarray(query_vec, dtype=np.float32).ravel()
            order = np.argsort(-cos, kind="stable")[:n]
            return positions[order], cos[order]
        q = np.ascontiguousarray(query_vec, dtype=np.float32).reshape(1, -1)
        with native.faiss_single_thread():
            scores, pos = self._dense.search(q, min(n, len(self)))
        keep = pos[0] >= 0
        return pos[0][keep], scores[0][keep]

    def _bm25_scores(self, query: str, allowed: np.ndarray | None = None) -> np.ndarray | None:
        """BM25 score of every chunk (0 outside `allowed`), or None when no query term is in the vocabulary."""
        if self._bm25 is None:
            return None
        (terms,) = tokenize([query])
        term_ids = [self._vocab[t] for t in terms if t in self._vocab]
        return self._term_scores(term_ids, allowed) if term_ids else None

    def _term_scores(self, term_ids: list[int], allowed: np.ndarray | None) -> np.ndarray:
        assert self._bm25 is not None
        scores = self._bm25.get_scores_from_ids(term_ids)
        return scores if allowed is None else np.where(allowed, scores, 0.0)

    def size(self, allowed: np.ndarray | None = None) -> int:
        """How many chunks (of the allowed ones) the index holds."""
        return len(self) if allowed is None else int(np.count_nonzero(allowed))

    def document_frequencies(self, terms: Sequence[str], allowed: np.ndarray | None = None) -> dict[str, int]:
        """How many (allowed) chunks hold each (analysed) term; 0 for a term the class never uses.
        Counted from the term's BM25 scores, so nothing is kept per term between questions."""
        out = {}
        for term in terms:
            term_id = self._vocab.get(term)
            if term_id is None or self._bm25 is None:
                out[term] = 0
            else:
                out[term] = int(np.count_nonzero(self._term_scores([term_id], allowed)))
        return out

    def holding(self, terms: Sequence[str], query_vec: np.ndarray, limit: int,
                allowed: np.ndarray | None = None) -> list[Hit]:
        """(Allowed) chunks that hold every one of the (analysed) terms, the best BM25 matches first."""
        if self._bm25 is None or not terms or any(t not in self._vocab for t in terms):
            return []
        holding = allowed
        for term in terms:
            has = self._bm25.get_scores_from_ids([self._vocab[term]]) > 0
            holding = has if holding is None else holding & has
        scores = self._bm25.get_scores_from_ids([self._vocab[t] for t in terms])
        positions = np.flatnonzero(holding)
        positions = positions[np.argsort(-scores[positions], kind="stable")][:limit]
        cos = self._emb[positions] @ np.asarray(query_vec, dtype=np.float32).ravel()
        return [Hit(int(self._ids[p]), float(scores[p]), float(c), float(scores[p])) for p, c in zip(positions, cos)]

    def bm25_candidates(self, query: str, n: int,
                        scores: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Return (positions, BM25 scores) of the n best matching chunks (score > 0)."""
        if scores is None:
            scores = self._bm25_scores(query)
        if scores is None or n <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        n = min(n, len(scores))
        if n < len(scores):
            # every chunk tied with the n-th best is a candidate, and ties go to the earlier chunk:
            # argpartition alone picks among ties by the CPU's SIMD sort, so the order (and which
            # tied chunk makes the cut) would differ between machines
            kth = scores[np.argpartition(-scores, n - 1)[n - 1]]
            top = np.flatnonzero(scores >= kth)
        else:
            top = np.arange(len(scores))
        top = top[scores[top] > 0]
        top = top[np.lexsort((top, -scores[top]))][:n]
        return top, scores[top]

    def search(self, query: str, query_vec: np.ndarray, k: int = 8, mode: Mode = "fused",
               candidates: int = 100, fusion: Fusion = DEFAULT_FUSION,
               allowed: np.ndarray | None = None) -> list[Hit]:
        """Return the top k chunks for the query (of the `allowed` ones, when given), best first."""
        if self.size(allowed) == 0 or k <= 0:
            return []
        q = np.asarray(query_vec, dtype=np.float32).ravel()
        if mode == "dense":
            pos, sc = self.dense_candidates(q, k, allowed)
            return [Hit(int(self._ids[p]), float(s), float(s), None) for p, s in zip(pos, sc)]
        if mode == "bm25":
            pos, sc = self.bm25_candidates(query, k, self._bm25_scores(query, allowed))
            cos = self._emb[pos] @ q
            return [Hit(int(self._ids[p]), float(s), float(c), float(s)) for p, s, c in zip(pos, sc, cos)]
        if mode != "fused":
            raise ValueError(f"unknown mode {mode!r}")
        depth = max(candidates, k)
        d_pos, d_sc = self.dense_candidates(q, depth, allowed)
        all_bm25 = self._bm25_scores(query, allowed)
        b_pos, b_sc = self.bm25_candidates(query, depth, all_bm25)
        # every candidate gets its exact score in both systems (a cosine is one dot product, and
        # bm25s scores every chunk), so a chunk just outside one list is not zeroed there
        union = np.union1d(d_pos, b_pos)
        cos = self._emb[union] @ q
        bm25 = all_bm25[union] if all_bm25 is not None else None
        if fusion.method == "rrf":
            fused = _rrf(d_pos, b_pos, fusion)
        else:
            fused = dict(zip(union.tolist(), _convex(cos, bm25, d_sc, b_sc, fusion.alpha).tolist()))
        cos_of = dict(zip(union.tolist(), cos.tolist()))
        bm25_of = dict(zip(union.tolist(), bm25.tolist())) if bm25 is not None else {}
        # ties keep the dense order, then the BM25 order
        d_rank = {p: r for r, p in enumerate(d_pos.tolist())}
        b_rank = {p: r for r, p in enumerate(b_pos.tolist())}
        far = len(self)
        best = sorted(fused.items(), key=lambda kv: (-kv[1], d_rank.get(kv[0], far),
                                                     b_rank.get(kv[0], far)))[:k]
        return [Hit(int(self._ids[p]), s, cos_of[p], bm25_of.get(p)) for p, s in best]


@dataclass(frozen=True)
class TermCounts:
    """Each chunk's distinct term ids and how often each occurs, flat (chunk i's at offsets[i]:offsets[i + 1]),
    and each chunk's length in terms: all BM25 needs, ~6 bytes per distinct term of a chunk."""

    terms: np.ndarray  # int32
    counts: np.ndarray  # uint16 (int32 if a term occurs 65,536 times in one chunk)
    offsets: np.ndarray  # int64, one more than chunks
    lengths: np.ndarray  # int64

    @classmethod
    def of(cls, term_ids: Sequence[Sequence[int]], vocab_size: int) -> "TermCounts":
        n = len(term_ids)
        lengths = np.fromiter(map(len, term_ids), np.int64, count=n)
        flat = np.fromiter(itertools.chain.from_iterable(term_ids), np.int64, count=int(lengths.sum()))
        width = max(vocab_size, 1)
        # one sort of (chunk, term) keys counts every chunk's terms at once (bm25s counts chunk by chunk)
        keys, counts = np.unique(np.repeat(np.arange(n, dtype=np.int64), lengths) * width + flat, return_counts=True)
        offsets = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(keys // width, minlength=n), out=offsets[1:])
        small = counts.max(initial=0) < 2**16
        return cls((keys % width).astype(np.int32), counts.astype(np.uint16 if small else np.int32), offsets, lengths)

    @staticmethod
    def concat(parts: Sequence["TermCounts"]) -> "TermCounts":
        """The parts' chunks' counts, in order, in new arrays (one copy, whatever the number of parts)."""
        if len(parts) == 1:
            return parts[0]
        ends = np.cumsum([p.offsets[-1] for p in parts])[:-1]
        counts = [p.counts for p in parts]
        wide = any(c.dtype != np.uint16 for c in counts)
        return TermCounts(np.concatenate([p.terms for p in parts]),
                          np.concatenate([c.astype(np.int32, copy=False) for c in counts] if wide else counts),
                          np.concatenate([parts[0].offsets] + [p.offsets[1:] + e for p, e in zip(parts[1:], ends)]),
                          np.concatenate([p.lengths for p in parts]))

    @property
    def nbytes(self) -> int:
        return self.terms.nbytes + self.counts.nbytes + self.offsets.nbytes + self.lengths.nbytes


def bm25_matrix(counts: TermCounts, vocab: dict[str, int]) -> "bm25s.BM25 | None":
    """BM25 over the chunks' term counts (bm25s's scores, built whole-array: _counts_bm25)."""
    if not vocab:
        return None
    bm25 = _counts_bm25()()
    # bm25s's `index` accepts any object with `ids` and `vocab` and hands `ids` to build_index_from_ids
    bm25.index(_Corpus(counts, vocab), create_empty_token=False, show_progress=False)
    return bm25


@dataclass(frozen=True)
class _Corpus:
    ids: TermCounts
    vocab: dict[str, int]


@functools.cache
def _counts_bm25() -> type:
    """bm25s's BM25 with its documented override point, build_index_from_ids, taking TermCounts.

    bm25s computes the same scores chunk by chunk in Python (a Counter and a set per chunk: ~4.4 s at
    100k chunks); here they are whole-array operations with bm25s's own idf, term-frequency and CSC
    functions, in the same float types, so the matrix is bit-identical (tests/test_index_incremental.py
    checks it against bm25s's own build) in ~0.9 s.
    """
    lib = native.bm25s()
    from bm25s.scoring import _build_idf_array, _select_idf_scorer, _select_tfc_scorer

    class CountsBM25(lib.BM25):
        def build_index_from_ids(self, unique_token_ids, corpus_token_ids, show_progress=True,
                                 leave_progress=False):
            if self.method in self.methods_requiring_nonoccurrence:
                raise ValueError(f"BM25 method {self.method!r} is not supported here")
            self.nonoccurrence_array = None
            c: TermCounts = corpus_token_ids
            n_docs, n_vocab = len(c.lengths), len(unique_token_ids)
            doc_frequencies = dict(enumerate(np.bincount(c.terms, minlength=n_vocab).tolist()))
            idf = _build_idf_array(doc_frequencies, n_docs, _select_idf_scorer(self.idf_method), self.dtype)
            rows = np.repeat(np.arange(n_docs, dtype=self.int_dtype), np.diff(c.offsets))
            tfc = _select_tfc_scorer(self.method)(tf_array=c.counts.astype(self.dtype), l_d=c.lengths[rows],
                                                  l_avg=c.lengths.mean(), k1=self.k1, b=self.b, delta=self.delta)
            scores = (idf[c.terms] * tfc).astype(self.dtype)
            data, indices, indptr = self._np_csc(data=scores, rows=rows, cols=c.terms, shape=(n_docs, n_vocab))
            return {"data": data.astype(self.dtype), "indices": indices, "indptr": indptr, "num_docs": n_docs}

    return CountsBM25


def _convex(cos: np.ndarray, bm25: np.ndarray | None, d_sc: np.ndarray, b_sc: np.ndarray,
            alpha: float) -> np.ndarray:
    """alpha * cos / max_cos + (1 - alpha) * bm25 / max_bm25, the maxima taken from each list."""
    top_cos = float(d_sc[0]) if len(d_sc) and d_sc[0] > 0 else 1.0
    score = alpha * cos / top_cos
    if bm25 is not None and len(b_sc):
        score += (1.0 - alpha) * bm25 / float(b_sc[0])
    return score


def _rrf(d_pos: np.ndarray, b_pos: np.ndarray, fusion: Fusion) -> dict[int, float]:
    """Weighted reciprocal-rank fusion of two ranked position lists."""
    fused: dict[int, float] = {}
    for weight, positions in ((fusion.dense_weight, d_pos), (fusion.bm25_weight, b_pos)):
        for rank, p in enumerate(positions.tolist(), start=1):
            fused[p] = fused.get(p, 0.0) + weight / (fusion.rrf_k + rank)
    return fused
