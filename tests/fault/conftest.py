"""Fixtures of the fault tests: the five services as real processes, with topics of their own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.system import SERVICES, LiveSystem, start_system


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "fault: kills services, the broker or the database mid-stream and counts every line"
    )


def fault_env(kafka_bootstrap: str, database_url: str, workdir: Path) -> dict[str, str]:
    return {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "DATABASE_URL": database_url,
        "CLAIMLINE_TOPIC_PREFIX": f"f{uuid.uuid4().hex[:8]}.",
        "CLAIMLINE_ARCHIVE_DIR": str(workdir / "archive"),
        "CLAIMLINE_DROP_DIR": str(workdir / "drop"),
        "CLAIMLINE_DROP_POLL_SECONDS": "0.2",
        "CLAIMLINE_OUTBOX_IDLE_SECONDS": "0.05",
        # Small relay and consumer batches: a file spans many transactions of each, so a kill, a broker
        # stop or a database restart lands between them, as it would with a file much larger than these.
        "CLAIMLINE_OUTBOX_BATCH": "10",
        "CLAIMLINE_CONSUMER_BATCH": "20",
        "CLAIMLINE_TRANSIENT_RETRY_SECONDS": "0.5",
        "CLAIMLINE_LOG_LEVEL": "INFO",
    }


@pytest.fixture(scope="module")
def fault_system(
    kafka_bootstrap: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveSystem]:
    workdir = tmp_path_factory.mktemp("fault-system")
    system = start_system(fault_env(kafka_bootstrap, database_url, workdir), workdir)
    try:
        yield system
    finally:
        system.stop_all()


@pytest.fixture
def whole_system(fault_system: LiveSystem) -> Iterator[LiveSystem]:
    """The system, and afterwards every service running again even when a test failed mid-fault."""
    yield fault_system
    for service in SERVICES:
        proc = fault_system.procs.get(service)
        if proc is None or proc.poll() is not None:
            fault_system.restart(service)
