"""Thin subscribers of the auths service."""

from __future__ import annotations

from services.auths.app import handle_auth, handle_claim, handle_documented, handle_scheduled
from shared.runtime.broker import subscriber_options
from shared.runtime.service import ServiceRuntime
from shared.schemas import AuthRecorded, ClaimDocumented, ClaimSubmitted, ProcedureScheduled, topics


def register(runtime: ServiceRuntime) -> None:
    broker, settings, engine = runtime.broker, runtime.settings, runtime.engine

    @broker.subscriber(
        settings.topic(topics.CLAIMS_SUBMITTED), **subscriber_options("auths", "claims", settings)
    )
    async def on_claim(claim: ClaimSubmitted) -> None:
        await handle_claim(engine, settings, claim)

    @broker.subscriber(
        settings.topic(topics.AUTHS_RECORDS), **subscriber_options("auths", "records", settings)
    )
    async def on_auth(auth: AuthRecorded) -> None:
        await handle_auth(engine, settings, auth)

    @broker.subscriber(
        settings.topic(topics.AUTHS_DOCUMENTATION), **subscriber_options("auths", "documentation", settings)
    )
    async def on_documented(event: ClaimDocumented) -> None:
        await handle_documented(engine, settings, event)

    @broker.subscriber(
        settings.topic(topics.AUTHS_SCHEDULED), **subscriber_options("auths", "scheduled", settings)
    )
    async def on_scheduled(event: ProcedureScheduled) -> None:
        await handle_scheduled(engine, settings, event)
