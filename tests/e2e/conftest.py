from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.support.system import LiveSystem, start_system

# Fees of one commercial payer (87726) only, so remittances of other payers are never priced.
FEE_SCHEDULE = (
    "payer_id,plan,procedure_code,modifier,allowed,effective_from,effective_to,add_on,multiple_procedure\n"
    """87726,,64483,,700.00,2026-01-01,,no,no
87726,,62323,,600.00,2026-01-01,,no,no
87726,,20552,,80.00,2026-01-01,,no,no
87726,,64493,,520.00,2026-01-01,,no,no
87726,,64490,,500.00,2026-01-01,,no,no
"""
)


@pytest.fixture(scope="module")
def live_system(
    kafka_bootstrap: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveSystem]:
    """All five processes on the real broker and database, with topics of their own."""
    workdir = tmp_path_factory.mktemp("system")
    fees = workdir / "fees.csv"
    fees.write_text(FEE_SCHEDULE)
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "DATABASE_URL": database_url,
        "CLAIMLINE_TOPIC_PREFIX": f"e{uuid.uuid4().hex[:8]}.",
        "CLAIMLINE_ARCHIVE_DIR": str(workdir / "archive"),
        "CLAIMLINE_OUTBOX_IDLE_SECONDS": "0.05",
        "CLAIMLINE_LOG_LEVEL": "INFO",
        "CLAIMLINE_DROP_DIR": str(workdir / "drop"),
        "CLAIMLINE_DROP_POLL_SECONDS": "0.2",
        "CLAIMLINE_FEE_SCHEDULE": str(fees),
    }
    system = start_system(env, workdir)
    try:
        yield system
    finally:
        system.stop_all()
