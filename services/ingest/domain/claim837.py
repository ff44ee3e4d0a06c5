"""837P (005010X222A1) professional claims as submitted, with their billing, subscriber and payer context.

`parse_837p` yields `SubmittedClaim`s and `Problem`s in file order. Two kinds of claim problem:

- a claim that cannot be read (bad amount or date, missing CLM01, an SV1 that is not a procedure, a
  broken HL structure, no billing NPI...) gives one `Problem` per defective segment and no claim;
- a claim that reads but does not add up (the SV1-02 charges do not sum to CLM02, a diagnosis pointer
  past the HI codes, a replacement or void without REF*F8) gives the claim *and* a `Problem`, because
  the payer received it and may adjudicate it: the claim must be known when its 277CA or 835 arrives.

Envelope problems (SE01 count, SE02 control, GE/IEA trailers) are reported after the claims of their
transaction; the claims are still read.

The envelope walk (`transaction_sets`) and the element readers are shared with `acks.py`; they belong in
`x12.py` and live here until that module can take them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from pydantic import ValidationError

from services.ingest.domain.x12 import (
    Defect,
    Delimiters,
    Problem,
    Segment,
    X12SyntaxError,
    read_delimiters,
    segments,
)
from shared.schemas import PersonRef, SubmittedLine

SUPPORTED_837P = ("005010X222A1", "005010X222")
PROCEDURE_QUALIFIERS = ("HC", "ER", "IV", "WK")
DIAGNOSIS_QUALIFIERS = ("ABK", "ABF", "BK", "BF")
OTHER_HI_QUALIFIERS = ("BP", "BO", "BG")  # anesthesia related procedures, condition codes
FREQUENCY_CODES = {"1": "original", "7": "replacement", "8": "void"}
UNIT_BASES = ("UN", "MJ")
MAX_DIAGNOSIS_POINTER = 12

_SEGMENT_ID = re.compile(r"^[A-Z][A-Z0-9]{1,2}$")
_NPI = re.compile(r"^[0-9]{10}$")
_PLACE_OF_SERVICE = re.compile(r"^[0-9]{2}$")


# ---------------------------------------------------------------- shared readers


def valid_segment_id(segment: Segment) -> bool:
    return bool(_SEGMENT_ID.match(segment.id))


def bad_segment_id(segment: Segment) -> Defect:
    return Defect(
        "segment id is not a valid X12 segment id",
        segment,
        None,
        "2 or 3 capital letters or digits",
        segment.id or "(empty)",
    )


def check_segment_id(segment: Segment) -> None:
    if not valid_segment_id(segment):
        raise bad_segment_id(segment)


def amount(segment: Segment, index: int, *, required: bool = True) -> Decimal | None:
    raw = segment.get(index)
    if raw == "":
        if required:
            raise Defect(f"{segment.id}{index:02d} is required", segment, index, "an amount", "(empty)")
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise Defect(f"{segment.id}{index:02d} is not a number", segment, index, "an amount", raw) from None
    if not value.is_finite():
        raise Defect(f"{segment.id}{index:02d} is not a finite number", segment, index, "an amount", raw)
    return value


def required_amount(segment: Segment, index: int) -> Decimal:
    value = amount(segment, index)
    assert value is not None
    return value


def _ccyymmdd(raw: str) -> date | None:
    if len(raw) != 8 or not raw.isdigit():
        return None
    try:
        return date(int(raw[0:4]), int(raw[4:6]), int(raw[6:8]))
    except ValueError:
        return None


def ccyymmdd(segment: Segment, index: int) -> date | None:
    """A CCYYMMDD element; None when empty."""
    raw = segment.get(index)
    if raw == "":
        return None
    value = _ccyymmdd(raw)
    if value is None:
        raise Defect(f"{segment.id}{index:02d} is not a valid date", segment, index, "CCYYMMDD", raw)
    return value


def period_start(segment: Segment, qualifier_index: int) -> date:
    """First date of a D8 date or an RD8 range (DTP02/DTP03 style: qualifier, then value)."""
    qualifier = segment.get(qualifier_index)
    raw = segment.get(qualifier_index + 1)
    where = qualifier_index + 1
    if qualifier == "D8":
        value = _ccyymmdd(raw)
        if value is None:
            raise Defect(f"{segment.id}{where:02d} is not a valid date", segment, where, "CCYYMMDD", raw)
        return value
    if qualifier == "RD8":
        start_raw, _, end_raw = raw.partition("-")
        start, end = _ccyymmdd(start_raw), _ccyymmdd(end_raw)
        if start is None or end is None:
            raise Defect(
                f"{segment.id}{where:02d} is not a valid date range", segment, where, "CCYYMMDD-CCYYMMDD", raw
            )
        if end < start:
            raise Defect(
                f"{segment.id}{where:02d} date range ends before it starts",
                segment,
                where,
                "an end on or after the start",
                raw,
            )
        return start
    raise Defect(
        f"{segment.id}{qualifier_index:02d} is not a date format qualifier",
        segment,
        qualifier_index,
        "D8 or RD8",
        qualifier or "(empty)",
    )


@dataclass(frozen=True)
class Procedure:
    qualifier: str
    code: str
    modifiers: tuple[str, ...]


def procedure(segment: Segment, index: int, delimiters: Delimiters) -> Procedure:
    """A procedure composite qualifier:code[:mod1..mod4[:description]] (SV101, SVC01)."""
    value = segment.get(index)
    parts = value.split(delimiters.component)
    name = f"{segment.id}{index:02d}"
    if len(parts) < 2 or not parts[1]:
        raise Defect(
            f"{name} is not a procedure composite",
            segment,
            index,
            f"qualifier{delimiters.component}code",
            value or "(empty)",
        )
    if parts[0] not in PROCEDURE_QUALIFIERS:
        raise Defect(
            f"{name}-1 is not a procedure code qualifier",
            segment,
            index,
            " or ".join(PROCEDURE_QUALIFIERS),
            parts[0] or "(empty)",
        )
    return Procedure(parts[0], parts[1], tuple(m for m in parts[2:6] if m))


def problem_from(
    scope: str,
    defect: Defect,
    *,
    interchange_control: str | None,
    group_control: str | None,
    transaction_control: str | None,
) -> Problem:
    return Problem(
        scope=scope,
        reason=defect.reason,
        segment_position=defect.segment.position,
        segment_id=defect.segment.id,
        element_position=defect.element,
        expected=defect.expected,
        found=defect.found,
        interchange_control=interchange_control,
        group_control=group_control,
        transaction_control=transaction_control,
    )


# ---------------------------------------------------------------- envelopes


@dataclass(frozen=True)
class TransactionSet:
    """One ST..SE transaction set and its envelope. `trailer_problems` are about its SE segment."""

    interchange_control: str | None
    group_control: str | None
    gs: Segment | None
    st: Segment
    body: tuple[Segment, ...]
    delimiters: Delimiters
    trailer_problems: tuple[Problem, ...] = ()

    @property
    def control(self) -> str:
        return self.st.get(2)

    @property
    def version(self) -> str:
        """ST03 implementation convention, else GS08."""
        return self.st.get(3) or (self.gs.get(8) if self.gs else "")

    def problem(self, scope: str, defect: Defect) -> Problem:
        return problem_from(
            scope,
            defect,
            interchange_control=self.interchange_control,
            group_control=self.group_control,
            transaction_control=self.control,
        )

    def version_problem(self, reason: str, expected: str) -> Problem:
        """Points at ST03, or at GS08 when the version came from the group header."""
        if self.st.get(3) or self.gs is None:
            where, element = self.st, 3
        else:
            where, element = self.gs, 8
        return self.problem(
            "transaction", Defect(reason, where, element, expected, self.version or "(empty)")
        )

    def type_problem(self, expected: str) -> Problem:
        return self.problem(
            "transaction",
            Defect(
                f"transaction set is not an {expected}", self.st, 1, expected, self.st.get(1) or "(empty)"
            ),
        )


@dataclass
class _Open:
    isa: Segment | None = None
    groups: int = 0
    gs: Segment | None = None
    sets: int = 0
    st: Segment | None = None
    body: list[Segment] = field(default_factory=list)

    @property
    def interchange_control(self) -> str | None:
        return self.isa.get(13) if self.isa else None

    @property
    def group_control(self) -> str | None:
        return self.gs.get(6) if self.gs else None

    def problem(self, scope: str, defect: Defect) -> Problem:
        return problem_from(
            scope,
            defect,
            interchange_control=self.interchange_control,
            group_control=self.group_control,
            transaction_control=self.st.get(2) if self.st else None,
        )


def _trailer_problem(
    state: _Open, scope: str, segment: Segment, index: int, what: str, expected: str, *, count: bool
) -> Problem | None:
    """A count (compared as a number) or a control number (compared as written) that does not match."""
    found = segment.get(index)
    if found == expected or (count and found.isdigit() and int(found) == int(expected)):
        return None
    return state.problem(scope, Defect(what, segment, index, expected, found or "(empty)"))


def _close_transaction(state: _Open, se: Segment, delimiters: Delimiters) -> TransactionSet:
    assert state.st is not None
    checks = (
        _trailer_problem(
            state, "transaction", se, 2, "SE02 does not match ST02", state.st.get(2), count=False
        ),
        _trailer_problem(
            state, "transaction", se, 1, "SE01 segment count is wrong", str(len(state.body) + 2), count=True
        ),
    )
    tx = TransactionSet(
        interchange_control=state.interchange_control,
        group_control=state.group_control,
        gs=state.gs,
        st=state.st,
        body=tuple(state.body),
        delimiters=delimiters,
        trailer_problems=tuple(p for p in checks if p is not None),
    )
    state.st, state.body = None, []
    return tx


_LEVELS = ("transaction", "group", "interchange")


def _unclosed(state: _Open, at: Segment, depth: str, *, end_of_file: bool = False) -> Iterator[Problem]:
    """Close what is still open up to `depth` when `at` arrives; report only the innermost open level."""
    arriving = "end of file" if end_of_file else at.id
    where = "file ends inside" if end_of_file else f"{at.id} arrives inside"
    open_levels = [
        level
        for level, is_open in zip(_LEVELS, (state.st, state.gs, state.isa), strict=True)
        if is_open is not None and _LEVELS.index(level) <= _LEVELS.index(depth)
    ]
    if open_levels:
        innermost = open_levels[0]
        trailer = {"transaction": "SE", "group": "GE", "interchange": "IEA"}[innermost]
        scope = "transaction" if innermost == "transaction" else "interchange"
        label = {
            "transaction": "a transaction set",
            "group": "a functional group",
            "interchange": "an interchange",
        }
        yield state.problem(
            scope, Defect(f"{where} {label[innermost]} (no {trailer})", at, None, trailer, arriving)
        )
    if "transaction" in open_levels:
        state.st, state.body = None, []
    if "group" in open_levels:
        state.gs = None
    if "interchange" in open_levels:
        state.isa = None


def transaction_sets(text: str) -> Iterator[TransactionSet | Problem]:
    """Every ST..SE set of an X12 text with its envelope, and envelope problems, in file order.

    Checked here: SE01 count and SE02 control (left on the set for its reader to report after its
    content), GE01/GE02 and IEA01/IEA02, segments outside a set, and a file that ends inside an envelope
    (only the innermost open level is reported).
    """
    try:
        delimiters, _ = read_delimiters(text)
    except X12SyntaxError as exc:
        yield Problem(
            "file",
            exc.reason,
            exc.segment_position,
            exc.segment_id,
            exc.element_position,
            exc.expected,
            exc.found,
        )
        return
    state = _Open()
    last: Segment | None = None
    for seg in segments(text):
        last = seg
        if seg.id == "ISA":
            yield from _unclosed(state, seg, "interchange")
            state.isa, state.groups = seg, 0
        elif seg.id == "GS":
            yield from _unclosed(state, seg, "group")
            state.gs, state.sets = seg, 0
            state.groups += 1
        elif seg.id == "ST":
            if state.st is not None:
                yield state.problem("transaction", Defect("ST before the previous SE", seg, None, "SE", "ST"))
            state.st, state.body = seg, []
            state.sets += 1
        elif seg.id == "SE" and state.st is not None:
            yield _close_transaction(state, seg, delimiters)
        elif seg.id == "GE" and state.gs is not None:
            yield from _unclosed(state, seg, "transaction")
            counts = (
                _trailer_problem(
                    state, "interchange", seg, 2, "GE02 does not match GS06", state.gs.get(6), count=False
                ),
                _trailer_problem(
                    state,
                    "interchange",
                    seg,
                    1,
                    "GE01 transaction set count is wrong",
                    str(state.sets),
                    count=True,
                ),
            )
            yield from (p for p in counts if p is not None)
            state.gs = None
        elif seg.id == "IEA" and state.isa is not None:
            yield from _unclosed(state, seg, "group")
            counts = (
                _trailer_problem(
                    state, "interchange", seg, 2, "IEA02 does not match ISA13", state.isa.get(13), count=False
                ),
                _trailer_problem(
                    state,
                    "interchange",
                    seg,
                    1,
                    "IEA01 functional group count is wrong",
                    str(state.groups),
                    count=True,
                ),
            )
            yield from (p for p in counts if p is not None)
            state.isa = None
        elif state.st is not None:
            state.body.append(seg)
        elif seg.id != "TA1":
            yield state.problem(
                "file",
                Defect(f"segment {seg.id or '(empty)'} outside a transaction set", seg, None, "ST", seg.id),
            )
    if last is not None:
        yield from _unclosed(state, last, "interchange", end_of_file=True)


# ---------------------------------------------------------------- the submitted claim


@dataclass(frozen=True)
class SubmittedClaim:
    """One CLM claim as submitted, with the loops above it. Money is Decimal, dates are dates."""

    interchange_control: str | None
    group_control: str | None
    transaction_control: str
    claim_ordinal: int
    segment_position: int
    claim_id: str
    total_charge: Decimal
    place_of_service: str
    frequency_code: str
    billing_npi: str
    billing_tin: str | None
    billing_name: str | None
    rendering_npi: str | None
    payer_id: str
    payer_name: str | None
    filing_indicator: str | None
    subscriber_member_id: str | None
    patient: PersonRef
    patient_is_subscriber: bool
    patient_birth_date: date | None
    diagnosis_codes: tuple[str, ...]
    prior_auth_number: str | None
    original_reference: str | None
    other_refs: Mapping[str, str]
    lines: tuple[SubmittedLine, ...]
    line_places_of_service: Mapping[int, str] = field(default_factory=dict)

    @property
    def frequency(self) -> str:
        """original, replacement or void."""
        return FREQUENCY_CODES.get(self.frequency_code, self.frequency_code)

    def place_of_service_for(self, line_number: int) -> str:
        """SV105 when the line overrides the claim's place of service, else CLM05-1."""
        return self.line_places_of_service.get(line_number, self.place_of_service)


# ---------------------------------------------------------------- HL loops


@dataclass
class _Loop:
    hl: Segment
    level: str
    parent: _Loop | None
    segments: list[Segment] = field(default_factory=list)
    defects: list[Defect] = field(default_factory=list)


_PARENT_LEVEL = {"22": "20", "23": "22"}
_LEVEL_NAMES = {"20": "billing provider", "22": "subscriber", "23": "patient"}


def _open_loop(hl: Segment, loops: dict[str, _Loop]) -> _Loop:
    level = hl.get(3)
    loop = _Loop(hl, level, None)
    if level not in _LEVEL_NAMES:
        loop.defects.append(
            Defect("HL03 is not an 837P hierarchical level", hl, 3, "20, 22 or 23", level or "(empty)")
        )
    elif level in _PARENT_LEVEL:
        parent = loops.get(hl.get(2))
        want = _PARENT_LEVEL[level]
        if parent is None or parent.level != want:
            loop.defects.append(
                Defect(
                    f"HL02 does not name an earlier {_LEVEL_NAMES[want]} HL",
                    hl,
                    2,
                    f"the HL01 of a level {want} HL",
                    hl.get(2) or "(empty)",
                )
            )
        else:
            loop.parent = parent
    if hl.get(1):
        loops[hl.get(1)] = loop
    return loop


def _entity_segments(loop: _Loop, entity: str) -> list[Segment]:
    """The NM1 of `entity` in a loop and the segments that follow it up to the next NM1."""
    found: list[Segment] = []
    current = ""
    for seg in loop.segments:
        if seg.id == "NM1":
            current = seg.get(1)
            if current == entity and found:
                break
        if current == entity:
            found.append(seg)
    return found


def _person(nm1: Segment) -> tuple[str | None, str | None]:
    return nm1.get(3) or None, nm1.get(4) or None


def _missing(what: str, loop: _Loop, expected: str) -> Defect:
    return Defect(f"{what} is missing", loop.hl, None, expected, "(missing)")


def _birth_date(entity: list[Segment]) -> date | None:
    for seg in entity:
        if seg.id == "DMG" and seg.get(1) == "D8":
            return ccyymmdd(seg, 2)
    return None


@dataclass(frozen=True)
class _Billing:
    npi: str
    tin: str | None
    name: str | None


def _billing(loop: _Loop) -> _Billing:
    entity = _entity_segments(loop, "85")
    if not entity:
        raise _missing("2010AA billing provider NM1*85", loop, "NM1*85")
    nm1 = entity[0]
    if nm1.get(8) != "XX":
        raise Defect("NM108 billing provider id is not an NPI", nm1, 8, "XX (NPI)", nm1.get(8) or "(empty)")
    npi = nm1.get(9)
    if not _NPI.match(npi):
        raise Defect(
            "NM109 billing provider NPI is not 10 digits", nm1, 9, "a 10-digit NPI", npi or "(empty)"
        )
    last, first = _person(nm1)
    name = last if nm1.get(2) != "1" or not first else f"{last}, {first}"
    tin = next((s.get(2) for s in entity if s.id == "REF" and s.get(1) == "EI" and s.get(2)), None)
    return _Billing(npi, tin, name)


@dataclass(frozen=True)
class _Subscriber:
    member_id: str
    last_name: str | None
    first_name: str | None
    birth_date: date | None
    payer_id: str
    payer_name: str | None
    filing_indicator: str | None = None


def _subscriber(loop: _Loop) -> _Subscriber:
    insured = _entity_segments(loop, "IL")
    if not insured:
        raise _missing("2010BA subscriber NM1*IL", loop, "NM1*IL")
    nm1 = insured[0]
    if not nm1.get(9):
        raise Defect("NM109 subscriber member id is required", nm1, 9, "a member id", "(empty)")
    payer = _entity_segments(loop, "PR")
    if not payer:
        raise _missing("2010BB payer NM1*PR", loop, "NM1*PR")
    pr = payer[0]
    if not pr.get(9):
        raise Defect("NM109 payer id is required", pr, 9, "a payer id", "(empty)")
    last, first = _person(nm1)
    sbr = next((s for s in loop.segments if s.id == "SBR"), None)
    filing = (sbr.get(9) or None) if sbr is not None else None
    return _Subscriber(nm1.get(9), last, first, _birth_date(insured), pr.get(9), pr.get(3) or None, filing)


@dataclass(frozen=True)
class _Patient:
    last_name: str | None
    first_name: str | None
    birth_date: date | None


def _patient(loop: _Loop) -> _Patient:
    entity = _entity_segments(loop, "QC")
    if not entity:
        raise _missing("2010CA patient NM1*QC", loop, "NM1*QC")
    last, first = _person(entity[0])
    return _Patient(last, first, _birth_date(entity))


@dataclass(frozen=True)
class _Context:
    billing: _Billing
    subscriber: _Subscriber
    patient: _Patient | None


_T = TypeVar("_T")


def _attempt(read: Callable[[_Loop], _T], loop: _Loop, defects: list[Defect]) -> _T | None:
    try:
        return read(loop)
    except Defect as defect:
        defects.append(defect)
        return None


def _context(loop: _Loop | None, clm: Segment) -> tuple[_Context | None, list[Defect]]:
    """Billing provider, subscriber and patient above a claim, or the defects that hide them."""
    if loop is None or loop.level not in ("22", "23"):
        return None, [
            Defect(
                "CLM is not inside a subscriber or patient HL loop",
                clm,
                None,
                "HL level 22 or 23 before CLM",
                f"HL level {loop.level}" if loop else "(no HL)",
            )
        ]
    chain: list[_Loop] = []
    walk: _Loop | None = loop
    while walk is not None:
        chain.append(walk)
        walk = walk.parent
    structural = [defect for link in reversed(chain) for defect in link.defects]
    if structural:
        return None, structural
    patient_loop = loop if loop.level == "23" else None
    subscriber_loop = loop.parent if patient_loop else loop
    assert subscriber_loop is not None
    assert subscriber_loop.parent is not None
    defects: list[Defect] = []
    billing = _attempt(_billing, subscriber_loop.parent, defects)
    subscriber = _attempt(_subscriber, subscriber_loop, defects)
    patient = _attempt(_patient, patient_loop, defects) if patient_loop else None
    if billing is None or subscriber is None or defects:
        return None, defects
    return _Context(billing, subscriber, patient), []


# ---------------------------------------------------------------- CLM and its lines


@dataclass
class _Line:
    lx: Segment
    number: int
    sv1: Segment | None = None
    procedure: Procedure | None = None
    charge: Decimal | None = None
    units: Decimal | None = None
    place_of_service: str | None = None
    pointers: tuple[int, ...] = ()
    service_date: date | None = None
    control: str | None = None
    in_subloop: bool = False
    unreadable: bool = False


def _pointers(sv1: Segment, delimiters: Delimiters) -> tuple[int, ...]:
    raw = sv1.get(7)
    if raw == "":
        return ()
    values = raw.split(delimiters.component)
    if not all(v.isdigit() and 1 <= int(v) <= MAX_DIAGNOSIS_POINTER for v in values):
        raise Defect(
            "SV107 diagnosis pointers are not numbers 1-12",
            sv1,
            7,
            f"pointers 1-{MAX_DIAGNOSIS_POINTER} separated by {delimiters.component}",
            raw,
        )
    return tuple(int(v) for v in values)


def _read_sv1(line: _Line, sv1: Segment, delimiters: Delimiters) -> None:
    line.sv1 = sv1
    line.unreadable = True
    line.procedure = procedure(sv1, 1, delimiters)
    line.charge = required_amount(sv1, 2)
    if sv1.get(3) not in UNIT_BASES:
        raise Defect(
            "SV103 is not a unit basis", sv1, 3, "UN (units) or MJ (minutes)", sv1.get(3) or "(empty)"
        )
    line.units = required_amount(sv1, 4)
    line.place_of_service = sv1.get(5) or None
    if line.place_of_service is not None and not _PLACE_OF_SERVICE.match(line.place_of_service):
        raise Defect("SV105 is not a place of service code", sv1, 5, "2 digits", line.place_of_service)
    line.pointers = _pointers(sv1, delimiters)
    line.unreadable = False


def _line_segment(line: _Line, seg: Segment, delimiters: Delimiters) -> None:
    if seg.id == "SV1":
        if line.sv1 is not None:
            raise Defect("second SV1 in one service line", seg, None, "one SV1 after LX", "SV1")
        _read_sv1(line, seg, delimiters)
    elif seg.id in ("NM1", "LIN", "SVD", "LQ"):
        line.in_subloop = True
    elif line.in_subloop:
        return
    elif seg.id == "DTP" and seg.get(1) == "472":
        line.service_date = period_start(seg, 2)
    elif seg.id == "REF" and seg.get(1) == "6R":
        line.control = seg.get(2) or None


def _submitted_line(line: _Line) -> SubmittedLine:
    assert line.sv1 is not None
    assert line.procedure is not None
    assert line.charge is not None
    assert line.units is not None
    try:
        return SubmittedLine(
            line_number=line.number,
            procedure_code=line.procedure.code,
            modifiers=line.procedure.modifiers,
            units=line.units,
            charge=line.charge,
            diagnosis_pointers=line.pointers,
            service_date=line.service_date,
            line_control_number=line.control,
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        raise Defect(
            f"service line {line.number}: {where} {error['msg']}", line.sv1, 1, None, str(error.get("input"))
        ) from None


def _diagnoses(hi: Segment, delimiters: Delimiters) -> list[str] | None:
    """Codes of a diagnosis HI in order, without qualifiers; None for other HI (anesthesia, conditions)."""
    first = hi.get(1).split(delimiters.component)[0]
    if first in OTHER_HI_QUALIFIERS:
        return None
    if first not in DIAGNOSIS_QUALIFIERS:
        raise Defect(
            "HI01 is not a diagnosis, anesthesia or condition composite",
            hi,
            1,
            f"ABK{delimiters.component}code, ABF{delimiters.component}code, BP, BO or BG",
            hi.get(1) or "(empty)",
        )
    codes = []
    for index, value in enumerate(hi.elements, start=1):
        if value == "":
            continue
        parts = value.split(delimiters.component)
        if parts[0] not in DIAGNOSIS_QUALIFIERS or len(parts) < 2 or not parts[1]:
            raise Defect(
                f"HI{index:02d} is not a diagnosis composite",
                hi,
                index,
                f"ABK{delimiters.component}code or ABF{delimiters.component}code",
                value,
            )
        codes.append(parts[1])
    return codes


@dataclass
class _ClaimBody:
    clm: Segment
    claim_id: str = ""
    total_charge: Decimal = Decimal(0)
    place_of_service: str = ""
    frequency_code: str = ""
    diagnoses: list[str] = field(default_factory=list)
    refs: dict[str, str] = field(default_factory=dict)
    rendering_npi: str | None = None
    lines: list[_Line] = field(default_factory=list)
    unreadable: list[Defect] = field(default_factory=list)
    inconsistent: list[Defect] = field(default_factory=list)


def _read_clm(body: _ClaimBody, delimiters: Delimiters) -> None:
    clm = body.clm
    body.claim_id = clm.get(1)
    if not body.claim_id:
        raise Defect("CLM01 patient control number is required", clm, 1, "a claim id", "(empty)")
    body.total_charge = required_amount(clm, 2)
    composite = clm.get(5)
    parts = composite.split(delimiters.component)
    body.place_of_service = parts[0]
    body.frequency_code = parts[2] if len(parts) > 2 else ""
    if not _PLACE_OF_SERVICE.match(body.place_of_service):
        raise Defect(
            "CLM05-1 is not a place of service code",
            clm,
            5,
            f"2 digits{delimiters.component}B{delimiters.component}frequency",
            composite or "(empty)",
        )
    if body.frequency_code not in FREQUENCY_CODES:
        raise Defect(
            "CLM05-3 is not a professional claim frequency code",
            clm,
            5,
            "1 (original), 7 (replacement) or 8 (void)",
            body.frequency_code or "(empty)",
        )


def _claim_segment(body: _ClaimBody, seg: Segment, section: str, delimiters: Delimiters) -> str:
    """Read one segment after CLM; returns the 2300 section it leaves the claim in."""
    check_segment_id(seg)
    if seg.id == "LX":
        body.lines.append(_Line(seg, len(body.lines) + 1))
        return "line"
    if seg.id == "NM1" and not seg.get(1):
        if section == "line":
            body.lines[-1].in_subloop = True
        raise Defect("NM101 entity identifier code is required", seg, 1, "an entity code", "(empty)")
    if section == "line":
        line = body.lines[-1]
        if not line.unreadable:
            _line_segment(line, seg, delimiters)
        return section
    if seg.id == "HI":
        codes = _diagnoses(seg, delimiters)
        if codes is not None:
            body.diagnoses.extend(codes)
        return section
    if seg.id == "SBR":
        return "other payer"
    if seg.id == "NM1":
        if section == "other payer":
            return section
        if seg.get(1) == "82" and seg.get(8) == "XX":
            if not _NPI.match(seg.get(9)):
                raise Defect(
                    "NM109 rendering provider NPI is not 10 digits", seg, 9, "a 10-digit NPI", seg.get(9)
                )
            body.rendering_npi = seg.get(9)
        return "provider"
    if seg.id == "REF" and section == "claim" and seg.get(1):
        body.refs.setdefault(seg.get(1), seg.get(2))
    return section


def _check_consistency(body: _ClaimBody, lines: list[SubmittedLine]) -> None:
    clm = body.clm
    line_total = sum((line.charge for line in lines), Decimal(0))
    if line_total != body.total_charge:
        body.inconsistent.append(
            Defect(
                "CLM02 total charge is not the sum of the SV102 line charges",
                clm,
                2,
                str(line_total),
                clm.get(2),
            )
        )
    for line, read in zip(body.lines, lines, strict=True):
        beyond = [p for p in read.diagnosis_pointers if p > len(body.diagnoses)]
        if beyond and line.sv1 is not None:
            body.inconsistent.append(
                Defect(
                    f"SV107 points past the {len(body.diagnoses)} diagnosis codes of the claim",
                    line.sv1,
                    7,
                    f"pointers 1-{len(body.diagnoses)}",
                    line.sv1.get(7),
                )
            )
    if body.frequency_code in ("7", "8") and not body.refs.get("F8"):
        body.inconsistent.append(
            Defect(
                f"a {FREQUENCY_CODES[body.frequency_code]} claim needs REF*F8 with the payer's claim number",
                clm,
                5,
                "REF*F8 in the claim",
                "(missing)",
            )
        )


def _read_claim(
    claim_segments: list[Segment], delimiters: Delimiters
) -> tuple[_ClaimBody, list[SubmittedLine]]:
    body = _ClaimBody(claim_segments[0])
    try:
        _read_clm(body, delimiters)
    except Defect as defect:
        body.unreadable.append(defect)
    section = "claim"
    for seg in claim_segments[1:]:
        try:
            section = _claim_segment(body, seg, section, delimiters)
        except Defect as defect:
            body.unreadable.append(defect)
    if not body.lines:
        body.unreadable.append(Defect("claim has no service lines", body.clm, None, "LX and SV1", "(no LX)"))
    lines: list[SubmittedLine] = []
    for line in body.lines:
        if line.unreadable:
            continue
        if line.sv1 is None:
            body.unreadable.append(
                Defect("service line has no SV1", line.lx, None, "SV1 after LX", "(missing)")
            )
            continue
        try:
            lines.append(_submitted_line(line))
        except Defect as defect:
            body.unreadable.append(defect)
    if not body.unreadable:
        _check_consistency(body, lines)
    return body, lines


def _claim(
    tx: TransactionSet, loop: _Loop | None, claim_segments: list[Segment], ordinal: int
) -> Iterator[SubmittedClaim | Problem]:
    clm = claim_segments[0]
    context, defects = _context(loop, clm)
    body, lines = _read_claim(claim_segments, tx.delimiters)
    defects.extend(body.unreadable)
    if defects or context is None:
        for defect in sorted(defects, key=lambda d: d.segment.position):
            yield tx.problem("claim", defect)
        return
    subscriber, patient = context.subscriber, context.patient
    names = patient or subscriber
    yield SubmittedClaim(
        interchange_control=tx.interchange_control,
        group_control=tx.group_control,
        transaction_control=tx.control,
        claim_ordinal=ordinal,
        segment_position=clm.position,
        claim_id=body.claim_id,
        total_charge=body.total_charge,
        place_of_service=body.place_of_service,
        frequency_code=body.frequency_code,
        billing_npi=context.billing.npi,
        billing_tin=context.billing.tin,
        billing_name=context.billing.name,
        rendering_npi=body.rendering_npi,
        payer_id=subscriber.payer_id,
        payer_name=subscriber.payer_name,
        filing_indicator=subscriber.filing_indicator,
        subscriber_member_id=subscriber.member_id,
        patient=PersonRef(
            last_name=names.last_name, first_name=names.first_name, member_id=subscriber.member_id
        ),
        patient_is_subscriber=patient is None,
        patient_birth_date=names.birth_date,
        diagnosis_codes=tuple(body.diagnoses),
        prior_auth_number=body.refs.get("G1") or None,
        original_reference=body.refs.get("F8") or None,
        other_refs=dict(body.refs),
        lines=tuple(lines),
        line_places_of_service={
            line.number: line.place_of_service for line in body.lines if line.place_of_service is not None
        },
    )
    for defect in body.inconsistent:
        yield tx.problem("claim", defect)


def _read_transaction(tx: TransactionSet) -> Iterator[SubmittedClaim | Problem]:
    loops: dict[str, _Loop] = {}
    loop: _Loop | None = None
    claim: list[Segment] | None = None
    ordinal = 0
    for seg in tx.body:
        if seg.id == "HL" or seg.id == "CLM":
            if claim is not None:
                yield from _claim(tx, loop, claim, ordinal)
                claim = None
            if seg.id == "HL":
                loop = _open_loop(seg, loops)
            else:
                ordinal += 1
                claim = [seg]
        elif claim is not None:
            claim.append(seg)
        elif not valid_segment_id(seg):
            yield tx.problem("transaction", bad_segment_id(seg))
        elif loop is not None:
            loop.segments.append(seg)
    if claim is not None:
        yield from _claim(tx, loop, claim, ordinal)


def parse_837p(
    text: str, *, versions: Collection[str] = SUPPORTED_837P
) -> Iterator[SubmittedClaim | Problem]:
    """Read every 837P transaction set of an X12 text; yield claims and problems in file order.

    `versions` are the implementation conventions read (ST03, else GS08); others are refused with a
    transaction problem. 837I (X223) is refused as institutional.
    """
    for item in transaction_sets(text):
        if isinstance(item, Problem):
            yield item
        elif item.st.get(1) != "837":
            yield item.type_problem("837")
        elif "X223" in item.version:
            yield item.version_problem("institutional claims are not supported", "005010X222A1 (837P)")
        elif item.version not in versions:
            yield item.version_problem("unsupported 837P version", " or ".join(versions))
        else:
            yield from _read_transaction(item)
            yield from item.trailer_problems
