"""Operator commands: `migrate`, `backup`, `restore`, `health`, `storage check|migrate`."""
from __future__ import annotations

from argparse import Namespace
from pathlib import Path

from core.cli import EXIT_OK, EXIT_PROBLEMS, Cli, Commands, json_option

BACKENDS = ("local", "s3")


def register(commands: Commands) -> None:
    p = commands.add("migrate", migrate, "Back up the database, then upgrade its schema to the latest revision.")
    p.add_argument("--downgrade", metavar="REV", help="downgrade to this revision instead (e.g. 0001)")
    p.add_argument("--no-backup", action="store_true", help="do not take a backup before migrating")

    p = commands.add(
        "backup", backup, "Export the database (all tables) and a manifest of stored files.",
        "Write every table as JSON lines plus manifest.json (schema revision, row counts, each document's "
        "storage key, size and sha256, and whether the stored object is present and intact) to OUT: a "
        "directory, or a single file when OUT ends in .tar.gz. Exits 1 if any stored file is missing or differs.")
    p.add_argument("out", metavar="OUT", help="new directory, or FILE.tar.gz")
    p.add_argument("--no-verify-files", action="store_true",
                   help="check stored files by size only (no download and sha256)")
    p.add_argument("--skip-files", action="store_true", help="do not look at the file store at all")
    json_option(p, "print the manifest summary as JSON")

    p = commands.add(
        "restore", restore, "Rebuild an empty database from a backup.",
        "Load a backup made by `backup` into the database at DATABASE_URL. The database must be empty (a new "
        "one is migrated to the backup's schema revision first); a database with any row is refused. All rows "
        "or none. Works across SQLite and PostgreSQL. Run `migrate` afterwards to reach the latest schema.")
    p.add_argument("source", metavar="IN", help="backup directory or .tar.gz")
    json_option(p)

    p = commands.add("health", health, "Database and storage health, counts, failures, query latency and the "
                                       "embedding path, bf16 or fp32 (JSON).",
                     "Run the Status page's checks and print them as JSON; exit 1 if the database or "
                     "storage is down. `embedding.precision` names the arithmetic this machine embeds in.")
    p.add_argument("--hours", type=int, default=24, help="window for failures and latency (default 24)")

    storage = commands.group("storage", "Check or migrate the file store (local disk or S3).", "{check,migrate}")
    p = storage.add(
        "check", storage_check, "List orphan objects and documents whose file is missing.",
        "Compare the file store with the documents table: objects no document refers to (orphans) and "
        "ready documents whose object is missing. Exits 1 if any are found.")
    p.add_argument("--fix", action="store_true",
                   help="delete the orphan objects (never a file that a document row refers to)")
    p.add_argument("--backend", choices=BACKENDS, help="store to check (default: the configured STORAGE_BACKEND)")
    json_option(p, "print the report as JSON")
    p = storage.add(
        "migrate", storage_migrate, "Copy every document's file to another store, verified, then switch it.",
        "Copy each document's file to the target store, verify its size and SHA-256 against the database, and "
        "only then record the new store. Safe to re-run after an interruption; source files are left in "
        "place. Exits 1 if any document was not moved.")
    p.add_argument("--to", required=True, choices=BACKENDS, help="target store")
    json_option(p, "print the summary as JSON")


def migrate(args: Namespace, cli: Cli) -> int:
    from core.ops.schema import migrate_schema

    change = migrate_schema(cli.settings, downgrade_to=args.downgrade, take_backup=not args.no_backup)
    if change.backup:
        print(f"backup: {change.backup}")
    if change.backup_copy:
        print(f"backup copied to the file store: {change.backup_copy}")
    for warning in change.warnings:
        cli.progress(f"WARNING: {warning}")
    print(f"schema: {change.before or 'empty'} -> {change.after} (head is {change.head})")
    return EXIT_OK


def backup(args: Namespace, cli: Cli) -> int:
    from core.database import make_engine
    from core.ops.backup import backup as write_backup
    from core.storage import StoreResolver

    engine = make_engine(cli.settings.sqlalchemy_url)
    try:
        manifest = write_backup(engine, Path(args.out), None if args.skip_files else StoreResolver(cli.settings),
                                verify_files=not args.no_verify_files)
    finally:
        engine.dispose()
    files = manifest["files"]
    if args.json:
        cli.print_json({"out": args.out, "schema_revision": manifest["schema_revision"],
                        "rows": manifest["row_counts"], "documents": len(files["documents"]),
                        "files_missing": files["missing"], "files_mismatched": files["mismatched"],
                        "files_unchecked": files["unchecked"]})
    else:
        rows = ", ".join(f"{k} {v}" for k, v in manifest["row_counts"].items())
        print(f"backup written to {args.out} (schema {manifest['schema_revision']}): {rows}")
        for e in files["documents"]:
            if e.get("error") or e["present"] is False or e["matches"] is False:
                why = e.get("error") or ("missing" if not e["present"] else "differs from its sha256/size")
                print(f"  WARNING document {e['document_id']}: {e['backend']}:{e['storage_key']} {why}")
    return EXIT_PROBLEMS if files["missing"] or files["mismatched"] else EXIT_OK


def restore(args: Namespace, cli: Cli) -> int:
    from core.database import make_engine
    from core.ops.backup import restore as load_backup

    engine = make_engine(cli.settings.sqlalchemy_url)
    try:
        manifest = load_backup(engine, Path(args.source))
    finally:
        engine.dispose()
    if args.json:
        cli.print_json({"restored": args.source, "schema_revision": manifest["schema_revision"],
                        "rows": manifest["row_counts"]})
    else:
        rows = ", ".join(f"{k} {v}" for k, v in manifest["row_counts"].items())
        print(f"restored {args.source} at schema {manifest['schema_revision']}: {rows}")
        print("next: `python -m core migrate` to bring the schema to the latest revision")
    return EXIT_OK


def health(args: Namespace, cli: Cli) -> int:
    from core.services.actors import SYSTEM

    # reports a schema behind the code instead of refusing to run
    status = cli.services(any_schema=True).status.report(SYSTEM, hours=args.hours)
    cli.print_json(status)
    return EXIT_OK if status["ok"] else EXIT_PROBLEMS


def storage_check(args: Namespace, cli: Cli) -> int:
    from core.ops.storage import check
    from core.storage import make_file_store

    services = cli.services()
    report = check(services.db, make_file_store(cli.settings, args.backend), fix=args.fix)
    cli.print_json(report) if args.json else print(format_check(report))
    return EXIT_OK if report["ok"] else EXIT_PROBLEMS


def storage_migrate(args: Namespace, cli: Cli) -> int:
    from core.ops.storage import migrate as move_files

    def progress(done: int, total: int, outcome: dict) -> None:
        if not args.json and outcome["result"] != "skipped":
            cli.progress(f"[{done}/{total}] document {outcome['document_id']} ({outcome['filename']}): "
                         f"{outcome['result']}")

    summary = move_files(cli.services().db, cli.settings, args.to, progress=progress)
    cli.print_json(summary) if args.json else print(format_migration(summary))
    return EXIT_OK if not summary["failed"] else EXIT_PROBLEMS


def format_check(report: dict) -> str:
    lines = [f"{report['backend']} store: {report['objects']} objects, {report['documents']} documents recorded there"]
    if report["orphan_objects"]:
        lines.append(f"orphan objects (no document row): {len(report['orphan_objects'])}")
        lines += [f"  {k}{'  (removed)' if k in report['removed'] else ''}" for k in report["orphan_objects"]]
    if report["missing_objects"]:
        lines.append(f"documents whose file is missing: {len(report['missing_objects'])}")
        lines += [f"  document {m['document_id']}: {m['key']}" for m in report["missing_objects"]]
    if report["other_store_copies"]:
        lines.append(
            f"copies of documents now kept on the other store: {len(report['other_store_copies'])} "
            "(left by `storage migrate`; remove them yourself once the other store is verified)"
        )
    for err in report["fix_errors"]:
        lines.append(f"could not remove {err['key']}: {err['error']}")
    if report["orphan_objects"] and not report["fixed"]:
        lines.append("run `python -m core storage check --fix` to remove the orphan objects")
    lines.append("OK" if report["ok"] else "PROBLEMS FOUND")
    return "\n".join(lines)


def format_migration(summary: dict) -> str:
    lines = [
        f"migrate to {summary['to']}: {summary['total']} documents — {summary['copied']} copied "
        f"({summary['bytes_copied']} bytes), {summary['skipped']} already there, "
        f"{summary['not_ready']} not ready, {len(summary['failed'])} failed"
    ]
    lines += [f"  failed: document {f['document_id']} ({f['filename']}): {f['reason']}" for f in summary["failed"]]
    if summary["aborted"]:
        lines.append(summary["aborted"])
    if summary["copied"]:
        lines.append("source files were left in place; remove them once you have verified the new store")
    lines.append("OK" if not summary["failed"] else f"{summary['remaining']} documents still to move: re-run to finish")
    return "\n".join(lines)
