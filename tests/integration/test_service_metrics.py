"""A real service on the real broker counts what its handlers did, what its relay published, and
the lag of its partitions, in the registry its /metrics serves."""

from __future__ import annotations

import json

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from services.denials.adapters.orm import decisions
from services.denials.main import bootstrap
from shared.runtime.metrics import scrape
from shared.schemas import topics
from tests.conftest import unique
from tests.support.events import remit_line
from tests.support.kafka import eventually, produce

pytestmark = pytest.mark.integration


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def lag_series(text: str, group: str) -> list[float]:
    return [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("claimline_consumer_lag{") and f'group="{group}"' in line
    ]


async def test_the_denials_service_counts_processed_dead_lettered_published_and_lag(settings, engine):
    source = settings.topic(topics.REMIT_LINES)
    good = remit_line(unique("metrics"))
    poison = json.loads(good.model_dump_json()) | {"schema_version": 99}
    labels = {"service": "denials", "topic": source, "handler": "on_remit_line"}
    published_before = value("claimline_outbox_published_total", service="denials")

    runtime = bootstrap(settings)
    async with runtime.running():
        await produce(
            settings.kafka_bootstrap_servers, source, json.dumps(poison).encode(), key=good.partition_key
        )
        await produce(
            settings.kafka_bootstrap_servers, source, good.model_dump_json().encode(), key=good.partition_key
        )

        async def decided() -> object:
            async with engine.connect() as conn:
                query = select(decisions.c.category).where(decisions.c.source_event_id == good.event_id)
                return (await conn.execute(query)).scalar_one_or_none()

        assert await eventually(decided) == "denied"

        async def published() -> bool:  # the decision left through the outbox
            return value("claimline_outbox_published_total", service="denials") > published_before

        assert await eventually(published)

        group = f"claimline.denials.remit-lines{settings.consumer_group_suffix}"

        async def caught_up() -> list[float]:
            body, _ = await scrape(runtime.name, runtime.broker.subscribers)
            series = lag_series(body.decode(), group)
            return series if series and sum(series) == 0 else []

        assert await eventually(caught_up) == [0.0] * settings.topic_partitions

    assert value("claimline_messages_processed_total", **labels) == 1
    assert value("claimline_messages_dead_lettered_total", **labels) == 1
    assert value("claimline_messages_failed_total", **labels) == 0
    assert value("claimline_handler_duration_seconds_count", **labels) == 2
