"""Who is acting: a signed-in user, or the operator at the command line."""
from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    user_id: uuid.UUID | None
    email: str
    name: str = ""
    is_admin: bool = False
    is_system: bool = False  # the operator (CLI): may do anything, owns nothing


SYSTEM = Actor(user_id=None, email="operator@localhost", name="Operator", is_admin=True, is_system=True)
