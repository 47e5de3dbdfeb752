"""Feedback on answers: a student's thumbs up or down on one of their own answers.

Each vote keeps a copy of the question, the answer and its sources, so it outlives a cleared chat
history or a deleted account (the foreign keys then become NULL), and the instructors of the class
read it without anyone being named: the insights are about answers and material, not students.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.answers.model import CitedPage
from core.database import Database
from core.errors import NotFound
from core.events import log_event
from core.models import AnswerFeedback, ChatMessage
from core.services.actors import Actor
from core.services.permissions import require_account, require_instructor, require_reader

# what of a citation is kept with a vote: its number in the answer, and its page (CitedPage)
SOURCE_FIELDS = ("n", "document_id", "document", "page", "page_label")
MAX_LISTED = 1000


@dataclass(frozen=True)
class FeedbackInfo:
    """One vote as an instructor sees it: no student id, name or email, on purpose."""

    id: int
    helpful: bool
    question: str
    answer: str
    sources: list[CitedPage]
    created_at: datetime


class FeedbackService:
    def __init__(self, db: Database):
        self.db = db

    def rate(self, actor: Actor, message_id: int, helpful: bool | None) -> None:
        """The actor's vote on one of their answers: True helpful, False not, None withdraws it.
        Voting again changes the vote; there is one row per answer and user."""
        # Two clicks at once (two tabs) can both find no row and both insert: the unique
        # constraint lets one win, and the loser runs again and finds the row to update.
        for attempt in range(2):
            try:
                with self.db.transaction() as s:
                    self._rate(s, actor, message_id, helpful)
                break
            except IntegrityError:
                if attempt:
                    raise
        log_event("answer_rated", user=actor.email, message_id=message_id, helpful=helpful)

    def _rate(self, s: Session, actor: Actor, message_id: int, helpful: bool | None) -> None:
        message = _own_answer(s, actor, message_id)
        row = self._existing(s, message.id, message.user_id)
        if helpful is None:
            if row is not None:
                s.delete(row)
        elif row is not None:
            row.helpful = helpful
        else:
            s.add(AnswerFeedback(class_id=message.class_id, user_id=message.user_id, message_id=message.id,
                                 helpful=helpful, question=_question_before(s, message), answer=message.content,
                                 sources=[{k: c.get(k) for k in SOURCE_FIELDS} for c in message.citations or []]))
            s.flush()  # a concurrent vote's row shows here, inside the retry

    def _existing(self, s: Session, message_id: int, user_id) -> AnswerFeedback | None:  # noqa: ANN001
        return s.scalar(select(AnswerFeedback).where(AnswerFeedback.message_id == message_id,
                                                     AnswerFeedback.user_id == user_id))

    def votes(self, actor: Actor, class_id: int) -> dict[int, bool]:
        """The actor's votes in a class by answer (message id), to show each answer's state at once."""
        with self.db.transaction() as s:
            require_reader(s, actor, class_id)
            if actor.user_id is None:
                return {}
            rows = s.execute(select(AnswerFeedback.message_id, AnswerFeedback.helpful).where(
                AnswerFeedback.class_id == class_id, AnswerFeedback.user_id == actor.user_id,
                AnswerFeedback.message_id.is_not(None))).all()
        return {message_id: helpful for message_id, helpful in rows}

    def for_class(self, actor: Actor, class_id: int, helpful: bool | None = None,
                  limit: int = 200) -> list[FeedbackInfo]:
        """The class's votes, newest first, for its instructors; `helpful` keeps only ups or downs."""
        limit = max(1, min(int(limit), MAX_LISTED))
        with self.db.transaction() as s:
            require_instructor(s, actor, class_id, "see the feedback on its answers")
            query = select(AnswerFeedback).where(AnswerFeedback.class_id == class_id)
            if helpful is not None:
                query = query.where(AnswerFeedback.helpful == helpful)
            rows = s.scalars(query.order_by(AnswerFeedback.created_at.desc(), AnswerFeedback.id.desc())
                             .limit(limit)).all()
            return [FeedbackInfo(r.id, r.helpful, r.question, r.answer,
                                 [CitedPage.from_dict(d) for d in r.sources or []], r.created_at) for r in rows]


def _own_answer(s: Session, actor: Actor, message_id: int) -> ChatMessage:
    """The actor's own answer, in a class they can still read. Someone else's message gets the
    same reply as a missing one: whether it exists is not the actor's business."""
    user = require_account(s, actor, "rate answers")
    message = s.get(ChatMessage, message_id)
    if message is None or message.user_id != user.id:
        raise NotFound("There is no such answer of yours to rate (it may have been cleared from your chat).")
    require_reader(s, actor, message.class_id)
    if message.role != "assistant":
        raise NotFound("Only answers can be rated, not questions.")
    return message


def _question_before(s: Session, answer: ChatMessage) -> str:
    """The user's question the answer replied to: their message just before it in that class.
    Ids, not timestamps: both messages are written in one transaction with the same clock."""
    question = s.scalar(select(ChatMessage.content).where(
        ChatMessage.class_id == answer.class_id, ChatMessage.user_id == answer.user_id,
        ChatMessage.role == "user", ChatMessage.id < answer.id).order_by(ChatMessage.id.desc()).limit(1))
    return question or ""
