"""Thin subscribers: each finding of another service becomes (or updates) a work item.

Decisions, the hot path, are consumed in batches (`consume_batch`: each record decoded on its own, the
batch applied in one transaction, one message at a time when that fails)."""

from __future__ import annotations

from typing import Annotated

from faststream.kafka.annotations import KafkaMessage
from pydantic import Field

from services.queues.app import (
    apply_auth_check,
    apply_claim_ack,
    apply_decision,
    apply_decisions,
    apply_file,
    apply_limits,
    apply_practice,
    apply_provider_adjustment,
    apply_rejection,
    apply_scrub,
    apply_set_ack,
)
from shared.runtime.broker import consume_batch, subscriber_options
from shared.runtime.service import ServiceRuntime
from shared.schemas import (
    AuthChecked,
    ClaimAcknowledged,
    ClaimLimitsChecked,
    ClaimScrubbed,
    FileIngested,
    IngestRejection,
    LineDecision,
    PracticeRegistered,
    ProviderAdjustmentReceived,
    TransactionSetAcknowledged,
    topics,
)

Acknowledgment = Annotated[ClaimAcknowledged | TransactionSetAcknowledged, Field(discriminator="event_type")]


def register(runtime: ServiceRuntime) -> None:
    broker, settings, engine = runtime.broker, runtime.settings, runtime.engine

    @broker.subscriber(
        settings.topic(topics.DENIALS_DECISIONS),
        **subscriber_options("queues", "decisions", settings, batch=True),
    )
    async def on_decision(batch: KafkaMessage) -> None:
        async def one(decision: LineDecision) -> None:
            await apply_decision(engine, decision)

        async def many(decisions: list[LineDecision]) -> None:
            await apply_decisions(engine, decisions)

        await consume_batch(broker, runtime.name, batch, LineDecision.model_validate_json, one, many)

    @broker.subscriber(
        settings.topic(topics.INGEST_REJECTIONS), **subscriber_options("queues", "rejections", settings)
    )
    async def on_rejection(rejection: IngestRejection) -> None:
        await apply_rejection(engine, rejection)

    @broker.subscriber(
        settings.topic(topics.REMIT_PROVIDER_ADJUSTMENTS),
        **subscriber_options("queues", "provider-adjustments", settings),
    )
    async def on_provider_adjustment(adjustment: ProviderAdjustmentReceived) -> None:
        await apply_provider_adjustment(engine, adjustment)

    @broker.subscriber(
        settings.topic(topics.AUTHS_CHECKS), **subscriber_options("queues", "auth-checks", settings)
    )
    async def on_auth_check(check: AuthChecked) -> None:
        await apply_auth_check(engine, check)

    @broker.subscriber(settings.topic(topics.INGEST_FILES), **subscriber_options("queues", "files", settings))
    async def on_file(event: FileIngested) -> None:
        await apply_file(engine, event)

    @broker.subscriber(
        settings.topic(topics.PRACTICES), **subscriber_options("queues", "practices", settings)
    )
    async def on_practice(event: PracticeRegistered) -> None:
        await apply_practice(engine, event)

    @broker.subscriber(
        settings.topic(topics.CLAIMS_ACKNOWLEDGMENTS),
        **subscriber_options("queues", "acknowledgments", settings),
    )
    async def on_acknowledgment(ack: Acknowledgment) -> None:
        if isinstance(ack, ClaimAcknowledged):
            await apply_claim_ack(engine, ack)
        else:
            await apply_set_ack(engine, ack)

    @broker.subscriber(
        settings.topic(topics.DENIALS_SCRUBS), **subscriber_options("queues", "scrubs", settings)
    )
    async def on_scrub(verdict: ClaimScrubbed) -> None:
        await apply_scrub(engine, verdict)

    @broker.subscriber(
        settings.topic(topics.AUTHS_LIMITS), **subscriber_options("queues", "limits", settings)
    )
    async def on_limits(verdict: ClaimLimitsChecked) -> None:
        await apply_limits(engine, verdict)
