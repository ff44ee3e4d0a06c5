"""Thin subscribers: each finding of another service becomes (or updates) a work item."""

from __future__ import annotations

from services.queues.app import apply_auth_check, apply_decision, apply_rejection
from shared.runtime.broker import subscriber_options
from shared.runtime.service import ServiceRuntime
from shared.schemas import AuthChecked, IngestRejection, LineDecision, topics


def register(runtime: ServiceRuntime) -> None:
    broker, settings, engine = runtime.broker, runtime.settings, runtime.engine

    @broker.subscriber(settings.topic(topics.DENIALS_DECISIONS), **subscriber_options("queues", "decisions"))
    async def on_decision(decision: LineDecision) -> None:
        await apply_decision(engine, decision)

    @broker.subscriber(settings.topic(topics.INGEST_REJECTIONS), **subscriber_options("queues", "rejections"))
    async def on_rejection(rejection: IngestRejection) -> None:
        await apply_rejection(engine, rejection)

    @broker.subscriber(settings.topic(topics.AUTHS_CHECKS), **subscriber_options("queues", "auth-checks"))
    async def on_auth_check(check: AuthChecked) -> None:
        await apply_auth_check(engine, check)
