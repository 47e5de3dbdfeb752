"""The one way the schema changes by hand: back up, then upgrade (or downgrade) with Alembic.

A database that has a schema and is not already at the target is backed up first, to
DATA_DIR/backups and, when files live in S3, to the bucket under backups/ as well (a release
machine's disk is thrown away after the migration).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.config import Settings
from core.database import current_revision, downgrade, head_revision, make_engine, upgrade
from core.errors import ClassGPTError
from core.ops.backup import backup, default_backup_name

BACKUP_PREFIX = "backups/"  # key prefix in the file store for copies of pre-migrate backups


@dataclass(frozen=True)
class SchemaChange:
    before: str | None  # None: the database had no schema
    after: str | None
    head: str
    backup: Path | None = None  # None: nothing to protect, or the operator declined
    backup_copy: str | None = None  # the file store key of the backup's copy
    warnings: list[str] = field(default_factory=list)


def migrate_schema(settings: Settings, downgrade_to: str | None = None, take_backup: bool = True) -> SchemaChange:
    """Bring the schema to the code's head (or down to `downgrade_to`), backing it up first."""
    engine = make_engine(settings.sqlalchemy_url)
    try:
        before = current_revision(engine)
        target = downgrade_to or head_revision()
        saved = copy = None
        warnings: list[str] = []
        if take_backup and before is not None and before != target:
            saved = settings.data_dir / "backups" / default_backup_name(f"pre-migrate-{before}")
            backup(engine, saved, store_for=None)
            copy, warnings = _copy_to_file_store(settings, saved)
        if downgrade_to:
            downgrade(engine, downgrade_to)
        else:
            upgrade(engine, "head")
        return SchemaChange(before, current_revision(engine), head_revision(), saved, copy, warnings)
    finally:
        engine.dispose()


def _copy_to_file_store(settings: Settings, path: Path) -> tuple[str | None, list[str]]:
    if settings.storage_backend != "s3":
        return None, []
    from core.storage import make_file_store

    key = BACKUP_PREFIX + path.name
    try:
        make_file_store(settings).put(key, path.read_bytes(), "application/gzip")
    except ClassGPTError as exc:
        return None, [f"backup not copied to the file store ({exc}); it is only at {path}"]
    return key, []
