"""Submitted claims (837P) and acknowledgments (999, 277CA) as events, and what matching needs kept.

An 837P claim is published as `claims.submitted.v1` (auth checks, frequency tracking, the modifier
audit trail) and its lines are kept so the 835 lines that pay them can be matched. A 999 names the
transaction set it acknowledges; a 277CA names each claim and echoes its lines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.ingest.adapters.orm import submitted_claims, submitted_lines, submitted_sets
from services.ingest.domain.acks import AckResult, ClaimAck, parse_277ca, parse_999
from services.ingest.domain.claim837 import SubmittedClaim, parse_837p
from services.ingest.domain.x12 import Problem, X12SyntaxError, decode
from shared.schemas import (
    UNASSIGNED_PRACTICE,
    AckStatus,
    ClaimAcknowledged,
    ClaimSubmitted,
    Correlation,
    LineAckEcho,
    TransactionSetAcknowledged,
    event_id_for,
    now_utc,
)

READERS: dict[str, Callable[[str], Iterator[Any]]] = {
    "837P": parse_837p,
    "999": parse_999,
    "277CA": parse_277ca,
}


def read_claim_file(kind: str, path: Path) -> Iterator[Any]:
    """Claims and acknowledgments are small files: read whole, then parsed."""
    try:
        text = decode(path.read_bytes())
    except X12SyntaxError as exc:
        yield Problem(
            "file",
            exc.reason,
            exc.segment_position,
            exc.segment_id,
            exc.element_position,
            exc.expected,
            exc.found,
        )
        return
    yield from READERS[kind](text)


def claim_event(claim: SubmittedClaim, practice_id: str, file_id: str) -> ClaimSubmitted:
    return ClaimSubmitted(
        event_id=event_id_for(
            "claims.submitted",
            practice_id,
            claim.claim_id,
            file_id,
            str(claim.claim_ordinal),
            claim.transaction_control,
        ),
        occurred_at=now_utc(),
        practice_id=practice_id,
        correlation=Correlation(file_id=file_id, claim_key=claim.claim_id),
        file_id=file_id,
        claim_id=claim.claim_id,
        frequency_code=claim.frequency_code,
        total_charge=claim.total_charge,
        original_reference=claim.original_reference,
        billing_tin=claim.billing_tin,
        billing_npi=claim.billing_npi,
        rendering_npi=claim.rendering_npi,
        payer_id=claim.payer_id,
        payer_name=claim.payer_name,
        filing_indicator=claim.filing_indicator,
        patient=claim.patient,
        patient_birth_date=claim.patient_birth_date,
        place_of_service=claim.place_of_service,
        diagnosis_codes=claim.diagnosis_codes,
        prior_auth_number=claim.prior_auth_number,
        lines=tuple(
            line.model_copy(update={"place_of_service": claim.line_places_of_service.get(line.line_number)})
            if line.line_number in claim.line_places_of_service
            else line
            for line in claim.lines
        ),
    )


async def keep_for_matching(
    conn: AsyncConnection, claim: SubmittedClaim, practice_id: str, file_id: str
) -> None:
    """The latest submission of a claim (original, replacement or void) is what its remittance pays."""
    key = {"practice_id": practice_id, "claim_id": claim.claim_id[:80]}
    stmt = pg_insert(submitted_claims).values(
        **key, payer_id=claim.payer_id[:80], file_id=file_id, frequency_code=claim.frequency_code[:2]
    )
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[submitted_claims.c.practice_id, submitted_claims.c.claim_id],
            set_={
                "payer_id": stmt.excluded.payer_id,
                "file_id": stmt.excluded.file_id,
                "frequency_code": stmt.excluded.frequency_code,
                "submitted_at": now_utc(),
            },
        )
    )
    await conn.execute(
        delete(submitted_lines).where(
            submitted_lines.c.practice_id == practice_id, submitted_lines.c.claim_id == key["claim_id"]
        )
    )
    if claim.lines:
        await conn.execute(
            submitted_lines.insert(),
            [
                {
                    **key,
                    "line_number": line.line_number,
                    "procedure_code": line.procedure_code,
                    "modifiers": list(line.modifiers),
                    "units": line.units,
                    "charge": line.charge,
                    "service_date": line.service_date,
                    "line_control_number": line.line_control_number,
                }
                for line in claim.lines
            ],
        )
    if claim.group_control:
        await conn.execute(
            pg_insert(submitted_sets)
            .values(
                group_control=claim.group_control[:20],
                transaction_control=claim.transaction_control[:20],
                file_id=file_id,
                practice_id=practice_id,
            )
            .on_conflict_do_nothing()
        )


async def set_owner(conn: AsyncConnection, ack: AckResult) -> tuple[str, str | None]:
    """The practice and 837 file a 999 result is about, when that 837 went through claimline."""
    if not ack.group.group_control or not ack.transaction_set_control:
        return UNASSIGNED_PRACTICE, None
    row = (
        await conn.execute(
            select(submitted_sets.c.practice_id, submitted_sets.c.file_id)
            .where(
                submitted_sets.c.group_control == ack.group.group_control,
                submitted_sets.c.transaction_control == ack.transaction_set_control,
            )
            .order_by(submitted_sets.c.file_id)
            .limit(1)
        )
    ).first()
    return (row.practice_id, row.file_id) if row else (UNASSIGNED_PRACTICE, None)


async def claim_owner(conn: AsyncConnection, claim_id: str, by_npi: str | None) -> str:
    """The billing NPI names the practice; failing that, a claim id on file with exactly one practice."""
    if by_npi and by_npi != UNASSIGNED_PRACTICE:
        return by_npi
    rows = (
        await conn.execute(
            select(submitted_claims.c.practice_id)
            .where(submitted_claims.c.claim_id == claim_id[:80])
            .limit(2)
        )
    ).all()
    return rows[0].practice_id if len(rows) == 1 else UNASSIGNED_PRACTICE


def set_ack_event(
    ack: AckResult, practice_id: str, file_id: str, submitted_file: str | None
) -> TransactionSetAcknowledged:
    code = ack.code or ("A" if ack.accepted else "R")
    return TransactionSetAcknowledged(
        event_id=event_id_for(
            "claims.set_acknowledged",
            file_id,
            ack.transaction_control,
            ack.group.group_control or "",
            ack.transaction_set_control or "",
        ),
        occurred_at=now_utc(),
        practice_id=practice_id,
        correlation=Correlation(file_id=file_id, claim_key=ack.transaction_set_control),
        file_id=file_id,
        group_control=ack.group.group_control,
        transaction_set_id=ack.transaction_set_id,
        transaction_control=ack.transaction_set_control,
        accepted=ack.accepted,
        result_code=code,
        errors=(*ack.syntax_errors, *(e.plain for e in ack.segment_errors)),
        submitted_file_id=submitted_file,
    )


def _statuses(statuses: Any) -> tuple[AckStatus, ...]:
    return tuple(
        AckStatus(category=s.category, code=s.code, entity=s.entity, meaning=s.meaning) for s in statuses
    )


def claim_ack_event(ack: ClaimAck, practice_id: str, file_id: str) -> ClaimAcknowledged:
    return ClaimAcknowledged(
        event_id=event_id_for(
            "claims.acknowledged", file_id, ack.transaction_control, str(ack.segment_position)
        ),
        occurred_at=now_utc(),
        practice_id=practice_id,
        correlation=Correlation(file_id=file_id, claim_key=ack.claim_id),
        file_id=file_id,
        claim_id=ack.claim_id,
        payer_claim_control_number=ack.payer_claim_control_number,
        accepted=ack.accepted and not ack.rejected,
        total_charge=ack.total_charge,
        statuses=_statuses(ack.statuses),
        lines=tuple(
            LineAckEcho(
                line_control_number=line.line_control_number,
                procedure_code=line.procedure_code or None,
                modifiers=line.modifiers,
                charge=line.charge,
                service_date=line.service_date,
                accepted=line.accepted,
                statuses=_statuses(line.statuses),
            )
            for line in ack.lines
        ),
    )
