"""Gold questions: an instructor's checked answers, run as a student sees the class.

- `gold_questions`: a question and the pages that should answer it. `document_id` is SET NULL
  when the document is deleted, and `document_name` keeps its name, so the check still says
  which document it expected (and counts as missed). `pages` is a JSON list of 1-based page
  indexes; an empty list accepts any page of the document (text files have none).
- `gold_results`: the latest run of each question (one row per question): its status
  (first | top5 | missed), what was cited (first five citations), when, the status before it, and
  when it last passed, so a question that stopped being answered stays flagged until it is
  answered again (docs/gold-questions.md).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gold_questions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("class_id", sa.Integer, sa.ForeignKey("classes.id", ondelete="CASCADE"), nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("document_id", sa.Integer, sa.ForeignKey("documents.id", ondelete="SET NULL")),
        sa.Column("document_name", sa.String(255), nullable=False),
        sa.Column("pages", sa.JSON, nullable=False),
        sa.Column("created_by", sa.Uuid, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_gold_questions_class_id", "gold_questions", ["class_id"])
    op.create_table(
        "gold_results",
        sa.Column("question_id", sa.Integer, sa.ForeignKey("gold_questions.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("previous_status", sa.String(8)),
        sa.Column("cited", sa.JSON),
        sa.Column("ran_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_passed_at", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    op.drop_table("gold_results")
    op.drop_index("ix_gold_questions_class_id", table_name="gold_questions")
    op.drop_table("gold_questions")
