"""An authorization that will have expired by a scheduled date of service raises an alert before any
claim is made, and clears when the payer extends it."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from services.auths.adapters.orm import outbox
from services.auths.app import handle_auth, handle_scheduled
from shared.schemas import (
    AuthChecked,
    AuthCheckResult,
    AuthRecorded,
    AuthStatus,
    PersonRef,
    ProcedureScheduled,
    SubmittedLine,
    event_id_for,
    now_utc,
)

pytestmark = pytest.mark.integration


def auth(practice: str, number: str, member: str, valid_to: date) -> AuthRecorded:
    return AuthRecorded(
        event_id=event_id_for("auths.record", practice, number, valid_to.isoformat()),
        occurred_at=now_utc(),
        practice_id=practice,
        auth_number=number,
        payer_id="87726",
        member_id=member,
        procedure_codes=("64483", "64484"),
        units_authorized=Decimal(2),
        valid_from=date(2026, 9, 1),
        valid_to=valid_to,
        status=AuthStatus.APPROVED,
    )


async def checks_for(engine, claim_id: str) -> list[AuthChecked]:
    async with engine.connect() as conn:
        rows = (
            (
                await conn.execute(
                    select(outbox.c.payload).where(outbox.c.event_type == "auths.check").order_by(outbox.c.id)
                )
            )
            .scalars()
            .all()
        )
    return [c for c in (AuthChecked.model_validate_json(r) for r in rows) if c.claim_id == claim_id]


async def test_an_auth_expiring_before_the_scheduled_date_is_flagged_and_cleared_by_an_extension(
    engine, settings
):
    practice, member, number = (
        f"sch-{uuid.uuid4().hex[:6]}",
        f"W{uuid.uuid4().hex[:8]}",
        f"PA-{uuid.uuid4().hex[:6]}",
    )
    assert await handle_auth(engine, settings, auth(practice, number, member, date(2026, 12, 31)))
    plan = ProcedureScheduled(
        event_id=event_id_for("test.schedule", practice, member),
        occurred_at=now_utc(),
        practice_id=practice,
        schedule_id=f"S{uuid.uuid4().hex[:6]}",
        payer_id="87726",
        filing_indicator="CI",
        patient=PersonRef(member_id=member),
        place_of_service="11",
        procedures=(
            SubmittedLine(
                line_number=1,
                procedure_code="64483",
                modifiers=("LT",),
                units=Decimal(1),
                charge=Decimal(1100),
                service_date=date(2027, 1, 15),
            ),
        ),
    )
    assert await handle_scheduled(engine, settings, plan)
    (first,) = await checks_for(engine, f"scheduled:{plan.schedule_id}")
    assert first.result is AuthCheckResult.EXPIRED
    assert "expired on 2026-12-31" in first.reason

    assert await handle_auth(engine, settings, auth(practice, number, member, date(2027, 3, 31)))
    latest = (await checks_for(engine, f"scheduled:{plan.schedule_id}"))[-1]
    assert latest.result is AuthCheckResult.VALID and latest.revision > first.revision
