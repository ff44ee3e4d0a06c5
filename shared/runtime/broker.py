"""Kafka broker factory: idempotent producer, commit after the handler, dead-letter topic for poison.

Delivery rules (DESIGN.md, "Delivery"):
- producers use `enable_idempotence=True` (acks=all);
- subscribers commit their offset only after the handler returned, i.e. after its database commit;
- a message that can never be processed (bad JSON, wrong schema, unknown practice, a rule that
  crashes) is published to `<topic>.dlq` with the reason and origin in headers and then committed, so
  the partition moves on;
- a transient failure (database or broker unreachable) is retried: the offset is not committed and
  the consumer seeks back to the message after a pause, so nothing is skipped while PostgreSQL restarts.

The hot path (remit lines into denials, decisions into queues) consumes in batches (`consume_batch`):
up to CLAIMLINE_CONSUMER_BATCH records per poll, each decoded on its own, the valid ones applied in one
database transaction, one offset commit per batch after it; a batch that fails for a permanent reason
is applied again one message at a time, so poison still goes alone to the dead-letter topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from typing import Any, TypeVar

import structlog
from aiokafka import AIOKafkaProducer
from faststream import BaseMiddleware
from faststream.kafka import KafkaBroker
from faststream.middlewares import AckPolicy
from sqlalchemy import Table
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.runtime.db import claim_batch, forget
from shared.runtime.logging import correlation_fields, get_logger
from shared.runtime.metrics import OUTBOX_PUBLISHED, OUTBOX_RELAY_FAILURES, Outcome, record_handler
from shared.runtime.producer import needs_new_producer, renew_producer
from shared.runtime.security import kafka_security
from shared.runtime.settings import Settings
from shared.schemas.topics import dead_letter

log = get_logger("claimline.broker")

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (OSError, ConnectionError, TimeoutError, InterfaceError)


class PermanentError(Exception):
    """A message that will never succeed however often it is retried (it goes to the dead-letter topic)."""


class PracticeMismatch(PermanentError):
    """A message names a practice that is not the known owner of the object it refers to."""


def server_unavailable(exc: DBAPIError) -> bool:
    """PostgreSQL said it cannot serve now (restarting, shutting down, out of connections, a connection
    lost, a serialization conflict): the same message succeeds later, so it is never dead-lettered."""
    state = str(getattr(exc.orig, "sqlstate", None) or "")
    return state[:2] in ("08", "53") or state in ("57P01", "57P02", "57P03", "40001", "40P01")


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, PermanentError):
        return False
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    if isinstance(exc, DBAPIError) and (exc.connection_invalidated or server_unavailable(exc)):
        return True
    cause = exc.__cause__ or exc.__context__
    if isinstance(exc, TRANSIENT_ERRORS):
        return True
    return cause is not None and cause is not exc and is_transient(cause)


def describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text[:2000]


_outcome: ContextVar[Outcome | None] = ContextVar("claimline_message_outcome", default=None)


def handler_name(context: Any) -> str:
    """The name of the handler function the subscriber of this message calls (bounded: code names)."""
    subscriber = context.get_local("handler_")
    calls = getattr(subscriber, "calls", None) or []
    return str(calls[0].name) if calls else "unknown"


def observe_middleware(service: str) -> Callable[..., BaseMiddleware]:
    """Outermost of ours: binds the message's correlation ids to every log line of its handling, and
    counts and times the handler (processed, failed and retried, or dead-lettered)."""

    class Observe(BaseMiddleware):
        async def consume_scope(self, call_next: Callable[[Any], Awaitable[Any]], msg: Any) -> Any:
            raw = msg.raw_message
            handler = handler_name(self.context)
            if isinstance(raw, (tuple, list)):  # a batch (a list in the test broker): one count per message
                return await observe_batch(service, handler, raw, call_next, msg)
            outcome = Outcome()
            token = _outcome.set(outcome)
            started = time.perf_counter()
            failed = False
            try:
                with structlog.contextvars.bound_contextvars(
                    topic=raw.topic,
                    partition=raw.partition,
                    offset=raw.offset,
                    handler=handler,
                    **correlation_fields(raw.value),
                ):
                    return await call_next(msg)
            except BaseException:
                failed = True
                raise
            finally:
                _outcome.reset(token)
                record_handler(service, raw.topic, handler, outcome, failed, time.perf_counter() - started)

    return Observe


_batch_outcomes: ContextVar[list[Outcome] | None] = ContextVar("claimline_batch_outcomes", default=None)


async def observe_batch(
    service: str,
    handler: str,
    records: Sequence[Any],
    call_next: Callable[[Any], Awaitable[Any]],
    msg: Any,
) -> Any:
    """A batch is counted message by message: each processed or dead-lettered one (`consume_batch` marks
    its outcome), or all of them failed when the batch is retried. Each is timed with the batch's time,
    the time from reaching its handler to its outcome."""
    outcomes = [Outcome() for _ in records]
    token = _batch_outcomes.set(outcomes)
    started = time.perf_counter()
    failed = False
    try:
        with structlog.contextvars.bound_contextvars(
            topic=records[0].topic if records else None, handler=handler, batch_size=len(records)
        ):
            return await call_next(msg)
    except BaseException:
        failed = True
        raise
    finally:
        _batch_outcomes.reset(token)
        seconds = time.perf_counter() - started
        for record, outcome in zip(records, outcomes, strict=True):
            record_handler(service, record.topic, handler, outcome, failed, seconds)


async def publish_dead_letter(broker: KafkaBroker, service: str, raw: Any, exc: BaseException) -> None:
    """Publish one record to `<topic>.dlq`, unchanged, with the reason and its origin in headers."""
    headers = {
        "dlq-reason": describe(exc),
        "dlq-error-type": type(exc).__name__,
        "dlq-topic": raw.topic,
        "dlq-partition": str(raw.partition),
        "dlq-offset": str(raw.offset),
        "dlq-consumer": service,
    }
    await broker.publish(
        raw.value if raw.value is not None else b"",
        topic=dead_letter(raw.topic),
        key=raw.key,
        headers=headers,
    )
    log.error(
        "message dead-lettered",
        topic=raw.topic,
        partition=raw.partition,
        offset=raw.offset,
        error=type(exc).__name__,
    )


def dead_letter_middleware(
    broker: KafkaBroker, service: str, settings: Settings
) -> Callable[..., BaseMiddleware]:
    """Middleware factory bound to the broker it publishes dead letters with."""

    class DeadLetter(BaseMiddleware):
        async def consume_scope(self, call_next: Callable[[Any], Awaitable[Any]], msg: Any) -> Any:
            raw = msg.raw_message
            try:
                return await call_next(msg)
            except Exception as exc:
                if isinstance(raw, (tuple, list)):
                    # `consume_batch` dead-letters each poison message itself; what escapes it (the
                    # database or broker unreachable) is retried: the whole batch, from its first offsets.
                    log.warning(
                        "batch failed, will retry",
                        topic=raw[0].topic if raw else None,
                        size=len(raw),
                        error=type(exc).__name__,
                    )
                    await asyncio.sleep(settings.transient_retry_seconds)
                    raise
                if is_transient(exc):
                    log.warning(
                        "transient failure, will retry",
                        topic=raw.topic,
                        partition=raw.partition,
                        offset=raw.offset,
                        error=type(exc).__name__,
                    )
                    await asyncio.sleep(settings.transient_retry_seconds)
                    raise
                await publish_dead_letter(broker, service, raw, exc)
                if (outcome := _outcome.get()) is not None:
                    outcome.dead_lettered = True
                return None

    return DeadLetter


def make_broker(settings: Settings, service: str) -> KafkaBroker:
    """The broker of a service (or a CLI command).

    Security comes from the settings (TLS, SASL). On shutdown the broker stops fetching, lets the
    in-flight message finish and commit for up to CLAIMLINE_SHUTDOWN_GRACE_SECONDS, and past that
    cancels it uncommitted, so the group hands it to another replica (idempotent handlers make the
    second run change nothing).
    """
    broker = KafkaBroker(
        settings.kafka_bootstrap_servers,
        enable_idempotence=True,
        # 256 KiB per partition batch instead of aiokafka's 16 KiB: an outbox relay hands the producer
        # hundreds of ~2.4 KB events at once, and 16 KiB held only six of them per partition and round
        # trip (measured: the relay publishes about twice as many rows a second, with less CPU per row).
        max_batch_size=256 * 1024,
        client_id=f"claimline-{service}",
        security=kafka_security(settings),
        graceful_timeout=settings.shutdown_grace_seconds,
        logger=None,
    )
    broker.add_middleware(observe_middleware(service))
    broker.add_middleware(dead_letter_middleware(broker, service, settings))
    return broker


def subscriber_options(
    service: str, consumer: str, settings: Settings, *, batch: bool = False
) -> dict[str, Any]:
    """Every consumer: a named group (replicas share the work), earliest offset, commit after success.

    `CLAIMLINE_CONSUMER_GROUP_SUFFIX` gives a service new groups: it then reads every topic from the
    beginning again (a replay), which the idempotent handlers turn into no change at all.

    `batch=True`: the handler gets up to CLAIMLINE_CONSUMER_BATCH records per poll (whatever has arrived,
    never waiting to fill a batch) and hands them to `consume_batch`; the offsets of the whole batch are
    committed once, after it returned, and a failed batch is sought back to its first offsets.
    """
    options: dict[str, Any] = {
        "group_id": f"claimline.{service}.{consumer}{settings.consumer_group_suffix}",
        "auto_offset_reset": "earliest",
        "ack_policy": AckPolicy.NACK_ON_ERROR,
        "max_poll_interval_ms": 300_000,
    }
    if batch:
        options |= {
            "batch": True,
            "max_records": settings.consumer_batch,
            "batch_timeout_ms": 100,
            "decoder": records_not_decoded,
        }
    return options


async def records_not_decoded(message: Any) -> None:
    """The decoder of batch subscribers: none. Their handler takes the polled records and
    `consume_batch` decodes and validates each one itself; FastStream's default decoder would first
    parse every record with `json.loads` into values nobody reads (measured: about a sixth of the
    denials and queues services' CPU)."""
    return None


E = TypeVar("E")


async def consume_batch(
    broker: KafkaBroker,
    service: str,
    message: Any,
    decode: Callable[[bytes], E],
    one: Callable[[E], Awaitable[object]],
    many: Callable[[list[E]], Awaitable[object]],
) -> None:
    """Apply one polled batch (`message.raw_message`, a tuple of records) with at-least-once delivery.

    1. Each record is decoded and validated on its own; one that is not the contract is set aside as a
       dead letter and the others go on.
    2. The valid ones are applied by `many` in ONE database transaction (bulk statements).
    3. If that transaction fails for a permanent reason (a rule crashing on one event, a practice
       mismatch), nothing of it was written: the events are applied again one at a time by `one`, the
       per-message path, and those that still fail are set aside as dead letters.
    4. Only when every database effect is committed are the dead letters published (in offset order),
       then this returns and the offsets of the whole batch are committed once.

    A transient failure (database or broker unreachable) at any step propagates: nothing is committed
    to Kafka and nothing was dead-lettered yet, the batch is retried from its first offsets, and the
    idempotent handlers skip what a fallback had already applied.
    """
    records: Sequence[Any] = message.raw_message
    outcomes = _batch_outcomes.get() or [Outcome() for _ in records]
    dead: list[tuple[int, BaseException]] = []
    valid: list[tuple[int, E]] = []
    for index, record in enumerate(records):
        try:
            valid.append((index, decode(record.value if record.value is not None else b"")))
        except Exception as exc:  # not JSON, not the contract: can never succeed
            dead.append((index, exc))
    try:
        await many([event for _, event in valid])
    except Exception as exc:
        if is_transient(exc):
            raise
        log.warning("batch not applied, applying its messages one at a time", error=type(exc).__name__)
        for index, event in valid:
            record = records[index]
            try:
                with structlog.contextvars.bound_contextvars(
                    partition=record.partition, offset=record.offset, **correlation_fields(record.value)
                ):
                    await one(event)
            except Exception as failure:
                if is_transient(failure):
                    raise
                dead.append((index, failure))
    for index, reason in sorted(dead, key=lambda found: found[0]):
        await publish_dead_letter(broker, service, records[index], reason)
        outcomes[index].dead_lettered = True


def encode(payload: str) -> bytes:
    return payload.encode()


def decode_headers(headers: Any) -> dict[str, str]:
    return {k: (v.decode() if isinstance(v, bytes) else str(v)) for k, v in (headers or [])}


async def relay_outbox(
    engine: AsyncEngine,
    outbox: Table,
    broker: KafkaBroker,
    settings: Settings,
    stop: asyncio.Event,
    service: str = "unknown",
) -> None:
    """Publish outbox rows in id order until `stop` is set. Safe to run in every replica."""
    while not stop.is_set():
        try:
            published = await relay_once(engine, outbox, broker, settings.outbox_batch)
            OUTBOX_PUBLISHED.labels(service).inc(published)
        except Exception as exc:
            log.warning("outbox relay failed, retrying", error=describe(exc))
            OUTBOX_RELAY_FAILURES.labels(service).inc()
            published = 0
            if needs_new_producer(exc):  # after a broker outage aiokafka's producer never recovers alone
                with contextlib.suppress(Exception):
                    await renew_producer(broker)
            await asyncio.sleep(settings.transient_retry_seconds)
        if published == 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=settings.outbox_idle_seconds)


def kafka_producer(broker: KafkaBroker) -> AIOKafkaProducer | None:
    """The aiokafka producer under the broker, None when it has no real one (FastStream's test broker).
    Looked up at each use: `renew_producer` may have replaced it."""
    state = getattr(broker.config.broker_config.producer, "_producer", None)
    try:
        producer = state.producer if state is not None else None
    except Exception:  # FastStream's "not connected" state raises on `.producer`
        return None
    return producer if isinstance(producer, AIOKafkaProducer) else None


async def relay_once(engine: AsyncEngine, outbox: Table, broker: KafkaBroker, limit: int = 500) -> int:
    """Publish one batch of outbox rows; delete them only after the broker acknowledged every one.

    The rows are already JSON with their key and topic, so they go straight to aiokafka's producer (the
    broker's own, with its idempotence and batching): FastStream's publish path (encoding, middlewares,
    a new correlation id per message) cost more CPU than the send itself, for rows sent by the hundred."""
    async with engine.begin() as conn:
        batch = await claim_batch(conn, outbox, limit)
        if not batch:
            return 0
        producer = kafka_producer(broker)
        acknowledged = []
        for row in batch:
            headers = {
                "content-type": "application/json",
                "event-type": row.event_type,
                "event-id": str(row.event_id),
            }
            if producer is not None:
                sent = await producer.send(
                    row.topic,
                    row.payload.encode(),
                    key=row.key,
                    headers=[(name, value.encode()) for name, value in headers.items()],
                )
            else:
                sent = await broker.publish(
                    row.payload.encode(), topic=row.topic, key=row.key, headers=headers, no_confirm=True
                )
            acknowledged.append(sent)
        await asyncio.gather(*[f for f in acknowledged if f is not None])
        await forget(conn, outbox, [row.id for row in batch])
    return len(batch)


def as_json(raw: bytes) -> Any:
    return json.loads(raw)
