"""Ingestion as queued jobs (issue 12).

- `ingest_jobs`: one row per uploaded file, from stored original to indexed chunks: its state
  (queued | working | ready | failed | cancelled), what it is doing and how far (stage, progress),
  how many times a worker took it (attempts, bounded by INGEST_MAX_ATTEMPTS), the reason of a
  failure, and the heartbeat of the worker holding it. The Documents page and `python -m core jobs`
  read it; it survives a closed tab and a killed worker.
- `chunks (document_id, ordinal)` becomes unique: a job retried after a crash cannot add a
  document's chunks twice, whatever the timing.
- On PostgreSQL, procrastinate's schema (its tables, types and functions, all named
  procrastinate_*): the queue that tells workers a job is waiting (core/jobs/postgres.py). It is
  the schema of the pinned procrastinate release; a newer release brings its own SQL migrations,
  applied in a later revision of ours (docs/jobs.md). SQLite runs jobs in the app's own thread
  and needs none of it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingest_jobs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("class_id", sa.Integer, sa.ForeignKey("classes.id", ondelete="CASCADE"), nullable=False),
        sa.Column("document_id", sa.Integer, sa.ForeignKey("documents.id", ondelete="SET NULL")),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False, server_default="0"),
        sa.Column("include_notes", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("state", sa.String(16), nullable=False, server_default="queued"),
        sa.Column("stage", sa.String(200), nullable=False, server_default=""),
        sa.Column("progress", sa.Float, nullable=False, server_default="0"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error", sa.Text),
        sa.Column("pages", sa.Integer, nullable=False, server_default="0"),
        sa.Column("chunks", sa.Integer, nullable=False, server_default="0"),
        sa.Column("worker", sa.String(120)),
        sa.Column("created_by", sa.Uuid, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_ingest_jobs_class_id", "ingest_jobs", ["class_id"])
    op.create_index("ix_ingest_jobs_document_id", "ingest_jobs", ["document_id"])
    op.create_index("ix_ingest_jobs_state", "ingest_jobs", ["state"])
    with op.batch_alter_table("chunks") as batch:
        batch.create_unique_constraint("uq_chunks_document_ordinal", ["document_id", "ordinal"])
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        from procrastinate.schema import SchemaManager

        _run(bind, SchemaManager.get_schema())


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        _drop_procrastinate(bind)
    with op.batch_alter_table("chunks") as batch:
        batch.drop_constraint("uq_chunks_document_ordinal", type_="unique")
    op.drop_index("ix_ingest_jobs_state", table_name="ingest_jobs")
    op.drop_index("ix_ingest_jobs_document_id", table_name="ingest_jobs")
    op.drop_index("ix_ingest_jobs_class_id", table_name="ingest_jobs")
    op.drop_table("ingest_jobs")


def _run(bind, sql: str) -> list[tuple]:  # noqa: ANN001
    """SQL as written, on the migration's own connection and transaction: through SQLAlchemy, the
    colons and percent signs in procrastinate's function bodies would be read as parameters."""
    cursor = bind.connection.dbapi_connection.cursor()
    try:
        cursor.execute(sql)
        return cursor.fetchall() if cursor.description else []
    finally:
        cursor.close()


def _drop_procrastinate(bind) -> None:  # noqa: ANN001
    """Every object procrastinate's schema made (all named procrastinate_*), tables first."""
    for (table,) in _run(bind, "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                               "AND tablename LIKE 'procrastinate\\_%'"):
        _run(bind, f'DROP TABLE IF EXISTS "{table}" CASCADE')
    for (signature,) in _run(bind, "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n "
                                   "ON n.oid = p.pronamespace WHERE n.nspname = current_schema() "
                                   "AND p.proname LIKE 'procrastinate\\_%'"):
        _run(bind, f"DROP FUNCTION IF EXISTS {signature} CASCADE")
    for (typename,) in _run(bind, "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
                                  "WHERE n.nspname = current_schema() AND t.typname LIKE 'procrastinate\\_%' "
                                  "AND t.typtype IN ('e', 'c')"):
        _run(bind, f'DROP TYPE IF EXISTS "{typename}" CASCADE')
