"""`python -m core bench embed --data DIR`: fp32 against bf16 embedding in one run.

Each side runs the existing measurements unchanged — `bench ingest` (course PDFs through the document
service), `eval beir` (SciFact train) and `eval squad` — plus query embedding latency on SciFact's
claims, so speed and quality come from the same run on the same machine (docs/embedding.md).
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from core.config import Settings
from core.errors import ValidationError
from core.measure.bench_ingest import bench_ingest
from core.measure.bench_query import _pct, _time_each
from core.measure.eval_beir import load_beir, run_beir
from core.measure.eval_squad import run_squad
from core.search.embeddings import embedding_precision, make_embedder

SIDES = ("fp32", "bf16")
# issue 12, item 3: at least twice the ingestion speed, at the same retrieval quality
TARGET_SPEEDUP = 2.0
MAX_NDCG_DELTA = 0.005
MAX_RECALL5_DELTA = 0.01
NEEDS = ("course_pdfs", "scifact", "squad")


@contextlib.contextmanager
def _precision(value: str) -> Iterator[None]:
    """EMBED_PRECISION for the services that `bench ingest` and `eval squad` build from the environment."""
    before = os.environ.get("EMBED_PRECISION")
    os.environ["EMBED_PRECISION"] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("EMBED_PRECISION", None)
        else:
            os.environ["EMBED_PRECISION"] = before


def _ingest(data: Path, settings: Settings, repeats: int, say: Callable[[str], None]) -> dict[str, dict]:
    """bench ingest per side, interleaved, best of `repeats`: other work on a shared machine only slows a run."""
    best: dict[str, dict] = {}
    for round_ in range(1, repeats + 1):
        for side in SIDES:
            with _precision(side):
                result = bench_ingest([data / "course_pdfs"], settings)
            say(f"ingest {side} (round {round_}/{repeats}): {result['ingest_chunks_per_s']} chunks/s")
            if side not in best or result["ingest_chunks_per_s"] > best[side]["ingest_chunks_per_s"]:
                best[side] = result
    return best


def _query_latency(data: Path, settings: Settings, queries: int) -> dict[str, dict]:
    """Query embedding p50/p95 of SciFact claims, the two precisions taking turns on each claim."""
    _, _, claims, _ = load_beir(data / "scifact")
    probe = list(claims.values())[:queries]
    embedders = {side: make_embedder("minilm", batch_size=settings.embed_batch_size, precision=side)
                 for side in SIDES}
    samples: dict[str, list[float]] = {side: [] for side in SIDES}
    for e in embedders.values():
        _time_each(e.embed_query, probe[:5])  # the model loads and warms up before timing
    for i, q in enumerate(probe):
        order = SIDES if i % 2 == 0 else SIDES[::-1]
        for side in order:
            samples[side] += _time_each(embedders[side].embed_query, [q])
    return {side: _pct(ms) for side, ms in samples.items()}


def bench_embed(data: Path, settings: Settings, repeats: int = 2, queries: int = 200, squad_limit: int | None = None,
                progress: Callable[[str], None] | None = None) -> dict:
    """Ingestion chunks/s, query embedding p50/p95, SciFact nDCG@10 and SQuAD recall@5 in fp32 and bf16."""
    say = progress or (lambda message: None)
    data = Path(data)
    if settings.embedder != "minilm":
        raise ValidationError(f"bench embed measures the model: EMBEDDER is {settings.embedder!r}, unset it")
    missing = [name for name in NEEDS if not (data / name).is_dir()]
    if missing:
        raise ValidationError(f"{data} lacks {', '.join(missing)} (expected the shared evaluation data folder)")

    load_before = os.getloadavg()[0]
    ingest = _ingest(data, settings, repeats, say)
    latency = _query_latency(data, settings, queries)
    sides: dict[str, dict] = {}
    for side in SIDES:
        embedder = make_embedder("minilm", batch_size=settings.embed_batch_size, precision=side)
        say(f"{side}: query embedding p50 {latency[side]['p50_ms']} ms; SciFact train")
        beir = run_beir(data / "scifact", settings.data_dir / "cache", embedder=embedder, progress=say)
        say(f"{side}: SQuAD")
        with _precision(side):
            squad = run_squad(data / "squad", settings, limit=squad_limit)
        sides[side] = {
            "path": embedder.precision,
            "model": embedder.name,
            "ingest_chunks_per_s": ingest[side]["ingest_chunks_per_s"],
            "ingest_embedder": ingest[side]["embedder"],
            "chunks": ingest[side]["chunks"],
            "query_embed_p50_ms": latency[side]["p50_ms"],
            "query_embed_p95_ms": latency[side]["p95_ms"],
            "scifact_ndcg@10": beir["metrics"]["fused"]["ndcg@10"],
            "scifact_dense_ndcg@10": beir["metrics"]["dense"]["ndcg@10"],
            "scifact_docs_per_s": beir["timing"].get("docs_per_second"),
            "scifact_cached": beir["timing"].get("cached"),
            "squad_recall@5": round(squad["answer_recall@5"], 4),
            "squad_recall@1": round(squad["answer_recall@1"], 4),
            "squad_questions": squad["questions"],
            "ask_p50_ms": squad["ask_p50_ms"],  # the answer embeds the question and ~8 sentences
            "ask_p95_ms": squad["ask_p95_ms"],
        }
    return {"data": str(data), "auto_here": embedding_precision("auto").label, "repeats": repeats,
            "sides": sides, **compare(sides["fp32"], sides["bf16"]),
            "cpu_count": os.cpu_count(), "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)]}


def compare(fp32: dict, bf16: dict) -> dict:
    """Ratios, deltas and the verdict against the targets."""
    speedup = bf16["ingest_chunks_per_s"] / fp32["ingest_chunks_per_s"]
    deltas = {key: round(bf16[key] - fp32[key], 4)
              for key in ("scifact_ndcg@10", "scifact_dense_ndcg@10", "squad_recall@5", "squad_recall@1")}
    checks = {
        f"ingestion >= {TARGET_SPEEDUP:g}x": speedup >= TARGET_SPEEDUP,
        f"|delta nDCG@10| <= {MAX_NDCG_DELTA}": abs(deltas["scifact_ndcg@10"]) <= MAX_NDCG_DELTA,
        f"|delta recall@5| <= {MAX_RECALL5_DELTA}": abs(deltas["squad_recall@5"]) <= MAX_RECALL5_DELTA,
    }
    return {"ingest_speedup": round(speedup, 2),
            "query_p50_speedup": round(fp32["query_embed_p50_ms"] / bf16["query_embed_p50_ms"], 2),
            "deltas": deltas, "checks": checks, "meets_targets": all(checks.values())}
