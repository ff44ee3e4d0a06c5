"""parse_999 and parse_277ca: acknowledgments built in the test come back as results per transaction set
and per claim, with the line echo kept for the modifier audit; broken parts become Problems in place."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

import pytest

from services.ingest.domain.acks import (
    AckResult,
    ClaimAck,
    ElementError,
    GroupAck,
    LineAck,
    SegmentError,
    Status,
    parse_277ca,
    parse_999,
)
from services.ingest.domain.x12 import Problem
from shared.schemas import PersonRef

D = Decimal


def seg(*elements: str) -> str:
    return "*".join(elements).rstrip("*") + "~"


def isa(control: int) -> str:
    text = (
        f"ISA*00*{'':10}*00*{'':10}*ZZ*{'CLEARINGHOUSE':15}*ZZ*{'CLAIMLINE':15}"
        f"*261021*0800*^*00501*{control:09d}*0*P*:~"
    )
    assert len(text) == 106
    return text


def interchange(*transactions: list[str], functional_id: str, version: str, control: int = 42) -> str:
    segs = [
        isa(control),
        seg("GS", functional_id, "CLEARINGHOUSE", "CLAIMLINE", "20261021", "0800", "88", "X", version),
    ]
    for tx in transactions:
        segs += tx
    segs += [seg("GE", str(len(transactions)), "88"), seg("IEA", "1", f"{control:09d}")]
    return "\n".join(segs) + "\n"


def transaction(st_id: str, control: str, version: str, *body: str) -> list[str]:
    segs = [seg("ST", st_id, control, version), *body]
    segs.append(seg("SE", str(len(segs) + 1), control))
    return segs


def position_of(text: str, prefix: str, nth: int = 1) -> int:
    raw = [s.strip() for s in text.split("~")]
    raw = [s for s in raw if s]
    return [i for i, s in enumerate(raw, start=1) if s.startswith(prefix)][nth - 1]


def problems_of(items: Iterable[object]) -> list[Problem]:
    return [i for i in items if isinstance(i, Problem)]


def one_problem(items: Iterable[object]) -> Problem:
    (problem,) = items
    assert isinstance(problem, Problem)
    return problem


def results(text: str) -> list[AckResult]:
    """The 999 results of a text that must read without any problem."""
    items = list(parse_999(text))
    assert problems_of(items) == []
    return [i for i in items if isinstance(i, AckResult)]


def acks(text: str) -> list[ClaimAck]:
    """The claim acknowledgments of a 277CA that must read without any problem."""
    items = list(parse_277ca(text))
    assert problems_of(items) == []
    return [i for i in items if isinstance(i, ClaimAck)]


# ---------------------------------------------------------------- 999


def ack999(*body: str, control: str = "0001", version: str = "005010X231A1") -> str:
    return interchange(transaction("999", control, version, *body), functional_id="FA", version=version)


def test_accepted_837_gives_one_accepted_result():
    text = ack999(
        seg("AK1", "HC", "7", "005010X222A1"),
        seg("AK2", "837", "0001", "005010X222A1"),
        seg("IK5", "A"),
        seg("AK9", "A", "1", "1", "1"),
    )

    (r,) = results(text)

    assert r == AckResult(
        interchange_control="000000042",
        transaction_control="0001",
        group=GroupAck("HC", "7", "005010X222A1", "A", 1, 1, 1),
        transaction_set_id="837",
        transaction_set_control="0001",
        implementation_reference="005010X222A1",
        code="A",
    )
    assert r.accepted is True
    assert r.group.accepted is True
    assert r.claim_ids == ()


def partial_999() -> str:
    return ack999(
        seg("AK1", "HC", "7", "005010X222A1"),
        seg("AK2", "837", "0001", "005010X222A1"),
        seg("IK5", "A"),
        seg("AK2", "837", "0002", "005010X222A1"),
        seg("IK3", "CLM", "22", "2300", "8"),
        seg("CTX", "CLM01:PCN-FACET-1"),
        seg("IK4", "2", "782", "7", "18OO.00"),
        seg("IK4", "5:3", "1325", "7", "9"),
        seg("IK3", "REF", "31", "2300", "3"),
        seg("CTX", "SITUATIONAL TRIGGER", "CLM", "22", "2300", "5:3", "C023:1325"),
        seg("CTX", "CLM01:PCN-VOID-9"),
        seg("IK5", "R", "5"),
        seg("AK2", "837", "0003", "005010X222A1"),
        seg("IK5", "E"),
        seg("AK9", "P", "3", "3", "2"),
    )


def test_partially_accepted_group_gives_each_transaction_set_its_verdict():
    read = results(partial_999())

    assert [(r.transaction_set_control, r.code, r.accepted) for r in read] == [
        ("0001", "A", True),
        ("0002", "R", False),
        ("0003", "E", True),
    ]
    group = read[0].group
    assert group == GroupAck("HC", "7", "005010X222A1", "P", 3, 3, 2)
    assert group.accepted is False
    assert all(r.group == group for r in read)


def test_segment_and_element_errors_name_the_claim_and_the_bad_values():
    rejected = results(partial_999())[1]

    assert rejected.syntax_errors == ("5",)
    assert rejected.segment_errors == (
        SegmentError(
            segment_id="CLM",
            position=22,
            loop_id="2300",
            error_code="8",
            claim_id="PCN-FACET-1",
            elements=(
                ElementError(
                    position=2,
                    component_position=None,
                    data_element="782",
                    error_code="7",
                    bad_value="18OO.00",
                ),
                ElementError(
                    position=5, component_position=3, data_element="1325", error_code="7", bad_value="9"
                ),
            ),
        ),
        SegmentError(
            segment_id="REF",
            position=31,
            loop_id="2300",
            error_code="3",
            claim_id="PCN-VOID-9",
            trigger_segment_id="CLM",
            trigger_position=22,
        ),
    )
    assert rejected.claim_ids == ("PCN-FACET-1", "PCN-VOID-9")
    assert [e.plain for e in rejected.segment_errors] == [
        "CLM at segment 22 of claim PCN-FACET-1: segment has element errors; "
        "element 2: invalid code value ('18OO.00'); element 5-3: invalid code value ('9')",
        "REF at segment 31 of claim PCN-VOID-9: required segment missing",
    ]


@pytest.mark.parametrize("code", ["M", "R", "W", "X"])
def test_every_rejecting_ik5_code_is_not_accepted(code):
    text = ack999(
        seg("AK1", "HC", "7"), seg("AK2", "837", "0001"), seg("IK5", code), seg("AK9", "R", "1", "1", "0")
    )

    (r,) = results(text)

    assert r.code == code
    assert r.accepted is False


def test_group_rejected_without_any_ak2_gives_one_group_result():
    text = ack999(seg("AK1", "HC", "7", "005010X222A1"), seg("AK9", "R", "1", "0", "0", "2"))

    (r,) = results(text)

    assert r.transaction_set_control is None
    assert r.group.code == "R"
    assert r.group.errors == ("2",)
    assert r.accepted is False


def test_unreadable_response_is_a_problem_and_the_others_still_come_out():
    text = ack999(
        seg("AK1", "HC", "7"),
        seg("AK2", "837", "0001"),
        seg("IK3", "CLM", "twenty", "", "8"),
        seg("IK5", "R", "5"),
        seg("AK2", "837", "0002"),
        seg("IK5", "A"),
        seg("AK2", "837", "0003"),
        seg("AK9", "P", "3", "3", "1"),
    )

    items = list(parse_999(text))

    assert [(type(i).__name__, getattr(i, "transaction_set_control", None)) for i in items] == [
        ("Problem", None),
        ("AckResult", "0002"),
        ("Problem", None),
    ]
    bad_position, no_ik5 = problems_of(items)
    assert (bad_position.scope, bad_position.segment_position, bad_position.segment_id) == (
        "transaction",
        position_of(text, "IK3"),
        "IK3",
    )
    assert (bad_position.element_position, bad_position.found) == (2, "twenty")
    assert (no_ik5.segment_position, no_ik5.segment_id, no_ik5.reason) == (
        position_of(text, "AK2*837*0003"),
        "AK2",
        "AK2 response has no IK5",
    )
    assert no_ik5.transaction_control == "0001"


def test_missing_ak9_is_a_problem_but_the_responses_are_kept():
    text = ack999(seg("AK1", "HC", "7"), seg("AK2", "837", "0001"), seg("IK5", "A"))

    problem, result = parse_999(text)

    assert isinstance(problem, Problem)
    assert (problem.segment_position, problem.segment_id, problem.expected) == (
        position_of(text, "AK1"),
        "AK1",
        "AK9",
    )
    assert isinstance(result, AckResult)
    assert result.accepted is True
    assert result.group.code is None


def test_other_999_versions_and_other_transaction_sets_are_refused():
    old = ack999(seg("AK1", "HC", "7"), version="004010X231")
    not_999 = interchange(
        transaction("997", "0001", "005010X231A1", seg("AK1", "HC", "7")),
        functional_id="FA",
        version="005010X231A1",
    )

    p_old = one_problem(parse_999(old))
    p_other = one_problem(parse_999(not_999))

    assert (p_old.scope, p_old.segment_id, p_old.element_position, p_old.found) == (
        "transaction",
        "ST",
        3,
        "004010X231",
    )
    assert (p_other.segment_id, p_other.element_position, p_other.expected, p_other.found) == (
        "ST",
        1,
        "999",
        "997",
    )


def test_999_se01_mismatch_keeps_the_results():
    text = ack999(
        seg("AK1", "HC", "7"), seg("AK2", "837", "0001"), seg("IK5", "A"), seg("AK9", "A", "1", "1", "1")
    )
    text = text.replace("SE*6*0001", "SE*9*0001")

    result, problem = parse_999(text)

    assert isinstance(result, AckResult)
    assert isinstance(problem, Problem)
    assert (problem.segment_id, problem.element_position, problem.expected, problem.found) == (
        "SE",
        1,
        "6",
        "9",
    )


# ---------------------------------------------------------------- 277CA


def header(payer: str = "NORIDIAN JF PART B", payer_id: str = "04412") -> list[str]:
    return [
        seg("BHT", "0085", "08", "ACK777", "20261021", "0800", "TH"),
        seg("HL", "1", "", "20", "1"),
        seg("NM1", "PR", "2", payer, "", "", "", "", "PI", payer_id),
        seg("TRN", "1", "BATCH777"),
        seg("DTP", "050", "D8", "20261021"),
        seg("DTP", "009", "D8", "20261021"),
        seg("HL", "2", "1", "21", "1"),
        seg("NM1", "41", "2", "DESERT PAIN BILLING", "", "", "", "", "46", "S12345"),
        seg("TRN", "2", "BATCH0101"),
        seg("STC", "A1:19:PR", "20261021", "WQ", "3650.00"),
        seg("QTY", "90", "2"),
        seg("QTY", "AA", "1"),
        seg("HL", "3", "2", "19", "1"),
        seg("NM1", "85", "2", "DESERT PAIN INSTITUTE", "", "", "", "", "XX", "1538267114"),
        seg("TRN", "1", "PROV0101"),
        seg("STC", "A1:19:PR", "20261021", "WQ", "3650.00"),
    ]


def patient_loop(hl: str, last: str, first: str, member: str) -> list[str]:
    return [seg("HL", hl, "3", "PT"), seg("NM1", "QC", "1", last, first, "", "", "", "MI", member)]


def facet_ack() -> list[str]:
    return [
        seg("TRN", "2", "PCN-FACET-1"),
        seg("STC", "A2:20:PR", "20261021", "WQ", "1800.00"),
        seg("REF", "1K", "ICN26294000101"),
        seg("REF", "D9", "CLEARING-551"),
        seg("DTP", "472", "RD8", "20260914-20260914"),
        seg("SVC", "HC:64493:50", "1200.00", "0", "", "", "", "1"),
        seg("STC", "A2:20", "20261021", "WQ"),
        seg("REF", "FJ", "LN-1"),
        seg("DTP", "472", "D8", "20260914"),
        seg("SVC", "HC:64494:50", "600.00", "0", "", "", "", "1"),
        seg("STC", "A2:20", "20261021", "WQ"),
        seg("REF", "FJ", "LN-2"),
        seg("DTP", "472", "D8", "20260914"),
    ]


def tfesi_rejection() -> list[str]:
    return [
        seg("TRN", "2", "PCN-TFESI-2"),
        seg("STC", "A7:145:IL", "20261021", "U", "1850.00", "", "", "", "", "", "A7:21:77"),
        seg("REF", "1K", "ICN26294000202"),
        seg("DTP", "472", "D8", "20260921"),
        seg("SVC", "HC:64483:RT", "950.00", "0"),
        seg("STC", "A7:453", "20261021", "U"),
        seg("REF", "FJ", "LN-3"),
    ]


def ack277(*loops: list[str], version: str = "005010X214") -> str:
    body = [s for loop in loops for s in loop]
    return interchange(transaction("277", "0777", version, *body), functional_id="HN", version=version)


def test_accepted_claim_with_its_service_line_echo():
    text = ack277(header(), patient_loop("4", "RIVERA", "ANA", "1EG4TE5MK72"), facet_ack())

    (ack,) = acks(text)

    assert ack == ClaimAck(
        interchange_control="000000042",
        group_control="88",
        transaction_control="0777",
        segment_position=position_of(text, "TRN*2*PCN-FACET-1"),
        claim_id="PCN-FACET-1",
        payer_claim_control_number="ICN26294000101",
        payer_name="NORIDIAN JF PART B",
        payer_id="04412",
        billing_npi="1538267114",
        patient=PersonRef(last_name="RIVERA", first_name="ANA", member_id="1EG4TE5MK72"),
        statuses=(Status("A2", "20", "PR", date(2026, 10, 21), "WQ"),),
        total_charge=D("1800.00"),
        service_date=date(2026, 9, 14),
        other_refs={"1K": "ICN26294000101", "D9": "CLEARING-551"},
        lines=(
            LineAck(
                qualifier="HC",
                procedure_code="64493",
                modifiers=("50",),
                charge=D("1200.00"),
                units=D("1"),
                statuses=(Status("A2", "20", None, date(2026, 10, 21), "WQ"),),
                line_control_number="LN-1",
                service_date=date(2026, 9, 14),
            ),
            LineAck(
                qualifier="HC",
                procedure_code="64494",
                modifiers=("50",),
                charge=D("600.00"),
                units=D("1"),
                statuses=(Status("A2", "20", None, date(2026, 10, 21), "WQ"),),
                line_control_number="LN-2",
                service_date=date(2026, 9, 14),
            ),
        ),
    )
    assert ack.accepted is True
    assert ack.rejected is False
    assert ack.category == "A2"
    assert ack.statuses[0].meaning == "accepted into the adjudication system"
    assert all(line.accepted for line in ack.lines)


def test_rejected_claim_keeps_every_status_and_the_rejected_line():
    text = ack277(header(), patient_loop("4", "COLE", "JO", "W77731"), tfesi_rejection())

    (ack,) = acks(text)

    assert ack.claim_id == "PCN-TFESI-2"
    assert ack.statuses == (
        Status("A7", "145", "IL", date(2026, 10, 21), "U"),
        Status("A7", "21", "77", date(2026, 10, 21), "U"),
    )
    assert ack.accepted is False
    assert ack.rejected is True
    assert ack.total_charge == D("1850.00")
    (line,) = ack.lines
    assert (line.procedure_code, line.modifiers, line.charge) == ("64483", ("RT",), D("950.00"))
    assert line.units is None
    assert line.line_control_number == "LN-3"
    assert line.statuses == (Status("A7", "453", None, date(2026, 10, 21), "U"),)
    assert line.accepted is False


def test_received_only_is_accepted_but_a_received_then_rejected_claim_is_not():
    received = [seg("TRN", "2", "PCN-A1"), seg("STC", "A1:20", "20261021", "WQ", "100")]
    mixed = [
        seg("TRN", "2", "PCN-MIXED"),
        seg("STC", "A1:20", "20261021", "WQ", "100"),
        seg("STC", "A3:21:85", "20261021", "U", "100"),
    ]
    text = ack277(header(), patient_loop("4", "DOE", "JANE", "M1"), received, mixed)

    first, second = acks(text)

    assert (first.claim_id, first.accepted, first.rejected) == ("PCN-A1", True, False)
    assert (second.claim_id, second.accepted, second.rejected) == ("PCN-MIXED", False, True)
    assert [s.category for s in second.statuses] == ["A1", "A3"]
    assert second.total_charge == D("100")


def test_several_patients_and_claims_each_get_their_patient():
    text = ack277(
        header(),
        patient_loop("4", "RIVERA", "ANA", "1EG4TE5MK72"),
        facet_ack(),
        patient_loop("5", "COLE", "JO", "W77731"),
        tfesi_rejection(),
    )

    read = acks(text)

    assert [(a.claim_id, a.patient.last_name, a.patient.member_id, a.accepted) for a in read] == [
        ("PCN-FACET-1", "RIVERA", "1EG4TE5MK72", True),
        ("PCN-TFESI-2", "COLE", "W77731", False),
    ]
    assert all(a.billing_npi == "1538267114" for a in read)


def test_a_patient_loop_without_nm1_does_not_inherit_the_previous_patient():
    text = ack277(
        header(),
        patient_loop("4", "RIVERA", "ANA", "1EG4TE5MK72"),
        facet_ack(),
        [seg("HL", "5", "3", "PT")],
        tfesi_rejection(),
    )

    first, second = acks(text)

    assert first.patient.last_name == "RIVERA"
    assert second.patient == PersonRef()


def test_a_broken_claim_status_is_a_problem_and_the_others_still_come_out():
    broken = [
        seg("TRN", "2", "PCN-BAD"),
        seg("STC", "A2:20", "20261341", "WQ", "100"),
        seg("SVC", "HC", "100", "0"),
    ]
    no_id = [seg("TRN", "2"), seg("STC", "A2:20", "20261021", "WQ", "100")]
    text = ack277(
        header(),
        patient_loop("4", "RIVERA", "ANA", "1EG4TE5MK72"),
        facet_ack(),
        broken,
        no_id,
        tfesi_rejection(),
    )

    items = list(parse_277ca(text))

    assert [i.claim_id for i in items if isinstance(i, ClaimAck)] == ["PCN-FACET-1", "PCN-TFESI-2"]
    assert [
        (p.scope, p.segment_position, p.segment_id, p.element_position, p.found) for p in problems_of(items)
    ] == [
        ("claim", position_of(text, "STC*A2:20*20261341"), "STC", 2, "20261341"),
        ("claim", position_of(text, "SVC*HC*100"), "SVC", 1, "HC"),
        ("claim", position_of(text, "TRN*2", 4), "TRN", 2, "(empty)"),
    ]
    assert [type(i).__name__ for i in items] == ["ClaimAck", "Problem", "Problem", "Problem", "ClaimAck"]


def test_claim_status_without_stc_is_a_problem():
    text = ack277(header(), patient_loop("4", "RIVERA", "ANA", "1EG4TE5MK72"), [seg("TRN", "2", "PCN-NOSTC")])

    p = one_problem(parse_277ca(text))

    assert (p.segment_id, p.reason) == ("TRN", "claim status has no STC")


def test_receiver_and_provider_level_statuses_are_not_claims():
    (ack,) = acks(ack277(header(), patient_loop("4", "RIVERA", "ANA", "1EG4TE5MK72"), facet_ack()))

    assert ack.claim_id == "PCN-FACET-1"


def test_277_claim_status_response_x212_is_refused():
    text = ack277(header(), version="005010X212")

    p = one_problem(parse_277ca(text))

    assert (p.scope, p.segment_id, p.element_position, p.expected, p.found) == (
        "transaction",
        "ST",
        3,
        "005010X214",
        "005010X212",
    )


def test_truncated_277ca_is_a_transaction_problem():
    text = ack277(header(), patient_loop("4", "RIVERA", "ANA", "1EG4TE5MK72"), facet_ack())
    cut = text[: text.index("SVC*")]

    p = one_problem(parse_277ca(cut))

    assert p.reason == "file ends inside a transaction set (no SE)"
    assert (p.segment_position, p.segment_id) == (position_of(text, "DTP*472*RD8"), "DTP")


def test_unusual_component_separator_in_stc_and_svc():
    text = ack277(header(), patient_loop("4", "RIVERA", "ANA", "1EG4TE5MK72"), facet_ack())
    text = text.replace(":", "|")

    (ack,) = acks(text)

    assert ack.statuses[0] == Status("A2", "20", "PR", date(2026, 10, 21), "WQ")
    assert [(ln.procedure_code, ln.modifiers) for ln in ack.lines] == [("64493", ("50",)), ("64494", ("50",))]
