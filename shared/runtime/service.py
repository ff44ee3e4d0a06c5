"""One way to run a service: FastStream subscribers, the outbox relay and health endpoints in one ASGI app."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.kafka import KafkaBroker
from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.runtime.broker import relay_outbox
from shared.runtime.logging import get_logger
from shared.runtime.metrics import scrape
from shared.runtime.security import kafka_client_options
from shared.runtime.settings import Settings
from shared.runtime.topics_admin import ensure_topics, with_dead_letters

log = get_logger("claimline.service")


@dataclass
class ServiceRuntime:
    """What a running service holds: its name, settings, broker, database engine and outbox table."""

    name: str
    settings: Settings
    broker: KafkaBroker
    engine: AsyncEngine
    outbox: Table | None = None
    topics: list[str] = field(default_factory=list)
    background: list[Callable[[asyncio.Event], Coroutine[Any, Any, None]]] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    async def prepare(self) -> None:
        """Create this service's topics (and their dead-letter topics) before subscribing."""
        if self.topics:
            await ensure_topics(
                self.settings.kafka_bootstrap_servers,
                with_dead_letters(self.topics),
                self.settings.topic_partitions,
                self.settings.topic_replication,
                kafka_client_options(self.settings),
            )

    async def start_background(self) -> None:
        self._stop.clear()
        if self.outbox is not None:
            self._tasks.append(
                asyncio.create_task(
                    relay_outbox(self.engine, self.outbox, self.broker, self.settings, self._stop, self.name)
                )
            )
        for job in self.background:
            self._tasks.append(asyncio.create_task(job(self._stop)))
        log.info(
            "service started",
            topic_prefix=self.settings.topic_prefix or None,
            kafka_security_protocol=self.settings.kafka_security_protocol,
            database_sslmode=self.settings.database_sslmode,
        )

    async def shutdown(self) -> None:
        """SIGTERM: stop fetching, let each in-flight message finish and commit (or, past
        CLAIMLINE_SHUTDOWN_GRACE_SECONDS, cancel it uncommitted so it is redelivered), then stop the
        relay, which publishes what those messages wrote to the outbox while the producer is still open."""
        await asyncio.gather(*(subscriber.stop() for subscriber in self.broker.subscribers))
        await self.stop_background()

    async def stop_background(self) -> None:
        """Let the relay finish its batch (graceful shutdown), cancel it only if it hangs."""
        self._stop.set()
        for task in self._tasks:
            try:
                await asyncio.wait_for(task, timeout=10)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
        self._tasks.clear()
        log.info("service stopping")

    @asynccontextmanager
    async def running(self) -> AsyncIterator[ServiceRuntime]:
        """Run in this event loop (tests and embedding): topics, broker, background jobs."""
        await self.prepare()
        await self.broker.start()
        await self.start_background()
        try:
            yield self
        finally:
            await self.shutdown()
            await self.broker.stop()
            await self.engine.dispose()


def tune_gc(threshold: int) -> None:
    """Once a service has started: move everything it loaded (modules, rule pack, catalogs) out of the
    garbage collector's sight, and collect the young generation every `threshold` allocations instead of
    every 700.

    A batch of 500 decoded events is some 50,000 live objects; with the defaults the collector ran
    through them (and through every long-lived object of the process) over and over while the batch was
    built, which cost more CPU than validating the events. Objects are still freed by reference
    counting the moment they are unused; only reference cycles wait for a collection."""
    if threshold <= 0:
        return
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(threshold, middle, oldest)
    log.info("garbage collector tuned", threshold=threshold, frozen_objects=gc.get_freeze_count())


async def database_ready(engine: AsyncEngine) -> bool:
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


def build_asgi(runtime: ServiceRuntime) -> AsgiFastStream:
    async def dispose() -> None:
        await runtime.engine.dispose()

    async def collect_less() -> None:  # a coroutine: FastStream would run a plain function in a thread
        tune_gc(runtime.settings.gc_threshold)

    @get
    async def live(scope: Any) -> AsgiResponse:
        return AsgiResponse(b'{"status":"live"}', 200, headers={"content-type": "application/json"})

    @get
    async def ready(scope: Any) -> AsgiResponse:
        broker_ok = await runtime.broker.ping(timeout=2.0)
        db_ok = await database_ready(runtime.engine)
        body = f'{{"broker":{str(broker_ok).lower()},"database":{str(db_ok).lower()}}}'.encode()
        return AsgiResponse(
            body, 200 if broker_ok and db_ok else 503, headers={"content-type": "application/json"}
        )

    @get
    async def metrics(scope: Any) -> AsgiResponse:
        body, content_type = await scrape(runtime.name, runtime.broker.subscribers)
        return AsgiResponse(body, 200, headers={"content-type": content_type})

    return AsgiFastStream(
        runtime.broker,
        asgi_routes=[("/health/live", live), ("/health/ready", ready), ("/metrics", metrics)],
        on_startup=[runtime.prepare],
        after_startup=[runtime.start_background, collect_less],
        on_shutdown=[runtime.shutdown],  # then FastStream stops the (already idle) broker
        after_shutdown=[dispose],
        logger=None,
    )
