# mypy: disallow-untyped-decorators=False
"""What the hot path does not spend CPU on (bench/e2e_throughput.py measures what it does): a batch
subscriber's records are not parsed by FastStream before `consume_batch` validates them, and a started
service leaves its loaded objects out of the garbage collector's rounds."""

from __future__ import annotations

import asyncio
import gc
import json
import uuid
from collections.abc import Iterator
from typing import Any

import faststream.message.utils as faststream_decoding
import pytest
from faststream.kafka import TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

from shared.runtime.broker import consume_batch, make_broker, subscriber_options
from shared.runtime.service import tune_gc
from shared.runtime.settings import Settings


def test_a_batch_reaches_consume_batch_unparsed_and_each_record_is_decoded_once(monkeypatch):
    parsed_by_faststream: list[Any] = []
    real = faststream_decoding.json_loads  # type: ignore[attr-defined]

    def counting(body: Any) -> Any:
        parsed_by_faststream.append(body)
        return real(body)

    monkeypatch.setattr(faststream_decoding, "json_loads", counting)
    settings = Settings()
    broker = make_broker(settings, "svc")
    topic = f"batch-{uuid.uuid4().hex[:8]}"
    applied: list[dict[str, Any]] = []
    decoded: list[bytes] = []

    def decode(raw: bytes) -> dict[str, Any]:
        decoded.append(raw)
        return dict(json.loads(raw))

    async def one(event: dict[str, Any]) -> None:
        applied.append(event)

    async def many(events: list[dict[str, Any]]) -> None:
        applied.extend(events)

    @broker.subscriber(topic, **subscriber_options("svc", "lines", settings, batch=True))
    async def on_batch(batch: KafkaMessage) -> None:
        await consume_batch(broker, "svc", batch, decode, one, many)

    @broker.subscriber(f"{topic}-single", **subscriber_options("svc", "single", settings))
    async def on_single(body: dict[str, Any]) -> None:
        applied.append(body)

    async def run() -> None:
        async with TestKafkaBroker(broker) as br:
            await br.publish_batch(*({"n": n} for n in range(5)), topic=topic)
            await br.publish({"n": "single"}, topic=f"{topic}-single")

    asyncio.run(run())
    assert applied == [{"n": 0}, {"n": 1}, {"n": 2}, {"n": 3}, {"n": 4}, {"n": "single"}]
    assert len(decoded) == 5, "consume_batch decodes each record once"
    assert len(parsed_by_faststream) == 1, "only the one-message subscriber lets FastStream parse its body"
    decoder = subscriber_options("svc", "lines", settings, batch=True)["decoder"]
    assert asyncio.iscoroutinefunction(decoder), "FastStream runs a plain-function decoder in a thread"


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_a_started_service_freezes_what_it_loaded_and_collects_less_often(restored_gc):
    gc.unfreeze()
    _, middle, oldest = gc.get_threshold()
    tune_gc(50_000)
    assert gc.get_threshold() == (50_000, middle, oldest)
    assert gc.get_freeze_count() > 1000, "the modules and objects loaded so far are frozen"


def test_a_threshold_of_zero_leaves_the_collector_as_it_was(restored_gc):
    gc.unfreeze()
    before = gc.get_threshold()
    tune_gc(0)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
