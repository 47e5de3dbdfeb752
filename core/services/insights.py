"""Insights for a class's instructors: what students asked, what the material could not answer or
answered only just, which answers did not help, and which pages carry the class (docs/insights.md).

Everything here is about questions and material, not students: only `open_question`, an explicit
and logged act of an instructor, names who asked.
"""
from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.answers.model import CitedPage
from core.database import Database
from core.errors import NotFound, ValidationError
from core.events import log_event
from core.models import AnswerFeedback, ChatMessage, Document, QueryLog, User
from core.search.embeddings import Embedder
from core.services.actors import Actor
from core.services.feedback import FeedbackInfo, FeedbackService
from core.services.permissions import require_instructor

# Two questions whose embeddings are at least this close say the same thing. all-MiniLM-L6-v2 gives
# paraphrases 0.85-0.95 ("TCP vs UDP?" / "What is the difference between TCP and UDP?" 0.93) and
# different questions on one topic 0.3-0.5 (closure / decorator 0.50; list / tuple 0.32).
SAME_QUESTION = 0.75
DEFAULT_DAYS = 30
MAX_DAYS = 366
MAX_GROUPED = 1000  # most recent questions grouped per page view: embedding is most of its time
MAX_UNHELPFUL = 1000  # FeedbackService lists at most this many
ACTION = "see this class's insights"


@dataclass(frozen=True)
class DayCount:
    day: date  # UTC
    asked: int
    not_covered: int
    weak: int


@dataclass(frozen=True)
class Overview:
    days: int
    since: datetime
    per_day: tuple[DayCount, ...]  # every day of the window, oldest first, zeros included
    asked: int
    not_covered: int
    weak: int
    unhelpful: int  # thumbs-down votes in the window


@dataclass(frozen=True)
class Ask:
    """One time a question was asked: its id (to open it), no asker."""

    log_id: int
    question: str
    asked_at: datetime
    weak: bool  # else not covered


@dataclass(frozen=True)
class QuestionGroup:
    representative: str  # the wording asked most often
    count: int
    not_covered: int
    weak: int
    last_asked: datetime
    variants: tuple[str, ...]  # distinct wordings, most asked first
    asks: tuple[Ask, ...]  # newest first

    @property
    def kind(self) -> str:
        return "not covered" if self.not_covered >= self.weak else "weak"


@dataclass(frozen=True)
class PageCount:
    cited: CitedPage
    count: int  # answers citing it
    deleted: bool  # the document is gone; named as it was


@dataclass(frozen=True)
class CitedDocument:
    document_id: int | None
    document: str
    count: int
    deleted: bool


@dataclass(frozen=True)
class MostCited:
    documents: tuple[CitedDocument, ...]
    pages: tuple[PageCount, ...]


@dataclass(frozen=True)
class QuestionDetail:
    log_id: int
    question: str
    asked_at: datetime
    status: str  # answered | weak | not covered
    score: float | None
    sources: tuple[CitedPage, ...]
    deleted_documents: frozenset[int]  # of the sources' documents, those gone since
    answer: str | None  # None once the asker cleared their history
    helpful: bool | None
    asker_name: str | None  # None: the account was deleted, or the asker cleared their history
    asker_email: str | None


class InsightsService:
    def __init__(self, db: Database, feedback: FeedbackService, embedder_factory: Callable[[], Embedder]):
        self.db = db
        self.feedback = feedback
        self._embedder_factory = embedder_factory

    def overview(self, actor: Actor, class_id: int, days: int = DEFAULT_DAYS) -> Overview:
        """Questions per UTC day over the last `days` days (today included), and the window's totals."""
        since = window_start(days)
        with self.db.transaction() as s:
            require_instructor(s, actor, class_id, ACTION)
            rows = s.execute(select(QueryLog.created_at, QueryLog.found, QueryLog.weak)
                             .where(QueryLog.class_id == class_id, QueryLog.created_at >= since)).all()
            unhelpful = s.scalar(select(func.count()).select_from(AnswerFeedback).where(
                AnswerFeedback.class_id == class_id, AnswerFeedback.helpful.is_(False),
                AnswerFeedback.created_at >= since)) or 0
        # bucketed here, not in SQL: date() of a timestamp is the session's zone on PostgreSQL and
        # text on SQLite, while the mapped values are aware UTC datetimes on both
        asked, missed, weak = Counter(), Counter(), Counter()
        for created_at, found, is_weak_ in rows:
            day = created_at.astimezone(timezone.utc).date()
            asked[day] += 1
            missed[day] += found is False
            weak[day] += bool(is_weak_)
        per_day = tuple(DayCount(d, asked[d], missed[d], weak[d]) for d in _days(since.date(), days))
        return Overview(days, since, per_day, sum(asked.values()), sum(missed.values()), sum(weak.values()),
                        unhelpful)

    def question_groups(self, actor: Actor, class_id: int, days: int = DEFAULT_DAYS) -> list[QuestionGroup]:
        """The questions not covered or answered weakly, grouped when they say the same thing,
        most asked first. Questions logged before insights existed have no text and are left out."""
        since = window_start(days)
        with self.db.transaction() as s:
            require_instructor(s, actor, class_id, ACTION)
            rows = s.execute(
                select(QueryLog.id, QueryLog.question, QueryLog.created_at, QueryLog.weak)
                .where(QueryLog.class_id == class_id, QueryLog.created_at >= since, QueryLog.question.is_not(None),
                       (QueryLog.found.is_(False)) | (QueryLog.weak.is_(True)))
                .order_by(QueryLog.created_at.desc(), QueryLog.id.desc()).limit(MAX_GROUPED)).all()
        asks = [Ask(i, q, at, bool(w)) for i, q, at, w in rows]
        if not asks:
            return []
        return group_questions(asks, self._embedder_factory())

    def unhelpful(self, actor: Actor, class_id: int, days: int = DEFAULT_DAYS) -> list[FeedbackInfo]:
        """Answers students marked unhelpful in the window, newest first, nobody named."""
        since = window_start(days)
        votes = self.feedback.for_class(actor, class_id, helpful=False, limit=MAX_UNHELPFUL)
        return [f for f in votes if f.created_at >= since]

    def most_cited(self, actor: Actor, class_id: int, days: int = DEFAULT_DAYS, limit: int = 20) -> MostCited:
        """The documents and pages answers cited most in the window (each counted once per answer)."""
        since = window_start(days)
        with self.db.transaction() as s:
            require_instructor(s, actor, class_id, ACTION)
            lists = s.scalars(select(QueryLog.sources).where(
                QueryLog.class_id == class_id, QueryLog.created_at >= since, QueryLog.sources.is_not(None))).all()
            alive = _existing_documents(s, {d.get("document_id") for sources in lists for d in sources or []})
        pages: Counter[CitedPage] = Counter()
        documents: Counter[int | None] = Counter()
        names: dict[int | None, str] = {}
        for sources in lists:
            cited = [CitedPage.from_dict(d) for d in sources or []]
            for page in cited:
                names[page.document_id] = page.document
            # one name per document (as it was last cited), so a renamed document's pages count together
            pages.update({CitedPage(p.document_id, "", p.page, p.page_label) for p in cited})
            documents.update({p.document_id for p in cited})
        return MostCited(
            tuple(CitedDocument(i, names[i], n, i not in alive) for i, n in documents.most_common(limit)),
            tuple(PageCount(CitedPage(p.document_id, names[p.document_id], p.page, p.page_label), n,
                            p.document_id not in alive) for p, n in pages.most_common(limit)))

    def open_question(self, actor: Actor, class_id: int, log_id: int) -> QuestionDetail:
        """One question with who asked it: the only call that names a student, so it is logged."""
        with self.db.transaction() as s:
            require_instructor(s, actor, class_id, "see who asked a question")
            log = s.get(QueryLog, log_id)
            if log is None or log.class_id != class_id or log.question is None:
                raise NotFound(f"There is no question {log_id} in this class's insights.")
            asker = s.get(User, log.user_id) if log.user_id else None
            answer = s.scalar(select(ChatMessage.content).where(ChatMessage.id == log.message_id)) \
                if log.message_id else None
            helpful = _votes(s, [log.message_id]).get(log.message_id)
            alive = _existing_documents(s, {d.get("document_id") for d in log.sources or []})
            sources = tuple(CitedPage.from_dict(d) for d in log.sources or [])
            detail = QuestionDetail(
                log.id, log.question, log.created_at, _status(log.found, log.weak), log.score, sources,
                frozenset(p.document_id for p in sources if p.document_id not in alive),
                answer, helpful, asker.name if asker else None, asker.email if asker else None)
        log_event("insights_question_opened", user=actor.email, class_id=class_id, log_id=log_id,
                  named=asker is not None)
        return detail

    def export_csv(self, actor: Actor, class_id: int, days: int = DEFAULT_DAYS) -> str:
        """The window's questions as CSV, one row each, oldest first; no student is named."""
        since = window_start(days)
        with self.db.transaction() as s:
            require_instructor(s, actor, class_id, ACTION)
            rows = s.execute(
                select(QueryLog.created_at, QueryLog.question, QueryLog.found, QueryLog.weak, QueryLog.score,
                       QueryLog.sources, QueryLog.message_id)
                .where(QueryLog.class_id == class_id, QueryLog.created_at >= since, QueryLog.question.is_not(None))
                .order_by(QueryLog.created_at, QueryLog.id)).all()
            votes = _votes(s, [r.message_id for r in rows])
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["asked_at_utc", "question", "status", "coverage_score", "sources", "helpful"])
        for r in rows:
            vote = votes.get(r.message_id)
            writer.writerow([r.created_at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
                             _cell(r.question), _status(r.found, r.weak),
                             "" if r.score is None else f"{r.score:.3f}",
                             _cell("; ".join(CitedPage.from_dict(d).label for d in r.sources or [])),
                             "" if vote is None else ("yes" if vote else "no")])
        return out.getvalue()


def window_start(days: int) -> datetime:
    """Midnight UTC `days - 1` days ago: the window is whole UTC days, today included."""
    if not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise ValidationError(f"Choose a window of 1 to {MAX_DAYS} days.")
    first = datetime.now(timezone.utc).date() - timedelta(days=days - 1)
    return datetime.combine(first, time.min, tzinfo=timezone.utc)


def group_questions(asks: Sequence[Ask], embedder: Embedder) -> list[QuestionGroup]:
    """Greedy grouping by meaning: the wordings, most asked first, each join the first group whose
    seed wording is at least SAME_QUESTION close, or start one. Same text (any case) is one wording."""
    by_text: dict[str, list[Ask]] = {}
    for ask in asks:  # newest first
        by_text.setdefault(" ".join(ask.question.lower().split()), []).append(ask)
    wordings = sorted(by_text.values(), key=lambda a: (-len(a), -a[0].asked_at.timestamp()))
    vectors = embedder.embed([w[0].question for w in wordings])
    seeds: list[int] = []
    members: list[list[int]] = []
    for i, vec in enumerate(vectors):
        sims = vectors[seeds] @ vec if seeds else np.empty(0)
        best = int(np.argmax(sims)) if len(sims) else -1
        if best >= 0 and sims[best] >= SAME_QUESTION:
            members[best].append(i)
        else:
            seeds.append(i)
            members.append([i])
    groups = [_group([wordings[i] for i in m]) for m in members]
    return sorted(groups, key=lambda g: (-g.count, -g.last_asked.timestamp()))


def _group(wordings: list[list[Ask]]) -> QuestionGroup:
    asks = sorted((a for w in wordings for a in w), key=lambda a: (a.asked_at, a.log_id), reverse=True)
    weak = sum(a.weak for a in asks)
    return QuestionGroup(wordings[0][0].question, len(asks), len(asks) - weak, weak, asks[0].asked_at,
                         tuple(w[0].question for w in wordings), tuple(asks))


def _days(first: date, n: int) -> list[date]:
    return [first + timedelta(days=i) for i in range(n)]


def _status(found: bool | None, weak: bool | None) -> str:
    if found is False:
        return "not covered"
    return "weak" if weak else "answered"


def _votes(s: Session, message_ids: Iterable[int | None]) -> dict[int, bool]:
    """The asker's vote on each answer (only an answer's asker may vote on it)."""
    ids = {i for i in message_ids if i is not None}
    if not ids:
        return {}
    rows = s.execute(select(AnswerFeedback.message_id, AnswerFeedback.helpful)
                     .where(AnswerFeedback.message_id.in_(ids))).all()
    return {message_id: helpful for message_id, helpful in rows}


def _existing_documents(s: Session, ids: Iterable[int | None]) -> set[int]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return set()
    return set(s.scalars(select(Document.id).where(Document.id.in_(wanted))).all())


def _cell(text: str) -> str:
    """A spreadsheet runs a cell starting with = + - @ as a formula (CSV injection): a student's
    question must stay text when the instructor opens the file."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text

