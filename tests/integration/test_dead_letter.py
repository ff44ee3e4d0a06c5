"""Poison messages go to the dead-letter topic with the reason, the partition keeps moving, and
`claimline dlq replay` puts a fixed dead letter back so it is processed exactly once.

What counts as poison (README, "Delivery"): a message that will fail however often it is retried.
- not JSON, or JSON that is not the contract (wrong schema or schema version);
- an unknown practice: an event naming a practice that is not the known owner of what it refers to (a
  remit line already decided for another practice, a decision for another practice's work item). A
  payee that matches no registered practice is not poison: ingest routes it to `unassigned`, which
  supervisors work;
- a rule that crashes on the event (a coding or routing rule raising instead of deciding).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

import services.denials.app as denials_app
from services.denials.adapters.orm import decisions
from services.denials.domain.rulepack import explain_denial
from services.denials.main import bootstrap
from services.denials.main import load_rules as denials_rules
from services.queues.adapters.orm import remit_lines
from services.queues.main import bootstrap as queues_bootstrap
from shared.runtime.broker import decode_headers
from shared.runtime.settings import Settings
from shared.schemas import topics
from tests.conftest import unique
from tests.support.events import remit_line
from tests.support.kafka import eventually, produce, read_all

pytestmark = pytest.mark.integration


class RuleCrashed(RuntimeError):
    """What a broken coding rule raises in these tests."""


def crash_on(claim_id: str):
    """A coding rule that raises for one claim (as a rule with a bug would), and works for the rest."""
    real = explain_denial

    def explain(*args, **kwargs):
        if kwargs.get("claim_id") == claim_id:
            raise RuleCrashed(f"rule PAIN-TEST-001 divided by zero units on claim {claim_id}")
        return real(*args, **kwargs)

    return explain


async def decided(engine, event_id: uuid.UUID) -> str | None:
    async with engine.connect() as conn:
        category = (
            await conn.execute(select(decisions.c.category).where(decisions.c.source_event_id == event_id))
        ).scalar_one_or_none()
    return None if category is None else str(category)


async def test_poison_of_every_kind_is_dead_lettered_with_its_reason_and_the_partition_moves_on(
    settings, engine, monkeypatch
):
    practice = unique("dlq")
    good = remit_line(practice)
    key = good.partition_key  # every message below on the same partition, in this order
    source = settings.topic(topics.REMIT_LINES)
    wrong_version = json.loads(good.model_dump_json())
    wrong_version["schema_version"] = 99
    owned = remit_line(practice)
    other_practice = owned.model_copy(update={"practice_id": unique("other")})
    crashing = remit_line(practice, claim_id=f"CRASH{uuid.uuid4().hex[:8]}")
    monkeypatch.setattr(
        "services.denials.app.explain_denial", crash_on(crashing.claim.patient_control_number)
    )

    async with bootstrap(settings).running():
        bootstrap_servers = settings.kafka_bootstrap_servers
        await produce(bootstrap_servers, source, owned.model_dump_json().encode(), key=key)
        await produce(bootstrap_servers, source, b"this is not json {", key=key)
        await produce(bootstrap_servers, source, json.dumps(wrong_version).encode(), key=key)
        await produce(bootstrap_servers, source, other_practice.model_dump_json().encode(), key=key)
        await produce(bootstrap_servers, source, crashing.model_dump_json().encode(), key=key)
        await produce(bootstrap_servers, source, good.model_dump_json().encode(), key=key)

        assert await eventually(lambda: decided(engine, good.event_id), timeout=60) == "denied"

    assert await decided(engine, owned.event_id) == "denied"
    assert await decided(engine, crashing.event_id) is None
    dead = await read_all(settings.kafka_bootstrap_servers, topics.dead_letter(source), expect=4)
    assert len(dead) == 4
    headers = [decode_headers(d.headers) for d in dead]
    assert all(h["dlq-topic"] == source and h["dlq-consumer"] == "denials" for h in headers)
    assert all(d.key == key for d in dead)
    assert len({h["dlq-offset"] for h in headers}) == 4
    not_json, version, practice_mismatch, crash = headers
    assert dead[0].value == b"this is not json {"
    assert "schema_version" in version["dlq-reason"]
    assert practice_mismatch["dlq-error-type"] == "PracticeMismatch"
    assert "another practice" in practice_mismatch["dlq-reason"]
    assert crash["dlq-error-type"] == "RuleCrashed"
    assert "PAIN-TEST-001" in crash["dlq-reason"]
    assert not_json["dlq-reason"]


async def test_a_decision_naming_another_practice_than_the_items_owner_is_dead_lettered(settings, engine):
    """At the queues consumer: the work item of a line belongs to one practice; an event that names
    another for it is refused, and the owner's next event on the same partition still goes through."""
    practice, intruder = unique("owner"), unique("intruder")
    rules = denials_rules(settings)
    line, later = remit_line(practice), remit_line(practice)
    decision = denials_app.decide(rules, line, date(2026, 10, 25))
    tampered = decision.model_copy(update={"practice_id": intruder, "event_id": uuid.uuid4()})
    after = denials_app.decide(rules, later, date(2026, 10, 25))
    source = settings.topic(topics.DENIALS_DECISIONS)
    key = decision.partition_key

    async with queues_bootstrap(settings).running():
        for event in (decision, tampered, after):
            await produce(settings.kafka_bootstrap_servers, source, event.model_dump_json().encode(), key=key)

        async def lines_of_owner() -> int:
            async with engine.connect() as conn:
                query = select(func.count()).select_from(remit_lines)
                return int(
                    (await conn.execute(query.where(remit_lines.c.practice_id == practice))).scalar_one()
                )

        assert await eventually(lambda: _at_least(lines_of_owner, 2), timeout=60) == 2

    dead = await read_all(settings.kafka_bootstrap_servers, topics.dead_letter(source), expect=1)
    assert len(dead) == 1
    reason = decode_headers(dead[0].headers)
    assert reason["dlq-error-type"] == "PracticeMismatch"
    assert reason["dlq-consumer"] == "queues"
    assert json.loads(dead[0].value)["practice_id"] == intruder
    async with engine.connect() as conn:
        owners = (
            await conn.execute(
                select(remit_lines.c.practice_id).where(remit_lines.c.source_event_id == line.event_id)
            )
        ).scalar_one()
    assert owners == practice


async def _at_least(count, n: int) -> int | None:
    value = await count()
    return value if value >= n else None


def dlq_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "DATABASE_URL": settings.database_url,
        "CLAIMLINE_TOPIC_PREFIX": settings.topic_prefix,
    }
    return subprocess.run(
        [sys.executable, "-m", "claimline.cli", "dlq", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def decisions_published(settings: Settings, source_event_id: uuid.UUID, wait: float = 3.0) -> int:
    await asyncio.sleep(wait)
    published = await read_all(
        settings.kafka_bootstrap_servers, settings.topic(topics.DENIALS_DECISIONS), expect=10_000, timeout=5
    )
    return sum(1 for r in published if json.loads(r.value)["source_event_id"] == str(source_event_id))


async def test_a_fixed_dead_letter_is_replayed_and_processed_exactly_once(
    settings, engine, monkeypatch, tmp_path: Path
):
    practice = unique("replay")
    crashing = remit_line(practice, claim_id=f"CRASH{uuid.uuid4().hex[:8]}")
    versioned = remit_line(practice)
    wrong_version = json.loads(versioned.model_dump_json())
    wrong_version["schema_version"] = 99
    source = settings.topic(topics.REMIT_LINES)
    monkeypatch.setattr(
        "services.denials.app.explain_denial", crash_on(crashing.claim.patient_control_number)
    )

    async with bootstrap(settings).running():
        await produce(
            settings.kafka_bootstrap_servers,
            source,
            crashing.model_dump_json().encode(),
            key=crashing.partition_key,
        )
        await produce(
            settings.kafka_bootstrap_servers,
            source,
            json.dumps(wrong_version).encode(),
            key=versioned.partition_key,
        )
        dead = await read_all(settings.kafka_bootstrap_servers, topics.dead_letter(source), expect=2)
    assert len(dead) == 2
    assert await decided(engine, crashing.event_id) is None

    listed = await asyncio.to_thread(dlq_cli, settings, "list", topics.REMIT_LINES)
    assert listed.returncode == 0, listed.stderr
    assert "2 dead letter(s)" in listed.stdout
    assert f"event {crashing.event_id}" in listed.stdout and "RuleCrashed" in listed.stdout
    assert "DOE" not in listed.stdout and "JANE" not in listed.stdout, "patient data never printed"
    crash_at = next(
        f"{d.partition}:{d.offset}"
        for d in dead
        if json.loads(d.value)["claim"]["patient_control_number"] == crashing.claim.patient_control_number
    )

    monkeypatch.undo()  # the rule is fixed (a new release of the denials service)
    async with bootstrap(settings).running():
        replayed = await asyncio.to_thread(dlq_cli, settings, "replay", topics.REMIT_LINES, "--at", crash_at)
        assert replayed.returncode == 0, replayed.stderr
        assert f"published it to {source}" in replayed.stdout
        assert await eventually(lambda: decided(engine, crashing.event_id), timeout=60) == "denied"

        again = await asyncio.to_thread(
            dlq_cli, settings, "replay", topics.REMIT_LINES, "--event-id", str(crashing.event_id)
        )
        assert again.returncode == 0, again.stderr
        assert await decisions_published(settings, crashing.event_id) == 1, (
            "the second replay changed nothing"
        )

        fixed = tmp_path / "fixed.json"
        fixed.write_text(versioned.model_dump_json())
        corrected = await asyncio.to_thread(
            dlq_cli,
            settings,
            "replay",
            source,
            "--event-id",
            str(versioned.event_id),
            "--payload",
            str(fixed),
        )
        assert corrected.returncode == 0, corrected.stderr
        assert "corrected payload" in corrected.stdout
        assert await eventually(lambda: decided(engine, versioned.event_id), timeout=60) == "denied"

    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(func.count())
                .select_from(decisions)
                .where(decisions.c.source_event_id == crashing.event_id)
            )
        ).scalar_one()
    assert rows == 1
    assert (
        len(await read_all(settings.kafka_bootstrap_servers, topics.dead_letter(source), expect=3, timeout=5))
        == 2
    )

    missing = await asyncio.to_thread(dlq_cli, settings, "replay", topics.REMIT_LINES, "--at", "0:999999")
    assert missing.returncode == 1
    assert "no dead letter at 0:999999" in missing.stderr
