"""One event: a class's material changed (a document became ready, was deleted, or was hidden from or
shown to students again).

The change is recorded in the transaction that makes it. That transaction bumps the class's
`index_version`, so every process's search index of the class is stale from its commit on
(core/search/cache.py); once it has committed, the listeners wired at the composition root hear the
class id (today: the class's checked questions run again, core/services/gold.py). A change that rolls
back tells nobody, and a listener's failure is logged, never raised into the change that caused it.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import event, update
from sqlalchemy.orm import Session

from core.models import Class

log = logging.getLogger(__name__)

Listener = Callable[[int], None]  # told the class id
_PENDING = "classgpt_material_changed"  # Session.info key: the classes this transaction changed


class MaterialChanged:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def record(self, s: Session, class_id: int) -> None:
        """In the caller's transaction: the class's index is stale from the commit on, and the
        listeners hear of it once the commit has landed (once per class, however many changes)."""
        s.execute(update(Class).where(Class.id == class_id).values(index_version=Class.index_version + 1))
        pending = s.info.setdefault(_PENDING, [])
        if not pending:
            event.listen(s, "after_commit", self._committed, once=True)
            event.listen(s, "after_rollback", lambda s: s.info.pop(_PENDING, None), once=True)
        if class_id not in pending:
            pending.append(class_id)

    def _committed(self, s: Session) -> None:
        for class_id in s.info.pop(_PENDING, []):
            for listener in self._listeners:
                try:
                    listener(class_id)
                except Exception:
                    log.exception("a listener failed after class %s's material changed", class_id)
