"""Monitoring: the status report (healthy and broken parts, for admins only), latency
percentiles from real asks, and the JSON event lines for login, upload, ask and errors."""
from __future__ import annotations

import io
import json
import logging

import pytest

from core import events
from core.errors import StorageUnavailable
from core.services.actors import SYSTEM
from core.services.status import HEALTH_PREFIX
from tests.app_support import shown
from tests.factories import make_pdf, upload


def _class_with_document(services, instructor):
    info = services.classes.create(instructor, "Physics", "")
    pdf = make_pdf(["Newton's second law: force equals mass times acceleration.",
                    "Energy is conserved in a closed system."])
    assert upload(services, instructor, info.id, "physics.pdf", pdf).ok
    return info


def test_healthy_status_with_counts_failures_and_latency(services, instructor, student):
    info = _class_with_document(services, instructor)
    services.classes.join(student, info.join_code)
    assert not upload(services, instructor, info.id, "empty.txt", b"").ok
    for q in ("What does force equal?", "Is energy conserved?", "What is Newton's second law?"):
        services.chat.ask(student, info.id, q)

    status = services.status.report(SYSTEM)
    assert status["ok"] is True
    db, storage = status["database"], status["storage"]
    assert db["ok"] and db["at_head"] and db["latency_ms"] >= 0 and db["error"] is None
    assert db["dialect"] in ("sqlite", "postgresql")
    assert storage["ok"] and storage["backend"] == "local" and storage["error"] is None
    assert services.store.list_keys(HEALTH_PREFIX) == []  # the probe cleans up after itself
    assert status["counts"] == {"users": 2, "classes": 1, "documents": 1, "chunks": 2,  # one per short page
                                "ingest_failures": 1}
    failures = status["ingest_failures"]
    assert failures["count"] == 1
    [recent] = failures["recent"]
    assert recent["filename"] == "empty.txt" and recent["class"] == "Physics"
    assert recent["user"] == "prof@example.edu" and recent["error"]
    queries = status["queries"]
    assert queries["queries"] == 3 and queries["hours"] == 24
    assert 0 < queries["p50_ms"] <= queries["p95_ms"] <= queries["p99_ms"]
    # jobs run in this process here (tests/conftest.py): none waiting, none running
    assert status["jobs"] == {"runner": "thread", "workers": None, "queued": 0, "working": 0, "oldest_queued_s": 0.0}
    json.dumps(status)  # the page and `python -m core health` print it as is


def test_latency_percentiles_come_from_the_asks(services, instructor, student):
    from sqlalchemy import select

    from core.models import QueryLog

    info = _class_with_document(services, instructor)
    services.classes.join(student, info.join_code)
    for i in range(20):
        services.chat.ask(student, info.id, f"force and mass question {i}")
    with services.db.transaction() as s:
        latencies = sorted(s.scalars(select(QueryLog.latency_ms)).all())
    import numpy as np

    q = services.status.report(SYSTEM)["queries"]
    assert q["queries"] == 20
    for name, pct in (("p50_ms", 50), ("p95_ms", 95), ("p99_ms", 99)):
        assert q[name] == pytest.approx(float(np.percentile(latencies, pct)))


class BrokenStore:
    """A store whose backend is down: every call fails the way real stores fail."""

    backend = "s3"
    bucket, prefix, where = "classgpt-files", "", "https://s3.example.invalid"

    def _down(self, *a, **k):
        raise StorageUnavailable("storage unavailable: could not connect to https://s3.example.invalid")

    put = get = delete = exists = size = list_keys = _down


def test_broken_storage_is_reported_not_raised(services):
    services.status.store = BrokenStore()
    status = services.status.report(SYSTEM)
    assert status["ok"] is False
    assert status["storage"]["ok"] is False
    assert "could not connect" in status["storage"]["error"]
    assert status["database"]["ok"] is True and status["counts"]["users"] == 0


def test_broken_database_is_reported_not_raised(services):
    from sqlalchemy import create_engine

    services.db.engine = create_engine("postgresql+psycopg2://nobody@127.0.0.1:1/none",
                                       connect_args={"connect_timeout": 2})
    services.db._sessions.configure(bind=services.db.engine)
    status = services.status.report(SYSTEM)
    assert status["ok"] is False and status["database"]["ok"] is False
    assert "OperationalError" in status["database"]["error"]
    assert "error" in status["counts"]  # each section says why it is empty


def test_s3_storage_health_up_and_down(services, fault_moto_server, aws_credentials, tmp_path):
    from core.storage.s3 import S3FileStore
    from tests.fixtures_s3 import make_bucket, s3_settings_for

    bucket = make_bucket(fault_moto_server.url)
    services.status.store = S3FileStore.from_settings(s3_settings_for(fault_moto_server.url, bucket, tmp_path))
    up = services.status.report(SYSTEM)["storage"]
    assert up["ok"] and up["backend"] == "s3" and bucket in up["where"]
    assert services.status.store.list_keys(HEALTH_PREFIX) == []
    fault_moto_server.stop()
    down = services.status.report(SYSTEM)["storage"]
    assert down["ok"] is False and down["error"]


# ---- structured event log ----------------------------------------------------------------------------
@pytest.fixture
def event_lines():
    """Capture the event logger's JSON lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(events.JsonLineFormatter())
    old_level = events.log.level
    events.log.addHandler(handler)
    events.log.setLevel(logging.INFO)

    def lines() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield lines
    events.log.removeHandler(handler)
    events.log.setLevel(old_level)


def test_event_lines_for_login_upload_ask_and_error(services, fast_bcrypt, event_lines):
    services.accounts.register("prof@example.edu", "correct-horse-9")
    prof = services.accounts.log_in("prof@example.edu", "correct-horse-9").user.actor()
    info = _class_with_document(services, prof)
    services.chat.ask(prof, info.id, "force equals mass times acceleration")
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        cid = events.log_error("page_error", exc, page="Status", user=prof.email)

    by_event = {}
    for line in event_lines():
        assert {"ts", "level", "event"} <= set(line)
        by_event.setdefault(line["event"], line)
    assert by_event["login"]["user"] == "prof@example.edu"
    upload = by_event["upload"]
    assert upload["filename"] == "physics.pdf" and upload["class_id"] == info.id
    assert upload["status"] == "queued" and upload["job_id"]
    ingested = by_event["ingested"]  # the job's own line, from whichever process ran it
    assert ingested["job_id"] == upload["job_id"] and ingested["seconds"] > 0 and ingested["chunks"] >= 1
    ask = by_event["ask"]
    assert ask["latency_ms"] > 0 and ask["n_sources"] >= 1 and ask["class_id"] == info.id
    err = by_event["page_error"]
    assert err["level"] == "error" and err["correlation_id"] == cid and len(cid) == 12
    assert err["error"] == "RuntimeError: boom" and "Traceback" in err["exception"]


# ---- the Status page -----------------------------------------------------------------------------------
def _status_page(services, monkeypatch, actor):
    from streamlit.testing.v1 import AppTest

    import ui.state

    monkeypatch.setattr(ui.state, "get_services", lambda: services)
    at = AppTest.from_file("../pages/status.py", default_timeout=30)
    if actor is not None:
        at.session_state[ui.state.ACTOR_KEY] = actor
    return at.run()


def test_status_page_refuses_non_admins(services, monkeypatch, instructor):
    at = _status_page(services, monkeypatch, instructor)
    assert [shown(e.value) for e in at.error] == [
        "The Status page is for administrators (made by the operator: `python -m core grant-admin EMAIL`)."]
    assert not at.title and not at.metric


def test_status_page_needs_a_login(services, monkeypatch):
    at = _status_page(services, monkeypatch, None)
    assert at.warning and not at.title and not at.metric


def test_status_page_shows_health_counts_and_latency_to_admins(services, monkeypatch, instructor, student):
    info = _class_with_document(services, instructor)
    services.classes.join(student, info.join_code)
    services.chat.ask(student, info.id, "force equals mass times acceleration")
    services.accounts.set_admin(SYSTEM, student.email)
    admin = services.accounts.lookup(SYSTEM, student.email).actor()
    at = _status_page(services, monkeypatch, admin)
    assert not at.exception and not at.error
    assert at.title[0].value == "Status"
    assert [s.value.split(" ·")[0] for s in at.success] == ["Healthy", "Healthy"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Users"] == "2" and metrics["Documents"] == "1" and metrics["Questions"] == "1"
    assert metrics["p50"].endswith("ms")
    assert (metrics["Queued"], metrics["Working"], metrics["Workers alive"]) == ("0", "0", "in the app")


def test_status_page_shows_storage_down(services, monkeypatch):
    from core.services.actors import SYSTEM

    services.status.store = BrokenStore()
    at = _status_page(services, monkeypatch, SYSTEM)
    assert any("could not connect" in shown(e.value) for e in at.error)
