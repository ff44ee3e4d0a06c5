"""The compiled fast path (claimline_x12, services/ingest/native/) gives exactly the items of the Python
parser, which stays the reference: same items in the same order, same values, same `model_dump()`,
same fields set. A file the fast path is not sure about must go to the Python parser whole, so the
problems keep their positions.

The corpus files are compared in tests/corpus/test_corpus_835.py. Without the compiled module these
tests fail under `./run test` and in CI (build it with `./run test`, or
`.venv/bin/pip install ./services/ingest/native`), and skip on a bare `pytest` elsewhere.
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

import services.ingest.domain.remit835 as remit835
from claimline.x12gen import Claim, Envelope, Line, Remit, render
from services.ingest.domain.remit835 import RemitLine, parse_835_file
from services.ingest.domain.x12 import Problem
from tests.support.strict import unavailable
from tests.unit.test_remit835 import REMIT, SAMPLE

D = Decimal
ROOT = Path(__file__).resolve().parents[2]
SAMPLES = sorted((ROOT / "samples" / "835").glob("*.835"))
HYPOTHESIS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(autouse=True)
def _native_module() -> None:
    if remit835.NATIVE is None:
        unavailable("claimline_x12 is not built: .venv/bin/pip install ./services/ingest/native")


def dump(value: object) -> Any:
    """Everything that makes two items the same: type, model_dump(), fields set, nested models."""
    if isinstance(value, BaseModel):
        nested = {k: dump(v) for k, v in value.__dict__.items() if isinstance(v, BaseModel | tuple)}
        return (type(value).__name__, value.model_dump(), sorted(value.model_fields_set), nested)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__, [dump(getattr(value, f.name)) for f in dataclasses.fields(value)])
    if isinstance(value, tuple):
        return tuple(dump(v) for v in value)
    return value


def both(path: Path, natively: bool = False) -> tuple[list[Any], list[Any]]:
    """Items of the Python parser and of the fast path; with `natively`, the fast path must not hand
    the file (or what is left of it) to the Python parser."""
    reference = [dump(i) for i in parse_835_file(path, native=False)]
    if not natively:
        return reference, [dump(i) for i in parse_835_file(path, native=True)]
    python_path = remit835._parse_835_file_python

    def refuse(*args: object, **kwargs: object) -> Any:
        raise AssertionError("the fast path gave the file to the Python parser")

    remit835._parse_835_file_python = refuse
    try:
        fast = [dump(i) for i in parse_835_file(path, native=True)]
    finally:
        remit835._parse_835_file_python = python_path
    return reference, fast


def read_natively(path: Path) -> bool:
    """Whether the fast path takes the file (pass one finds nothing it is unsure about)."""
    try:
        delimiters, start = remit835._native_delimiters(path)
        remit835._native_contexts(path, delimiters, start)
    except (remit835._Fallback, remit835.NATIVE.Unsupported):  # type: ignore[union-attr]
        return False
    return True


def assert_same(path: Path, natively: bool = False) -> list[Any]:
    reference, fast = both(path, natively)
    assert len(fast) == len(reference)
    for index, (want, got) in enumerate(zip(reference, fast, strict=True)):
        assert got == want, f"item {index} differs"
    return reference


def write(tmp_path: Path, text: str, name: str = "remit.835") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


# ---------------------------------------------------------------- fixtures of the project


@pytest.mark.parametrize("path", SAMPLES, ids=[p.name for p in SAMPLES])
def test_the_sample_files_are_read_natively_with_the_same_items(path: Path):
    assert read_natively(path)
    assert assert_same(path, natively=True)


@pytest.mark.parametrize("newline", ["\n", "\r\n", ""])
@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_the_unit_test_sample_is_read_natively_with_the_same_items(tmp_path, newline, bom):
    path = tmp_path / "remit.835"
    path.write_bytes(bom + render(Envelope(interchange_control=77, newline=newline, remits=[REMIT])).encode())

    assert read_natively(path)
    items = assert_same(path, natively=True)
    assert any(item[0] == "RemitLine" for item in items)


def test_the_benchmark_file_is_read_natively_with_the_same_items(tmp_path):
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        gen835 = importlib.import_module("gen835")
    finally:
        sys.path.remove(str(ROOT / "bench"))
    path = tmp_path / "bench.835"
    gen835.write_835(path, lines=3000, claims_per_transaction=400, seed=7)

    assert read_natively(path)
    items = assert_same(path, natively=True)
    assert sum(1 for item in items if item[0] == "RemitLine") == 3000


def test_progress_is_reported_up_to_the_file_size(tmp_path):
    path = write(tmp_path, SAMPLE)
    seen: list[int] = []

    list(parse_835_file(path, progress=seen.append, native=True))

    assert seen and seen == sorted(seen) and seen[-1] == path.stat().st_size


# ---------------------------------------------------------------- what must go to the Python parser

BROKEN = {
    "SVC02 not a number": ("SVC*HC:64493:50*1200*", "SVC*HC:64493:50*12X0*"),
    "SE01 count": ("SE*56*", "SE*57*"),
    "unknown CAS group": ("CAS*CO*45*449.7", "CAS*ZZ*45*449.7"),
    "bad date": ("DTM*472*20260914", "DTM*472*20261314"),
    "amount over the money limit": ("SVC*HC:64493:50*1200*", "SVC*HC:64493:50*1000000000000*"),
    "more than six decimals": ("SVC*HC:64493:50*1200*", "SVC*HC:64493:50*1200.0000001*"),
    "negative zero": ("CAS*CO*45*449.7", "CAS*CO*45*-0.00"),
    "non-ASCII": ("RIVERA", "RIVERÁ"),
    "invalid segment id": ("DTM*472*20260914", "dtm*472*20260914"),
    "truncated": ("IEA*1*000000077", "IEA*1"),
    "segment between transactions": ("GE*1*1", "TA1*1~GE*1*1"),
    "claim without lines": ("SVC*HC:64490:LT*900*410.5**1*HC:64493:LT:59", "XYZ*1"),
    "header date": ("DTM*405*20261020", "DTM*405*20261320"),
}


@pytest.mark.parametrize("change", BROKEN.values(), ids=BROKEN.keys())
def test_a_file_with_anything_unsure_goes_whole_to_the_python_parser(tmp_path, change):
    old, new = change
    assert old in SAMPLE
    path = write(tmp_path, SAMPLE.replace(old, new, 1))

    assert not read_natively(path)
    assert_same(path)


def test_a_problem_keeps_its_position(tmp_path):
    path = write(tmp_path, SAMPLE.replace("CAS*CO*", "CAS*ZZ*", 1))

    problems = [i for i in parse_835_file(path, native=True) if isinstance(i, Problem)]

    assert problems
    assert problems == [i for i in parse_835_file(path, native=False) if isinstance(i, Problem)]
    assert all(p.segment_position for p in problems)


def test_native_true_without_the_module_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(remit835, "NATIVE", None)
    with pytest.raises(ImportError):
        list(parse_835_file(write(tmp_path, SAMPLE), native=True))
    assert any(isinstance(i, RemitLine) for i in parse_835_file(write(tmp_path, SAMPLE)))


# ---------------------------------------------------------------- generated remittances

codes = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=1, max_size=7)
modifiers = st.lists(st.sampled_from(["50", "LT", "RT", "59", "XS", "26", "TC", "GA"]), max_size=4).map(tuple)
cents = st.integers(min_value=-9_999_999, max_value=99_999_999).map(lambda c: D(c).scaleb(-2))
small = st.integers(min_value=0, max_value=500_000).map(lambda c: D(c).scaleb(-2))
carcs = st.sampled_from(["45", "2", "1", "3", "97", "197", "253", "B7", "CO"])
groups = st.sampled_from(["CO", "PR", "OA", "PI", "CR"])
rarcs = st.sampled_from(["M62", "N54", "MA130", "N362", "M15"])
days = st.dates(min_value=date(1999, 1, 1), max_value=date(2030, 12, 31))


@st.composite
def lines(draw: st.DrawFn) -> Line:
    charge = draw(small)
    adjustments = tuple(draw(st.lists(st.tuples(groups, carcs, cents), max_size=3)))
    balanced = draw(st.booleans())
    paid = charge - sum((a for _, _, a in adjustments), D(0)) if balanced else draw(cents)
    return Line(
        code=draw(codes),
        charge=charge,
        paid=paid,
        modifiers=draw(modifiers),
        units=draw(st.integers(min_value=0, max_value=12)),
        service_date=draw(days),
        adjustments=adjustments,
        remarks=tuple(draw(st.lists(rarcs, max_size=2))),
        control=draw(st.none() | st.text(alphabet="ABC0123456789", min_size=1, max_size=8)),
        allowed=draw(st.none() | small),
        submitted_code=draw(st.none() | codes),
        submitted_modifiers=draw(modifiers),
    )


@st.composite
def remittances(draw: st.DrawFn) -> tuple[Envelope, list[Remit]]:
    remits = []
    for t in range(draw(st.integers(min_value=1, max_value=3))):
        claims = tuple(
            Claim(
                claim_id=draw(st.sampled_from(["PCN1", "PCN2", "PCN-3", "A B"])),
                lines=tuple(draw(st.lists(lines(), min_size=1, max_size=3))),
                status=draw(st.sampled_from(["1", "2", "4", "22"])),
                payer_claim_control=draw(st.none() | st.just("ICN42")),
                patient_first=draw(st.sampled_from(["JANE", ""])),
                member_id=draw(st.sampled_from(["MBR1", ""])),
                rendering_npi=draw(st.none() | st.just("1215049283")),
            )
            for _ in range(draw(st.integers(min_value=1, max_value=4)))
        )
        remits.append(
            Remit(
                trace_number=f"TRACE{t}",
                payee_npi="1538267114",
                payee_name="PAYEE",
                claims=claims,
                payee_tin=draw(st.none() | st.just("461234567")),
                plb=tuple(
                    draw(
                        st.lists(
                            st.tuples(st.sampled_from(["WO", "FB", "L6", "72"]), st.just("REF1"), cents),
                            max_size=3,
                        )
                    )
                ),
                transaction_control=f"{t + 1:04d}",
            )
        )
    delimiters = draw(st.sampled_from([("*", ":", "^", "~"), ("|", ">", "^", "\n"), ("*", "^", "{", "~")]))
    element, component, repetition, terminator = delimiters
    envelope = Envelope(
        interchange_control=draw(st.integers(min_value=1, max_value=999_999_999)),
        element=element,
        component=component,
        repetition=repetition,
        terminator=terminator,
        newline=draw(st.sampled_from(["", "\n", "\r\n"])) if terminator != "\n" else "",
        remits=remits,
    )
    return envelope, remits


@HYPOTHESIS
@given(generated=remittances())
def test_every_generated_remittance_gives_the_same_items(tmp_path, generated):
    envelope, _ = generated
    path = write(tmp_path, render(envelope), "generated.835")

    items = assert_same(path, natively=read_natively(path))

    assert not any(item[0] == "Problem" for item in items) or not read_natively(path)


MUTABLE = SAMPLE
ALPHABET = "*:~^0123456789-.E ABCDLPSTVX\n"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    edits=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=len(MUTABLE) - 1), st.text(alphabet=ALPHABET, max_size=3)
        ),
        min_size=1,
        max_size=6,
    )
)
def test_a_mutated_remittance_gives_the_same_items(tmp_path, edits: list[tuple[int, str]]):
    text = MUTABLE
    for index, replacement in edits:
        text = text[:index] + replacement + text[index + 1 :]

    items = assert_same(write(tmp_path, text, "mutated.835"))

    if any(item[0] == "Problem" for item in items):
        assert not read_natively(tmp_path / "mutated.835")


EXTRA_CLAIM = [
    "CAS*OA*23*10.5",
    "CAS*CO*45*1*2*PR*3*0.5",
    "CAS*PI*97*0",
    "MOA***MA130*N362",
    "MIA*0***12.5*MA01",
    "AMT*AU*100",
    "AMT*I*0.25",
    "QTY*CA*2",
    "REF*EA*PATIENT-1",
    "REF*1L*GROUP9",
    "NM1*IL*1*INSURED*IVAN****MI*INS77",
    "NM1*74*1*CORRECTED*CARL",
    "NM1*82*1*SMITH****XX*1215049283",
    "NM1*82*2*GROUP PRACTICE",
    "DTM*232*20260101",
    "DTM*233*20260131",
    "DTM*050*",
    "PER*CX*CLAIMS*TE*8005551212",
]
EXTRA_LINE = [
    "DTM*150*20260102",
    "DTM*151*20260103",
    "DTM*472*",
    "REF*6R*",
    "REF*LU*77",
    "REF**X",
    "AMT*B6*0",
    "AMT*KH*12.345",
    "LQ*HE*M15",
    "LQ*RX*X99",
    "CAS*CR*B7*-5",
    "QTY*ZL*1",
]
EXTRA_PLB = [
    "PLB*1538267114*20261231*WO:REF99*-10.25",
    "PLB*1538267114*20261231*72*5*FB:X*0",
    "PLB*1538267114**L6*1.5",
]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    generated=remittances(),
    spliced=st.lists(
        st.tuples(
            st.sampled_from(["claim", "line", "plb"]),
            st.integers(min_value=0, max_value=10_000),
            st.integers(),
        ),
        min_size=1,
        max_size=8,
    ),
)
def test_generated_remittances_with_more_segment_kinds_give_the_same_items(tmp_path, generated, spliced):
    """Segments x12gen does not write, spliced after a CLP (claim level), after an SVC (line level) or
    before an SE (PLB), with SE01 kept right: read natively or not, the items are the Python parser's."""
    envelope, _ = generated
    term, sep = envelope.terminator, envelope.element
    segments = [s.strip("\r\n") for s in render(envelope).split(term) if s.strip("\r\n")]
    for kind, where, pick in spliced:
        anchor = {"claim": "CLP", "line": "SVC", "plb": "SE"}[kind]
        places = [i for i, s in enumerate(segments) if s.startswith(anchor + sep)]
        if not places:
            continue
        extra = {"claim": EXTRA_CLAIM, "line": EXTRA_LINE, "plb": EXTRA_PLB}[kind]
        segment = extra[pick % len(extra)].replace("*", sep).replace(":", envelope.component)
        at = places[where % len(places)]
        segments.insert(at if kind == "plb" else at + 1, segment)
    fixed = []  # SE01: the segments from ST to SE
    count = 0
    for s in segments:
        count = 1 if s.startswith("ST" + sep) else count + 1
        if s.startswith("SE" + sep):
            _, _, control = s.split(sep)
            s = sep.join(["SE", str(count), control])
        fixed.append(s)
    path = write(tmp_path, term.join(fixed) + term, "spliced.835")

    assert_same(path, natively=read_natively(path))
