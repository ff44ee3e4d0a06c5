"""Every 837P, 999 and 277CA file of the shared corpus, read in place from ../shared/corpus/x12.

The numbers below were counted in the files themselves (CLM and SV1 segments, AK2/IK5, TRN*2/STC in
2200D); positions are 1-based segment counts as in the file. What the files get wrong, and how it is
reported:

- imsweb 837P fixtures write the diagnoses as `HI*BK*8901*BF*87200*BF:5559` (qualifier and code in
  separate elements) and their second subscriber as `HL*2*3*22`, naming a parent HL that does not
  exist: every claim there is unreadable, each defect a claim Problem at its segment;
- their SE01 is not maintained: a transaction Problem after the claims of the set;
- LinuxForHealth 837P files are 005010X222A2 (errata): refused by default, read on request; five of
  them write composites with `>` although ISA16 is `:`, so CLM05, HI and SV101 cannot be read;
- x12_bad_first_line.txt has a 105-character ISA. `x12.read_delimiters` now reads the ISA by structure,
  so the file reads exactly like x12_valid.txt (before, the whole file was one Problem);
- UnicodeExample.txt is UTF-16: `x12.decode` refuses it.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.ingest.domain.acks import AckResult, ClaimAck, parse_277ca, parse_999
from services.ingest.domain.claim837 import SUPPORTED_837P, SubmittedClaim, parse_837p
from services.ingest.domain.x12 import Problem, X12SyntaxError, decode
from tests.support.strict import unavailable

pytestmark = pytest.mark.corpus

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "x12"
MANIFEST = CORPUS / "MANIFEST.tsv"
WITH_ERRATA_A2 = (*SUPPORTED_837P, "005010X222A2")

# (scope, segment position, segment id, element position, reason, found)
Where = tuple[str, int | None, str | None, int | None, str, str | None]

HI_BK = "HI01 is not a diagnosis composite"
HI_NOT_READABLE = "HI01 is not a diagnosis, anesthesia or condition composite"
HL_PARENT = "HL02 does not name an earlier billing provider HL"
SE01 = "SE01 segment count is wrong"
CLM05_POS = "CLM05-1 is not a place of service code"
CLM05_FREQUENCY = "CLM05-3 is not a professional claim frequency code"
SV101_QUALIFIER = "SV101-1 is not a procedure code qualifier"
SV101_COMPOSITE = "SV101 is not a procedure composite"
BAD_SEGMENT_ID = "segment id is not a valid X12 segment id"
UNSUPPORTED_837P = "unsupported 837P version"
INSTITUTIONAL = "institutional claims are not supported"
UNSUPPORTED_277 = "unsupported 277 version: only 277CA claim acknowledgments are read"
IEA02 = "IEA02 does not match ISA13"


def hi_bk(position: int) -> Where:
    return ("claim", position, "HI", 1, HI_BK, "BK")


def hl_parent_3(position: int) -> Where:
    return ("claim", position, "HL", 2, HL_PARENT, "3")


def se01(position: int, found: str) -> Where:
    return ("transaction", position, "SE", 1, SE01, found)


def imsweb_transaction(first_hi: int, hl: int, second_hi: int, se: int) -> tuple[Where, ...]:
    """Two claims of an imsweb set: both HI unreadable, the second under HL*2*3, SE01 of 25."""
    return (hi_bk(first_hi), hl_parent_3(hl), hi_bk(second_hi), se01(se, "25"))


def medicaid_claim(clm: int, first_sv1: int) -> tuple[Where, ...]:
    """A de-identified Medicaid claim: CLM05 `99>X>9` (frequency 9) and SV101 `XX>99999`."""
    return (
        ("claim", clm, "CLM", 5, CLM05_FREQUENCY, "9"),
        ("claim", first_sv1, "SV1", 1, SV101_QUALIFIER, "XX"),
        ("claim", first_sv1 + 3, "SV1", 1, SV101_QUALIFIER, "XX"),
    )


def greater_than_composites(
    clm: int, pos: str, hi: int, hi_found: str, *sv1: tuple[int, str]
) -> tuple[Where, ...]:
    return (
        ("claim", clm, "CLM", 5, CLM05_POS, f"{pos}>B>1"),
        ("claim", hi, "HI", 1, HI_NOT_READABLE, hi_found),
        *(("claim", position, "SV1", 1, SV101_COMPOSITE, found) for position, found in sv1),
    )


# ---------------------------------------------------------------- expectations, counted in the files


@dataclass(frozen=True)
class Expected837:
    claims: tuple[tuple[str, str, int], ...] = ()  # CLM01, CLM02 as written, number of SV1
    problems: tuple[Where, ...] = ()
    segment_counts: tuple[str, ...] = ()  # what SE01 should have said, for each SE01 problem
    errata_a2: bool = False  # 005010X222A2: refused by default, these values with the errata allowed
    problem_kinds: tuple[tuple[tuple[str, str | None, str], int], ...] = ()  # for files too big to list
    decode_error: str | None = None


EXPECTED_837: dict[str, Expected837] = {
    "azoner__pyx12/simple_837p.txt": Expected837(
        problems=(("transaction", 2, "GS", 8, UNSUPPORTED_837P, "004010X098A1"),),
    ),
    "azoner__pyx12/fail_no_IEA.txt": Expected837(
        problems=(
            ("transaction", 2, "GS", 8, UNSUPPORTED_837P, "004010X098A1"),
            ("interchange", 5, "GE", None, "file ends inside an interchange (no IEA)", "end of file"),
        ),
    ),
    "imsweb__x12-parser/x12_valid.txt": Expected837(
        problems=imsweb_transaction(23, 27, 32, 36), segment_counts=("34",)
    ),
    "imsweb__x12-parser/x12_valid_different_separators.txt": Expected837(
        problems=imsweb_transaction(23, 27, 32, 36), segment_counts=("34",)
    ),
    "imsweb__x12-parser/x12_complex.txt": Expected837(
        problems=(
            hi_bk(28),
            hl_parent_3(66),  # claim A37YH667
            hi_bk(77),
            hl_parent_3(66),  # claim A37YH668, same subscriber loop
            hi_bk(132),
            se01(149, "25"),
            hi_bk(175),
            hl_parent_3(213),
            hi_bk(224),
            hl_parent_3(213),
            hi_bk(279),
            se01(296, "26"),
            ("interchange", 297, "GE", 1, "GE01 transaction set count is wrong", "1"),
        ),
        segment_counts=("147", "147"),
    ),
    "imsweb__x12-parser/x12_many_claims.txt": Expected837(
        problem_kinds=(
            (("claim", "HI", HI_BK), 820),
            (("claim", "HL", HL_PARENT), 410),
            (("transaction", "SE", SE01), 1),
        ),
        problems=imsweb_transaction(23, 27, 32, 11488)[:3],
        segment_counts=("11486",),
    ),
    "imsweb__x12-parser/x12_multiple_isa.txt": Expected837(
        problems=imsweb_transaction(23, 27, 32, 36) + imsweb_transaction(61, 65, 70, 74),
        segment_counts=("34", "34"),
    ),
    "imsweb__x12-parser/x12_multiple_gs.txt": Expected837(
        problems=(
            *imsweb_transaction(23, 27, 32, 36),
            *imsweb_transaction(59, 63, 68, 72),
            *imsweb_transaction(95, 99, 104, 108),
            ("interchange", 110, "IEA", 1, "IEA01 functional group count is wrong", "1"),
        ),
        segment_counts=("34", "34", "34"),
    ),
    "imsweb__x12-parser/x12_multiple_st.txt": Expected837(
        problems=(
            *imsweb_transaction(23, 27, 32, 36),
            *imsweb_transaction(57, 61, 66, 70),
            ("interchange", 71, "GE", 1, "GE01 transaction set count is wrong", "1"),
        ),
        segment_counts=("34", "34"),
    ),
    "imsweb__x12-parser/x12_no_isa_line.txt": Expected837(
        problems=(
            (
                "file",
                1,
                None,
                None,
                "file does not start with an ISA interchange header",
                "GS*HC*SENDER CODE*RE",
            ),
        ),
    ),
    "imsweb__x12-parser/x12_bad_first_line.txt": Expected837(
        problems=imsweb_transaction(23, 27, 32, 36), segment_counts=("34",)
    ),
    "imsweb__x12-parser/x12_bad_segment_identifier.txt": Expected837(
        problems=(
            ("transaction", 6, "", None, BAD_SEGMENT_ID, "(empty)"),
            ("transaction", 11, "Nd4", None, BAD_SEGMENT_ID, "Nd4"),
            ("transaction", 20, "NM31", None, BAD_SEGMENT_ID, "NM31"),
            ("claim", 18, "HL", None, "2010BA subscriber NM1*IL is missing", "(missing)"),
            hi_bk(23),
            hl_parent_3(27),
            hi_bk(32),
            se01(36, "25"),
        ),
        segment_counts=("34",),
    ),
    "imsweb__x12-parser/x12_missing_elements.txt": Expected837(
        problems=(
            hi_bk(23),
            hl_parent_3(27),
            ("claim", 31, "CLM", 5, CLM05_POS, "(empty)"),
            hi_bk(32),
            se01(36, "25"),
        ),
        segment_counts=("34",),
    ),
    "imsweb__x12-parser/x12_segments_out_of_order.txt": Expected837(
        problems=imsweb_transaction(23, 27, 32, 36), segment_counts=("34",)
    ),
    "imsweb__x12-parser/x223-test.txt": Expected837(
        problems=(("transaction", 3, "ST", 3, INSTITUTIONAL, "005010X223A2"),),
    ),
    "Inteligenz__X12Parser/Example1_HealthInsurance.txt": Expected837(claims=(("26463774", "100", 4),)),
    "Inteligenz__X12Parser/Example2_Encounter.txt": Expected837(claims=(("26462967", "100", 4),)),
    "Inteligenz__X12Parser/Example3_COB.txt": Expected837(claims=(("26407789", "79.04", 3),)),
    "Inteligenz__X12Parser/Example1_2_And_3_Combined.txt": Expected837(
        claims=(("26463774", "100", 4), ("26407789", "79.04", 3), ("26462967", "100", 4)),
    ),
    "Inteligenz__X12Parser/MedicaidExample.txt": Expected837(
        problems=(
            *medicaid_claim(22, 26),
            *medicaid_claim(38, 42),
            *medicaid_claim(54, 58),
            *medicaid_claim(70, 74),
            *medicaid_claim(86, 90),
        ),
    ),
    "Inteligenz__X12Parser/MissingEntityCode.txt": Expected837(
        problems=(
            ("claim", 22, "CLM", 5, CLM05_FREQUENCY, "9"),
            ("claim", 25, "NM1", 1, "NM101 entity identifier code is required", "(empty)"),
            ("claim", 27, "SV1", 1, SV101_QUALIFIER, "XX"),
            ("claim", 30, "SV1", 1, SV101_QUALIFIER, "XX"),
            *medicaid_claim(39, 43),
            *medicaid_claim(55, 59),
            *medicaid_claim(71, 75),
            *medicaid_claim(87, 91),
        ),
    ),
    "Inteligenz__X12Parser/ST1309-XX.txt": Expected837(claims=(("B330004Y", "360", 2),)),
    "Inteligenz__X12Parser/UnicodeExample.txt": Expected837(
        decode_error="file is not ASCII/UTF-8 text (looks like UTF-16 or binary)"
    ),
    "LinuxForHealth__x12/demo.ambulance.example5.837": Expected837(
        errata_a2=True, claims=(("051068", "766.50", 4),)
    ),
    "LinuxForHealth__x12/demo.autoaccident.837": Expected837(
        errata_a2=True, claims=(("900000032", "185.00", 2),)
    ),
    "LinuxForHealth__x12/demo.cob.2ndary.example4.837": Expected837(
        errata_a2=True, problems=greater_than_composites(21, "11", 26, "BK>7215", (28, "HC>98940"))
    ),
    "LinuxForHealth__x12/demo.cob.example3.A.837": Expected837(
        errata_a2=True, claims=(("26407789", "79.04", 3),)
    ),
    "LinuxForHealth__x12/demo.cob.example3.B.837": Expected837(
        errata_a2=True, claims=(("26407789", "79.04", 3),)
    ),
    "LinuxForHealth__x12/demo.cob.example3.C.837": Expected837(
        errata_a2=True, claims=(("26407789", "79.04", 3),)
    ),
    "LinuxForHealth__x12/demo.cob.example4.837": Expected837(
        errata_a2=True, claims=(("101KEN6055", "120.00", 1),)
    ),
    "LinuxForHealth__x12/demo.drug.example10.1.837": Expected837(
        errata_a2=True, claims=(("CLMNO12345", "103.37", 2),)
    ),
    "LinuxForHealth__x12/demo.drug.example10.2.837": Expected837(
        errata_a2=True, claims=(("CLMNO12345", "2232.93", 6),)
    ),
    "LinuxForHealth__x12/demo.drug.example10.3.837": Expected837(
        errata_a2=True, claims=(("CLMNO12345", "2232.93", 6),)
    ),
    "LinuxForHealth__x12/demo.example1.837": Expected837(errata_a2=True, claims=(("26463774", "100.00", 4),)),
    "LinuxForHealth__x12/demo.example11.837": Expected837(
        errata_a2=True,
        problems=greater_than_composites(21, "11", 24, "BK>496", (32, "HC>E0570>RR"), (36, "HC>A7003>NU")),
    ),
    "LinuxForHealth__x12/demo.example12.837": Expected837(
        errata_a2=True, problems=greater_than_composites(26, "23", 29, "BK>9951", (39, "HC>99284"))
    ),
    "LinuxForHealth__x12/demo.example2.837": Expected837(errata_a2=True, claims=(("26462967", "100.00", 4),)),
    "LinuxForHealth__x12/demo.example6.837": Expected837(
        errata_a2=True, problems=greater_than_composites(21, "11", 26, "BK>7215", (28, "HC>98940"))
    ),
    "LinuxForHealth__x12/demo.example7.837": Expected837(
        errata_a2=True, claims=(("R03996273 #01", "520.24", 2),)
    ),
    "LinuxForHealth__x12/demo.example8.837": Expected837(errata_a2=True, claims=(("SMI123", "75.00", 1),)),
    "LinuxForHealth__x12/demo.example9.837": Expected837(
        errata_a2=True, problems=greater_than_composites(20, "22", 21, "BK>36616", (29, "HC>00142>QK>QS>P1"))
    ),
    "LinuxForHealth__x12/institutional-claim.837i": Expected837(
        problems=(("transaction", 3, "ST", 3, INSTITUTIONAL, "005010X223A3"),),
    ),
}


@dataclass(frozen=True)
class Expected999:
    results: tuple[tuple[str | None, str | None, bool], ...]  # AK202, IK501, accepted
    group: tuple[str | None, int | None, int | None, int | None]  # AK901, AK902, AK903, AK904
    segment_errors: tuple[tuple[str | None, str, int, str | None, str | None], ...] = ()  # AK202, IK3, CTX
    problems: tuple[Where, ...] = ()


EXPECTED_999: dict[str, Expected999] = {
    "azoner__pyx12/834_ls_le_ls_5010.999.txt": Expected999(
        results=(("146001", "A", True),), group=("A", 1, 1, 1)
    ),
    "azoner__pyx12/834_lui_id_5010.999.txt": Expected999(
        results=(("0001", "A", True),) * 4,  # four 999 sets, two per GS, each acknowledging 834 set 0001
        group=("A", 1, 1, 1),
    ),
    "imsweb__x12-parser/x12_999_accepted.txt": Expected999(
        results=(("0001", "A", True),),
        group=("A", 1, 1, 1),
        problems=(("interchange", 10, "IEA", 2, IEA02, "000000001"),),
    ),
    "imsweb__x12-parser/x12_999_rejected.txt": Expected999(
        results=(("0028", "R", False),),
        group=("R", 1, 1, 0),
        segment_errors=(("0028", "NM", 17, "1", None),),
    ),
    "Inteligenz__X12Parser/DHS_Wisconsin_Sample.txt": Expected999(
        results=(("0001", "A", True), ("002", "R", False), ("0003", "R", False)),
        group=("P", 3, 3, 1),
        segment_errors=(("002", "CLM", 22, "8", "123456789"), ("0003", "REF", 57, "3", "987654321")),
    ),
}


@dataclass(frozen=True)
class Expected277:
    acks: tuple[
        tuple[str, tuple[str, ...], bool, str | None, str | None], ...
    ] = ()  # TRN02, STC01-1, accepted, REF*1K, STC04
    problems: tuple[Where, ...] = ()


EXPECTED_277: dict[str, Expected277] = {
    "imsweb__x12-parser/x12_277CA_accepted.txt": Expected277(
        acks=(("5781", ("A2",), True, "1107000000014420", "125"),),
    ),
    "imsweb__x12-parser/x12_277CA_rejected.txt": Expected277(
        acks=(("3920394930203", ("A7",), False, "1107000000001120", "199.14"),),
    ),
    "Inteligenz__X12Parser/FromAlexbrodsky.txt": Expected277(
        acks=(("3920394930203", ("A7",), False, "1107000000001120", "199.14"),),
    ),
    "Inteligenz__X12Parser/FromBogeyone.txt": Expected277(
        problems=(
            ("transaction", 10, "HL", None, "file ends inside a transaction set (no SE)", "end of file"),
        ),
    ),
    "Inteligenz__X12Parser/FromLatitude81uk.txt": Expected277(
        problems=(
            ("claim", 26, "STC", 2, "STC02 is not a valid date", "5454545"),
            ("claim", 28, "DTP", 3, "DTP03 is not a valid date range", "4545454-5454545"),
            ("interchange", 31, "IEA", 2, IEA02, "000000002"),
        ),
    ),
    # 277 claim status responses (005010X212) are not 277CA: refused at ST03
    "imsweb__x12-parser/x12_277_x212.txt": Expected277(
        problems=(
            ("transaction", 3, "ST", 3, UNSUPPORTED_277, "005010X212"),
            ("interchange", 111, "IEA", 2, IEA02, "842928883"),
        ),
    ),
    "LinuxForHealth__x12/claim-level-status.277": Expected277(
        problems=(("transaction", 3, "ST", 3, UNSUPPORTED_277, "005010X212"),),
    ),
    "LinuxForHealth__x12/provider-level-status.277": Expected277(
        problems=(("transaction", 3, "ST", 3, UNSUPPORTED_277, "005010X212"),),
    ),
}


# ---------------------------------------------------------------- the manifest and the files


def _manifest() -> list[dict[str, str]]:
    if not MANIFEST.is_file():
        return []
    with MANIFEST.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


ROWS = _manifest()


def _files(*transactions: str, other_note: str | None = None) -> list[str]:
    return [
        row["file"]
        for row in ROWS
        if row["transaction"] in transactions
        or (other_note is not None and row["transaction"] == "other" and other_note in row["notes"])
    ]


def _params(files: list[str]) -> list[object]:
    return [pytest.param(name, id=name) for name in files] or [pytest.param(None, id="corpus-missing")]


def _require_corpus() -> None:
    if not ROWS or not CORPUS.is_dir():
        unavailable(f"the corpus {CORPUS} or its MANIFEST.tsv is missing")


def _corpus_file(name: str | None) -> Path:
    if name is None:
        _require_corpus()
    return CORPUS / str(name)


def _text(name: str | None) -> str:
    return decode(_corpus_file(name).read_bytes())


def _where(problem: Problem) -> Where:
    return (
        problem.scope,
        problem.segment_position,
        problem.segment_id,
        problem.element_position,
        problem.reason,
        problem.found,
    )


FILES_837 = _files("837P", "837I")
FILES_999 = _files("999")
FILES_277 = _files("277CA", other_note="277 claim status response")


def _require(name: str) -> str | None:
    return name if name in FILES_837 else None


def test_the_manifest_lists_every_file_counted_here():
    _require_corpus()

    assert sorted(FILES_837) == sorted(EXPECTED_837)
    assert sorted(FILES_999) == sorted(EXPECTED_999)
    assert sorted(FILES_277) == sorted(EXPECTED_277)


# ---------------------------------------------------------------- 837P (and 837I)


@pytest.mark.parametrize("name", _params(FILES_837))
def test_837_file(name):
    path = _corpus_file(name)
    expected = EXPECTED_837[name]
    if expected.decode_error:
        with pytest.raises(X12SyntaxError) as refused:
            decode(path.read_bytes())
        assert refused.value.reason == expected.decode_error
        assert refused.value.found == "UTF-16 or binary bytes"
        return
    text = _text(name)

    if expected.errata_a2:
        (refused_a2,) = parse_837p(text)
        assert isinstance(refused_a2, Problem)
        assert _where(refused_a2) == ("transaction", 3, "ST", 3, UNSUPPORTED_837P, "005010X222A2")
        items = list(parse_837p(text, versions=WITH_ERRATA_A2))
    else:
        items = list(parse_837p(text))

    claims = [i for i in items if isinstance(i, SubmittedClaim)]
    problems = [i for i in items if isinstance(i, Problem)]
    assert [(c.claim_id, str(c.total_charge), len(c.lines)) for c in claims] == list(expected.claims)
    assert sum(len(c.lines) for c in claims) == sum(n for _, _, n in expected.claims)
    if expected.problem_kinds:
        kinds = Counter((p.scope, p.segment_id, p.reason) for p in problems)
        assert kinds == Counter(dict(expected.problem_kinds))
        assert [_where(p) for p in problems[: len(expected.problems)]] == list(expected.problems)
    else:
        assert [_where(p) for p in problems] == list(expected.problems)
    assert [p.expected for p in problems if p.reason == SE01] == list(expected.segment_counts)


def test_a_read_corpus_claim_carries_its_context():
    text = _text(_require("Inteligenz__X12Parser/Example3_COB.txt"))

    (claim,) = parse_837p(text)

    assert isinstance(claim, SubmittedClaim)
    assert (claim.billing_npi, claim.billing_tin, claim.rendering_npi) == (
        "1999996666",
        "123456789",
        "1999996666",
    )
    assert (claim.payer_id, claim.payer_name) == ("999996666", "KEY INSURANCE COMPANY")
    assert claim.subscriber_member_id == "111223333"  # not the 2330A other subscriber's T55TY666
    assert (claim.patient.last_name, claim.patient.first_name, claim.patient_is_subscriber) == (
        "SMITH",
        "TED",
        False,
    )
    assert claim.diagnosis_codes == ("4779", "2724", "2780", "53081")
    assert [(ln.procedure_code, str(ln.charge), ln.diagnosis_pointers) for ln in claim.lines] == [
        ("99213", "43", (1, 2, 3, 4)),
        ("90782", "15", (1, 2)),
        ("J3301", "21.04", (1, 2)),
    ]


def test_a_carriage_return_terminated_corpus_file_keeps_line_control_numbers():
    text = _text(_require("Inteligenz__X12Parser/ST1309-XX.txt"))

    (claim,) = parse_837p(text)

    assert isinstance(claim, SubmittedClaim)
    assert [ln.line_control_number for ln in claim.lines] == ["17053", "17054"]
    assert claim.other_refs == {"D9": "123456789", "EA": "BBBBBBBY"}
    assert claim.patient_birth_date is not None
    assert claim.patient_birth_date.isoformat() == "1998-06-25"


# ---------------------------------------------------------------- 999


@pytest.mark.parametrize("name", _params(FILES_999))
def test_999_file(name):
    text = _text(name)
    expected = EXPECTED_999[name]

    items = list(parse_999(text))

    results = [i for i in items if isinstance(i, AckResult)]
    assert [(r.transaction_set_control, r.code, r.accepted) for r in results] == list(expected.results)
    for result in results:
        group = result.group
        assert (
            group.code,
            group.transactions_included,
            group.transactions_received,
            group.transactions_accepted,
        ) == expected.group
    errors = [
        (r.transaction_set_control, e.segment_id, e.position, e.error_code, e.claim_id)
        for r in results
        for e in r.segment_errors
    ]
    assert errors == list(expected.segment_errors)
    assert [_where(p) for p in items if isinstance(p, Problem)] == list(expected.problems)


# ---------------------------------------------------------------- 277CA


@pytest.mark.parametrize("name", _params(FILES_277))
def test_277ca_file(name):
    text = _text(name)
    expected = EXPECTED_277[name]

    items = list(parse_277ca(text))

    acks = [i for i in items if isinstance(i, ClaimAck)]
    assert [
        (
            a.claim_id,
            tuple(s.category for s in a.statuses),
            a.accepted,
            a.payer_claim_control_number,
            None if a.total_charge is None else str(a.total_charge),
        )
        for a in acks
    ] == list(expected.acks)
    assert [_where(p) for p in items if isinstance(p, Problem)] == list(expected.problems)
