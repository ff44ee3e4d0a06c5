"""The authorization ledger keeps units used, levels and sides, and every change of an auth as history."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from services.auths.adapters.orm import auth_history, authorizations
from services.auths.app import handle_auth
from shared.schemas import AuthRecorded, AuthStatus, PersonRef, event_id_for, now_utc

pytestmark = pytest.mark.integration


def recorded(practice: str, number: str, status: AuthStatus, used: str | None) -> AuthRecorded:
    return AuthRecorded(
        event_id=event_id_for("auths.record", practice, number, status.value, str(used)),
        occurred_at=now_utc(),
        practice_id=practice,
        auth_number=number,
        payer_id="87726",
        member_id="W1",
        patient=PersonRef(last_name="COLE", first_name="JO", member_id="W1"),
        patient_birth_date=date(1960, 5, 1),
        procedure_codes=("64493", "64494"),
        units_authorized=Decimal(4),
        units_used=Decimal(used) if used else None,
        levels=("L4-L5", "L5-S1"),
        sides=("bilateral",),
        valid_from=date(2026, 9, 1),
        valid_to=date(2026, 12, 31),
        status=status,
    )


async def test_every_change_of_an_authorization_is_kept(engine, settings):
    practice, number = f"led-{uuid.uuid4().hex[:6]}", f"PA-{uuid.uuid4().hex[:6]}"
    assert await handle_auth(engine, settings, recorded(practice, number, AuthStatus.PENDING, None))
    assert await handle_auth(engine, settings, recorded(practice, number, AuthStatus.APPROVED, "2"))
    assert not await handle_auth(engine, settings, recorded(practice, number, AuthStatus.APPROVED, "2"))

    async with engine.connect() as conn:
        current = (
            await conn.execute(
                select(authorizations).where(
                    authorizations.c.practice_id == practice, authorizations.c.auth_number == number
                )
            )
        ).one()
        history = (
            await conn.execute(
                select(auth_history.c.status, auth_history.c.units_used)
                .where(auth_history.c.practice_id == practice, auth_history.c.auth_number == number)
                .order_by(auth_history.c.entry_id)
            )
        ).all()
    assert (current.status, current.units_used, current.levels, current.sides) == (
        "approved",
        Decimal(2),
        ["L4-L5", "L5-S1"],
        ["bilateral"],
    )
    assert (current.patient_last_name, current.patient_birth_date) == ("COLE", date(1960, 5, 1))
    assert [(h.status, h.units_used) for h in history] == [("pending", None), ("approved", Decimal(2))]
