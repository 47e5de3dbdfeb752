"""`python -m core bench index --chunks 100000`: what a class index costs to build, to grow by one
document, and (`--memory`) to hold next to the loaded model.

The class is synthetic and written straight into a throwaway SQLite database, as ready documents
of DOC_CHUNKS chunks: bench query's Zipf texts (realistic BM25 posting lists) and random unit
vectors (FAISS's cost does not depend on content). Ingesting 100k chunks through the model would
take an hour and measure ingestion, not the index.

Speed: the full build's phases (database read, vector copy into FAISS, analysis, BM25 matrix) are
timed one by one, then the cache's own cold build; then, `--repeats` times, one DOC_CHUNKS-chunk
document is added and the cache's update (an extension) is timed against a full rebuild of the
same state, in the same run. Memory (`--memory`): the class is written by a separate process, so
this one holds what the app would: the real model (after one query) and the class's index.
"""
from __future__ import annotations

import gc
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
from sqlalchemy import update

from core.config import Settings
from core.measure.bench_query import random_unit_vectors, synthetic_texts
from core.measure.eval_coverage import evaluation_services
from core.models import Chunk, Class, Document

DOC_CHUNKS = 30  # chunks per synthetic document: a ~30-page handout
MEMORY_TARGET_MB = 900  # the issue's: model loaded + a 50,000-chunk class index


def add_documents(db, class_id: int, chunks: int, seed: int, dim: int) -> int:
    """Write `chunks` synthetic chunks as ready documents of DOC_CHUNKS each; bump the class's version."""
    texts, vectors = synthetic_texts(chunks, seed=seed), random_unit_vectors(chunks, dim, seed=seed)
    start = datetime.now(timezone.utc)
    with db.transaction() as s:
        for first in range(0, chunks, DOC_CHUNKS):
            part = range(first, min(first + DOC_CHUNKS, chunks))
            doc = Document(class_id=class_id, filename=f"synthetic-{seed}-{first // DOC_CHUNKS}.txt",
                           content_type="text/plain", size_bytes=sum(len(texts[i]) for i in part),
                           sha256=f"{seed:08x}{first:056x}", storage_key=f"bench/{seed}/{first}", status="ready",
                           chunk_count=len(part), created_at=start + timedelta(microseconds=first))
            s.add(doc)
            s.flush()
            s.execute(Chunk.__table__.insert(), [
                {"document_id": doc.id, "class_id": class_id, "ordinal": n, "page": None, "page_label": None,
                 "text": texts[i], "embedding": vectors[i].tobytes()} for n, i in enumerate(part)])
        s.execute(update(Class).where(Class.id == class_id).values(index_version=Class.index_version + 1))
    return chunks


def _synthetic_class(settings: Settings, data_dir: str, chunks: int, dim: int) -> int:
    """A class of `chunks` synthetic chunks in the SQLite database under data_dir (a child process's work)."""
    from core.search.embeddings import FakeEmbedder
    from core.services.actors import SYSTEM

    with evaluation_services(settings, data_dir=Path(data_dir), embedder=FakeEmbedder(dim)) as (services, _):
        class_id = services.classes.create(SYSTEM, f"bench index: {chunks} chunks").id
        add_documents(services.db, class_id, chunks, seed=0, dim=dim)
    return class_id


def _timed(fn: Callable):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def profile_build(db, class_id: int) -> dict:
    """Seconds of each phase of a full build, done one by one with the cache's and index's own helpers."""
    from core.search import cache, hybrid, native
    from core.search.terms import analyse

    def read():
        with db.transaction() as s:
            return cache._chunk_rows(s, class_id), cache._documents(s, class_id)

    (rows, _), read_s = _timed(read)
    texts = [r.text for r in rows]

    def vectors():
        v = np.frombuffer(b"".join(r.embedding for r in rows), dtype=np.float32).reshape(len(rows), -1)
        return hybrid._dense(v)

    _, vectors_s = _timed(vectors)
    (term_ids, vocab), analyse_s = _timed(lambda: analyse(texts))
    counts, counts_s = _timed(lambda: hybrid.TermCounts.of(term_ids, len(vocab)))
    _, bm25_s = _timed(lambda: hybrid._bm25(counts, vocab))

    def bm25s_own():  # the library's own per-chunk build (what the app did before), for comparison
        native.bm25s().BM25().index((term_ids, vocab), create_empty_token=False, show_progress=False)

    _, own_s = _timed(bm25s_own)
    return {"db_read_s": round(read_s, 2), "vectors_to_faiss_s": round(vectors_s, 2),
            "analyse_s": round(analyse_s, 2), "term_counts_s": round(counts_s, 2), "bm25_matrix_s": round(bm25_s, 2),
            "bm25s_own_build_s": round(own_s, 2), "tokens": int(counts.lengths.sum()), "vocabulary": len(vocab)}


def index_sizes_mb(index) -> dict:
    """What the class index holds, by part (MB)."""
    h = index.hybrid
    bm25 = sum(a.nbytes for a in h._bm25.scores.values() if hasattr(a, "nbytes")) if h._bm25 is not None else 0
    return {"vectors_mb": round(h._emb.nbytes / 2**20, 1), "bm25_matrix_mb": round(bm25 / 2**20, 1),
            "term_counts_mb": round(h._counts.nbytes / 2**20, 1)}


def bench_index(settings: Settings, chunks: int = 100_000, repeats: int = 3, dim: int = 384,
                progress: Callable[[str], None] | None = None) -> dict:
    """Full build against adding one document, on a synthetic class of `chunks` chunks."""
    from core.search.cache import IndexCache
    from core.search.embeddings import FakeEmbedder
    from core.services.actors import SYSTEM

    say = progress or (lambda message: None)
    with evaluation_services(settings, embedder=FakeEmbedder(dim)) as (services, _):
        db = services.db
        class_id = services.classes.create(SYSTEM, f"bench index: {chunks} chunks").id
        _, fill_s = _timed(lambda: add_documents(db, class_id, chunks, seed=0, dim=dim))
        say(f"wrote {chunks} chunks in {fill_s:.0f} s; profiling a full build")
        phases = profile_build(db, class_id)
        gc.collect()
        cache = IndexCache(db)
        index, build_s = _timed(lambda: cache.get(class_id))
        sizes = index_sizes_mb(index)
        del index
        incremental, full = [], []
        for i in range(repeats):
            add_documents(db, class_id, DOC_CHUNKS, seed=1000 + i, dim=dim)
            grown, inc_s = _timed(lambda: cache.get(class_id))
            gc.collect()
            rebuilt, full_s = _timed(lambda: IndexCache(db).get(class_id))
            if len(grown) != len(rebuilt) or list(grown.chunks) != list(rebuilt.chunks):
                raise RuntimeError("the extended index differs from the rebuilt one")
            incremental.append(inc_s)
            full.append(full_s)
            say(f"added {DOC_CHUNKS} chunks: update {inc_s:.2f} s, full rebuild {full_s:.2f} s")
            del grown, rebuilt
            gc.collect()
    inc, reb = float(np.median(incremental)), float(np.median(full))
    return {"chunks": chunks, "added_chunks": DOC_CHUNKS, "repeats": repeats, "full_build_s": round(build_s, 2),
            "build_phases": phases, "index_mb": sizes, "add_document_s": round(inc, 3),
            "add_document_full_rebuild_s": round(reb, 2), "speedup": round(reb / inc, 1) if inc else None,
            "cpu_count": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2)}


def _proc_status_mb() -> dict:
    """VmRSS (now) and VmHWM (peak) of this process from /proc (Linux), in MB."""
    out = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = round(int(value.split()[0]) / 1024, 1)
    except OSError:
        pass
    return {"rss_mb": out.get("VmRSS"), "peak_rss_mb": out.get("VmHWM")}


def bench_memory(settings: Settings, chunks: int = 50_000, progress: Callable[[str], None] | None = None) -> dict:
    """RSS of this process holding the real model (after a query) and a `chunks`-chunk class index."""
    from core.search.cache import IndexCache
    from core.search.embeddings import make_embedder

    say = progress or (lambda message: None)
    with tempfile.TemporaryDirectory(prefix="classgpt-bench-index-") as data_dir:
        model = make_embedder(settings.embedder)
        dim = model.dim
        say(f"writing {chunks} synthetic chunks in a separate process")
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            class_id = pool.apply(_synthetic_class, (settings, data_dir, chunks, dim))
        start = _proc_status_mb()
        model.embed_query("warm-up: load the model as the first question does")
        with_model = _proc_status_mb()
        with evaluation_services(settings, data_dir=Path(data_dir), embedder=model) as (services, _):
            index, build_s = _timed(lambda: IndexCache(services.db).get(class_id))
            gc.collect()
            with_index = _proc_status_mb()
            sizes = index_sizes_mb(index)
            n = len(index)
    return {"chunks": n, "model": model.name, "index_build_s": round(build_s, 2), "index_mb": sizes,
            "rss_start_mb": start["rss_mb"], "rss_with_model_mb": with_model["rss_mb"],
            "rss_with_model_and_index_mb": with_index["rss_mb"], "peak_rss_mb": with_index["peak_rss_mb"],
            "target_mb": MEMORY_TARGET_MB,
            "meets_target": with_index["rss_mb"] is not None and with_index["rss_mb"] <= MEMORY_TARGET_MB}


def format_bench_index(r: dict) -> str:
    """Render bench_index's or bench_memory's result as text."""
    if "rss_with_model_and_index_mb" in r:
        verdict = "meets" if r["meets_target"] else "ABOVE"
        return "\n".join([
            f"{r['chunks']} chunks, model {r['model']}; index built in {r['index_build_s']} s; index parts (MB): "
            + ", ".join(f"{k[:-3]} {v}" for k, v in r["index_mb"].items()),
            f"RSS: start {r['rss_start_mb']} MB, model loaded {r['rss_with_model_mb']} MB, "
            f"model + index {r['rss_with_model_and_index_mb']} MB (peak {r['peak_rss_mb']} MB)",
            f"target: model + {r['chunks']}-chunk index under {r['target_mb']} MB RSS: {verdict}"])
    p = r["build_phases"]
    return "\n".join([
        f"{r['chunks']} chunks: full build {r['full_build_s']} s; index parts (MB): "
        + ", ".join(f"{k[:-3]} {v}" for k, v in r["index_mb"].items()),
        f"  full build phases: db read {p['db_read_s']} s, vectors into FAISS {p['vectors_to_faiss_s']} s, "
        f"analysis {p['analyse_s']} s, term counts {p['term_counts_s']} s, BM25 matrix {p['bm25_matrix_s']} s "
        f"(bm25s's own build: {p['bm25s_own_build_s']} s; {p['tokens']} tokens, {p['vocabulary']} terms)",
        f"adding one {r['added_chunks']}-chunk document (median of {r['repeats']}): update {r['add_document_s']} s, "
        f"full rebuild {r['add_document_full_rebuild_s']} s: {r['speedup']}x faster",
        f"(cpu_count {r['cpu_count']}, load average {r['load_average_1m']})"])
