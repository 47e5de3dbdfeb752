"""`python -m core storage check|migrate`: parse options, call core.ops.storage, print, exit code.

Exit codes: 0 all good; 1 problems found (check) or documents not moved (migrate);
2 the command could not run (store unreachable, bad configuration).
"""
from __future__ import annotations

import argparse
import json
import sys

from core.config import Settings
from core.database import Database
from core.errors import ClassGPTError
from core.storage import make_file_store
from core.ops.storage import BACKENDS, check, format_check, format_migration, migrate


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `storage` command group; each leaf sets `handler(args, settings) -> int`."""
    storage = subparsers.add_parser(
        "storage", help="check or migrate the file store (local disk or S3)",
        description="Operator tasks on the stored original files.",
    )
    sub = storage.add_subparsers(dest="storage_command", metavar="{check,migrate}", required=True)

    p = sub.add_parser(
        "check", help="list orphan objects and documents whose file is missing",
        description="Compare the file store with the documents table: objects no document refers "
                    "to (orphans) and ready documents whose object is missing. Exits 1 if any are found.",
    )
    p.add_argument("--fix", action="store_true",
                   help="delete the orphan objects (never a file that a document row refers to)")
    p.add_argument("--backend", choices=BACKENDS,
                   help="store to check (default: the configured STORAGE_BACKEND)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(handler=run_check)

    p = sub.add_parser(
        "migrate", help="copy every document's file to another store, verified, then switch it",
        description="Copy each document's file to the target store, verify its size and SHA-256 "
                    "against the database, and only then record the new store. Safe to re-run after "
                    "an interruption; source files are left in place. Exits 1 if any document was not moved.",
    )
    p.add_argument("--to", required=True, choices=BACKENDS, help="target store")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(handler=run_migrate)
    return storage


def run_check(args: argparse.Namespace, settings: Settings) -> int:
    """`storage check [--fix] [--backend B] [--json]`."""
    try:
        store = make_file_store(settings, args.backend)
        report = check(Database.from_url(settings.sqlalchemy_url), store, fix=args.fix)
    except ClassGPTError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2) if args.json else format_check(report))
    return 0 if report["ok"] else 1


def run_migrate(args: argparse.Namespace, settings: Settings) -> int:
    """`storage migrate --to {s3,local} [--json]`."""
    def progress(done: int, total: int, outcome: dict) -> None:
        if not args.json and outcome["result"] != "skipped":
            print(f"[{done}/{total}] document {outcome['document_id']} ({outcome['filename']}): "
                  f"{outcome['result']}", file=sys.stderr)

    try:
        summary = migrate(Database.from_url(settings.sqlalchemy_url), settings, args.to, progress=progress)
    except ClassGPTError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2) if args.json else format_migration(summary))
    return 0 if not summary["failed"] else 1


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    """Run the storage commands on their own (`python -m core.cli.storage storage check`)."""
    parser = argparse.ArgumentParser(prog="python -m core")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.handler(args, settings or Settings())


if __name__ == "__main__":
    sys.exit(main())
