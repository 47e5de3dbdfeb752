"""Writes to a class's membership that more than one service makes."""
from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from core.models import Class, Enrollment


def make_instructor(s: Session, klass: Class, user_id: uuid.UUID) -> None:
    """Enrol the user as an instructor (its owner, when it has none). A class with an instructor
    is no longer one from before accounts: the legacy rule never comes back for it."""
    enrollment = s.get(Enrollment, (klass.id, user_id))
    if enrollment is None:
        s.add(Enrollment(class_id=klass.id, user_id=user_id, role="instructor"))
    else:
        enrollment.role = "instructor"
    if klass.user_id is None:
        klass.user_id = user_id
    klass.pre_accounts = False
    s.flush()
