"""Visibility: material only instructors see (answer keys, grading notes, drafts).

- `documents.instructors_only`: never shown to students, nor used in their answers.
- `documents.release_at`: hidden from students until then; NULL means released. Evaluated when a
  student reads or asks, so a release time passing needs no write.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("instructors_only", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("release_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("release_at")
        batch.drop_column("instructors_only")
