"""The hot path consumes in batches (README, "Delivery"): every record of a poll is decoded on its own, the
valid ones are applied in one transaction, and a batch that fails is applied one message at a time, so a
poison message still goes alone to the dead-letter topic and every other line is decided exactly once."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select

import services.denials.app as denials_app
import services.denials.entrypoints.consumers as denials_consumers
from services.denials.adapters.orm import decisions
from services.denials.adapters.orm import outbox as denials_outbox
from services.denials.domain.rulepack import explain_denial
from services.denials.main import bootstrap
from services.denials.main import load_rules as denials_rules
from services.queues.adapters.orm import remit_lines, work_items
from services.queues.app import apply_decisions, item_id_for
from shared.runtime.broker import PracticeMismatch, decode_headers
from shared.runtime.settings import Settings
from shared.schemas import topics
from tests.conftest import unique
from tests.support.events import remit_line
from tests.support.kafka import eventually, read_all

pytestmark = pytest.mark.integration

TODAY = date(2026, 10, 25)


async def produce_all(bootstrap_servers: str, topic: str, values: Sequence[bytes], key: bytes) -> None:
    """Publish in this order on one partition, before the consumer starts: they arrive in one poll."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, enable_idempotence=True)
    await producer.start()
    try:
        for value in values:
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


class Calls:
    """Counts the events the consumer hands to the batch path and to the one-at-a-time path."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.batches: list[list[uuid.UUID]] = []
        self.singles: list[uuid.UUID] = []
        real_many, real_one = denials_app.handle_remit_lines, denials_app.handle_remit_line

        async def many(engine: Any, settings: Any, rules: Any, events: Any, today: date) -> Any:
            self.batches.append([e.event_id for e in events])
            return await real_many(engine, settings, rules, events, today)

        async def one(engine: Any, settings: Any, rules: Any, event: Any, today: date) -> Any:
            self.singles.append(event.event_id)
            return await real_one(engine, settings, rules, event, today)

        monkeypatch.setattr(denials_consumers, "handle_remit_lines", many)
        monkeypatch.setattr(denials_consumers, "handle_remit_line", one)


async def count_decisions(engine: Any, event_ids: Sequence[uuid.UUID]) -> int:
    async with engine.connect() as conn:
        query = select(func.count()).select_from(decisions).where(decisions.c.source_event_id.in_(event_ids))
        return int((await conn.execute(query)).scalar_one())


async def relayed(engine: Any) -> bool:
    """The denials outbox is empty: every decision written so far has been published."""
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(denials_outbox))).scalar_one()) == 0


async def published_decisions(settings: Settings, expect: int) -> list[str]:
    records = await read_all(
        settings.kafka_bootstrap_servers,
        settings.topic(topics.DENIALS_DECISIONS),
        expect=expect + 1,
        timeout=8,
    )
    return [json.loads(r.value)["source_event_id"] for r in records]


async def test_a_poison_message_in_a_batch_goes_alone_to_the_dead_letter_topic(settings, engine, monkeypatch):
    practice = unique("batch")
    good = [remit_line(practice) for _ in range(12)]
    wrong_version = json.loads(good[0].model_dump_json()) | {"schema_version": 99}
    wrong_version["event_id"] = str(uuid.uuid4())
    values = [g.model_dump_json().encode() for g in good]
    values[4:4] = [b"not json at all {"]
    values[9:9] = [json.dumps(wrong_version).encode()]
    source = settings.topic(topics.REMIT_LINES)
    calls = Calls(monkeypatch)
    runtime = bootstrap(settings)
    await runtime.prepare()
    await produce_all(settings.kafka_bootstrap_servers, source, values, key=good[0].partition_key)

    async with runtime.running():
        ids = [g.event_id for g in good]

        async def all_decided() -> bool:
            return await count_decisions(engine, ids) == len(good)

        assert await eventually(all_decided, timeout=60)
        assert await eventually(lambda: relayed(engine), timeout=60)
        dead = await read_all(settings.kafka_bootstrap_servers, topics.dead_letter(source), expect=2)

    assert [d.value for d in dead] == [values[4], values[9]]
    reasons = [decode_headers(d.headers) for d in dead]
    assert "schema_version" in reasons[1]["dlq-reason"]
    assert [h["dlq-offset"] for h in reasons] == [str(dead_at) for dead_at in (4, 9)]
    assert calls.singles == [], "decoding errors never send a batch down the one-at-a-time path"
    assert sorted(e for batch in calls.batches for e in batch) == sorted(ids)
    published = await published_decisions(settings, len(good))
    assert sorted(published) == sorted(str(i) for i in ids), "each line decided and published exactly once"


async def test_a_batch_that_fails_on_one_event_is_applied_one_at_a_time(settings, engine, monkeypatch):
    practice = unique("fallback")
    lines = [remit_line(practice) for _ in range(8)]
    crashing = lines[3]
    real = explain_denial

    def crash(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("claim_id") == crashing.claim.patient_control_number:
            raise ZeroDivisionError("rule PAIN-TEST-002 divided by zero units")
        return real(*args, **kwargs)

    monkeypatch.setattr("services.denials.app.explain_denial", crash)
    calls = Calls(monkeypatch)
    source = settings.topic(topics.REMIT_LINES)
    runtime = bootstrap(settings)
    await runtime.prepare()
    values = [line.model_dump_json().encode() for line in lines]
    await produce_all(settings.kafka_bootstrap_servers, source, values, key=lines[0].partition_key)

    others = [line.event_id for line in lines if line is not crashing]
    async with runtime.running():

        async def others_decided() -> bool:
            return await count_decisions(engine, others) == len(others)

        assert await eventually(others_decided, timeout=60)
        assert await eventually(lambda: relayed(engine), timeout=60)
        dead = await read_all(settings.kafka_bootstrap_servers, topics.dead_letter(source), expect=1)

    assert len(dead) == 1
    reason = decode_headers(dead[0].headers)
    assert reason["dlq-error-type"] == "ZeroDivisionError" and "PAIN-TEST-002" in reason["dlq-reason"]
    assert reason["dlq-offset"] == "3"
    assert await count_decisions(engine, [crashing.event_id]) == 0
    assert crashing.event_id in calls.singles, "the batch failed, so its events were applied one at a time"
    assert any(crashing.event_id in batch for batch in calls.batches)
    published = await published_decisions(settings, len(others))
    assert sorted(published) == sorted(str(i) for i in others), (
        "the rolled-back batch published nothing twice"
    )


async def test_a_redelivered_batch_changes_nothing(settings, engine, monkeypatch):
    """A whole batch again (a redelivery after a crash before the offset commit, or a replay under a new
    consumer group): no decision, outbox row or published event more."""
    practice = unique("again")
    lines = [remit_line(practice) for _ in range(10)]
    ids = [line.event_id for line in lines]
    source = settings.topic(topics.REMIT_LINES)
    values = [line.model_dump_json().encode() for line in lines]
    runtime = bootstrap(settings)
    await runtime.prepare()
    await produce_all(settings.kafka_bootstrap_servers, source, values, key=lines[0].partition_key)
    async with runtime.running():

        async def decided() -> bool:
            return await count_decisions(engine, ids) == len(ids)

        assert await eventually(decided, timeout=60)
        assert await eventually(lambda: relayed(engine), timeout=60)
        assert sorted(await published_decisions(settings, len(ids))) == sorted(map(str, ids))

    calls = Calls(monkeypatch)
    replay = settings.model_copy(update={"consumer_group_suffix": f".replay-{uuid.uuid4().hex[:6]}"})
    async with bootstrap(replay).running():

        async def read_again() -> bool:
            return sum(len(batch) for batch in calls.batches) >= len(ids)

        assert await eventually(read_again, timeout=60)
        # and directly: the same batch, with one event twice in it, decides nothing more
        rules = denials_rules(settings)
        again = await denials_app.handle_remit_lines(engine, settings, rules, [*lines, lines[0]], TODAY)
        assert again == []
        assert await eventually(lambda: relayed(engine), timeout=60)

    assert await count_decisions(engine, ids) == len(ids)
    assert sorted(await published_decisions(settings, len(ids))) == sorted(map(str, ids))
    assert calls.singles == []


async def test_the_queues_apply_a_batch_once_and_refuse_another_practices_item(settings, engine):
    practice = unique("qbatch")
    rules = denials_rules(settings)
    lines = [remit_line(practice) for _ in range(5)]
    made = [denials_app.decide(rules, line, TODAY) for line in lines]

    assert await apply_decisions(engine, [*made, made[0]]) == len(made), (
        "a duplicate in the batch counts once"
    )
    assert await apply_decisions(engine, made) == 0, "a redelivered batch changes nothing"

    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(func.count()).select_from(remit_lines).where(remit_lines.c.practice_id == practice)
            )
        ).scalar_one()
        items = (
            await conn.execute(
                select(func.count()).select_from(work_items).where(work_items.c.practice_id == practice)
            )
        ).scalar_one()
    assert rows == len(made)
    assert items == sum(1 for d in made if d.needs_work and d.queue)
    assert items > 0

    later = denials_app.decide(rules, remit_line(practice), TODAY)
    tampered = made[1].model_copy(update={"practice_id": unique("intruder"), "event_id": uuid.uuid4()})
    with pytest.raises(PracticeMismatch):
        await apply_decisions(engine, [later, tampered])
    async with engine.connect() as conn:
        owner = (
            await conn.execute(
                select(work_items.c.practice_id).where(
                    work_items.c.item_id == item_id_for("line", str(made[1].source_event_id))
                )
            )
        ).scalar_one()
        later_rows = (
            await conn.execute(
                select(func.count())
                .select_from(remit_lines)
                .where(remit_lines.c.source_event_id == later.source_event_id)
            )
        ).scalar_one()
    assert owner == practice
    assert later_rows == 0, "the refused batch wrote nothing"


async def test_the_stored_decision_is_the_published_one_in_both_services(settings, engine):
    """Each decision is encoded once and that JSON is both stored (JSONB) and published; the queues store
    the decision they received the same way, in the batch and in the one-at-a-time path."""
    from services.queues.app import apply_decision
    from shared.schemas import LineDecision

    practice = unique("onejson")
    rules = denials_rules(settings)
    batch = [
        remit_line(practice, paid="60.17", adjustments=(("CO", "45", "789.83"),)),
        *(remit_line(practice) for _ in range(3)),
    ]
    single = remit_line(practice, code="64494", adjustments=(("CO", "16", "850.00"),))
    await denials_app.handle_remit_lines(engine, settings, rules, batch, TODAY)
    await denials_app.handle_remit_line(engine, settings, rules, single, TODAY)
    ids = [line.event_id for line in (*batch, single)]

    async with engine.connect() as conn:
        stored = {
            row.source_event_id: (row.decision, row.decision_event_id)
            for row in await conn.execute(
                select(
                    decisions.c.source_event_id, decisions.c.decision, decisions.c.decision_event_id
                ).where(decisions.c.source_event_id.in_(ids))
            )
        }
        payloads = {
            row.event_id: row.payload
            for row in await conn.execute(select(denials_outbox.c.event_id, denials_outbox.c.payload))
        }
    assert set(stored) == set(ids)
    published = []
    for document, decision_id in stored.values():
        assert isinstance(document, dict), "a JSON object, not a JSON string holding one"
        assert document == json.loads(payloads[decision_id])
        decision = LineDecision.model_validate_json(payloads[decision_id])
        assert document == decision.model_dump(mode="json")
        published.append(decision)

    assert await apply_decisions(engine, published[:-1]) == len(published) - 1
    assert await apply_decision(engine, published[-1])
    async with engine.connect() as conn:
        lines = {
            row.source_event_id: row.decision
            for row in await conn.execute(
                select(remit_lines.c.source_event_id, remit_lines.c.decision).where(
                    remit_lines.c.practice_id == practice
                )
            )
        }
        details = {
            row.item_id: row.detail
            for row in await conn.execute(
                select(work_items.c.item_id, work_items.c.detail).where(work_items.c.practice_id == practice)
            )
        }
    assert lines == {d.source_event_id: d.model_dump(mode="json") for d in published}
    needing_work = [d for d in published if d.needs_work and d.queue]
    assert 0 < len(needing_work) < len(published), "lines that need work and lines that do not"
    assert details == {
        item_id_for("line", str(d.source_event_id)): d.model_dump(mode="json") for d in needing_work
    }
