"""Every 835 of the shared corpus, read in place from ../shared/corpus/x12 with `parse_835_file`.

The expectations below were counted in the files themselves (ST/SE, CLP, SVC, CAS, PLB pairs) and the
balances computed with a separate throw-away script that shares no code with the parser: BPR02 against
sum(CLP04) - sum(PLB amounts) per transaction, CLP03 - claim CAS - line CAS against CLP04 per claim, and
SVC02 - line CAS against SVC03 per line. Positions are 1-based segment counts as in the file. What the
files get wrong, and how it is reported:

- files without an ISA header (blue_cross_nc_sample.txt, exhaustive_sample.txt start at ST) are one
  file Problem; the same for a UTF-16 file (no 835 of the corpus is UTF-16: the 837P one stands in);
- GS08 that names no supported 835 guide (the de-identified 999999X999X9, the bare `5010` of
  Example1.txt, the truncated `004010` of the oxedi multi_claim/trizetto files) refuses the transaction
  set at ST03 (element 3), whatever the set contains;
- mult_isa.txt mixes 278/837/835 sets in two interchanges: the non-835 sets are refused at ST01 and its
  835 sets are empty skeletons (ST/SE only), so each is "transaction has no BPR payment segment";
- claims without SVC (claim-level adjudication, denials) are a claim Problem at their CLP;
- managed-care.835 (and its owgreen variant) carries the TR3 example BPR16 `20002316`: a transaction
  Problem, but its lines are read and post without a payment date;
- the affect-therapeutics template files carry CAS01 `grp_code`, placeholder remark codes in MIA05,
  MOA03 and LQ02, an empty PLB04 and stale SE01 counts; bad_header_looping.txt repeats its payer/payee
  loops after the first claim and keeps an SE01 of 39 for 72 segments;
- 835_simple.txt, bad_header_looping.txt, Example1_GripElements.txt and balanced_4010_sample.txt are
  004010X091A1 (supported); 835_simple.txt and Example1_GripElements.txt carry reversals (CLP02 22)
  with negative amounts and do not balance at transaction level, so every line is held;
- ExampleFromNth.txt is masked with 9s: neither its transactions (BPR02 999.99, 9999.99, 482.13) nor
  51 of its 56 claims nor 50 of its 91 lines add up; every line is held (the transactions alone would
  hold them). No transaction that balances has a line or claim of its own that does not.

Not testable from the corpus: SVC06 (submitted procedure). The only 835s carrying it are refused before
any line is read (blue_cross_nc_sample.txt has no ISA, 835_DeIdent_02.dat a masked version).
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import BaseModel

import services.ingest.domain.remit835 as remit835
from services.ingest.domain.remit835 import (
    ProviderAdjustment,
    RemitLine,
    RemittanceRead,
    parse_835_file,
)
from services.ingest.domain.x12 import Problem
from tests.support.strict import unavailable

pytestmark = pytest.mark.corpus

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "x12"
MANIFEST = CORPUS / "MANIFEST.tsv"

# (scope, reason prefix, segment position, segment id, element position)
Where = tuple[str, str, int | None, str | None, int | None]

SE01 = "SE01 segment count is wrong"
NO_LINES = "claim has no service lines"
UNSUPPORTED = "unsupported 835 version"
NOT_835 = "transaction set is not an 835"
NO_BPR = "transaction has no BPR payment segment"
NO_ISA = "file does not start with an ISA interchange header"
NOT_TEXT = "file is not ASCII/UTF-8 text"
BPR16_DATE = "BPR16 is not a valid date"
IEA02 = "IEA02 does not match ISA13"
CAS01 = "CAS01 is not a claim adjustment group code"
PLB03 = "PLB03 is not an adjustment reason code"
REMARK = "is not a remark code"
SVC01 = "SVC01 is not a procedure composite"
ANY_REASON = ""  # where a defect is about the place of a problem, not its wording

FILE_WITHOUT_ISA: Where = ("file", NO_ISA, 1, None, None)


def se01(position: int) -> Where:
    return ("transaction", SE01, position, "SE", 1)


def no_lines(clp: int) -> Where:
    return ("claim", NO_LINES, clp, "CLP", None)


def unsupported(st: int) -> Where:
    return ("transaction", UNSUPPORTED, st, "ST", 3)


def not_835(st: int) -> Where:
    return ("transaction", NOT_835, st, "ST", 1)


def no_bpr(st: int) -> Where:
    return ("transaction", NO_BPR, st, "ST", None)


def bad_remark(position: int, segment_id: str, element: int) -> Where:
    """A placeholder remark code (`remark_code2`, `code2`): the claim is unreadable, reported there."""
    return ("claim", f"{segment_id}{element:02d} {REMARK}", position, segment_id, element)


# ---------------------------------------------------------------- expectations, counted in the files


@dataclass(frozen=True)
class Expect:
    transactions: int  # RemittanceRead items: 835 sets read to their SE
    lines: int  # RemitLine items
    held: int  # of which posting == "hold"
    plb: int  # ProviderAdjustment items (one per PLB reason/amount pair)
    problems: tuple[Where, ...] = ()
    # per transaction read: None when BPR02 == sum(CLP04) - sum(PLB), else (BPR02, what the claims add up to)
    imbalances: tuple[tuple[str, str] | None, ...] | None = None
    unbalanced_claims: int = 0  # claims with lines whose CLP03 - CAS != CLP04
    unbalanced_lines: int = 0  # lines whose SVC02 - CAS != SVC03

    @property
    def balance(self) -> tuple[tuple[str, str] | None, ...]:
        return self.imbalances if self.imbalances is not None else (None,) * self.transactions


# eMedNY sample: 3 claims (4 + 2 + 4 SVC), BPR02 45.75 = 34.25 + 0 + 11.5, every claim and line balances
EMEDNY = Expect(transactions=1, lines=10, held=0, plb=0)

# ExampleFromNth and its CRLF copy: 3 interchanges, 56 claims, 91 SVC, masked amounts
NTH = Expect(
    transactions=3,
    lines=91,
    held=91,
    plb=0,
    imbalances=(("999.99", "776.06"), ("9999.99", "3111.09"), ("482.13", "3439.89")),
    unbalanced_claims=51,
    unbalanced_lines=50,
)

# TR3 managed-care example: BPR16 20002316; 2 claims of 1 SVC each, 945.00 = 450.00 + 495.00
MANAGED_CARE = Expect(
    transactions=1, lines=2, held=0, plb=0, problems=(("transaction", BPR16_DATE, 4, "BPR", 16),)
)

EXPECTED: dict[str, Expect] = {
    # 1 denied claim, 3 SVC fully adjusted to 0; BPR02 0
    "azoner__pyx12/835_mult_loops.txt": Expect(transactions=1, lines=3, held=0, plb=0),
    # 4010; 3 claims (two reversals 22), PLB CS x3: 5950.21 != -510.25 - (-977.94) = 467.69
    "azoner__pyx12/835_simple.txt": Expect(
        transactions=1, lines=3, held=3, plb=3, imbalances=(("5950.21", "467.69"),)
    ),
    # 2 denied claims of 3 SVC each; the repeated N1/N3/N4 loops after claim 1 are read as part of it
    "azoner__pyx12/bad_header_looping.txt": Expect(
        transactions=1, lines=6, held=0, plb=0, problems=(se01(74),)
    ),
    # not in the manifest as an 835: 278/837/835 in two interchanges, 835 sets without a BPR
    "azoner__pyx12/mult_isa.txt": Expect(
        transactions=0,
        lines=0,
        held=0,
        plb=0,
        problems=(
            not_835(3),
            not_835(6),
            not_835(9),
            not_835(14),
            no_bpr(19),
            no_bpr(23),
            no_bpr(27),
            not_835(33),
            not_835(36),
            not_835(39),
            not_835(44),
            no_bpr(49),
        ),
    ),
    "keironstoddart__edi-835-parser/blue_cross_nc_sample.txt": Expect(
        transactions=0, lines=0, held=0, plb=0, problems=(FILE_WITHOUT_ISA,)
    ),
    "keironstoddart__edi-835-parser/emedny_sample.txt": EMEDNY,
    # ISA16 '>'; 2 claims (2 + 3 SVC), 349.99 = 88.92 + 261.07
    "keironstoddart__edi-835-parser/united_healthcare_legacy_sample.txt": Expect(
        transactions=1, lines=5, held=0, plb=0
    ),
    "affect-therapeutics__edi-835-parser/emedny_sample.txt": EMEDNY,
    "affect-therapeutics__edi-835-parser/exhaustive_sample.txt": Expect(
        transactions=0, lines=0, held=0, plb=0, problems=(FILE_WITHOUT_ISA,)
    ),
    # 3 sets: claim-level only claims (no SVC) in the first two, a PLB of 6 pairs in the third
    # (1812.27 = 0 - (-1812.27)); IEA02 100000301 for ISA13 100000300
    "affect-therapeutics__edi-835-parser/nevada_medicaid.txt": Expect(
        transactions=3,
        lines=0,
        held=0,
        plb=6,
        problems=(
            no_lines(14),
            no_lines(36),
            no_lines(43),
            ("interchange", IEA02, 67, "IEA", 2),
        ),
    ),
    # set 1: both claims carry CAS01 grp_code (unreadable), a PLB pair of 5 with the placeholder reason
    # `resnCode` (refused) makes it 1.78 != 1.78 - 5; set 2: the four claims balance (141.13) but three
    # carry MIA05 `remark_codeN` and the fourth LQ02 `code2`, so no line is read; its PLB names the
    # placeholder reason too (and has no PLB04, counted as 0)
    "affect-therapeutics__edi-835-parser/sample_835.txt": Expect(
        transactions=2,
        lines=0,
        held=0,
        plb=0,
        imbalances=(("1.78", "-3.22"), None),
        problems=(
            ("claim", CAS01, 23, "CAS", 1),
            ("claim", CAS01, 38, "CAS", 1),
            ("transaction", PLB03, 56, "PLB", 3),
            se01(57),
            bad_remark(81, "MIA", 5),
            bad_remark(106, "MIA", 5),
            bad_remark(133, "MIA", 5),
            bad_remark(161, "LQ", 2),
            ("transaction", PLB03, 162, "PLB", 3),
            se01(163),
        ),
    ),
    # as sample_835.txt, but set 2 has PLB L6 -10.3 (141.13 != 141.13 + 10.3) followed by a stray
    # segment whose id is no X12 id at all (the tail of a PLB composite)
    "affect-therapeutics__edi-835-parser/sample_835_with_interests.txt": Expect(
        transactions=2,
        lines=0,
        held=0,
        plb=1,
        imbalances=(("1.78", "-3.22"), ("141.13", "151.43")),
        problems=(
            ("claim", CAS01, 23, "CAS", 1),
            ("claim", CAS01, 38, "CAS", 1),
            ("transaction", PLB03, 56, "PLB", 3),
            se01(57),
            bad_remark(81, "MIA", 5),
            bad_remark(106, "MIA", 5),
            bad_remark(133, "MIA", 5),
            bad_remark(163, "LQ", 2),
            ("transaction", "segment id is not a valid X12 segment id", 165, "resnCode>adjID>5", None),
            se01(166),
        ),
    ),
    "tastypackets__x12-parser/profee.edi": EMEDNY,
    "tastypackets__x12-parser/profee-one-line.edi": EMEDNY,
    "tastypackets__x12-parser/multi-line-not-delimited.edi": EMEDNY,
    # 156 interchanges of the eMedNY remit
    "tastypackets__x12-parser/profee-multiple.edi": Expect(transactions=156, lines=1560, held=0, plb=0),
    "Inteligenz__X12Parser/Example1.txt": Expect(
        transactions=0, lines=0, held=0, plb=0, problems=(unsupported(3),)
    ),
    "Inteligenz__X12Parser/ExampleFromNth.txt": NTH,
    "Inteligenz__X12Parser/835_WithMultipleInterchanges.txt": NTH,
    # 4010; 9 claims of 1 SVC (two reversals); 5.75 = sum(CLP04), but PLB CV -1.27 makes it 7.02
    "Inteligenz__X12Parser/Example1_GripElements.txt": Expect(
        transactions=1, lines=9, held=9, plb=1, imbalances=(("5.75", "7.02"),)
    ),
    "Inteligenz__X12Parser/835_DeIdent_01.dat": Expect(
        transactions=0, lines=0, held=0, plb=0, problems=(unsupported(3),)
    ),
    # 6 sets, all refused; IEA02 9999999996 for ISA13 999999999
    "Inteligenz__X12Parser/835_DeIdent_02.dat": Expect(
        transactions=0,
        lines=0,
        held=0,
        plb=0,
        problems=(
            unsupported(3),
            unsupported(32),
            unsupported(5053),
            unsupported(5095),
            unsupported(5185),
            unsupported(12772),
            ("interchange", IEA02, 13002, "IEA", 2),
        ),
    ),
    # SVC01 `HC>55669` although ISA16 is ':'; line CAS OA 23 516.00 and OA 94 -9.00
    "LinuxForHealth__x12/cob-contractural-adjustment.835": Expect(transactions=1, lines=1, held=0, plb=0),
    "LinuxForHealth__x12/managed-care.835": MANAGED_CARE,
    # institutional: both claims without SVC; PLB CV:CP -1.27 (150000.00 = 149998.73 + 1.27)
    "LinuxForHealth__x12/medicare-part-a.835": Expect(
        transactions=1, lines=0, held=0, plb=1, problems=(no_lines(15), no_lines(24))
    ),
    "LinuxForHealth__x12/secondary-payment.835": Expect(
        transactions=1, lines=2, held=0, plb=0, problems=(no_lines(16),)
    ),
    # SVC01 is a qualifier without a procedure code
    "LinuxForHealth__x12/tertiary-payment.835": Expect(
        transactions=1, lines=0, held=0, plb=0, problems=(("claim", SVC01, 20, "SVC", 1),)
    ),
    # 690 = (200 + 400 + 120 + 0) - (25 - 5 + 10); the denied CLM2002 has no SVC
    "javillegasna__oxedi/balanced_5010_sample.txt": Expect(
        transactions=1, lines=4, held=0, plb=3, problems=(no_lines(55),)
    ),
    "javillegasna__oxedi/balanced_4010_sample.txt": Expect(
        transactions=1, lines=4, held=0, plb=3, problems=(no_lines(54),)
    ),
    "javillegasna__oxedi/multi_claim_sample.txt": Expect(
        transactions=0, lines=0, held=0, plb=0, problems=(unsupported(3),)
    ),
    "javillegasna__oxedi/trizetto_sample.rmt": Expect(
        transactions=0, lines=0, held=0, plb=0, problems=(unsupported(3),)
    ),
    "owgreen-dev__x12sdk/generated-bundling-denials.835": Expect(transactions=1, lines=3, held=0, plb=0),
    "owgreen-dev__x12sdk/generated-mixed-claims.835": Expect(transactions=1, lines=16, held=0, plb=0),
    "owgreen-dev__x12sdk/generated-paid-in-full.835": Expect(
        transactions=1, lines=0, held=0, plb=0, problems=(no_lines(11),)
    ),
    "owgreen-dev__x12sdk/managed-care-payer-contacts.835": MANAGED_CARE,
}

# What a problem says besides its place, where that is worth pinning: (file, position) -> (expected, found)
PROBLEM_VALUES: dict[tuple[str, int], tuple[str | None, str | None]] = {
    ("azoner__pyx12/bad_header_looping.txt", 74): ("72", "39"),
    ("affect-therapeutics__edi-835-parser/sample_835.txt", 23): ("CO, PR, OA or PI", "grp_code"),
    ("affect-therapeutics__edi-835-parser/sample_835.txt", 57): ("55", "46"),
    ("affect-therapeutics__edi-835-parser/sample_835.txt", 162): (
        "a two-character code such as WO, FB, L6 or 72",
        "resnCode",
    ),
    ("affect-therapeutics__edi-835-parser/sample_835.txt", 81): (
        "a RARC such as N362 or MA130",
        "remark_code2",
    ),
    ("affect-therapeutics__edi-835-parser/sample_835.txt", 163): ("106", "96"),
    ("affect-therapeutics__edi-835-parser/sample_835_with_interests.txt", 166): ("109", "96"),
    ("affect-therapeutics__edi-835-parser/nevada_medicaid.txt", 67): ("100000300", "100000301"),
    ("affect-therapeutics__edi-835-parser/nevada_medicaid.txt", 36): (
        "SVC service lines",
        "claim 77777778 status 2 paid 0",
    ),
    ("LinuxForHealth__x12/managed-care.835", 4): ("CCYYMMDD", "20002316"),
    ("LinuxForHealth__x12/tertiary-payment.835", 20): ("qualifier:code[:modifiers]", "HC"),
    ("Inteligenz__X12Parser/Example1.txt", 3): ("005010X221A1 or 004010X091A1", "5010"),
    ("Inteligenz__X12Parser/835_DeIdent_02.dat", 12772): ("005010X221A1 or 004010X091A1", "999999X999X9"),
    ("Inteligenz__X12Parser/835_DeIdent_02.dat", 13002): ("999999999", "9999999996"),
    ("javillegasna__oxedi/trizetto_sample.rmt", 3): ("005010X221A1 or 004010X091A1", "004010"),
    ("azoner__pyx12/mult_isa.txt", 14): ("835", "837"),
    ("azoner__pyx12/mult_isa.txt", 49): ("BPR", "(missing)"),
}

# ---------------------------------------------------------------- the manifest and the files


def _manifest() -> dict[str, dict[str, str]]:
    if not MANIFEST.is_file():
        return {}
    with MANIFEST.open(newline="", encoding="utf-8") as handle:
        return {row["file"]: row for row in csv.DictReader(handle, delimiter="\t")}


def _has_835_set(path: Path) -> bool:
    """Whether a file holds an ST*835 set, by its text (not by the parser under test)."""
    data = path.read_bytes()
    text = (
        data.decode("utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else data.decode("utf-8", "replace")
    )
    start = text.find("ISA")
    separator = re.escape(text[start + 3] if start >= 0 and len(text) > start + 3 else "*")
    return re.search(rf"(?<![A-Za-z0-9])ST{separator}835{separator}", text) is not None


ROWS = _manifest()
FILES_835 = [
    name
    for name, row in ROWS.items()
    if row["transaction"] == "835" or ((CORPUS / name).is_file() and _has_835_set(CORPUS / name))
]


def _require_corpus() -> None:
    if not ROWS or not CORPUS.is_dir():
        unavailable(f"the corpus {CORPUS} or its MANIFEST.tsv is missing")


def _params() -> list[object]:
    params: list[object] = [pytest.param(name, id=name) for name in FILES_835]
    return params or [pytest.param(None, id="corpus-missing")]


def _require(name: str) -> str:
    _require_corpus()
    if name not in FILES_835:
        pytest.fail(f"{name} is no longer an 835 of the corpus manifest")
    return name


def _expected(name: str | None) -> Expect:
    if name is None:
        _require_corpus()
    expected = EXPECTED.get(str(name))
    if expected is None:
        pytest.fail(f"{name}: no expectation written for this 835; count it and add it to EXPECTED")
    return expected


@dataclass(frozen=True)
class Read:
    reads: list[RemittanceRead]
    lines: list[RemitLine]
    adjustments: list[ProviderAdjustment]
    problems: list[Problem]


@functools.cache
def _read(name: str) -> Read:
    items = list(parse_835_file(CORPUS / name))
    return Read(
        reads=[i for i in items if isinstance(i, RemittanceRead)],
        lines=[i for i in items if isinstance(i, RemitLine)],
        adjustments=[i for i in items if isinstance(i, ProviderAdjustment)],
        problems=[i for i in items if isinstance(i, Problem)],
    )


def _describe(problem: Problem) -> str:
    return (
        f"{problem.scope} @{problem.segment_position} {problem.segment_id} e{problem.element_position}: "
        f"{problem.reason} (expected {problem.expected!r}, found {problem.found!r})"
    )


def _imbalance(read: RemittanceRead) -> tuple[Decimal, Decimal] | None:
    imbalance = read.remittance.imbalance
    return None if imbalance is None else (imbalance.expected, imbalance.found)


def _decimal_pair(pair: tuple[str, str] | None) -> tuple[Decimal, Decimal] | None:
    return None if pair is None else (Decimal(pair[0]), Decimal(pair[1]))


def _adjustments(line: RemitLine) -> list[tuple[str, str, Decimal]]:
    return [(a.group, a.reason, a.amount) for a in line.line.adjustments]


def _view(line: RemitLine) -> tuple[str, tuple[str, ...], Decimal, Decimal]:
    return (line.line.procedure_code, line.line.modifiers, line.line.charge, line.line.paid)


BALANCE_NOTE = re.compile(r"balance BPR02==sum\(CLP04\)-sum\(PLB\): (\d+) ok, (\d+) mismatch, (\d+) n/a")


# ---------------------------------------------------------------- every 835, counted


def test_every_835_of_the_manifest_has_an_expectation():
    _require_corpus()

    assert sorted(FILES_835) == sorted(EXPECTED)
    assert "azoner__pyx12/mult_isa.txt" in FILES_835  # listed as "other", but it holds ST*835 sets


@pytest.mark.parametrize("name", _params())
def test_835_file_counts(name):
    expected = _expected(name)
    read = _read(name)

    held = [line for line in read.lines if line.posting == "hold"]
    assert (len(read.reads), len(read.lines), len(held), len(read.adjustments)) == (
        expected.transactions,
        expected.lines,
        expected.held,
        expected.plb,
    )
    assert [_imbalance(r) for r in read.reads] == [_decimal_pair(p) for p in expected.balance]
    assert sum(r.lines for r in read.reads) == len(read.lines)
    assert sum(r.provider_adjustments for r in read.reads) == len(read.adjustments)
    claims = {(ln.remittance.transaction_ordinal, ln.claim_ordinal): ln.claim for ln in read.lines}
    assert sum(c.imbalance is not None for c in claims.values()) == expected.unbalanced_claims
    assert sum(ln.line.imbalance is not None for ln in read.lines) == expected.unbalanced_lines


@pytest.mark.parametrize("name", _params())
def test_835_file_problems(name):
    expected = list(_expected(name).problems)
    problems = _read(name).problems
    listing = "\n".join(_describe(p) for p in problems)

    assert len(problems) == len(expected), listing
    got = [
        (p.scope, p.reason[: len(w[1])], p.segment_position, p.segment_id, p.element_position)
        for p, w in zip(problems, expected, strict=True)
    ]
    assert got == expected, listing
    for problem in problems:
        values = PROBLEM_VALUES.get((str(name), problem.segment_position or 0))
        if values is not None:
            assert (problem.expected, problem.found) == values, _describe(problem)


@pytest.mark.parametrize("name", _params())
def test_835_posting_follows_the_balance_and_agrees_with_the_manifest(name):
    expected = _expected(name)
    read = _read(name)

    for line in read.lines:
        unbalanced = (
            line.remittance.imbalance is not None
            or line.claim.imbalance is not None
            or line.line.imbalance is not None
        )
        assert line.posting == ("hold" if unbalanced else "auto")

    match = BALANCE_NOTE.search(ROWS[str(name)]["notes"])
    if not read.reads:
        # refused before any balancing: no ISA, an unsupported version, no BPR
        assert expected.transactions == 0
        assert read.problems
        return
    assert match is not None, "the manifest says nothing about the balance of this 835"
    ok, mismatch, unknown = (int(n) for n in match.groups())
    balanced = sum(r.remittance.imbalance is None for r in read.reads)
    unbalanced_sets = len(read.reads) - balanced
    assert len(read.reads) == ok + mismatch + unknown
    assert ok <= balanced <= ok + unknown
    assert mismatch <= unbalanced_sets <= mismatch + unknown
    if mismatch == len(read.reads):
        assert all(line.posting == "hold" for line in read.lines)
    if ok == len(read.reads):
        # no corpus transaction that balances has a line or claim that does not (counted independently)
        assert all(line.posting == "auto" for line in read.lines)


# ---------------------------------------------------------------- concrete values, read in the files


def test_emedny_lines_carry_codes_modifiers_adjustments_and_remarks():
    read = _read(_require("tastypackets__x12-parser/profee.edi"))

    (remit,) = read.reads
    context = remit.remittance
    assert (context.transaction_control, context.interchange_control, context.version) == (
        "1740",
        "006000600",
        "005010X221A1",
    )
    assert (context.payment_amount, context.payment_method, context.payment_date) == (
        Decimal("45.75"),
        "ACH",
        date(2010, 1, 1),
    )
    assert (context.payer_name, context.payee_npi) == ("NYSDOH", "9999999995")
    assert (remit.claims, remit.lines, remit.provider_adjustments) == (3, 10, 0)
    first = read.lines[0]
    assert _view(first) == ("V2020", ("RB",), Decimal("6"), Decimal("6"))
    assert (first.line.service_date, first.line.allowed, first.claim.status_code) == (
        date(2010, 1, 1),
        Decimal("6"),
        "1",
    )
    assert first.claim.payer_claim_control_number == "1000210000000030"
    s0580 = read.lines[3]
    assert _view(s0580) == ("S0580", (), Decimal("20"), Decimal("20"))
    assert s0580.line.units_paid == Decimal("2")
    denied = read.lines[4]
    assert (denied.claim.status_code, denied.claim_ordinal) == ("2", 2)
    assert _view(denied) == ("V2020", (), Decimal("12"), Decimal("0"))
    assert _adjustments(denied) == [("CO", "29", Decimal("12"))]
    v2700 = read.lines[8]
    assert _view(v2700) == ("V2700", ("RB",), Decimal("2.75"), Decimal("0"))
    assert _adjustments(v2700) == [("CO", "251", Decimal("2.75"))]
    assert v2700.line.remarks == ("N206",)
    assert v2700.claim.paid == Decimal("11.5")
    assert read.lines[7].line.service_date == date(2013, 9, 17)  # SVC V2103 of claim 3, as written


def test_the_emedny_remit_reads_the_same_in_every_layout():
    """Same remit with LF after `~`, on one line, with newline as the only terminator, in two repos."""
    names = (
        "tastypackets__x12-parser/profee.edi",
        "tastypackets__x12-parser/profee-one-line.edi",
        "tastypackets__x12-parser/multi-line-not-delimited.edi",
        "keironstoddart__edi-835-parser/emedny_sample.txt",
        "affect-therapeutics__edi-835-parser/emedny_sample.txt",
    )

    def lines(name: str) -> list[tuple[object, ...]]:
        return [
            (*_view(ln), ln.line.units_paid, tuple(_adjustments(ln)), ln.line.remarks, ln.posting)
            for ln in _read(_require(name)).lines
        ]

    reference = lines(names[0])
    assert len(reference) == 10
    for name in names[1:]:
        assert lines(name) == reference, name
    # the affect-therapeutics copy differs in CLP07 only
    affect = _read(names[-1]).lines[0].claim.payer_claim_control_number
    assert affect == "PAYER-CLAIM-CONTROL-NUMBER"


def test_a_4010_reversal_keeps_its_negative_amounts_and_the_unbalanced_set_is_held():
    read = _read(_require("azoner__pyx12/835_simple.txt"))

    reversal, original, second_reversal = read.lines
    assert (reversal.claim.status_code, reversal.claim.charge, reversal.claim.paid) == (
        "22",
        Decimal("-310"),
        Decimal("-210"),
    )
    assert _view(reversal) == ("T1017", (), Decimal("-310"), Decimal("-210"))
    assert _adjustments(reversal) == [("CR", "45", Decimal("-100"))]
    assert reversal.line.units_paid == Decimal("6")
    assert reversal.claim.amounts == {"AU": Decimal("580")}
    assert original.claim.status_code == "1"
    assert _adjustments(original) == [("CR", "45", Decimal("100"))]
    assert _view(second_reversal) == ("T1017", ("TG",), Decimal("-500.25"), Decimal("-500.25"))
    assert {ln.posting for ln in read.lines} == {"hold"}
    assert [(a.provider_id, a.fiscal_period_date, a.reason_code, a.amount) for a in read.adjustments] == [
        ("382999999", date(2009, 9, 30), "CS", Decimal("-1008.1")),
        ("382999999", date(2009, 9, 30), "CS", Decimal("24.21")),
        ("382999999", date(2009, 9, 30), "CS", Decimal("5.95")),
    ]
    (remit,) = read.reads
    imbalance = remit.remittance.imbalance
    assert imbalance is not None
    assert (imbalance.level, imbalance.expected, imbalance.found) == (
        "transaction",
        Decimal("5950.21"),
        Decimal("467.69"),
    )
    assert remit.remittance.version == "004010X091A1"


def test_a_greater_than_component_separator_and_multi_reason_cas():
    read = _read(_require("keironstoddart__edi-835-parser/united_healthcare_legacy_sample.txt"))

    first = read.lines[0]
    assert _view(first) == ("B4152", (), Decimal("156.42"), Decimal("88.92"))
    assert (first.line.units_paid, first.line.line_control_number, first.line.allowed) == (
        Decimal("234"),
        "800941258001",
        Decimal("88.92"),
    )
    last = read.lines[4]
    assert _view(last) == ("B4154", (), Decimal("328.5"), Decimal("29.05"))
    # PR 2 and PR 1: two triplets of one CAS segment
    assert _adjustments(last) == [
        ("PR", "2", Decimal("5.13")),
        ("PR", "1", Decimal("110")),
        ("CO", "45", Decimal("184.32")),
    ]
    assert (last.claim.patient_responsibility, last.claim.payer_claim_control_number) == (
        Decimal("115.13"),
        "ATL2819897800",
    )
    assert read.reads[0].remittance.payer_id == "87726"


def test_an_unreadable_bpr16_is_reported_but_the_lines_still_post():
    read = _read(_require("LinuxForHealth__x12/managed-care.835"))

    (problem,) = read.problems
    assert problem.transaction_control == "112233"
    (remit,) = read.reads
    assert remit.remittance.payment_date is None
    assert remit.remittance.payment_amount == Decimal("945.00")
    first, second = read.lines
    assert _view(first) == ("99211", (), Decimal("800.00"), Decimal("500.00"))
    assert _adjustments(first) == [("PR", "1", Decimal("300.00"))]
    assert [(a.group, a.reason, a.amount) for a in first.claim.adjustments] == [
        ("CO", "A2", Decimal("50.00"))
    ]
    assert first.claim.patient_responsibility == Decimal("300.00")
    assert _view(second) == ("93555", (), Decimal("1200.00"), Decimal("550.00"))
    assert _adjustments(second) == [("PR", "1", Decimal("600.00")), ("CO", "45", Decimal("50.00"))]
    assert {ln.posting for ln in read.lines} == {"auto"}


def test_original_units_multi_triplet_cas_and_plb_pairs():
    read = _read(_require("javillegasna__oxedi/balanced_5010_sample.txt"))

    therapy = read.lines[2]  # SVC05 4 units paid, SVC07 5 billed
    assert _view(therapy) == ("97110", (), Decimal("700"), Decimal("450"))
    assert (therapy.line.units_paid, therapy.line.units_billed) == (Decimal("4"), Decimal("5"))
    assert [a.reason for a in therapy.line.adjustments] == ["45", "253", "94", "97", "59", "16", "96"]
    assert therapy.line.adjustments[0].quantity == Decimal("1")
    assert [(a.group, a.reason, a.amount) for a in therapy.claim.adjustments] == [("OA", "23", Decimal("50"))]
    assert _adjustments(read.lines[1]) == [
        ("PR", "2", Decimal("20")),
        ("PR", "3", Decimal("10")),
        ("CO", "45", Decimal("20")),
    ]
    assert [(a.provider_id, a.reason_code, a.reference, a.amount) for a in read.adjustments] == [
        ("1234567893", "WO", "OVERPAY01", Decimal("25")),
        ("1234567893", "L6", "INTEREST01", Decimal("-5")),
        ("1234567893", "FB", "BALANCE01", Decimal("10")),
    ]
    assert {a.fiscal_period_date for a in read.adjustments} == {date(2024, 12, 31)}
    (problem,) = read.problems
    assert problem.found == "claim CLM2002 status 4 paid 0"


def test_the_4010_copy_of_the_balanced_sample_reads_the_same_lines():
    def lines(name: str) -> list[tuple[object, ...]]:
        return [
            (*_view(ln), ln.line.units_paid, ln.line.units_billed, tuple(_adjustments(ln)), ln.posting)
            for ln in _read(_require(name)).lines
        ]

    assert lines("javillegasna__oxedi/balanced_4010_sample.txt") == lines(
        "javillegasna__oxedi/balanced_5010_sample.txt"
    )


def test_institutional_claims_without_lines_and_a_cv_provider_adjustment():
    read = _read(_require("LinuxForHealth__x12/medicare-part-a.835"))

    (remit,) = read.reads
    assert (remit.claims, remit.lines, remit.provider_adjustments) == (2, 0, 1)
    assert (remit.remittance.payment_amount, remit.remittance.handling_code) == (Decimal("150000.00"), "C")
    assert remit.remittance.imbalance is None
    (plb,) = read.adjustments
    assert (plb.provider_id, plb.fiscal_period_date, plb.reason_code, plb.reference, plb.amount) == (
        "6543210903",
        date(2002, 12, 31),
        "CV",
        "CP",
        Decimal("-1.27"),
    )
    assert [p.found for p in read.problems] == [
        "claim 666123 status 1 paid 138018.40",
        "claim 777777 status 1 paid 11980.33",
    ]


def test_composites_written_with_another_separator_than_isa16():
    secondary = _read(_require("LinuxForHealth__x12/secondary-payment.835"))
    cob = _read(_require("LinuxForHealth__x12/cob-contractural-adjustment.835"))

    assert [_view(ln) for ln in secondary.lines] == [
        ("12345", ("26",), Decimal("166.50"), Decimal("30.00")),
        ("66543", ("26",), Decimal("585.00"), Decimal("280.00")),
    ]
    assert _adjustments(secondary.lines[1]) == [
        ("PR", "1", Decimal("150.00")),
        ("PR", "2", Decimal("70.00")),
        ("CO", "42", Decimal("85.00")),
    ]
    assert secondary.lines[0].claim.status_code == "2"
    (line,) = cob.lines
    assert _view(line) == ("55669", (), Decimal("541.00"), Decimal("34.00"))
    assert _adjustments(line) == [("OA", "23", Decimal("516.00")), ("OA", "94", Decimal("-9.00"))]
    assert (line.line.allowed, line.posting) == (Decimal("550.00"), "auto")


def test_4010_reversals_negative_units_and_mutually_defined_codes():
    read = _read(_require("Inteligenz__X12Parser/Example1_GripElements.txt"))

    by_claim = {ln.claim.patient_control_number: ln for ln in read.lines}
    zz = by_claim["999999"]
    assert (zz.line.qualifier, zz.line.procedure_code, zz.line.modifiers) == ("ZZ", "M2200", ("HE",))
    assert _adjustments(zz) == [("CR", "18", Decimal("25.95")), ("CO", "42", Decimal("0"))]
    assert by_claim["888888"].line.units_paid == Decimal("1.9")
    assert by_claim["777777"].claim.status_code == "25"
    assert by_claim["777777"].line.modifiers == ("HF", "99", "H9")
    reversal = by_claim["123456"]
    assert (reversal.claim.status_code, reversal.claim.charge, reversal.claim.paid) == (
        "22",
        Decimal("-42.58"),
        Decimal("-42.58"),
    )
    assert _view(reversal) == ("H0036", ("GT", "UK"), Decimal("-42.58"), Decimal("-42.58"))
    assert reversal.line.units_paid == Decimal("-2")
    last = by_claim["090909"]
    assert (last.line.procedure_code, last.line.units_paid, last.line.remarks) == (
        "H0004",
        Decimal("-4"),
        ("MA92",),
    )
    assert (last.line.service_date, last.line.service_date_end) == (date(2004, 2, 10), date(2004, 2, 11))
    (plb,) = read.adjustments
    assert (plb.reason_code, plb.reference, plb.amount) == ("CV", "9876514", Decimal("-1.27"))
    assert {ln.posting for ln in read.lines} == {"hold"}


def test_a_masked_remit_in_three_interchanges():
    nth = _read(_require("Inteligenz__X12Parser/ExampleFromNth.txt"))
    crlf = _read(_require("Inteligenz__X12Parser/835_WithMultipleInterchanges.txt"))

    assert [(r.remittance.interchange_control, r.remittance.transaction_control) for r in nth.reads] == [
        ("000000031", "8001"),
        ("000000032", "9001"),
        ("000000033", "10001"),
    ]
    assert [(r.claims, r.lines) for r in nth.reads] == [(19, 38), (23, 24), (14, 29)]
    first, second = nth.lines[:2]
    assert (first.line.qualifier, first.line.procedure_code) == ("XX", "99999")
    assert (second.line.qualifier, second.line.procedure_code, second.line.remarks) == (
        "HC",
        "90716",
        ("N1",),
    )
    assert _adjustments(second) == [("CO", "24", Decimal("99.99"))]
    assert [_view(ln) for ln in crlf.lines] == [_view(ln) for ln in nth.lines]


def test_a_file_of_156_interchanges_reads_every_one():
    read = _read(_require("tastypackets__x12-parser/profee-multiple.edi"))

    assert [r.remittance.transaction_ordinal for r in read.reads] == list(range(1, 157))
    assert {(r.claims, r.lines, r.remittance.payment_amount) for r in read.reads} == {
        (3, 10, Decimal("45.75"))
    }
    # per remit: V2020 and V2103 in each of the 3 claims, V2700 and S0580 in claims 1 and 3
    assert Counter(ln.line.procedure_code for ln in read.lines) == Counter(
        {"V2020": 468, "V2103": 468, "V2700": 312, "S0580": 312}
    )


def test_a_provider_adjustment_only_remit():
    read = _read(_require("affect-therapeutics__edi-835-parser/nevada_medicaid.txt"))

    assert [r.remittance.payment_amount for r in read.reads] == [
        Decimal("0"),
        Decimal("0"),
        Decimal("1812.27"),
    ]
    assert [(a.reason_code, a.reference, a.amount) for a in read.adjustments] == [
        ("CT", "888888888", Decimal("-1092.46")),
        ("CT", "888888888", Decimal("-719.81")),
        ("CS", "8888888888887", Decimal("-181.55")),
        ("CS", "8888888888887", Decimal("181.55")),
        ("CS", "8888888888888", Decimal("-130")),
        ("CS", "8888888888888", Decimal("130")),
    ]
    assert {a.remittance.transaction_control for a in read.adjustments} == {"0003"}


def test_a_utf16_file_is_refused_at_file_level():
    name = "Inteligenz__X12Parser/UnicodeExample.txt"
    _require_corpus()
    if name not in ROWS:
        pytest.fail(f"{name} is no longer in the corpus manifest")

    (problem,) = list(parse_835_file(CORPUS / name))

    assert isinstance(problem, Problem)
    assert (problem.scope, problem.segment_position, problem.found) == ("file", 1, "UTF-16 or binary bytes")
    assert problem.reason.startswith(NOT_TEXT)


def test_a_stray_segment_id_is_reported():
    read = _read(_require("affect-therapeutics__edi-835-parser/sample_835_with_interests.txt"))

    assert [p.segment_id for p in read.problems if p.segment_position == 165] == ["resnCode>adjID>5"]


# ---------------------------------------------------------------- the compiled fast path


def _dump(value: object) -> object:
    if isinstance(value, BaseModel):
        nested = {k: _dump(v) for k, v in value.__dict__.items() if isinstance(v, BaseModel | tuple)}
        return (type(value).__name__, value.model_dump(), sorted(value.model_fields_set), nested)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__, [_dump(getattr(value, f.name)) for f in dataclasses.fields(value)])
    if isinstance(value, tuple):
        return tuple(_dump(v) for v in value)
    return value


@pytest.mark.parametrize("name", _params())
def test_835_file_reads_the_same_through_the_compiled_fast_path(name):
    """claimline_x12 (services/ingest/native/) reads what it is sure about and hands the rest to the
    Python parser: either way every item equals the Python parser's, problems and positions included."""
    if name is None:
        _require_corpus()
    name = _require(str(name))
    if remit835.NATIVE is None:
        unavailable("claimline_x12 is not built: .venv/bin/pip install ./services/ingest/native")
    reference = [_dump(i) for i in parse_835_file(CORPUS / name, native=False)]

    fast = [_dump(i) for i in parse_835_file(CORPUS / name, native=True)]

    assert fast == reference


@pytest.mark.parametrize("name", _params())
def test_835_file_reads_into_tables_with_the_items_values_or_is_refused(name):
    """`read_835_tables` gives every row of the file with the values of the Python parser's items, or
    refuses the file (never for one the reference reads without a problem and the fast path takes)."""
    from tests.unit.test_remit835_native import read_natively
    from tests.unit.test_remit835_tables import REFUSED, assert_tables_match

    if name is None:
        _require_corpus()
    name = _require(str(name))
    if remit835.NATIVE is None:
        unavailable("claimline_x12 is not built: .venv/bin/pip install ./services/ingest/native")

    got = assert_tables_match(CORPUS / name)

    if read_natively(CORPUS / name):
        assert got != REFUSED
        assert len(got["services"]) == len(_read(name).lines)


@pytest.mark.parametrize("name", _params())
def test_835_file_summary_is_the_same_from_tables_and_items(name):
    """`claimline summary`: the totals are the same whichever reader read the file, and the problems
    are counted when there are any."""
    from claimline.summary import summarize_835, summarize_835_items
    from tests.unit.test_summary import same_totals

    if name is None:
        _require_corpus()
    name = _require(str(name))
    if remit835.NATIVE is None:
        unavailable("claimline_x12 is not built: .venv/bin/pip install ./services/ingest/native")

    summary = summarize_835(CORPUS / name)

    same_totals(summary, summarize_835_items(CORPUS / name))
    assert summary.problems == len(_read(name).problems)
    assert summary.lines == len(_read(name).lines)
