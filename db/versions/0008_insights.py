"""Insights: what the instructor needs to see what to explain again and what material is missing.

`query_log` becomes the record of each question, kept apart from the asker's chat history (a
student may clear that; the instructor's map should not lose the question):
- `question`: the question text; NULL on rows logged before this revision (not listed).
- `user_id`: the asker, named only when an instructor opens the question; a deleted account
  unlinks (SET NULL) so its questions still count, unnamed.
- `message_id`: the assistant message that answered, to join the students' helpful/unhelpful votes.
- `score`, `weak`: the coverage score and whether the answer was covered only just (docs/insights.md).
- `sources`: the cited passages (document_id, document name, page, page_label), copied so a
  document deleted since is still named.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("query_log") as batch:
        batch.add_column(sa.Column("question", sa.Text))
        batch.add_column(sa.Column("user_id", sa.Uuid))
        batch.add_column(sa.Column("message_id", sa.Integer))
        batch.add_column(sa.Column("score", sa.Float))
        batch.add_column(sa.Column("weak", sa.Boolean))
        batch.add_column(sa.Column("sources", sa.JSON))
        batch.create_foreign_key("fk_query_log_user_id", "users", ["user_id"], ["id"], ondelete="SET NULL")
        batch.create_foreign_key("fk_query_log_message_id", "chat_messages", ["message_id"], ["id"],
                                 ondelete="SET NULL")
        batch.create_index("ix_query_log_class_id", ["class_id"])


def downgrade() -> None:
    with op.batch_alter_table("query_log") as batch:
        batch.drop_index("ix_query_log_class_id")
        batch.drop_constraint("fk_query_log_message_id", type_="foreignkey")
        batch.drop_constraint("fk_query_log_user_id", type_="foreignkey")
        batch.drop_column("sources")
        batch.drop_column("weak")
        batch.drop_column("score")
        batch.drop_column("message_id")
        batch.drop_column("user_id")
        batch.drop_column("question")
