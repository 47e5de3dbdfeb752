"""Job commands: `jobs` (what the ingest jobs are doing) and `worker` (take them, until stopped)."""
from __future__ import annotations

import logging
from argparse import Namespace

from core.cli import EXIT_OK, Cli, Commands, json_option
from core.errors import ConfigError
from core.events import log_event
from core.services.ingestion import JobInfo

STATES = ("queued", "working", "ready", "failed", "cancelled")


def register(commands: Commands) -> None:
    p = commands.add("jobs", list_jobs, "List ingest jobs, newest first: state, progress, attempts, why one failed.")
    p.add_argument("--class", dest="class_id", type=int, metavar="ID", help="only this class's jobs")
    p.add_argument("--state", choices=STATES, action="append", help="only jobs in this state (repeatable)")
    p.add_argument("--limit", type=int, default=50, metavar="N")
    json_option(p)

    p = commands.add("worker", run_worker, "Take ingest jobs from PostgreSQL's queue until stopped (SIGTERM: "
                                           "the running job finishes or goes back to the queue).")
    p.add_argument("--concurrency", type=int, default=1, metavar="N",
                   help="jobs at once in this process (default 1: one job already uses every core)")


def describe(job: JobInfo) -> str:
    """One line for people: `ingest` and `jobs` print it."""
    if job.state == "ready":
        pages = f"{job.pages} pages, " if job.pages else ""
        return f"ready: document {job.document_id}, {pages}{job.chunks} chunks"
    if job.state in ("failed", "cancelled"):
        return f"{job.state}: {job.error}"
    if job.state == "working":
        return f"working ({round(job.progress * 100)}%): {job.stage}"
    return f"queued{'' if job.stage in ('', 'queued') else f' ({job.stage})'}"


def list_jobs(args: Namespace, cli: Cli) -> int:
    jobs = cli.services().ingestion.listing(args.class_id, args.state, args.limit)
    if args.json:
        cli.print_json([{**j.__dict__, "active": j.active} for j in jobs])
        return EXIT_OK
    for j in jobs:
        tries = f"  attempt {j.attempts}" if j.attempts > 1 else ""
        print(f"{j.id:>6}  class {j.class_id}  {j.created_at:%Y-%m-%d %H:%M}  {j.filename}  {describe(j)}{tries}")
    return EXIT_OK


def run_worker(args: Namespace, cli: Cli) -> int:
    settings = cli.settings
    if not settings.queued_jobs:
        raise ConfigError("`worker` takes jobs from PostgreSQL's queue: set DATABASE_URL to PostgreSQL. On SQLite "
                          "(or with JOB_RUNNER=thread) jobs run in the app's own process and need no worker.")
    from core.database import require_current_schema
    from core.jobs.postgres import run_worker as work
    from core.jobs.postgres import worker_name
    from core.services import build_services

    logging.getLogger().setLevel(settings.log_level.upper())
    name = worker_name()
    services = build_services(settings, worker_name=name)
    require_current_schema(services.db.engine)
    services.embedder.embed(["warm up"])  # the model loads now (and logs its precision), not in the first job
    log_event("worker_started", worker=name, concurrency=args.concurrency)
    services.ingestion.resume()
    work(settings.sqlalchemy_url, services.ingestion.run_job, concurrency=args.concurrency, name=name,
         stop_timeout_s=settings.worker_stop_timeout_s)
    log_event("worker_stopped", worker=name)
    return EXIT_OK
