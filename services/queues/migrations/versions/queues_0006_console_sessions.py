"""console sessions

Revision ID: queues_0006
Revises: queues_0005
Create Date: 2026-11-26 21:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "queues_0006"
down_revision: str | None = "queues_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column(
            "session_hash",
            sa.String(length=64),
            nullable=False,
            comment="sha256 of the session cookie's value",
        ),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column(
            "expires_at", sa.DateTime(timezone=True), nullable=False, comment="absolute end of the session"
        ),
        sa.Column(
            "idle_until",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="ends earlier if unused until then",
        ),
        sa.PrimaryKeyConstraint("session_hash"),
        comment="signed-in console sessions; the cookie holds a random value, only its hash is stored",
        schema="queues",
    )
    op.create_index(
        op.f("ix_queues_console_sessions_user_id"),
        "console_sessions",
        ["user_id"],
        unique=False,
        schema="queues",
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_queues_console_sessions_user_id"), table_name="console_sessions", schema="queues")
    op.drop_table("console_sessions", schema="queues")
