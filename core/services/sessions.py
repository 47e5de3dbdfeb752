"""Server-side sessions: the browser's cookie holds a random token; the database holds its HMAC
(keyed with AUTH_COOKIE_KEY), the user and the expiry. A session ends when its row goes, so
logging out, "log out everywhere", a password change, an account deletion or an admin's
revocation takes effect on the next click of every open tab. Rotating AUTH_COOKIE_KEY ends them all.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import timedelta

from sqlalchemy import delete, select

from core.models import User, UserSession, utcnow

TOKEN_BYTES = 32


class SessionStore:
    def __init__(self, key: str, lifetime: timedelta):
        self._key = key.encode()
        self.lifetime = lifetime

    def _id(self, token: str) -> str:
        return hmac.new(self._key, token.encode(), hashlib.sha256).hexdigest()

    def start(self, s, user_id: uuid.UUID) -> str:
        """A new session for the user; returns the token the cookie carries."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = utcnow()
        s.add(UserSession(id=self._id(token), user_id=user_id, created_at=now, expires_at=now + self.lifetime))
        return token

    def user(self, s, token: str | None) -> User | None:
        """The user of a live session, or None (unknown, ended or expired token)."""
        if not isinstance(token, str) or not token:
            return None
        row = s.execute(select(UserSession, User).join(User, User.id == UserSession.user_id)
                        .where(UserSession.id == self._id(token))).first()
        if row is None or row.UserSession.expires_at <= utcnow():
            return None
        return row.User

    def end(self, s, token: str) -> None:
        s.execute(delete(UserSession).where(UserSession.id == self._id(token)))

    def end_all(self, s, user_id: uuid.UUID) -> int:
        """End every session of the user; returns how many ended."""
        return s.execute(delete(UserSession).where(UserSession.user_id == user_id)).rowcount or 0

    def purge_expired(self, s) -> None:
        s.execute(delete(UserSession).where(UserSession.expires_at <= utcnow()))
