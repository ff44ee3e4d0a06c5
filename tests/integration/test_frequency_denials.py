"""A frequency denial (CARC 119/151) is linked to the patient's sessions on file, so the biller can check
the payer's count."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from services.denials.app import decide
from services.denials.domain.catalog import load_catalog
from services.queues.adapters.orm import work_items
from services.queues.app import apply_decision, apply_limits, item_id_for
from shared.schemas import ClaimLimitsChecked, PersonRef, SessionSeen, SubmittedLine, event_id_for, now_utc
from tests.support.events import remit_line

pytestmark = pytest.mark.integration


async def test_a_frequency_denial_carries_the_patients_sessions(engine):
    practice, member = f"fq-{uuid.uuid4().hex[:6]}", f"W{uuid.uuid4().hex[:8].upper()}"
    earlier = (date(2026, 1, 12), date(2026, 3, 16))
    for n, dos in enumerate(earlier):
        await apply_limits(
            engine,
            ClaimLimitsChecked(
                event_id=event_id_for("test.limits", practice, str(n)),
                occurred_at=now_utc(),
                practice_id=practice,
                source_event_id=uuid.uuid4(),
                claim_id=f"E{n}",
                payer_id="12502",
                lines=(
                    SubmittedLine(
                        line_number=1,
                        procedure_code="64493",
                        units=Decimal(1),
                        charge=Decimal(850),
                        service_date=dos,
                    ),
                ),
                patient=PersonRef(member_id=member.lower()),
                patient_birth_date=date(1956, 3, 14),
                sessions=(
                    SessionSeen(
                        service_date=dos,
                        family="therapeutic_facet",
                        region="lumbar_sacral",
                        at_this_practice=True,
                        claim_id=f"E{n}",
                        practice_id=practice,
                    ),
                ),
            ),
        )
    line = remit_line(practice, adjustments=(("CO", "151", "850.00"),))
    line = line.model_copy(
        update={"claim": line.claim.model_copy(update={"patient": PersonRef(member_id=member)})}
    )
    decision = decide(load_catalog(), line, date(2026, 10, 22))
    await apply_decision(engine, decision)

    async with engine.connect() as conn:
        detail = (
            await conn.execute(
                select(work_items.c.detail).where(
                    work_items.c.item_id == item_id_for("line", str(decision.source_event_id))
                )
            )
        ).scalar_one()
    assert [(s["service_date"], s["claim_id"]) for s in detail["frequency_history"]] == [
        ("2026-01-12", "E0"),
        ("2026-03-16", "E1"),
    ]
