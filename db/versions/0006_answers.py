"""Answers: printed page labels, what each answer was, and students' feedback on it.

- `chunks.page_label`: the page number the PDF itself declares (its page labels: "xii", "51"),
  cited to the reader; `chunks.page` stays the 1-based index used for previews. NULL when the
  document declares none (the index is then what is printed).
- `chat_messages.details`: how an assistant message was made (found, generated, model, notice,
  related material), so history shows it as it was first shown.
- `query_log.found`: whether the material covered the question (instructor insights).
- `answer_feedback`: a thumbs up/down per answer and user, with a copy of the question, the
  answer and its sources, so the record outlives a cleared chat history.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("chunks") as batch:
        batch.add_column(sa.Column("page_label", sa.String(32)))
    with op.batch_alter_table("chat_messages") as batch:
        batch.add_column(sa.Column("details", sa.JSON))
    with op.batch_alter_table("query_log") as batch:
        batch.add_column(sa.Column("found", sa.Boolean))
    op.create_table(
        "answer_feedback",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("class_id", sa.Integer, sa.ForeignKey("classes.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("message_id", sa.Integer, sa.ForeignKey("chat_messages.id", ondelete="SET NULL")),
        sa.Column("helpful", sa.Boolean, nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("sources", sa.JSON),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("message_id", "user_id", name="uq_answer_feedback_message_user"),
    )
    op.create_index("ix_answer_feedback_class_id", "answer_feedback", ["class_id"])


def downgrade() -> None:
    op.drop_index("ix_answer_feedback_class_id", table_name="answer_feedback")
    op.drop_table("answer_feedback")
    with op.batch_alter_table("query_log") as batch:
        batch.drop_column("found")
    with op.batch_alter_table("chat_messages") as batch:
        batch.drop_column("details")
    with op.batch_alter_table("chunks") as batch:
        batch.drop_column("page_label")
