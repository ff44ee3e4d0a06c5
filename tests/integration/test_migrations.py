"""What the migrations leave behind that SQLAlchemy's metadata does not describe."""

from __future__ import annotations

import pytest
from sqlalchemy import text

pytestmark = pytest.mark.integration

LZ4_COLUMNS = [
    ("ingest", "outbox", "payload"),
    ("denials", "outbox", "payload"),
    ("denials", "decisions", "decision"),
    ("auths", "outbox", "payload"),
    ("queues", "outbox", "payload"),
    ("queues", "remit_lines", "decision"),
    ("queues", "work_items", "detail"),
]


async def test_the_documents_written_per_line_are_compressed_with_lz4(engine):
    async with engine.connect() as conn:
        found = {
            (row.schema, row.table, row.column): row.method
            for row in await conn.execute(
                text(
                    "SELECT n.nspname AS schema, c.relname AS table, a.attname AS column,"
                    " a.attcompression::text AS method"
                    " FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
                    " JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname IN ('ingest', 'denials', 'auths', 'queues') AND a.attnum > 0"
                    " AND NOT a.attisdropped AND c.relkind = 'r'"
                )
            )
        }
        lz4_ready = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM pg_settings WHERE name = 'default_toast_compression'"
                    " AND 'lz4' = ANY(enumvals)"
                )
            )
        ).scalar_one()
    assert lz4_ready == 1, "this PostgreSQL has lz4 (Debian's and the official images do)"
    assert {key: found[key] for key in LZ4_COLUMNS} == dict.fromkeys(LZ4_COLUMNS, "l")
    others = {key for key, method in found.items() if method == "l"} - set(LZ4_COLUMNS)
    assert others == set(), "only the per-line documents were changed"
