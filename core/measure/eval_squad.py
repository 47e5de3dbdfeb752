"""`python -m core eval squad DIR`: end-to-end answer recall on SQuAD-style data.

Ingests DIR/source_texts/* as the documents of one class (through the real document
service, into a throwaway database), asks every question of DIR/questions.jsonl through
the real chat service, and counts how often a gold answer string appears in the first
(recall@1) or any of the first five (recall@5) cited passages, and in the answer text.
"""
from __future__ import annotations

import json
import re
import string
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from core.config import Settings


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lowercase, drop punctuation and articles, collapse spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def contains_answer(passage: str, answers: list[str]) -> bool:
    haystack = f" {normalize_answer(passage)} "
    return any(f" {normalize_answer(a)} " in haystack for a in answers if normalize_answer(a))


def run_squad(directory: Path, settings: Settings, limit: int | None = None,
              progress: Callable[[str], None] | None = None) -> dict:
    from core.services import build_services
    from core.services.actors import SYSTEM

    say = progress or (lambda message: None)
    questions = [json.loads(line) for line in (directory / "questions.jsonl").read_text().splitlines() if line.strip()]
    if limit:
        questions = questions[:limit]
    sources = sorted(p for p in (directory / "source_texts").iterdir() if p.is_file())
    with tempfile.TemporaryDirectory(prefix="classgpt-squad-") as tmp:
        local = Settings(data_dir=Path(tmp), embedder=settings.embedder, chunk_words=settings.chunk_words,
                         chunk_overlap_words=settings.chunk_overlap_words)
        services = build_services(local, migrate=True)
        klass = services.classes.create(SYSTEM, "SQuAD evaluation")
        started = time.perf_counter()
        chunks = 0
        for path in sources:
            result = services.ingestion.wait_for(
                services.ingestion.submit(SYSTEM, klass.id, path.name, path.read_bytes()))
            if not result.ok:
                raise RuntimeError(f"{path.name}: {result.error}")
            chunks += result.chunks
            say(f"ingested {path.name}: {result.chunks} chunks")
        ingest_s = time.perf_counter() - started

        hits1 = hits5 = in_answer = found = 0
        latencies = []
        for i, q in enumerate(questions, 1):
            answer = services.chat.ask(SYSTEM, klass.id, q["question"])
            latencies.append(answer.latency_ms)
            passages = [c.text for c in answer.citations]
            found += answer.found
            hits1 += bool(passages) and contains_answer(passages[0], q["answers"])
            hits5 += any(contains_answer(p, q["answers"]) for p in passages[:5])
            in_answer += answer.found and contains_answer(answer.text, q["answers"])
            if i % 100 == 0:
                say(f"asked {i}/{len(questions)}")
        services.db.engine.dispose()

    n = len(questions)
    latencies.sort()
    return {
        "dataset": str(directory),
        "embedder": settings.embedder,
        "documents": len(sources),
        "chunks": chunks,
        "questions": n,
        "answer_recall@1": hits1 / n,
        "answer_recall@5": hits5 / n,
        "answer_text_contains_gold": in_answer / n,
        "answered": found / n,
        "ingest_seconds": round(ingest_s, 2),
        "ask_p50_ms": latencies[n // 2] if n else None,
        "ask_p95_ms": latencies[min(n - 1, int(n * 0.95))] if n else None,
    }
