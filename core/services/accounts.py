"""Accounts: register, authenticate, change password. bcrypt through the `bcrypt` library."""
from __future__ import annotations

import functools
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import bcrypt
from sqlalchemy import func, select

from core.config import Settings
from core.database import Database
from core.events import log_event
from core.errors import AuthError, Conflict, NotFound, ValidationError
from core.models import User
from core.services.actors import Actor

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LEN = 8
MAX_FAILED_LOGINS = 10
LOCKOUT = timedelta(minutes=15)
BCRYPT_ROUNDS = 12
COMMON_PASSWORDS = {"password", "password1", "12345678", "123456789", "qwertyui", "iloveyou", "letmein1"}


@dataclass(frozen=True)
class UserInfo:
    id: uuid.UUID
    email: str
    name: str
    is_admin: bool
    password_hash: str

    def actor(self) -> Actor:
        return Actor(user_id=self.id, email=self.email, name=self.name, is_admin=self.is_admin)


def normalize_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not EMAIL_RE.match(email) or len(email) > 255:
        raise ValidationError(f"'{email}' is not a valid email address." if email else "Enter an email address.")
    return email


def check_password_strength(password: str, email: str = "") -> None:
    if len(password) < MIN_PASSWORD_LEN:
        raise ValidationError(f"Password too weak: use at least {MIN_PASSWORD_LEN} characters.")
    if len(password.encode()) > 72:
        raise ValidationError("Password too long: bcrypt uses at most 72 bytes.")
    if password.lower() in COMMON_PASSWORDS or (email and password.lower() == email.split("@")[0]):
        raise ValidationError("Password too weak: it is too common or matches your email.")
    if password.isalpha() or password.isdigit():
        raise ValidationError("Password too weak: mix letters with digits or symbols.")


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=BCRYPT_ROUNDS)).decode()


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode(), password_hash.encode())
    except ValueError:  # a malformed stored hash is a failed check, not a crash
        return False


@functools.cache
def _dummy_hash() -> str:
    """Checked against when the email is unknown, so a wrong email costs as long as a wrong
    password and response time does not reveal which emails have accounts. Made on first use:
    a bcrypt hash at import would slow the login page's first paint."""
    return hash_password("dummy-password-for-timing-1")


def _info(user: User, settings: Settings) -> UserInfo:
    is_admin = user.is_admin or user.email in settings.admin_email_set
    return UserInfo(user.id, user.email, user.name, is_admin, user.password_hash)


class AccountService:
    def __init__(self, db: Database, settings: Settings):
        self.db = db
        self.settings = settings

    def register(self, email: str, password: str, name: str = "") -> UserInfo:
        email = normalize_email(email)
        check_password_strength(password, email)
        password_hash = hash_password(password)
        with self.db.transaction() as s:
            if s.scalar(select(User.id).where(User.email == email)) is not None:
                # say so plainly: registration is the one place where the email's existence is shown
                raise Conflict(f"An account for {email} already exists. Log in instead.")
            user = User(email=email, name=(name or "").strip() or email.split("@")[0], password_hash=password_hash)
            s.add(user)
            s.flush()
            log_event("register", user=email)
            return _info(user, self.settings)

    def authenticate(self, email: str, password: str) -> UserInfo:
        try:
            email = normalize_email(email)
        except ValidationError:
            raise AuthError("Wrong email or password.") from None
        with self.db.transaction() as s:
            user = s.scalar(select(User).where(User.email == email))
            if user is None:
                verify_password(password, _dummy_hash())
                log_event("login_failed", user=email, reason="unknown email")
                raise AuthError("Wrong email or password.")
            now = datetime.now(timezone.utc)
            if user.locked_until and user.locked_until > now:
                raise AuthError("Too many failed attempts: this account is locked for a few minutes.")
            if not verify_password(password, user.password_hash):
                user.failed_logins += 1
                if user.failed_logins >= MAX_FAILED_LOGINS:
                    user.locked_until, user.failed_logins = now + LOCKOUT, 0
                s.flush()
                # commit the counter even though we raise
                s.commit()
                log_event("login_failed", user=email, reason="wrong password")
                raise AuthError("Wrong email or password.")
            user.failed_logins, user.locked_until = 0, None
            log_event("login", user=email)
            return _info(user, self.settings)

    def change_password(self, actor: Actor, old_password: str, new_password: str) -> None:
        info = self.get(actor.user_id)
        if not verify_password(old_password, info.password_hash):
            raise AuthError("The current password is wrong.")
        if old_password == new_password:
            raise ValidationError("The new password must differ from the current one.")
        check_password_strength(new_password, info.email)
        with self.db.transaction() as s:
            s.get(User, info.id).password_hash = hash_password(new_password)
        log_event("password_changed", user=info.email)

    def set_admin(self, email: str, is_admin: bool = True) -> UserInfo:
        """Grant or revoke administrator rights (an operator's decision, never a registration's)."""
        email = normalize_email(email)
        with self.db.transaction() as s:
            user = s.scalar(select(User).where(User.email == email))
            if user is None:
                raise NotFound(f"No account for {email}.")
            user.is_admin = is_admin
            log_event("admin_granted" if is_admin else "admin_revoked", user=email)
            return _info(user, self.settings)

    def get(self, user_id: uuid.UUID | None) -> UserInfo:
        if user_id is None:
            raise NotFound("No such user.")
        with self.db.transaction() as s:
            user = s.get(User, user_id)
            if user is None:
                raise NotFound("No such user.")
            return _info(user, self.settings)

    def by_email(self, email: str) -> UserInfo:
        email = normalize_email(email)
        with self.db.transaction() as s:
            user = s.scalar(select(User).where(User.email == email))
            if user is None:
                raise NotFound(f"No account for {email}.")
            return _info(user, self.settings)

    def all_users(self) -> list[UserInfo]:
        with self.db.transaction() as s:
            return [_info(u, self.settings) for u in s.scalars(select(User).order_by(User.email))]

    def count(self) -> int:
        with self.db.transaction() as s:
            return s.scalar(select(func.count()).select_from(User)) or 0

