"""Who may do what. Every service call goes through here, inside the transaction of its work.

Rights come from the database, never from the Actor object: an actor is only a claim of who is
acting, and a user id without an account (deleted, or never created) has no rights at all.
"""
from __future__ import annotations

from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import NotFound, PermissionDenied
from core.models import Class, Enrollment, User
from core.services.actors import Actor

Role = Literal["instructor", "student", "legacy", "operator"]


def account(session: Session, actor: Actor) -> User | None:
    """The actor's account, or None for the operator and for a user id that has no account."""
    if actor.is_system or actor.user_id is None:
        return None
    return session.get(User, actor.user_id)


def require_account(session: Session, actor: Actor, action: str) -> User:
    """The signed-in actor's account; refused for anyone without one."""
    user = account(session, actor)
    if user is None:
        raise PermissionDenied(f"Log in to {action}.")
    return user


def is_admin(session: Session, actor: Actor) -> bool:
    if actor.is_system:
        return True
    user = account(session, actor)
    return user is not None and user.is_admin


def require_admin(session: Session, actor: Actor, action: str) -> None:
    if not is_admin(session, actor):
        raise PermissionDenied(f"Only an administrator can {action}.")


def role_in(session: Session, actor: Actor, klass: Class) -> Role | None:
    """The actor's role in the class, or None when they are not in it."""
    if actor.is_system:
        return "operator"
    user = account(session, actor)
    if user is None:
        return None
    role = session.scalar(select(Enrollment.role).where(Enrollment.class_id == klass.id,
                                                        Enrollment.user_id == user.id))
    if role == "instructor":
        return "instructor"
    taught = has_instructor(session, klass.id)
    if role == "student" and (taught or klass.pre_accounts):
        # a class whose instructors all left is private to administrators until one is added
        return "student"
    if user.is_admin:
        return "operator"
    if klass.pre_accounts and not taught:
        return "legacy"  # made before accounts existed: readable by every signed-in user
    return None


def has_instructor(session: Session, class_id: int) -> bool:
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
        if account(session, actor) is None and not actor.is_system:
            raise PermissionDenied("Log in to see this class.")
        # same message as a missing class would leak less, but a clear one helps a student
        # who mistyped an id; class names are not secret, their material is
        raise PermissionDenied(f"You are not enrolled in class {class_id}. Ask its instructor for the join code.")
    return klass, role


def require_instructor(session: Session, actor: Actor, class_id: int, action: str) -> Class:
    klass, role = require_reader(session, actor, class_id)
    if role not in ("instructor", "operator"):
        raise PermissionDenied(f"Only an instructor of “{klass.name}” can {action}.")
    return klass
