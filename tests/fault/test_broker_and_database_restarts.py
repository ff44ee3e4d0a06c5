"""The Kafka broker, then PostgreSQL, stopped and started again while lines flow, on a stack of this module's
own (the rest of the suite's broker and database are never touched): afterwards every service line is in
the queues exactly once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from claimline import stack
from tests.fault.conftest import fault_env
from tests.support.faults import (
    Tenant,
    count_lines,
    parsed_lines,
    read_model_lines,
    settle_exactly,
    work_item_lines,
    write_remittance,
)
from tests.support.private_stack import (
    in_thread,
    kafka_down,
    kafka_up,
    migrated,
    postgres_down,
    postgres_up,
    private_stack,
)
from tests.support.strict import unavailable
from tests.support.system import LiveSystem, start_system

pytestmark = [pytest.mark.e2e, pytest.mark.fault, pytest.mark.timeout(600)]

LINES = 800


@pytest.fixture(scope="module")
def own_stack() -> Iterator[stack.StackConfig]:
    try:
        with private_stack() as cfg:
            yield cfg
    except stack.StackError as exc:
        unavailable(f"a private Kafka and PostgreSQL could not be started: {exc}")


@pytest.fixture(scope="module")
def system(own_stack: stack.StackConfig, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSystem]:
    workdir = tmp_path_factory.mktemp("restarts")
    env = fault_env(own_stack.bootstrap_servers, migrated(own_stack), workdir)
    live = start_system(env, workdir)
    try:
        yield live
    finally:
        live.stop_all()


@pytest_asyncio.fixture(scope="module")
async def own_engine(own_stack: stack.StackConfig) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(own_stack.database_url, pool_pre_ping=True)
    yield engine
    await engine.dispose()


async def first_lines(engine: AsyncEngine, practice_id: str, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while await count_lines(engine, practice_id) == 0:
        assert time.monotonic() < deadline, "no line reached the queues"
        await asyncio.sleep(0.02)


async def test_kafka_stopped_and_started_while_files_flow(
    system: LiveSystem, own_stack: stack.StackConfig, own_engine: AsyncEngine, tmp_path: Path
):
    tenant = Tenant.register(system, "kafka-restart")
    first = write_remittance(tmp_path / "first.835", tenant, LINES)
    second = write_remittance(tmp_path / "second.835", tenant, LINES // 4)
    in_first = parsed_lines(first)
    expected = in_first | parsed_lines(second)

    drop = Path(system.env["CLAIMLINE_DROP_DIR"])
    first.rename(drop / first.name)
    await first_lines(own_engine, tenant.practice_id)
    await in_thread(kafka_down, own_stack)
    arrived = await count_lines(own_engine, tenant.practice_id)
    assert 0 < arrived < len(in_first), f"the broker stopped after {arrived} of {len(in_first)} lines"

    # A file dropped while the broker is down is read into the outbox and waits there for the broker.
    second.rename(drop / second.name)
    deadline = time.monotonic() + 120
    while not (drop / "done" / second.name).exists():
        assert time.monotonic() < deadline, f"the dropped file was not read: {system.log('ingest')}"
        await asyncio.sleep(0.2)
    await asyncio.sleep(3)  # consumers and relays keep trying against the stopped broker for a while

    await in_thread(kafka_up, own_stack)
    await settle_exactly(lambda: read_model_lines(own_engine, tenant.practice_id), expected)
    await settle_exactly(lambda: work_item_lines(own_engine, tenant.practice_id, "denial"), expected, quiet=0)


async def test_postgres_stopped_and_started_while_consumers_write(
    system: LiveSystem, own_stack: stack.StackConfig, own_engine: AsyncEngine, tmp_path: Path
):
    tenant = Tenant.register(system, "pg-restart")
    path = write_remittance(tmp_path / "large.835", tenant, 600)
    expected = parsed_lines(path)

    path.rename(Path(system.env["CLAIMLINE_DROP_DIR"]) / path.name)
    await first_lines(own_engine, tenant.practice_id)
    arrived = await count_lines(own_engine, tenant.practice_id)
    await in_thread(postgres_down, own_stack)
    await asyncio.sleep(3)  # every consumer meets the closed database at least once
    await in_thread(postgres_up, own_stack)
    assert 0 < arrived < len(expected), f"PostgreSQL stopped after {arrived} of {len(expected)} lines"

    await settle_exactly(lambda: read_model_lines(own_engine, tenant.practice_id), expected)
    await settle_exactly(lambda: work_item_lines(own_engine, tenant.practice_id, "denial"), expected, quiet=0)
    for service in ("ingest", "denials", "auths", "queues", "gateway"):
        system.wait_ready(service, timeout=60)
