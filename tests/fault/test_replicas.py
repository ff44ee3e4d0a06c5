"""Two replicas of every consumer service share one consumer group each; one replica of each is killed
mid-stream and never comes back. The survivors take its partitions over (a rebalance) and every service
line still reaches the queues exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.denials.adapters.orm import decisions
from tests.fault.conftest import fault_env
from tests.support.faults import (
    Tenant,
    parsed_lines,
    read_model_lines,
    settle_exactly,
    strike_mid_stream,
    work_item_lines,
    write_claims,
    write_remittance,
)
from tests.support.system import LiveSystem, start_system

pytestmark = [pytest.mark.e2e, pytest.mark.fault, pytest.mark.timeout(600)]

CONSUMERS = ("ingest", "denials", "auths", "queues")


@pytest.fixture(scope="module")
def replicated(
    kafka_bootstrap: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveSystem]:
    workdir = tmp_path_factory.mktemp("replicas")
    system = start_system(fault_env(kafka_bootstrap, database_url, workdir), workdir, CONSUMERS)
    try:
        for service in CONSUMERS:
            system.start(service, replica=2)
        for service in CONSUMERS:
            system.wait_ready(f"{service}#2")
        yield system
    finally:
        system.stop_all()


async def test_one_replica_of_each_service_killed_mid_stream(
    replicated: LiveSystem, engine: AsyncEngine, tmp_path: Path
):
    system = replicated
    tenant = Tenant.register(system, "replicas")
    remittance = write_remittance(tmp_path / "large.835", tenant)
    claims = write_claims(tmp_path / "large.837", tenant, claims=60)
    lines, claim_lines = parsed_lines(remittance), parsed_lines(claims)
    drop = Path(system.env["CLAIMLINE_DROP_DIR"])
    for path in (remittance, claims):
        path.rename(drop / path.name)

    async def decided() -> int:
        async with engine.connect() as conn:
            query = select(func.count()).select_from(decisions)
            return int(
                (await conn.execute(query.where(decisions.c.practice_id == tenant.practice_id))).scalar_one()
            )

    def kill_one_of_each() -> None:
        for service in CONSUMERS:
            system.kill(service)

    arrived = await strike_mid_stream(decided, len(lines), kill_one_of_each)
    assert 0 < arrived < len(lines), f"the replicas were killed after {arrived} of {len(lines)} lines"

    await settle_exactly(lambda: read_model_lines(engine, tenant.practice_id), lines)
    await settle_exactly(lambda: work_item_lines(engine, tenant.practice_id, "denial"), lines, quiet=0)
    await settle_exactly(lambda: work_item_lines(engine, tenant.practice_id, "auth"), claim_lines, quiet=0)
    assert set(system.procs) == {f"{service}#2" for service in CONSUMERS}, "the killed replicas stayed down"
    assert all(proc.poll() is None for proc in system.procs.values()), "every survivor still runs"
