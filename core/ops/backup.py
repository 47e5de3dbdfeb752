"""Portable database backups: every table as JSON lines, plus a manifest of the stored files.

A backup is a directory, or the same directory packed as a .tar.gz:

    manifest.json            format, schema revision, per-table row counts, column encodings and
                             file checksums, and one entry per document: storage key, backend,
                             size, sha256, and whether the stored object is present and matches
    tables/NN_<table>.jsonl  one JSON object per row, tables in foreign-key dependency order

Values are encoded by column kind, written into the manifest so a reader never guesses:
bytes as base64, UUIDs as canonical strings, datetimes as ISO 8601 in UTC, JSON columns as
the JSON value itself. Nothing is tied to one database engine, so a SQLite backup restores
into PostgreSQL and back. The stored files themselves stay in the file store (S3 versioning,
or a copy of DATA_DIR/files for local disk); the manifest records what they must be.
"""
from __future__ import annotations

import base64
import hashlib
import json
import shutil
import tarfile
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from core.database import current_revision, downgrade, is_older, revision_on, upgrade
from core.errors import ClassGPTError, NotFound
from core.models import Base
from core.storage import is_intact

FORMAT = "classgpt-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SKIP_TABLES = {"alembic_version"}
# procrastinate's tables (PostgreSQL only): the queue's transport, rebuilt from `ingest_jobs` when a
# worker starts (jobs left unfinished are queued again), so a backup stays portable to SQLite
SKIP_PREFIXES = ("procrastinate_",)
BATCH = 1000


class BackupError(ClassGPTError):
    """A backup could not be written or read, or a restore target is unsuitable."""


# ---- column kinds and their encodings -----------------------------------------------------------
def column_kind(type_: sa.types.TypeEngine) -> str:
    if isinstance(type_, sa.types.TypeDecorator):  # e.g. the models' UTCDateTime: encode as what it wraps
        type_ = type_.impl_instance
    if isinstance(type_, sa.Uuid):
        return "uuid"
    if isinstance(type_, sa.DateTime):
        return "datetime"
    if isinstance(type_, sa.LargeBinary):
        return "bytes"
    if isinstance(type_, sa.JSON):
        return "json"
    if isinstance(type_, sa.Boolean):
        return "bool"
    if isinstance(type_, sa.Integer):
        return "int"
    if isinstance(type_, (sa.Float, sa.Numeric)):
        return "float"
    return "str"


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; the app stores UTC
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def encode(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "bytes":
        return base64.b64encode(bytes(value)).decode("ascii")
    if kind == "uuid":
        return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))
    if kind == "datetime":
        return _utc(value).isoformat()
    if kind == "bool":
        return bool(value)
    return value


def decode(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "bytes":
        return base64.b64decode(value)
    if kind == "uuid":
        return uuid.UUID(value)
    if kind == "datetime":
        return _utc(datetime.fromisoformat(value))
    return value


# ---- tables as they are in a database -----------------------------------------------------------
def _typed_tables(engine: Engine) -> list[sa.Table]:
    """The database's own tables (any revision), dependency-ordered, typed like the ORM where it
    knows the column (SQLite reflects a UUID as CHAR(32); the ORM type gives back a UUID)."""
    reflected = sa.MetaData()
    reflected.reflect(engine)
    typed = sa.MetaData()
    orm = Base.metadata.tables
    for table in reflected.sorted_tables:
        if table.name in SKIP_TABLES or table.name.startswith(SKIP_PREFIXES):
            continue
        columns = []
        for col in table.columns:
            known = orm.get(table.name)
            type_ = known.c[col.name].type if known is not None and col.name in known.c else col.type
            if isinstance(type_, sa.JSON):
                type_ = sa.JSON(none_as_null=True)  # SQL NULL stays SQL NULL on restore
            columns.append(sa.Column(col.name, type_, primary_key=col.primary_key))
        sa.Table(table.name, typed, *columns)
    order = {t.name: i for i, t in enumerate(reflected.sorted_tables)}
    return sorted(typed.tables.values(), key=lambda t: order[t.name])


def _kinds(table: sa.Table) -> dict[str, str]:
    return {c.name: column_kind(c.type) for c in table.columns}


def _ordered(table: sa.Table) -> sa.Select:
    keys = list(table.primary_key.columns) or list(table.columns)
    return sa.select(table).order_by(*keys)


def row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: conn.scalar(sa.select(sa.func.count()).select_from(t)) or 0
                for t in _typed_tables(engine)}


# ---- backup ---------------------------------------------------------------------------------------
def backup(engine: Engine, out: Path, store_for: Callable[[str], Any] | None = None,
           verify_files: bool = True) -> dict:
    """Write a backup of the database behind `engine` to `out` (a directory, or *.tar.gz).

    `store_for(backend)` returns the file store for a backend name (a StoreResolver reuses each
    store); with it, each document's stored object is checked (present, and its sha256 matches
    when `verify_files`).
    Returns the manifest.
    """
    out = Path(out)
    if out.exists() and (out.is_file() or any(out.iterdir())):
        raise BackupError(f"{out} already exists and is not empty: choose a new name")
    with tempfile.TemporaryDirectory(prefix="classgpt-backup-") as tmp:
        root = Path(tmp) / "backup"
        (root / "tables").mkdir(parents=True)
        manifest = _dump(engine, root, store_for, verify_files)
        (root / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        out.parent.mkdir(parents=True, exist_ok=True)
        if _is_archive(out):
            with tarfile.open(out, "w:gz") as tar:
                for path in sorted(root.rglob("*")):
                    tar.add(path, arcname=path.relative_to(root).as_posix(), recursive=False)
        else:
            shutil.copytree(root, out, dirs_exist_ok=True)
    return manifest


def _dump(engine: Engine, root: Path, store_for, verify_files: bool) -> dict:
    tables = []
    documents = []
    with _snapshot(engine) as conn:
        for i, table in enumerate(_typed_tables(engine), start=1):
            kinds = _kinds(table)
            rel = f"tables/{i:02d}_{table.name}.jsonl"
            digest, rows = hashlib.sha256(), 0
            with open(root / rel, "wb") as fh:
                result = conn.execution_options(yield_per=BATCH).execute(_ordered(table))
                for row in result:
                    record = {k: encode(kinds[k], v) for k, v in row._mapping.items()}
                    line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
                    fh.write(line)
                    digest.update(line)
                    rows += 1
                    if table.name == "documents":
                        documents.append(record)
            tables.append({"name": table.name, "file": rel, "rows": rows, "sha256": digest.hexdigest(),
                           "columns": kinds})
        revision = revision_on(conn)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created_at": datetime.now(timezone.utc).isoformat(),
        "source_dialect": engine.dialect.name,
        "schema_revision": revision,
        "tables": tables,
        "row_counts": {t["name"]: t["rows"] for t in tables},
        "files": file_manifest(documents, store_for, verify_files),
    }


@contextmanager
def _snapshot(engine: Engine) -> Iterator[sa.Connection]:
    """One read transaction for every table (REPEATABLE READ on PostgreSQL: a consistent snapshot)."""
    opts = {"isolation_level": "REPEATABLE READ"} if engine.dialect.name == "postgresql" else {}
    with engine.connect().execution_options(**opts) as conn, conn.begin():
        yield conn


def file_manifest(documents: list[dict], store_for, verify: bool) -> dict:
    """Each document's stored object: what it must be, and whether the store has it intact."""
    entries = []
    for doc in documents:
        backend = doc.get("storage_backend") or "local"
        entry = {"document_id": doc["id"], "storage_key": doc["storage_key"], "backend": backend,
                 "size": doc["size_bytes"], "sha256": doc["sha256"], "present": None, "matches": None}
        if store_for is not None:
            try:
                entry.update(_check_object(store_for(backend), doc, verify))
            except ClassGPTError as exc:
                entry["error"] = str(exc)
        entries.append(entry)
    checked = [e for e in entries if e["present"] is not None]
    return {
        "checked": store_for is not None,
        "verified_sha256": verify and store_for is not None,
        "documents": entries,
        "missing": sum(1 for e in checked if not e["present"]),
        "mismatched": sum(1 for e in checked if e["present"] and e["matches"] is False),
        "unchecked": len(entries) - len(checked),
    }


def _check_object(store, doc: dict, verify: bool) -> dict:
    key = doc["storage_key"]
    if not verify:
        size = store.size(key)
        return {"present": size is not None, "matches": None if size is None else size == doc["size_bytes"]}
    try:
        data = store.get(key)
    except NotFound:
        return {"present": False, "matches": False}
    return {"present": True, "matches": is_intact(data, doc["size_bytes"], doc["sha256"])}


# ---- restore --------------------------------------------------------------------------------------
def restore(engine: Engine, source: Path) -> dict:
    """Rebuild an empty database from a backup; all rows or none. Returns the manifest.

    A database with no schema is first migrated to the backup's revision; an empty one at
    another revision is moved to it; a database with any row is refused.
    """
    with _opened(Path(source)) as root:
        manifest = _load_manifest(root)
        _prepare_target(engine, manifest["schema_revision"])
        tables = {t.name: t for t in _typed_tables(engine)}
        missing = [t["name"] for t in manifest["tables"] if t["name"] not in tables]
        if missing:
            raise BackupError(f"the target database has no table(s) {', '.join(missing)} at revision "
                              f"{manifest['schema_revision']}: is this a ClassGPT backup?")
        with engine.begin() as conn:
            for entry in manifest["tables"]:
                _load_table(conn, tables[entry["name"]], root / entry["file"], entry)
            if engine.dialect.name == "postgresql":
                _reset_sequences(conn, [tables[t["name"]] for t in manifest["tables"]])
    return manifest


@contextmanager
def _opened(source: Path) -> Iterator[Path]:
    if source.is_dir():
        yield source
        return
    if not source.is_file():
        raise BackupError(f"no backup at {source}")
    with tempfile.TemporaryDirectory(prefix="classgpt-restore-") as tmp:
        try:
            with tarfile.open(source, "r:*") as tar:
                tar.extractall(tmp, filter="data")
        except (tarfile.TarError, OSError) as exc:
            raise BackupError(f"{source} is not a readable backup archive: {exc}") from exc
        yield Path(tmp)


def _load_manifest(root: Path) -> dict:
    try:
        manifest = json.loads((root / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"{root / MANIFEST} is missing or not JSON: not a ClassGPT backup") from exc
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(f"unsupported backup format {manifest.get('format')!r} "
                          f"version {manifest.get('format_version')!r}")
    return manifest


def _prepare_target(engine: Engine, revision: str | None) -> None:
    counts = {name: n for name, n in row_counts(engine).items() if n}
    if counts:
        listed = ", ".join(f"{name}: {n}" for name, n in counts.items())
        raise BackupError(f"refusing to restore into a database that is not empty ({listed} rows). "
                          "Restore into a new, empty database (or drop this one's data first).")
    if revision is None:
        raise BackupError("the backup records no schema revision: it was taken from an unmigrated database")
    current = current_revision(engine)
    if current == revision:
        return
    if current is None or is_older(current, revision):
        upgrade(engine, revision)
    else:
        downgrade(engine, revision)  # safe: the database is empty


def _load_table(conn: sa.Connection, table: sa.Table, path: Path, entry: dict) -> None:
    kinds = entry["columns"]
    unknown = set(kinds) - set(table.c.keys())
    if unknown:
        raise BackupError(f"table {table.name} in the backup has column(s) {sorted(unknown)} "
                          "that the target schema lacks")
    digest, batch, rows = hashlib.sha256(), [], 0
    with open(path, "rb") as fh:
        for line in fh:
            digest.update(line)
            record = json.loads(line)
            batch.append({k: decode(kinds[k], v) for k, v in record.items()})
            if len(batch) >= BATCH:
                conn.execute(table.insert(), batch)
                rows, batch = rows + len(batch), []
    if batch:
        conn.execute(table.insert(), batch)
        rows += len(batch)
    if digest.hexdigest() != entry["sha256"] or rows != entry["rows"]:
        raise BackupError(f"{entry['file']} does not match the manifest (damaged backup): nothing restored")


def _reset_sequences(conn: sa.Connection, tables: list[sa.Table]) -> None:
    """Explicit ids were inserted: move each serial/identity sequence past the largest id."""
    for table in tables:
        pk = list(table.primary_key.columns)
        if len(pk) != 1 or column_kind(pk[0].type) != "int":
            continue
        conn.execute(sa.text(
            f'SELECT setval(pg_get_serial_sequence(:t, :c), COALESCE(MAX("{pk[0].name}"), 1), '
            f'MAX("{pk[0].name}") IS NOT NULL) FROM "{table.name}"'),
            {"t": f'"{table.name}"', "c": pk[0].name})


def _is_archive(path: Path) -> bool:
    return path.name.endswith((".tar.gz", ".tgz"))


def default_backup_name(prefix: str = "backup") -> str:
    return f"{prefix}-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}.tar.gz"
