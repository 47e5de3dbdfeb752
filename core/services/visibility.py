"""Which documents an actor may see: the one rule, in the three forms it is applied in.

A document is visible to whoever manages the class (its instructors, administrators, the
operator); to everyone else only when it is not marked instructors-only (answer keys, grading
notes, drafts) and its release time, if any, has come. The release time is compared when the
question is asked or the list read, never stored as a flag, so a release passing needs no write.

The forms: `is_visible` for one row, `visible_clause` for SQL over documents, `visible_mask` for
the search index's per-chunk arrays. A hidden document is reported as missing (NotFound with a
missing document's message), so a student cannot learn that an answer key exists.
"""
from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
from sqlalchemy import ColumnElement, not_, or_

from core.models import Document

MANAGERS = frozenset({"instructor", "operator"})  # roles from permissions.role_in that see everything


def sees_hidden(role: str | None) -> bool:
    return role in MANAGERS


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(timezone.utc)


def is_visible(role: str | None, instructors_only: bool, release_at: datetime | None,
               now: datetime | None = None) -> bool:
    if sees_hidden(role):
        return True
    return not instructors_only and (release_at is None or release_at <= _now(now))


def visible_clause(now: datetime | None = None) -> ColumnElement[bool]:
    """The documents a student may see, as a WHERE clause (the same rule as is_visible)."""
    return not_(Document.instructors_only) & or_(Document.release_at.is_(None), Document.release_at <= _now(now))


def release_seconds(release_at: datetime | None) -> float:
    """A release time as the index keeps it: epoch seconds, NaN for none (NaN > now is False)."""
    return float("nan") if release_at is None else release_at.timestamp()


def visible_mask(role: str | None, instructors_only: np.ndarray, release_s: np.ndarray,
                 now: datetime | None = None) -> np.ndarray | None:
    """Which of an index's chunks the role may see (the same rule as is_visible), or None for
    all of them: the common case of a manager, or of a class with nothing hidden, costs nothing."""
    if sees_hidden(role):
        return None
    with np.errstate(invalid="ignore"):
        mask = ~instructors_only & ~(release_s > _now(now).timestamp())
    return None if mask.all() else mask
