"""Shared fixtures. Every test that touches the database runs twice: on SQLite and, when
TEST_DATABASE_URL names a PostgreSQL server (any database on it; .ci/run sets it), on a
throwaway PostgreSQL database created for this test session."""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from core.config import Settings
from core.search.embeddings import FakeEmbedder

pytest_plugins = ["tests.fixtures_s3"]

PG_BASE = os.environ.get("TEST_DATABASE_URL", "")
# Ingest jobs run in a thread of the process that uploads, on PostgreSQL too, so a test's upload
# is done when upload() returns (the same job code either way). The queue itself, with real
# `python -m core worker` processes, is what tests/test_worker.py runs (JOB_RUNNER=queue).
os.environ["JOB_RUNNER"] = "thread"




@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A PostgreSQL database for this test session (and xdist worker), dropped at the end."""
    if not PG_BASE:
        pytest.skip("TEST_DATABASE_URL is not set: PostgreSQL runs are skipped")
    admin_url = make_url(PG_BASE).set(database="postgres")
    name = f"classgpt_test_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_BASE).set(database=name).render_as_string(hide_password=False)
    from core.database import make_engine, upgrade

    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_pg(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = [r[0] for r in conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname='public' AND tablename <> 'alembic_version'"))]
        if tables:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """An empty, migrated database: SQLite in tmp_path, or the session's PostgreSQL, emptied."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'classgpt.db'}"
    url = request.getfixturevalue("pg_database")
    _truncate_pg(url)
    return url


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    return Settings(app_env="test", data_dir=tmp_path / "data", database_url=database_url, embedder="fake",
                    auth_cookie_key="x" * 40)


@pytest.fixture
def services(settings):
    from core.services import build_services

    svc = build_services(settings, migrate=True, embedder=FakeEmbedder())
    yield svc
    svc.db.engine.dispose()


def run_core(argv: list[str], settings: Settings, monkeypatch: pytest.MonkeyPatch) -> int:
    """`python -m core ARGV` (in-process) with these settings as its environment."""
    from core.cli import main

    for name, field in Settings.model_fields.items():
        monkeypatch.setenv((field.validation_alias or name).upper(), str(getattr(settings, name)))
    return main(argv)


@pytest.fixture
def fast_bcrypt(monkeypatch):
    """bcrypt at cost 4: same code path, a fraction of the ~235 ms per hash."""
    monkeypatch.setattr("core.services.passwords.BCRYPT_ROUNDS", 4)


@pytest.fixture
def instructor(services, fast_bcrypt):
    return services.accounts.register("prof@example.edu", "correct-horse-9", "Prof").actor()


@pytest.fixture
def student(services, fast_bcrypt):
    return services.accounts.register("student@example.edu", "battery-staple-7", "Stu").actor()
