"""`python -m core bench ask --chunks 10000`: the extractive ask's latency on a large class.

A class of ~N chunks is built from a BEIR corpus (default: SciFact, by path) through the real
document service: abstracts are written as text files of `GROUP` abstracts each (title line,
then the abstract, a blank line between abstracts) and uploaded until the class holds N chunks;
if the corpus runs out it is used again (each further pass marked "copy K", so no file is a
duplicate of another). At ~30 chunks/s on 2 cores, 10k chunks take ~6 minutes: `--db DIR` keeps
the benchmark's database and files in DIR and reuses them on the next run.

Then the corpus's queries are asked through `ChatService.ask` (end to end, the real model), and
the same questions are timed in the same run for two baselines: the query embedding alone, and
retrieval alone (query embedding + the class index's fused search), so the cost of composing the
answer is visible (ask minus retrieval, per question). Numbers only: no pass/fail.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from core.config import Settings
from core.measure.eval_coverage import evaluation_services, percentiles

GROUP = 25  # abstracts per uploaded file: ~40 chunks, so the class overshoots N by at most that
DEFAULT_DATA = Path("../shared/data/scifact")
META = "bench-ask.json"


def load_corpus(directory: Path) -> tuple[list[tuple[str, str]], list[str]]:
    """([(title, text)] of corpus.jsonl, [query text] of queries.jsonl)."""
    docs, queries = [], []
    with open(Path(directory) / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                docs.append(((d.get("title") or "").strip(), (d.get("text") or "").strip()))
    with open(Path(directory) / "queries.jsonl", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                queries.append(json.loads(line)["text"])
    return docs, queries


def corpus_files(docs: list[tuple[str, str]], group: int = GROUP) -> Iterator[tuple[str, bytes]]:
    """(file name, text) of the corpus in files of `group` abstracts, pass after pass, forever."""
    if not docs:
        raise ValueError("the corpus is empty")
    copy = 1
    while True:
        for start in range(0, len(docs), group):
            parts = [f"Copy {copy}"] if copy > 1 else []
            parts += [f"{title}\n{text}" if title else text for title, text in docs[start:start + group]]
            yield f"corpus-{copy:02d}-{start // group + 1:04d}.txt", "\n\n".join(parts).encode("utf-8")
        copy += 1


def _cache_key(directory: Path, chunks: int, settings: Settings, embedder_name: str) -> str:
    h = hashlib.sha256()
    with open(Path(directory) / "corpus.jsonl", "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return f"{h.hexdigest()[:16]}|{chunks}|{embedder_name}|{settings.chunk_words}/{settings.chunk_overlap_words}|{GROUP}"


def build_class(services, actor, docs, chunks: int, say: Callable[[str], None]) -> dict:
    """Create a class and upload corpus files until it holds at least `chunks` chunks."""
    klass = services.classes.create(actor, f"bench ask: {chunks} chunks")
    started = time.perf_counter()
    total = files = 0
    for name, data in corpus_files(docs):
        if total >= chunks:
            break
        result = services.ingestion.wait_for(services.ingestion.submit(actor, klass.id, name, data))
        if not result.ok:
            raise RuntimeError(f"{name}: {result.error}")
        total += result.chunks
        files += 1
        if files % 20 == 0:
            elapsed = time.perf_counter() - started
            say(f"ingested {total}/{chunks} chunks ({total / elapsed:.1f} chunks/s)")
    seconds = time.perf_counter() - started
    return {"class_id": klass.id, "chunks": total, "documents": files, "build_seconds": round(seconds, 1),
            "build_chunks_per_s": round(total / seconds, 1) if seconds else None}


def _cached_class(services, actor, info: dict | None) -> dict | None:
    from core.errors import ClassGPTError

    if not info:
        return None
    try:
        docs = services.documents.list(actor, info["class_id"])
    except ClassGPTError:
        return None
    ready = sum(d.chunk_count for d in docs if d.status == "ready")
    return info if ready == info["chunks"] else None


def bench_ask(settings: Settings, chunks: int = 10_000, n_queries: int = 200, data: Path = DEFAULT_DATA,
              db_dir: Path | None = None, embedder=None, progress: Callable[[str], None] | None = None) -> dict:
    from core.search.cache import IndexCache

    say = progress or (lambda message: None)
    data = Path(data)
    if not (data / "corpus.jsonl").exists() or not (data / "queries.jsonl").exists():
        raise FileNotFoundError(f"{data} has no corpus.jsonl and queries.jsonl (a BEIR collection, e.g. SciFact)")
    docs, queries = load_corpus(data)
    queries = queries[:n_queries]
    if db_dir is not None:
        Path(db_dir).mkdir(parents=True, exist_ok=True)

    with evaluation_services(settings, data_dir=db_dir, embedder=embedder) as (services, actor):
        model = services.embedder
        key = _cache_key(data, chunks, settings, model.name)
        meta_path = Path(db_dir) / META if db_dir is not None else None
        meta = json.loads(meta_path.read_text()) if meta_path and meta_path.exists() else {}
        info = _cached_class(services, actor, meta.get(key))
        cached = info is not None
        if cached:
            say(f"reusing the {info['chunks']}-chunk class {info['class_id']} in {db_dir}")
        else:
            model.embed(["warm-up: load the model before ingesting"])
            say(f"building a class of {chunks} chunks from {data} (~{chunks / 30 / 60:.0f} min at 30 chunks/s)")
            info = build_class(services, actor, docs, chunks, say)
            if meta_path is not None:
                meta[key] = info
                tmp = meta_path.with_suffix(".tmp")
                tmp.write_text(json.dumps(meta, indent=2))
                os.replace(tmp, meta_path)
        class_id = info["class_id"]

        # warm-up, timed: the model's first call, then each index's first build for this class
        t = time.perf_counter()
        model.embed_query("warm-up")
        load_s = time.perf_counter() - t
        t = time.perf_counter()
        index = IndexCache(services.db).get(class_id)  # the retrieval baseline's own copy
        build_s = time.perf_counter() - t
        t = time.perf_counter()
        services.chat.ask(actor, class_id, queries[0] if queries else "warm-up")  # builds the chat's index
        first_ask_s = time.perf_counter() - t
        say(f"index of {len(index)} chunks built in {build_s:.1f} s; asking {len(queries)} questions")

        from core.services import chat as chat_module
        # the chat service's retrieval depth where it names one, so the baseline searches as deep
        top_k = next((v for v in (getattr(chat_module, n, None) for n in ("RETRIEVE", "TOP_K")) if isinstance(v, int)), 8)
        embed_ms, retrieve_ms, ask_ms, found, cited = [], [], [], 0, 0
        for i, q in enumerate(queries, 1):  # interleaved: the three see the same machine state
            t = time.perf_counter()
            model.embed_query(q)
            embed_ms.append(1000 * (time.perf_counter() - t))
            t = time.perf_counter()
            index.view().search(q, model.embed_query(q), k=top_k)
            retrieve_ms.append(1000 * (time.perf_counter() - t))
            t = time.perf_counter()
            answer = services.chat.ask(actor, class_id, q)
            ask_ms.append(1000 * (time.perf_counter() - t))
            found += bool(answer.found)
            cited += len(answer.citations)
            if i % 50 == 0:
                say(f"asked {i}/{len(queries)}")

    compose = list(np.asarray(ask_ms) - np.asarray(retrieve_ms)) if ask_ms else []
    return {
        "dataset": str(data),
        "model": model.name,
        "chunks": len(index),
        "documents": info["documents"],
        "cached_db": cached,
        "db": str(db_dir) if db_dir is not None else None,
        "build_seconds": info["build_seconds"],
        "build_chunks_per_s": info["build_chunks_per_s"],
        "questions": len(queries),
        "retrieval_k": top_k,
        "answered": round(found / len(queries), 4) if queries else None,
        "mean_citations": round(cited / len(queries), 2) if queries else None,
        "ask": percentiles(ask_ms),
        "retrieval_only": percentiles(retrieve_ms),
        "query_embedding_only": percentiles(embed_ms),
        "ask_minus_retrieval": percentiles(compose),
        "model_first_call_s": round(load_s, 2),
        "index_build_s": round(build_s, 2),
        "first_ask_s": round(first_ask_s, 2),
        "cpu_count": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
