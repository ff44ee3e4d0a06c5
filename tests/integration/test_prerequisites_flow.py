"""RFA prerequisites through the auths service on the real database: an RFA claim is held until two
diagnostic blocks at least 14 days apart with documented relief are on file; blocks 10 days apart keep
it held with that reason."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from services.auths.adapters.orm import outbox
from services.auths.app import check_limits, handle_claim, handle_documented
from shared.schemas import (
    ClaimDocumented,
    ClaimLimitsChecked,
    ClaimSubmitted,
    Correlation,
    DocumentationFacts,
    PersonRef,
    SubmittedLine,
    event_id_for,
    now_utc,
)

pytestmark = pytest.mark.integration


def claim(practice: str, claim_id: str, code: str, dos: date, member: str) -> ClaimSubmitted:
    return ClaimSubmitted(
        event_id=event_id_for("claims.submitted", practice, claim_id),
        occurred_at=now_utc(),
        practice_id=practice,
        correlation=Correlation(claim_key=claim_id),
        claim_id=claim_id,
        billing_npi="1245319599",
        payer_id="12502",
        filing_indicator="MB",
        patient=PersonRef(last_name=f"RIVERA{member}", first_name="ANA", member_id=member),
        patient_birth_date=date(1958, 2, 14),
        place_of_service="11",
        lines=(
            SubmittedLine(
                line_number=1, procedure_code=code, units=Decimal(1), charge=Decimal(900), service_date=dos
            ),
        ),
    )


def documented(practice: str, claim_id: str, **facts: object) -> ClaimDocumented:
    body = DocumentationFacts.model_validate(facts)
    return ClaimDocumented(
        event_id=event_id_for("auths.claim_documented", practice, claim_id, body.model_dump_json()),
        occurred_at=now_utc(),
        practice_id=practice,
        claim_id=claim_id,
        facts=body,
    )


async def latest_verdict(engine, claim_id: str) -> ClaimLimitsChecked:
    async with engine.connect() as conn:
        rows = (
            (
                await conn.execute(
                    select(outbox.c.payload)
                    .where(outbox.c.event_type == "auths.limits_checked")
                    .order_by(outbox.c.id)
                )
            )
            .scalars()
            .all()
        )
    verdicts = [ClaimLimitsChecked.model_validate_json(r) for r in rows]
    return [v for v in verdicts if v.claim_id == claim_id][-1]


@pytest.mark.parametrize(("days_apart", "held_for"), [(15, None), (10, "at least 14 days")])
async def test_an_rfa_claim_waits_for_two_documented_diagnostic_blocks(
    engine, settings, days_apart, held_for
):
    practice, member = f"rfa-{uuid.uuid4().hex[:6]}", f"M{uuid.uuid4().hex[:8].upper()}"
    first = date(2026, 6, 2)
    second = first + timedelta(days=days_apart)
    blocks = [
        claim(practice, f"B1-{member}", "64493", first, member),
        claim(practice, f"B2-{member}", "64493", second, member),
    ]
    rfa = claim(practice, f"RFA-{member}", "64635", date(2026, 7, 20), member)
    for c in (*blocks, rfa):
        assert await handle_claim(engine, settings, c)

    held = await latest_verdict(engine, rfa.claim_id)
    assert [f.kind for f in held.findings] and all(f.kind == "prerequisite" for f in held.findings)
    assert any("diagnostic" in f.message for f in held.findings)

    for block, relief_date in zip(blocks, (first, second), strict=True):
        await handle_documented(
            engine, settings, documented(practice, block.claim_id, facet_purpose="diagnostic")
        )
        del relief_date
    await handle_documented(
        engine,
        settings,
        documented(
            practice,
            rfa.claim_id,
            block_relief_percent={first.isoformat(): 85, second.isoformat(): 90},
            pain_duration_months=6,
            conservative_care_documented=True,
        ),
    )
    verdict = await latest_verdict(engine, rfa.claim_id)
    if held_for is None:
        assert verdict.findings == ()
    else:
        assert {f.finding for f in verdict.findings} == {
            "missing_diagnostic_blocks",
            "block_interval_too_short",
        }
        assert all(held_for in f.message for f in verdict.findings)


async def test_missing_documentation_is_its_own_finding(engine, settings):
    practice, member = f"rfa-{uuid.uuid4().hex[:6]}", f"M{uuid.uuid4().hex[:8].upper()}"
    async with engine.begin() as conn:
        verdict = await check_limits(
            conn, settings, claim(practice, f"RFA-{member}", "64635", date(2026, 7, 20), member)
        )
    documentation_gaps = {f.finding for f in verdict.findings if f.missing_documentation}
    assert documentation_gaps == {"pain_duration_not_documented", "conservative_care_not_documented"}
    assert "missing_diagnostic_blocks" in {f.finding for f in verdict.findings}


async def test_a_permanent_stimulator_waits_for_its_documented_trial(engine, settings):
    practice, member = f"scs-{uuid.uuid4().hex[:6]}", f"M{uuid.uuid4().hex[:8].upper()}"
    implant = claim(practice, f"IMP-{member}", "63655", date(2026, 8, 20), member)
    assert await handle_claim(engine, settings, implant)
    assert "missing_scs_trial" in {
        f.finding for f in (await latest_verdict(engine, implant.claim_id)).findings
    }

    trial = claim(practice, f"TRI-{member}", "63650", date(2026, 7, 30), member)
    assert await handle_claim(engine, settings, trial)
    await handle_documented(
        engine,
        settings,
        documented(
            practice,
            implant.claim_id,
            trial_relief_percent=60,
            pain_duration_months=8,
            conservative_care_documented=True,
            psych_evaluation_documented=True,
        ),
    )
    assert (await latest_verdict(engine, implant.claim_id)).findings == ()
