"""A line paid below the fee schedule, beyond the tolerance, is classified underpaid with the steps shown."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from services.denials.domain.catalog import load_catalog
from services.denials.domain.classify import classify
from services.denials.domain.pricing import FeeRow, FeeSchedule
from services.denials.domain.routing import load_routing
from services.denials.pricing_adapter import make_pricer
from shared.schemas import (
    Adjustment,
    LineBrief,
    LineCategory,
    RemitClaim,
    RemitContext,
    RemitLineReceived,
    RemitServiceLine,
    event_id_for,
    now_utc,
)

DOS = date(2026, 9, 14)
FEES = FeeSchedule(
    [
        FeeRow("12502", None, "64493", None, D("412.18"), date(2026, 1, 1), None, False, True),
        FeeRow("12502", None, "64494", None, D("180.00"), date(2026, 1, 1), None, True, False),
        FeeRow("12502", None, "20552", None, D("77.40"), date(2026, 1, 1), None, False, True),
    ]
)
ROUTING = load_routing()
PRICER = make_pricer(FEES, ROUTING)
CATALOG = load_catalog()


def facet_claim(paid_64493: str, modifiers: tuple[str, ...] = ("50",)) -> RemitLineReceived:
    charge = D("1400")
    paid = D(paid_64493)
    lines = (
        LineBrief(
            line_number=1,
            procedure_code="64493",
            modifiers=modifiers,
            units=D(1),
            charge=charge,
            paid=paid,
            service_date=DOS,
        ),
        LineBrief(
            line_number=2,
            procedure_code="20552",
            units=D(1),
            charge=D("180"),
            paid=D("38.70"),
            service_date=DOS,
        ),
    )
    return RemitLineReceived(
        event_id=event_id_for("remit.line", "test", paid_64493, *modifiers),
        occurred_at=now_utc(),
        practice_id="desert-spine",
        file_id="f" * 64,
        remittance=RemitContext(
            transaction_control="1", payment_amount=paid, payer_id="12502", payment_date=date(2026, 10, 20)
        ),
        claim=RemitClaim(
            patient_control_number="C1",
            status_code="1",
            charge=charge,
            paid=paid,
            filing_indicator="MB",
            lines=lines,
        ),
        line=RemitServiceLine(
            line_number=1,
            procedure_code="64493",
            modifiers=modifiers,
            charge=charge,
            paid=paid,
            units_billed=D(1),
            service_date=DOS,
            adjustments=(Adjustment(group="CO", reason="45", amount=charge - paid),),
        ),
    )


def test_a_bilateral_facet_paid_as_one_side_is_underpaid_by_the_missing_half():
    # Expected: 412.18 x 150% (bilateral) = 618.27, first procedure of the day so no reduction.
    c = classify(CATALOG, facet_claim("412.18"), date(2026, 10, 22), ROUTING, PRICER)

    assert c.category is LineCategory.UNDERPAID
    assert c.queue == "underpayment"
    assert c.amount_at_risk == D("206.09")
    assert "$618.27" in c.summary and "$412.18" in c.summary and "150%" in c.summary


def test_a_line_paid_at_the_fee_schedule_is_a_plain_contractual_adjustment():
    c = classify(CATALOG, facet_claim("618.27"), date(2026, 10, 22), ROUTING, PRICER)

    assert c.category is LineCategory.PAID_CONTRACTUAL
    assert c.needs_work is False


def test_a_shortfall_inside_the_tolerance_is_not_an_underpayment():
    # 2% of 618.27 is 12.37: a payment 10 dollars short stays within tolerance.
    c = classify(CATALOG, facet_claim("608.27"), date(2026, 10, 22), ROUTING, PRICER)

    assert c.category is LineCategory.PAID_CONTRACTUAL


def test_without_a_fee_schedule_nobody_can_call_a_line_underpaid():
    c = classify(CATALOG, facet_claim("100.00"), date(2026, 10, 22), ROUTING, None)

    assert c.category is LineCategory.PAID_CONTRACTUAL
