"""lz4 for the documents written per line

The outbox holds events of a few KB, over PostgreSQL's 2 KB TOAST threshold, so each one is compressed on
insert; lz4 takes about half the CPU of the default pglz. New rows only, no rewrite. (Auths writes nothing
per remit line; its outbox follows the other services' for the same reason.)

Revision ID: auths_0007
Revises: auths_0006
Create Date: 2026-11-27 02:20:00
"""

from collections.abc import Sequence

from shared.runtime.migrations import compress_columns

revision: str = "auths_0007"
down_revision: str | None = "auths_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = [
    ("outbox", "payload"),
]


def upgrade() -> None:
    compress_columns("auths", COLUMNS, "lz4")


def downgrade() -> None:
    compress_columns("auths", COLUMNS, "default")
