"""Accounts: register, log in and out (server-side sessions), change password, delete, admin rights.

Registration never grants anything: administrator rights come from the operator
(`python -m core create-user --admin`, `grant-admin`). Failed logins and password checks are
throttled per account and per client address (core/services/throttle.py).
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from core.config import Settings
from core.database import Database
from core.errors import AuthError, Conflict, NotFound, PermissionDenied, ValidationError
from core.events import log_event
from core.models import Class, Enrollment, User
from core.services.actors import Actor
from core.services.membership import make_instructor
from core.services.passwords import check_password_strength, dummy_hash, hash_password, verify_password
from core.services.permissions import has_instructor, require_account, require_admin
from core.services.sessions import SessionStore
from core.services.throttle import Policy, Throttle
from core.text import one_line

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_NAME_LEN = 100
UNKNOWN_CLIENT = "unknown"
# a client address from which the account's owner logged in this recently is not held back by
# failures counted against the account from elsewhere (an attacker cannot lock its owner out)
TRUSTED_FOR = timedelta(days=30)
LOGIN_PAIR = Policy("login:account+address", free=5, first_delay=timedelta(seconds=2), longest=timedelta(minutes=15))
LOGIN_ACCOUNT = Policy("login:account", free=30, first_delay=timedelta(seconds=5), longest=timedelta(minutes=30))
# generous: a whole school can sit behind one address
LOGIN_ADDRESS = Policy("login:address", free=100, first_delay=timedelta(seconds=2), longest=timedelta(minutes=15))
# accounts made from one client address: throwaway accounts must not multiply other budgets
REGISTER_ADDRESS = Policy("register:address", free=20, first_delay=timedelta(minutes=1), longest=timedelta(hours=1))
PASSWORD_CHECK = Policy("password:account", free=5, first_delay=timedelta(seconds=2), longest=timedelta(minutes=15))


@dataclass(frozen=True)
class UserInfo:
    id: uuid.UUID
    email: str
    name: str
    is_admin: bool

    def actor(self) -> Actor:
        return Actor(user_id=self.id, email=self.email, name=self.name, is_admin=self.is_admin)


@dataclass(frozen=True)
class Login:
    user: UserInfo
    token: str  # the session's token, for the browser's cookie


@dataclass(frozen=True)
class Deletion:
    email: str
    handed_over: list[str] = field(default_factory=list)  # classes now run by the new instructor
    kept_by_others: list[str] = field(default_factory=list)  # classes with another instructor
    private_to_admins: list[str] = field(default_factory=list)  # classes left without an instructor


def normalize_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not EMAIL_RE.match(email) or len(email) > 255:
        raise ValidationError(f"'{email}' is not a valid email address." if email else "Enter an email address.")
    return email


def _info(user: User) -> UserInfo:
    return UserInfo(user.id, user.email, user.name, user.is_admin)


class AccountService:
    def __init__(self, db: Database, settings: Settings):
        self.db = db
        self.settings = settings
        self.sessions = SessionStore(settings.auth_cookie_key, timedelta(days=settings.auth_cookie_expiry_days))
        self.throttle = Throttle(db)

    # ---- registration and login ----------------------------------------------------------------
    def register(self, email: str, password: str, name: str = "", client: str = UNKNOWN_CLIENT) -> UserInfo:
        email = normalize_email(email)
        name = one_line(name)
        if len(name) > MAX_NAME_LEN:
            raise ValidationError(f"Names are at most {MAX_NAME_LEN} characters.")
        check_password_strength(password, email, name)
        per_address = [(REGISTER_ADDRESS, client)]
        self.throttle.check(per_address, "create accounts")
        password_hash = hash_password(password)
        exists = Conflict(f"An account for {email} already exists. Log in instead.")
        try:
            with self.db.transaction() as s:
                if s.scalar(select(User.id).where(User.email == email)) is not None:
                    # say so plainly: registration is the one place where the email's existence is shown
                    raise exists
                user = User(email=email, name=name or email.split("@")[0], password_hash=password_hash)
                s.add(user)
                s.flush()
                info = _info(user)
        except IntegrityError:  # the same email registered at the same moment
            raise exists from None
        self.throttle.failed(per_address)  # counts every account made, for the address's budget
        log_event("register", user=email, client=client)
        return info

    def authenticate(self, email: str, password: str, client: str = UNKNOWN_CLIENT) -> UserInfo:
        """The account whose password this is; throttled per account, address and pair."""
        try:
            email = normalize_email(email)
        except ValidationError:
            raise AuthError("Wrong email or password.") from None
        pair = (LOGIN_PAIR, f"{email}|{client}")
        keys = [pair, (LOGIN_ADDRESS, client), (LOGIN_ACCOUNT, email)]
        # from where its owner logged in lately, only that pair's own failures hold an account back:
        # neither a guesser elsewhere nor one behind the same school address can lock its owner out
        trusted = self.throttle.succeeded_within(pair, TRUSTED_FOR)
        self.throttle.check(keys[:1] if trusted else keys, "log in")
        with self.db.transaction() as s:
            user = s.scalar(select(User).where(User.email == email))
            found = _info(user) if user is not None else None
            stored_hash = user.password_hash if user is not None else dummy_hash()
        # outside the transaction: bcrypt takes ~0.25 s
        info = found if verify_password(password, stored_hash) and found is not None else None
        if info is None:
            # one address gives the account's own count at most its free failures: the account key
            # is for guesses spread over many addresses, and one guesser must not be able to hold
            # its owner back everywhere (the pair and address keys deal with that guesser)
            from_here = self.throttle.failures(pair)
            self.throttle.failed(keys if from_here < LOGIN_PAIR.free else keys[:2])
            log_event("login_failed", user=email, reason="wrong password" if found else "unknown email",
                      client=client)
            raise AuthError("Wrong email or password.")
        self.throttle.succeeded([pair])
        return info

    def log_in(self, email: str, password: str, client: str = UNKNOWN_CLIENT) -> Login:
        """Check the password and start a session for this browser."""
        info = self.authenticate(email, password, client)
        with self.db.transaction() as s:
            self.sessions.purge_expired(s)
            token = self.sessions.start(s, info.id)
        self.throttle.purge(TRUSTED_FOR)
        log_event("login", user=info.email, client=client)
        return Login(info, token)

    def resume(self, token: str | None) -> Actor | None:
        """The signed-in actor of a live session (fresh from the database), or None."""
        with self.db.transaction() as s:
            user = self.sessions.user(s, token)
            return _info(user).actor() if user is not None else None

    def log_out(self, token: str | None) -> None:
        if token:
            with self.db.transaction() as s:
                self.sessions.end(s, token)

    def log_out_everywhere(self, actor: Actor) -> int:
        """End every session of the actor's account, this one included; returns how many."""
        with self.db.transaction() as s:
            user = require_account(s, actor, "log out")
            ended = self.sessions.end_all(s, user.id)
        log_event("logout_everywhere", user=actor.email, sessions=ended)
        return ended

    # ---- the account's owner -------------------------------------------------------------------
    def change_password(self, actor: Actor, old_password: str, new_password: str,
                        client: str = UNKNOWN_CLIENT) -> str:
        """Set a new password and end every session; returns a new session's token for this browser."""
        with self.db.transaction() as s:
            user = require_account(s, actor, "change your password")
            user_id, email, name, password_hash = user.id, user.email, user.name, user.password_hash
        self._check_own_password(user_id, password_hash, old_password, "change your password",
                                 "The current password is wrong.")
        if old_password == new_password:
            raise ValidationError("The new password must differ from the current one.")
        check_password_strength(new_password, email, name)
        with self.db.transaction() as s:
            s.get(User, user_id).password_hash = hash_password(new_password)
            self.sessions.end_all(s, user_id)
            token = self.sessions.start(s, user_id)
        log_event("password_changed", user=email, client=client)
        return token

    def delete_account(self, actor: Actor, password: str) -> Deletion:
        """Delete the actor's own account, after checking the password."""
        with self.db.transaction() as s:
            user = require_account(s, actor, "delete your account")
            user_id, password_hash = user.id, user.password_hash
        self._check_own_password(user_id, password_hash, password, "delete your account",
                                 "The password is wrong: the account was not deleted.")
        return self._delete(user_id, successor=None)

    def _check_own_password(self, user_id: uuid.UUID, password_hash: str, password: str, doing: str,
                            wrong: str) -> None:
        key = [(PASSWORD_CHECK, str(user_id))]
        self.throttle.check(key, doing)
        if not verify_password(password, password_hash):
            self.throttle.failed(key)
            raise AuthError(wrong)
        self.throttle.succeeded(key)

    # ---- the operator and administrators -------------------------------------------------------
    def lookup(self, actor: Actor, email: str) -> UserInfo:
        """Another user's account, for administrators and the operator."""
        email = normalize_email(email)
        with self.db.transaction() as s:
            require_admin(s, actor, "look up accounts")
            user = s.scalar(select(User).where(User.email == email))
            if user is None:
                raise NotFound(f"No account for {email}.")
            return _info(user)

    def set_admin(self, actor: Actor, email: str, is_admin: bool = True) -> UserInfo:
        """Grant or revoke administrator rights: the operator's decision, never a registration's."""
        if not actor.is_system:
            raise PermissionDenied("Only the operator (python -m core grant-admin / revoke-admin) sets administrators.")
        email = normalize_email(email)
        with self.db.transaction() as s:
            user = s.scalar(select(User).where(User.email == email))
            if user is None:
                raise NotFound(f"No account for {email}.")
            user.is_admin = is_admin
            info = _info(user)
        log_event("admin_granted" if is_admin else "admin_revoked", user=email)
        return info

    def revoke_sessions(self, actor: Actor, email: str) -> int:
        """End every session of another user (an administrator's revocation)."""
        user = self.lookup(actor, email)
        with self.db.transaction() as s:
            ended = self.sessions.end_all(s, user.id)
        log_event("sessions_revoked", user=user.email, by=actor.email, sessions=ended)
        return ended

    def delete_user(self, actor: Actor, email: str, hand_classes_to: str | None = None) -> Deletion:
        """Delete another user. Their classes go to `hand_classes_to`; without one, a class with no
        other instructor stays private to administrators (never open to everyone)."""
        user = self.lookup(actor, email)
        successor = self.lookup(actor, hand_classes_to) if hand_classes_to else None
        if successor is not None and successor.id == user.id:
            raise ValidationError("Hand the classes to someone other than the account being deleted.")
        return self._delete(user.id, successor.id if successor else None)

    def _delete(self, user_id: uuid.UUID, successor: uuid.UUID | None) -> Deletion:
        with self.db.transaction() as s:
            user = s.get(User, user_id)
            taught = s.scalars(select(Class).join(Enrollment, Enrollment.class_id == Class.id).where(
                Enrollment.user_id == user_id, Enrollment.role == "instructor").order_by(Class.id)).all()
            owned = s.scalars(select(Class).where(Class.user_id == user_id)).all()
            report = Deletion(user.email)
            for klass in {k.id: k for k in [*taught, *owned]}.values():
                enrollment = s.get(Enrollment, (klass.id, user_id))
                if enrollment is not None:
                    s.delete(enrollment)
                s.flush()
                if successor is not None:
                    klass.user_id = None
                    make_instructor(s, klass, successor)
                    report.handed_over.append(klass.name)
                elif has_instructor(s, klass.id):
                    if klass.user_id == user_id:  # the owner leaves: a remaining instructor owns it
                        klass.user_id = s.scalar(select(Enrollment.user_id).where(
                            Enrollment.class_id == klass.id, Enrollment.role == "instructor").limit(1))
                    report.kept_by_others.append(klass.name)
                else:
                    klass.user_id = None
                    klass.pre_accounts = False  # private to administrators, even if it was from before accounts
                    report.private_to_admins.append(klass.name)
            s.delete(user)  # sessions, enrollments and chat go with it (ON DELETE CASCADE)
        log_event("account_deleted", user=report.email, handed_over=len(report.handed_over),
                  private_to_admins=len(report.private_to_admins))
        return report

    def count(self) -> int:
        with self.db.transaction() as s:
            return s.scalar(select(func.count()).select_from(User)) or 0
