"""Document commands: `ingest`, `documents`, `visibility`, `delete-document`."""
from __future__ import annotations

import time
from argparse import ArgumentTypeError, Namespace
from datetime import datetime, timezone
from pathlib import Path

from core.cli import EXIT_OK, EXIT_PROBLEMS, Cli, Commands, as_user_option, class_option, json_option
from core.cli.jobs import describe
from core.services.ingestion import JobInfo


def register(commands: Commands) -> None:
    p = commands.add("documents", list_documents, "List a class's documents.")
    class_option(p)
    as_user_option(p)
    json_option(p)

    p = commands.add("ingest", ingest, "Upload files into a class and wait for their jobs, printing progress; "
                                       "one line per file, exit 1 if any failed.")
    class_option(p)
    as_user_option(p)
    p.add_argument("--no-wait", action="store_true",
                   help="return once the files are stored and queued (follow them with `jobs`)")
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
    services = cli.services()
    actor = cli.actor(args.as_user)
    lines: list[str | int] = []  # per file, in the order given: its line, or the job that will tell it
    names: dict[int, str] = {}  # job id -> the file's name as given
    for path in map(Path, args.files):
        try:
            data = path.read_bytes()
        except OSError as exc:
            lines.append(f"FAILED  {path.name}: cannot read file ({exc.strerror})")
            continue
        submitted = services.ingestion.submit(actor, args.class_id, path.name, data, include_notes=args.include_notes,
                                              instructors_only=args.instructors_only, release_at=args.release_at)
        if submitted.job_id is not None:
            names[submitted.job_id] = path.name
            lines.append(submitted.job_id)
        elif submitted.result.ok:
            lines.append(f"ok      {path.name}: document {submitted.result.document_id} "
                         "(already uploaded; not duplicated)")
        else:
            lines.append(f"FAILED  {path.name}: {submitted.result.error}")
    if args.no_wait:
        told = {job_id: f"queued  {name}: job {job_id}" for job_id, name in names.items()}
        if names and not services.settings.queued_jobs:
            cli.progress("note: on SQLite the jobs run in the app's process; they start when the app runs")
    else:
        told = _wait(services, names, cli)
    out = [told[line] if isinstance(line, int) else line for line in lines]
    print("\n".join(out))
    return EXIT_PROBLEMS if any(line.startswith("FAILED") for line in out) else EXIT_OK


NO_WORKER_AFTER_S = 10.0


def _wait(services, names: dict[int, str], cli: Cli) -> dict[int, str]:  # noqa: ANN001
    """Follow the jobs to their end, a progress line (stderr) whenever one moves; each job's last line."""
    if not names:
        return {}
    started = time.monotonic()
    warned = False

    def moved(job: JobInfo) -> None:
        if job.active:
            cli.progress(f"        {names[job.id]}: {describe(job)}")

    def no_worker() -> None:
        nonlocal warned
        if (not warned and services.settings.queued_jobs and time.monotonic() - started > NO_WORKER_AFTER_S
                and services.ingestion.workers() == 0):
            warned = True
            cli.progress("note: no worker is running; start one with `python -m core worker` (or press Ctrl+C: "
                         "the files stay queued)")

    told = {}
    for job in services.ingestion.wait(list(names), moved, on_poll=no_worker):
        seconds = (job.finished_at - job.created_at).total_seconds() if job.finished_at else 0.0
        if job.state == "ready":
            pages = f"{job.pages} pages, " if job.pages else ""
            told[job.id] = (f"ok      {names[job.id]}: document {job.document_id}, {pages}{job.chunks} chunks, "
                            f"{seconds:.1f}s")
        else:
            told[job.id] = f"FAILED  {names[job.id]}: {job.error}"
    return told


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
