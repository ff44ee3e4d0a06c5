"""Queues service layer: findings of the other services become work items, idempotently."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.queues.adapters.orm import (
    claim_ack_lines,
    files,
    patient_sessions,
    practices,
    processed_events,
    remit_lines,
    work_items,
)
from shared.runtime.broker import PracticeMismatch
from shared.runtime.db import among, encoded_json, first_time, first_times, json_text, to_apply
from shared.schemas import (
    AuthChecked,
    AuthCheckResult,
    ClaimAcknowledged,
    ClaimLimitsChecked,
    ClaimScrubbed,
    FileIngested,
    IngestRejection,
    LineDecision,
    PracticeRegistered,
    ProviderAdjustmentReceived,
    TransactionSetAcknowledged,
    event_id_for,
)
from shared.schemas.money import dollars

ITEM_NAMESPACE = uuid.UUID("0b7f3a0e-3f7e-4d55-b7de-8a0c2f55c0d4")

AUTH_PROBLEMS = {
    AuthCheckResult.MISSING,
    AuthCheckResult.PENDING,
    AuthCheckResult.DENIED,
    AuthCheckResult.EXPIRED,
    AuthCheckResult.NOT_YET_VALID,
    AuthCheckResult.DIFFERENT_PROCEDURE,
    AuthCheckResult.DIFFERENT_PROVIDER,
    AuthCheckResult.UNITS_EXHAUSTED,
}


def item_id_for(kind: str, *identity: str) -> uuid.UUID:
    return uuid.uuid5(ITEM_NAMESPACE, "\x1f".join((kind, *identity)))


async def _check_owner(conn: AsyncConnection, item_id: uuid.UUID, practice_id: str) -> None:
    owner = (
        await conn.execute(select(work_items.c.practice_id).where(work_items.c.item_id == item_id))
    ).scalar_one_or_none()
    if owner is not None and owner != practice_id:
        raise PracticeMismatch(
            f"work item {item_id} belongs to another practice; event names {practice_id!r}"
        )


def _remit_line_row(decision: LineDecision, payload: str) -> dict[str, Any]:
    """The ERA view's row of a decided line; `payload` is the decision as JSON (`model_dump_json`)."""
    return {
        "source_event_id": decision.source_event_id,
        "practice_id": decision.practice_id,
        "provider_npi": decision.rendering_npi,
        "file_id": decision.file_id,
        "trace_number": decision.trace_number,
        "payer_id": decision.payer_id,
        "payment_date": decision.payment_date,
        "payer_name": decision.payer_name,
        "claim_id": decision.patient_control_number,
        "claim_status_code": decision.claim_status_code,
        "line_number": decision.line_number,
        "procedure_code": decision.procedure_code,
        "modifiers": list(decision.modifiers),
        "service_date": decision.service_date,
        "charge": decision.charge,
        "allowed": decision.allowed,
        "paid": decision.paid,
        "category": decision.category.value,
        "summary": decision.summary,
        "decision_json": payload,
    }


async def _decision_item(
    conn: AsyncConnection, decision: LineDecision, payload: str
) -> dict[str, Any] | None:
    """The work item of a decided line, None when the line needs no work. Its detail is the decision
    (`payload`, its JSON), with the patient's sessions beside it for a frequency denial."""
    if not (decision.needs_work and decision.queue):
        return None
    carcs = {a.reason for a in decision.adjustments}
    if carcs & FREQUENCY_CARCS and decision.patient.member_id:
        history = await _sessions_of(conn, decision.practice_id, decision.patient.member_id)
        payload = json_text(decision.model_dump(mode="json") | {"frequency_history": history})
    return {
        "item_id": item_id_for("line", str(decision.source_event_id)),
        "practice_id": decision.practice_id,
        "provider_npi": decision.rendering_npi,
        "kind": "denial",
        "category": decision.category.value,
        "queue": decision.queue,
        "priority": decision.priority,
        "amount_at_risk": decision.amount_at_risk,
        "deadline": decision.deadline,
        "summary": decision.summary,
        "payer_name": decision.payer_name,
        "claim_id": decision.patient_control_number,
        "line_number": decision.line_number,
        "procedure_code": decision.procedure_code,
        "service_date": decision.service_date,
        "file_id": decision.file_id,
        "source_event_id": decision.event_id,
        "revision": 0,
        "detail_json": payload,
    }


async def apply_decision(engine: AsyncEngine, decision: LineDecision) -> bool:
    """Record the line for the ERA view and, when it needs work, its work item. False on a redelivery."""
    item_id = item_id_for("line", str(decision.source_event_id))
    async with engine.begin() as conn:
        await _check_owner(conn, item_id, decision.practice_id)
        if not await first_time(conn, processed_events, "queues.decisions", decision.event_id):
            return False
        payload = decision.model_dump_json()
        await conn.execute(_INSERT_REMIT_LINES, _remit_line_row(decision, payload))
        if (item := await _decision_item(conn, decision, payload)) is not None:
            await conn.execute(_item_upsert(item.keys()), item)
    return True


async def apply_decisions(engine: AsyncEngine, batch: Sequence[LineDecision]) -> int:
    """A batch of decisions in ONE transaction, with the same effects as `apply_decision` on each in
    turn: one ownership query, one processed-events insert, one insert of the lines, one upsert of the
    work items. Raises, and writes nothing, when any decision cannot be applied (another practice's work
    item); the consumer then applies them one at a time. Returns how many were applied for the first time.
    """
    if not batch:
        return 0
    async with engine.begin() as conn:
        item_ids = [item_id_for("line", str(decision.source_event_id)) for decision in batch]
        found = await conn.execute(
            select(work_items.c.item_id, work_items.c.practice_id).where(among(work_items.c.item_id, "ids")),
            {"ids": item_ids},
        )
        owners = {row.item_id: row.practice_id for row in found}
        for item_id, decision in zip(item_ids, batch, strict=True):
            # stricter than one at a time (a line of this batch claims its item even when it needs no
            # work): a conflict inside the batch sends it down the one-at-a-time path, which decides
            if owners.setdefault(item_id, decision.practice_id) != decision.practice_id:
                raise PracticeMismatch(
                    f"work item {item_id} belongs to another practice; event names {decision.practice_id!r}"
                )
        first = await first_times(conn, processed_events, "queues.decisions", [d.event_id for d in batch])
        todo = to_apply(batch, first)
        if not todo:
            return 0
        lines, items = [], []
        for decision in todo:
            payload = decision.model_dump_json()
            lines.append(_remit_line_row(decision, payload))
            if (item := await _decision_item(conn, decision, payload)) is not None:
                items.append(item)
        await conn.execute(_INSERT_REMIT_LINES, lines)
        if items:
            await conn.execute(_item_upsert(items[0].keys()), items)
    return len(todo)


async def apply_rejection(engine: AsyncEngine, rejection: IngestRejection) -> bool:
    item_id = item_id_for("rejection", str(rejection.event_id))
    loc = rejection.location
    where = ", ".join(
        part
        for part in (
            f"interchange {loc.interchange_control}" if loc.interchange_control else "",
            f"transaction {loc.transaction_control}" if loc.transaction_control else "",
            f"segment {loc.segment_position} ({loc.segment_id})" if loc.segment_position else "",
            f"element {loc.element_position}" if loc.element_position else "",
        )
        if part
    )
    found = f"; expected {rejection.expected}, found {rejection.found}" if rejection.expected else ""
    async with engine.begin() as conn:
        await _check_owner(conn, item_id, rejection.practice_id)
        if not await first_time(conn, processed_events, "queues.rejections", rejection.event_id):
            return False
        await _upsert_item(
            conn,
            {
                "item_id": item_id,
                "practice_id": rejection.practice_id,
                "kind": "rejection",
                "category": "ingest_rejection",
                "queue": "rejections",
                "priority": 50,
                "amount_at_risk": 0,
                "summary": f"{rejection.file_name}: {rejection.reason} ({where or 'whole file'}){found}",
                "file_id": rejection.file_id,
                "source_event_id": rejection.event_id,
                "revision": 0,
                "detail": rejection.model_dump(mode="json"),
            },
        )
    return True


PLB_MEANINGS = {
    "WO": "overpayment recovery",
    "FB": "forwarding balance",
    "72": "authorized return (provider refund)",
    "J1": "nonreimbursable",
    "L6": "interest owed",
    "50": "late filing charge",
    "51": "interest penalty charge",
    "CS": "adjustment",
    "IR": "IRS withholding",
    "LE": "levy",
    "B2": "rebate",
    "L3": "penalty",
    "WU": "unspecified recovery",
    "E3": "withholding",
    "90": "early payment allowance",
}


async def apply_provider_adjustment(engine: AsyncEngine, adjustment: ProviderAdjustmentReceived) -> bool:
    """A PLB amount taken back or held (positive) is money at risk; one paid out (negative) is recorded."""
    item_id = item_id_for("plb", str(adjustment.event_id))
    meaning = PLB_MEANINGS.get(adjustment.reason_code, f"reason {adjustment.reason_code}")
    remit = adjustment.remittance
    taken = adjustment.amount > 0
    reference = f" for {adjustment.reference}" if adjustment.reference else ""
    summary = (
        f"Payer {'took back' if taken else 'added'} {dollars(abs(adjustment.amount))} "
        f"({adjustment.reason_code} {meaning}){reference} on trace {remit.trace_number or '-'}"
        + ("; find the claim it recovers and check the recoupment is right." if taken else ".")
    )
    async with engine.begin() as conn:
        await _check_owner(conn, item_id, adjustment.practice_id)
        if not await first_time(conn, processed_events, "queues.provider-adjustments", adjustment.event_id):
            return False
        await _upsert_item(
            conn,
            {
                "item_id": item_id,
                "practice_id": adjustment.practice_id,
                "kind": "provider_adjustment",
                "category": "recoupment" if taken else "provider_payment",
                "queue": "provider_adjustments",
                "status": "new" if taken else "resolved",
                "priority": 55 if taken else 0,
                "amount_at_risk": adjustment.amount if taken else 0,
                "summary": summary,
                "payer_name": remit.payer_name,
                "claim_id": adjustment.reference,
                "file_id": adjustment.file_id,
                "source_event_id": adjustment.event_id,
                "revision": 0,
                "detail": adjustment.model_dump(mode="json"),
            },
        )
    return True


async def apply_auth_check(engine: AsyncEngine, check: AuthChecked) -> bool:
    """One item per claim line; a later revision updates it, and a valid auth resolves it."""
    item_id = item_id_for("auth", check.practice_id, check.payer_id, check.claim_id, str(check.line_number))
    async with engine.begin() as conn:
        await _check_owner(conn, item_id, check.practice_id)
        if not await first_time(conn, processed_events, "queues.auth-checks", check.event_id):
            return False
        current = (
            await conn.execute(select(work_items.c.revision).where(work_items.c.item_id == item_id))
        ).scalar_one_or_none()
        if current is not None and current > check.revision:
            return True  # an older evaluation arriving late changes nothing
        problem = check.result in AUTH_PROBLEMS
        if current is None and not problem:
            return True
        await _upsert_item(
            conn,
            {
                "item_id": item_id,
                "practice_id": check.practice_id,
                "provider_npi": check.rendering_npi,
                "kind": "auth",
                "category": "awaiting_auth" if problem else "auth_valid",
                "queue": "authorization",
                "status": "new" if problem else "resolved",
                "priority": 70 if problem else 0,
                "amount_at_risk": check.charge if problem else 0,
                "summary": (
                    f"Scheduled for {check.service_date}: " if check.claim_id.startswith("scheduled:") else ""
                )
                + check.reason,
                "claim_id": check.claim_id,
                "line_number": check.line_number,
                "procedure_code": check.procedure_code,
                "service_date": check.service_date,
                "source_event_id": check.event_id,
                "revision": check.revision,
                "detail": check.model_dump(mode="json"),
            },
        )
    return True


async def apply_claim_ack(engine: AsyncEngine, ack: ClaimAcknowledged) -> bool:
    """A rejected claim becomes work; a later acceptance of the same claim resolves it."""
    item_id = item_id_for("claim-ack", ack.practice_id, ack.claim_id)
    reasons = (
        "; ".join(f"{s.category}{'/' + s.code if s.code else ''} {s.meaning}" for s in ack.statuses)
        or "no status given"
    )
    async with engine.begin() as conn:
        await _check_owner(conn, item_id, ack.practice_id)
        if not await first_time(conn, processed_events, "queues.claim-acks", ack.event_id):
            return False
        await _keep_ack_lines(conn, ack)
        exists = (
            await conn.execute(select(work_items.c.item_id).where(work_items.c.item_id == item_id))
        ).first() is not None
        if ack.accepted and not exists:
            return True
        summary = (
            f"Claim {ack.claim_id} accepted by the clearinghouse or payer ({reasons})."
            if ack.accepted
            else f"Claim {ack.claim_id} was rejected before adjudication: {reasons}. Fix it and resubmit."
        )
        await _upsert_item(
            conn,
            {
                "item_id": item_id,
                "practice_id": ack.practice_id,
                "kind": "claim_ack",
                "category": "clearinghouse_rejection" if not ack.accepted else "clearinghouse_accepted",
                "queue": "clearinghouse_rejections",
                "status": "resolved" if ack.accepted else "new",
                "priority": 0 if ack.accepted else 65,
                "amount_at_risk": 0 if ack.accepted else (ack.total_charge or 0),
                "summary": summary,
                "claim_id": ack.claim_id,
                "file_id": ack.file_id,
                "source_event_id": ack.event_id,
                "revision": 0,
                "detail": ack.model_dump(mode="json"),
            },
        )
    return True


async def _keep_ack_lines(conn: AsyncConnection, ack: ClaimAcknowledged) -> None:
    """The 277CA's echo of each line, for the modifier audit trail (latest acknowledgment wins)."""
    for line in ack.lines:
        key = line.line_control_number or f"{line.procedure_code}|{line.service_date}"
        values = {
            "practice_id": ack.practice_id,
            "claim_id": ack.claim_id,
            "line_key": key,
            "procedure_code": line.procedure_code,
            "modifiers": list(line.modifiers),
            "charge": line.charge,
            "service_date": line.service_date,
            "line_control_number": line.line_control_number,
            "accepted": line.accepted,
            "file_id": ack.file_id,
        }
        stmt = pg_insert(claim_ack_lines).values(**values)
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[
                    claim_ack_lines.c.practice_id,
                    claim_ack_lines.c.claim_id,
                    claim_ack_lines.c.line_key,
                ],
                set_={
                    k: stmt.excluded[k] for k in values if k not in ("practice_id", "claim_id", "line_key")
                },
            )
        )


async def apply_set_ack(engine: AsyncEngine, ack: TransactionSetAcknowledged) -> bool:
    """A 999 that rejects a transaction set means none of its claims reach the payer: work it."""
    if ack.accepted and not ack.errors:
        async with engine.begin() as conn:
            await first_time(conn, processed_events, "queues.set-acks", ack.event_id)
        return True
    item_id = item_id_for("set-ack", str(ack.event_id))
    errors = "; ".join(ack.errors) or "no error detail given"
    verdict = "accepted with errors" if ack.accepted else "rejected"
    async with engine.begin() as conn:
        await _check_owner(conn, item_id, ack.practice_id)
        if not await first_time(conn, processed_events, "queues.set-acks", ack.event_id):
            return False
        await _upsert_item(
            conn,
            {
                "item_id": item_id,
                "practice_id": ack.practice_id,
                "kind": "set_ack",
                "category": "clearinghouse_rejection",
                "queue": "clearinghouse_rejections",
                "priority": 40 if ack.accepted else 75,
                "amount_at_risk": 0,
                "summary": (
                    f"999 {verdict} transaction set {ack.transaction_set_id or '?'} "
                    f"{ack.transaction_control or ''} (code {ack.result_code}): {errors}"
                ),
                "file_id": ack.file_id,
                "source_event_id": ack.event_id,
                "revision": 0,
                "detail": ack.model_dump(mode="json"),
            },
        )
    return True


async def apply_scrub(engine: AsyncEngine, verdict: ClaimScrubbed) -> bool:
    """Every held line becomes coding work before the claim goes out; holds that a corrected claim no
    longer has are resolved."""
    async with engine.begin() as conn:
        if not await first_time(conn, processed_events, "queues.scrubs", verdict.event_id):
            return False
        held_ids = set()
        lines = {line.line_number: line for line in verdict.lines}
        for hit in verdict.findings:
            if hit.severity != "hold":
                continue
            line = lines.get(hit.line_numbers[0]) if hit.line_numbers else None
            item_id = item_id_for(
                "rule",
                verdict.practice_id,
                verdict.claim_id,
                hit.rule_id,
                ",".join(map(str, hit.line_numbers)),
            )
            held_ids.add(item_id)
            await _check_owner(conn, item_id, verdict.practice_id)
            await _upsert_item(
                conn,
                {
                    "item_id": item_id,
                    "practice_id": verdict.practice_id,
                    "provider_npi": verdict.rendering_npi,
                    "kind": "rule",
                    "category": "rule_hold",
                    "queue": "coding_modifiers",
                    "status": "new",
                    "priority": 60,
                    "amount_at_risk": line.charge if line else 0,
                    "summary": (
                        f"Held before submission ({hit.rule_id}): {hit.message} "
                        f"Fix: {hit.fix} ({hit.citation})"
                    ),
                    "claim_id": verdict.claim_id,
                    "line_number": line.line_number if line else None,
                    "procedure_code": line.procedure_code if line else None,
                    "service_date": line.service_date if line else None,
                    "source_event_id": verdict.event_id,
                    "revision": 0,
                    "detail": {
                        **hit.model_dump(mode="json"),
                        "payer_type": verdict.payer_type,
                        "place_of_service": verdict.place_of_service,
                        "lines": [ln.model_dump(mode="json") for ln in verdict.lines],
                    },
                },
            )
        await _resolve_the_rest(
            conn,
            verdict.practice_id,
            verdict.claim_id,
            "rule",
            keep=held_ids,
            note=" Resolved: the corrected claim no longer breaks this rule.",
        )
    return True


FREQUENCY_CARCS = frozenset({"119", "151", "273"})


async def _sessions_of(conn: AsyncConnection, practice_id: str, member_id: str) -> list[dict[str, Any]]:
    """The practice's own sessions of the patient, linked to a frequency denial so the biller can check
    the payer's count (other practices' sessions stay in the hold and the patient view)."""
    rows = await conn.execute(
        select(
            patient_sessions.c.service_date,
            patient_sessions.c.family,
            patient_sessions.c.region,
            patient_sessions.c.claim_id,
        )
        .where(
            patient_sessions.c.practice_id == practice_id,
            patient_sessions.c.member_key == member_key(member_id),
        )
        .order_by(patient_sessions.c.service_date)
    )
    return [
        {
            "service_date": r.service_date.isoformat(),
            "family": r.family,
            "region": r.region or None,
            "claim_id": r.claim_id,
        }
        for r in rows
    ]


def member_key(member_id: str | None) -> str:
    return "".join(ch for ch in (member_id or "").upper() if ch.isalnum())


async def apply_limits(engine: AsyncEngine, verdict: ClaimLimitsChecked) -> bool:
    """A claim over a frequency cap, or without its prerequisites, is held as work with the history that
    counts against it; findings a corrected claim no longer has are resolved. The claim's sessions feed
    the patient's frequency history view."""
    async with engine.begin() as conn:
        if not await first_time(conn, processed_events, "queues.limits", verdict.event_id):
            return False
        await conn.execute(
            patient_sessions.delete().where(
                patient_sessions.c.practice_id == verdict.practice_id,
                patient_sessions.c.claim_id == verdict.claim_id,
            )
        )
        for seen in verdict.sessions:
            await conn.execute(
                pg_insert(patient_sessions)
                .values(
                    practice_id=verdict.practice_id,
                    claim_id=verdict.claim_id,
                    service_date=seen.service_date,
                    family=seen.family,
                    region=seen.region or "",
                    member_key=member_key(verdict.patient.member_id),
                    birth_date=verdict.patient_birth_date,
                    provider_npi=verdict.rendering_npi,
                )
                .on_conflict_do_nothing()
            )
        lines = {line.line_number: line for line in verdict.lines}
        current = set()
        for finding in verdict.findings:
            line = lines.get(finding.line_numbers[0]) if finding.line_numbers else None
            item_id = item_id_for(
                "limit",
                verdict.practice_id,
                verdict.claim_id,
                finding.kind,
                finding.family,
                finding.region or "",
                finding.finding or "",
            )
            current.add(item_id)
            await _check_owner(conn, item_id, verdict.practice_id)
            label = "Over the frequency limit" if finding.kind == "frequency" else "Prerequisite missing"
            await _upsert_item(
                conn,
                {
                    "item_id": item_id,
                    "practice_id": verdict.practice_id,
                    "provider_npi": verdict.rendering_npi,
                    "kind": "limit",
                    "category": "frequency_hold" if finding.kind == "frequency" else "prerequisite_hold",
                    "queue": "frequency_medical_necessity",
                    "status": "new",
                    "priority": 65,
                    "amount_at_risk": sum(
                        (lines[n].charge for n in finding.line_numbers if n in lines), Decimal(0)
                    ),
                    "summary": f"{label}: {finding.message}",
                    "claim_id": verdict.claim_id,
                    "line_number": line.line_number if line else None,
                    "procedure_code": line.procedure_code if line else None,
                    "service_date": line.service_date if line else None,
                    "source_event_id": verdict.event_id,
                    "revision": 0,
                    "detail": finding.model_dump(mode="json"),
                },
            )
        await _resolve_the_rest(conn, verdict.practice_id, verdict.claim_id, "limit", keep=current)
    return True


async def _resolve_the_rest(
    conn: AsyncConnection,
    practice_id: str,
    claim_id: str,
    kind: str,
    keep: set[uuid.UUID],
    note: str | None = None,
) -> None:
    """Resolve the claim's open items of `kind` that the newest verdict no longer raises (all but `keep`)."""
    stmt = work_items.update().where(
        work_items.c.practice_id == practice_id,
        work_items.c.claim_id == claim_id,
        work_items.c.kind == kind,
        work_items.c.status.notin_(["resolved", "written_off"]),
    )
    if keep:
        stmt = stmt.where(work_items.c.item_id.notin_(keep))
    values: dict[str, Any] = {"status": "resolved", "updated_at": func.now()}
    if note:
        values["summary"] = work_items.c.summary + note
    await conn.execute(stmt.values(**values))


async def apply_file(engine: AsyncEngine, event: FileIngested) -> bool:
    """What became of a received file, for its status page; a duplicate submission only counts."""
    async with engine.begin() as conn:
        if not await first_time(conn, processed_events, "queues.files", event.event_id):
            return False
        values = {
            "file_id": event.file_id,
            "file_name": event.file_name,
            "kind": event.kind,
            "source": event.source,
            "submitted_by": event.submitted_by,
            "lines": event.lines,
            "held_lines": event.held_lines,
            "provider_adjustments": event.provider_adjustments,
            "rejections": event.rejections,
            "duplicate_remittances": event.duplicate_remittances,
            "practices": event.practices,
            "practice_ids": sorted(event.practices),
            "received_at": event.occurred_at,
            "last_submitted_at": event.occurred_at,
            "duplicate_submissions": 1 if event.duplicate else 0,
        }
        stmt = pg_insert(files).values(**values)
        if event.duplicate:
            stmt = stmt.on_conflict_do_update(
                index_elements=[files.c.file_id],
                set_={
                    "duplicate_submissions": files.c.duplicate_submissions + 1,
                    "last_submitted_at": stmt.excluded.last_submitted_at,
                },
            )
        else:
            keep = {"file_id", "duplicate_submissions", "last_submitted_at"}
            stmt = stmt.on_conflict_do_update(
                index_elements=[files.c.file_id], set_={k: stmt.excluded[k] for k in values if k not in keep}
            )
        await conn.execute(stmt)
    return True


async def apply_practice(engine: AsyncEngine, event: PracticeRegistered) -> bool:
    """The queues' copy of the registry (names, identifiers); an older revision changes nothing."""
    async with engine.begin() as conn:
        if not await first_time(conn, processed_events, "queues.practices", event.event_id):
            return False
        values = {
            "practice_id": event.practice_id,
            "name": event.name,
            "active": event.active,
            "payee_npis": list(event.payee_npis),
            "payee_tins": list(event.payee_tins),
            "rendering_npis": list(event.rendering_npis),
            "revision": event.revision,
        }
        stmt = pg_insert(practices).values(**values)
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[practices.c.practice_id],
                set_={k: stmt.excluded[k] for k in values if k != "practice_id"},
                where=practices.c.revision < stmt.excluded.revision,
            )
        )
    return True


async def _upsert_item(conn: AsyncConnection, values: dict[str, Any]) -> None:
    stmt = pg_insert(work_items).values(**values)
    keep = {"item_id", "practice_id", "created_at", "assignee"}
    updates: dict[str, Any] = {k: stmt.excluded[k] for k in values if k not in keep}
    updates["updated_at"] = func.now()
    await conn.execute(stmt.on_conflict_do_update(index_elements=[work_items.c.item_id], set_=updates))


_INSERT_REMIT_LINES = (
    pg_insert(remit_lines).values(decision=encoded_json("decision_json")).on_conflict_do_nothing()
)


def _item_upsert(columns: Iterable[str]) -> Any:
    """`_upsert_item` for many rows with the same columns (executed with a list of them). A `detail_json`
    key is the detail already encoded as JSON."""
    stmt = pg_insert(work_items)
    columns = list(columns)
    if "detail_json" in columns:
        stmt = stmt.values(detail=encoded_json("detail_json"))
        columns = [("detail" if k == "detail_json" else k) for k in columns]
    keep = {"item_id", "practice_id", "created_at", "assignee"}
    updates: dict[str, Any] = {k: stmt.excluded[k] for k in columns if k not in keep}
    updates["updated_at"] = func.now()
    return stmt.on_conflict_do_update(index_elements=[work_items.c.item_id], set_=updates)


__all__ = [
    "apply_auth_check",
    "apply_decision",
    "apply_decisions",
    "apply_rejection",
    "event_id_for",
    "item_id_for",
]
