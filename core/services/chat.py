"""Questions and answers: hybrid retrieval over the class's chunks, a judgement of whether the
material covers the question at all, the answer (extractive, or written by a language model with
verified citations: core/answers), per-user chat history, and follow-ups that lean on it."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

import numpy as np
from sqlalchemy import delete, func, select, update

from core.answers.coverage import Coverage, judge_coverage, question_terms
from core.answers.extractive import compose_extractive
from core.answers.generate import GenerationFailed, LLMWriter, without_marker
from core.answers.model import Answer, Citation, cited_pages
from core.answers.questions import QuestionForm, is_follow_up, question_form
from core.answers.sentences import may_define
from core.answers.sources import defines_asked_term, select_sources
from core.answers.verify import verify_citations
from core.database import Database
from core.errors import ValidationError
from core.events import log_event
from core.models import ChatMessage, QueryLog
from core.search.cache import IndexCache, IndexView, Match
from core.search.embeddings import Embedder
from core.search.terms import tokenize
from core.services.actors import Actor
from core.services.permissions import require_reader
from core.services.visibility import visible_mask

MAX_QUESTION_CHARS = 2000
RETRIEVE = 12  # passages retrieved; duplicates and headings are dropped before MAX_SOURCES are kept
DEFINITION_DEPTH = 20  # a definition question looks deeper: the glossary page may rank low on words
DEFINITION_SCAN = 2000  # passages holding the term checked for a definition's shape (a regex each)
DEFINITION_LOOKUPS = 4  # passages with a definition's shape added per term
MAX_SOURCES = 5  # passages shown as sources
NAMED_UNKNOWN_WORDS = 2
RELATED = 3  # closest passages shown when the material does not cover the question
HISTORY_TURNS = 2  # previous turns the language model sees
NO_DOCUMENTS = "This class has no documents yet, so there is nothing to answer from. An instructor can upload course material on the Documents page."
NOT_FOUND = "I couldn't find anything about that in this class's material. Try rephrasing with terms from the course, or ask your instructor whether it is covered."
NOT_MENTIONED = "This class's material doesn't mention {words}, so I can't answer from it. Try the course's own terms, or ask your instructor whether it is covered."
NOT_COVERED_BY_MODEL = "The sources found for this question do not answer it, so I can't answer from the class's material. Try rephrasing, or ask your instructor whether it is covered."
FELL_BACK = "The language model could not answer ({reason}), so this answer quotes the material directly."
NOTHING_VERIFIED = "The language model's answer could not be checked against the sources, so this answer quotes the material directly."


@dataclass(frozen=True)
class Turn:
    question: str
    answer: str


@dataclass(frozen=True)
class Retrieval:
    """What the index found for a question, before any answer is written."""

    question: str
    query: str  # what was searched: the question, plus the previous turn's for a follow-up
    query_vec: np.ndarray
    form: QuestionForm
    coverage: Coverage
    sources: list[Citation]


class AnswerStream:
    """An answer as it is written: iterate for the text as it arrives, then read `answer`
    (checked, stored, with its message id). Iterating to the end is what stores it."""

    def __init__(self, deltas: Iterator[str], finish: Callable[[], Answer]):
        self._deltas = deltas
        self._finish = finish
        self.answer: Answer | None = None

    def __iter__(self) -> Iterator[str]:
        yield from self._deltas
        self.answer = self._finish()


@dataclass(frozen=True)
class Message:
    id: int
    role: str  # user | assistant
    content: str
    citations: list[Citation]
    created_at: datetime
    notice: str | None = None
    related: list[Citation] = field(default_factory=list)
    model: str | None = None  # the language model that wrote it, if one did

def _clean_question(question: str | None) -> str:
    """The question with its whitespace collapsed; refused when empty or too long."""
    question = " ".join((question or "").split())
    if not question:
        raise ValidationError("Type a question first.")
    if len(question) > MAX_QUESTION_CHARS:
        raise ValidationError(f"Questions are at most {MAX_QUESTION_CHARS} characters; this one has {len(question)}.")
    return question


class ChatService:
    def __init__(self, db: Database, index_cache: IndexCache, embedder_factory: Callable[[], Embedder],
                 writer: LLMWriter | None = None):
        self.db = db
        self.indexes = index_cache
        self._embedder_factory = embedder_factory
        self.writer = writer

    def ask(self, actor: Actor, class_id: int, question: str) -> Answer:
        """Answer the question from the class's material, store it in the actor's history."""
        stream = self.ask_stream(actor, class_id, question)
        for _ in stream:
            pass
        assert stream.answer is not None
        return stream.answer

    def ask_stream(self, actor: Actor, class_id: int, question: str) -> AnswerStream:
        """As ask(), with the text delivered as it is written (a language model streams it).
        Permission and validation errors are raised here, before any text."""
        started = time.perf_counter()
        question = _clean_question(question)
        with self.db.transaction() as s:
            _, role = require_reader(s, actor, class_id)
        previous = self._previous_turns(actor, class_id)
        # the index holds every ready chunk; what this asker may not see is masked out of every
        # look-up below, so it never reaches the answer, its sources, related material or the model
        index = self._visible_index(class_id, role)
        if index.size == 0:
            return self._done(actor, class_id, question, Answer(NO_DOCUMENTS, [], found=False), started)
        found = self._retrieve(index, question, previous[-1:] if previous else [])
        if not found.coverage.covered or not found.sources:
            return self._done(actor, class_id, question, self._not_covered(found), started, found.coverage)
        if self.writer is None:
            return self._done(actor, class_id, question, self._extractive(found), started, found.coverage)
        return self._generate(actor, class_id, found, previous, started)

    def sources_for(self, actor: Actor, class_id: int, question: str, *, as_student: bool = True) -> list[Citation]:
        """The passages an answer to this question would cite, best first ([] when the material does
        not cover it), without answering, storing history or logging a query: an instructor's check
        (core/services/gold.py) is not a student asking. `as_student` searches the class as its
        students see it, whoever asks; otherwise as the actor sees it. (A model-written answer cites
        a subset of these.)"""
        question = _clean_question(question)
        with self.db.transaction() as s:
            _, role = require_reader(s, actor, class_id)
        index = self._visible_index(class_id, "student" if as_student else role)
        if index.size == 0:
            return []
        found = self._retrieve(index, question, [])
        return found.sources if found.coverage.covered else []

    # -- retrieval and the two kinds of answer ---------------------------------------------

    def _visible_index(self, class_id: int, role: str | None) -> IndexView:
        """The class's index as this role sees it (core/services/visibility.py)."""
        index = self.indexes.get(class_id)
        return index.view(visible_mask(role, index.instructors_only, index.release_s))

    def _retrieve(self, index: IndexView, question: str, previous: list[Turn]) -> Retrieval:
        query = question
        if previous and is_follow_up(question):
            # "and tuples?" is about what the previous question was about
            query = f"{previous[-1].question} {question}"
        form = question_form(question)
        embedder = self._embedder_factory()
        query_vec = embedder.embed_query(query)
        matches = index.search(query, query_vec, k=DEFINITION_DEPTH if form.asks_definition else RETRIEVE)
        if form.asks_definition:
            matches = _with_term_matches(index, matches, form, query_vec)
        coverage = judge_coverage(query, matches, index.term_statistics(question_terms(query)))
        sources = select_sources(matches, form, MAX_SOURCES, coverage.term_weights)
        if not coverage.covered and defines_asked_term(sources, form):
            # the material defines the very term asked about: that is coverage, whatever the scores
            coverage = replace(coverage, covered=True)
        elif coverage.covered and _names_an_unused_word(form, coverage.unknown_terms):
            # a definition of X, or how X and Y differ, cannot come from material that never says X
            # ("What is a Python decorator?" in a book that never mentions decorators), however
            # close its passages about functions are
            coverage = replace(coverage, covered=False)
        return Retrieval(question, query, query_vec, form, coverage, sources)

    def _extractive(self, found: Retrieval) -> Answer:
        text = compose_extractive(self._embedder_factory(), found.query, found.query_vec, found.sources, found.form)
        return Answer(text, found.sources)

    def _not_covered(self, found: Retrieval) -> Answer:
        words = _typed_words(found.question, found.coverage.unknown_terms)
        # naming one or two missing words helps ("word2vec"); a list of them reads like a glitch
        text = (NOT_MENTIONED.format(words=" or ".join(f"“{w}”" for w in words))
                if 0 < len(words) <= NAMED_UNKNOWN_WORDS else NOT_FOUND)
        related = [replace(c, n=i) for i, c in enumerate(found.sources[:RELATED], start=1)]
        return Answer(text, [], found=False, related=related)

    def _generate(self, actor: Actor, class_id: int, found: Retrieval, previous: list[Turn],
                  started: float) -> AnswerStream:
        writer = self.writer
        assert writer is not None
        parts: list[str] = []
        failure: list[str] = []

        def deltas() -> Iterator[str]:
            shown = 0
            try:
                for delta in writer.stream(found.question, found.sources,
                                           [(t.question, t.answer) for t in previous[-HISTORY_TURNS:]]):
                    parts.append(delta)
                    visible = without_marker("".join(parts))  # the NOT_COVERED marker is not for the student
                    if len(visible) > shown:
                        yield visible[shown:]
                        shown = len(visible)
            except GenerationFailed as exc:
                failure.append(exc.reason)
                log_event("llm_failed", level=logging.WARNING, reason=exc.reason, model=writer.model)

        def finish() -> Answer:
            if failure:
                fallback = self._extractive(found)
                answer = replace(fallback, notice=FELL_BACK.format(reason=failure[0]))
            else:
                checked = verify_citations("".join(parts), found.sources, self._embedder_factory())
                if checked.not_covered:  # the model's own words say so, in the student's language
                    answer = Answer(checked.text.strip() or NOT_COVERED_BY_MODEL, [], found=False,
                                    related=found.sources[:RELATED], generated=True, model=writer.model)
                elif not checked.text.strip():
                    answer = replace(self._extractive(found), notice=NOTHING_VERIFIED)
                else:
                    answer = Answer(checked.text, found.sources, generated=True, model=writer.model,
                                    notice=checked.notice)
            return self._finish(actor, class_id, found.question, answer, started, found.coverage)

        return AnswerStream(deltas(), finish)

    # -- history and records -----------------------------------------------------------------

    def _done(self, actor: Actor, class_id: int, question: str, answer: Answer, started: float,
              coverage: Coverage | None = None) -> AnswerStream:
        """A stream of an answer that is already complete (extractive, not covered)."""
        return AnswerStream(iter([answer.text]),
                            lambda: self._finish(actor, class_id, question, answer, started, coverage))

    def _finish(self, actor: Actor, class_id: int, question: str, answer: Answer, started: float,
                coverage: Coverage | None = None) -> Answer:
        answer = replace(answer, latency_ms=(time.perf_counter() - started) * 1000)
        answer = replace(answer, message_id=self._record(actor, class_id, question, answer, coverage))
        log_event("ask", user=actor.email, class_id=class_id, latency_ms=round(answer.latency_ms, 1),
                  n_sources=len(answer.citations), found=answer.found, generated=answer.generated)
        return answer

    def _record(self, actor: Actor, class_id: int, question: str, answer: Answer,
                coverage: Coverage | None = None) -> int | None:
        with self.db.transaction() as s:
            # the question and its asker are kept here too, apart from the chat history (insights)
            log = QueryLog(class_id=class_id, latency_ms=answer.latency_ms, n_sources=len(answer.citations),
                           found=answer.found, question=question, user_id=actor.user_id,
                           score=coverage.score if coverage else None,
                           weak=answer.found and coverage is not None and coverage.weak,
                           sources=[p.to_dict() for p in cited_pages(answer.citations)])
            s.add(log)
            if actor.user_id is None:
                return None
            s.add(ChatMessage(class_id=class_id, user_id=actor.user_id, role="user", content=question))
            reply = ChatMessage(class_id=class_id, user_id=actor.user_id, role="assistant", content=answer.text,
                                citations=[c.to_dict() for c in answer.citations], details=answer.details())
            s.add(reply)
            s.flush()
            log.message_id = reply.id
            return reply.id

    def _previous_turns(self, actor: Actor, class_id: int) -> list[Turn]:
        """The actor's last turns in this class, oldest first."""
        if actor.user_id is None:
            return []
        with self.db.transaction() as s:
            rows = s.execute(
                select(ChatMessage.role, ChatMessage.content)
                .where(ChatMessage.class_id == class_id, ChatMessage.user_id == actor.user_id)
                .order_by(ChatMessage.created_at.desc(), ChatMessage.id.desc()).limit(2 * HISTORY_TURNS)
            ).all()
        turns, answer = [], None
        for role, content in rows:  # newest first: an answer, then its question
            if role == "assistant":
                answer = content
            elif answer is not None:
                turns.append(Turn(content, answer))
                answer = None
        return turns[::-1]

    def history(self, actor: Actor, class_id: int, limit: int = 200) -> list[Message]:
        with self.db.transaction() as s:
            require_reader(s, actor, class_id)
            rows = s.scalars(
                select(ChatMessage).where(ChatMessage.class_id == class_id, ChatMessage.user_id == actor.user_id)
                .order_by(ChatMessage.created_at.desc(), ChatMessage.id.desc()).limit(limit)
            ).all()
        return [Message(m.id, m.role, m.content, [Citation(**c) for c in (m.citations or [])], m.created_at,
                        (m.details or {}).get("notice"), [Citation(**c) for c in (m.details or {}).get("related", [])],
                        (m.details or {}).get("model"))
                for m in reversed(rows)]

    def clear_history(self, actor: Actor, class_id: int) -> None:
        with self.db.transaction() as s:
            require_reader(s, actor, class_id)
            s.execute(delete(ChatMessage).where(ChatMessage.class_id == class_id,
                                                ChatMessage.user_id == actor.user_id))
            # the questions stay in the instructor's insights, no longer linked to the asker (docs/insights.md)
            s.execute(update(QueryLog).where(QueryLog.class_id == class_id, QueryLog.user_id == actor.user_id)
                      .values(user_id=None, message_id=None))

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


def _with_term_matches(index: IndexView, matches: list[Match], form: QuestionForm,
                       query_vec: np.ndarray) -> list[Match]:
    """Add the passages that define the asked term(s): of the passages holding all the term's
    words (best BM25 first), those with a definition's shape. A glossary entry is short and
    may not rank on the whole question, nor on the term in a book that uses it on every page."""
    seen = {m.chunk.chunk_id for m in matches}
    extra = []
    for term in form.terms:
        found = 0
        for match in index.holding(tokenize([term])[0], query_vec, limit=DEFINITION_SCAN):
            if match.chunk.chunk_id in seen or not may_define(match.chunk.text, term):
                continue
            seen.add(match.chunk.chunk_id)
            extra.append(match)  # no fused score for these: they rank on what they define
            found += 1
            if found == DEFINITION_LOOKUPS:
                break
    return matches + extra


def _names_an_unused_word(form: QuestionForm, unknown: tuple[str, ...]) -> bool:
    """Whether a term the question asks to define or compare is, for half its words or more, words
    the class never uses ("Python decorator": yes; "the base case of the factorial function" in a
    book that explains base cases but never factorial: no, the rest of it is the book's subject)."""
    missing = set(unknown)
    for term in form.terms:
        words = set(tokenize([term])[0])
        if missing and words and 2 * len(words & missing) >= len(words):
            return True
    return False


def _typed_words(question: str, stems: tuple[str, ...]) -> list[str]:
    """The words of the question, as typed, whose analysed form is one of `stems`."""
    wanted, out = set(stems), []
    for word in dict.fromkeys(w.strip(".,;:!?()[]\"'“”‘’") for w in question.split()):
        if word and set(tokenize([word])[0]) & wanted:
            out.append(word)
    return out
