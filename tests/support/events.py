"""Builders of valid events for tests, with unique ids so tests never collide in one database."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from shared.schemas import (
    Adjustment,
    Correlation,
    PersonRef,
    RemitClaim,
    RemitContext,
    RemitLineReceived,
    RemitServiceLine,
    event_id_for,
    now_utc,
)


def remit_line(
    practice_id: str,
    *,
    claim_id: str | None = None,
    code: str = "64493",
    charge: str = "850.00",
    paid: str = "0",
    adjustments: tuple[tuple[str, str, str], ...] = (("CO", "197", "850.00"),),
    status: str = "1",
    line_number: int = 1,
) -> RemitLineReceived:
    claim_id = claim_id or f"C{uuid.uuid4().hex[:10]}"
    adj = tuple(Adjustment(group=g, reason=r, amount=Decimal(a)) for g, r, a in adjustments)
    return RemitLineReceived(
        event_id=event_id_for("remit.line", "test", claim_id, str(line_number)),
        occurred_at=now_utc(),
        practice_id=practice_id,
        correlation=Correlation(file_id="f" * 64, claim_key=claim_id),
        file_id="f" * 64,
        remittance=RemitContext(
            transaction_control="0001",
            payment_amount=Decimal(paid),
            payer_name="MEDICARE",
            payer_id="12502",
            trace_number=f"T{claim_id}",
            payment_date=date(2026, 10, 20),
        ),
        claim=RemitClaim(
            patient_control_number=claim_id,
            status_code=status,
            charge=Decimal(charge),
            paid=Decimal(paid),
            patient=PersonRef(last_name="DOE", first_name="JANE", member_id="M1"),
        ),
        line=RemitServiceLine(
            line_number=line_number,
            procedure_code=code,
            charge=Decimal(charge),
            paid=Decimal(paid),
            service_date=date(2026, 9, 14),
            adjustments=adj,
        ),
    )
