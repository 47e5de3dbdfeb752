"""Ingest jobs, their rows and the thread runner (SQLite and PostgreSQL, fake embedder): a file
that fails is failed with its reason and leaves nothing; a crash costs an attempt and the
attempts are bounded; a job left by a stopped process is taken up at the next start; a document
deleted before its job runs cancels it; `ingest --no-wait` and `jobs` on the command line."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from core.cli.jobs import STATES
from core.models import Chunk, Document, IngestFailure, IngestJob, utcnow
from core.services.ingestion.job import STALE_AFTER
from tests.conftest import run_core
from tests.factories import corrupt_pdf, upload


def _class(services, instructor):
    return services.classes.create(instructor, "Biology")


def _count(services, model) -> int:
    with services.db.transaction() as s:
        return s.scalar(select(func.count()).select_from(model))


def _job(services, job_id) -> IngestJob:
    with services.db.transaction() as s:
        return s.get(IngestJob, job_id)


def _queued_but_not_run(services, instructor, klass, name="notes.txt", data=b"Osmosis moves water across membranes."):
    """A job row as a process leaves it when it dies right after queueing: stored, not run."""
    services.ingestion.close()  # this process's runner takes nothing more
    return services.ingestion.submit(instructor, klass.id, name, data).job_id


def test_a_file_that_cannot_be_read_fails_with_its_reason_and_leaves_nothing(services, instructor):
    klass = _class(services, instructor)
    result = upload(services, instructor, klass.id, "broken.pdf", corrupt_pdf())
    assert not result.ok and "'broken.pdf' could not be opened as a PDF" in result.error
    [job] = services.ingestion.listing()
    assert (job.state, job.attempts, job.document_id) == ("failed", 1, None)  # not tried again: it would not help
    assert job.error == result.error
    assert _count(services, Document) == 0 and _count(services, Chunk) == 0
    assert services.store.list_keys() == []  # the stored original went with it
    assert [f.error for f in services.documents.failures(instructor, klass.id)] == [result.error]


def test_a_job_that_kept_crashing_is_failed_after_the_last_attempt(services, instructor):
    klass = _class(services, instructor)
    job_id = _queued_but_not_run(services, instructor, klass)
    limit = services.settings.ingest_max_attempts
    with services.db.transaction() as s:  # as if its runner had died mid-job `limit` times
        s.execute(update(IngestJob).where(IngestJob.id == job_id).values(
            state="working", attempts=limit, heartbeat_at=utcnow() - STALE_AFTER - timedelta(seconds=1)))
    services.ingestion.run_job(job_id)
    job = _job(services, job_id)
    assert job.state == "failed" and job.attempts == limit + 1
    assert job.error == (f"notes.txt: processing stopped {limit} times before it finished (the worker was stopped "
                         "or crashed each time); nothing was saved.")
    assert _count(services, Document) == 0 and services.store.list_keys() == []
    with services.db.transaction() as s:
        assert s.scalar(select(IngestFailure.error)) == job.error


def test_a_crashed_job_is_taken_up_at_the_next_start_and_indexed_once(services, instructor):
    klass = _class(services, instructor)
    job_id = _queued_but_not_run(services, instructor, klass)
    with services.db.transaction() as s:  # its runner died mid-job a while ago
        s.execute(update(IngestJob).where(IngestJob.id == job_id).values(
            state="working", attempts=1, worker="app", heartbeat_at=utcnow() - STALE_AFTER - timedelta(seconds=1)))
    from core.search.embeddings import FakeEmbedder
    from core.services import build_services

    restarted = build_services(services.settings, embedder=FakeEmbedder())  # the next start of the app
    restarted.ingestion.resume()
    [job] = restarted.ingestion.wait([job_id], timeout_s=30)
    assert (job.state, job.attempts, job.chunks) == ("ready", 2, 1)
    assert _count(services, Chunk) == 1
    restarted.ingestion.run_job(job_id)  # delivered again: nothing to do, nothing added
    assert _count(services, Chunk) == 1 and _job(services, job_id).attempts == 2


def test_a_live_job_is_not_taken_twice(services, instructor):
    klass = _class(services, instructor)
    job_id = _queued_but_not_run(services, instructor, klass)
    with services.db.transaction() as s:  # another runner holds it and is beating
        s.execute(update(IngestJob).where(IngestJob.id == job_id).values(
            state="working", attempts=1, worker="other", heartbeat_at=utcnow()))
    services.ingestion.run_job(job_id)
    assert _job(services, job_id).attempts == 1 and _count(services, Chunk) == 0
    assert services.ingestion.unfinished() == []  # not stale: nobody should take it up


def test_deleting_a_queued_document_cancels_its_job(services, instructor):
    klass = _class(services, instructor)
    job_id = _queued_but_not_run(services, instructor, klass)
    [doc] = services.documents.list(instructor, klass.id)
    assert doc.status == "processing"
    services.documents.delete(instructor, doc.id)
    job = _job(services, job_id)
    assert job.state == "cancelled" and "deleted before it was processed" in job.error
    services.ingestion.run_job(job_id)  # a late delivery changes nothing
    assert _job(services, job_id).state == "cancelled" and _count(services, Chunk) == 0


def test_the_same_file_while_its_job_waits_is_that_job(services, instructor):
    klass = _class(services, instructor)
    job_id = _queued_but_not_run(services, instructor, klass)
    again = services.ingestion.submit(instructor, klass.id, "copy.txt", b"Osmosis moves water across membranes.")
    assert again.job_id == job_id and _count(services, Document) == 1


def test_cli_ingest_no_wait_then_jobs(services, settings, instructor, tmp_path, capsys, monkeypatch):
    klass = _class(services, instructor)
    notes = tmp_path / "notes.md"
    notes.write_text("# Osmosis\n\nWater crosses membranes toward higher solute concentration.")
    assert run_core(["ingest", "--class", str(klass.id), "--no-wait", str(notes)], settings, monkeypatch) == 0
    out = capsys.readouterr()
    assert out.out.strip() == "queued  notes.md: job 1"
    assert run_core(["jobs", "--json"], settings, monkeypatch) == 0
    import json

    [job] = json.loads(capsys.readouterr().out)
    assert job["filename"] == "notes.md" and job["class_id"] == klass.id and job["state"] in STATES
    services.ingestion.wait([job["id"]], timeout_s=30)  # (in this test the runner outlives the command)
    other = tmp_path / "more.md"
    other.write_text("# Diffusion\n\nParticles spread from high to low concentration.")
    assert run_core(["ingest", "--class", str(klass.id), str(other)], settings, monkeypatch) == 0
    assert capsys.readouterr().out.startswith("ok      more.md: document 2, 1 chunks")
    assert run_core(["jobs", "--state", "ready"], settings, monkeypatch) == 0
    listed = capsys.readouterr().out
    assert "more.md  ready: document 2, 1 chunks" in listed and "notes.md  ready: document 1, 1 chunks" in listed
