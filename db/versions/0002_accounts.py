"""Accounts (product plan, phase 1): users, nullable classes.user_id, enrollments, join codes,
per-user chat history.

The downgrade is the plan's rollback: it removes the columns that tie classes and documents to
users and keeps the users (and enrollment and chat) tables for later, so upgrading again
finds them in place.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _tables() -> set[str]:
    return set(sa.inspect(op.get_bind()).get_table_names())


def upgrade() -> None:
    existing = _tables()
    if "users" not in existing:
        op.create_table(
            "users",
            sa.Column("id", sa.Uuid, primary_key=True),
            sa.Column("email", sa.String(255), nullable=False, unique=True),
            sa.Column("name", sa.String(255), nullable=False, server_default=""),
            sa.Column("password_hash", sa.String(255), nullable=False),
            sa.Column("is_admin", sa.Boolean, nullable=False, server_default=sa.false()),
            sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
            sa.Column("locked_until", sa.DateTime(timezone=True)),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        )
    if "enrollments" not in existing:
        op.create_table(
            "enrollments",
            sa.Column("class_id", sa.Integer, sa.ForeignKey("classes.id", ondelete="CASCADE"), primary_key=True),
            sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
            sa.Column("role", sa.String(16), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
            sa.CheckConstraint("role IN ('instructor', 'student')", name="ck_enrollments_role"),
        )
    if "chat_messages" not in existing:
        op.create_table(
            "chat_messages",
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("class_id", sa.Integer, sa.ForeignKey("classes.id", ondelete="CASCADE"), nullable=False),
            sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE")),
            sa.Column("role", sa.String(16), nullable=False),
            sa.Column("content", sa.Text, nullable=False),
            sa.Column("citations", sa.JSON),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        )
        op.create_index("ix_chat_messages_class_id", "chat_messages", ["class_id"])
        op.create_index("ix_chat_messages_user_id", "chat_messages", ["user_id"])
    with op.batch_alter_table("classes") as batch:
        batch.add_column(sa.Column("user_id", sa.Uuid, nullable=True))
        batch.add_column(sa.Column("join_code", sa.String(16), nullable=True))
        batch.create_foreign_key("fk_classes_user_id", "users", ["user_id"], ["id"], ondelete="SET NULL")
        batch.create_unique_constraint("uq_classes_join_code", ["join_code"])
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("uploaded_by", sa.Uuid, nullable=True))
        batch.create_foreign_key("fk_documents_uploaded_by", "users", ["uploaded_by"], ["id"], ondelete="SET NULL")
    with op.batch_alter_table("ingest_failures") as batch:
        batch.add_column(sa.Column("user_id", sa.Uuid, nullable=True))
        batch.create_foreign_key("fk_ingest_failures_user_id", "users", ["user_id"], ["id"], ondelete="SET NULL")


def downgrade() -> None:
    with op.batch_alter_table("ingest_failures") as batch:
        batch.drop_constraint("fk_ingest_failures_user_id", type_="foreignkey")
        batch.drop_column("user_id")
    with op.batch_alter_table("documents") as batch:
        batch.drop_constraint("fk_documents_uploaded_by", type_="foreignkey")
        batch.drop_column("uploaded_by")
    with op.batch_alter_table("classes") as batch:
        batch.drop_constraint("uq_classes_join_code", type_="unique")
        batch.drop_constraint("fk_classes_user_id", type_="foreignkey")
        batch.drop_column("join_code")
        batch.drop_column("user_id")
    # users, enrollments and chat_messages stay: "keep users table for later"
