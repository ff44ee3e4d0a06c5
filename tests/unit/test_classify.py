"""Line classification and the code catalog: what an adjudicated line means and where it is worked."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.denials.domain.catalog import load_catalog
from services.denials.domain.classify import APPEAL_WINDOW_DAYS, classify, priority_for, translate
from shared.schemas import (
    Adjustment,
    Imbalance,
    LineCategory,
    RemitClaim,
    RemitContext,
    RemitLineReceived,
    RemitServiceLine,
    TranslatedCode,
    event_id_for,
    now_utc,
)

D = Decimal
PAID_ON = date(2026, 10, 20)
TODAY = date(2026, 10, 22)
CATALOG = load_catalog()


def adj(group: str, reason: str, amount: str) -> Adjustment:
    return Adjustment(group=group, reason=reason, amount=D(amount))


def remit_line(
    *,
    charge: str = "1000.00",
    paid: str = "1000.00",
    adjustments: tuple[Adjustment, ...] = (),
    remarks: tuple[str, ...] = (),
    status: str = "1",
    payment_date: date | None = PAID_ON,
    code: str = "64493",
    posting: str = "auto",
    imbalance: Imbalance | None = None,
) -> RemitLineReceived:
    return RemitLineReceived(
        event_id=event_id_for("remit.line", "file-1", "C1", code),
        occurred_at=now_utc(),
        practice_id="desert-pain",
        file_id="file-1",
        remittance=RemitContext(
            transaction_control="0001",
            payment_amount=D(paid),
            payment_date=payment_date,
        ),
        claim=RemitClaim(patient_control_number="C1", status_code=status, charge=D(charge), paid=D(paid)),
        line=RemitServiceLine(
            line_number=1,
            procedure_code=code,
            charge=D(charge),
            paid=D(paid),
            adjustments=adjustments,
            remarks=remarks,
            imbalance=imbalance,
        ),
        posting=posting,
    )


def code_of(codes: tuple[TranslatedCode, ...], kind: str, code: str) -> TranslatedCode:
    return next(c for c in codes if c.kind == kind and c.code == code)


# ---------------------------------------------------------------- categories


def test_paid_in_full_needs_no_work():
    c = classify(CATALOG, remit_line(charge="850.00", paid="850.00"), TODAY)

    assert c.category is LineCategory.PAID_IN_FULL
    assert c.queue is None
    assert c.needs_work is False
    assert c.amount_at_risk == 0
    assert c.priority == 0
    assert c.deadline is None
    assert c.codes == ()
    assert "850.00" in c.summary


def test_contractual_co45_only_is_paid_with_contractual_adjustment():
    line = remit_line(charge="1000", paid="620.40", adjustments=(adj("CO", "45", "379.60"),))

    c = classify(CATALOG, line, TODAY)

    assert c.category is LineCategory.PAID_CONTRACTUAL
    assert c.queue is None
    assert c.needs_work is False
    assert c.amount_at_risk == 0
    assert code_of(c.codes, "carc", "45").known is True
    assert code_of(c.codes, "group", "CO").known is True


def test_pr2_coinsurance_with_payment_is_patient_responsibility():
    line = remit_line(
        charge="1000",
        paid="496.32",
        adjustments=(adj("CO", "45", "379.60"), adj("PR", "2", "124.08")),
    )

    c = classify(CATALOG, line, TODAY)

    assert c.category is LineCategory.PATIENT_RESPONSIBILITY
    assert c.needs_work is False
    assert c.queue is None
    assert c.amount_at_risk == 0
    assert "124.08" in c.summary
    assert "496.32" in c.summary


def test_pr1_deductible_without_payment_is_patient_responsibility():
    line = remit_line(charge="300", paid="0", adjustments=(adj("CO", "45", "60"), adj("PR", "1", "240")))

    c = classify(CATALOG, line, TODAY)

    assert c.category is LineCategory.PATIENT_RESPONSIBILITY
    assert c.needs_work is False
    assert c.amount_at_risk == 0
    assert c.summary.startswith("Nothing paid")
    assert "240" in c.summary


def test_pr1_deductible_with_payment_is_patient_responsibility():
    line = remit_line(charge="300", paid="100", adjustments=(adj("CO", "45", "60"), adj("PR", "1", "140")))

    c = classify(CATALOG, line, TODAY)

    assert c.category is LineCategory.PATIENT_RESPONSIBILITY
    assert c.summary.startswith("Paid $100")


def test_co197_with_nothing_paid_is_denied_to_the_authorization_queue():
    line = remit_line(charge="1500", paid="0", adjustments=(adj("CO", "197", "1500"),), remarks=("N54",))

    c = classify(CATALOG, line, TODAY)

    assert c.category is LineCategory.DENIED
    assert c.queue == "authorization"
    assert c.needs_work is True
    assert c.amount_at_risk == D("1500")
    assert c.deadline == PAID_ON + timedelta(days=120)
    assert 0 < c.priority <= 100
    assert "CO-197" in c.summary
    assert code_of(c.codes, "carc", "197").known is True
    assert code_of(c.codes, "rarc", "N54").known is True


def test_partly_paid_line_with_a_denial_is_partially_denied():
    line = remit_line(
        charge="1200",
        paid="400",
        adjustments=(adj("CO", "45", "200"), adj("CO", "151", "500"), adj("PR", "2", "100")),
    )

    c = classify(CATALOG, line, TODAY)

    assert c.category is LineCategory.PARTIALLY_DENIED
    assert c.reason_category == "frequency"
    assert c.queue == "frequency_medical_necessity"
    assert c.needs_work is True
    assert c.amount_at_risk == D("500")


def test_reversal_status_22_is_reversed_and_needs_no_work():
    line = remit_line(
        charge="-1000",
        paid="-600",
        status="22",
        adjustments=(adj("CO", "45", "-300"), adj("PR", "2", "-100")),
    )

    c = classify(CATALOG, line, TODAY)

    assert c.category is LineCategory.REVERSED
    assert c.queue is None
    assert c.needs_work is False
    assert c.amount_at_risk == 0
    assert c.deadline is None
    assert "600" in c.summary


def test_reversal_wins_over_denial_codes():
    line = remit_line(charge="-500", paid="0", status="22", adjustments=(adj("CO", "50", "-500"),))

    assert classify(CATALOG, line, TODAY).category is LineCategory.REVERSED


def test_unknown_carc_needs_review_and_shows_its_raw_code():
    line = remit_line(charge="700", paid="0", adjustments=(adj("CO", "999", "700"),))

    c = classify(CATALOG, line, TODAY)

    assert c.category is LineCategory.NEEDS_REVIEW
    assert c.queue == "review"
    assert c.needs_work is True
    assert c.amount_at_risk == D("700")
    unknown = code_of(c.codes, "carc", "999")
    assert unknown.known is False
    assert "999" in unknown.meaning
    assert "999" in c.summary


def test_unknown_carc_under_group_pr_still_needs_review():
    line = remit_line(charge="700", paid="0", adjustments=(adj("PR", "999", "700"),))

    c = classify(CATALOG, line, TODAY)

    assert c.category is LineCategory.NEEDS_REVIEW
    assert c.queue == "review"
    assert c.needs_work is True
    assert "bill the patient" not in c.summary


def test_known_patient_share_under_pr_is_not_a_denial():
    line = remit_line(charge="100", paid="80", adjustments=(adj("PR", "2", "20"),))

    c = classify(CATALOG, line, TODAY)

    assert c.category is LineCategory.PATIENT_RESPONSIBILITY
    assert c.needs_work is False


@given(
    amount=st.decimals(min_value=-1000, max_value=10**9, places=2, allow_nan=False, allow_infinity=False),
    days=st.one_of(st.none(), st.integers(min_value=-400, max_value=4000)),
)
def test_priority_is_always_between_0_and_100(amount: Decimal, days: int | None):
    assert 0 <= priority_for(amount, days) <= 100


@given(
    a=st.decimals(min_value=0, max_value=1_000_000, places=2),
    b=st.decimals(min_value=0, max_value=1_000_000, places=2),
    days=st.integers(min_value=-30, max_value=400),
)
def test_priority_never_falls_when_more_is_at_risk(a: Decimal, b: Decimal, days: int):
    low, high = sorted((a, b))
    assert priority_for(low, days) <= priority_for(high, days)


@pytest.mark.parametrize(
    ("code", "category", "idea"),
    [
        ("4", "coding_modifiers", "modifier"),
        ("16", "documentation_requested", "lacks information"),
        ("18", "duplicate", "duplicate"),
        ("29", "timely_filing", "timely filing"),
        ("45", "contractual", "fee schedule"),
        ("50", "medical_necessity", "medically necessary"),
        ("96", "medical_necessity", "non-covered"),
        ("97", "bundling", "bundled"),
        ("119", "frequency", "benefit maximum"),
        ("151", "frequency", "this many"),
        ("197", "authorization", "authorization"),
        ("198", "authorization", "authorization was exceeded"),
    ],
)
def test_carc_catalog_entries(code: str, category: str, idea: str):
    entry = CATALOG.carc(code)

    assert entry is not None
    assert entry.kind == "carc"
    assert entry.code == code
    assert entry.category == category
    assert entry.meaning.strip()
    assert idea in entry.meaning.lower()
    assert entry.action and entry.action.strip()


def test_denial_queue_is_the_carc_category():
    cases = [("4", "coding_modifiers"), ("18", "duplicate"), ("97", "bundling"), ("198", "authorization")]
    for code, queue in cases:
        line = remit_line(charge="100", paid="0", adjustments=(adj("CO", code, "100"),))
        c = classify(CATALOG, line, TODAY)
        assert (code, c.category, c.queue) == (code, LineCategory.DENIED, queue)


def test_catalog_has_the_five_group_codes():
    assert set(CATALOG.groups) == {"CO", "PR", "OA", "PI", "CR"}
    assert CATALOG.group("CO") is not None
    assert CATALOG.group("ZZ") is None


def test_catalog_lookup_is_case_insensitive_and_unknown_is_none():
    assert CATALOG.lookup("rarc", "n115") == CATALOG.rarc("N115")
    assert CATALOG.lookup("carc", "999") is None
    assert CATALOG.carc("999") is None


@given(
    charge=st.decimals(min_value=0, max_value=10**9, places=2),
    paid=st.decimals(min_value=0, max_value=10**9, places=2),
    reasons=st.lists(
        st.tuples(
            st.sampled_from(["CO", "PR", "OA", "PI"]),
            st.sampled_from(["1", "2", "45", "97", "197", "Z9"]),
            st.decimals(min_value=-(10**9), max_value=10**9, places=2),
        ),
        max_size=6,
    ),
    status=st.sampled_from(["1", "2", "4", "22"]),
)
def test_classify_never_raises_on_a_valid_event(charge, paid, reasons, status):
    line = remit_line(
        charge=str(charge),
        paid=str(paid),
        status=status,
        adjustments=tuple(adj(g, r, str(a)) for g, r, a in reasons),
    )

    c = classify(CATALOG, line, TODAY)

    assert 0 <= c.priority <= 100
    assert c.summary
    assert c.amount_at_risk >= 0 or c.category is LineCategory.NEEDS_REVIEW


def test_the_appeal_deadline_is_120_days_after_the_remittance_date():
    line = remit_line(charge="500", paid="0", adjustments=(adj("CO", "50", "500"),))

    c = classify(CATALOG, line, TODAY)

    assert c.deadline == PAID_ON + timedelta(days=APPEAL_WINDOW_DAYS) == date(2027, 2, 17)


def test_translate_names_every_code_once_and_marks_unknown_remarks():
    line = remit_line(
        charge="300",
        paid="0",
        adjustments=(adj("CO", "97", "150"), adj("CO", "97", "150")),
        remarks=("M15", "N9999"),
    )

    codes = translate(CATALOG, line)

    assert [(c.kind, c.code, c.known) for c in codes] == [
        ("group", "CO", True),
        ("carc", "97", True),
        ("rarc", "M15", True),
        ("rarc", "N9999", False),
    ]
    assert "separately" in codes[2].meaning
