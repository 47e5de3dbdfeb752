"""Which documents an actor may see: the one rule, in the three forms it is applied in.

A document is visible to whoever manages the class (its instructors, administrators, the
operator); to everyone else only when it is not marked instructors-only (answer keys, grading
notes, drafts) and its release time, if any, has come. The release time is compared when the
question is asked or the list read, never stored as a flag, so a release passing needs no write.

The forms: `is_visible` for one row, `visible_clause` for SQL over documents, `visible_mask` for
the search index's per-chunk arrays; `apply_visibility` is the one writer of a document's. A hidden
document is reported as missing (NotFound with a missing document's message), so a student cannot
learn that an answer key exists.
"""
from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
from sqlalchemy import ColumnElement, not_, or_, update
from sqlalchemy.orm import Session

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


def as_utc(release_at: datetime | None) -> datetime | None:
    """A release time without a zone is UTC: the app shows every time in UTC (ui.widgets.when)."""
    return release_at.replace(tzinfo=timezone.utc) if release_at is not None and release_at.tzinfo is None \
        else release_at


def visible_clause(now: datetime | None = None) -> ColumnElement[bool]:
    """The documents a student may see, as a WHERE clause (the same rule as is_visible)."""
    return not_(Document.instructors_only) & or_(Document.release_at.is_(None), Document.release_at <= _now(now))


def visible_mask(role: str | None, instructors_only: np.ndarray, release_s: np.ndarray,
                 now: datetime | None = None) -> np.ndarray | None:
    """Which of an index's chunks the role may see (the same rule as is_visible), or None for
    all of them: the common case of a manager, or of a class with nothing hidden, costs nothing."""
    if sees_hidden(role):
        return None
    with np.errstate(invalid="ignore"):
        mask = ~instructors_only & ~(release_s > _now(now).timestamp())
    return None if mask.all() else mask


def apply_visibility(s: Session, document_id: int, instructors_only: bool, release_at: datetime | None) -> None:
    """Hide a document from students (always, or until release_at), or show it, in the caller's
    transaction; the caller records that the class's material changed (its index keeps each
    chunk's visibility)."""
    s.execute(update(Document).where(Document.id == document_id)
              .values(instructors_only=instructors_only, release_at=release_at))
