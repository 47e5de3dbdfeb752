"""`python -m core bench ingest FILES…`: ingestion throughput against its ceiling.

The ceiling is the raw throughput of the same embedding model on the same chunks, measured
in the same run: ingestion (extract, chunk, store, embed, write) should reach ≥ 80 % of it,
which means parsing, chunking and storage are not the bottleneck.
"""
from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from core.config import Settings
from core.ingest.extract import extract
from core.ingest.formats import SUPPORTED

TARGET_RATIO = 0.8


def _files(paths: list[Path]) -> list[Path]:
    out = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.suffix.lower() in SUPPORTED))
        else:
            out.append(p)
    return out


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_ingest(paths: list[Path], settings: Settings) -> dict:
    from core.models import Chunk
    from core.services import build_services
    from core.services.actors import SYSTEM

    files = _files(paths)
    blobs = [(f.name, f.read_bytes()) for f in files]
    with tempfile.TemporaryDirectory(prefix="classgpt-bench-") as tmp:
        services = build_services(Settings(data_dir=Path(tmp), embedder=settings.embedder,
                                           embed_batch_size=settings.embed_batch_size), migrate=True)
        embedder = services.embedder
        embedder.embed(["warm-up: load the model before timing"])
        klass = services.classes.create(SYSTEM, "bench")

        # parsing alone, for reference
        t = time.perf_counter()
        parsed_pages = sum(extract(name, data).page_count or 1 for name, data in blobs)
        parse_s = time.perf_counter() - t

        t = time.perf_counter()
        # as `python -m core ingest` does: every file queued, then each followed to its end
        queued = [services.ingestion.submit(SYSTEM, klass.id, name, data) for name, data in blobs]
        results = [services.ingestion.wait_for(submitted) for submitted in queued]
        ingest_s = time.perf_counter() - t
        ok = [r for r in results if r.ok]
        pages = sum(r.pages or 1 for r in ok)
        chunks = sum(r.chunks for r in ok)

        with services.db.transaction() as s:
            texts = s.scalars(select(Chunk.text).order_by(Chunk.id)).all()
        t = time.perf_counter()
        embedder.embed(list(texts))
        embed_s = time.perf_counter() - t
        services.db.engine.dispose()

    ingest_cps = chunks / ingest_s if ingest_s else 0.0
    ceiling_cps = len(texts) / embed_s if embed_s else 0.0
    return {
        "files": len(blobs),
        "failed": [{"file": r.filename, "error": r.error} for r in results if not r.ok],
        "pages": pages,
        "chunks": chunks,
        "embedder": embedder.name,
        "ingest_seconds": round(ingest_s, 3),
        "ingest_pages_per_s": round(pages / ingest_s, 2) if ingest_s else None,
        "ingest_chunks_per_s": round(ingest_cps, 2),
        "ceiling_embed_chunks_per_s": round(ceiling_cps, 2),
        "ratio_to_ceiling": round(ingest_cps / ceiling_cps, 3) if ceiling_cps else None,
        "target_ratio": TARGET_RATIO,
        "parse_only_pages_per_s": round(parsed_pages / parse_s, 1) if parse_s else None,
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
