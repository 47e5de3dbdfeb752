"""Questions and answers: hybrid retrieval over the class's chunks, an answer with [n] citations
(core/services/answers.py), and per-user chat history."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
from sqlalchemy import delete, func, select

from core.database import Database
from core.errors import ValidationError
from core.events import log_event
from core.models import ChatMessage, QueryLog
from core.search.cache import ClassIndex, IndexCache
from core.search.embeddings import Embedder
from core.services.actors import Actor
from core.answers.extractive import compose_extractive
from core.answers.model import Answer, Citation
from core.services.permissions import require_reader

MAX_QUESTION_CHARS = 2000
TOP_K = 6  # passages retrieved
MAX_SOURCES = 5  # passages shown as sources
# Cosine below which a passage is not about the question: on SQuAD it keeps 98.6 % of the
# answerable questions but lets a quarter of off-topic ones through (docs/retrieval.md, "Relevance threshold").
MIN_RELEVANCE = 0.25
NO_DOCUMENTS = "This class has no documents yet, so there is nothing to answer from. An instructor can upload course material on the Documents page."
NOT_FOUND = "I couldn't find anything about that in this class's material. Try rephrasing with terms from the course, or ask your instructor whether it is covered."


@dataclass(frozen=True)
class Message:
    id: int
    role: str  # user | assistant
    content: str
    citations: list[Citation]
    created_at: datetime


class ChatService:
    def __init__(self, db: Database, index_cache: IndexCache, embedder_factory: Callable[[], Embedder]):
        self.db = db
        self.indexes = index_cache
        self._embedder_factory = embedder_factory

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

    def _answer(self, class_id: int, question: str) -> Answer:
        index = self.indexes.get(class_id)
        if len(index) == 0:
            return Answer(NO_DOCUMENTS, [], found=False)
        embedder = self._embedder_factory()
        query_vec = embedder.embed_query(question)
        sources = _sources(index, question, query_vec)
        if not sources:
            return Answer(NOT_FOUND, [], found=False)
        return Answer(compose_extractive(embedder, question, query_vec, sources), sources)

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
        return [Message(m.id, m.role, m.content, [Citation(**c) for c in (m.citations or [])], m.created_at)
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


def _sources(index: ClassIndex, question: str, query_vec: np.ndarray) -> list[Citation]:
    """The retrieved passages that are about the question, numbered from 1, best first."""
    sources: list[Citation] = []
    for match in index.search(question, query_vec, k=TOP_K):
        if match.cosine < MIN_RELEVANCE:
            continue
        chunk = match.chunk
        sources.append(Citation(len(sources) + 1, chunk.document_id, chunk.filename, chunk.page, chunk.text,
                                match.cosine))
    return sources[:MAX_SOURCES]
