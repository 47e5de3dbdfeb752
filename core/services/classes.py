"""Classes: create, join by code, list, rename, delete; the roster and the join code's rotation."""
from __future__ import annotations

import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from core.database import Database
from core.errors import NotFound, StorageUnavailable, ValidationError
from core.events import log_event
from core.models import Class, Document, Enrollment, User
from core.services.accounts import normalize_email
from core.services.actors import Actor
from core.services.membership import make_instructor
from core.services.permissions import (
    Role,
    account,
    has_instructor,
    load_class,
    require_account,
    require_instructor,
    role_in,
)
from core.services.roster import Member, members, remove
from core.services.throttle import Policy, Throttle
from core.storage import StoreResolver
from core.text import one_line

log = logging.getLogger(__name__)

# no 0/O, 1/I/L: codes are read aloud and typed from a slide
JOIN_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
JOIN_CODE_LEN = 8
MAX_NAME_LEN = 200
MAX_DESCRIPTION_LEN = 2000
# 31^8 codes: with these limits a guesser gets through a few hundred a day per account and address
JOIN_ACCOUNT = Policy("join:account", free=10, first_delay=timedelta(seconds=2), longest=timedelta(minutes=15))
JOIN_ADDRESS = Policy("join:address", free=50, first_delay=timedelta(seconds=2), longest=timedelta(minutes=15))
ADD_INSTRUCTOR = Policy("instructor:unknown-email", free=10, first_delay=timedelta(seconds=2),
                        longest=timedelta(minutes=15))


@dataclass(frozen=True)
class ClassInfo:
    id: int
    name: str
    description: str
    role: Role
    join_code: str | None  # shown to instructors only
    document_count: int
    created_at: datetime

    @property
    def can_manage(self) -> bool:
        return self.role in ("instructor", "operator")


def new_join_code() -> str:
    return "".join(secrets.choice(JOIN_CODE_ALPHABET) for _ in range(JOIN_CODE_LEN))


def _clean_name(name: str) -> str:
    name = one_line(name)
    if not name:
        raise ValidationError("Give the class a name.")
    if len(name) > MAX_NAME_LEN:
        raise ValidationError(f"Class names are at most {MAX_NAME_LEN} characters.")
    return name


def _clean_description(description: str | None) -> str:
    description = (description or "").strip()
    if len(description) > MAX_DESCRIPTION_LEN:
        raise ValidationError(f"Class descriptions are at most {MAX_DESCRIPTION_LEN:,} characters; this one has "
                              f"{len(description):,}.")
    return description


class ClassService:
    def __init__(self, db: Database, stores: StoreResolver):
        self.db = db
        self.stores = stores
        self.throttle = Throttle(db)

    def _info(self, session, klass: Class, role: Role) -> ClassInfo:
        docs = session.scalar(select(func.count()).where(Document.class_id == klass.id, Document.status == "ready"))
        code = klass.join_code if role in ("instructor", "operator") else None
        return ClassInfo(klass.id, klass.name, klass.description, role, code, docs or 0, klass.created_at)

    def create(self, actor: Actor, name: str, description: str = "") -> ClassInfo:
        """A new class; its creator is its instructor (the operator's class has none until one is
        added, and is visible to administrators only until then)."""
        name, description = _clean_name(name), _clean_description(description)
        for _ in range(5):  # a join-code collision is astronomically rare; retry instead of failing
            try:
                with self.db.transaction() as s:
                    owner = None if actor.is_system else require_account(s, actor, "create a class").id
                    klass = Class(name=name, description=description, join_code=new_join_code(),
                                  user_id=owner)
                    s.add(klass)
                    s.flush()
                    if owner is not None:
                        s.add(Enrollment(class_id=klass.id, user_id=owner, role="instructor"))
                    return self._info(s, klass, "operator" if actor.is_system else "instructor")
            except IntegrityError:
                continue
        raise RuntimeError("could not allocate a unique join code")

    def join(self, actor: Actor, code: str, client: str = "unknown") -> ClassInfo:
        """Enrol the actor as a student of the class with this join code. Wrong codes are
        throttled per account and per client address: codes cannot be guessed by brute force."""
        code = "".join((code or "").split()).upper()
        if not code:
            raise ValidationError("Enter the join code your instructor gave you.")
        with self.db.transaction() as s:
            user_id = require_account(s, actor, "join a class").id
        keys = [(JOIN_ACCOUNT, str(user_id)), (JOIN_ADDRESS, client)]
        self.throttle.check(keys, "join a class")
        with self.db.transaction() as s:
            klass = s.scalar(select(Class).where(Class.join_code == code))
            if klass is not None:
                if not klass.pre_accounts and not has_instructor(s, klass.id):
                    raise ValidationError(f"“{klass.name}” has no instructor yet, so there is nothing to join. "
                                          "Ask an administrator to add one.")
                if s.get(Enrollment, (klass.id, user_id)) is None:
                    s.add(Enrollment(class_id=klass.id, user_id=user_id, role="student"))
                    s.flush()
                return self._info(s, klass, role_in(s, actor, klass) or "student")
        self.throttle.failed(keys)
        raise NotFound(f"No class has the join code {code}. Check it with your instructor.")

    def add_instructor(self, actor: Actor, class_id: int, email: str) -> ClassInfo:
        """Make a user an instructor of the class (its owner, when it has none)."""
        email = normalize_email(email)
        # wrong addresses are throttled: the answer tells whether an account exists
        key = [(ADD_INSTRUCTOR, str(actor.user_id))]
        self.throttle.check(key, "add instructors")
        with self.db.transaction() as s:
            klass = require_instructor(s, actor, class_id, "add instructors")
            user = s.scalar(select(User).where(User.email == email))
            if user is not None:
                make_instructor(s, klass, user.id)
                return self._info(s, klass, role_in(s, actor, klass) or "instructor")
        self.throttle.failed(key)
        raise NotFound(f"No account for {email}: they must register first.")

    def roster(self, actor: Actor, class_id: int) -> list[Member]:
        """Who is in the class, when they joined and last asked: for its instructors."""
        with self.db.transaction() as s:
            require_instructor(s, actor, class_id, "see its roster")
            return members(s, class_id)

    def remove_member(self, actor: Actor, class_id: int, user_id: uuid.UUID) -> Member:
        """Take a member out of the class; they lose access at their next click. The last
        instructor stays (the class would turn private to administrators)."""
        with self.db.transaction() as s:
            klass = require_instructor(s, actor, class_id, "remove members")
            member = remove(s, klass, user_id, None if actor.is_system else actor.user_id)
        log_event("member_removed", class_id=class_id, user=member.email, role=member.role)
        return member

    def rotate_join_code(self, actor: Actor, class_id: int) -> str:
        """A new join code; the old one (and any link holding it) stops working at once. Members
        stay: remove the ones who should not be there."""
        for _ in range(5):  # as in create: retry the astronomically rare collision
            try:
                with self.db.transaction() as s:
                    klass = require_instructor(s, actor, class_id, "change its join code")
                    klass.join_code = new_join_code()
                    s.flush()
                    return klass.join_code
            except IntegrityError:
                continue
        raise RuntimeError("could not allocate a unique join code")

    def list_for(self, actor: Actor) -> list[ClassInfo]:
        """The classes the actor is in, plus classes made before accounts (readable by all);
        every class for administrators and the operator."""
        with self.db.transaction() as s:
            user = account(s, actor)
            if actor.is_system or (user is not None and user.is_admin):
                classes = s.scalars(select(Class).order_by(Class.created_at, Class.id)).all()
            elif user is None:
                return []
            else:
                enrolled = select(Enrollment.class_id).where(Enrollment.user_id == user.id)
                instructed = select(Enrollment.class_id).where(Enrollment.role == "instructor")
                classes = s.scalars(
                    select(Class)
                    .where(Class.id.in_(enrolled) | (Class.pre_accounts & Class.id.not_in(instructed)))
                    .order_by(Class.created_at, Class.id)
                ).all()
            out = []
            for klass in classes:
                role = role_in(s, actor, klass)
                if role is not None:
                    out.append(self._info(s, klass, role))
            return out

    def rename(self, actor: Actor, class_id: int, name: str, description: str | None = None) -> ClassInfo:
        name = _clean_name(name)
        new_description = None if description is None else _clean_description(description)
        with self.db.transaction() as s:
            klass = require_instructor(s, actor, class_id, "rename it")
            klass.name = name
            if new_description is not None:
                klass.description = new_description
            s.flush()
            return self._info(s, klass, role_in(s, actor, klass) or "instructor")

    def delete(self, actor: Actor, class_id: int) -> int:
        """Delete the class, its documents, chunks, chat and stored files; returns files removed."""
        with self.db.transaction() as s:
            require_instructor(s, actor, class_id, "delete it")
            keys = [(d.storage_backend, d.storage_key) for d in
                    s.scalars(select(Document).where(Document.class_id == class_id))]
            s.delete(load_class(s, class_id))  # rows cascade in the database
        # rows first, files second: a failure here leaves orphan files that `storage check --fix`
        # removes, never rows that point at nothing
        removed = 0
        for backend, key in keys:
            try:
                self.stores(backend).delete(key)
                removed += 1
            except StorageUnavailable:
                log.warning("class %s deleted but file %s could not be removed", class_id, key)
        return removed

    def count(self) -> int:
        with self.db.transaction() as s:
            return s.scalar(select(func.count()).select_from(Class)) or 0
