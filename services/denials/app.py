"""Denials service layer: each adjudicated line gets exactly one decision, recorded and published once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from services.denials.adapters.orm import decisions, outbox, processed_events
from services.denials.domain.catalog import Catalog
from services.denials.domain.classify import OfficialText, Pricer, classify
from services.denials.domain.routing import RoutingConfig, load_routing
from services.denials.domain.rulepack import RuleFinding, RulePack, ScrubClaim, explain_denial, scrub
from shared.runtime.broker import PracticeMismatch
from shared.runtime.db import among, encoded_json, enqueue, first_time, first_times, outbox_row, to_apply
from shared.runtime.settings import Settings
from shared.schemas import (
    ClaimScrubbed,
    ClaimSubmitted,
    LineCategory,
    LineDecision,
    RemitLineReceived,
    RuleHit,
    event_id_for,
    now_utc,
    topics,
)

CONSUMER = "denials.remit-lines"


@dataclass
class Rulebook:
    """Everything a decision depends on besides the line: codes, routing, fee schedules, official lists."""

    catalog: Catalog
    routing: RoutingConfig
    pricer: Pricer | None = None
    official: OfficialText = field(default_factory=OfficialText)
    pack: RulePack | None = None


def decide(rules: Rulebook | Catalog, event: RemitLineReceived, today: date) -> LineDecision:
    if isinstance(rules, Catalog):
        rules = Rulebook(rules, load_routing())
    c = classify(rules.catalog, event, today, rules.routing, rules.pricer, rules.official)
    broken = (
        _broken_rule(rules, event)
        if c.category in (LineCategory.DENIED, LineCategory.PARTIALLY_DENIED)
        else None
    )
    summary = c.summary
    if broken is not None:
        summary += f" Coding rule {broken.rule_id}: {broken.message} Fix: {broken.fix} ({broken.citation})"
    return LineDecision(
        event_id=event_id_for("denials.decision", str(event.event_id)),
        occurred_at=now_utc(),
        practice_id=event.practice_id,
        correlation=event.correlation,
        source_event_id=event.event_id,
        file_id=event.file_id,
        payer_name=event.remittance.payer_name,
        payer_id=event.remittance.payer_id,
        trace_number=event.remittance.trace_number,
        payment_date=event.remittance.payment_date,
        payment_amount=event.remittance.payment_amount,
        patient_control_number=event.claim.patient_control_number,
        patient=event.claim.patient,
        submitted_procedure_code=event.line.submitted_procedure_code,
        submitted_modifiers=event.line.submitted_modifiers,
        units_billed=event.line.units_billed,
        units_paid=event.line.units_paid,
        line_control_number=event.line.line_control_number,
        adjustments=event.line.adjustments,
        remarks=(*event.line.remarks, *event.claim.remarks),
        payer_claim_control_number=event.claim.payer_claim_control_number,
        claim_status_code=event.claim.status_code,
        line_number=event.line.line_number,
        procedure_code=event.line.procedure_code,
        modifiers=event.line.modifiers,
        service_date=event.line.service_date,
        rendering_npi=event.claim.rendering_npi,
        charge=event.line.charge,
        allowed=event.line.allowed,
        paid=event.line.paid,
        category=c.category,
        queue=c.queue,
        needs_work=c.needs_work,
        priority=c.priority,
        amount_at_risk=c.amount_at_risk,
        deadline=c.deadline,
        codes=c.codes,
        summary=summary,
        broken_rule=broken,
        reason_category=c.reason_category,
        routing_rule=c.rule,
        posting=event.posting,
        match=event.match,
    )


def _hit(finding: RuleFinding) -> RuleHit:
    return RuleHit(
        rule_id=finding.rule_id,
        severity=finding.severity,
        line_numbers=finding.line_numbers,
        title=finding.title,
        message=finding.message,
        fix=finding.fix,
        citation=finding.citation,
    )


def _broken_rule(rules: Rulebook, event: RemitLineReceived) -> RuleHit | None:
    """After adjudication: the coding rule that explains why the line was denied, when one applies."""
    if rules.pack is None:
        return None
    claim = event.claim
    payer_type = rules.routing.payer_type(event.remittance.payer_id, claim.filing_indicator)
    found = explain_denial(
        [a.reason for a in event.line.adjustments],
        event.line,
        claim.lines,
        rules.pack,
        payer_type,
        payer_id=event.remittance.payer_id,
        place_of_service=claim.facility_code,
        claim_id=claim.patient_control_number,
    )
    return _hit(found) if found is not None else None


def scrub_claim(rules: Rulebook, claim: ClaimSubmitted) -> ClaimScrubbed:
    """Before submission: every line of a submitted claim against the rule pack."""
    payer_type = rules.routing.payer_type(claim.payer_id, claim.filing_indicator)
    findings = (
        scrub(ScrubClaim.from_claim_submitted(claim), rules.pack, payer_type=payer_type) if rules.pack else []
    )
    return ClaimScrubbed(
        event_id=event_id_for("denials.claim_scrubbed", str(claim.event_id)),
        occurred_at=now_utc(),
        practice_id=claim.practice_id,
        correlation=claim.correlation,
        source_event_id=claim.event_id,
        claim_id=claim.claim_id,
        payer_id=claim.payer_id,
        payer_type=payer_type,
        place_of_service=claim.place_of_service,
        rendering_npi=claim.rendering_npi,
        lines=claim.lines,
        findings=tuple(_hit(f) for f in findings),
    )


async def handle_claim_submitted(
    engine: AsyncEngine, settings: Settings, rules: Rulebook, claim: ClaimSubmitted
) -> ClaimScrubbed | None:
    async with engine.begin() as conn:
        if not await first_time(conn, processed_events, "denials.claims", claim.event_id):
            return None
        verdict = scrub_claim(rules, claim)
        await enqueue(conn, outbox, [outbox_row(settings.topic(topics.DENIALS_SCRUBS), verdict)])
    return verdict


def _not_the_owner(event: RemitLineReceived) -> PracticeMismatch:
    return PracticeMismatch(
        f"remit line {event.event_id} was decided for another practice; refusing practice "
        f"{event.practice_id!r}"
    )


def _decision_row(event: RemitLineReceived, decision: LineDecision, payload: str) -> dict[str, Any]:
    """The decisions row; `payload` is the decision as JSON, stored as it is published (one encoding)."""
    return {
        "source_event_id": event.event_id,
        "decision_event_id": decision.event_id,
        "practice_id": decision.practice_id,
        "category": decision.category.value,
        "queue": decision.queue,
        "priority": decision.priority,
        "amount_at_risk": decision.amount_at_risk,
        "decision_json": payload,
        "summary": decision.summary,
    }


_INSERT_DECISIONS = (
    pg_insert(decisions).values(decision=encoded_json("decision_json")).on_conflict_do_nothing()
)


async def handle_remit_line(
    engine: AsyncEngine, settings: Settings, rules: Rulebook, event: RemitLineReceived, today: date
) -> LineDecision | None:
    """Decide one line. Returns None when the event was already applied (a redelivery)."""
    async with engine.begin() as conn:
        owner = (
            await conn.execute(
                select(decisions.c.practice_id).where(decisions.c.source_event_id == event.event_id)
            )
        ).scalar_one_or_none()
        if owner is not None and owner != event.practice_id:
            raise _not_the_owner(event)
        if not await first_time(conn, processed_events, CONSUMER, event.event_id):
            return None
        decision = decide(rules, event, today)
        payload = decision.model_dump_json()
        await conn.execute(_INSERT_DECISIONS, _decision_row(event, decision, payload))
        await enqueue(conn, outbox, [outbox_row(settings.topic(topics.DENIALS_DECISIONS), decision, payload)])
    return decision


async def handle_remit_lines(
    engine: AsyncEngine,
    settings: Settings,
    rules: Rulebook,
    events: Sequence[RemitLineReceived],
    today: date,
) -> list[LineDecision]:
    """Decide a batch of lines in ONE transaction, with the same effects as `handle_remit_line` on each in
    turn: one ownership query, one processed-events insert, one decisions insert, one outbox insert.

    Any line that cannot be applied (a practice mismatch, a rule that crashes) raises and rolls the whole
    batch back; the consumer then applies the lines one at a time with `handle_remit_line`, so only that
    line is dead-lettered. Returns the decisions made (none for lines already applied)."""
    if not events:
        return []
    async with engine.begin() as conn:
        ids = [event.event_id for event in events]
        found = await conn.execute(
            select(decisions.c.source_event_id, decisions.c.practice_id).where(
                among(decisions.c.source_event_id, "ids")
            ),
            {"ids": ids},
        )
        owners = {row.source_event_id: row.practice_id for row in found}
        for event in events:  # a line decided earlier, or earlier in this batch, keeps its practice
            if owners.setdefault(event.event_id, event.practice_id) != event.practice_id:
                raise _not_the_owner(event)
        fresh = to_apply(events, await first_times(conn, processed_events, CONSUMER, ids))
        made = []
        for event in fresh:
            decision = decide(rules, event, today)
            made.append((event, decision, decision.model_dump_json()))
        if made:
            await conn.execute(
                _INSERT_DECISIONS,
                [_decision_row(event, decision, payload) for event, decision, payload in made],
            )
            topic = settings.topic(topics.DENIALS_DECISIONS)
            await enqueue(
                conn, outbox, [outbox_row(topic, decision, payload) for _, decision, payload in made]
            )
    return [decision for _, decision, _ in made]
