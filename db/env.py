"""Alembic environment: runs migrations on the engine core.database hands over
(or on DATABASE_URL / -x url=... when run from the alembic command line)."""
from __future__ import annotations


from alembic import context

config = context.config


def _engine():
    engine = config.attributes.get("engine")
    if engine is not None:
        return engine
    from core.config import Settings
    from core.database import make_engine

    url = context.get_x_argument(as_dictionary=True).get("url") or Settings().sqlalchemy_url
    return make_engine(url)


def run_migrations_online() -> None:
    engine = _engine()
    with engine.connect() as connection:
        is_sqlite = connection.dialect.name == "sqlite"
        if is_sqlite:
            # SQLite's batch mode rebuilds tables (copy, drop, rename); with foreign keys on,
            # dropping the old table would cascade-delete the children. Off for the migration only.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        context.configure(connection=connection, render_as_batch=is_sqlite, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
        if is_sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run against a database")
run_migrations_online()
