"""`python -m core backup|restore|health`: operator commands around core.ops.backup and the status checks.

Exit codes: 0 done (health: healthy); 1 done with problems (backup: stored files missing or
changed; health: something down); 2 could not run (bad target, damaged backup, bad settings).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.config import Settings
from core.errors import ClassGPTError

BACKUP_PREFIX = "backups/"  # key prefix in the file store for copies of pre-migrate backups


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `backup`, `restore` and `health`; each sets `handler(args, settings) -> int`."""
    p = subparsers.add_parser(
        "backup", help="export the database (all tables) and a manifest of stored files",
        description="Write every table as JSON lines plus manifest.json (schema revision, row counts, "
                    "each document's storage key, size and sha256, and whether the stored object is "
                    "present and intact) to OUT: a directory, or a single file when OUT ends in .tar.gz. "
                    "Exits 1 if any stored file is missing or differs.",
    )
    p.add_argument("out", metavar="OUT", help="new directory, or FILE.tar.gz")
    p.add_argument("--no-verify-files", action="store_true",
                   help="check stored files by size only (no download and sha256)")
    p.add_argument("--skip-files", action="store_true", help="do not look at the file store at all")
    p.add_argument("--json", action="store_true", help="print the manifest summary as JSON")
    p.set_defaults(handler=cmd_backup)

    p = subparsers.add_parser(
        "restore", help="rebuild an empty database from a backup",
        description="Load a backup made by `backup` into the database at DATABASE_URL. The database "
                    "must be empty (a new one is migrated to the backup's schema revision first); a "
                    "database with any row is refused. All rows or none. Works across SQLite and "
                    "PostgreSQL. Run `migrate` afterwards to reach the latest schema.",
    )
    p.add_argument("source", metavar="IN", help="backup directory or .tar.gz")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_restore)

    p = subparsers.add_parser(
        "health", help="database and storage health, counts, failures and query latency (JSON)",
        description="Run the Status page's checks and print them as JSON; exit 1 if the database or "
                    "storage is down.",
    )
    p.add_argument("--hours", type=int, default=24, help="window for failures and latency (default 24)")
    p.set_defaults(handler=cmd_health)


def _engine(settings: Settings):
    from core.database import make_engine

    return make_engine(settings.sqlalchemy_url)


def _store_for(settings: Settings):
    from core.storage import StoreResolver

    return StoreResolver(settings)


def cmd_backup(args, settings: Settings) -> int:
    from core.ops.backup import backup

    engine = _engine(settings)
    try:
        manifest = backup(engine, Path(args.out), None if args.skip_files else _store_for(settings),
                          verify_files=not args.no_verify_files)
    finally:
        engine.dispose()
    files = manifest["files"]
    summary = {"out": args.out, "schema_revision": manifest["schema_revision"],
               "rows": manifest["row_counts"], "documents": len(files["documents"]),
               "files_missing": files["missing"], "files_mismatched": files["mismatched"],
               "files_unchecked": files["unchecked"]}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        rows = ", ".join(f"{k} {v}" for k, v in manifest["row_counts"].items())
        print(f"backup written to {args.out} (schema {manifest['schema_revision']}): {rows}")
        for e in files["documents"]:
            if e.get("error") or e["present"] is False or e["matches"] is False:
                why = e.get("error") or ("missing" if not e["present"] else "differs from its sha256/size")
                print(f"  WARNING document {e['document_id']}: {e['backend']}:{e['storage_key']} {why}")
    return 1 if files["missing"] or files["mismatched"] else 0


def cmd_restore(args, settings: Settings) -> int:
    from core.ops.backup import restore

    engine = _engine(settings)
    try:
        manifest = restore(engine, Path(args.source))
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps({"restored": args.source, "schema_revision": manifest["schema_revision"],
                          "rows": manifest["row_counts"]}, indent=2))
    else:
        rows = ", ".join(f"{k} {v}" for k, v in manifest["row_counts"].items())
        print(f"restored {args.source} at schema {manifest['schema_revision']}: {rows}")
        print("next: `python -m core migrate` to bring the schema to the latest revision")
    return 0


def cmd_health(args, settings: Settings) -> int:
    from core.services import build_services
    from core.services.status import collect_status

    status = collect_status(build_services(settings), hours=args.hours)
    print(json.dumps(status, indent=2, default=str))
    return 0 if status["ok"] else 1


def backup_before_migrate(settings: Settings, target: str = "head") -> Path | None:
    """Back up the database before `migrate` changes its schema; None when there is nothing to
    protect (no schema yet, or already at the target). The archive goes to DATA_DIR/backups and,
    when files live in S3, a copy to the bucket under backups/ (a release machine's disk is
    thrown away after the migration)."""
    from core.ops.backup import backup, default_backup_name
    from core.database import current_revision, head_revision

    engine = _engine(settings)
    try:
        before = current_revision(engine)
        if before is None or before == (head_revision() if target == "head" else target):
            return None
        out = settings.data_dir / "backups" / default_backup_name(f"pre-migrate-{before}")
        backup(engine, out, store_for=None)
    finally:
        engine.dispose()
    print(f"backup before migrating: {out}", file=sys.stderr)
    if settings.storage_backend == "s3":
        from core.storage import make_file_store

        try:
            make_file_store(settings).put(BACKUP_PREFIX + out.name, out.read_bytes(), "application/gzip")
            print(f"backup copied to the file store: {BACKUP_PREFIX}{out.name}", file=sys.stderr)
        except ClassGPTError as exc:
            print(f"WARNING: backup not copied to the file store ({exc}); it is only at {out}",
                  file=sys.stderr)
    return out
