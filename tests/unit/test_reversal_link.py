"""A reversal (CLP02 22) and the corrected claim that follows it in the same remittance are linked."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

from claimline.x12gen import Claim, Envelope, Line, Remit, render
from services.denials.domain.catalog import load_catalog
from services.denials.domain.classify import classify
from services.ingest.app import line_event
from services.ingest.domain.remit835 import RemitLine, parse_835
from shared.schemas import LineCategory

DOS = date(2026, 9, 14)


def lines_of(*claims: Claim) -> list[RemitLine]:
    text = render(Envelope(remits=[Remit("TRN1", "1245319599", "PAIN", claims)]))
    return [i for i in parse_835(text) if isinstance(i, RemitLine)]


def test_the_corrected_claim_after_a_reversal_says_so_and_the_reversal_is_not_work():
    reversal = Claim(
        "C1",
        (Line("64493", D("-850"), D("-500"), service_date=DOS, adjustments=(("CO", "45", D("-350")),)),),
        status="22",
    )
    corrected = Claim(
        "C1", (Line("64493", D("850"), D("520"), service_date=DOS, adjustments=(("CO", "45", D("330")),)),)
    )
    other = Claim(
        "C2", (Line("20552", D("180"), D("80"), service_date=DOS, adjustments=(("CO", "45", D("100")),)),)
    )

    first, second, third = lines_of(reversal, corrected, other)

    assert (first.claim.follows_reversal, second.claim.follows_reversal, third.claim.follows_reversal) == (
        False,
        True,
        False,
    )
    catalog, today = load_catalog(), date(2026, 10, 22)
    reversed_line = classify(catalog, line_event(first, "p1", "f" * 64), today)
    corrected_line = classify(catalog, line_event(second, "p1", "f" * 64), today)
    assert reversed_line.category is LineCategory.REVERSED and reversed_line.needs_work is False
    assert "$500.00 taken back" in reversed_line.summary
    assert corrected_line.category is LineCategory.PAID_CONTRACTUAL
    assert "corrects a claim reversed earlier in the same remittance" in corrected_line.summary


def test_a_claim_with_the_same_id_that_does_not_follow_a_reversal_is_not_a_correction():
    paid = Claim(
        "C1", (Line("64493", D("850"), D("520"), service_date=DOS, adjustments=(("CO", "45", D("330")),)),)
    )
    (only,) = lines_of(paid)
    assert only.claim.follows_reversal is False
