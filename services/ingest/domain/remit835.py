"""835 (005010X221A1) health care claim payment/advice to service lines with their claim context.

One bad claim never sinks the others: a claim that cannot be read becomes a `Problem` with its place
in the file, and reading goes on with the next claim. A transaction whose envelope is wrong is
reported as a problem of that transaction only.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from pydantic import ValidationError

from services.ingest.domain.x12 import Delimiters, Segment, X12SyntaxError, read_delimiters, segments
from shared.schemas import Adjustment, PersonRef, RemitClaim, RemitContext, RemitServiceLine

SUPPORTED_835 = ("005010X221A1", "005010X221")


@dataclass(frozen=True)
class Problem:
    scope: str  # file | interchange | transaction | claim
    reason: str
    segment_position: int | None = None
    segment_id: str | None = None
    element_position: int | None = None
    expected: str | None = None
    found: str | None = None
    interchange_control: str | None = None
    group_control: str | None = None
    transaction_control: str | None = None


@dataclass(frozen=True)
class RemitLine:
    remittance: RemitContext
    claim: RemitClaim
    line: RemitServiceLine
    claim_ordinal: int


@dataclass
class _Envelope:
    interchange_control: str | None = None
    group_control: str | None = None
    version: str | None = None


class _ClaimError(ValueError):
    def __init__(
        self,
        reason: str,
        segment: Segment,
        element: int | None = None,
        expected: str | None = None,
        found: str | None = None,
    ):
        super().__init__(reason)
        self.reason = reason
        self.segment = segment
        self.element = element
        self.expected = expected
        self.found = found


def money(segment: Segment, index: int, *, required: bool = True) -> Decimal | None:
    raw = segment.get(index)
    if raw == "":
        if required:
            raise _ClaimError(f"{segment.id}{index:02d} is required", segment, index, "an amount", "(empty)")
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise _ClaimError(
            f"{segment.id}{index:02d} is not a number", segment, index, "an amount", raw
        ) from None
    if not value.is_finite():
        raise _ClaimError(f"{segment.id}{index:02d} is not a finite number", segment, index, "an amount", raw)
    return value


def ccyymmdd(segment: Segment, index: int) -> date | None:
    raw = segment.get(index)
    if raw == "":
        return None
    try:
        return (
            date(int(raw[0:4]), int(raw[4:6]), int(raw[6:8])) if len(raw) == 8 else _bad_date(segment, index)
        )
    except ValueError:
        return _bad_date(segment, index)


def _bad_date(segment: Segment, index: int) -> date:
    raise _ClaimError(
        f"{segment.id}{index:02d} is not a valid date", segment, index, "CCYYMMDD", segment.get(index)
    )


def _adjustments(segment: Segment) -> list[Adjustment]:
    group = segment.get(1)
    if group not in ("CO", "PR", "OA", "PI", "CR"):
        raise _ClaimError("CAS01 is not a claim adjustment group code", segment, 1, "CO, PR, OA or PI", group)
    result = []
    for first in range(2, 20, 3):
        reason = segment.get(first)
        if reason == "":
            continue
        amount = money(segment, first + 1)
        quantity = money(segment, first + 2, required=False)
        try:
            result.append(Adjustment(group=group, reason=reason, amount=amount, quantity=quantity))
        except ValidationError:
            raise _ClaimError(
                f"CAS{first:02d} is not a claim adjustment reason code", segment, first, "a CARC", reason
            ) from None
    return result


def _procedure(
    value: str, delimiters: Delimiters, segment: Segment, index: int
) -> tuple[str, str, tuple[str, ...]]:
    parts = value.split(delimiters.component)
    if len(parts) < 2 or not parts[1]:
        raise _ClaimError(
            f"{segment.id}{index:02d} is not a procedure composite",
            segment,
            index,
            "qualifier:code[:modifiers]",
            value,
        )
    modifiers = tuple(m for m in parts[2:6] if m)
    return parts[0], parts[1], modifiers


class _LineBuilder:
    def __init__(self, svc: Segment, number: int, delimiters: Delimiters):
        self.svc = svc
        self.number = number
        self.qualifier, self.code, self.modifiers = _procedure(svc.get(1), delimiters, svc, 1)
        self.submitted: tuple[str, str, tuple[str, ...]] | None = None
        if svc.get(6):
            self.submitted = _procedure(svc.get(6), delimiters, svc, 6)
        self.charge = money(svc, 2)
        self.paid = money(svc, 3)
        self.units_paid = money(svc, 5, required=False)
        original_units = money(svc, 7, required=False)
        self.units_billed = original_units if original_units is not None else self.units_paid
        self.service_date: date | None = None
        self.line_control: str | None = None
        self.allowed: Decimal | None = None
        self.adjustments: list[Adjustment] = []
        self.remarks: list[str] = []

    def add(self, seg: Segment) -> None:
        if seg.id == "DTM" and seg.get(1) in ("472", "150"):
            self.service_date = ccyymmdd(seg, 2)
        elif seg.id == "CAS":
            self.adjustments.extend(_adjustments(seg))
        elif seg.id == "REF" and seg.get(1) == "6R":
            self.line_control = seg.get(2) or None
        elif seg.id == "AMT" and seg.get(1) == "B6":
            self.allowed = money(seg, 2)
        elif seg.id == "LQ" and seg.get(1) == "HE":
            self.remarks.append(seg.get(2))

    def build(self) -> RemitServiceLine:
        try:
            return RemitServiceLine(
                line_number=self.number,
                qualifier=self.qualifier,
                procedure_code=self.code,
                modifiers=self.modifiers,
                submitted_procedure_code=self.submitted[1] if self.submitted else None,
                submitted_modifiers=self.submitted[2] if self.submitted else (),
                charge=self.charge,
                paid=self.paid,
                units_billed=self.units_billed,
                units_paid=self.units_paid,
                service_date=self.service_date,
                line_control_number=self.line_control,
                allowed=self.allowed,
                adjustments=tuple(self.adjustments),
                remarks=tuple(self.remarks),
            )
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in error["loc"])
            raise _ClaimError(
                f"service line {self.number}: {where} {error['msg']}",
                self.svc,
                None,
                None,
                str(error.get("input")),
            ) from None


def _claim_lines(
    claim_segments: list[Segment], delimiters: Delimiters
) -> tuple[RemitClaim, list[RemitServiceLine]]:
    clp = claim_segments[0]
    if not clp.get(1):
        raise _ClaimError("CLP01 patient control number is required", clp, 1, "a claim id", "(empty)")
    if not clp.get(2):
        raise _ClaimError("CLP02 claim status is required", clp, 2, "a claim status code", "(empty)")
    charge = money(clp, 3)
    paid = money(clp, 4)
    patient_resp = money(clp, 5, required=False)
    patient = PersonRef()
    insured_member: str | None = None
    rendering_npi: str | None = None
    claim_adjustments: list[Adjustment] = []
    lines: list[_LineBuilder] = []
    for seg in claim_segments[1:]:
        if seg.id == "SVC":
            lines.append(_LineBuilder(seg, len(lines) + 1, delimiters))
        elif lines:
            lines[-1].add(seg)
        elif seg.id == "CAS":
            claim_adjustments.extend(_adjustments(seg))
        elif seg.id == "NM1" and seg.get(1) == "QC":
            patient = PersonRef(
                last_name=seg.get(3) or None, first_name=seg.get(4) or None, member_id=seg.get(9) or None
            )
        elif seg.id == "NM1" and seg.get(1) == "IL":
            insured_member = seg.get(9) or None
        elif seg.id == "NM1" and seg.get(1) == "82" and seg.get(8) == "XX":
            rendering_npi = seg.get(9) or None
    if patient.member_id is None and insured_member:
        patient = PersonRef(
            last_name=patient.last_name, first_name=patient.first_name, member_id=insured_member
        )
    claim = RemitClaim(
        patient_control_number=clp.get(1),
        status_code=clp.get(2),
        charge=charge,
        paid=paid,
        patient_responsibility=patient_resp,
        payer_claim_control_number=clp.get(7) or None,
        filing_indicator=clp.get(6) or None,
        patient=patient,
        rendering_npi=rendering_npi,
        adjustments=tuple(claim_adjustments),
    )
    return claim, [line.build() for line in lines]


@dataclass
class _Transaction:
    st: Segment
    envelope: _Envelope
    header: list[Segment] = field(default_factory=list)
    claims: list[list[Segment]] = field(default_factory=list)
    plb: list[Segment] = field(default_factory=list)
    count: int = 1


def _remittance(tx: _Transaction) -> RemitContext:
    bpr = next((s for s in tx.header if s.id == "BPR"), None)
    if bpr is None:
        raise _ClaimError("transaction has no BPR payment segment", tx.st, None, "BPR", "(missing)")
    trn = next((s for s in tx.header if s.id == "TRN"), None)
    payer_name = payer_id = payee_name = payee_npi = payee_tin = None
    loop = None
    for seg in tx.header:
        if seg.id == "N1":
            loop = seg.get(1)
            if loop == "PR":
                payer_name = seg.get(2) or None
                payer_id = seg.get(4) or None
            elif loop == "PE":
                payee_name = seg.get(2) or None
                if seg.get(3) == "XX":
                    payee_npi = seg.get(4) or None
                elif seg.get(3) == "FI":
                    payee_tin = seg.get(4) or None
        elif seg.id == "REF" and loop == "PR" and seg.get(1) == "2U" and not payer_id:
            payer_id = seg.get(2) or None
        elif seg.id == "REF" and loop == "PE" and seg.get(1) == "TJ":
            payee_tin = seg.get(2) or None
    if payer_id is None and trn is not None:
        payer_id = trn.get(3) or None
    return RemitContext(
        interchange_control=tx.envelope.interchange_control,
        transaction_control=tx.st.get(2),
        payer_name=payer_name,
        payer_id=payer_id,
        payee_name=payee_name,
        payee_npi=payee_npi,
        payee_tin=payee_tin,
        trace_number=trn.get(2) if trn is not None and trn.get(2) else None,
        payment_amount=money(bpr, 2),
        payment_method=bpr.get(4) or None,
        payment_date=ccyymmdd(bpr, 16),
    )


def _problem(scope: str, err: _ClaimError, tx: _Transaction | None) -> Problem:
    return Problem(
        scope=scope,
        reason=err.reason,
        segment_position=err.segment.position,
        segment_id=err.segment.id,
        element_position=err.element,
        expected=err.expected,
        found=err.found,
        interchange_control=tx.envelope.interchange_control if tx else None,
        group_control=tx.envelope.group_control if tx else None,
        transaction_control=tx.st.get(2) if tx else None,
    )


def _finish(tx: _Transaction, se: Segment, delimiters: Delimiters) -> Iterator[RemitLine | Problem]:
    if se.get(2) != tx.st.get(2):
        yield _problem(
            "transaction", _ClaimError("SE02 does not match ST02", se, 2, tx.st.get(2), se.get(2)), tx
        )
    if se.get(1) != str(tx.count):
        yield _problem(
            "transaction", _ClaimError("SE01 segment count is wrong", se, 1, str(tx.count), se.get(1)), tx
        )
    try:
        remittance = _remittance(tx)
    except (_ClaimError, ValidationError) as exc:
        err = exc if isinstance(exc, _ClaimError) else _ClaimError(str(exc), tx.st)
        yield _problem("transaction", err, tx)
        return
    for ordinal, claim_segments in enumerate(tx.claims, start=1):
        try:
            claim, lines = _claim_lines(claim_segments, delimiters)
        except _ClaimError as err:
            yield _problem("claim", err, tx)
            continue
        except ValidationError as exc:
            yield _problem(
                "claim",
                _ClaimError(f"claim could not be read: {exc.errors()[0]['msg']}", claim_segments[0]),
                tx,
            )
            continue
        for line in lines:
            yield RemitLine(remittance=remittance, claim=claim, line=line, claim_ordinal=ordinal)


def parse_835(text: str) -> Iterator[RemitLine | Problem]:
    """Read every 835 transaction in an X12 text; yield service lines and problems in file order."""
    try:
        delimiters, _ = read_delimiters(text)
        stream: Iterable[Segment] = segments(text)
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
    envelope = _Envelope()
    tx: _Transaction | None = None
    skipping = False
    last: Segment | None = None
    for seg in stream:
        last = seg
        if seg.id == "ISA":
            envelope = _Envelope(interchange_control=seg.get(13))
        elif seg.id == "GS":
            envelope = _Envelope(envelope.interchange_control, seg.get(6), seg.get(8))
        elif seg.id == "ST":
            if tx is not None:
                yield _problem(
                    "transaction", _ClaimError("ST before the previous SE", seg, None, "SE", "ST"), tx
                )
            if seg.get(1) != "835":
                yield Problem(
                    "transaction",
                    "transaction set is not an 835",
                    seg.position,
                    "ST",
                    1,
                    "835",
                    seg.get(1),
                    envelope.interchange_control,
                    envelope.group_control,
                    seg.get(2),
                )
                tx, skipping = None, True
                continue
            version = seg.get(3) or envelope.version or ""
            if version not in SUPPORTED_835:
                yield Problem(
                    "transaction",
                    "unsupported 835 version",
                    seg.position,
                    "ST",
                    3,
                    "005010X221A1",
                    version,
                    envelope.interchange_control,
                    envelope.group_control,
                    seg.get(2),
                )
                tx, skipping = None, True
                continue
            tx, skipping = _Transaction(st=seg, envelope=envelope), False
        elif seg.id == "SE":
            if tx is not None:
                tx.count += 1
                yield from _finish(tx, seg, delimiters)
            tx, skipping = None, False
        elif tx is not None:
            tx.count += 1
            if seg.id == "CLP":
                tx.claims.append([seg])
            elif seg.id == "PLB":
                tx.plb.append(seg)
            elif seg.id == "LX":
                continue
            elif tx.claims:
                tx.claims[-1].append(seg)
            else:
                tx.header.append(seg)
        elif not skipping and seg.id not in ("GE", "IEA", "TA1"):
            yield Problem(
                "file",
                f"segment {seg.id} outside a transaction set",
                seg.position,
                seg.id,
                None,
                "ST",
                seg.id,
                envelope.interchange_control,
                envelope.group_control,
            )
    if tx is not None:
        yield Problem(
            "transaction",
            "file ends inside a transaction set (no SE)",
            last.position if last else None,
            last.id if last else None,
            None,
            "SE",
            "end of file",
            envelope.interchange_control,
            envelope.group_control,
            tx.st.get(2),
        )
