"""Backups: every row of every table survives backup → restore, on SQLite, PostgreSQL and across them."""
from __future__ import annotations

import hashlib
import json
import tarfile
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from core.cli import EXIT_ERROR
from core.config import Settings
from core.database import current_revision, head_revision, make_engine, upgrade
from core.ops import backup as bk
from core.models import ChatMessage, Chunk, Document, User
from tests.conftest import PG_BASE, _truncate_pg, run_core
from tests.factories import make_pdf, upload


def table_rows(engine) -> dict[str, list[dict]]:
    """Every row of every table, encoded as in a backup: two databases compare equal row for row."""
    out = {}
    with engine.connect() as conn:
        for table in bk._typed_tables(engine):
            kinds = bk._kinds(table)
            out[table.name] = [{k: bk.encode(kinds[k], v) for k, v in row._mapping.items()}
                               for row in conn.execute(bk._ordered(table))]
    return out


def manifest_of(archive: Path) -> dict:
    with tarfile.open(archive) as tar:
        return json.load(tar.extractfile(bk.MANIFEST))


def populate(services, instructor, student) -> None:
    """A little of everything: users, a class with an enrollment, a ready document with chunks,
    an ingest failure, chat messages with JSON citations, query log rows."""
    info = services.classes.create(instructor, "Biology 101", "cells and such")
    services.classes.join(student, info.join_code)
    pdf = make_pdf(["Mitochondria are the powerhouse of the cell. They make ATP.",
                    "Ribosomes build proteins from amino acids."])
    assert upload(services, instructor, info.id, "bio.pdf", pdf).ok
    assert not upload(services, instructor, info.id, "broken.pdf", b"%PDF-1.4 nonsense").ok
    services.chat.ask(student, info.id, "What do mitochondria make?")
    services.chat.ask(student, info.id, "Who builds proteins?")


def test_round_trip_every_row_equal(services, instructor, student, tmp_path):
    populate(services, instructor, student)
    before = table_rows(services.db.engine)
    assert all(before[t] for t in ("users", "classes", "enrollments", "documents", "chunks",
                                   "ingest_failures", "chat_messages", "query_log"))

    out = tmp_path / "b.tar.gz"
    manifest = bk.backup(services.db.engine, out, store_for=lambda _b: services.store)
    assert manifest["schema_revision"] == head_revision()
    assert manifest["row_counts"] == {t: len(rows) for t, rows in before.items()}
    [doc] = manifest["files"]["documents"]
    assert doc["present"] is True and doc["matches"] is True and len(doc["sha256"]) == 64
    assert manifest["files"]["missing"] == 0

    target = make_engine(f"sqlite:///{tmp_path / 'restored.db'}")  # no schema at all yet
    bk.restore(target, out)
    assert current_revision(target) == manifest["schema_revision"]
    assert table_rows(target) == before

    # typed equality too: bytes, UUIDs, aware datetimes and JSON come back as the same Python values
    with services.db.transaction() as s, target.connect() as conn:
        src_chunks = s.execute(select(Chunk.id, Chunk.embedding).order_by(Chunk.id)).all()
        assert conn.execute(select(Chunk.id, Chunk.embedding).order_by(Chunk.id)).all() == src_chunks
        src_users = s.execute(select(User.id, User.email, User.created_at).order_by(User.email)).all()
        got_users = conn.execute(select(User.id, User.email, User.created_at).order_by(User.email)).all()
        assert [(u[0], u[1]) for u in got_users] == [(u[0], u[1]) for u in src_users]
        assert all(isinstance(u[0], uuid.UUID) for u in got_users)
        assert [bk._utc(u[2]) for u in got_users] == [bk._utc(u[2]) for u in src_users]
        src_cites = s.scalars(select(ChatMessage.citations).order_by(ChatMessage.id)).all()
        assert conn.scalars(select(ChatMessage.citations).order_by(ChatMessage.id)).all() == src_cites
        assert any(c and isinstance(c, list) and "page" in c[0] for c in src_cites)
    target.dispose()


def test_encoding_is_explicit_in_the_manifest_and_lines(services, instructor, student, tmp_path):
    populate(services, instructor, student)
    out = tmp_path / "dir-backup"
    manifest = bk.backup(services.db.engine, out)
    names = [t["name"] for t in manifest["tables"]]
    assert names.index("users") < names.index("classes") < names.index("documents") < names.index("chunks")
    cols = {t["name"]: t["columns"] for t in manifest["tables"]}
    assert cols["chunks"]["embedding"] == "bytes" and cols["users"]["id"] == "uuid"
    assert cols["users"]["created_at"] == "datetime" and cols["chat_messages"]["citations"] == "json"
    chunk = json.loads((out / next(t["file"] for t in manifest["tables"] if t["name"] == "chunks"))
                       .read_text().splitlines()[0])
    assert len(bk.decode("bytes", chunk["embedding"])) % 4 == 0
    user = json.loads((out / manifest["tables"][names.index("users")]["file"]).read_text().splitlines()[0])
    assert datetime.fromisoformat(user["created_at"]).utcoffset().total_seconds() == 0
    assert str(uuid.UUID(user["id"])) == user["id"]
    assert manifest["files"]["checked"] is False  # no store given: documented, not guessed


def test_manifest_reports_missing_and_changed_files(services, instructor, tmp_path):
    info = services.classes.create(instructor, "C", "")
    a = upload(services, instructor, info.id, "a.txt", b"alpha " * 50)
    b = upload(services, instructor, info.id, "b.txt", b"beta " * 50)
    with services.db.transaction() as s:
        keys = dict(s.execute(select(Document.id, Document.storage_key)).all())
    services.store.delete(keys[a.document_id])
    services.store.put(keys[b.document_id], b"tampered")
    files = bk.backup(services.db.engine, tmp_path / "x", store_for=lambda _b: services.store)["files"]
    by_id = {e["document_id"]: e for e in files["documents"]}
    assert by_id[a.document_id]["present"] is False
    assert by_id[b.document_id]["present"] is True and by_id[b.document_id]["matches"] is False
    assert (files["missing"], files["mismatched"]) == (1, 1)


def test_restore_refuses_a_non_empty_database(services, instructor, student, tmp_path):
    populate(services, instructor, student)
    out = tmp_path / "b.tar.gz"
    bk.backup(services.db.engine, out)
    before = bk.row_counts(services.db.engine)
    with pytest.raises(bk.BackupError, match=r"not empty \(.*users: 2.*Restore into a new, empty database"):
        bk.restore(services.db.engine, out)
    assert bk.row_counts(services.db.engine) == before


def test_damaged_backup_restores_nothing(services, instructor, student, tmp_path):
    populate(services, instructor, student)
    out = tmp_path / "dir"
    manifest = bk.backup(services.db.engine, out)
    chunks = out / next(t["file"] for t in manifest["tables"] if t["name"] == "chunks")
    lines = chunks.read_text().splitlines(keepends=True)
    chunks.write_text("".join(lines[:-1]))  # a truncated copy
    target = make_engine(f"sqlite:///{tmp_path / 't.db'}")
    with pytest.raises(bk.BackupError, match="damaged"):
        bk.restore(target, out)
    assert sum(bk.row_counts(target).values()) == 0
    target.dispose()


def test_restore_moves_an_empty_database_to_the_backups_revision(services, instructor, tmp_path):
    services.classes.create(instructor, "C", "")
    out = tmp_path / "b.tar.gz"
    bk.backup(services.db.engine, out)
    target = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(target, "0001")  # an empty database at an older revision
    bk.restore(target, out)
    assert current_revision(target) == head_revision()
    assert table_rows(target) == table_rows(services.db.engine)
    target.dispose()


def test_backup_of_an_older_schema_restores_at_that_revision(tmp_path):
    src = make_engine(f"sqlite:///{tmp_path / 'v1.db'}")
    upgrade(src, "0001")
    with src.begin() as conn:
        conn.execute(text("INSERT INTO classes (id, name, description, index_version, created_at) "
                          "VALUES (7, 'Legacy', 'before accounts', 0, '2024-01-02 03:04:05.000006')"))
    out = tmp_path / "v1.tar.gz"
    assert bk.backup(src, out)["schema_revision"] == "0001"
    target = make_engine(f"sqlite:///{tmp_path / 'new.db'}")
    bk.restore(target, out)
    assert current_revision(target) == "0001"
    assert table_rows(target) == table_rows(src)
    upgrade(target)  # and the usual upgrade path continues from there
    with target.connect() as conn:
        assert conn.execute(text("SELECT name FROM classes WHERE id = 7")).scalar() == "Legacy"
    src.dispose(), target.dispose()


@pytest.mark.skipif(not PG_BASE, reason="TEST_DATABASE_URL is not set: PostgreSQL runs are skipped")
def test_sqlite_backup_restores_into_postgresql_and_back(tmp_path, request, fast_bcrypt):
    from core.search.embeddings import FakeEmbedder
    from core.services import build_services

    sqlite_settings = Settings(app_env="test", data_dir=tmp_path / "data", embedder="fake",
                               database_url=f"sqlite:///{tmp_path / 'src.db'}", auth_cookie_key="x" * 40)
    src = build_services(sqlite_settings, migrate=True, embedder=FakeEmbedder())
    prof = src.accounts.register("prof@example.edu", "correct-horse-9", "Prof").actor()
    stu = src.accounts.register("student@example.edu", "battery-staple-7", "Stu").actor()
    populate(src, prof, stu)
    before = table_rows(src.db.engine)
    out = tmp_path / "cross.tar.gz"
    bk.backup(src.db.engine, out)

    pg_url = request.getfixturevalue("pg_database")
    _truncate_pg(pg_url)
    pg = make_engine(pg_url)
    bk.restore(pg, out)
    assert table_rows(pg) == before
    # sequences moved past the restored ids: the app can add rows again
    pg_services = build_services(Settings(app_env="test", data_dir=tmp_path / "data", embedder="fake",
                                          database_url=pg_url, auth_cookie_key="x" * 40),
                                 migrate=True, embedder=FakeEmbedder())
    new_class = pg_services.classes.create(prof, "After restore", "")
    assert new_class.id > max(r["id"] for r in before["classes"])
    assert pg_services.chat.ask(stu, before["classes"][0]["id"], "What do mitochondria make?").citations

    # and back again: PostgreSQL → SQLite keeps every row
    back = tmp_path / "back.tar.gz"
    bk.backup(pg, back)
    again = make_engine(f"sqlite:///{tmp_path / 'again.db'}")
    bk.restore(again, back)
    assert table_rows(again) == table_rows(pg)
    for e in (pg, again, src.db.engine, pg_services.db.engine):
        e.dispose()
    _truncate_pg(pg_url)


# ---- the command line ------------------------------------------------------------------------------
def test_cli_backup_and_restore(services, settings, instructor, student, tmp_path, capsys, monkeypatch):
    populate(services, instructor, student)
    out = tmp_path / "cli.tar.gz"
    assert run_core(["backup", str(out)], settings, monkeypatch) == 0
    assert "backup written to" in capsys.readouterr().out
    assert manifest_of(out)["files"]["verified_sha256"] is True

    target = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'cli-restored.db'}"})
    assert run_core(["restore", str(out), "--json"], target, monkeypatch) == 0
    assert json.loads(capsys.readouterr().out)["rows"]["chunks"] > 0
    eng = make_engine(target.sqlalchemy_url)
    assert table_rows(eng) == table_rows(services.db.engine)
    eng.dispose()


def test_cli_restore_refusal_is_a_one_line_error(services, settings, instructor, tmp_path, monkeypatch, capsys):
    services.classes.create(instructor, "C", "")
    out = tmp_path / "b.tar.gz"
    bk.backup(services.db.engine, out)
    assert run_core(["restore", str(out)], settings, monkeypatch) == EXIT_ERROR
    err = capsys.readouterr().err
    assert err.startswith("error: refusing to restore into a database that is not empty") and err.count("\n") == 1


def test_cli_backup_exits_1_when_a_stored_file_is_missing(services, settings, instructor, tmp_path, capsys,
                                                          monkeypatch):
    info = services.classes.create(instructor, "C", "")
    res = upload(services, instructor, info.id, "a.txt", b"alpha " * 50)
    with services.db.transaction() as s:
        services.store.delete(s.get(Document, res.document_id).storage_key)
    assert run_core(["backup", str(tmp_path / "m")], settings, monkeypatch) == 1
    assert "WARNING document" in capsys.readouterr().out


def test_migrate_backs_up_a_schema_it_changes(tmp_path):
    from core.ops.schema import migrate_schema

    settings = Settings(app_env="test", data_dir=tmp_path, embedder="fake")
    first = migrate_schema(settings, downgrade_to=None)
    assert first.before is None and first.backup is None  # no schema: nothing to protect
    down = migrate_schema(settings, downgrade_to="0002")
    assert down.after == "0002" and manifest_of(down.backup)["schema_revision"] == head_revision()
    up = migrate_schema(settings)
    assert up.before == "0002" and up.after == head_revision()
    assert up.backup.parent == tmp_path / "backups" and up.backup.name.endswith(".tar.gz")
    assert manifest_of(up.backup)["schema_revision"] == "0002"
    assert migrate_schema(settings).backup is None  # already at head
    assert migrate_schema(settings.model_copy(), downgrade_to="0003", take_backup=False).backup is None


def test_table_sha256_matches_file(services, instructor, tmp_path):
    services.classes.create(instructor, "C", "")
    out = tmp_path / "d"
    for t in bk.backup(services.db.engine, out)["tables"]:
        assert hashlib.sha256((out / t["file"]).read_bytes()).hexdigest() == t["sha256"]
