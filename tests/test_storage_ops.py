"""`storage check` and `storage migrate` on real stores: local disk and S3 over HTTP (moto)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sqlalchemy import select

from core.cli.ops import format_check, format_migration
from core.search.embeddings import FakeEmbedder
from core.errors import StorageUnavailable
from core.models import Document
from core.services import build_services
from core.services.actors import SYSTEM
from core.storage import make_file_store
from core.ops.storage import check, migrate
from tests.conftest import run_core
from tests.factories import upload

TEXTS = {
    "photosynthesis.txt": "Photosynthesis converts light energy into chemical energy inside chloroplasts. " * 5,
    "krebs.txt": "The Krebs cycle runs in the mitochondrial matrix and releases carbon dioxide. " * 5,
    "btree.md": "A B-tree index lets a database find rows without scanning the whole table. " * 5,
}


@pytest.fixture
def make_services(s3_settings, database_url):
    """build_services(backend) on one database; S3 is configured either way (for migration)."""
    built = []

    def make(backend: str):
        settings = s3_settings.model_copy(update={"storage_backend": backend, "database_url": database_url})
        svc = build_services(settings, migrate=True, embedder=FakeEmbedder())
        built.append(svc)
        return svc

    yield make
    for svc in built:
        svc.db.engine.dispose()


@pytest.fixture
def local_docs(make_services):
    """Three documents ingested on local disk; returns (services, class id, {filename: document id})."""
    svc = make_services("local")
    class_id = svc.classes.create(SYSTEM, "Biology").id
    ids = {}
    for name, text in TEXTS.items():
        result = upload(svc, SYSTEM, class_id, name, text.encode())
        assert result.ok, result.error
        ids[name] = result.document_id
    return svc, class_id, ids


def backends(svc) -> dict[int, str]:
    with svc.db.transaction() as s:
        return dict(s.execute(select(Document.id, Document.storage_backend)).all())


def test_check_finds_orphan_objects_and_missing_objects(make_services):
    svc = make_services("s3")
    class_id = svc.classes.create(SYSTEM, "C").id
    kept = upload(svc, SYSTEM, class_id, "a.txt", b"alpha beta gamma " * 20).document_id
    lost = upload(svc, SYSTEM, class_id, "b.txt", b"delta epsilon zeta " * 20).document_id
    store = svc.store
    store.put(f"classes/{class_id}/documents/999", b"left behind by a crash")
    store.delete(f"classes/{class_id}/documents/{lost}")

    report = check(svc.db, store)
    assert report["orphan_objects"] == [f"classes/{class_id}/documents/999"]
    assert report["missing_objects"] == [{"document_id": lost, "key": f"classes/{class_id}/documents/{lost}"}]
    assert not report["ok"] and report["removed"] == []
    assert "orphan objects (no document row): 1" in format_check(report)
    json.dumps(report)

    fixed = check(svc.db, store, fix=True)
    assert fixed["removed"] == [f"classes/{class_id}/documents/999"]
    assert store.list_keys() == [f"classes/{class_id}/documents/{kept}"]  # the document's file is untouched
    assert not fixed["ok"]  # a missing file cannot be fixed by deleting things


def test_check_fix_never_deletes_a_copy_a_row_refers_to(local_docs, make_services):
    svc, class_id, ids = local_docs
    assert migrate(svc.db, svc.settings, "s3")["copied"] == 3
    local = make_file_store(svc.settings, "local")
    s3 = make_file_store(svc.settings, "s3")
    for key in s3.list_keys():
        s3.delete(key)  # the new store lost everything: the local files are the rows' only copies

    report = check(svc.db, local, fix=True)
    assert report["removed"] == [] and len(report["other_store_copies"]) == 3
    assert len(local.list_keys()) == 3
    assert len(check(svc.db, s3)["missing_objects"]) == 3


def test_clean_store_checks_ok_with_exit_code_0(make_services, capsys, monkeypatch):
    svc = make_services("s3")
    class_id = svc.classes.create(SYSTEM, "C").id
    upload(svc, SYSTEM, class_id, "a.txt", b"alpha beta gamma " * 20)
    assert run_core(["storage", "check"], svc.settings, monkeypatch) == 0
    assert "OK" in capsys.readouterr().out
    svc.store.put(f"classes/{class_id}/documents/77", b"orphan")
    assert run_core(["storage", "check", "--json"], svc.settings, monkeypatch) == 1
    assert json.loads(capsys.readouterr().out)["orphan_objects"] == [f"classes/{class_id}/documents/77"]
    assert run_core(["storage", "check", "--fix"], svc.settings, monkeypatch) == 0
    assert "(removed)" in capsys.readouterr().out


def test_migrate_to_s3_verifies_switches_rows_and_keeps_local_files(local_docs, make_services):
    svc, class_id, ids = local_docs
    summary = migrate(svc.db, svc.settings, "s3")
    assert (summary["copied"], summary["skipped"], summary["failed"]) == (3, 0, [])
    assert set(backends(svc).values()) == {"s3"}
    json.dumps(summary)
    assert "3 copied" in format_migration(summary)

    s3 = make_file_store(svc.settings, "s3")
    local = make_file_store(svc.settings, "local")
    for name, doc_id in ids.items():
        key = f"classes/{class_id}/documents/{doc_id}"
        assert s3.get(key) == TEXTS[name].encode()
        assert local.get(key) == TEXTS[name].encode()  # left for the operator to remove

    on_s3 = make_services("s3")  # an instance switched to S3 reads and answers from it
    assert on_s3.documents.download(SYSTEM, ids["krebs.txt"])[2] == TEXTS["krebs.txt"].encode()
    assert on_s3.chat.ask(SYSTEM, class_id, "Where does the Krebs cycle run?").citations

    again = migrate(svc.db, svc.settings, "s3")
    assert (again["copied"], again["skipped"]) == (0, 3)


def test_interrupted_migration_resumes(local_docs):
    svc, class_id, ids = local_docs

    def interrupt(done, total, outcome):
        if outcome["result"] == "copied":
            raise KeyboardInterrupt  # the operator pressed Ctrl-C after the first document

    with pytest.raises(KeyboardInterrupt):
        migrate(svc.db, svc.settings, "s3", progress=interrupt)
    assert sorted(backends(svc).values()) == ["local", "local", "s3"]

    summary = migrate(svc.db, svc.settings, "s3")
    assert (summary["copied"], summary["skipped"], summary["failed"]) == (2, 1, [])
    assert set(backends(svc).values()) == {"s3"}


class FailingPut:
    """A store whose put fails for one key, as when the target goes away mid-run."""

    def __init__(self, inner, bad_key):
        self.inner, self.bad_key, self.backend = inner, bad_key, inner.backend

    def put(self, key, data, content_type="application/octet-stream"):
        if key == self.bad_key:
            raise StorageUnavailable("storage unavailable, nothing was saved: cannot reach the endpoint")
        self.inner.put(key, data, content_type)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_failed_copy_stops_the_run_and_a_rerun_finishes(local_docs):
    svc, class_id, ids = local_docs
    bad = f"classes/{class_id}/documents/{ids['krebs.txt']}"
    target = FailingPut(make_file_store(svc.settings, "s3"), bad)
    summary = migrate(svc.db, svc.settings, "s3", stores={"s3": target})
    assert summary["copied"] == 1 and summary["remaining"] == 2
    assert summary["failed"][0]["document_id"] == ids["krebs.txt"] and "cannot reach" in summary["failed"][0]["reason"]
    assert "stopped early" in summary["aborted"]
    assert backends(svc)[ids["krebs.txt"]] == "local"  # never switched to a copy that is not there

    summary = migrate(svc.db, svc.settings, "s3")
    assert (summary["copied"], summary["skipped"], summary["failed"]) == (2, 1, [])


def test_corrupted_source_is_not_switched(local_docs, capsys, monkeypatch):
    svc, class_id, ids = local_docs
    local = make_file_store(svc.settings, "local")
    local.put(f"classes/{class_id}/documents/{ids['btree.md']}", b"bit rot")

    assert run_core(["storage", "migrate", "--to", "s3", "--json"], svc.settings, monkeypatch) == 1
    summary = json.loads(capsys.readouterr().out)
    assert summary["copied"] == 2
    assert [f["document_id"] for f in summary["failed"]] == [ids["btree.md"]]
    assert "does not match the database" in summary["failed"][0]["reason"]
    assert backends(svc)[ids["btree.md"]] == "local"
    assert make_file_store(svc.settings, "s3").size(f"classes/{class_id}/documents/{ids['btree.md']}") is None


class DeletesDuringCopy:
    """A target whose read-back happens while the document is being deleted elsewhere."""

    def __init__(self, inner, on_get):
        self.inner, self.on_get, self.backend = inner, on_get, inner.backend

    def get(self, key):
        self.on_get()
        return self.inner.get(key)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_document_deleted_during_its_copy_leaves_no_copy(local_docs):
    svc, class_id, ids = local_docs
    victim = ids["photosynthesis.txt"]
    s3 = make_file_store(svc.settings, "s3")
    deleted = []

    def delete_once():
        if not deleted:
            deleted.append(victim)
            svc.documents.delete(SYSTEM, victim)

    summary = migrate(svc.db, svc.settings, "s3", stores={"s3": DeletesDuringCopy(s3, delete_once)})
    assert summary["copied"] == 2 and summary["failed"][0]["document_id"] == victim
    assert f"classes/{class_id}/documents/{victim}" not in s3.list_keys()
    assert check(svc.db, s3)["ok"]


def test_migrate_back_to_local(local_docs):
    svc, class_id, ids = local_docs
    migrate(svc.db, svc.settings, "s3")
    local = make_file_store(svc.settings, "local")
    for key in local.list_keys():
        local.delete(key)  # the operator removed the local copies after the first migration

    summary = migrate(svc.db, svc.settings, "local")
    assert (summary["copied"], summary["failed"]) == (3, [])
    assert set(backends(svc).values()) == {"local"}
    for name, doc_id in ids.items():
        assert local.get(f"classes/{class_id}/documents/{doc_id}") == TEXTS[name].encode()


def test_missing_source_fails_that_document_only(local_docs):
    svc, class_id, ids = local_docs
    make_file_store(svc.settings, "local").delete(f"classes/{class_id}/documents/{ids['krebs.txt']}")
    summary = migrate(svc.db, svc.settings, "s3")
    assert summary["copied"] == 2 and summary["aborted"] is None
    assert [f["document_id"] for f in summary["failed"]] == [ids["krebs.txt"]]
    assert "missing" in summary["failed"][0]["reason"]
    assert backends(svc)[ids["krebs.txt"]] == "local"
    assert {backends(svc)[ids[name]] for name in ("photosynthesis.txt", "btree.md")} == {"s3"}


def test_cli_help_and_subprocess_run(s3_settings, tmp_path, capsys):
    from core.cli import build_parser

    for command, expected in ((["storage", "migrate"], ["--to {local,s3}", "SHA-256"]), (["storage", "check"], ["--fix"])):
        with pytest.raises(SystemExit):
            build_parser().parse_args([*command, "--help"])
        out = capsys.readouterr().out
        assert all(text in out for text in expected), out
    env = {"PATH": "", "DATA_DIR": str(tmp_path / "data"), "STORAGE_BACKEND": "s3", "S3_BUCKET": "no-such-bucket",
           "AWS_ENDPOINT_URL_S3": s3_settings.aws_endpoint_url_s3, "S3_ADDRESSING_STYLE": "path",
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    migrated = subprocess.run([sys.executable, "-m", "core", "migrate"], env=env, capture_output=True, text=True)
    assert migrated.returncode == 0, migrated.stderr
    run = subprocess.run([sys.executable, "-m", "core", "storage", "check"], env=env, capture_output=True, text=True)
    assert run.returncode == 2
    assert "bucket 'no-such-bucket' does not exist" in run.stderr
