"""The gateway's pool checks a connection locally instead of pinging the server before every request."""

import asyncio

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from shared.runtime.db import make_engine


async def test_a_connection_the_server_closed_is_replaced_without_a_ping(database_url: str) -> None:
    engine = make_engine(database_url, pool_size=1, max_overflow=0, pre_ping=False)
    try:
        async with engine.connect() as conn:
            first = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one() == first  # kept

        # The server ends the pooled session, as a restart or pg_terminate_backend does ...
        admin = await asyncpg.connect(
            make_url(database_url).set(drivername="postgresql").render_as_string(False)
        )
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", first)
        finally:
            await admin.close()
        await asyncio.sleep(0.2)

        # ... and the next request gets a new session instead of an error.
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one() != first
    finally:
        await engine.dispose()
