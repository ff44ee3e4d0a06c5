# mypy: disallow-untyped-decorators=False
"""Every handler is counted and timed by the broker middleware, and its log lines carry the event's
correlation ids but no patient data; the gateway's requests are counted by route template."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from faststream.kafka import TestKafkaBroker
from prometheus_client import REGISTRY

from shared.runtime.broker import PermanentError, make_broker, subscriber_options
from shared.runtime.logging import claim_ref, configure_logging, correlation_fields, get_logger
from shared.runtime.metrics import (
    CONSUMER_LAG,
    install_http_metrics,
    partition_lags,
    refresh_consumer_lag,
)
from shared.runtime.settings import Settings


def sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def envelope(patient_name: str = "JANE QPUBLIC") -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "remit.line",
        "schema_version": 1,
        "occurred_at": "2026-11-26T10:00:00+00:00",
        "practice_id": "desert-spine",
        "correlation": {"file_id": "f" * 64, "claim_key": "PCN-ACCT-778812"},
        "patient": {"name": patient_name, "member_id": "XJH123456789", "birth_date": "1950-02-03"},
    }


@pytest.fixture
def settings() -> Settings:
    return Settings(CLAIMLINE_TRANSIENT_RETRY_SECONDS=0)


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    out = io.StringIO()
    configure_logging("metrics-test")
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=out))
    yield out
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()


async def test_a_handled_message_is_counted_and_timed_per_topic_and_handler(settings):
    topic = f"metrics-ok-{uuid.uuid4().hex[:8]}"
    broker = make_broker(settings, "svc")

    @broker.subscriber(topic, **subscriber_options("svc", "ok", settings))
    async def on_line(event: dict[str, Any]) -> None:
        return None

    labels = {"service": "svc", "topic": topic, "handler": "on_line"}
    async with TestKafkaBroker(broker) as br:
        await br.publish(envelope(), topic=topic)
        await br.publish(envelope(), topic=topic)

    assert sample("claimline_messages_processed_total", labels) == 2
    assert sample("claimline_handler_duration_seconds_count", labels) == 2
    assert sample("claimline_messages_dead_lettered_total", labels) == 0
    assert sample("claimline_messages_failed_total", labels) == 0


async def test_a_poison_message_is_counted_as_dead_lettered_not_processed(settings):
    topic = f"metrics-poison-{uuid.uuid4().hex[:8]}"
    broker = make_broker(settings, "svc")
    dead: list[dict[str, Any]] = []

    @broker.subscriber(topic, **subscriber_options("svc", "poison", settings))
    async def on_poison(event: dict[str, Any]) -> None:
        raise PermanentError("a rule crashed")

    @broker.subscriber(f"{topic}.dlq")
    async def on_dead(body: dict[str, Any]) -> None:
        dead.append(body)

    labels = {"service": "svc", "topic": topic, "handler": "on_poison"}
    async with TestKafkaBroker(broker) as br:
        await br.publish(envelope(), topic=topic)

    assert len(dead) == 1
    assert dead[0]["practice_id"] == "desert-spine"
    assert sample("claimline_messages_dead_lettered_total", labels) == 1
    assert sample("claimline_messages_processed_total", labels) == 0


async def test_a_transient_failure_is_counted_as_failed(settings):
    topic = f"metrics-transient-{uuid.uuid4().hex[:8]}"
    broker = make_broker(settings, "svc")

    @broker.subscriber(topic, **subscriber_options("svc", "flaky", settings))
    async def on_flaky(event: dict[str, Any]) -> None:
        raise ConnectionError("database unreachable")

    labels = {"service": "svc", "topic": topic, "handler": "on_flaky"}
    async with TestKafkaBroker(broker) as br:
        with pytest.raises(ConnectionError):
            await br.publish(envelope(), topic=topic)

    assert sample("claimline_messages_failed_total", labels) == 1
    assert sample("claimline_messages_processed_total", labels) == 0
    assert sample("claimline_messages_dead_lettered_total", labels) == 0


async def test_a_handlers_log_line_carries_the_correlation_ids_and_no_patient_data(settings, captured_logs):
    topic = f"metrics-logs-{uuid.uuid4().hex[:8]}"
    broker = make_broker(settings, "svc")
    event = envelope()

    @broker.subscriber(topic, **subscriber_options("svc", "logs", settings))
    async def on_line(body: dict[str, Any]) -> None:
        get_logger("handler").info("line applied")

    async with TestKafkaBroker(broker) as br:
        await br.publish(event, topic=topic)
    get_logger("after").info("outside any message")

    lines = [json.loads(line) for line in captured_logs.getvalue().splitlines()]
    applied = next(line for line in lines if line["event"] == "line applied")
    assert applied["event_id"] == event["event_id"]
    assert applied["event_type"] == "remit.line"
    assert applied["practice_id"] == "desert-spine"
    assert applied["file_id"] == "f" * 64
    assert applied["claim_ref"] == claim_ref("desert-spine", "PCN-ACCT-778812")
    assert applied["topic"] == topic
    assert applied["handler"] == "on_line"
    text = captured_logs.getvalue()
    for patient_value in ("JANE", "QPUBLIC", "XJH123456789", "1950-02-03", "PCN-ACCT-778812"):
        assert patient_value not in text
    outside = next(line for line in lines if line["event"] == "outside any message")
    assert "event_id" not in outside  # the context ends with the message


def test_correlation_fields_ignore_bodies_that_are_not_events():
    assert correlation_fields(b"ISA*00*          *00*") == {}
    assert correlation_fields(b"{not json") == {}
    assert correlation_fields(b"[1, 2]") == {}
    assert correlation_fields(None) == {}
    assert correlation_fields(json.dumps({"event_id": 7, "patient": "X"}).encode()) == {}


def test_gateway_requests_are_counted_by_route_template_never_by_raw_path():
    app = FastAPI()

    @app.get("/v1/items/{item_id}")
    async def item(item_id: str) -> dict[str, str]:
        return {"id": item_id}

    @app.get("/v1/export/{practice}.csv")
    async def export(practice: str) -> StreamingResponse:
        async def rows() -> AsyncIterator[bytes]:
            for n in range(3):
                yield f"row {n}\n".encode()

        return StreamingResponse(rows(), media_type="text/csv")

    install_http_metrics(app)

    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            await client.get("/v1/items/MEMBER-XJH123456789")
            await client.get("/no/such/path/PATIENT-NAME")
            streamed = await client.get("/v1/export/desert-spine.csv")
            assert streamed.text == "row 0\nrow 1\nrow 2\n"  # a streamed answer passes whole
            return await client.get("/metrics")

    before = sample(
        "claimline_http_requests_total", {"method": "GET", "route": "/v1/items/{item_id}", "status": "200"}
    )
    metrics = asyncio.run(run())
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    after = sample(
        "claimline_http_requests_total", {"method": "GET", "route": "/v1/items/{item_id}", "status": "200"}
    )
    assert after == before + 1
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert sample("claimline_http_requests_total", unmatched) >= 1
    assert "XJH123456789" not in metrics.text
    assert "PATIENT-NAME" not in metrics.text
    assert 'route="/v1/items/{item_id}"' in metrics.text
    exported = {"method": "GET", "route": "/v1/export/{practice}.csv", "status": "200"}
    assert sample("claimline_http_requests_total", exported) >= 1


@dataclass(frozen=True)
class TP:
    topic: str
    partition: int


@dataclass
class FakeConsumer:
    assigned: list[TP]
    ends: dict[TP, int]
    commits: dict[TP, int | None]
    starts: dict[TP, int] = field(default_factory=dict)

    def assignment(self) -> set[TP]:
        return set(self.assigned)

    async def end_offsets(self, partitions: list[TP]) -> dict[TP, int]:
        return {tp: self.ends[tp] for tp in partitions}

    async def committed(self, tp: TP) -> int | None:
        return self.commits[tp]

    async def beginning_offsets(self, partitions: list[TP]) -> dict[TP, int]:
        return {tp: self.starts[tp] for tp in partitions}


@dataclass
class FakeSubscriber:
    group_id: str
    consumer: FakeConsumer


async def test_lag_is_end_offset_minus_committed_and_from_the_log_start_when_never_committed():
    a, b = TP("remit.lines.v1", 0), TP("remit.lines.v1", 1)
    consumer = FakeConsumer([a, b], ends={a: 120, b: 40}, commits={a: 100, b: None}, starts={b: 10})
    assert await partition_lags(consumer) == {a: 20, b: 30}


async def test_partitions_given_up_in_a_rebalance_leave_the_lag_gauge():
    a, b = TP("lag-topic", 0), TP("lag-topic", 1)
    consumer = FakeConsumer([a, b], ends={a: 5, b: 7}, commits={a: 5, b: 2})
    subscriber = FakeSubscriber("claimline.svc.lines", consumer)
    await refresh_consumer_lag("lag-svc", [subscriber])
    labels = {"service": "lag-svc", "group": "claimline.svc.lines", "topic": "lag-topic"}
    assert sample("claimline_consumer_lag", {**labels, "partition": "0"}) == 0
    assert sample("claimline_consumer_lag", {**labels, "partition": "1"}) == 5

    consumer.assigned = [a]
    await refresh_consumer_lag("lag-svc", [subscriber])
    assert REGISTRY.get_sample_value("claimline_consumer_lag", {**labels, "partition": "1"}) is None
    assert CONSUMER_LAG.labels("lag-svc", "claimline.svc.lines", "lag-topic", "0")._value.get() == 0


def test_the_gateway_serves_metrics_and_labels_its_routes_by_template():
    from services.queues.gateway.app import create_app

    app = create_app(Settings())
    item_id = "3f2c1a7e-0000-4000-8000-00000000abcd"

    async def run() -> tuple[httpx.Response, httpx.Response]:
        # No lifespan here (no database): the request fails, and is counted under its template all the same.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            await client.get(f"/v1/work-items/{item_id}")
            return await client.get("/metrics"), await client.get("/openapi.json")

    metrics, openapi = asyncio.run(run())
    assert metrics.status_code == 200
    assert 'route="/v1/work-items/{item_id}"' in metrics.text
    assert item_id not in metrics.text
    assert "/metrics" not in openapi.json()["paths"]
