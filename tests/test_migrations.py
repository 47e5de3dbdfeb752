"""The schema's history: an MVP-era database (revision 0001) survives the accounts step,
its rollback and the step again, with every row and its content intact."""
import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from core.database import current_revision, downgrade, head_revision, make_engine, upgrade
from core.models import Base

MVP_ROWS = {
    "classes": [
        {"id": 1, "name": "Physics 101", "description": "Mechanics", "index_version": 3},
        {"id": 2, "name": "Chemistry", "description": "", "index_version": 1},
    ],
    "documents": [
        {"id": 10, "class_id": 1, "filename": "newton.pdf", "content_type": "application/pdf", "size_bytes": 1234,
         "sha256": "a" * 64, "storage_key": "classes/1/documents/10", "status": "ready", "error": None,
         "page_count": 2, "chunk_count": 2},
        {"id": 11, "class_id": 2, "filename": "atoms.md", "content_type": "text/markdown", "size_bytes": 99,
         "sha256": "b" * 64, "storage_key": "classes/2/documents/11", "status": "ready", "error": None,
         "page_count": 0, "chunk_count": 1},
    ],
    "chunks": [
        {"id": 100, "document_id": 10, "class_id": 1, "ordinal": 0, "page": 1, "text": "F = m a. Forces cause acceleration.",
         "embedding": np.arange(384, dtype=np.float32).tobytes()},
        {"id": 101, "document_id": 10, "class_id": 1, "ordinal": 1, "page": 2, "text": "Every action has an equal reaction — Newton’s third law.",
         "embedding": np.ones(384, dtype=np.float32).tobytes()},
        {"id": 102, "document_id": 11, "class_id": 2, "ordinal": 0, "page": None, "text": "Atoms have protons, neutrons, electrons.",
         "embedding": np.full(384, -0.5, dtype=np.float32).tobytes()},
    ],
}


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    downgrade(engine, "base")  # the fixtures hand over a migrated database; start from nothing
    yield engine
    upgrade(engine)  # leave it at head for the next test on the shared PostgreSQL database
    engine.dispose()


def _snapshot(engine) -> dict:
    out = {}
    with engine.connect() as conn:
        for table, rows in MVP_ROWS.items():
            cols = list(rows[0])
            result = conn.execute(text(f"SELECT {', '.join(cols)} FROM {table} ORDER BY id"))
            out[table] = [{c: (bytes(v) if isinstance(v, memoryview) else v) for c, v in zip(cols, r)} for r in result]
    return out


def test_mvp_database_survives_upgrade_downgrade_upgrade(engine):
    upgrade(engine, "0001")
    with engine.begin() as conn:
        for table, rows in MVP_ROWS.items():
            cols = list(rows[0])
            conn.execute(text(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})"), rows)
    original = _snapshot(engine)
    assert original == {t: rows for t, rows in MVP_ROWS.items()}

    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert _snapshot(engine) == original
    cols = {c["name"] for c in inspect(engine).get_columns("classes")}
    assert {"user_id", "join_code"} <= cols
    with engine.connect() as conn:  # the MVP classes have no owner, and that is allowed
        assert conn.execute(text("SELECT count(*) FROM classes WHERE user_id IS NULL")).scalar() == 2
        # they were made before accounts: the one rule that lets every signed-in user read them
        assert conn.execute(text("SELECT count(*) FROM classes WHERE pre_accounts")).scalar() == 2
        conn.execute(text("INSERT INTO users (id, email, name, password_hash, is_admin) "
                          "VALUES ('0e5c2a6e-7a55-4b9e-9d10-2f3f0b0f8a11', 'kept@example.edu', 'Kept', 'x', false)"))
        conn.commit()

    downgrade(engine, "0001")  # the plan's rollback of the accounts step
    assert current_revision(engine) == "0001"
    assert "user_id" not in {c["name"] for c in inspect(engine).get_columns("classes")}
    assert "users" in inspect(engine).get_table_names()  # kept for later
    assert _snapshot(engine) == original

    upgrade(engine)
    assert _snapshot(engine) == original
    with engine.connect() as conn:
        assert conn.execute(text("SELECT email FROM users")).scalar() == "kept@example.edu"
        assert conn.execute(text("SELECT count(*) FROM classes WHERE pre_accounts")).scalar() == 2


def test_only_classes_from_before_accounts_are_marked_pre_accounts(engine):
    """A class the operator made without an owner after people had registered stays private."""
    upgrade(engine, "0004")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO classes (id, name, description, index_version, created_at) "
                          "VALUES (1, 'Old', '', 0, '2026-01-01 00:00:00')"))
        conn.execute(text("INSERT INTO users (id, email, name, password_hash, is_admin, failed_logins, created_at) "
                          "VALUES ('0e5c2a6e-7a55-4b9e-9d10-2f3f0b0f8a11', 'a@example.edu', 'A', 'x', false, 0, "
                          "'2026-02-01 00:00:00')"))
        conn.execute(text("INSERT INTO classes (id, name, description, index_version, created_at) "
                          "VALUES (2, 'Ownerless, made later', '', 0, '2026-03-01 00:00:00')"))
    upgrade(engine)
    with engine.connect() as conn:
        marked = conn.execute(text("SELECT id, pre_accounts FROM classes ORDER BY id")).all()
    assert [(i, bool(m)) for i, m in marked] == [(1, True), (2, False)]
    downgrade(engine, "0004")  # and back: the columns of 0004 are there again
    assert "failed_logins" in {c["name"] for c in inspect(engine).get_columns("users")}
    assert "user_sessions" not in inspect(engine).get_table_names()


def test_models_match_the_migrations(engine):
    upgrade(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), Base.metadata)
    # SQLite cannot name foreign keys/unique constraints the way the mapping does; compare tables and columns
    significant = [d for d in diff if d[0] in ("add_table", "remove_table", "add_column", "remove_column")
                   and not _queue_table(d)]
    assert significant == []


def _queue_table(difference) -> bool:
    """procrastinate's own tables (PostgreSQL only, made by revision 0010): the queue library's
    schema, not the mapping's."""
    return difference[0] == "remove_table" and difference[1].name.startswith("procrastinate_")


def test_services_upgrade_an_old_database_on_start(database_url, tmp_path):
    from core.config import Settings
    from core.search.embeddings import FakeEmbedder
    from core.services import build_services

    engine = make_engine(database_url)
    upgrade(engine)
    downgrade(engine, "0001")
    svc = build_services(Settings(data_dir=tmp_path, database_url=database_url), migrate=True, embedder=FakeEmbedder())
    assert current_revision(svc.db.engine) == head_revision()
    engine.dispose()
