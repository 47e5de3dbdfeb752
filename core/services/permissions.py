"""Who may do what in a class. Every service call goes through here."""
from __future__ import annotations

from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import NotFound, PermissionDenied
from core.models import Class, Enrollment
from core.services.actors import Actor

Role = Literal["instructor", "student", "legacy", "operator"]


def role_in(session: Session, actor: Actor, klass: Class) -> Role | None:
    """The actor's role in the class, or None when they are not in it."""
    if actor.is_system:
        return "operator"
    if actor.user_id is not None:
        role = session.scalar(
            select(Enrollment.role).where(Enrollment.class_id == klass.id, Enrollment.user_id == actor.user_id)
        )
        if role:
            return role  # type: ignore[return-value]
    if klass.user_id is None and not _has_instructor(session, klass.id):
        # made before accounts existed: stays readable by every signed-in user
        return "operator" if actor.is_admin else "legacy"
    if actor.is_admin:
        return "operator"
    return None


def _has_instructor(session: Session, class_id: int) -> bool:
    return session.scalar(
        select(Enrollment.user_id).where(Enrollment.class_id == class_id, Enrollment.role == "instructor").limit(1)
    ) is not None


def load_class(session: Session, class_id: int) -> Class:
    klass = session.get(Class, class_id)
    if klass is None:
        raise NotFound(f"Class {class_id} does not exist.")
    return klass


def require_reader(session: Session, actor: Actor, class_id: int) -> tuple[Class, Role]:
    klass = load_class(session, class_id)
    role = role_in(session, actor, klass)
    if role is None:
        # same message as a missing class would leak less, but a clear one helps a student
        # who mistyped an id; class names are not secret, their material is
        raise PermissionDenied(f"You are not enrolled in class {class_id}. Ask its instructor for the join code.")
    return klass, role


def require_instructor(session: Session, actor: Actor, class_id: int, action: str) -> Class:
    klass, role = require_reader(session, actor, class_id)
    if role not in ("instructor", "operator"):
        raise PermissionDenied(f"Only an instructor of “{klass.name}” can {action}.")
    return klass
