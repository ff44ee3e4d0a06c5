"""Thin subscribers: parse the event, call the service layer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from services.denials.app import Rulebook, handle_claim_submitted, handle_remit_line
from shared.runtime.broker import subscriber_options
from shared.runtime.service import ServiceRuntime
from shared.schemas import ClaimSubmitted, RemitLineReceived, topics


def register(runtime: ServiceRuntime, rules: Rulebook, today: Callable[[], date]) -> None:
    @runtime.broker.subscriber(
        runtime.settings.topic(topics.REMIT_LINES),
        **subscriber_options("denials", "remit-lines", runtime.settings),
    )
    async def on_remit_line(event: RemitLineReceived) -> None:
        await handle_remit_line(runtime.engine, runtime.settings, rules, event, today())

    @runtime.broker.subscriber(
        runtime.settings.topic(topics.CLAIMS_SUBMITTED),
        **subscriber_options("denials", "claims", runtime.settings),
    )
    async def on_claim(claim: ClaimSubmitted) -> None:
        await handle_claim_submitted(runtime.engine, runtime.settings, rules, claim)
