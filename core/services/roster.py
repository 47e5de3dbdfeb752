"""A class's roster: who is in it, when they joined, when they last asked; removing a member.

Session-level helpers: ClassService owns the transaction and the permission check around them.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from core.errors import NotFound, ValidationError
from core.models import ChatMessage, Class, Enrollment, User


@dataclass(frozen=True)
class Member:
    user_id: uuid.UUID
    name: str
    email: str
    role: str  # instructor | student
    joined: datetime
    last_question: datetime | None  # None: never asked in this class

    @property
    def label(self) -> str:
        return self.name or self.email


def members(s: Session, class_id: int, user_id: uuid.UUID | None = None) -> list[Member]:
    """Instructors first, then students by name (or only `user_id`'s row); one query, whatever the
    class's size."""
    # a question is a user's message; the assistant's rows carry the asker's id too
    last = (select(ChatMessage.user_id, func.max(ChatMessage.created_at).label("at"))
            .where(ChatMessage.class_id == class_id, ChatMessage.role == "user")
            .group_by(ChatMessage.user_id).subquery())
    query = (select(User.id, User.name, User.email, Enrollment.role, Enrollment.created_at, last.c.at)
             .join(User, User.id == Enrollment.user_id)
             .outerjoin(last, last.c.user_id == Enrollment.user_id)
             .where(Enrollment.class_id == class_id)
             .order_by(case((Enrollment.role == "instructor", 0), else_=1), func.lower(User.name), User.email))
    if user_id is not None:
        query = query.where(Enrollment.user_id == user_id)
    return [Member(*row) for row in s.execute(query).all()]


def remove(s: Session, klass: Class, user_id: uuid.UUID, by: uuid.UUID | None) -> Member:
    """Take the user out of the class. Their chat rows stay, unreadable to them while they are out
    (rows are not deleted on the side: joining again gives them their history back).
    `by` is the remover's account (None for the operator), for a clearer refusal."""
    member = next(iter(members(s, klass.id, user_id)), None)
    if member is None:
        raise NotFound(f"That account is not in “{klass.name}”.")
    if member.role == "instructor":
        others = s.scalar(select(func.count()).select_from(Enrollment).where(
            Enrollment.class_id == klass.id, Enrollment.role == "instructor", Enrollment.user_id != user_id))
        if not others:
            # a class without an instructor turns private to administrators: never by accident
            if user_id == by:
                raise ValidationError(f"You are the only instructor of “{klass.name}”: add another instructor "
                                      "before you leave it, or delete the class.")
            raise ValidationError(f"{member.label} is the only instructor of “{klass.name}”: add another "
                                  "instructor first.")
    s.delete(s.get(Enrollment, (klass.id, user_id)))
    s.flush()
    if klass.user_id == user_id:  # the owner leaves: a remaining instructor owns it
        klass.user_id = s.scalar(select(Enrollment.user_id).where(
            Enrollment.class_id == klass.id, Enrollment.role == "instructor").limit(1))
    return member
