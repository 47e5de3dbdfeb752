"""Ingest jobs on PostgreSQL's queue, taken by real `python -m core worker` processes with the real
model: a worker killed with SIGKILL mid-embedding loses nothing (another finishes the file with
exactly a clean run's chunks, and the store has no orphan); SIGTERM lets the job finish, or gives
it back to the queue when it cannot finish in time."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from core.config import Settings
from core.ingest.chunking import chunk_pages
from core.ingest.extract import extract
from core.models import Chunk, Document, IngestJob
from core.services.actors import SYSTEM

REPO = Path(__file__).resolve().parent.parent
PG_BASE = os.environ.get("TEST_DATABASE_URL", "")
pytestmark = [
    pytest.mark.skipif(not PG_BASE, reason="TEST_DATABASE_URL is not set: the queue needs PostgreSQL"),
    pytest.mark.xdist_group("worker"),  # real model in two processes: not beside the browser tests
]


def lecture_notes(paragraphs: int, seed: int) -> bytes:
    """Long enough that the real model embeds for several seconds (~170 passages)."""
    rng = random.Random(seed)
    words = ("cell membrane protein enzyme energy gradient transport diffusion osmosis receptor signal "
             "pathway mitochondria nucleus ribosome genome mutation selection population species").split()
    return "\n\n".join(" ".join(rng.choice(words) for _ in range(120)) + "." for _ in range(paragraphs)).encode()


@pytest.fixture
def queue_db(tmp_path) -> Iterator[Settings]:
    """A throwaway PostgreSQL database, migrated, and settings that send jobs to its queue."""
    name = f"classgpt_worker_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(PG_BASE).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_BASE).set(database=name).render_as_string(hide_password=False)
    yield Settings(app_env="test", database_url=url, data_dir=tmp_path / "data", job_runner="queue",
                   embedder="fake", auth_cookie_key="x" * 40)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def app(queue_db):
    from core.services import build_services

    # the real model here too: the test asks the class what the workers indexed with it
    services = build_services(queue_db.model_copy(update={"embedder": "minilm"}), migrate=True)
    yield services
    services.ingestion.close()
    services.db.engine.dispose()


def start_worker(settings: Settings, log: Path, stop_timeout_s: float = 20.0) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": settings.database_url, "DATA_DIR": str(settings.data_dir),
           "JOB_RUNNER": "queue", "EMBEDDER": "minilm", "LOG_LEVEL": "INFO",
           "WORKER_STOP_TIMEOUT_S": str(stop_timeout_s)}
    return subprocess.Popen([sys.executable, "-m", "core", "worker"], cwd=REPO, env=env,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)


def job_row(services, job_id: int) -> IngestJob:
    with services.db.transaction() as s:
        return s.get(IngestJob, job_id)


def wait_for(predicate, timeout_s: float, what: str, worker_log: Path):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; worker log:\n{worker_log.read_text()[-3000:]}")


def embedded_so_far(services, job_id: int) -> int:
    stage = job_row(services, job_id).stage
    return int(stage.split()[1].split("/")[0]) if stage.startswith("embedding") else 0


def expected_chunks(settings: Settings, name: str, data: bytes) -> list[tuple[int, str]]:
    """What a clean run indexes: the same extraction and chunking, nothing else."""
    pages = extract(name, data).pages
    return [(c.ordinal, c.text) for c in chunk_pages(pages, settings.chunk_words, settings.chunk_overlap_words)]


def test_a_killed_worker_loses_nothing(app, queue_db, tmp_path, capsys):
    klass = app.classes.create(SYSTEM, "Biology")
    data = lecture_notes(200, seed=1)
    submitted = app.ingestion.submit(SYSTEM, klass.id, "notes.txt", data)
    job_id = submitted.job_id
    assert job_id is not None and job_row(app, job_id).state == "queued"

    log = tmp_path / "workers.log"
    first = start_worker(queue_db, log)
    try:
        wait_for(lambda: embedded_so_far(app, job_id) >= 64, 180, "the first worker to embed", log)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        first.kill()
    held = job_row(app, job_id)
    assert held.state == "working" and held.attempts == 1  # as the dead worker left it
    with app.db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Chunk)) == 0  # nothing half-written

    second = start_worker(queue_db, log)
    try:
        wait_for(lambda: job_row(app, job_id).state not in ("queued", "working"), 240,
                 "the second worker to finish the job", log)
        done = job_row(app, job_id)
        assert done.state == "ready" and done.attempts == 2 and done.error is None, (done.state, done.error)
        expected = expected_chunks(queue_db, "notes.txt", data)
        with app.db.transaction() as s:
            rows = s.execute(select(Chunk.ordinal, Chunk.text).where(Chunk.document_id == done.document_id)
                             .order_by(Chunk.ordinal)).all()
            doc = s.get(Document, done.document_id)
        assert [tuple(r) for r in rows] == expected and doc.status == "ready" and doc.chunk_count == len(expected)
        # the file answers, and the store holds exactly the one original
        answer = app.chat.ask(SYSTEM, klass.id, "What does the cell membrane do with osmosis?")
        assert answer.citations and answer.citations[0].document == "notes.txt"
        from core.cli import main

        env_keys = {"DATABASE_URL": queue_db.database_url, "DATA_DIR": str(queue_db.data_dir)}
        old = {k: os.environ.get(k) for k in env_keys}
        os.environ.update(env_keys)
        try:
            assert main(["storage", "check"]) == 0
        finally:
            for k, v in old.items():
                os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
        assert capsys.readouterr().out == "local store: 1 objects, 1 documents recorded there\nOK\n"
        jobs = app.status.report(SYSTEM)["jobs"]  # the Status page's view of the queue
        assert (jobs["runner"], jobs["workers"], jobs["queued"], jobs["working"]) == ("queue", 1, 0, 0)
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=60) == 0
    finally:
        second.kill()


def test_sigterm_gives_an_unfinishable_job_back_and_the_next_worker_finishes_it(app, queue_db, tmp_path):
    klass = app.classes.create(SYSTEM, "Biology")
    job_id = app.ingestion.submit(SYSTEM, klass.id, "notes.txt", lecture_notes(200, seed=2)).job_id
    log = tmp_path / "workers.log"
    worker = start_worker(queue_db, log, stop_timeout_s=0.5)  # too short to finish: it must let go
    try:
        wait_for(lambda: embedded_so_far(app, job_id) >= 32, 180, "the worker to embed", log)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0
    finally:
        worker.kill()
    released = job_row(app, job_id)
    assert released.state == "queued" and released.attempts == 0, (released.state, released.attempts)
    assert "its worker stopped" in released.stage

    again = start_worker(queue_db, log)
    try:
        wait_for(lambda: job_row(app, job_id).state == "ready", 240, "the next worker to finish", log)
        assert job_row(app, job_id).attempts == 1
    finally:
        again.send_signal(signal.SIGTERM)
        again.wait(timeout=60)
        again.kill()
