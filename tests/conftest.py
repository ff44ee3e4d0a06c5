"""Fixtures for the real broker and database.

Kafka and PostgreSQL come from KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL when set (the native stack
that `./run test` starts), from testcontainers when a Docker engine answers, and otherwise the test
fails in CI (CI=true) and is skipped elsewhere. A suite that needs a broker never goes green by skipping.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import NoReturn

import hypothesis
import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from shared.runtime.settings import Settings
from tests.support.strict import unavailable

# Tests check behaviour, never wall-clock time: Hypothesis's per-example deadline and its "too slow"
# health check are timing checks that fail on a busy machine, so they are off for every property test.
hypothesis.settings.register_profile(
    "claimline", deadline=None, suppress_health_check=[hypothesis.HealthCheck.too_slow]
)
hypothesis.settings.load_profile("claimline")

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus" / "x12"


def _docker_ok() -> bool:
    try:
        import docker

        docker.from_env().ping()
        return True
    except Exception:
        return False


def _unavailable(what: str) -> NoReturn:
    unavailable(f"{what}: set its environment variable (./run test does) or provide a Docker engine")


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    if url := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield url
        return
    if not _docker_ok():
        _unavailable("Kafka")
    try:
        from testcontainers.kafka import KafkaContainer
    except ImportError:  # pragma: no cover - newer testcontainers layout
        from testcontainers.community.kafka import KafkaContainer
    with KafkaContainer("apache/kafka:4.1.1").with_kraft() as kafka:
        yield kafka.get_bootstrap_server()


@pytest.fixture(scope="session")
def server_database_url() -> Iterator[str]:
    if url := os.environ.get("DATABASE_URL"):
        yield url
        return
    if not _docker_ok():
        _unavailable("PostgreSQL")
    from testcontainers.postgres import PostgresContainer

    with PostgresContainer("postgres:16", driver="asyncpg") as pg:
        yield pg.get_connection_url()


@pytest.fixture(scope="session")
def database_url(server_database_url: str) -> Iterator[str]:
    """A fresh database for this test session, migrated to head with every service's Alembic scripts."""
    from shared.runtime.migrations import upgrade_all

    name = f"claimline_test_{uuid.uuid4().hex[:10]}"
    admin_url = make_url(server_database_url)

    async def admin(sql: str) -> None:
        engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(text(sql))
        await engine.dispose()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    upgrade_all(url)
    yield url
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def topic_prefix() -> str:
    """Topics of one test never meet another test's: every test gets its own prefix."""
    return f"t{uuid.uuid4().hex[:8]}."


@pytest.fixture
def settings(kafka_bootstrap: str, database_url: str, topic_prefix: str, tmp_path: Path) -> Settings:
    return Settings(
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        DATABASE_URL=database_url,
        CLAIMLINE_TOPIC_PREFIX=topic_prefix,
        CLAIMLINE_ARCHIVE_DIR=tmp_path / "archive",
        CLAIMLINE_OUTBOX_IDLE_SECONDS=0.05,
        CLAIMLINE_TRANSIENT_RETRY_SECONDS=0.2,
    )


@pytest_asyncio.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_async_engine(database_url, pool_size=5)
    yield eng
    await eng.dispose()


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        unavailable(f"the corpus folder {CORPUS} is missing")
    return CORPUS


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
