"""Poison messages go to the dead-letter topic with the reason, and the partition keeps moving."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from services.denials.adapters.orm import decisions
from services.denials.main import bootstrap
from shared.runtime.broker import decode_headers
from shared.schemas import topics
from tests.conftest import unique
from tests.support.events import remit_line
from tests.support.kafka import eventually, produce, read_all

pytestmark = pytest.mark.integration


async def test_poison_messages_are_dead_lettered_and_the_next_good_event_is_processed(settings, engine):
    practice = unique("dlq")
    good = remit_line(practice)
    key = good.partition_key  # same key: the same partition as the poison before it
    source = settings.topic(topics.REMIT_LINES)
    wrong_version = json.loads(good.model_dump_json())
    wrong_version["schema_version"] = 99

    async with bootstrap(settings).running():
        await produce(settings.kafka_bootstrap_servers, source, b"this is not json {", key=key)
        await produce(settings.kafka_bootstrap_servers, source, json.dumps(wrong_version).encode(), key=key)
        await produce(settings.kafka_bootstrap_servers, source, good.model_dump_json().encode(), key=key)

        async def decided():
            async with engine.connect() as conn:
                return (
                    await conn.execute(
                        select(decisions.c.category).where(decisions.c.source_event_id == good.event_id)
                    )
                ).scalar_one_or_none()

        assert await eventually(decided) == "denied"

    dead = await read_all(settings.kafka_bootstrap_servers, topics.dead_letter(source), expect=2)
    assert [d.value for d in dead][:1] == [b"this is not json {"]
    reasons = [decode_headers(d.headers) for d in dead]
    assert len(dead) == 2
    assert all(r["dlq-topic"] == source and r["dlq-consumer"] == "denials" for r in reasons)
    assert all(d.key == key for d in dead)
    assert "schema_version" in reasons[1]["dlq-reason"]
    assert reasons[0]["dlq-offset"] != reasons[1]["dlq-offset"]
