"""Alembic, one schema per service. Each service's `migrations/env.py` calls `run_env`."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

SERVICES_DIR = Path(__file__).resolve().parents[2] / "services"
SERVICES_WITH_SCHEMAS = ("ingest", "denials", "auths", "queues")


def set_compression(schema: str, table: str, column: str, method: str) -> str:
    """SQL that makes PostgreSQL compress new values of a column with `method` (`lz4`, `pglz`, or
    `default` for the server's `default_toast_compression`).

    Documents of ~2.5 KB (an event, a decision) pass PostgreSQL's 2 KB TOAST threshold, so every insert
    compresses them, with pglz by default; lz4 does it in about half the CPU (measured with rows of
    decided lines, bench/README.md). A catalog change only: existing rows stay as they are. A server
    built without lz4 answers `feature_not_supported` and keeps pglz."""
    return f"""
DO $$
BEGIN
    ALTER TABLE "{schema}"."{table}" ALTER COLUMN "{column}" SET COMPRESSION {method};
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'no % compression here: % keeps its own', '{method}', '{table}.{column}';
END
$$"""


def compress_columns(schema: str, columns: list[tuple[str, str]], method: str) -> None:
    """In a migration: `set_compression` for each (table, column) of `schema`."""
    from alembic import op

    for table, column in columns:
        op.execute(set_compression(schema, table, column, method))


def alembic_config(service: str, database_url: str):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(SERVICES_DIR / service / "migrations"))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    cfg.attributes["service"] = service
    return cfg


def upgrade(service: str, database_url: str, revision: str = "head") -> None:
    """Bring one service's schema to `revision`. Blocking; call it before the event loop or in a thread."""
    from alembic import command

    command.upgrade(alembic_config(service, database_url), revision)


def upgrade_all(database_url: str) -> None:
    for service in SERVICES_WITH_SCHEMAS:
        upgrade(service, database_url)


def run_env(metadata: MetaData, schema: str) -> None:
    """Body of a service's alembic env.py: online migrations on the async engine, serialized by a lock."""
    from alembic import context

    url = context.config.get_main_option("sqlalchemy.url")
    assert url is not None

    def do_run(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table_schema=schema,
            include_schemas=True,
            include_name=lambda name, type_, parent: type_ != "schema" or name == schema,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        from shared.runtime.security import database_connect_args  # TLS, like every other engine

        engine = create_async_engine(url, connect_args=database_connect_args())
        async with engine.connect() as conn:
            # Replicas starting together must not migrate at once.
            await conn.execute(
                text("SELECT pg_advisory_lock(hashtext(:s))"), {"s": f"claimline-migrate-{schema}"}
            )
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            await conn.commit()
            await conn.run_sync(do_run)
            await conn.commit()
            await conn.execute(
                text("SELECT pg_advisory_unlock(hashtext(:s))"), {"s": f"claimline-migrate-{schema}"}
            )
        await engine.dispose()

    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, version_table_schema=schema, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    asyncio.run(run())
