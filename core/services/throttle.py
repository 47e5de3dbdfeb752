"""Growing delays after failed attempts (logging in, changing a password, typing a join code),
counted in the database so that every app instance sees the same failures.

Each attempt is counted under several keys (the account, the client's address, the pair), each
with its own policy: a number of free failures, then a delay that doubles with every further
failure up to a ceiling; failures are forgotten a day after the last one. Why not a rate-limit
library: `limits` and `pyrate-limiter` keep their counters in memory, Redis or Memcached, while
ClassGPT's one shared engine is PostgreSQL (docs/security.md).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import case, delete, select, update

from core.database import Database
from core.errors import TooManyAttempts
from core.models import ThrottleEntry, utcnow


@dataclass(frozen=True)
class Policy:
    scope: str
    free: int  # failures allowed before any delay
    first_delay: timedelta  # the delay after the first failure beyond `free`; each further one doubles it
    longest: timedelta  # the delay never grows past this
    forget: timedelta = timedelta(days=1)  # failures this old (since the last one) count no more

    def delay(self, failures: int) -> timedelta:
        if failures <= self.free:
            return timedelta(0)
        doublings = min(failures - self.free - 1, 30)  # 2**30 × any first delay is past any ceiling
        return min(self.longest, self.first_delay * 2 ** doublings)


Key = tuple[Policy, str]


class Throttle:
    def __init__(self, db: Database):
        self.db = db

    def check(self, keys: Iterable[Key], doing: str) -> None:
        """Refuse (TooManyAttempts) while any of the keys is waiting out its delay."""
        now = utcnow()
        with self.db.transaction() as s:
            waits = [row.blocked_until - now for policy, key in keys
                     if (row := s.get(ThrottleEntry, (policy.scope, key))) is not None
                     and row.blocked_until is not None and row.blocked_until > now]
        if waits:
            wait = max(waits)
            raise TooManyAttempts(f"Too many failed attempts to {doing}: try again in {_human(wait)}.",
                                  retry_after=wait.total_seconds())

    def failed(self, keys: Iterable[Key]) -> None:
        """Count one failure under each key and start its delay."""
        now = utcnow()
        with self.db.transaction() as s:
            for policy, key in keys:
                self._ensure_row(s, policy.scope, key)
                stale = (ThrottleEntry.last_failure_at.is_(None)) | (ThrottleEntry.last_failure_at < now - policy.forget)
                # one UPDATE: concurrent failures on PostgreSQL wait for the row lock and all count
                failures = s.execute(
                    update(ThrottleEntry)
                    .where(ThrottleEntry.scope == policy.scope, ThrottleEntry.key == key)
                    .values(failures=case((stale, 1), else_=ThrottleEntry.failures + 1), last_failure_at=now)
                    .returning(ThrottleEntry.failures)
                ).scalar_one()
                delay = policy.delay(failures)
                if delay:
                    s.execute(update(ThrottleEntry)
                              .where(ThrottleEntry.scope == policy.scope, ThrottleEntry.key == key)
                              .values(blocked_until=now + delay))

    def succeeded(self, keys: Iterable[Key]) -> None:
        """Clear the keys' failures and remember when they last succeeded."""
        now = utcnow()
        with self.db.transaction() as s:
            for policy, key in keys:
                self._ensure_row(s, policy.scope, key)
                s.execute(update(ThrottleEntry).where(ThrottleEntry.scope == policy.scope, ThrottleEntry.key == key)
                          .values(failures=0, blocked_until=None, last_success_at=now))

    def failures(self, key: Key) -> int:
        """The key's failures that still count (0 once they are forgotten)."""
        policy, value = key
        with self.db.transaction() as s:
            row = s.get(ThrottleEntry, (policy.scope, value))
            if row is None or row.last_failure_at is None or row.last_failure_at < utcnow() - policy.forget:
                return 0
            return row.failures

    def succeeded_within(self, key: Key, within: timedelta) -> bool:
        """Whether the key succeeded recently (a client address the account's owner used)."""
        policy, value = key
        with self.db.transaction() as s:
            last = s.scalar(select(ThrottleEntry.last_success_at)
                            .where(ThrottleEntry.scope == policy.scope, ThrottleEntry.key == value))
        return last is not None and last > utcnow() - within

    def purge(self, keep_successes_for: timedelta) -> int:
        """Forget keys whose failures are forgotten anyway and that succeeded long ago, if ever."""
        now = utcnow()
        longest_memory = max(timedelta(days=1), keep_successes_for)
        with self.db.transaction() as s:
            return s.execute(delete(ThrottleEntry).where(
                (ThrottleEntry.last_failure_at.is_(None)) | (ThrottleEntry.last_failure_at < now - timedelta(days=1)),
                (ThrottleEntry.blocked_until.is_(None)) | (ThrottleEntry.blocked_until < now),
                (ThrottleEntry.last_success_at.is_(None)) | (ThrottleEntry.last_success_at < now - longest_memory),
            )).rowcount or 0

    def _ensure_row(self, s, scope: str, key: str) -> None:
        insert = _insert_for(self.db.dialect)
        s.execute(insert(ThrottleEntry).values(scope=scope, key=key, failures=0).on_conflict_do_nothing())


def _insert_for(dialect: str):
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def _human(wait: timedelta) -> str:
    seconds = max(1, round(wait.total_seconds()))
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = round(seconds / 60)
    return f"{minutes} minutes"
