"""Each service is killed with SIGKILL in the middle of a large file and started again: afterwards every
service line of the file is in the queues exactly once, no more, no less."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.auths.adapters.orm import claims as auth_claims
from services.denials.adapters.orm import decisions
from services.ingest.adapters.orm import files as ingest_files
from services.ingest.adapters.orm import outbox as ingest_outbox
from shared.schemas import topics
from tests.support.faults import (
    Tenant,
    count_lines,
    ingest_in_background,
    parsed_lines,
    read_model_lines,
    settle_exactly,
    strike_mid_stream,
    work_item_lines,
    write_claims,
    write_remittance,
)
from tests.support.kafka import eventually
from tests.support.system import LiveSystem

pytestmark = [pytest.mark.e2e, pytest.mark.fault, pytest.mark.timeout(600)]


async def scalar(engine: AsyncEngine, query) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def test_ingest_killed_while_reading_a_dropped_file_and_again_while_relaying_it(
    whole_system: LiveSystem, engine: AsyncEngine, tmp_path: Path
):
    system = whole_system
    tenant = Tenant.register(system, "kill-ingest")
    staged = write_remittance(tmp_path / "large.835", tenant)
    expected = parsed_lines(staged)
    file_id = hashlib.sha256(staged.read_bytes()).hexdigest()
    drop = Path(system.env["CLAIMLINE_DROP_DIR"])
    remit_topic = system.env["CLAIMLINE_TOPIC_PREFIX"] + topics.REMIT_LINES

    staged.rename(drop / staged.name)
    # 1. The service claims the file by renaming it into work/ and reads it in one transaction: kill it there.
    deadline = time.monotonic() + 120
    while not any(p.name.endswith(staged.name) for p in (drop / "work").glob("*")):
        assert time.monotonic() < deadline, "the ingest service never took the dropped file"
        await asyncio.sleep(0.01)
    system.kill("ingest")
    recorded = await scalar(
        engine, select(func.count()).select_from(ingest_files).where(ingest_files.c.file_id == file_id)
    )
    assert recorded == 0, "the kill should land while the file was being read, before its commit"
    assert await count_lines(engine, tenant.practice_id) == 0

    # 2. Started again, it must pick the orphaned file up; this time kill it while it relays the outbox.
    system.restart("ingest")

    async def unpublished() -> int:
        return await scalar(
            engine,
            select(func.count()).select_from(ingest_outbox).where(ingest_outbox.c.topic == remit_topic),
        )

    await eventually(unpublished, timeout=120, interval=0.02)
    deadline = time.monotonic() + 120
    while (left := await unpublished()) >= len(expected):
        assert time.monotonic() < deadline, "the relay never started on the file's lines"
        await asyncio.sleep(0.01)
    system.kill("ingest")
    left = await unpublished()
    assert 0 < left < len(expected), f"the kill should land mid-relay; {left} of {len(expected)} unpublished"

    system.restart("ingest")
    await settle_exactly(lambda: read_model_lines(engine, tenant.practice_id), expected)
    await settle_exactly(lambda: work_item_lines(engine, tenant.practice_id, "denial"), expected, quiet=0)
    assert (drop / "done" / staged.name).exists()
    assert not list((drop / "work").iterdir())


@pytest.mark.parametrize("service", ["denials", "queues"])
async def test_a_consumer_killed_mid_stream_loses_and_repeats_nothing(
    whole_system: LiveSystem, engine: AsyncEngine, tmp_path: Path, service: str
):
    system = whole_system
    tenant = Tenant.register(system, f"kill-{service}")
    path = write_remittance(tmp_path / "large.835", tenant)
    expected = parsed_lines(path)

    async def progress() -> int:
        if service == "denials":
            return await scalar(
                engine,
                select(func.count())
                .select_from(decisions)
                .where(decisions.c.practice_id == tenant.practice_id),
            )
        return await count_lines(engine, tenant.practice_id)

    ingesting = ingest_in_background(system, path)
    arrived = await strike_mid_stream(progress, len(expected), lambda: system.kill(service))
    assert 0 < arrived < len(expected), f"{service} was killed after {arrived} of {len(expected)} lines"

    await ingesting
    system.restart(service)
    await settle_exactly(lambda: read_model_lines(engine, tenant.practice_id), expected)
    await settle_exactly(lambda: work_item_lines(engine, tenant.practice_id, "denial"), expected, quiet=0)
    assert await progress() == len(expected)


async def test_auths_killed_mid_stream_checks_every_claim_line_once(
    whole_system: LiveSystem, engine: AsyncEngine, tmp_path: Path
):
    system = whole_system
    tenant = Tenant.register(system, "kill-auths")
    path = write_claims(tmp_path / "large.837", tenant, claims=80)
    expected = parsed_lines(path)

    async def progress() -> int:
        return await scalar(
            engine,
            select(func.count())
            .select_from(auth_claims)
            .where(auth_claims.c.practice_id == tenant.practice_id),
        )

    ingesting = ingest_in_background(system, path)
    arrived = await strike_mid_stream(progress, len(expected), lambda: system.kill("auths"))
    assert 0 < arrived < len(expected), f"auths was killed after {arrived} of {len(expected)} claims"

    await ingesting
    system.restart("auths")
    await settle_exactly(lambda: work_item_lines(engine, tenant.practice_id, "auth"), expected)
    assert await progress() == len(expected)


async def test_gateway_killed_mid_upload_then_the_upload_is_retried(
    whole_system: LiveSystem, engine: AsyncEngine, tmp_path: Path
):
    system = whole_system
    tenant = Tenant.register(system, "kill-gateway")
    token = system.claimline(
        "users", "add", f"sup-{tenant.practice_id}", "--role", "supervisor"
    ).stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    path = write_remittance(tmp_path / "large.835", tenant)
    expected = parsed_lines(path)
    body = path.read_bytes()
    chunk = 4096
    chunks = [body[i : i + chunk] for i in range(0, len(body), chunk)]

    def slow_body() -> Iterator[bytes]:
        for n, piece in enumerate(chunks):
            if n == len(chunks) // 2:
                system.kill("gateway")  # half of the file has reached the gateway
            yield piece
            time.sleep(0.01)

    def upload(content: object) -> httpx.Response:
        return httpx.post(
            f"{system.gateway}/v1/files",
            params={"name": path.name},
            content=content,  # type: ignore[arg-type]
            headers=headers,
            timeout=60,
        )

    with pytest.raises(httpx.TransportError):
        await asyncio.to_thread(upload, slow_body())
    await asyncio.sleep(2)
    assert await count_lines(engine, tenant.practice_id) == 0, "a half upload must publish nothing"

    system.restart("gateway")
    accepted = await asyncio.to_thread(upload, body)
    assert accepted.status_code == 202, accepted.text
    await settle_exactly(lambda: read_model_lines(engine, tenant.practice_id), expected)

    async def file_status() -> dict[str, object] | None:
        response = httpx.get(f"{system.gateway}{accepted.json()['status_url']}", headers=headers, timeout=10)
        return response.json() if response.status_code == 200 else None

    status = await eventually(file_status, timeout=60)
    assert status["lines"] == len(expected)
    assert status["duplicate_submissions"] == 0
