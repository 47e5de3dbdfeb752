"""Document commands: `ingest`, `documents`, `visibility`, `delete-document`."""
from __future__ import annotations

from argparse import ArgumentTypeError, Namespace
from datetime import datetime, timezone
from pathlib import Path

from core.cli import EXIT_OK, EXIT_PROBLEMS, Cli, Commands, as_user_option, class_option, json_option


def register(commands: Commands) -> None:
    p = commands.add("documents", list_documents, "List a class's documents.")
    class_option(p)
    as_user_option(p)
    json_option(p)

    p = commands.add("ingest", ingest, "Upload files into a class; one line per file, exit 1 if any failed.")
    class_option(p)
    as_user_option(p)
    p.add_argument("--include-notes", action="store_true",
                   help="also index PowerPoint speaker notes (off by default: they often hold private remarks)")
    p.add_argument("--instructors-only", action="store_true",
                   help="hide the files from students (answer keys, grading notes, drafts): never listed, "
                        "downloaded or used in their answers")
    p.add_argument("--release-at", type=_iso_time, metavar="ISO8601",
                   help="hide the files from students until then, e.g. 2026-12-01T09:00 (UTC unless an offset is given)")
    p.add_argument("files", nargs="+", metavar="FILE")

    p = commands.add("visibility", set_visibility, "Change who sees a document: instructors only, students from "
                                                   "a date/time, or everyone.")
    p.add_argument("document_id", type=int, metavar="DOCUMENT_ID")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--instructors-only", action="store_true", help="hide it from students")
    who.add_argument("--release-at", type=_iso_time, metavar="ISO8601",
                     help="hide it from students until then (UTC unless an offset is given)")
    who.add_argument("--everyone", action="store_true", help="show it to the class's students now")
    as_user_option(p)

    p = commands.add("delete-document", delete_document, "Delete a document, its chunks and its stored file.")
    p.add_argument("document_id", type=int, metavar="DOCUMENT_ID")
    as_user_option(p)


def _iso_time(value: str) -> datetime:
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ArgumentTypeError(f"not an ISO 8601 date/time: {value!r}") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


def list_documents(args: Namespace, cli: Cli) -> int:
    docs = cli.services().documents.list(cli.actor(args.as_user), args.class_id)
    if args.json:
        cli.print_json([d.__dict__ for d in docs])
    else:
        for d in docs:
            hidden = "  instructors only" if d.instructors_only else (
                f"  from {d.release_at.isoformat()}" if d.release_at else "")
            print(f"{d.id:>5}  {d.filename}  {d.status}  {d.page_count} pages  {d.chunk_count} chunks  "
                  f"{d.size_bytes} bytes{hidden}")
    return EXIT_OK


def ingest(args: Namespace, cli: Cli) -> int:
    documents = cli.services().documents
    actor = cli.actor(args.as_user)
    failed = 0
    for path in map(Path, args.files):
        try:
            data = path.read_bytes()
        except OSError as exc:
            print(f"FAILED  {path.name}: cannot read file ({exc.strerror})")
            failed += 1
            continue
        result = documents.upload(actor, args.class_id, path.name, data, include_notes=args.include_notes,
                                  instructors_only=args.instructors_only, release_at=args.release_at)
        if result.ok:
            note = " (already uploaded; not duplicated)" if result.deduplicated else ""
            pages = f"{result.pages} pages, " if result.pages else ""
            print(f"ok      {path.name}: document {result.document_id}, {pages}"
                  f"{result.chunks} chunks, {result.seconds:.1f}s{note}")
        else:
            failed += 1
            print(f"FAILED  {path.name}: {result.error}")
    return EXIT_PROBLEMS if failed else EXIT_OK


def set_visibility(args: Namespace, cli: Cli) -> int:
    cli.services().documents.set_visibility(cli.actor(args.as_user), args.document_id, args.instructors_only,
                                            args.release_at)
    who = ("instructors only" if args.instructors_only
           else f"students from {args.release_at.isoformat()}" if args.release_at else "everyone in the class")
    print(f"document {args.document_id}: seen by {who}")
    return EXIT_OK


def delete_document(args: Namespace, cli: Cli) -> int:
    cli.services().documents.delete(cli.actor(args.as_user), args.document_id)
    print(f"deleted document {args.document_id}")
    return EXIT_OK
