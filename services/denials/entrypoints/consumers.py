"""Thin subscribers: parse the event, call the service layer.

Remit lines, the hot path, are consumed in batches (`consume_batch`: each record decoded on its own,
the batch applied in one transaction, one message at a time when that fails)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from faststream.kafka.annotations import KafkaMessage

from services.denials.app import Rulebook, handle_claim_submitted, handle_remit_line, handle_remit_lines
from shared.runtime.broker import consume_batch, subscriber_options
from shared.runtime.service import ServiceRuntime
from shared.schemas import ClaimSubmitted, RemitLineReceived, topics


def register(runtime: ServiceRuntime, rules: Rulebook, today: Callable[[], date]) -> None:
    @runtime.broker.subscriber(
        runtime.settings.topic(topics.REMIT_LINES),
        **subscriber_options("denials", "remit-lines", runtime.settings, batch=True),
    )
    async def on_remit_line(batch: KafkaMessage) -> None:
        day = today()

        async def one(event: RemitLineReceived) -> None:
            await handle_remit_line(runtime.engine, runtime.settings, rules, event, day)

        async def many(events: list[RemitLineReceived]) -> None:
            await handle_remit_lines(runtime.engine, runtime.settings, rules, events, day)

        await consume_batch(
            runtime.broker, runtime.name, batch, RemitLineReceived.model_validate_json, one, many
        )

    @runtime.broker.subscriber(
        runtime.settings.topic(topics.CLAIMS_SUBMITTED),
        **subscriber_options("denials", "claims", runtime.settings),
    )
    async def on_claim(claim: ClaimSubmitted) -> None:
        await handle_claim_submitted(runtime.engine, runtime.settings, rules, claim)
