"""Per-class hybrid index: exact dense search (FAISS) plus BM25 (bm25s), fused.

Pure in-memory and built from arrays; the database layer decides when to rebuild.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Iterable, Literal, Sequence

import bm25s
import faiss
import numpy as np
from bm25s.stopwords import STOPWORDS_EN

# bm25s sets its own logger to DEBUG on import; its per-build messages are noise in our logs
logging.getLogger("bm25s").setLevel(logging.WARNING)

try:  # optional: Snowball stemming helps BM25 when installed
    import Stemmer as _pystemmer

    _STEMMER = _pystemmer.Stemmer("english")
except ImportError:  # pragma: no cover - depends on the environment
    _STEMMER = None

# One query at a time: FAISS's OpenMP team made a single flat search 3x slower on two
# cores (~31 ms vs ~10 ms at 100k vectors, measured), so search on one thread.
faiss.omp_set_num_threads(1)

Mode = Literal["fused", "dense", "bm25"]

# "\w{2,}" finds the same words as bm25s's "\b\w\w+\b", about twice as fast.
_SPLIT = re.compile(r"\w{2,}").findall
_STOP = frozenset(STOPWORDS_EN)
_BLOCK = 2048  # documents analysed at a time: bounds the transient word lists


@dataclass(frozen=True)
class Hit:
    chunk_id: int
    score: float  # fused score (or the single list's score in dense / bm25 mode)
    dense_score: float | None  # cosine, when the chunk was in the dense candidate list
    bm25_score: float | None  # BM25, when the chunk was in the BM25 candidate list


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


def _stems(words: list[str]) -> list[str]:
    return _STEMMER.stemWords(words) if _STEMMER is not None else words


def tokenize(texts: Iterable[str]) -> list[list[str]]:
    """Lowercase, split into words of 2+ characters, drop English stopwords, stem."""
    return [_stems([w for w in _SPLIT(t.lower()) if w not in _STOP]) for t in texts]


def _analyse(texts: Sequence[str]) -> tuple[list[list[int]], dict[str, int]]:
    """Return each text's term ids and the term -> id vocabulary (same rules as tokenize).

    Each distinct word is filtered and stemmed once, so the per-token work is one lookup.
    """
    vocab: dict[str, int] = {}
    word_id: dict[str, int] = dict.fromkeys(_STOP, -1)
    out: list[list[int]] = []
    for start in range(0, len(texts), _BLOCK):
        docs = [_SPLIT(t.lower()) for t in texts[start:start + _BLOCK]]
        new: set[str] = set()
        for words in docs:
            new.update(words)
        new.difference_update(word_id)
        if new:
            fresh = list(new)
            for word, stem in zip(fresh, _stems(fresh)):
                word_id[word] = vocab.setdefault(stem, len(vocab))
        out.extend([i for i in map(word_id.__getitem__, words) if i >= 0] for words in docs)
    return out, vocab


class HybridIndex:
    """Dense + BM25 index over one class's chunks."""

    def __init__(self, chunk_ids: np.ndarray, dense: "faiss.Index | None",
                 embeddings: np.ndarray, bm25: bm25s.BM25 | None,
                 vocab: dict[str, int]) -> None:
        self._ids = chunk_ids
        self._dense = dense
        self._emb = embeddings
        self._bm25 = bm25
        self._vocab = vocab

    @classmethod
    def build(cls, chunk_ids: Sequence[int], texts: Sequence[str],
              embeddings: np.ndarray) -> "HybridIndex":
        ids = np.asarray(chunk_ids, dtype=np.int64)
        n = len(ids)
        if len(texts) != n or len(embeddings) != n:
            raise ValueError(f"{n} ids, {len(texts)} texts and {len(embeddings)} embeddings")
        if n == 0:
            return cls(ids, None, np.zeros((0, 0), np.float32), None, {})
        vectors = np.ascontiguousarray(embeddings, dtype=np.float32)
        dim = vectors.shape[1]
        dense = faiss.IndexFlatIP(dim)
        dense.add(vectors)
        # A view of FAISS's own copy (for exact cosines in fusion): one copy in memory.
        emb = faiss.rev_swig_ptr(dense.get_xb(), n * dim).reshape(n, dim)

        doc_ids, vocab = _analyse(texts)
        bm25 = None
        if vocab:
            bm25 = bm25s.BM25()
            bm25.index((doc_ids, vocab), create_empty_token=False, show_progress=False)
        return cls(ids, dense, emb, bm25, vocab)

    def __len__(self) -> int:
        return len(self._ids)

    def dense_candidates(self, query_vec: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Return (positions, cosines) of the n nearest chunks, best first."""
        if self._dense is None:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        q = np.ascontiguousarray(query_vec, dtype=np.float32).reshape(1, -1)
        scores, pos = self._dense.search(q, min(n, len(self)))
        keep = pos[0] >= 0
        return pos[0][keep], scores[0][keep]

    def _bm25_scores(self, query: str) -> np.ndarray | None:
        """BM25 score of every chunk, or None when no query term is in the vocabulary."""
        if self._bm25 is None:
            return None
        (terms,) = tokenize([query])
        term_ids = [self._vocab[t] for t in terms if t in self._vocab]
        return self._bm25.get_scores_from_ids(term_ids) if term_ids else None

    def bm25_candidates(self, query: str, n: int,
                        scores: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Return (positions, BM25 scores) of the n best matching chunks (score > 0)."""
        if scores is None:
            scores = self._bm25_scores(query)
        if scores is None or n <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(len(scores))
        top = top[scores[top] > 0]
        top = top[np.argsort(-scores[top], kind="stable")]
        return top, scores[top]

    def search(self, query: str, query_vec: np.ndarray, k: int = 8, mode: Mode = "fused",
               candidates: int = 100, fusion: Fusion = DEFAULT_FUSION) -> list[Hit]:
        """Return the top k chunks for the query, best first."""
        if len(self) == 0 or k <= 0:
            return []
        if mode == "dense":
            pos, sc = self.dense_candidates(query_vec, k)
            return [Hit(int(self._ids[p]), float(s), float(s), None) for p, s in zip(pos, sc)]
        if mode == "bm25":
            pos, sc = self.bm25_candidates(query, k)
            return [Hit(int(self._ids[p]), float(s), None, float(s)) for p, s in zip(pos, sc)]
        if mode != "fused":
            raise ValueError(f"unknown mode {mode!r}")
        depth = max(candidates, k)
        d_pos, d_sc = self.dense_candidates(query_vec, depth)
        all_bm25 = self._bm25_scores(query)
        b_pos, b_sc = self.bm25_candidates(query, depth, all_bm25)
        dense_of = dict(zip(d_pos.tolist(), d_sc.tolist()))
        bm25_of = dict(zip(b_pos.tolist(), b_sc.tolist()))
        if fusion.method == "rrf":
            fused = _rrf(d_pos, b_pos, fusion)
        else:
            fused = self._convex(query_vec, d_pos, d_sc, b_pos, b_sc, all_bm25, fusion.alpha)
        # ties keep the dense order, then the BM25 order
        d_rank = {p: r for r, p in enumerate(dense_of)}
        b_rank = {p: r for r, p in enumerate(bm25_of)}
        far = len(self)
        best = sorted(fused.items(), key=lambda kv: (-kv[1], d_rank.get(kv[0], far),
                                                     b_rank.get(kv[0], far)))[:k]
        return [Hit(int(self._ids[p]), s, dense_of.get(p), bm25_of.get(p)) for p, s in best]

    def _convex(self, query_vec, d_pos, d_sc, b_pos, b_sc, all_bm25, alpha) -> dict[int, float]:
        """Score the union of both lists by alpha * cos/max_cos + (1-alpha) * bm25/max_bm25.

        Every candidate gets its exact score in both systems (a cosine is one dot product,
        and bm25s scores every chunk), so a chunk just outside one list is not zeroed there.
        """
        union = np.union1d(d_pos, b_pos)
        q = np.asarray(query_vec, dtype=np.float32).ravel()
        cos = self._emb[union] @ q
        top_cos = float(d_sc[0]) if len(d_sc) and d_sc[0] > 0 else 1.0
        score = alpha * cos / top_cos
        if all_bm25 is not None and len(b_sc):
            score += (1.0 - alpha) * all_bm25[union] / float(b_sc[0])
        return dict(zip(union.tolist(), score.tolist()))


def _rrf(d_pos: np.ndarray, b_pos: np.ndarray, fusion: Fusion) -> dict[int, float]:
    """Weighted reciprocal-rank fusion of two ranked position lists."""
    fused: dict[int, float] = {}
    for weight, positions in ((fusion.dense_weight, d_pos), (fusion.bm25_weight, b_pos)):
        for rank, p in enumerate(positions.tolist(), start=1):
            fused[p] = fused.get(p, 0.0) + weight / (fusion.rrf_k + rank)
    return fused
