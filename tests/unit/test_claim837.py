"""parse_837p: professional claims built in the test come back with their context, and a broken claim,
HL structure or envelope becomes a Problem with its place in the file while the other claims still come
out."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.ingest.domain.claim837 import SUPPORTED_837P, SubmittedClaim, parse_837p
from services.ingest.domain.x12 import Problem
from shared.schemas import PersonRef, SubmittedLine
from tests.support.x837 import (
    DOCTOR_NPI,
    GROUP_NPI,
    GROUP_TIN,
    billing,
    claim,
    interchange,
    line,
    patient,
    seg,
    subscriber,
    transaction,
)

D = Decimal

Item = SubmittedClaim | Problem


# ---------------------------------------------------------------- building 837P text


def position_of(text: str, prefix: str, nth: int = 1) -> int:
    """1-based position of the nth segment that starts with `prefix` (is exactly it, when `prefix` ends
    with the terminator), counted by hand in the text."""
    raw = [s.strip() for s in text.split("~")]
    raw = [s for s in raw if s]
    if prefix.endswith("~"):
        hits = [i for i, s in enumerate(raw, start=1) if s == prefix[:-1]]
    else:
        hits = [i for i, s in enumerate(raw, start=1) if s.startswith(prefix)]
    return hits[nth - 1]


def claims_of(items: list[Item]) -> list[SubmittedClaim]:
    return [i for i in items if isinstance(i, SubmittedClaim)]


def problems_of(items: list[Item]) -> list[Problem]:
    return [i for i in items if isinstance(i, Problem)]


def where(problem: Problem) -> tuple[str, int | None, str | None, int | None]:
    return problem.scope, problem.segment_position, problem.segment_id, problem.element_position


# ---------------------------------------------------------------- the pain practice's claims


def facet_claim() -> list[str]:
    """Bilateral lumbar facet injections, first and second level, under a prior authorization."""
    return claim(
        "PCN-FACET-1",
        line(1, "64493", "1200.00", modifiers=("50",), pointers="1:2", control="LN-1"),
        line(2, "64494", "600.00", modifiers=("50",), pointers="1", control="LN-2"),
        refs=(("G1", "AUTH-77812"), ("D9", "CLEARING-551")),
        diagnoses=("M47816", "M5416"),
    )


def tfesi_claim() -> list[str]:
    """Right transforaminal epidural at one lumbar level with fluoroscopic guidance, in the ASC."""
    return claim(
        "PCN-TFESI-2",
        line(
            1,
            "64483",
            "950.00",
            modifiers=("RT",),
            pointers="1:2",
            control="LN-3",
            service="RD8*20260921-20260921",
        ),
        line(2, "77003", "150.00", pointers="1", control="LN-4", service="D8*20260921"),
        place="24",
        diagnoses=("M5416", "M5117"),
    )


def single_facet_text() -> str:
    return interchange(transaction("0001", billing(), subscriber("2"), facet_claim()))


def test_bilateral_facet_claim_reads_every_field():
    items = list(parse_837p(single_facet_text()))

    assert problems_of(items) == []
    (c,) = claims_of(items)
    assert c.interchange_control == "000000905"
    assert c.group_control == "7"
    assert c.transaction_control == "0001"
    assert c.claim_ordinal == 1
    assert c.claim_id == "PCN-FACET-1"
    assert c.total_charge == D("1800.00")
    assert isinstance(c.total_charge, Decimal)
    assert c.place_of_service == "11"
    assert c.frequency_code == "1"
    assert c.frequency == "original"
    assert c.billing_npi == GROUP_NPI
    assert c.billing_tin == GROUP_TIN
    assert c.billing_name == "DESERT PAIN INSTITUTE"
    assert c.rendering_npi == DOCTOR_NPI
    assert c.payer_id == "04412"
    assert c.payer_name == "NORIDIAN JF PART B"
    assert c.subscriber_member_id == "1EG4TE5MK72"
    assert c.patient == PersonRef(last_name="RIVERA", first_name="ANA", member_id="1EG4TE5MK72")
    assert c.patient_is_subscriber is True
    assert c.patient_birth_date == date(1958, 2, 14)
    assert c.diagnosis_codes == ("M47816", "M5416")
    assert c.prior_auth_number == "AUTH-77812"
    assert c.original_reference is None
    assert c.other_refs == {"G1": "AUTH-77812", "D9": "CLEARING-551"}
    assert c.lines == (
        SubmittedLine(
            line_number=1,
            procedure_code="64493",
            modifiers=("50",),
            units=D("1"),
            charge=D("1200.00"),
            diagnosis_pointers=(1, 2),
            service_date=date(2026, 9, 14),
            line_control_number="LN-1",
        ),
        SubmittedLine(
            line_number=2,
            procedure_code="64494",
            modifiers=("50",),
            units=D("1"),
            charge=D("600.00"),
            diagnosis_pointers=(1,),
            service_date=date(2026, 9, 14),
            line_control_number="LN-2",
        ),
    )
    assert c.line_places_of_service == {}
    assert c.segment_position == position_of(single_facet_text(), "CLM*")


def test_transforaminal_epidural_with_fluoroscopy_keeps_side_modifier_and_guidance_line():
    text = interchange(transaction("0002", billing(), subscriber("2"), tfesi_claim()))

    (c,) = claims_of(list(parse_837p(text)))

    assert c.place_of_service == "24"
    assert [(ln.procedure_code, ln.modifiers, ln.charge) for ln in c.lines] == [
        ("64483", ("RT",), D("950.00")),
        ("77003", (), D("150.00")),
    ]
    assert [ln.service_date for ln in c.lines] == [date(2026, 9, 21), date(2026, 9, 21)]
    assert [ln.diagnosis_pointers for ln in c.lines] == [(1, 2), (1,)]
    assert [ln.line_control_number for ln in c.lines] == ["LN-3", "LN-4"]
    assert c.total_charge == D("1100.00")
    assert c.prior_auth_number is None
    assert c.diagnosis_codes == ("M5416", "M5117")


def test_service_date_range_gives_its_first_date():
    text = interchange(
        transaction(
            "0003",
            billing(),
            subscriber("2"),
            claim(
                "PCN-RANGE", line(1, "64635", "2000.00", modifiers=("LT",), service="RD8*20260902-20260905")
            ),
        )
    )

    (c,) = claims_of(list(parse_837p(text)))

    assert c.lines[0].service_date == date(2026, 9, 2)


def test_corrected_claim_with_frequency_7_carries_the_payer_claim_number():
    corrected = claim(
        "PCN-FACET-1",
        line(1, "64493", "1200.00", modifiers=("50",)),
        frequency="7",
        refs=(("F8", "ICN26293000101"), ("G1", "AUTH-77812")),
    )
    text = interchange(transaction("0004", billing(), subscriber("2"), corrected))

    items = list(parse_837p(text))

    assert problems_of(items) == []
    (c,) = claims_of(items)
    assert c.frequency_code == "7"
    assert c.frequency == "replacement"
    assert c.original_reference == "ICN26293000101"
    assert c.prior_auth_number == "AUTH-77812"
    assert c.lines[0].modifiers == ("50",)


def test_void_without_ref_f8_is_still_read_and_flagged():
    void = claim("PCN-VOID-9", line(1, "64483", "950.00", modifiers=("LT",)), frequency="8")
    text = interchange(transaction("0005", billing(), subscriber("2"), void))

    items = list(parse_837p(text))

    (c,) = claims_of(items)
    assert c.frequency == "void"
    assert c.original_reference is None
    (p,) = problems_of(items)
    assert where(p) == ("claim", position_of(text, "CLM*"), "CLM", 5)
    assert p.expected == "REF*F8 in the claim"
    assert p.found == "(missing)"
    assert items.index(c) < items.index(p)


# ---------------------------------------------------------------- several subscribers, claims and ST


def busy_file() -> str:
    first = transaction(
        "0101",
        billing("1"),
        subscriber("2", member="1EG4TE5MK72", last="RIVERA", first="ANA"),
        facet_claim(),
        tfesi_claim(),
        subscriber("3", member="9XK2PL4QR88", last="NGUYEN", first="MAI", has_patient=True, birth="19610130"),
        patient("4", "3", last="NGUYEN", first="BAO", birth="19900705"),
        claim("PCN-RFA-3", line(1, "64635", "2000.00", modifiers=("RT",)), diagnoses=("M47816",)),
    )
    second = transaction(
        "0102",
        billing("1", npi="1669412335", tin="862223333"),
        subscriber(
            "2", member="W77731", payer_id="87726", payer_name="UNITEDHEALTHCARE", last="COLE", first="JO"
        ),
        claim("PCN-SCS-4", line(1, "63650", "3100.00"), place="24"),
    )
    return interchange(first, second)


def test_several_subscribers_claims_and_transactions_come_out_in_file_order():
    items = list(parse_837p(busy_file()))

    assert problems_of(items) == []
    claims = claims_of(items)
    assert [(c.transaction_control, c.claim_ordinal, c.claim_id) for c in claims] == [
        ("0101", 1, "PCN-FACET-1"),
        ("0101", 2, "PCN-TFESI-2"),
        ("0101", 3, "PCN-RFA-3"),
        ("0102", 1, "PCN-SCS-4"),
    ]
    assert [c.subscriber_member_id for c in claims] == ["1EG4TE5MK72", "1EG4TE5MK72", "9XK2PL4QR88", "W77731"]
    assert [c.billing_npi for c in claims] == [GROUP_NPI, GROUP_NPI, GROUP_NPI, "1669412335"]
    assert [c.billing_tin for c in claims] == [GROUP_TIN, GROUP_TIN, GROUP_TIN, "862223333"]
    assert [c.payer_id for c in claims] == ["04412", "04412", "04412", "87726"]
    assert sum(len(c.lines) for c in claims) == 6


def test_patient_loop_gives_the_patient_names_and_birth_date_but_the_subscriber_member_id():
    dependent = claims_of(list(parse_837p(busy_file())))[2]

    assert dependent.patient == PersonRef(last_name="NGUYEN", first_name="BAO", member_id="9XK2PL4QR88")
    assert dependent.patient_is_subscriber is False
    assert dependent.patient_birth_date == date(1990, 7, 5)
    assert dependent.subscriber_member_id == "9XK2PL4QR88"


def test_005010x222_without_a1_is_read():
    text = interchange(
        transaction("0001", billing(), subscriber("2"), facet_claim(), version="005010X222"),
        version="005010X222",
    )

    (c,) = claims_of(list(parse_837p(text)))

    assert c.claim_id == "PCN-FACET-1"


def test_version_from_gs08_when_st03_is_empty():
    st = transaction("0001", billing(), subscriber("2"), facet_claim())
    st[0] = seg("ST", "837", "0001")
    text = interchange(st, version="005010X222A1")

    (c,) = claims_of(list(parse_837p(text)))

    assert c.claim_id == "PCN-FACET-1"


# ---------------------------------------------------------------- loops that must not leak into the claim


def test_other_payer_loops_and_line_level_providers_do_not_replace_claim_values():
    other_payer = (
        seg("NM1", "77", "2", "DESERT SURGERY CENTER", "", "", "", "", "XX", "1457398726"),
        seg("REF", "G2", "FACILITY-9"),
        seg("SBR", "S", "18", "", "", "", "", "", "", "CI"),
        seg("OI", "", "", "Y", "P", "", "Y"),
        seg("NM1", "IL", "1", "RIVERA", "ANA", "", "", "", "MI", "SECONDARY-1"),
        seg("NM1", "PR", "2", "AETNA", "", "", "", "", "PI", "60054"),
        seg("REF", "G1", "OTHER-PAYER-AUTH"),
        seg("NM1", "82", "1", "OTHER", "DOC", "", "", "", "XX", "1111111111"),
    )
    line_provider = (
        seg("NM1", "82", "1", "LINE", "DOC", "", "", "", "XX", "1999999999"),
        seg("REF", "6R", "NOT-A-LINE-CONTROL"),
        seg("DTP", "472", "D8", "20200101"),
    )
    c_text = claim(
        "PCN-COB",
        line(1, "64493", "1200.00", modifiers=("LT",), control="LN-9", after=line_provider),
        refs=(("G1", "AUTH-1"),),
        extra=other_payer,
    )
    text = interchange(transaction("0001", billing(), subscriber("2"), c_text))

    items = list(parse_837p(text))

    assert problems_of(items) == []
    (c,) = claims_of(items)
    assert c.rendering_npi == DOCTOR_NPI
    assert c.payer_id == "04412"
    assert c.subscriber_member_id == "1EG4TE5MK72"
    assert c.prior_auth_number == "AUTH-1"
    assert c.other_refs == {"G1": "AUTH-1"}
    assert c.lines[0].line_control_number == "LN-9"
    assert c.lines[0].service_date == date(2026, 9, 14)


def test_pay_to_plan_tin_does_not_replace_the_billing_tin():
    loop = [
        *billing(),
        seg("NM1", "PE", "2", "PAY TO PLAN", "", "", "", "", "PI", "555"),
        seg("REF", "EI", "999999999"),
    ]
    text = interchange(transaction("0001", loop, subscriber("2"), facet_claim()))

    (c,) = claims_of(list(parse_837p(text)))

    assert c.billing_tin == GROUP_TIN


def test_claim_without_rendering_provider_has_none():
    text = interchange(
        transaction(
            "0001", billing(), subscriber("2"), claim("PCN-1", line(1, "64483", "950"), rendering=None)
        )
    )

    (c,) = claims_of(list(parse_837p(text)))

    assert c.rendering_npi is None
    assert c.billing_npi == GROUP_NPI


def test_line_place_of_service_override_and_anesthesia_minutes():
    c_text = claim(
        "PCN-POS",
        line(1, "64483", "950.00", modifiers=("RT",), place="22"),
        line(2, "01992", "400.00", modifiers=("QK",), units="45", basis="MJ"),
        place="11",
    )
    text = interchange(transaction("0001", billing(), subscriber("2"), c_text))

    (c,) = claims_of(list(parse_837p(text)))

    assert c.line_places_of_service == {1: "22"}
    assert c.place_of_service_for(1) == "22"
    assert c.place_of_service_for(2) == "11"
    assert c.lines[1].units == D("45")
    assert c.lines[1].modifiers == ("QK",)


def test_four_modifiers_and_a_description_component():
    c_text = claim(
        "PCN-MODS", line(1, "64493", "500", modifiers=("50", "59", "XS", "KX", "", "LUMBAR FACET"))
    )
    text = interchange(transaction("0001", billing(), subscriber("2"), c_text))

    (c,) = claims_of(list(parse_837p(text)))

    assert c.lines[0].modifiers == ("50", "59", "XS", "KX")


def test_unusual_delimiters_are_honoured():
    text = single_facet_text().translate(str.maketrans("*:~^", "|>\n!"))

    items = list(parse_837p(text))

    assert problems_of(items) == []
    (c,) = claims_of(items)
    assert c.lines[0].modifiers == ("50",)
    assert c.lines[0].diagnosis_pointers == (1, 2)
    assert c.diagnosis_codes == ("M47816", "M5416")


# ---------------------------------------------------------------- a broken claim among good ones


def broken_file(broken: list[str]) -> str:
    return interchange(transaction("0201", billing(), subscriber("2"), facet_claim(), broken, tfesi_claim()))


@pytest.mark.parametrize(
    ("broken", "segment_prefix", "element", "reason", "found"),
    [
        (
            claim("PCN-BAD", line(1, "64483", "950.00"), total="95O.00"),
            "CLM*PCN-BAD",
            2,
            "CLM02 is not a number",
            "95O.00",
        ),
        (
            claim("", line(1, "64483", "950.00")),
            "CLM**",
            1,
            "CLM01 patient control number is required",
            "(empty)",
        ),
        (
            claim("PCN-BAD", ["LX*1~", "SV1*HC*950.00*UN*1***1~"], total="950.00"),
            "SV1*HC*950",
            1,
            "SV101 is not a procedure composite",
            "HC",
        ),
        (
            claim("PCN-BAD", ["LX*1~", "SV1*NDC:64483*950.00*UN*1***1~"], total="950.00"),
            "SV1*NDC",
            1,
            "SV101-1 is not a procedure code qualifier",
            "NDC",
        ),
        (
            claim("PCN-BAD", line(1, "64483", "950.00", service="D8*20260231")),
            "DTP*472*D8*20260231",
            3,
            "DTP03 is not a valid date",
            "20260231",
        ),
        (
            claim("PCN-BAD", line(1, "64483", "950.00", basis="DA")),
            "SV1*HC:64483",
            3,
            "SV103 is not a unit basis",
            "DA",
        ),
        (
            claim("PCN-BAD", line(1, "64483", "950.00", pointers="1:A")),
            "SV1*HC:64483",
            7,
            "SV107 diagnosis pointers are not numbers 1-12",
            "1:A",
        ),
        (
            claim("PCN-BAD", line(1, "64483", "950.00"), place="1"),
            "CLM*PCN-BAD",
            5,
            "CLM05-1 is not a place of service code",
            "1:B:1",
        ),
        (
            claim("PCN-BAD", line(1, "64483", "950.00"), frequency="9"),
            "CLM*PCN-BAD",
            5,
            "CLM05-3 is not a professional claim frequency code",
            "9",
        ),
    ],
    ids=[
        "bad-amount",
        "missing-clm01",
        "sv1-not-composite",
        "sv1-not-procedure-qualifier",
        "bad-date",
        "bad-unit-basis",
        "bad-pointer",
        "bad-place-of-service",
        "bad-frequency",
    ],
)
def test_a_broken_claim_becomes_a_problem_and_the_others_still_come_out(
    broken, segment_prefix, element, reason, found
):
    text = broken_file(broken)

    items = list(parse_837p(text))

    claims = claims_of(items)
    assert [c.claim_id for c in claims] == ["PCN-FACET-1", "PCN-TFESI-2"]
    assert [c.claim_ordinal for c in claims] == [1, 3]
    (p,) = problems_of(items)
    assert where(p) == ("claim", position_of(text, segment_prefix), segment_prefix.split("*")[0], element)
    assert p.reason == reason
    assert p.found == found
    assert p.interchange_control == "000000905"
    assert p.group_control == "7"
    assert p.transaction_control == "0201"
    assert [type(i).__name__ for i in items] == ["SubmittedClaim", "Problem", "SubmittedClaim"]


def test_every_defect_of_a_broken_claim_is_reported():
    broken = claim(
        "PCN-BAD",
        line(1, "64483", "9X0.00"),
        line(2, "77003", "150.00", service="D8*2026091"),
        total="1100.00",
    )
    text = broken_file(broken)

    problems = problems_of(list(parse_837p(text)))

    assert [where(p) for p in problems] == [
        ("claim", position_of(text, "SV1*HC:64483*9X0"), "SV1", 2),
        ("claim", position_of(text, "DTP*472*D8*2026091~"), "DTP", 3),
    ]


def test_line_without_sv1_and_claim_without_lines_are_problems():
    no_sv1 = claim("PCN-NOSV1", ["LX*1~", "DTP*472*D8*20260914~"], total="0")
    no_lines = claim("PCN-NOLX", total="0")
    text = interchange(transaction("0001", billing(), subscriber("2"), no_sv1, no_lines, facet_claim()))

    items = list(parse_837p(text))

    assert [c.claim_id for c in claims_of(items)] == ["PCN-FACET-1"]
    assert [(where(p), p.reason) for p in problems_of(items)] == [
        (("claim", position_of(text, "LX*1"), "LX", None), "service line has no SV1"),
        (("claim", position_of(text, "CLM*PCN-NOLX"), "CLM", None), "claim has no service lines"),
    ]


def test_procedure_code_the_contract_refuses_is_a_problem_at_sv101():
    text = broken_file(claim("PCN-BAD", ["LX*1~", "SV1*HC:644-93*950.00*UN*1***1~"], total="950.00"))

    (p,) = problems_of(list(parse_837p(text)))

    assert where(p) == ("claim", position_of(text, "SV1*HC:644-93"), "SV1", 1)
    assert p.found == "644-93"
    assert "procedure_code" in p.reason


def test_malformed_diagnosis_composite_is_a_problem_at_its_element():
    broken = claim("PCN-BAD", line(1, "64483", "950.00"), diagnoses=())
    broken.insert(1, "HI*ABK:M5416*ABF~")
    text = broken_file(broken)

    (p,) = problems_of(list(parse_837p(text)))

    assert where(p) == ("claim", position_of(text, "HI*ABK:M5416*ABF~"), "HI", 2)
    assert p.found == "ABF"


def test_condition_code_hi_is_not_read_as_diagnoses():
    c_text = claim("PCN-HI", line(1, "64483", "950.00"), diagnoses=("M5416",))
    c_text.insert(2, "HI*BG:01~")
    text = interchange(transaction("0001", billing(), subscriber("2"), c_text))

    (c,) = claims_of(list(parse_837p(text)))

    assert c.diagnosis_codes == ("M5416",)


def test_bad_segment_id_inside_a_claim_sinks_that_claim_only():
    broken = claim("PCN-BAD", line(1, "64483", "950.00"))
    broken.insert(2, "Sv1*junk~")
    text = broken_file(broken)

    items = list(parse_837p(text))

    assert [c.claim_id for c in claims_of(items)] == ["PCN-FACET-1", "PCN-TFESI-2"]
    (p,) = problems_of(items)
    assert where(p) == ("claim", position_of(text, "Sv1*junk"), "Sv1", None)


def test_bad_segment_id_outside_claims_is_a_transaction_problem():
    loop = billing()
    loop.insert(4, "n3*OOPS~")
    text = interchange(transaction("0001", loop, subscriber("2"), facet_claim()))

    items = list(parse_837p(text))

    (c,) = claims_of(items)
    assert c.billing_npi == GROUP_NPI
    (p,) = problems_of(items)
    assert where(p) == ("transaction", position_of(text, "n3*OOPS"), "n3", None)


# ---------------------------------------------------------------- claims that read but do not add up


def test_line_charges_that_do_not_sum_to_clm02_give_the_claim_and_a_problem():
    c_text = claim(
        "PCN-SUM",
        line(1, "64493", "1200.00", modifiers=("50",)),
        line(2, "64494", "600.00", modifiers=("50",)),
        total="1900.00",
    )
    text = interchange(transaction("0001", billing(), subscriber("2"), c_text))

    items = list(parse_837p(text))

    (c,) = claims_of(items)
    assert c.total_charge == D("1900.00")
    assert sum(ln.charge for ln in c.lines) == D("1800.00")
    (p,) = problems_of(items)
    assert where(p) == ("claim", position_of(text, "CLM*PCN-SUM"), "CLM", 2)
    assert p.expected == "1800.00"
    assert p.found == "1900.00"
    assert items == [c, p]


def test_pointer_past_the_diagnosis_codes_gives_the_claim_and_a_problem():
    c_text = claim("PCN-PTR", line(1, "64483", "950.00", pointers="1:3"), diagnoses=("M5416", "M5117"))
    text = interchange(transaction("0001", billing(), subscriber("2"), c_text))

    items = list(parse_837p(text))

    (c,) = claims_of(items)
    assert c.lines[0].diagnosis_pointers == (1, 3)
    (p,) = problems_of(items)
    assert where(p) == ("claim", position_of(text, "SV1*HC:64483"), "SV1", 7)
    assert p.expected == "pointers 1-2"


# ---------------------------------------------------------------- loops and their required parties


def test_hl_naming_an_unknown_parent_sinks_the_claims_under_it():
    text = interchange(
        transaction(
            "0001",
            billing("1"),
            subscriber("2", parent="9"),
            facet_claim(),
            subscriber("3", parent="1"),
            tfesi_claim(),
        )
    )

    items = list(parse_837p(text))

    assert [c.claim_id for c in claims_of(items)] == ["PCN-TFESI-2"]
    (p,) = problems_of(items)
    assert where(p) == ("claim", position_of(text, "HL*2*9"), "HL", 2)
    assert p.found == "9"


def test_claim_directly_under_the_billing_provider_is_a_problem():
    text = interchange(transaction("0001", billing(), facet_claim()))

    (p,) = problems_of(list(parse_837p(text)))

    assert where(p) == ("claim", position_of(text, "CLM*"), "CLM", None)
    assert p.found == "HL level 20"


@pytest.mark.parametrize(
    ("loop", "prefix", "element", "reason"),
    [
        (billing(npi="123456789"), "NM1*85", 9, "NM109 billing provider NPI is not 10 digits"),
        (
            [s.replace("*XX*", "*24*") for s in billing()],
            "NM1*85",
            8,
            "NM108 billing provider id is not an NPI",
        ),
        (
            [s for s in billing() if not s.startswith("NM1*85")],
            "HL*1",
            None,
            "2010AA billing provider NM1*85 is missing",
        ),
    ],
    ids=["short-npi", "ein-instead-of-npi", "no-nm1-85"],
)
def test_billing_provider_without_npi_is_a_claim_problem(loop, prefix, element, reason):
    text = interchange(transaction("0001", loop, subscriber("2"), facet_claim()))

    (p,) = problems_of(list(parse_837p(text)))

    assert where(p) == ("claim", position_of(text, prefix), prefix[:3].rstrip("*"), element)
    assert p.reason == reason


def test_subscriber_without_member_id_or_payer_is_a_claim_problem():
    no_payer = [s for s in subscriber("2") if not s.startswith("NM1*PR")]
    no_member = subscriber("3", member="")
    text = interchange(transaction("0001", billing(), no_payer, facet_claim(), no_member, tfesi_claim()))

    problems = problems_of(list(parse_837p(text)))

    assert [(where(p), p.reason) for p in problems] == [
        (("claim", position_of(text, "HL*2"), "HL", None), "2010BB payer NM1*PR is missing"),
        (("claim", position_of(text, "NM1*IL", 2), "NM1", 9), "NM109 subscriber member id is required"),
    ]


def test_patient_loop_without_nm1_qc_is_a_claim_problem():
    no_qc = [
        s for s in patient("3", "2", last="NGUYEN", first="BAO", birth="19900705") if not s.startswith("NM1")
    ]
    text = interchange(
        transaction("0001", billing(), subscriber("2", has_patient=True), no_qc, facet_claim())
    )

    (p,) = problems_of(list(parse_837p(text)))

    assert where(p) == ("claim", position_of(text, "HL*3"), "HL", None)
    assert p.reason == "2010CA patient NM1*QC is missing"


# ---------------------------------------------------------------- envelopes and versions


def test_wrong_se01_gives_the_claims_and_then_a_transaction_problem():
    st = transaction("0001", billing(), subscriber("2"), facet_claim(), tfesi_claim())
    real = st[-1]
    st[-1] = seg("SE", "12", "0001")
    text = interchange(st)

    items = list(parse_837p(text))

    assert [c.claim_id for c in claims_of(items)] == ["PCN-FACET-1", "PCN-TFESI-2"]
    (p,) = problems_of(items)
    assert where(p) == ("transaction", position_of(text, "SE*"), "SE", 1)
    assert p.expected == real.split("*")[1]
    assert p.found == "12"
    assert items[-1] is p


def test_se02_that_does_not_match_st02_is_a_transaction_problem():
    st = transaction("0001", billing(), subscriber("2"), facet_claim())
    st[-1] = st[-1].replace("*0001~", "*0002~")
    text = interchange(st)

    items = list(parse_837p(text))

    assert len(claims_of(items)) == 1
    (p,) = problems_of(items)
    assert where(p) == ("transaction", position_of(text, "SE*"), "SE", 2)
    assert (p.expected, p.found) == ("0001", "0002")


def test_ge_and_iea_counts_and_controls_are_checked():
    text = single_facet_text().replace("GE*1*7~", "GE*2*8~").replace("IEA*1*000000905~", "IEA*3*000000906~")

    problems = problems_of(list(parse_837p(text)))

    assert [(where(p), p.expected, p.found) for p in problems] == [
        (("interchange", position_of(text, "GE*"), "GE", 2), "7", "8"),
        (("interchange", position_of(text, "GE*"), "GE", 1), "1", "2"),
        (("interchange", position_of(text, "IEA*"), "IEA", 2), "000000905", "000000906"),
        (("interchange", position_of(text, "IEA*"), "IEA", 1), "1", "3"),
    ]


@pytest.mark.parametrize(
    ("version", "reason"),
    [
        ("005010X223A2", "institutional claims are not supported"),
        ("005010X222A2", "unsupported 837P version"),
        ("004010X098A1", "unsupported 837P version"),
    ],
    ids=["837I", "errata-A2", "4010"],
)
def test_other_versions_are_refused_with_a_transaction_problem(version, reason):
    text = interchange(
        transaction("0001", billing(), subscriber("2"), facet_claim(), version=version), version=version
    )

    items = list(parse_837p(text))

    assert claims_of(items) == []
    (p,) = problems_of(items)
    assert where(p) == ("transaction", 3, "ST", 3)
    assert p.reason == reason
    assert p.found == version
    assert p.transaction_control == "0001"


def test_more_versions_can_be_read_on_request():
    text = interchange(
        transaction("0001", billing(), subscriber("2"), facet_claim(), version="005010X222A2"),
        version="005010X222A2",
    )

    (c,) = parse_837p(text, versions=(*SUPPORTED_837P, "005010X222A2"))

    assert isinstance(c, SubmittedClaim)
    assert c.claim_id == "PCN-FACET-1"


def test_a_non_837_transaction_is_refused_and_the_next_one_read():
    text = interchange(
        transaction("0001", billing(), subscriber("2"), tfesi_claim(), st_id="835"),
        transaction("0002", billing(), subscriber("2"), facet_claim()),
    )

    items = list(parse_837p(text))

    p, c = items
    assert isinstance(p, Problem)
    assert where(p) == ("transaction", 3, "ST", 1)
    assert (p.expected, p.found) == ("837", "835")
    assert isinstance(c, SubmittedClaim)
    assert (c.transaction_control, c.claim_id) == ("0002", "PCN-FACET-1")


def test_text_without_isa_is_a_file_problem():
    text = single_facet_text().split("\n", 1)[1]

    (p,) = parse_837p(text)

    assert isinstance(p, Problem)
    assert (p.scope, p.segment_position, p.expected) == ("file", 1, "ISA")
    assert (p.found or "").startswith("GS*HC")


def test_truncated_file_is_a_transaction_problem_at_its_last_segment():
    text = single_facet_text()
    cut = text[: text.index("LX*2")]

    items = list(parse_837p(cut))

    (p,) = items
    assert isinstance(p, Problem)
    assert p.scope == "transaction"
    assert p.reason == "file ends inside a transaction set (no SE)"
    assert (p.segment_position, p.segment_id) == (position_of(text, "REF*6R*LN-1"), "REF")
    assert p.found == "end of file"


def test_segment_outside_a_transaction_is_a_file_problem():
    text = single_facet_text().replace("GE*1*7~", "NTE*ADD*STRAY~\nGE*1*7~")

    items = list(parse_837p(text))

    assert len(claims_of(items)) == 1
    (p,) = problems_of(items)
    assert where(p) == ("file", position_of(text, "NTE*"), "NTE", None)
