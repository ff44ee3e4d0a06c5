"""Frequency caps across practices on the real database: the same patient at two practices reaches the
therapeutic facet cap; the fifth session is held, and its practice sees the count without the other
practice's claims, while a supervisor sees them all."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest

from services.auths.app import check_limits
from shared.schemas import ClaimSubmitted, Correlation, PersonRef, SubmittedLine, event_id_for, now_utc

pytestmark = pytest.mark.integration


def facet_claim(
    practice: str, claim_id: str, dos: date, member: str, last: str, first: str
) -> ClaimSubmitted:
    return ClaimSubmitted(
        event_id=event_id_for("claims.submitted", practice, claim_id),
        occurred_at=now_utc(),
        practice_id=practice,
        correlation=Correlation(claim_key=claim_id),
        claim_id=claim_id,
        billing_npi="1245319599",
        payer_id="12502",
        filing_indicator="MB",
        patient=PersonRef(last_name=last, first_name=first, member_id=member),
        patient_birth_date=date(1956, 3, 14),
        place_of_service="11",
        lines=(
            SubmittedLine(
                line_number=1,
                procedure_code="64493",
                modifiers=("50",),
                units=Decimal(1),
                charge=Decimal(850),
                service_date=dos,
            ),
        ),
    )


async def test_the_fifth_therapeutic_facet_session_across_two_practices_is_held(engine, settings):
    east, valley = f"east-{uuid.uuid4().hex[:6]}", f"valley-{uuid.uuid4().hex[:6]}"
    member = f"1EG4TE5{uuid.uuid4().hex[:4].upper()}"
    first_dos = date(2026, 1, 12)
    async with engine.begin() as conn:
        for n in range(4):  # four sessions at the first practice, spelled its way
            practice = east if n < 3 else valley
            spelled = ("O'Neil-Smith Jr", "Mary") if practice == east else ("ONEIL SMITH", "MARY")
            verdict = await check_limits(
                conn,
                settings,
                facet_claim(practice, f"C{n}-{member}", first_dos + timedelta(days=60 * n), member, *spelled),
            )
            assert verdict.findings == ()
        fifth = await check_limits(
            conn,
            settings,
            facet_claim(valley, f"C5-{member}", date(2026, 9, 2), member.lower(), "Oneil-Smith", "Mary"),
        )
    (finding,) = fifth.findings
    assert finding.kind == "frequency"
    assert (finding.count_in_window, finding.cap) == (4, 4)
    assert finding.line_numbers == (1,)
    others = [s for s in finding.counted if not s.at_this_practice]
    assert len(others) == 3
    assert all(s.claim_id is None and s.practice_id is None for s in others)
    assert {s.practice_id for s in finding.supervisor_only_counted} == {east, valley}
    assert east not in finding.message and "C0-" not in finding.message


async def test_with_cross_practice_matching_off_only_the_practices_own_sessions_count(engine, settings):
    east, valley = f"east-{uuid.uuid4().hex[:6]}", f"valley-{uuid.uuid4().hex[:6]}"
    member = f"2FH5UF6{uuid.uuid4().hex[:4].upper()}"
    isolated = settings.model_copy(update={"cross_practice_matching": False})
    async with engine.begin() as conn:
        for n in range(4):
            await check_limits(
                conn,
                isolated,
                facet_claim(
                    east,
                    f"C{n}-{member}",
                    date(2026, 1, 12) + timedelta(days=60 * n),
                    member,
                    "NGUYEN",
                    "BAO",
                ),
            )
        at_valley = await check_limits(
            conn, isolated, facet_claim(valley, f"C5-{member}", date(2026, 9, 2), member, "NGUYEN", "BAO")
        )
    assert at_valley.findings == ()
