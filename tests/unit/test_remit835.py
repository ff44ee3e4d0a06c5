"""parse_835: remittances written by claimline.x12gen come back as service lines with their context,
and a broken claim or envelope becomes a Problem with its place in the file."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claimline.x12gen import Claim, Envelope, Line, Remit, render
from services.ingest.domain.remit835 import (
    ProviderAdjustment,
    RemitLine,
    RemittanceRead,
    parse_835,
    parse_835_file,
)
from services.ingest.domain.x12 import Problem, X12SyntaxError, decode
from shared.schemas import Adjustment

D = Decimal
PAYEE_NPI = "1538267114"
PAYEE_TIN = "461234567"


Item = RemitLine | ProviderAdjustment | RemittanceRead | Problem


def lines_of(items: list[Item]) -> list[RemitLine]:
    return [i for i in items if isinstance(i, RemitLine)]


def problems_of(items: list[Item]) -> list[Problem]:
    return [i for i in items if isinstance(i, Problem)]


def reads_of(items: list[Item]) -> list[RemittanceRead]:
    return [i for i in items if isinstance(i, RemittanceRead)]


def position_of(text: str, prefix: str, terminator: str = "~") -> int:
    """1-based position of the first segment that starts with `prefix`, counted by hand in the text."""
    raw = [s.strip() for s in text.split(terminator)]
    raw = [s for s in raw if s]
    return next(i for i, s in enumerate(raw, start=1) if s.startswith(prefix))


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


# ---------------------------------------------------------------- the sample remittance

BILATERAL_FACET = Claim(
    claim_id="PCN-FACET-1",
    payer_claim_control="ICN26293000101",
    patient_last="RIVERA",
    patient_first="ANA",
    member_id="1EG4TE5MK72",
    lines=(
        Line(
            code="64493",
            modifiers=("50",),
            charge=D("1200.00"),
            paid=D("600.24"),
            service_date=date(2026, 9, 14),
            control="LN-1",
            allowed=D("750.30"),
            adjustments=(("CO", "45", D("449.70")), ("PR", "2", D("150.06"))),
        ),
        Line(
            code="64494",
            modifiers=("50",),
            charge=D("600.00"),
            paid=D("300.12"),
            service_date=date(2026, 9, 14),
            control="LN-2",
            allowed=D("375.15"),
            adjustments=(("CO", "45", D("224.85")), ("PR", "2", D("75.03"))),
        ),
    ),
)

DENIED_RFA = Claim(
    claim_id="PCN-RFA-2",
    status="4",
    payer_claim_control="ICN26293000202",
    lines=(
        Line(
            code="64635",
            modifiers=("RT",),
            charge=D("2000.00"),
            paid=D("0"),
            service_date=date(2026, 9, 2),
            control="LN-3",
            adjustments=(("CO", "197", D("1500.00")), ("CO", "16", D("400.00")), ("PR", "1", D("100.00"))),
            remarks=("N54", "M127"),
        ),
    ),
)

RECODED = Claim(
    claim_id="PCN-RECODE-3",
    payer_claim_control="ICN26293000303",
    lines=(
        Line(
            code="64490",
            modifiers=("LT",),
            charge=D("900.00"),
            paid=D("410.50"),
            submitted_code="64493",
            submitted_modifiers=("LT", "59"),
            service_date=date(2026, 9, 20),
            adjustments=(("CO", "45", D("489.50")),),
            remarks=("N56",),
        ),
    ),
)

REVERSAL = Claim(
    claim_id="PCN-ESI-4",
    status="22",
    payer_claim_control="ICN26200000404",
    lines=(
        Line(
            code="62323",
            charge=D("-800.00"),
            paid=D("-400.00"),
            service_date=date(2026, 8, 3),
            adjustments=(("CO", "45", D("-300.00")), ("PR", "2", D("-100.00"))),
        ),
    ),
)

CORRECTED = Claim(
    claim_id="PCN-ESI-4",
    status="1",
    payer_claim_control="ICN26293000405",
    lines=(
        Line(
            code="62323",
            charge=D("800.00"),
            paid=D("440.00"),
            service_date=date(2026, 8, 3),
            adjustments=(("CO", "45", D("250.00")), ("PR", "2", D("110.00"))),
        ),
    ),
)

REMIT = Remit(
    trace_number="EFT0000042",
    payee_npi=PAYEE_NPI,
    payee_name="DESERT PAIN INSTITUTE",
    payee_tin=PAYEE_TIN,
    payment_date=date(2026, 10, 20),
    claims=(BILATERAL_FACET, DENIED_RFA, RECODED, REVERSAL, CORRECTED),
    transaction_control="0042",
)


def sample_text() -> str:
    return render(Envelope(interchange_control=77, remits=[REMIT]))


@pytest.fixture
def text() -> str:
    return sample_text()


@pytest.fixture
def parsed(text: str) -> list[Item]:
    return list(parse_835(text))


# ---------------------------------------------------------------- reading every field


def test_a_well_formed_remittance_gives_every_line_and_no_problem(parsed):
    assert problems_of(parsed) == []
    lines = lines_of(parsed)
    assert [(rl.claim.patient_control_number, rl.line.procedure_code) for rl in lines] == [
        ("PCN-FACET-1", "64493"),
        ("PCN-FACET-1", "64494"),
        ("PCN-RFA-2", "64635"),
        ("PCN-RECODE-3", "64490"),
        ("PCN-ESI-4", "62323"),
        ("PCN-ESI-4", "62323"),
    ]
    assert [rl.claim_ordinal for rl in lines] == [1, 1, 2, 3, 4, 5]
    assert {rl.posting for rl in lines} == {"auto"}  # x12gen files balance at every level


def test_each_transaction_ends_with_a_summary_of_what_was_read(parsed):
    (read,) = reads_of(parsed)

    assert parsed[-1] is read
    assert read.claims == 5
    assert read.lines == 6
    assert read.provider_adjustments == 0
    assert read.remittance.transaction_control == "0042"
    assert read.remittance.imbalance is None


def test_remittance_context_is_read_from_the_header(parsed):
    expected_payment = D("600.24") + D("300.12") + D("0") + D("410.50") + D("-400.00") + D("440.00")

    for rl in lines_of(parsed):
        r = rl.remittance
        assert r.interchange_control == "000000077"
        assert r.transaction_control == "0042"
        assert r.payer_name == "MEDICARE JURISDICTION J"
        assert r.payer_id == "12502"
        assert r.payee_name == "DESERT PAIN INSTITUTE"
        assert r.payee_npi == PAYEE_NPI
        assert r.payee_tin == PAYEE_TIN
        assert r.trace_number == "EFT0000042"
        assert r.payment_amount == expected_payment
        assert isinstance(r.payment_amount, Decimal)
        assert r.payment_method == "ACH"
        assert r.payment_date == date(2026, 10, 20)


def test_multi_level_bilateral_facet_claim(parsed):
    primary, add_on = lines_of(parsed)[0:2]

    claim = primary.claim
    assert claim == add_on.claim
    assert claim.patient_control_number == "PCN-FACET-1"
    assert claim.status_code == "1"
    assert claim.charge == D("1800.00")
    assert claim.paid == D("900.36")
    assert claim.patient_responsibility == D("225.09")
    assert claim.payer_claim_control_number == "ICN26293000101"
    assert claim.filing_indicator == "MB"
    assert claim.patient.last_name == "RIVERA"
    assert claim.patient.first_name == "ANA"
    assert claim.patient.member_id == "1EG4TE5MK72"
    assert claim.rendering_npi == "1215049283"
    assert claim.adjustments == ()

    line = primary.line
    assert line.line_number == 1
    assert line.qualifier == "HC"
    assert line.procedure_code == "64493"
    assert line.modifiers == ("50",)
    assert line.submitted_procedure_code is None
    assert line.submitted_modifiers == ()
    assert line.charge == D("1200")
    assert line.paid == D("600.24")
    assert isinstance(line.paid, Decimal)
    assert line.units_paid == D(1)
    assert line.units_billed == D(1)
    assert line.service_date == date(2026, 9, 14)
    assert line.line_control_number == "LN-1"
    assert line.allowed == D("750.30")
    assert line.adjustments == (
        Adjustment(group="CO", reason="45", amount=D("449.70")),
        Adjustment(group="PR", reason="2", amount=D("150.06")),
    )
    assert line.remarks == ()

    second = add_on.line
    assert second.line_number == 2
    assert second.procedure_code == "64494"
    assert second.modifiers == ("50",)
    assert second.charge == D("600")
    assert second.paid == D("300.12")
    assert second.line_control_number == "LN-2"
    assert second.allowed == D("375.15")
    assert [(a.group, a.reason, a.amount) for a in second.adjustments] == [
        ("CO", "45", D("224.85")),
        ("PR", "2", D("75.03")),
    ]


def test_denied_line_keeps_every_cas_triplet_and_remark(text, parsed):
    # both CO reasons travel in one CAS segment, PR in another
    assert "CAS*CO*197*1500**16*400~" in text

    denied = lines_of(parsed)[2]

    assert denied.claim.status_code == "4"
    assert denied.claim.paid == D("0")
    assert denied.claim.patient_responsibility == D("100")
    assert denied.line.procedure_code == "64635"
    assert denied.line.modifiers == ("RT",)
    assert denied.line.paid == D("0")
    assert denied.line.allowed is None
    assert denied.line.adjustments == (
        Adjustment(group="CO", reason="197", amount=D("1500")),
        Adjustment(group="CO", reason="16", amount=D("400")),
        Adjustment(group="PR", reason="1", amount=D("100")),
    )
    assert denied.line.remarks == ("N54", "M127")
    assert denied.line.line_control_number == "LN-3"


def test_svc06_gives_the_submitted_code_when_the_payer_changed_it(text, parsed):
    assert "SVC*HC:64490:LT*900*410.5**1*HC:64493:LT:59~" in text

    recoded = lines_of(parsed)[3].line

    assert recoded.procedure_code == "64490"
    assert recoded.modifiers == ("LT",)
    assert recoded.submitted_procedure_code == "64493"
    assert recoded.submitted_modifiers == ("LT", "59")
    assert recoded.remarks == ("N56",)
    assert recoded.line_control_number is None


def test_reversal_and_corrected_claim_are_both_returned(parsed):
    reversal, corrected = lines_of(parsed)[4:6]

    assert reversal.claim.status_code == "22"
    assert reversal.claim.payer_claim_control_number == "ICN26200000404"
    assert reversal.claim.charge == D("-800")
    assert reversal.claim.paid == D("-400")
    assert reversal.claim.patient_responsibility == D("-100")
    assert reversal.line.charge == D("-800")
    assert reversal.line.paid == D("-400")
    assert [(a.group, a.reason, a.amount) for a in reversal.line.adjustments] == [
        ("CO", "45", D("-300")),
        ("PR", "2", D("-100")),
    ]

    assert corrected.claim.status_code == "1"
    assert corrected.claim.patient_control_number == reversal.claim.patient_control_number
    assert corrected.claim.payer_claim_control_number == "ICN26293000405"
    assert corrected.line.paid == D("440")
    assert corrected.claim.patient_responsibility == D("110")
    assert corrected.claim_ordinal == reversal.claim_ordinal + 1


def test_pr_coinsurance_is_patient_responsibility(parsed):
    corrected = lines_of(parsed)[5]

    coinsurance = [a for a in corrected.line.adjustments if a.group == "PR"]
    assert coinsurance == [Adjustment(group="PR", reason="2", amount=D("110"))]
    assert corrected.claim.patient_responsibility == D("110")


def test_claim_level_cas_and_insured_member_fallback():
    text = render(
        Envelope(
            remits=[
                Remit(
                    "T1", PAYEE_NPI, "P", (Claim("C1", (Line("64493", D("100"), D("80")),), member_id="M1"),)
                )
            ]
        )
    )
    text = replace_once(
        text, "NM1*QC*1*DOE*JANE****MI*M1~", "CAS*OA*23*5~NM1*QC*1*DOE*JANE~NM1*IL*1*DOE*JOHN****MI*SUB77~"
    )
    text = replace_once(text, "SE*14*0001", "SE*16*0001")  # two segments more

    items = list(parse_835(text))

    assert problems_of(items) == []
    (only,) = lines_of(items)
    assert only.claim.adjustments == (Adjustment(group="OA", reason="23", amount=D("5")),)
    assert only.claim.patient.member_id == "SUB77"
    assert only.claim.patient.first_name == "JANE"
    assert only.line.adjustments == ()


def test_delimiters_of_the_file_are_used():
    env = Envelope(
        element="|", component=">", repetition="{", terminator="\n", newline="\r\n", remits=[REMIT]
    )

    items = list(parse_835(render(env)))

    assert problems_of(items) == []
    standard = lines_of(list(parse_835(sample_text())))
    assert [(rl.line, rl.claim) for rl in lines_of(items)] == [(rl.line, rl.claim) for rl in standard]


def test_plb_provider_adjustments_are_read_and_reduce_the_payment():
    remit = Remit(
        "T1",
        PAYEE_NPI,
        "P",
        (Claim("C1", (Line("64493", D("100"), D("80"), adjustments=(("CO", "45", D("20")),)),)),),
        plb=(("WO", "ICN555", D("25.00")), ("L6", "INT", D("-1.25"))),
    )
    text = render(Envelope(remits=[remit]))
    assert "BPR*I*56.25*" in text  # 80 - 25 + 1.25

    items = list(parse_835(text))

    assert problems_of(items) == []
    plb = [i for i in items if isinstance(i, ProviderAdjustment)]
    assert [(p.reason_code, p.reference, p.amount, p.ordinal) for p in plb] == [
        ("WO", "ICN555", D("25"), 1),
        ("L6", "INT", D("-1.25"), 2),
    ]
    assert {p.provider_id for p in plb} == {PAYEE_NPI}
    assert {p.fiscal_period_date for p in plb} == {date(2026, 12, 31)}
    (line,) = lines_of(items)
    assert line.posting == "auto"
    assert line.remittance.payment_amount == D("56.25")
    assert reads_of(items)[0].provider_adjustments == 2


# ---------------------------------------------------------------- broken claims


def test_a_non_numeric_svc02_sinks_only_its_claim(text):
    broken = replace_once(text, "SVC*HC:64635:RT*2000*", "SVC*HC:64635:RT*abc*")

    items = list(parse_835(broken))

    (problem,) = problems_of(items)
    assert problem.scope == "claim"
    assert problem.segment_id == "SVC"
    assert problem.segment_position == position_of(broken, "SVC*HC:64635")
    assert problem.element_position == 2
    assert problem.found == "abc"
    assert problem.expected == "a decimal amount"
    assert problem.interchange_control == "000000077"
    assert problem.group_control == "1"
    assert problem.transaction_control == "0042"
    assert problem.payee_npi == PAYEE_NPI
    assert problem.payee_tin == PAYEE_TIN
    assert [rl.claim.patient_control_number for rl in lines_of(items)] == [
        "PCN-FACET-1",
        "PCN-FACET-1",
        "PCN-RECODE-3",
        "PCN-ESI-4",
        "PCN-ESI-4",
    ]


def test_the_problem_is_yielded_in_file_order(text):
    broken = replace_once(text, "SVC*HC:64635:RT*2000*", "SVC*HC:64635:RT*abc*")

    kinds = [type(i).__name__ for i in parse_835(broken)]

    assert kinds == [
        "RemitLine",
        "RemitLine",
        "Problem",
        "RemitLine",
        "RemitLine",
        "RemitLine",
        "RemittanceRead",
    ]


def test_an_unknown_cas01_group_sinks_only_its_claim(text):
    broken = replace_once(text, "CAS*CO*197*", "CAS*XX*197*")

    items = list(parse_835(broken))

    (problem,) = problems_of(items)
    assert problem.scope == "claim"
    assert problem.segment_id == "CAS"
    assert problem.segment_position == position_of(broken, "CAS*XX")
    assert problem.element_position == 1
    assert problem.found == "XX"
    assert len(lines_of(items)) == 5
    assert "PCN-RFA-2" not in {rl.claim.patient_control_number for rl in lines_of(items)}


def test_a_bad_service_date_is_a_claim_problem(text):
    broken = replace_once(text, "DTM*472*20260920", "DTM*472*20260931")

    (problem,) = problems_of(list(parse_835(broken)))

    assert problem.scope == "claim"
    assert problem.segment_id == "DTM"
    assert problem.element_position == 2
    assert problem.segment_position == position_of(broken, "DTM*472*20260931")
    assert problem.expected == "CCYYMMDD"
    assert problem.found == "20260931"


def test_a_procedure_without_composite_is_a_claim_problem(text):
    broken = replace_once(text, "SVC*HC:64490:LT*", "SVC*64490*")

    (problem,) = problems_of(list(parse_835(broken)))

    assert problem.scope == "claim"
    assert problem.segment_id == "SVC"
    assert problem.element_position == 1
    assert problem.found == "64490"


def test_a_claim_without_service_lines_is_a_claim_problem():
    text = render(
        Envelope(
            remits=[
                Remit(
                    "T1",
                    PAYEE_NPI,
                    "P",
                    (
                        Claim("C1", (Line("64493", D("100"), D("80")),)),
                        Claim("C2", (Line("64635", D("900"), D("0")),)),
                    ),
                )
            ]
        )
    )
    text = replace_once(text, "SVC*HC:64635*900*0**1~\nDTM*472*20261001~\n", "")
    text = replace_once(text, "SE*19*0001", "SE*17*0001")

    items = list(parse_835(text))

    (problem,) = problems_of(items)
    assert problem.scope == "claim"
    assert problem.segment_id == "CLP"
    assert problem.segment_position == position_of(text, "CLP*C2")
    assert "no service lines" in problem.reason
    assert [rl.claim.patient_control_number for rl in lines_of(items)] == ["C1"]


def test_a_line_that_does_not_balance_is_held_with_its_imbalance(text):
    # 64490 charged 900, CO-45 489.50, so 410.50 paid; say 400 instead
    broken = replace_once(text, "SVC*HC:64490:LT*900*410.5*", "SVC*HC:64490:LT*900*400*")

    items = list(parse_835(broken))

    held = [rl for rl in lines_of(items) if rl.posting == "hold"]
    assert [rl.claim.patient_control_number for rl in held] == ["PCN-RECODE-3"]
    imbalance = held[0].line.imbalance
    assert imbalance is not None
    assert imbalance.level == "line"
    assert imbalance.expected == D("400")
    assert imbalance.found == D("410.50")
    assert problems_of(items) == []


def test_a_transaction_whose_bpr_does_not_match_the_claims_holds_every_line(text):
    expected_payment = "1350.86"  # 600.24 + 300.12 + 0 + 410.50 - 400 + 440
    broken = replace_once(text, f"BPR*I*{expected_payment}*", "BPR*I*1000*")

    lines = lines_of(list(parse_835(broken)))

    assert len(lines) == 6
    assert {rl.posting for rl in lines} == {"hold"}
    imbalance = lines[0].remittance.imbalance
    assert imbalance is not None
    assert imbalance.level == "transaction"
    assert imbalance.expected == D("1000")
    assert imbalance.found == D(expected_payment)


def test_a_missing_clp01_is_a_claim_problem(text):
    broken = replace_once(text, "CLP*PCN-RECODE-3*", "CLP**")

    items = list(parse_835(broken))

    (problem,) = problems_of(items)
    assert problem.scope == "claim"
    assert problem.segment_id == "CLP"
    assert problem.element_position == 1
    assert problem.segment_position == position_of(broken, "CLP**")
    assert len(lines_of(items)) == 5


def test_an_amount_beyond_the_decimal_range_is_a_claim_problem(text):
    broken = replace_once(text, "CAS*CO*45*489.5~", "CAS*CO*45*1E+9999999~")

    items = list(parse_835(broken))

    (problem,) = problems_of(items)
    assert problem.scope == "claim"
    assert problem.segment_id == "CAS"
    assert problem.element_position == 3
    assert "PCN-RECODE-3" not in {rl.claim.patient_control_number for rl in lines_of(items)}


# ---------------------------------------------------------------- broken envelopes


def test_a_wrong_se01_count_is_a_transaction_problem(text):
    real = position_of(text, "SE*") - position_of(text, "ST*") + 1
    broken = replace_once(text, f"SE*{real}*0042", "SE*99*0042")

    items = list(parse_835(broken))

    (problem,) = problems_of(items)
    assert problem.scope == "transaction"
    assert problem.segment_id == "SE"
    assert problem.element_position == 1
    assert problem.expected == str(real)
    assert problem.found == "99"
    assert problem.segment_position == position_of(broken, "SE*")
    assert problem.transaction_control == "0042"
    assert len(lines_of(items)) == 6


def test_an_se02_that_does_not_match_st02_is_a_transaction_problem(text):
    real = position_of(text, "SE*") - position_of(text, "ST*") + 1
    broken = replace_once(text, f"SE*{real}*0042", f"SE*{real}*0043")

    (problem,) = problems_of(list(parse_835(broken)))

    assert problem.scope == "transaction"
    assert problem.segment_id == "SE"
    assert problem.element_position == 2
    assert problem.expected == "0042"
    assert problem.found == "0043"


def two_transactions() -> str:
    second = Remit(
        "T2", PAYEE_NPI, "P", (Claim("C9", (Line("99213", D("150"), D("90")),)),), transaction_control="0002"
    )
    first = Remit(
        "T1", PAYEE_NPI, "P", (Claim("C1", (Line("64493", D("100"), D("80")),)),), transaction_control="0001"
    )
    return render(Envelope(remits=[first, second]))


def test_a_non_835_transaction_is_rejected_and_the_next_is_read():
    text = replace_once(two_transactions(), "ST*835*0001*005010X221A1", "ST*837*0001*005010X222A1")

    items = list(parse_835(text))

    (problem,) = problems_of(items)
    assert problem.scope == "transaction"
    assert "not an 835" in problem.reason
    assert problem.segment_id == "ST"
    assert problem.segment_position == 3
    assert problem.element_position == 1
    assert problem.expected == "835"
    assert problem.found == "837"
    assert problem.interchange_control == "000000001"
    assert problem.group_control == "1"
    assert [rl.claim.patient_control_number for rl in lines_of(items)] == ["C9"]


@pytest.mark.parametrize("st", ["ST*837*0001*005010X222A1", "ST*835*0001*003051X091"])
def test_a_rejected_transaction_names_its_st02_control_number(st):
    text = replace_once(two_transactions(), "ST*835*0001*005010X221A1", st)

    (problem,) = problems_of(list(parse_835(text)))

    assert problem.transaction_control == "0001"


def test_an_unsupported_835_version_is_rejected():
    text = replace_once(two_transactions(), "ST*835*0001*005010X221A1", "ST*835*0001*003051X091")

    items = list(parse_835(text))

    (problem,) = problems_of(items)
    assert problem.scope == "transaction"
    assert "unsupported" in problem.reason
    assert problem.segment_id == "ST"
    assert problem.segment_position == 3
    assert problem.element_position == 3
    assert problem.found == "003051X091"
    assert problem.expected is not None
    assert "005010X221A1" in problem.expected
    assert [rl.claim.patient_control_number for rl in lines_of(items)] == ["C9"]


def test_the_older_004010x091a1_version_is_read():
    # the reader's docstring: some payers still send 4010 835s, and they are read like 5010
    text = replace_once(two_transactions(), "ST*835*0001*005010X221A1", "ST*835*0001*004010X091A1")

    items = list(parse_835(text))

    assert problems_of(items) == []
    assert [rl.claim.patient_control_number for rl in lines_of(items)] == ["C1", "C9"]
    assert lines_of(items)[0].remittance.version == "004010X091A1"


def test_st_without_version_falls_back_to_gs08():
    text = replace_once(two_transactions(), "ST*835*0001*005010X221A1", "ST*835*0001")

    items = list(parse_835(text))

    assert problems_of(items) == []
    assert len(lines_of(items)) == 2


def test_a_file_truncated_before_se_yields_a_problem(text):
    cut = text[: text.index("SE*")]

    items = list(parse_835(cut))

    problem = problems_of(items)[-1]
    assert problem.scope == "transaction"
    assert "no SE" in problem.reason
    assert problem.expected == "SE"
    assert problem.found == "end of file"
    assert problem.transaction_control == "0042"
    assert problem.segment_position == position_of(text, "SE*") - 1
    assert items[-1] is problem


def test_a_transaction_without_bpr_is_a_transaction_problem(text):
    start = text.index("BPR*")
    broken = text[:start] + text[text.index("~", start) + 2 :]

    items = list(parse_835(broken))

    assert lines_of(items) == []
    assert any(p.scope == "transaction" and "BPR" in p.reason for p in problems_of(items))


def test_segments_outside_a_transaction_are_file_problems(text):
    broken = replace_once(text, "GE*1*1~", "CLP*STRAY*1*1*1~GE*1*1~")

    items = list(parse_835(broken))

    (problem,) = problems_of(items)
    assert problem.scope == "file"
    assert problem.segment_id == "CLP"
    assert problem.segment_position == position_of(broken, "CLP*STRAY")
    assert len(lines_of(items)) == 6


def test_no_isa_is_a_single_file_problem():
    items = list(parse_835("ST*835*0001~SE*2*0001~"))

    (problem,) = items
    assert isinstance(problem, Problem)
    assert problem.scope == "file"
    assert problem.segment_position == 1
    assert problem.expected == "ISA"
    assert problem.found == "ST*835*0001~SE*2*000"  # the first 20 characters found instead


# ---------------------------------------------------------------- reading from a file


@pytest.mark.parametrize("newline", ["\n", "\r\n", ""])
def test_reading_the_file_as_a_stream_gives_the_same_items(tmp_path, newline):
    text = render(Envelope(interchange_control=77, newline=newline, remits=[REMIT]))
    path = tmp_path / "remit.835"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    seen: list[int] = []

    items = list(parse_835_file(path, progress=seen.append))

    assert items == list(parse_835(text))
    assert len(lines_of(items)) == 6
    assert seen == sorted(seen)
    assert seen[-1] == path.stat().st_size


def test_a_utf16_file_is_one_file_problem(tmp_path):
    path = tmp_path / "remit.835"
    path.write_bytes(sample_text().encode("utf-16"))

    (problem,) = list(parse_835_file(path))

    assert isinstance(problem, Problem)
    assert problem.scope == "file"
    assert problem.expected == "ASCII or UTF-8"


# ---------------------------------------------------------------- properties

codes = st.integers(min_value=10000, max_value=99999).map(str)
amounts = st.decimals(min_value=0, max_value=D("99999.99"), places=2, allow_nan=False, allow_infinity=False)
line_strategy = st.builds(
    Line,
    code=codes,
    charge=amounts,
    paid=amounts,
    units=st.integers(min_value=1, max_value=9),
)


@st.composite
def remits(draw: st.DrawFn) -> Remit:
    n_claims = draw(st.integers(min_value=1, max_value=5))
    claims = tuple(
        Claim(claim_id=f"CLM{i}", lines=tuple(draw(st.lists(line_strategy, min_size=1, max_size=4))))
        for i in range(1, n_claims + 1)
    )
    return Remit(trace_number="TRACE1", payee_npi=PAYEE_NPI, payee_name="PAYEE", claims=claims)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(remit=remits())
def test_every_generated_line_comes_back_in_order_with_its_amounts(remit: Remit):
    items = list(parse_835(render(Envelope(remits=[remit]))))

    assert problems_of(items) == []
    got = lines_of(items)
    expected = [
        (ordinal, claim, number, line)
        for ordinal, claim in enumerate(remit.claims, start=1)
        for number, line in enumerate(claim.lines, start=1)
    ]
    assert len(got) == len(expected)
    for rl, (ordinal, claim, number, line) in zip(got, expected, strict=True):
        assert rl.claim_ordinal == ordinal
        assert rl.claim.patient_control_number == claim.claim_id
        assert rl.line.line_number == number
        assert rl.line.procedure_code == line.code
        assert rl.line.charge == line.charge
        assert rl.line.paid == line.paid
        assert rl.line.units_paid == line.units
        assert rl.line.service_date == line.service_date
        claim_charge = sum((ln.charge for ln in claim.lines), D(0))
        claim_balances = claim_charge == sum((ln.paid for ln in claim.lines), D(0))
        expected_posting = "auto" if line.charge == line.paid and claim_balances else "hold"
        assert rl.posting == expected_posting  # no CAS: a line balances only when paid == charge
    assert sum((rl.line.paid for rl in got), D(0)) == got[0].remittance.payment_amount


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=600))
def test_arbitrary_bytes_only_raise_x12_syntax_error_from_decode(data: bytes):
    try:
        text = decode(data)
    except X12SyntaxError:
        return
    items = list(parse_835(text))
    assert all(isinstance(i, Item) for i in items)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=600))
def test_arbitrary_text_never_makes_parse_835_raise(text: str):
    items = list(parse_835(text))
    assert all(isinstance(i, Item) for i in items)


SAMPLE = sample_text()
ALPHABET = "*:~^0123456789-.E ABCDLPSTVX\n"


@settings(max_examples=400, deadline=None)
@given(
    edits=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=len(SAMPLE) - 1), st.text(alphabet=ALPHABET, max_size=3)
        ),
        min_size=1,
        max_size=6,
    )
)
def test_a_mutated_remittance_never_makes_parse_835_raise(edits: list[tuple[int, str]]):
    text = SAMPLE
    for index, replacement in edits:
        text = text[:index] + replacement + text[index + 1 :]

    items = list(parse_835(text))

    assert all(isinstance(i, Item) for i in items)
