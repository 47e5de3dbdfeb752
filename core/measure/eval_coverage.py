"""`python -m core eval coverage --data DIR`: answering what the class covers, refusing the rest.

The articles of a SQuAD-style folder (DIR/source_texts/ARTICLE.txt, DIR/questions.jsonl with an
"article" field) are split into two halves; a class holds one half. The questions about the
in-class half must be answered (on-topic) and the questions about the other half must be refused
(off-topic: `answer.found is False`). Folds rotate which half is in the class so that every
article is in the class and out of it equally often (2 folds: each half once; more folds shift a
window of half the articles along the sorted list).

Scores per fold and overall: on-topic answered, off-topic answered, on-topic recall@5 (an
answered question whose first five cited passages contain a gold answer string, as in
`eval squad`), and ask latency p50/p95 (wall clock around `chat.ask`). The issue's target:
off-topic answered ≤ 0.20 with on-topic answered ≥ 0.95.
"""
from __future__ import annotations

import contextlib
import json
import random
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from core.config import Settings
from core.measure.eval_squad import contains_answer

TARGET_OFF_TOPIC_MAX = 0.20
TARGET_ON_TOPIC_MIN = 0.95
DEFAULT_LIMIT = 100  # questions per side per fold: 2 folds x 2 sides x 100 asks take ~2-3 minutes


@contextlib.contextmanager
def evaluation_services(settings: Settings, data_dir: Path | None = None, embedder=None) -> Iterator[tuple]:
    """(services, operator) over a throwaway SQLite database and local store (or over data_dir,
    kept, when given). Every other setting (the embedder, chunking, answer options) is the caller's."""
    from core.services import build_services
    from core.services.actors import SYSTEM

    with contextlib.ExitStack() as stack:
        if data_dir is None:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="classgpt-eval-")))
        local = settings.model_copy(update={"data_dir": Path(data_dir), "database_url": "",
                                            "storage_backend": "local", "use_s3": False})
        services = build_services(local, migrate=True, embedder=embedder)
        try:
            yield services, SYSTEM
        finally:
            services.db.engine.dispose()


def percentiles(samples_ms: Sequence[float]) -> dict:
    if not samples_ms:
        return {"n": 0, "p50_ms": None, "p95_ms": None, "max_ms": None}
    a = np.asarray(samples_ms, dtype=float)
    return {"n": len(a), "p50_ms": round(float(np.percentile(a, 50)), 1),
            "p95_ms": round(float(np.percentile(a, 95)), 1), "max_ms": round(float(a.max()), 1)}


def fold_splits(articles: Sequence[str], folds: int = 2) -> list[tuple[list[str], list[str]]]:
    """(in-class, out-of-class) article lists for each fold. The in-class half is a window of
    len // 2 articles of the sorted list, starting at fold * len // folds (wrapping around): with
    2 folds the two halves swap; with len folds every window is used once. Either way every
    article is in as often as it is out when folds divides evenly."""
    names = sorted(set(articles))
    n = len(names)
    if n < 2:
        raise ValueError("coverage needs at least two articles (one in the class, one outside it)")
    if not 1 <= folds <= n:
        raise ValueError(f"folds must be between 1 and the number of articles ({n})")
    half = n // 2
    out = []
    for f in range(folds):
        start = f * n // folds
        inside = [names[(start + i) % n] for i in range(half)]
        out.append((sorted(inside), [a for a in names if a not in inside]))
    return out


def balanced_sample(questions: Sequence[dict], articles: Sequence[str], limit: int | None,
                    seed: int = 0) -> list[dict]:
    """Up to `limit` questions about these articles, taken in turn from each article (shuffled
    with `seed`), so that every article weighs the same; all of them when limit is None or 0."""
    rng = random.Random(seed)
    pools = []
    for a in sorted(articles):
        pool = [q for q in questions if q["article"] == a]
        rng.shuffle(pool)
        pools.append(pool)
    if not limit:
        return [q for pool in pools for q in pool]
    out: list[dict] = []
    while len(out) < limit and any(pools):
        for pool in pools:
            if pool and len(out) < limit:
                out.append(pool.pop())
    return out


def load_articles(directory: Path) -> tuple[dict[str, Path], list[dict]]:
    """({article: its text file}, questions), for the articles that have both."""
    directory = Path(directory)
    files = {p.stem: p for p in sorted((directory / "source_texts").iterdir()) if p.is_file()}
    questions = [json.loads(line) for line in (directory / "questions.jsonl").read_text(encoding="utf-8").splitlines()
                 if line.strip()]
    asked = {q["article"] for q in questions}
    missing = sorted(asked - set(files))
    if missing:
        raise FileNotFoundError(f"no source_texts/ARTICLE.txt for {', '.join(missing)}")
    files = {a: p for a, p in files.items() if a in asked}
    return files, [q for q in questions if q["article"] in files]


def _share(values: Sequence[bool]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def run_coverage(directory: Path, settings: Settings, folds: int = 2, limit: int | None = DEFAULT_LIMIT,
                 seed: int = 0, embedder=None, progress: Callable[[str], None] | None = None) -> dict:
    say = progress or (lambda message: None)
    files, questions = load_articles(directory)
    splits = fold_splits(list(files), folds)
    results, all_on, all_off, all_hits, all_ms = [], [], [], [], []
    with evaluation_services(settings, embedder=embedder) as (services, actor):
        for f, (inside, outside) in enumerate(splits, 1):
            klass = services.classes.create(actor, f"Coverage fold {f}")
            t = time.perf_counter()
            chunks = 0
            for a in inside:
                result = services.ingestion.wait_for(
                    services.ingestion.submit(actor, klass.id, files[a].name, files[a].read_bytes()))
                if not result.ok:
                    raise RuntimeError(f"{files[a].name}: {result.error}")
                chunks += result.chunks
            ingest_s = time.perf_counter() - t
            on = balanced_sample(questions, inside, limit, seed + f)
            off = balanced_sample(questions, outside, limit, seed + f)
            say(f"fold {f}: class holds {', '.join(inside)} ({chunks} chunks, {ingest_s:.1f} s); "
                f"asking {len(on)} on-topic and {len(off)} off-topic questions")
            services.chat.ask(actor, klass.id, "warm-up question")  # builds the class index

            on_answered, hits, off_answered, ms = [], [], [], []
            for q in on:
                t = time.perf_counter()
                answer = services.chat.ask(actor, klass.id, q["question"])
                ms.append(1000 * (time.perf_counter() - t))
                on_answered.append(bool(answer.found))
                hits.append(bool(answer.found) and any(contains_answer(c.text, q["answers"])
                                                       for c in answer.citations[:5]))
            for q in off:
                t = time.perf_counter()
                answer = services.chat.ask(actor, klass.id, q["question"])
                ms.append(1000 * (time.perf_counter() - t))
                off_answered.append(bool(answer.found))
            results.append({
                "fold": f, "in_class": inside, "out_of_class": outside, "chunks": chunks,
                "ingest_seconds": round(ingest_s, 2), "on_topic_questions": len(on),
                "off_topic_questions": len(off), "on_topic_answered": _share(on_answered),
                "off_topic_answered": _share(off_answered), "on_topic_recall@5": _share(hits),
                "latency": percentiles(ms),
            })
            all_on += on_answered
            all_off += off_answered
            all_hits += hits
            all_ms += ms
    overall = {"on_topic_questions": len(all_on), "off_topic_questions": len(all_off),
               "on_topic_answered": _share(all_on), "off_topic_answered": _share(all_off),
               "on_topic_recall@5": _share(all_hits), "latency": percentiles(all_ms)}
    overall["meets_target"] = bool(
        all_on and all_off and overall["off_topic_answered"] <= TARGET_OFF_TOPIC_MAX
        and overall["on_topic_answered"] >= TARGET_ON_TOPIC_MIN)
    return {
        "dataset": str(directory),
        "embedder": settings.embedder if embedder is None else embedder.name,
        "articles": sorted(files),
        "folds": results,
        "overall": overall,
        "limit_per_side_per_fold": limit or None,
        "seed": seed,
        "target": {"off_topic_answered_max": TARGET_OFF_TOPIC_MAX, "on_topic_answered_min": TARGET_ON_TOPIC_MIN},
    }
