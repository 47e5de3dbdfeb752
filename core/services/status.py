"""Operational status for admins: database and storage health, counts, recent ingestion
failures and query latency. One call, `StatusService.report`, for the Status page and
`python -m core health`; every probe is caught, so a broken part is reported, never raised."""
from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select, text

from core.config import Settings
from core.database import Database, current_revision, head_revision
from core.models import Class, IngestFailure, User
from core.search.embeddings import embedder_status
from core.services.accounts import AccountService
from core.services.actors import Actor
from core.services.chat import ChatService
from core.services.classes import ClassService
from core.services.documents import DocumentService
from core.services.ingestion import IngestionService
from core.services.permissions import require_admin
from core.storage import FileStore

HEALTH_PREFIX = "_health/"  # outside "classes/", so `storage check` never sees probes as orphans
RECENT_FAILURES = 20


def _timed(probe: Callable[[], Any]) -> tuple[Any, float, str | None]:
    started = time.perf_counter()
    try:
        value, error = probe(), None
    except Exception as exc:  # a health check reports every failure instead of raising
        value, error = None, f"{type(exc).__name__}: {exc}"
    return value, round((time.perf_counter() - started) * 1000, 1), error


class StatusService:
    def __init__(self, db: Database, store: FileStore, settings: Settings, accounts: AccountService,
                 classes: ClassService, documents: DocumentService, ingestion: IngestionService, chat: ChatService):
        self.db, self.store, self.settings = db, store, settings
        self.accounts, self.classes, self.documents, self.chat = accounts, classes, documents, chat
        self.ingestion = ingestion

    def report(self, actor: Actor, hours: int = 24) -> dict:
        """Everything the Status page shows; `ok` is false when the database or storage is down."""
        with self.db.transaction() as s:
            require_admin(s, actor, "see the Status page")
        db = self._database_health()
        storage = self._storage_health()
        return {
            "ok": db["ok"] and storage["ok"],
            "checked_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "app_env": self.settings.app_env,
            "host": socket.gethostname(),
            "database": db,
            "storage": storage,
            "counts": _section(self._counts),
            "ingest_failures": _section(lambda: self._recent_ingest_failures(hours)),
            "queries": _section(lambda: {"hours": hours, **self.chat.latency_stats(hours=hours)}),
            "jobs": _section(self.ingestion.summary),
            # which arithmetic embeds here (bf16 or fp32, and why): workers may differ (docs/embedding.md)
            "embedding": _section(lambda: embedder_status(self.settings.embedder, self.settings.embed_precision)),
        }

    def _database_health(self) -> dict:
        """SELECT 1 with its latency, and the schema revision against the code's head."""
        def probe() -> str | None:
            with self.db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return current_revision(self.db.engine)

        revision, ms, error = _timed(probe)
        head = head_revision()
        return {"ok": error is None, "dialect": self.db.dialect, "latency_ms": ms,
                "revision": revision, "head": head, "at_head": revision == head, "error": error}

    def _storage_health(self) -> dict:
        """Write, read back and delete a small probe object, with the round trip's latency."""
        store = self.store
        key = f"{HEALTH_PREFIX}{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        payload = f"classgpt health probe {datetime.now(timezone.utc).isoformat()}".encode()

        def probe() -> None:
            store.put(key, payload, "text/plain")
            try:
                if store.get(key) != payload:
                    raise RuntimeError("the probe object read back differs from what was written")
            finally:
                store.delete(key)

        _, ms, error = _timed(probe)
        return {"ok": error is None, "backend": store.backend, "where": _where(store), "latency_ms": ms,
                "error": error}

    def _counts(self) -> dict:
        return {"users": self.accounts.count(), "classes": self.classes.count(), **self.documents.counts()}

    def _recent_ingest_failures(self, hours: int = 24, limit: int = RECENT_FAILURES) -> dict:
        since = datetime.now(timezone.utc) - timedelta(hours=hours)
        with self.db.transaction() as s:
            rows = s.execute(
                select(IngestFailure.created_at, IngestFailure.class_id, Class.name, IngestFailure.filename,
                       IngestFailure.error, User.email)
                .join(Class, Class.id == IngestFailure.class_id)
                .outerjoin(User, User.id == IngestFailure.user_id)
                .where(IngestFailure.created_at >= since)
                .order_by(IngestFailure.created_at.desc(), IngestFailure.id.desc())
            ).all()
        recent = [{"at": _iso(r[0]), "class_id": r[1], "class": r[2], "filename": r[3], "error": r[4],
                   "user": r[5]} for r in rows[:limit]]
        return {"hours": hours, "count": len(rows), "recent": recent}


def _where(store: FileStore) -> str:
    if store.backend == "s3":
        return f"s3://{getattr(store, 'bucket', '?')}/{getattr(store, 'prefix', '')} at {getattr(store, 'where', '?')}"
    return str(getattr(store, "root", ""))


def _iso(dt: datetime) -> str:
    return dt.isoformat(timespec="seconds")  # aware UTC: the models' UTCDateTime


def _section(fn: Callable[[], dict]) -> dict:
    value, _, error = _timed(fn)
    return value if error is None else {"error": error}
