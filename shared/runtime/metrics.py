"""Prometheus metrics of every service, served at GET /metrics on its HTTP port (docs/operations.md).

Consumers are measured by the broker middleware (`shared/runtime/broker.py`), so no handler needs
code of its own. Labels are bounded and never carry patient data or ids: service, topic, handler,
consumer group and partition for consumers; method, route template (never the raw path) and status
for the gateway.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest

from shared.runtime.logging import get_logger

log = get_logger("claimline.metrics")

HANDLER_LABELS = ("service", "topic", "handler")

MESSAGES_PROCESSED = Counter(
    "claimline_messages_processed",
    "Messages a handler applied (its offset is committed).",
    HANDLER_LABELS,
)
MESSAGES_FAILED = Counter(
    "claimline_messages_failed",
    "Handler runs that failed for a transient reason (database or broker unreachable): "
    "the offset is not committed and the message is retried.",
    HANDLER_LABELS,
)
MESSAGES_DEAD_LETTERED = Counter(
    "claimline_messages_dead_lettered",
    "Messages that can never succeed, published to <topic>.dlq and committed.",
    HANDLER_LABELS,
)
HANDLER_SECONDS = Histogram(
    "claimline_handler_duration_seconds",
    "Time from a message reaching its handler to the handler's outcome, whatever it was.",
    HANDLER_LABELS,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
CONSUMER_LAG = Gauge(
    "claimline_consumer_lag",
    "Messages of a partition this replica owns that its group has not committed yet "
    "(end offset minus committed offset), refreshed on every scrape.",
    ("service", "group", "topic", "partition"),
)
OUTBOX_PUBLISHED = Counter(
    "claimline_outbox_published",
    "Outbox rows the relay published (acknowledged by the broker) and deleted.",
    ("service",),
)
OUTBOX_RELAY_FAILURES = Counter(
    "claimline_outbox_relay_failures",
    "Relay batches that failed (database or broker unreachable); the rows stay and are retried.",
    ("service",),
)
HTTP_REQUESTS = Counter(
    "claimline_http_requests",
    "Gateway requests by method, route template and status code.",
    ("method", "route", "status"),
)
HTTP_SECONDS = Histogram(
    "claimline_http_request_duration_seconds",
    "Gateway request latency by method and route template.",
    ("method", "route"),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "unmatched"
LAG_REFRESH_TIMEOUT = 5.0


@dataclass
class Outcome:
    """What became of one message; the dead-letter middleware marks it, the metrics read it."""

    dead_lettered: bool = False


def render() -> tuple[bytes, str]:
    """The exposition body and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def record_handler(
    service: str, topic: str, handler: str, outcome: Outcome, failed: bool, seconds: float
) -> None:
    labels = (service, topic, handler)
    HANDLER_SECONDS.labels(*labels).observe(seconds)
    if failed:
        MESSAGES_FAILED.labels(*labels).inc()
    elif outcome.dead_lettered:
        MESSAGES_DEAD_LETTERED.labels(*labels).inc()
    else:
        MESSAGES_PROCESSED.labels(*labels).inc()


# ---------------------------------------------------------------- consumer lag

_lag_series: dict[str, set[tuple[str, str, str, str]]] = {}


def _consumers(subscriber: Any) -> list[Any]:
    group = getattr(subscriber, "group_id", None)
    if not group:
        return []
    consumers = list(getattr(subscriber, "consumer_subgroup", None) or [])
    if not consumers and getattr(subscriber, "consumer", None) is not None:
        consumers = [subscriber.consumer]
    return consumers


async def partition_lags(consumer: Any) -> dict[Any, int]:
    """End offset minus committed offset for each partition assigned to this consumer.

    A partition its group never committed counts from the beginning of the log, because the
    consumers start from the earliest offset.
    """
    partitions = list(consumer.assignment())
    if not partitions:
        return {}
    ends = await consumer.end_offsets(partitions)
    committed = await asyncio.gather(*(consumer.committed(tp) for tp in partitions))
    never = [tp for tp, offset in zip(partitions, committed, strict=True) if offset is None]
    beginnings = await consumer.beginning_offsets(never) if never else {}
    return {
        tp: max(0, ends[tp] - (offset if offset is not None else beginnings[tp]))
        for tp, offset in zip(partitions, committed, strict=True)
    }


async def refresh_consumer_lag(service: str, subscribers: Iterable[Any]) -> None:
    """Set the lag gauge of every partition this process consumes; drop partitions it gave up."""
    seen: set[tuple[str, str, str, str]] = set()
    for subscriber in subscribers:
        for consumer in _consumers(subscriber):
            for tp, lag in (await partition_lags(consumer)).items():
                labels = (service, str(subscriber.group_id), tp.topic, str(tp.partition))
                CONSUMER_LAG.labels(*labels).set(lag)
                seen.add(labels)
    for labels in _lag_series.get(service, set()) - seen:
        CONSUMER_LAG.remove(*labels)
    _lag_series[service] = seen


async def scrape(service: str, subscribers: Iterable[Any]) -> tuple[bytes, str]:
    """Refresh the lag (bounded in time: a slow broker never blocks a scrape), then render."""
    try:
        await asyncio.wait_for(refresh_consumer_lag(service, subscribers), LAG_REFRESH_TIMEOUT)
    except Exception as exc:  # the counters are still worth serving; the lag keeps its last values
        log.warning("consumer lag not refreshed", error=type(exc).__name__)
    return render()


# ---------------------------------------------------------------- the gateway (FastAPI)


def route_template(scope: Mapping[str, Any]) -> str:
    """The matched route's template (`/v1/work-items/{item_id}`), never the raw path."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(template) if template else UNMATCHED_ROUTE


class HttpMetrics:
    """Plain ASGI middleware (no BaseHTTPMiddleware: streamed answers such as the CSV export pass
    through untouched): counts and times every HTTP request by the route template it matched."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            method = scope["method"] if scope["method"] in HTTP_METHODS else "OTHER"
            route = route_template(scope)  # the router wrote the matched route into this same scope
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_SECONDS.labels(method, route).observe(time.perf_counter() - started)


def install_http_metrics(app: Any) -> None:
    """Count and time every request of a FastAPI app by route template, and serve GET /metrics.

    Call it after the app's other middlewares are added: it then wraps them all."""
    from fastapi import Response

    app.add_middleware(HttpMetrics)

    async def metrics() -> Response:
        body, content_type = render()
        return Response(body, media_type=content_type)

    app.add_api_route("/metrics", metrics, methods=["GET"], include_in_schema=False)
