"""The system under load for `python -m loadtest`: a throwaway database with a class and its students,
`streamlit run app.py` servers over it, and ingestion in the background by separate processes.

Everything here talks to the app as an operator would: services to seed accounts (before any
server starts), `python -m core ...` subprocesses to ingest, and HTTP to see a server is up.
"""
from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from core.config import Settings
from core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
# the server's environment comes from here; whatever points the app at another database, store or
# model would measure something else
_UNSET = ("DATABASE_URL", "DATA_DIR", "STORAGE_BACKEND", "USE_S3", "S3_", "AWS_", "EMBEDDER", "APP_ENV",
          "LLM_", "ADMIN_EMAILS")


@dataclass(frozen=True)
class Seeded:
    class_id: int
    instructor: str
    students: list[tuple[str, str]]  # (email, password)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/_stcore/health", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


@contextmanager
def throwaway_database(workdir: Path, postgres: str | None) -> Iterator[str]:
    """SQLite in workdir, or a fresh database on the PostgreSQL server `postgres` names (dropped after)."""
    if not postgres:
        yield f"sqlite:///{workdir / 'classgpt.db'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(make_url(postgres).set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = f"classgpt_load_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def app_env(data_dir: Path, database_url: str, embedder: str) -> dict[str, str]:
    """The environment of every process of the system under test: one database, one DATA_DIR
    (the local file store: two instances on one machine share it as they would share a bucket)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_UNSET)}
    env.update(DATA_DIR=str(data_dir), DATABASE_URL=database_url, EMBEDDER=embedder, STORAGE_BACKEND="local",
               AUTH_COOKIE_KEY=env.get("AUTH_COOKIE_KEY") or secrets.token_urlsafe(48), PYTHONUNBUFFERED="1")
    return env


def seed(env: dict[str, str], students: int) -> Seeded:
    """An instructor, a class and `students` enrolled accounts, through the services (no server yet)."""
    from core.services import build_services

    settings = Settings(data_dir=Path(env["DATA_DIR"]), database_url=env["DATABASE_URL"], embedder=env["EMBEDDER"],
                        storage_backend="local", auth_cookie_key=env["AUTH_COOKIE_KEY"])
    services = build_services(settings, migrate=True)
    try:
        password = secrets.token_urlsafe(12)
        # each account from its own seeding "address": the per-address registration budget is for
        # strangers, not for the operator filling a benchmark class
        prof = services.accounts.register("prof@load.test", password, "Load Instructor", client="seed-prof").actor()
        klass = services.classes.create(prof, "Load test class")
        made = []
        for i in range(students):
            email, pw = f"student{i:03d}@load.test", secrets.token_urlsafe(12)
            actor = services.accounts.register(email, pw, f"Student {i}", client=f"seed-{i}").actor()
            services.classes.join(actor, klass.join_code, client=f"seed-{i}")
            made.append((email, pw))
        return Seeded(klass.id, "prof@load.test", made)
    finally:
        services.db.engine.dispose()


def server_ask_ms(database_url: str, start: datetime, end: datetime) -> list[float]:
    """The latency of every ask the servers logged between start and end (query_log): the chat
    service's own time, without the page around it or the wait for a free core."""
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from core.models import QueryLog

    engine = create_engine(database_url)
    try:
        with Session(engine) as s:
            return list(s.scalars(select(QueryLog.latency_ms).where(QueryLog.created_at >= start,
                                                                      QueryLog.created_at < end)))
    finally:
        engine.dispose()


# ---- background ingestion: the one place that says how a file gets ingested -----------------------
def uses_workers(env: dict[str, str]) -> bool:
    """Whether ingestion is a queued job that `python -m core worker` processes must take."""
    settings = Settings(data_dir=Path(env["DATA_DIR"]), database_url=env["DATABASE_URL"])
    return bool(getattr(settings, "queued_jobs", False))  # False before the job queue exists


def ingest_commands(class_id: int, instructor: str, files: Sequence[Path]) -> list[str]:
    """The command that ingests `files` and returns when they are done. Today `ingest` embeds in its
    own process; with the job queue it enqueues and waits for the workers (see IngestRun)."""
    return [sys.executable, "-m", "core", "ingest", "--class", str(class_id), "--as", instructor,
            *[str(f) for f in files]]


WORKER_COMMAND = [sys.executable, "-m", "core", "worker"]


class IngestRun:
    """`files` ingested by separate processes while the app serves: the ingest command, plus, where
    ingestion is a queued job, `workers` worker processes that take the jobs (stopped afterwards)."""

    def __init__(self, env: dict[str, str], class_id: int, instructor: str, files: Sequence[Path],
                 log: Path, workers: int | None = None) -> None:
        self.log = log.open("a")
        n_workers = (1 if uses_workers(env) else 0) if workers is None else workers
        self.workers = [subprocess.Popen(WORKER_COMMAND, cwd=ROOT, env=env, stdout=self.log,
                                         stderr=subprocess.STDOUT) for _ in range(n_workers)]
        self.started = time.monotonic()
        self.ended: float | None = None
        self.proc = subprocess.Popen(ingest_commands(class_id, instructor, files), cwd=ROOT, env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def poll(self) -> int | None:
        """The ingest command's exit code once it has ended (None while it runs). Workers that
        all died would leave it waiting for ever: it is stopped then, and fails."""
        code = self.proc.poll()
        if code is None and self.workers and all(w.poll() is not None for w in self.workers):
            self.log.write("loadtest: every worker exited; the ingest command is stopped\n")
            self.proc.kill()
            code = self.proc.wait()
        if code is not None and self.ended is None:
            self.ended = time.monotonic()
            self._stop_workers()
        return code

    def wait(self, timeout_s: float) -> int:
        deadline = time.monotonic() + timeout_s
        while (code := self.poll()) is None:
            if time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                code = self.poll()
                break
            time.sleep(0.5)
        self.log.close()
        return code

    def _stop_workers(self) -> None:
        for w in self.workers:
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)  # a worker finishes or releases its job, then exits
        for w in self.workers:
            try:
                w.wait(timeout=30)
            except subprocess.TimeoutExpired:
                w.kill()
                w.wait()


# ---- the app servers ------------------------------------------------------------------------------
@dataclass
class Server:
    url: str
    proc: subprocess.Popen

    def cpu_seconds(self) -> float:
        """User + system CPU of the server process so far (Linux /proc; 0 elsewhere)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return 0.0


@contextmanager
def app_servers(env: dict[str, str], count: int, logs: Path, prefix: str = "") -> Iterator[list[Server]]:
    """`count` `streamlit run app.py` processes on free ports over the same database and files."""
    servers: list[Server] = []
    try:
        for i in range(count):
            port = free_port()
            log = (logs / f"{prefix}server-{i + 1}.log").open("w")
            proc = subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                 "--server.address", "127.0.0.1", "--server.headless", "true",
                 "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            log.close()
            servers.append(Server(f"http://127.0.0.1:{port}", proc))
        deadline = time.monotonic() + 90
        for i, s in enumerate(servers):
            while not healthy(s.url):
                if s.proc.poll() is not None or time.monotonic() > deadline:
                    log = (logs / f"{prefix}server-{i + 1}.log").read_text(errors="replace")[-2000:]
                    raise ConfigError(f"streamlit run app.py did not come up:\n{log}")
                time.sleep(0.2)
        yield servers
    finally:
        for s in servers:
            s.proc.terminate()
        for s in servers:
            try:
                s.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                s.proc.kill()
                s.proc.wait()
