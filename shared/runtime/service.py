"""One way to run a service: FastStream subscribers, the outbox relay and health endpoints in one ASGI app."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.kafka import KafkaBroker
from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.runtime.broker import relay_outbox
from shared.runtime.logging import get_logger
from shared.runtime.settings import Settings

log = get_logger("claimline.service")


@dataclass
class ServiceRuntime:
    """What a running service holds: its name, settings, broker, database engine and outbox table."""

    name: str
    settings: Settings
    broker: KafkaBroker
    engine: AsyncEngine
    outbox: Table | None = None
    background: list[Callable[[asyncio.Event], Awaitable[None]]] = field(default_factory=list)


async def database_ready(engine: AsyncEngine) -> bool:
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


def build_asgi(runtime: ServiceRuntime) -> AsgiFastStream:
    stop = asyncio.Event()
    tasks: list[asyncio.Task[Any]] = []

    async def start_background() -> None:
        stop.clear()
        if runtime.outbox is not None:
            tasks.append(asyncio.create_task(
                relay_outbox(runtime.engine, runtime.outbox, runtime.broker, runtime.settings, stop)
            ))
        for job in runtime.background:
            tasks.append(asyncio.create_task(job(stop)))
        log.info("service started", topic_prefix=runtime.settings.topic_prefix or None)

    async def stop_background() -> None:
        stop.set()
        for task in tasks:
            try:
                await asyncio.wait_for(task, timeout=10)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
        tasks.clear()
        log.info("service stopping")

    async def dispose() -> None:
        await runtime.engine.dispose()

    @get
    async def live(scope: Any) -> AsgiResponse:
        return AsgiResponse(b'{"status":"live"}', 200, headers={"content-type": "application/json"})

    @get
    async def ready(scope: Any) -> AsgiResponse:
        broker_ok = await runtime.broker.ping(timeout=2.0)
        db_ok = await database_ready(runtime.engine)
        body = f'{{"broker":{str(broker_ok).lower()},"database":{str(db_ok).lower()}}}'.encode()
        return AsgiResponse(body, 200 if broker_ok and db_ok else 503, headers={"content-type": "application/json"})

    return AsgiFastStream(
        runtime.broker,
        asgi_routes=[("/health/live", live), ("/health/ready", ready)],
        after_startup=[start_background],
        on_shutdown=[stop_background],
        after_shutdown=[dispose],
        logger=None,
    )
