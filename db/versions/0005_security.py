"""Security: classes from before accounts are marked, server-side sessions, failure throttling.

- `classes.pre_accounts`: only the classes that existed before accounts keep the "readable by
  every signed-in user" rule; a class made later without an owner is private to admins. A
  class counts as pre-accounts when it has no owner and no instructor and was made before the
  first account (with no account yet, every such class does): classes made by the operator
  without `--owner` after people had registered are not.
- `user_sessions`: one row per signed-in browser, so a session can be ended from the server
  (log out, log out everywhere, a password change, an account deletion, an admin's revocation).
- `throttle`: failed logins, password changes and join codes, counted per account, client
  address and pair, with growing delays; it replaces `users.failed_logins` / `locked_until`.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("classes") as batch:
        batch.add_column(sa.Column("pre_accounts", sa.Boolean, nullable=False, server_default=sa.false()))
    op.execute(
        "UPDATE classes SET pre_accounts = TRUE "
        "WHERE user_id IS NULL "
        "AND id NOT IN (SELECT class_id FROM enrollments WHERE role = 'instructor') "
        "AND (NOT EXISTS (SELECT 1 FROM users) OR created_at <= (SELECT MIN(created_at) FROM users))"
    )
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.String(64), primary_key=True),  # HMAC of the cookie's token, never the token
        sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_user_sessions_user_id", "user_sessions", ["user_id"])
    op.create_table(
        "throttle",
        sa.Column("scope", sa.String(32), primary_key=True),
        sa.Column("key", sa.String(320), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_failure_at", sa.DateTime(timezone=True)),
        sa.Column("blocked_until", sa.DateTime(timezone=True)),
        sa.Column("last_success_at", sa.DateTime(timezone=True)),
    )
    with op.batch_alter_table("users") as batch:
        batch.drop_column("failed_logins")
        batch.drop_column("locked_until")


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("locked_until", sa.DateTime(timezone=True)))
    op.drop_table("throttle")
    op.drop_index("ix_user_sessions_user_id", table_name="user_sessions")
    op.drop_table("user_sessions")
    with op.batch_alter_table("classes") as batch:
        batch.drop_column("pre_accounts")
