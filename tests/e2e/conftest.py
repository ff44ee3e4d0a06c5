from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.support.system import LiveSystem, start_system


@pytest.fixture(scope="module")
def live_system(
    kafka_bootstrap: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveSystem]:
    """All five processes on the real broker and database, with topics of their own."""
    workdir = tmp_path_factory.mktemp("system")
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "DATABASE_URL": database_url,
        "CLAIMLINE_TOPIC_PREFIX": f"e{uuid.uuid4().hex[:8]}.",
        "CLAIMLINE_ARCHIVE_DIR": str(workdir / "archive"),
        "CLAIMLINE_OUTBOX_IDLE_SECONDS": "0.05",
        "CLAIMLINE_LOG_LEVEL": "INFO",
        "CLAIMLINE_DROP_DIR": str(workdir / "drop"),
        "CLAIMLINE_DROP_POLL_SECONDS": "0.2",
    }
    system = start_system(env, workdir)
    try:
        yield system
    finally:
        system.stop_all()
