"""A replay of every topic from the beginning leaves the queues exactly as they were."""

from __future__ import annotations

import random
import uuid
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest
from sqlalchemy import any_, select

from claimline.x12gen import Claim, Envelope, Line, Remit, render
from services.queues.adapters.orm import files, remit_lines, work_items
from shared.schemas import topics
from tests.support.kafka import eventually, lag
from tests.support.system import LiveSystem

pytestmark = pytest.mark.e2e

# The queues service's consumer groups and the topic each reads.
QUEUES_CONSUMERS = {
    "decisions": topics.DENIALS_DECISIONS,
    "rejections": topics.INGEST_REJECTIONS,
    "auth-checks": topics.AUTHS_CHECKS,
    "provider-adjustments": topics.REMIT_PROVIDER_ADJUSTMENTS,
    "files": topics.INGEST_FILES,
    "practices": topics.PRACTICES,
    "acknowledgments": topics.CLAIMS_ACKNOWLEDGMENTS,
    "scrubs": topics.DENIALS_SCRUBS,
    "limits": topics.AUTHS_LIMITS,
}


async def snapshot(engine, practice: str) -> dict[str, list[tuple[object, ...]]]:
    async with engine.connect() as conn:
        items = (
            await conn.execute(
                select(work_items).where(work_items.c.practice_id == practice).order_by(work_items.c.item_id)
            )
        ).all()
        lines = (
            await conn.execute(
                select(remit_lines)
                .where(remit_lines.c.practice_id == practice)
                .order_by(remit_lines.c.source_event_id)
            )
        ).all()
        received = (
            await conn.execute(
                select(files).where(any_(files.c.practice_ids) == practice).order_by(files.c.file_id)
            )
        ).all()
    return {
        "items": [tuple(r) for r in items],
        "lines": [tuple(r) for r in lines],
        "files": [tuple(r) for r in received],
    }


async def test_replaying_every_topic_changes_nothing(live_system: LiveSystem, engine, tmp_path: Path):
    practice, payee = (
        f"r-{uuid.uuid4().hex[:6]}",
        "1" + "".join(random.choice("0123456789") for _ in range(9)),
    )
    live_system.claimline("practices", "add", practice, "--name", "Replay Pain", "--payee-npi", payee)
    dos = date(2026, 9, 14)
    claims = tuple(
        Claim(
            f"RP{n}{uuid.uuid4().hex[:4]}",
            (
                Line("64493", D("850"), D("0"), service_date=dos, adjustments=(("CO", "197", D("850")),)),
                Line("20552", D("180"), D("80"), service_date=dos, adjustments=(("CO", "45", D("100")),)),
            ),
        )
        for n in range(5)
    )
    path = tmp_path / "replay.835"
    path.write_text(
        render(
            Envelope(
                remits=[
                    Remit(
                        f"RPL{uuid.uuid4().hex[:8]}", payee, "REPLAY", claims, plb=(("WO", "ICN1", D("25")),)
                    )
                ]
            )
        )
    )
    live_system.claimline("ingest", str(path))

    async def settled() -> dict[str, list[tuple[object, ...]]] | None:
        state = await snapshot(engine, practice)
        return state if len(state["lines"]) == 10 and len(state["items"]) == 6 and state["files"] else None

    before = await eventually(settled, timeout=60)

    replay = LiveSystem(
        {**live_system.env, "CLAIMLINE_CONSUMER_GROUP_SUFFIX": ".replay"}, live_system.workdir
    )
    replay.start("queues")
    try:
        replay.wait_ready("queues")
        prefix = live_system.env["CLAIMLINE_TOPIC_PREFIX"]
        bootstrap = live_system.env["KAFKA_BOOTSTRAP_SERVERS"]

        async def caught_up() -> bool:
            for consumer, topic in QUEUES_CONSUMERS.items():
                if await lag(bootstrap, f"claimline.queues.{consumer}.replay", [f"{prefix}{topic}"]):
                    return False
            return True

        await eventually(caught_up, timeout=90, interval=1.0)
    finally:
        replay.stop("queues")
    assert await snapshot(engine, practice) == before
