"""Questions and answers: hybrid retrieval over the class's chunks, an extractive answer with
[n] citations, and per-user chat history."""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone

import numpy as np
from sqlalchemy import delete, func, select

from core.config import Settings
from core.database import Database
from core.search.embeddings import Embedder
from core.events import log_event
from core.errors import ValidationError
from core.search.cache import ClassIndex, IndexCache
from core.models import ChatMessage, QueryLog
from core.services.actors import Actor
from core.services.permissions import require_reader
from core.ingest.text import split_sentences

MAX_QUESTION_CHARS = 2000
TOP_K = 6  # passages retrieved
MAX_SOURCES = 5  # passages shown as sources
ANSWER_SENTENCES = 3
# the answer is composed from the best passages only: each candidate sentence costs an embedding
COMPOSE_FROM = 3
MAX_SENTENCES_PER_SOURCE = 12
# sentences embedded per answer, picked by word overlap first: each embedding costs ~15 ms on CPU
SHORTLIST = 10
# Cosine below which a passage is not about the question. all-MiniLM-L6-v2 puts unrelated
# text around 0.0-0.15 and topical matches above 0.3 (docs/answers.md).
MIN_RELEVANCE = 0.25
NO_DOCUMENTS = "This class has no documents yet, so there is nothing to answer from. An instructor can upload course material on the Documents page."
NOT_FOUND = "I couldn't find anything about that in this class's material. Try rephrasing with terms from the course, or ask your instructor whether it is covered."


@dataclass(frozen=True)
class Citation:
    n: int
    document_id: int
    document: str
    page: int | None
    text: str
    score: float

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def label(self) -> str:
        return f"{self.document}, p. {self.page}" if self.page else self.document


@dataclass(frozen=True)
class Answer:
    text: str
    citations: list[Citation] = field(default_factory=list)
    found: bool = True
    latency_ms: float = 0.0

    def to_dict(self) -> dict:
        return {"answer": self.text, "citations": [
            {"n": c.n, "document": c.document, "page": c.page, "text": c.text, "score": round(c.score, 4)}
            for c in self.citations]}


@dataclass(frozen=True)
class Message:
    role: str  # user | assistant
    content: str
    citations: list[Citation]
    created_at: datetime


def _is_statement(sentence: str) -> bool:
    """A sentence worth quoting, not a slide heading or a label ("The Calvin cycle")."""
    words = len(sentence.split())
    return words >= 4 and (sentence.rstrip()[-1:] in ".!?;:)\"'”" or words >= 8)


def _lexical_shortlist(question: str, candidates: list[tuple[int, int, str]], size: int
                       ) -> list[tuple[int, int, str]]:
    """The `size` candidates sharing the most (rarer-weighted) stemmed words with the question;
    ties keep the better-ranked passage. Order within the result is the candidates' order."""
    if len(candidates) <= size:
        return candidates
    from core.search.hybrid import tokenize

    query_terms = set(tokenize([question])[0])
    term_sets = [set(t) for t in tokenize([c[2] for c in candidates])]
    df = {t: sum(t in terms for terms in term_sets) for t in query_terms}
    weight = {t: math.log(1 + len(candidates) / df[t]) for t in query_terms if df[t]}
    overlap = [sum(weight.get(t, 0.0) for t in terms & query_terms) for terms in term_sets]
    keep = sorted(range(len(candidates)), key=lambda i: (-overlap[i], i))[:size]
    return [candidates[i] for i in sorted(keep)]


class ChatService:
    def __init__(self, db: Database, index_cache: IndexCache, embedder_factory: Callable[[], Embedder],
                 settings: Settings):
        self.db = db
        self.indexes = index_cache
        self._embedder_factory = embedder_factory
        self.settings = settings

    def ask(self, actor: Actor, class_id: int, question: str) -> Answer:
        started = time.perf_counter()
        question = " ".join((question or "").split())
        if not question:
            raise ValidationError("Type a question first.")
        if len(question) > MAX_QUESTION_CHARS:
            raise ValidationError(f"Questions are at most {MAX_QUESTION_CHARS} characters; this one has {len(question)}.")
        with self.db.transaction() as s:
            require_reader(s, actor, class_id)
        answer = self._answer(class_id, question)
        answer = Answer(answer.text, answer.citations, answer.found, (time.perf_counter() - started) * 1000)
        self._record(actor, class_id, question, answer)
        log_event("ask", user=actor.email, class_id=class_id, latency_ms=round(answer.latency_ms, 1),
                  n_sources=len(answer.citations), found=answer.found)
        return answer

    def search(self, actor: Actor, class_id: int, question: str, k: int = TOP_K) -> list[Citation]:
        """The relevant passages for a question, best first (no answer composed, nothing stored)."""
        with self.db.transaction() as s:
            require_reader(s, actor, class_id)
        index = self.indexes.get(class_id)
        if len(index) == 0:
            return []
        return self._sources(index, question, self._embedder_factory().embed_query(question), k)

    def _sources(self, index: ClassIndex, question: str, qvec: np.ndarray, k: int) -> list[Citation]:
        hits = index.index.search(question, qvec, k=k)
        sources = []
        for hit in hits:
            relevance = index.cosine(hit.chunk_id, qvec)
            if relevance < MIN_RELEVANCE:
                continue
            meta = index.meta[hit.chunk_id]
            sources.append(Citation(len(sources) + 1, meta.document_id, meta.filename, meta.page, meta.text, relevance))
        return sources

    def _answer(self, class_id: int, question: str) -> Answer:
        index = self.indexes.get(class_id)
        if len(index) == 0:
            return Answer(NO_DOCUMENTS, [], found=False)
        embedder = self._embedder_factory()
        qvec = embedder.embed_query(question)
        sources = self._sources(index, question, qvec, TOP_K)[:MAX_SOURCES]
        if not sources:
            return Answer(NOT_FOUND, [], found=False)
        return Answer(self._compose(embedder, question, qvec, sources), sources)

    def _compose(self, embedder: Embedder, question: str, qvec: np.ndarray, sources: list[Citation]) -> str:
        """The sentences of the sources closest to the question, each followed by its [n]."""
        candidates: list[tuple[int, int, str]] = []  # (source n, position, sentence)
        for src in sources[:COMPOSE_FROM]:
            for pos, sentence in enumerate(split_sentences(src.text)[:MAX_SENTENCES_PER_SOURCE]):
                if _is_statement(sentence):
                    candidates.append((src.n, pos, sentence))
        if not candidates:
            return f"{sources[0].text.strip()} [{sources[0].n}]"
        candidates = _lexical_shortlist(question, candidates, SHORTLIST)
        vectors = embedder.embed([c[2] for c in candidates])
        # closeness to the question, nudged toward the better-ranked passage
        scores = vectors @ qvec - 0.02 * np.array([c[0] for c in candidates])
        chosen, seen = [], set()
        for i in np.argsort(-scores):
            key = candidates[i][2].lower()
            if key in seen:
                continue
            seen.add(key)
            chosen.append(candidates[i])
            if len(chosen) == ANSWER_SENTENCES:
                break
        # read in source order, and in reading order within a passage
        chosen.sort(key=lambda c: (c[0], c[1]))
        return " ".join(f"{sentence.rstrip()} [{n}]" for n, _, sentence in chosen)

    def _record(self, actor: Actor, class_id: int, question: str, answer: Answer) -> None:
        with self.db.transaction() as s:
            s.add(QueryLog(class_id=class_id, latency_ms=answer.latency_ms, n_sources=len(answer.citations)))
            if actor.user_id is not None:
                s.add(ChatMessage(class_id=class_id, user_id=actor.user_id, role="user", content=question))
                s.add(ChatMessage(class_id=class_id, user_id=actor.user_id, role="assistant", content=answer.text,
                                  citations=[c.to_dict() for c in answer.citations]))

    def history(self, actor: Actor, class_id: int, limit: int = 200) -> list[Message]:
        with self.db.transaction() as s:
            require_reader(s, actor, class_id)
            rows = s.scalars(
                select(ChatMessage).where(ChatMessage.class_id == class_id, ChatMessage.user_id == actor.user_id)
                .order_by(ChatMessage.created_at.desc(), ChatMessage.id.desc()).limit(limit)
            ).all()
        return [Message(m.role, m.content, [Citation(**c) for c in (m.citations or [])], m.created_at)
                for m in reversed(rows)]

    def clear_history(self, actor: Actor, class_id: int) -> None:
        with self.db.transaction() as s:
            require_reader(s, actor, class_id)
            s.execute(delete(ChatMessage).where(ChatMessage.class_id == class_id,
                                                ChatMessage.user_id == actor.user_id))

    def latency_stats(self, hours: int = 24) -> dict:
        """Query count and latency percentiles over the last `hours` (for the status page)."""
        since = datetime.now(timezone.utc) - timedelta(hours=hours)
        with self.db.transaction() as s:
            values = s.scalars(select(QueryLog.latency_ms).where(QueryLog.created_at >= since)).all()
            total = s.scalar(select(func.count()).select_from(QueryLog)) or 0
        if not values:
            return {"queries": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None, "all_time": total}
        arr = np.asarray(values)
        return {"queries": len(values), "p50_ms": float(np.percentile(arr, 50)),
                "p95_ms": float(np.percentile(arr, 95)), "p99_ms": float(np.percentile(arr, 99)), "all_time": total}
