"""Benchmark end-to-end query latency of the hybrid index on synthetic corpora.

Texts are Zipf-distributed English-like words (so BM25 posting lists have realistic
lengths); vectors are random and normalised (exact FAISS cost does not depend on content).
The query embedding uses the real model, as a user's question would.
"""
from __future__ import annotations

import gc
import os
import resource
import sys
import time
from typing import Sequence

import numpy as np

from core.search.embeddings import Embedder, make_embedder
from core.search.hybrid import HybridIndex

_SYLLABLES = ("ba be bi bo bu ca ce ci co cu da de di do du fa fe fi fo ga ge gi go "
              "ha he hi ho la le li lo lu ma me mi mo mu na ne ni no nu pa pe pi po pu "
              "ra re ri ro ru sa se si so su ta te ti to tu va ve vi vo za ze zi zo "
              "tion ment ing er al ic ous ive ly ness").split()
_FUNCTION_WORDS = ("the of and to in is that for it as with was on be by this are from "
                   "at or an which not have has but were can its their also these been "
                   "more than such may other into between when both most used").split()


def synthetic_texts(n: int, words: int = 150, vocab_size: int = 30_000, seed: int = 0) -> list[str]:
    """Return n deterministic English-like texts: 40% function words, Zipf content words."""
    rng = np.random.default_rng(seed)
    syl = np.array(_SYLLABLES)
    parts = rng.integers(0, len(syl), size=(vocab_size, 3))
    lengths = rng.integers(2, 4, size=vocab_size)
    vocab = np.array(["".join(syl[p[:m]]) for p, m in zip(parts, lengths)], dtype=object)
    p_content = 1.0 / np.arange(1, vocab_size + 1) ** 1.07
    p_content /= p_content.sum()
    func = np.array(_FUNCTION_WORDS, dtype=object)
    out: list[str] = []
    for start in range(0, n, 2000):  # blocks bound the temporary token arrays
        m = min(2000, n - start) * words
        is_func = rng.random(m) < 0.4
        tokens = np.where(is_func, func[rng.integers(0, len(func), m)],
                          vocab[rng.choice(vocab_size, size=m, p=p_content)])
        out.extend(" ".join(tokens[i:i + words]) for i in range(0, m, words))
    return out


def _rss_mb() -> float:
    """Current resident set size (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return round(int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)
    except OSError:
        return 0.0


def synthetic_queries(texts: Sequence[str], n: int, seed: int = 1) -> list[str]:
    """Return n questions made of 4-9 words picked from random documents."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        words = texts[int(rng.integers(len(texts)))].split()
        picks = rng.choice(len(words), size=int(rng.integers(4, 10)), replace=False)
        out.append("what is " + " ".join(words[i] for i in sorted(picks)) + "?")
    return out


def random_unit_vectors(n: int, dim: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((n, dim), dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v


def _peak_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024, 1)


def _pct(samples_ms: list[float]) -> dict[str, float]:
    a = np.asarray(samples_ms)
    return {"p50_ms": round(float(np.percentile(a, 50)), 3),
            "p95_ms": round(float(np.percentile(a, 95)), 3)}


def _time_each(fn, items) -> list[float]:
    out = []
    for item in items:
        t0 = time.perf_counter()
        fn(item)
        out.append(1000 * (time.perf_counter() - t0))
    return out


def bench_size(n: int, queries_n: int, embedder: Embedder, k: int = 8) -> dict:
    """Build an index of n synthetic chunks and time queries against it."""
    t0 = time.perf_counter()
    texts = synthetic_texts(n)
    vecs = random_unit_vectors(n, embedder.dim)
    gen_s = time.perf_counter() - t0
    gc.collect()
    rss_before = _rss_mb()
    t0 = time.perf_counter()
    index = HybridIndex.build(range(n), texts, vecs)
    build_s = time.perf_counter() - t0
    gc.collect()
    index_mb = round(_rss_mb() - rss_before, 1)
    queries = synthetic_queries(texts, queries_n)
    qvecs = random_unit_vectors(queries_n, embedder.dim, seed=n + 1)
    for q, v in zip(queries[:5], qvecs[:5]):  # warm up caches and code paths
        index.search(q, v, k=k)

    end_to_end = _time_each(lambda q: index.search(q, embedder.embed_query(q), k=k), queries)
    faiss_only = _time_each(lambda v: index.dense_candidates(v, 100), qvecs)
    bm25_only = _time_each(lambda q: index.bm25_candidates(q, 100), queries)
    pairs = list(zip(queries, qvecs))
    search_only = _time_each(lambda qv: index.search(qv[0], qv[1], k=k), pairs)
    result = {"chunks": n, "queries": queries_n, "generate_seconds": round(gen_s, 2),
              "build_seconds": round(build_s, 2), "end_to_end": _pct(end_to_end),
              "search_fused": _pct(search_only), "faiss_only": _pct(faiss_only),
              "bm25_only": _pct(bm25_only), "index_rss_mb": index_mb,
              "peak_rss_mb": _peak_rss_mb()}
    del index, texts, vecs
    gc.collect()
    return result


def bench_query(sizes: Sequence[int] = (10_000, 100_000), n_queries: int = 200,
                embedder: Embedder | None = None) -> dict:
    """Measure query latency (real query embedding + fused search, k=8) at each size."""
    embedder = embedder or make_embedder("minilm")
    probe = synthetic_queries(synthetic_texts(50, seed=7), n_queries, seed=8)
    for q in probe[:5]:
        embedder.embed_query(q)  # load the model and warm up
    embed_ms = _time_each(embedder.embed_query, probe)
    return {"model": embedder.name, "k": 8, "candidates": 100,
            "query_embedding": _pct(embed_ms),
            "sizes": [bench_size(n, n_queries, embedder) for n in sizes],
            "peak_rss_mb": _peak_rss_mb(), "cpu_count": os.cpu_count(),
            "load_average_1m": round(os.getloadavg()[0], 2)}
