"""Operator tasks on the file stores: find orphans (`check`) and move files (`migrate`).

The database is the source of truth: a document row names the store (`storage_backend`)
and key that hold its file, with its size and SHA-256. Both tasks return JSON-serialisable
dicts (the command line prints them).
"""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select, update

from core.config import Settings
from core.database import Database
from core.errors import NotFound, StorageUnavailable, ValidationError
from core.models import Document
from core.storage import FileStore, StoreResolver, checksum, is_intact

DOCUMENTS_PREFIX = "classes/"
BACKENDS = ("local", "s3")

MigrateProgress = Callable[[int, int, dict], None]  # (done, total, outcome of the last document)


# ---- check ----------------------------------------------------------------------------------

def check(db: Database, store: FileStore, fix: bool = False) -> dict:
    """Compare one store with the documents table; with `fix`, delete objects no row refers to.

    - orphan objects: keys under classes/ that no document row names (any backend) — left by
      a crash between upload and cleanup; safe to delete.
    - missing objects: ready documents on this store whose key is absent — data loss to report.
    - other-store copies: keys whose row says the file lives on the other store (left by
      `storage migrate` until the operator removes them); reported, never deleted here, since
      it may be the row's only remaining copy.
    """
    keys = set(store.list_keys(DOCUMENTS_PREFIX))
    with db.transaction() as s:
        rows = s.execute(select(Document.id, Document.storage_key, Document.storage_backend, Document.status)).all()
    by_key = {r.storage_key: r for r in rows if r.storage_key}
    orphans = sorted(k for k in keys if k not in by_key)
    other_copies = sorted(k for k in keys if k in by_key and by_key[k].storage_backend != store.backend)
    missing = [
        {"document_id": r.id, "key": r.storage_key}
        for r in rows
        if r.storage_backend == store.backend and r.status == "ready" and r.storage_key not in keys
    ]
    removed, fix_errors = [], []
    if fix:
        for key in orphans:
            if _referenced(db, key):  # a row appeared since the listing (a concurrent upload)
                continue
            try:
                store.delete(key)
                removed.append(key)
            except StorageUnavailable as exc:
                fix_errors.append({"key": key, "error": str(exc)})
    remaining = [k for k in orphans if k not in removed]
    return {
        "backend": store.backend,
        "objects": len(keys),
        "documents": sum(1 for r in rows if r.storage_backend == store.backend),
        "orphan_objects": orphans,
        "missing_objects": missing,
        "other_store_copies": other_copies,
        "fixed": fix,
        "removed": removed,
        "fix_errors": fix_errors,
        "ok": not missing and not remaining,
    }


def _referenced(db: Database, key: str) -> bool:
    with db.transaction() as s:
        return s.scalar(select(Document.id).where(Document.storage_key == key).limit(1)) is not None


# ---- migrate --------------------------------------------------------------------------------

def migrate(db: Database, settings: Settings, to: str, progress: MigrateProgress | None = None,
            stores: dict[str, FileStore] | None = None) -> dict:
    """Copy every ready document's file to the `to` store, verify it, then switch its row.

    A row changes only after the copy read back from the target matches the row's size and
    SHA-256, so an interrupted run leaves every document readable; re-running skips the
    documents already moved. Source files stay where they are. `stores` overrides the stores
    built from `settings` (keyed by backend), for tests and tools.
    """
    if to not in BACKENDS:
        raise ValidationError(f"unknown storage backend {to!r}: choose one of {', '.join(BACKENDS)}")
    store_for = StoreResolver(settings, stores)
    target = store_for(to)
    with db.transaction() as s:
        rows = s.execute(
            select(Document.id, Document.filename, Document.storage_key, Document.storage_backend,
                   Document.size_bytes, Document.sha256, Document.status,
                   Document.content_type).order_by(Document.id)
        ).all()
    summary = {"to": to, "total": len(rows), "copied": 0, "skipped": 0, "not_ready": 0,
               "bytes_copied": 0, "failed": [], "aborted": None}
    for done, row in enumerate(rows, start=1):
        outcome = {"document_id": row.id, "filename": row.filename}
        if row.storage_backend == to:
            summary["skipped"] += 1
            outcome["result"] = "skipped"
        elif row.status != "ready":
            summary["not_ready"] += 1  # an upload in flight (or stuck): it lands on its own store
            outcome["result"] = "not ready"
        else:
            try:
                _move(db, row, store_for(row.storage_backend), target)
                summary["copied"] += 1
                summary["bytes_copied"] += row.size_bytes
                outcome["result"] = "copied"
            except (NotFound, _Mismatch) as exc:  # this document only: go on with the others
                summary["failed"].append({**outcome, "reason": str(exc)})
                outcome["result"] = "failed"
            except StorageUnavailable as exc:  # every further document would fail the same way
                summary["failed"].append({**outcome, "reason": str(exc)})
                summary["aborted"] = f"stopped early: {exc}; fix the store and re-run to finish"
                outcome["result"] = "failed"
                if progress:
                    progress(done, len(rows), outcome)
                break
        if progress:
            progress(done, len(rows), outcome)
    summary["remaining"] = summary["total"] - summary["skipped"] - summary["copied"] - summary["not_ready"]
    return summary


class _Mismatch(Exception):
    """Bytes that do not match the database's size and SHA-256."""


def _verify(data: bytes, row, where: str) -> None:
    if not is_intact(data, row.size_bytes, row.sha256):
        raise _Mismatch(
            f"{where} does not match the database: {len(data)} bytes, sha256 {checksum(data)[:12]}… "
            f"(expected {row.size_bytes} bytes, sha256 {row.sha256[:12]}…)"
        )


def _move(db: Database, row, source: FileStore, target: FileStore) -> None:
    data = source.get(row.storage_key)
    _verify(data, row, f"the {source.backend} file")  # never spread a corrupted file
    target.put(row.storage_key, data, row.content_type)
    try:
        copy = target.get(row.storage_key)
    except NotFound as exc:
        raise _Mismatch(f"the copy on {target.backend} vanished right after it was written") from exc
    _verify(copy, row, f"the copy on {target.backend}")
    with db.transaction() as s:
        switched = s.execute(
            update(Document)
            .where(Document.id == row.id, Document.storage_backend == source.backend, Document.sha256 == row.sha256)
            .values(storage_backend=target.backend)
        ).rowcount
    if not switched:
        # deleted (or changed) while we copied: the copy belongs to no row
        target.delete(row.storage_key)
        raise _Mismatch("the document changed or was deleted during the copy; nothing was switched")

