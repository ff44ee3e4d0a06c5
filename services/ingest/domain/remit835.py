"""835 health care claim payment/advice to service lines, provider adjustments and precise problems.

Reads 005010X221A1 (and the older 004010X091A1 that some payers still send) as a stream of segments:
claims come out as they are read, so memory does not grow with the file. Balancing needs the whole
transaction, so a first cheap pass (`scan_totals`) adds up BPR02, CLP04 and PLB per transaction;
the second pass marks every line of a transaction that does not balance `posting="hold"`.

One bad claim never sinks the others: a claim that cannot be read becomes a `Problem` with its place in
the file, and reading goes on with the next claim.
"""

from __future__ import annotations

import gc
import importlib
import itertools
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from services.ingest.domain.x12 import (
    UTF8_BOM,
    Defect,
    Delimiters,
    Problem,
    Segment,
    SegmentReader,
    X12SyntaxError,
    _refuse_binary,
    read_delimiters,
    segments,
)
from shared.schemas import (
    Adjustment,
    Imbalance,
    LineBrief,
    PersonRef,
    RemitClaim,
    RemitContext,
    RemitServiceLine,
)


def _import_native() -> ModuleType | None:
    try:
        return importlib.import_module("claimline_x12")
    except ImportError:  # not built: every file is read by the Python parser
        return None


NATIVE = _import_native()
"""The compiled fast path (services/ingest/native/), or None when it is not installed."""

if TYPE_CHECKING:
    from claimline_x12 import Scanner as _NativeScanner

SUPPORTED_835 = ("005010X221A1", "005010X221", "004010X091A1", "004010X091")
ZERO = Decimal(0)
REVERSAL = "22"
CAS_AMOUNT_POSITIONS = (3, 6, 9, 12, 15, 18)
_CODE = re.compile(r"^[A-Za-z0-9]{1,48}$")
_MODIFIER = re.compile(r"^[A-Za-z0-9]{2}$")
_REMARK = re.compile(r"^[A-Z]{1,2}[0-9]{1,5}$")
_SEGMENT_ID = re.compile(r"^[A-Z][A-Z0-9]{1,2}$")
_PLB_REASON = re.compile(r"^[A-Z0-9]{2}$")
_DECIMAL = re.compile(r"^-?(\d{1,15}(\.\d*)?|\.\d{1,15})$")
_COMPOSITE_FALLBACK = re.compile(r"^[A-Z0-9]{2}([>:^|])\S")


@dataclass(frozen=True)
class RemitLine:
    remittance: RemitContext
    claim: RemitClaim
    line: RemitServiceLine
    claim_ordinal: int
    posting: str = "auto"


@dataclass(frozen=True)
class ProviderAdjustment:
    remittance: RemitContext
    provider_id: str
    fiscal_period_date: date | None
    reason_code: str
    reference: str | None
    amount: Decimal
    ordinal: int


@dataclass(frozen=True)
class TransactionTotals:
    """What pass one adds up for one transaction set: enough to tell whether it balances."""

    ordinal: int
    control: str
    payment: Decimal | None = None
    claims_paid: Decimal = ZERO
    provider_adjustments: Decimal = ZERO
    claims: int = 0
    lines: int = 0

    @property
    def imbalance(self) -> Imbalance | None:
        if self.payment is None:
            return None
        found = self.claims_paid - self.provider_adjustments
        if found == self.payment:
            return None
        return Imbalance(
            level="transaction",
            rule="BPR02 = sum of CLP04 - sum of PLB amounts",
            expected=self.payment,
            found=found,
        )


@dataclass(frozen=True)
class RemittanceRead:
    """Yielded at each SE: one remittance read, with what it contained and whether it balances."""

    remittance: RemitContext
    claims: int
    lines: int
    provider_adjustments: int


Item = RemitLine | ProviderAdjustment | RemittanceRead | Problem


@dataclass
class _Envelope:
    interchange_control: str | None = None
    group_control: str | None = None
    version: str | None = None
    groups: int = 0
    transactions: int = 0


def money(segment: Segment, index: int, *, required: bool = True) -> Decimal | None:
    raw = segment.get(index)
    if raw == "":
        if required:
            raise Defect(f"{segment.id}{index:02d} is required", segment, index, "an amount", "(empty)")
        return None
    value = _number(raw)
    if value is None:
        raise Defect(f"{segment.id}{index:02d} is not a number", segment, index, "a decimal amount", raw)
    return value


def ccyymmdd(segment: Segment, index: int) -> date | None:
    raw = segment.get(index)
    if raw == "":
        return None
    if len(raw) == 8 and raw.isdigit():
        try:
            return date(int(raw[0:4]), int(raw[4:6]), int(raw[6:8]))
        except ValueError:
            pass
    raise Defect(f"{segment.id}{index:02d} is not a valid date", segment, index, "CCYYMMDD", raw)


def _adjustments(segment: Segment) -> list[Adjustment]:
    group = segment.get(1)
    if group not in ("CO", "PR", "OA", "PI", "CR"):
        raise Defect("CAS01 is not a claim adjustment group code", segment, 1, "CO, PR, OA or PI", group)
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
            raise Defect(
                f"CAS{first:02d} is not a claim adjustment reason code", segment, first, "a CARC", reason
            ) from None
    return result


def _procedure(
    value: str, delimiters: Delimiters, segment: Segment, index: int
) -> tuple[str, str, tuple[str, ...]]:
    separator = delimiters.component
    if separator not in value and (match := _COMPOSITE_FALLBACK.match(value)):
        separator = match.group(1)  # some senders use another component separator than ISA16 says
    parts = value.split(separator)
    if len(parts) < 2 or not parts[1]:
        raise Defect(
            f"{segment.id}{index:02d} is not a procedure composite",
            segment,
            index,
            "qualifier:code[:modifiers]",
            value,
        )
    if not _CODE.match(parts[1]):
        raise Defect(
            f"{segment.id}{index:02d} procedure code is not a code",
            segment,
            index,
            "letters and digits",
            parts[1],
        )
    modifiers = tuple(m for m in parts[2:6] if m)
    for m in modifiers:
        if not _MODIFIER.match(m):
            raise Defect(
                f"{segment.id}{index:02d} has a modifier that is not two letters or digits",
                segment,
                index,
                "a modifier such as 50, LT, RT or 59",
                m,
            )
    return parts[0], parts[1], modifiers


def _remark(segment: Segment, index: int) -> str:
    value = segment.get(index)
    if not _REMARK.match(value):
        raise Defect(
            f"{segment.id}{index:02d} is not a remark code",
            segment,
            index,
            "a RARC such as N362 or MA130",
            value,
        )
    return value


def _name(seg: Segment) -> PersonRef:
    return PersonRef(
        last_name=seg.get(3) or None, first_name=seg.get(4) or None, member_id=seg.get(9) or None
    )


def _sum_adjustments(adjustments: Iterable[Adjustment]) -> Decimal:
    return sum((a.amount for a in adjustments), ZERO)


class _LineBuilder:
    def __init__(self, svc: Segment, number: int, delimiters: Delimiters):
        self.svc = svc
        self.number = number
        self.qualifier, self.code, self.modifiers = _procedure(svc.get(1), delimiters, svc, 1)
        self.submitted = _procedure(svc.get(6), delimiters, svc, 6) if svc.get(6) else None
        self.charge = money(svc, 2)
        self.paid = money(svc, 3)
        self.units_paid = money(svc, 5, required=False)
        original_units = money(svc, 7, required=False)
        self.units_billed = original_units if original_units is not None else (self.units_paid or Decimal(1))
        if self.units_paid is None:
            self.units_paid = Decimal(1)  # SVC05 defaults to one unit when absent
        self.service_date: date | None = None
        self.service_date_end: date | None = None
        self.line_control: str | None = None
        self.allowed: Decimal | None = None
        self.amounts: dict[str, Decimal] = {}
        self.refs: dict[str, str] = {}
        self.adjustments: list[Adjustment] = []
        self.remarks: list[str] = []

    def add(self, seg: Segment) -> None:
        sid = seg.id
        if sid == "CAS":
            self.adjustments.extend(_adjustments(seg))
        elif sid == "DTM":
            qualifier = seg.get(1)
            if qualifier in ("472", "150"):
                self.service_date = ccyymmdd(seg, 2)
            elif qualifier == "151":
                self.service_date_end = ccyymmdd(seg, 2)
        elif sid == "REF":
            if seg.get(1) == "6R":
                self.line_control = seg.get(2) or None
            elif seg.get(1):
                self.refs[seg.get(1)] = seg.get(2)
        elif sid == "AMT":
            amount = money(seg, 2)
            assert amount is not None
            self.amounts[seg.get(1)] = amount
            if seg.get(1) == "B6":
                self.allowed = amount
        elif sid == "LQ" and seg.get(1) == "HE":
            self.remarks.append(_remark(seg, 2))

    def build(self) -> RemitServiceLine:
        assert self.charge is not None
        assert self.paid is not None
        found = self.charge - _sum_adjustments(self.adjustments)
        imbalance = None
        if found != self.paid:
            imbalance = Imbalance(
                level="line", rule="SVC02 - sum of line CAS = SVC03", expected=self.paid, found=found
            )
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
                service_date_end=self.service_date_end,
                line_control_number=self.line_control,
                allowed=self.allowed,
                amounts=self.amounts,
                refs=self.refs,
                adjustments=tuple(self.adjustments),
                remarks=tuple(self.remarks),
                imbalance=imbalance,
            )
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in error["loc"])
            raise Defect(
                f"service line {self.number}: {where}: {error['msg']}",
                self.svc,
                None,
                None,
                str(error.get("input")),
            ) from None


def read_claim(
    claim_segments: list[Segment], delimiters: Delimiters
) -> tuple[RemitClaim, list[RemitServiceLine]]:
    """One CLP loop (CLP and everything up to the next CLP) to the claim and its service lines."""
    clp = claim_segments[0]
    if not clp.get(1):
        raise Defect("CLP01 patient control number is required", clp, 1, "a claim id", "(empty)")
    if not clp.get(2):
        raise Defect("CLP02 claim status is required", clp, 2, "a claim status code", "(empty)")
    charge, paid = money(clp, 3), money(clp, 4)
    assert charge is not None
    assert paid is not None
    info: dict[str, object] = {}
    claim_adjustments: list[Adjustment] = []
    remarks: list[str] = []
    amounts: dict[str, Decimal] = {}
    quantities: dict[str, Decimal] = {}
    refs: dict[str, str] = {}
    lines: list[_LineBuilder] = []
    for seg in claim_segments[1:]:
        sid = seg.id
        if sid == "SVC":
            lines.append(_LineBuilder(seg, len(lines) + 1, delimiters))
        elif lines:
            lines[-1].add(seg)
        elif sid == "CAS":
            claim_adjustments.extend(_adjustments(seg))
        elif sid == "NM1":
            entity = seg.get(1)
            if entity == "QC":
                info["patient"] = _name(seg)
            elif entity == "IL":
                info["insured"] = _name(seg)
            elif entity == "74":
                info["corrected_patient"] = _name(seg)
            elif entity == "82":
                info["rendering_name"] = " ".join(p for p in (seg.get(4), seg.get(3)) if p) or None
                if seg.get(8) == "XX":
                    info["rendering_npi"] = seg.get(9) or None
        elif sid == "MOA":
            remarks.extend(_remark(seg, i) for i in (3, 4, 5, 6, 7) if seg.get(i))
        elif sid == "MIA":
            remarks.extend(_remark(seg, i) for i in (5, 20, 21, 22, 23) if seg.get(i))
        elif sid == "DTM":
            qualifier = seg.get(1)
            key = {"232": "statement_from", "233": "statement_to", "050": "received_date"}.get(qualifier)
            if key:
                info[key] = ccyymmdd(seg, 2)
        elif sid == "AMT":
            amount = money(seg, 2)
            assert amount is not None
            amounts[seg.get(1)] = amount
        elif sid == "QTY":
            quantity = money(seg, 2)
            assert quantity is not None
            quantities[seg.get(1)] = quantity
        elif sid == "REF" and seg.get(1):
            refs[seg.get(1)] = seg.get(2)
    built = [line.build() for line in lines]
    briefs = tuple(
        LineBrief(
            line_number=b.line_number,
            procedure_code=b.procedure_code,
            modifiers=b.modifiers,
            units=b.units_billed,
            charge=b.charge,
            paid=b.paid,
            service_date=b.service_date,
        )
        for b in built
    )
    found = (
        charge
        - _sum_adjustments(claim_adjustments)
        - sum((_sum_adjustments(line.adjustments) for line in built), ZERO)
    )
    imbalance = None
    if found != paid:
        imbalance = Imbalance(
            level="claim", rule="CLP03 - sum of claim and line CAS = CLP04", expected=paid, found=found
        )
    patient = info.get("patient") or PersonRef()
    insured = info.get("insured")
    if isinstance(patient, PersonRef) and patient.member_id is None and isinstance(insured, PersonRef):
        patient = PersonRef(
            last_name=patient.last_name, first_name=patient.first_name, member_id=insured.member_id
        )
    try:
        claim = RemitClaim(
            patient_control_number=clp.get(1),
            status_code=clp.get(2),
            charge=charge,
            paid=paid,
            patient_responsibility=money(clp, 5, required=False),
            payer_claim_control_number=clp.get(7) or None,
            filing_indicator=clp.get(6) or None,
            facility_code=clp.get(8) or None,
            frequency_code=clp.get(9) or None,
            patient=patient,
            remarks=tuple(remarks),
            amounts=amounts,
            quantities=quantities,
            refs=refs,
            adjustments=tuple(claim_adjustments),
            imbalance=imbalance,
            lines=briefs,
            **{k: v for k, v in info.items() if k != "patient"},
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        raise Defect(f"claim: {'.'.join(str(p) for p in error['loc'])}: {error['msg']}", clp) from None
    return claim, built


@dataclass
class _Transaction:
    st: Segment
    envelope: _Envelope
    ordinal: int
    totals: TransactionTotals | None
    header: list[Segment] = field(default_factory=list)
    context: RemitContext | None = None
    claim: list[Segment] = field(default_factory=list)
    claims: int = 0
    claim_ordinal: int = 0
    lines: int = 0
    plb: int = 0
    count: int = 1
    broken: bool = False
    claim_broken: bool = False
    last_reversal: str | None = None
    warnings: list[Defect] = field(default_factory=list)


def _context(tx: _Transaction) -> RemitContext:
    bpr = next((s for s in tx.header if s.id == "BPR"), None)
    if bpr is None:
        raise Defect("transaction has no BPR payment segment", tx.st, None, "BPR", "(missing)")
    trn = next((s for s in tx.header if s.id == "TRN"), None)
    values: dict[str, object] = {}
    payer_refs: dict[str, str] = {}
    payee_refs: dict[str, str] = {}
    loop = None
    for seg in tx.header:
        if seg.id == "N1":
            loop = seg.get(1)
            if loop == "PR":
                values["payer_name"] = seg.get(2) or None
                values["payer_id"] = seg.get(4) or None
            elif loop == "PE":
                values["payee_name"] = seg.get(2) or None
                if seg.get(3) == "XX":
                    values["payee_npi"] = seg.get(4) or None
                elif seg.get(3) == "FI":
                    values["payee_tin"] = seg.get(4) or None
                elif seg.get(3):
                    payee_refs[seg.get(3)] = seg.get(4)
        elif seg.id == "REF" and loop in ("PR", "PE"):
            (payer_refs if loop == "PR" else payee_refs)[seg.get(1)] = seg.get(2)
            if loop == "PE" and seg.get(1) == "TJ" and not values.get("payee_tin"):
                values["payee_tin"] = seg.get(2) or None
        elif seg.id == "DTM" and seg.get(1) == "405":
            values["production_date"] = _lenient_date(tx, seg, 2)
    if not values.get("payer_id"):
        values["payer_id"] = payer_refs.get("2U") or (trn.get(3) if trn is not None else None) or None
    return RemitContext(
        interchange_control=tx.envelope.interchange_control,
        group_control=tx.envelope.group_control,
        transaction_control=tx.st.get(2),
        transaction_ordinal=tx.ordinal,
        version=tx.st.get(3) or tx.envelope.version,
        trace_number=trn.get(2) if trn is not None and trn.get(2) else None,
        payment_amount=money(bpr, 2),
        credit_debit=bpr.get(3) or None,
        payment_method=bpr.get(4) or None,
        handling_code=bpr.get(1) or None,
        payment_date=_lenient_date(tx, bpr, 16),
        payer_refs=payer_refs,
        payee_refs=payee_refs,
        imbalance=tx.totals.imbalance if tx.totals else None,
        **values,
    )


def _lenient_date(tx: _Transaction, seg: Segment, index: int) -> date | None:
    """A header date that cannot be read is reported, not fatal: the lines still post without it."""
    try:
        return ccyymmdd(seg, index)
    except Defect as err:
        tx.warnings.append(err)
        return None


def _problem(
    scope: str, err: Defect, tx: _Transaction | None, env: _Envelope | None = None, control: str | None = None
) -> Problem:
    envelope = tx.envelope if tx else env
    return Problem(
        scope=scope,
        reason=err.reason,
        segment_position=err.segment.position,
        segment_id=err.segment.id,
        element_position=err.element,
        expected=err.expected,
        found=err.found,
        interchange_control=envelope.interchange_control if envelope else None,
        group_control=envelope.group_control if envelope else None,
        transaction_control=tx.st.get(2) if tx else control,
        payee_npi=tx.context.payee_npi if tx and tx.context else None,
        payee_tin=tx.context.payee_tin if tx and tx.context else None,
    )


def _close_claim(tx: _Transaction, delimiters: Delimiters) -> Iterator[Item]:
    if not tx.claim or tx.context is None:
        return
    claim_segments, tx.claim = tx.claim, []
    tx.claim_ordinal += 1
    if tx.claim_broken:
        tx.claim_broken = False
        yield _problem(
            "claim",
            Defect(
                "claim not posted: it contains a segment that is not X12 (see the "
                "transaction problem before this one)",
                claim_segments[0],
            ),
            tx,
        )
        return
    try:
        claim, lines = read_claim(claim_segments, delimiters)
    except Defect as err:
        yield _problem("claim", err, tx)
        return
    tx.claims += 1
    if claim.status_code == REVERSAL:
        tx.last_reversal = claim.patient_control_number
    elif tx.last_reversal == claim.patient_control_number:
        claim = claim.model_copy(update={"follows_reversal": True})
        tx.last_reversal = None
    if not lines:
        yield _problem(
            "claim",
            Defect(
                "claim has no service lines (adjudicated at claim level only); work it by hand",
                claim_segments[0],
                None,
                "SVC service lines",
                f"claim {claim.patient_control_number} status {claim.status_code} paid {claim.paid}",
            ),
            tx,
        )
        return
    hold = tx.context.imbalance is not None or claim.imbalance is not None
    for line in lines:
        tx.lines += 1
        posting = "hold" if hold or line.imbalance is not None else "auto"
        yield RemitLine(tx.context, claim, line, tx.claim_ordinal, posting)


def _open_context(tx: _Transaction) -> Iterator[Item]:
    if tx.context is not None or tx.broken:
        return
    try:
        tx.context = _context(tx)
    except (Defect, ValidationError) as exc:
        tx.broken = True
        err = exc if isinstance(exc, Defect) else Defect(f"remittance header could not be read: {exc}", tx.st)
        yield _problem("transaction", err, tx)
    for warning in tx.warnings:
        yield _problem("transaction", warning, tx)
    tx.warnings.clear()


def _provider_adjustments(tx: _Transaction, seg: Segment, delimiters: Delimiters) -> Iterator[Item]:
    if tx.context is None:
        return
    try:
        period = ccyymmdd(seg, 2)
        pairs: list[tuple[str, str | None, Decimal]] = []
        for first in range(3, 15, 2):
            if not seg.get(first):
                continue
            reason, _, reference = seg.get(first).partition(delimiters.component)
            if not _PLB_REASON.match(reason):
                raise Defect(
                    f"PLB{first:02d} is not an adjustment reason code",
                    seg,
                    first,
                    "a two-character code such as WO, FB, L6 or 72",
                    reason,
                )
            amount = money(seg, first + 1)
            assert amount is not None
            pairs.append((reason, reference or None, amount))
    except Defect as err:
        yield _problem("transaction", err, tx)
        return
    for reason, ref, amount in pairs:
        tx.plb += 1
        yield ProviderAdjustment(tx.context, seg.get(1), period, reason, ref, amount, tx.plb)


def _finish(tx: _Transaction, se: Segment, delimiters: Delimiters) -> Iterator[Item]:
    yield from _open_context(tx)
    yield from _close_claim(tx, delimiters)
    if se.get(2) != tx.st.get(2):
        yield _problem("transaction", Defect("SE02 does not match ST02", se, 2, tx.st.get(2), se.get(2)), tx)
    if se.get(1) != str(tx.count):
        yield _problem(
            "transaction", Defect("SE01 segment count is wrong", se, 1, str(tx.count), se.get(1)), tx
        )
    if tx.context is not None:
        yield RemittanceRead(tx.context, tx.claims, tx.lines, tx.plb)


@dataclass
class _Sums:
    control: str
    payment: Decimal | None = None
    claims_paid: Decimal = ZERO
    plb: Decimal = ZERO
    claims: int = 0
    lines: int = 0


def scan_totals(stream: Iterable[Segment]) -> dict[int, TransactionTotals]:
    """Pass one: per transaction set (by its ordinal in the file), the numbers balancing needs."""
    totals: dict[int, TransactionTotals] = {}
    ordinal = 0
    current: _Sums | None = None
    for seg in stream:
        sid = seg.id
        if sid == "ST":
            ordinal += 1
            current = _Sums(seg.get(2))
        elif current is None:
            continue
        elif sid == "CLP":
            current.claims += 1
            current.claims_paid += _number(seg.get(4)) or ZERO
        elif sid == "SVC":
            current.lines += 1
        elif sid == "BPR" and current.payment is None:
            current.payment = _number(seg.get(2))
        elif sid == "PLB":
            for position in range(4, 15, 2):
                current.plb += _number(seg.get(position)) or ZERO
        elif sid == "SE":
            totals[ordinal] = TransactionTotals(
                ordinal,
                current.control,
                current.payment,
                current.claims_paid,
                current.plb,
                current.claims,
                current.lines,
            )
            current = None
    return totals


def _number(raw: str) -> Decimal | None:
    """An X12 decimal (R type): optional minus, digits, optional point; no exponent, at most 15 digits."""
    if not raw or len(raw) > 18 or not _DECIMAL.match(raw):
        return None
    return Decimal(raw)


def parse_835_segments(
    stream: Iterable[Segment], delimiters: Delimiters, totals: dict[int, TransactionTotals] | None = None
) -> Iterator[Item]:
    """Pass two: read every 835 transaction; yield lines, provider adjustments, summaries and problems."""
    env = _Envelope()
    tx: _Transaction | None = None
    skipping = False
    last: Segment | None = None
    ordinal = 0
    isa: Segment | None = None
    gs: Segment | None = None
    for seg in stream:
        last = seg
        sid = seg.id
        if tx is not None and sid not in ("SE", "ST", "GE", "IEA", "ISA", "GS"):
            tx.count += 1
            if not _SEGMENT_ID.match(sid):
                yield _problem(
                    "transaction",
                    Defect(
                        "segment id is not a valid X12 segment id",
                        seg,
                        None,
                        "two or three capital letters or digits",
                        sid[:40],
                    ),
                    tx,
                )
                if tx.claim:
                    tx.claim_broken = True
                continue
            if sid == "CLP":
                yield from _open_context(tx)
                yield from _close_claim(tx, delimiters)
                tx.claim = [seg]
            elif tx.claim and sid not in ("PLB", "LX"):
                tx.claim.append(seg)
            elif sid == "PLB":
                yield from _open_context(tx)
                yield from _close_claim(tx, delimiters)
                yield from _provider_adjustments(tx, seg, delimiters)
            elif sid == "LX":
                yield from _open_context(tx)
                yield from _close_claim(tx, delimiters)
            elif tx.context is None:
                tx.header.append(seg)
            continue
        if sid == "ISA":
            env, isa, gs = _Envelope(interchange_control=seg.get(13)), seg, None
        elif sid == "GS":
            env.group_control, env.version, env.transactions = seg.get(6), seg.get(8), 0
            env.groups += 1
            gs = seg
        elif sid == "ST":
            ordinal += 1
            env.transactions += 1
            if tx is not None:
                yield _problem("transaction", Defect("ST before the previous SE", seg, None, "SE", "ST"), tx)
            if seg.get(1) != "835":
                yield _problem(
                    "transaction",
                    Defect("transaction set is not an 835", seg, 1, "835", seg.get(1)),
                    None,
                    env,
                    seg.get(2),
                )
                tx, skipping = None, True
                continue
            version = seg.get(3) or env.version or ""
            if version not in SUPPORTED_835:
                yield _problem(
                    "transaction",
                    Defect("unsupported 835 version", seg, 3, "005010X221A1 or 004010X091A1", version),
                    None,
                    env,
                    seg.get(2),
                )
                tx, skipping = None, True
                continue
            tx, skipping = (
                _Transaction(st=seg, envelope=env, ordinal=ordinal, totals=(totals or {}).get(ordinal)),
                False,
            )
        elif sid == "SE":
            if tx is not None:
                tx.count += 1
                yield from _finish(tx, seg, delimiters)
            tx, skipping = None, False
        elif sid == "GE":
            if gs is not None and seg.get(2) != gs.get(6):
                mismatch = Defect("GE02 does not match GS06", seg, 2, gs.get(6), seg.get(2))
                yield _problem("interchange", mismatch, None, env)
            if seg.get(1) != str(env.transactions):
                yield _problem(
                    "interchange",
                    Defect("GE01 transaction set count is wrong", seg, 1, str(env.transactions), seg.get(1)),
                    None,
                    env,
                )
            gs = None
        elif sid == "IEA":
            if isa is not None and seg.get(2) != isa.get(13):
                yield _problem(
                    "interchange",
                    Defect("IEA02 does not match ISA13", seg, 2, isa.get(13), seg.get(2)),
                    None,
                    env,
                )
            if seg.get(1) != str(env.groups):
                yield _problem(
                    "interchange",
                    Defect("IEA01 group count is wrong", seg, 1, str(env.groups), seg.get(1)),
                    None,
                    env,
                )
            isa = None
        elif not skipping and sid != "TA1":
            yield _problem(
                "file", Defect(f"segment {sid} outside a transaction set", seg, None, "ST", sid), None, env
            )
    if tx is not None:
        where = last or tx.st
        yield from _open_context(tx)
        yield from _close_claim(tx, delimiters)
        yield _problem(
            "transaction",
            Defect("file ends inside a transaction set (no SE)", where, None, "SE", "end of file"),
            tx,
        )
    elif gs is not None and last is not None:
        yield _problem(
            "interchange",
            Defect("file ends inside a functional group (no GE)", last, None, "GE", "end of file"),
            None,
            env,
        )
    elif isa is not None and last is not None:
        yield _problem(
            "interchange",
            Defect("file ends inside an interchange (no IEA)", last, None, "IEA", "end of file"),
            None,
            env,
        )


def _syntax_problem(exc: X12SyntaxError) -> Problem:
    return Problem(
        "file",
        exc.reason,
        exc.segment_position,
        exc.segment_id,
        exc.element_position,
        exc.expected,
        exc.found,
    )


def parse_835(text: str) -> Iterator[Item]:
    """Read an 835 held in memory (both passes over the same text)."""
    try:
        delimiters, _ = read_delimiters(text)
    except X12SyntaxError as exc:
        yield _syntax_problem(exc)
        return
    totals = scan_totals(segments(text))
    yield from parse_835_segments(segments(text), delimiters, totals)


def parse_835_file(
    path: Path, progress: Callable[[int], None] | None = None, *, native: bool | None = None
) -> Iterator[Item]:
    """Read an 835 file as a stream: memory stays flat however large the file is.

    `progress` is called with the number of bytes read so far, once per chunk of the second pass.
    A file is read by the compiled fast path (`claimline_x12`, services/ingest/native/) when it is
    installed and the file has nothing the fast path is not sure about; anything else (any problem to
    report, unusual envelopes, non-ASCII bytes, ...) is read by the Python parser below, which is the
    reference. Both give the same items. `native=False` forces the Python parser, `native=True`
    requires the compiled module (ImportError without it); `None` uses it when installed, unless
    CLAIMLINE_X12_NATIVE=0.
    """
    if native is None:
        native = NATIVE is not None and os.environ.get("CLAIMLINE_X12_NATIVE", "1") != "0"
    if native:
        if NATIVE is None:
            raise ImportError("claimline_x12 (services/ingest/native) is not installed")
        yield from _parse_835_file_native(path, progress)
    else:
        yield from _parse_835_file_python(path, progress)


def _parse_835_file_python(path: Path, progress: Callable[[int], None] | None = None) -> Iterator[Item]:
    """The reference: both passes in Python over `Segment`s."""
    try:
        with path.open("rb") as first:
            totals = scan_totals(SegmentReader(first))
        with path.open("rb") as second:
            reader = SegmentReader(second)
            last_reported = 0
            for item in parse_835_segments(reader, reader.delimiters, totals):
                if progress is not None and reader.bytes_read != last_reported:
                    last_reported = reader.bytes_read
                    progress(last_reported)
                yield item
    except X12SyntaxError as exc:
        yield _syntax_problem(exc)


# ---------------------------------------------------------------- the compiled fast path
#
# claimline_x12.Scanner reads the file twice, like the Python parser. Pass one checks everything the
# Python parser would check and adds up the balancing totals; it raises `Unsupported` at the first
# thing it is not sure about, and then the whole file goes to the Python parser. Pass one also hands
# over each transaction's header segments, from which `_context` (the Python code) builds the
# remittance context. Pass two builds the items itself, the same items the Python parser yields
# (RemitLine with RemitClaim, RemitServiceLine, LineBrief, Adjustment, PersonRef, Imbalance;
# ProviderAdjustment; RemittanceRead), as `model_construct` would: every value was checked natively.
# tests/unit/test_remit835_native.py and tests/corpus/test_corpus_835.py compare the two paths
# item by item (model_dump and fields set).


class _Fallback(Exception):
    """The fast path cannot vouch for this file."""


def _native_delimiters(path: Path) -> tuple[Delimiters, int]:
    """The delimiters, read from ISA as `SegmentReader` does, and the byte offset where ISA starts."""
    with path.open("rb") as handle:
        head = handle.read(1 << 16)
    bom = len(UTF8_BOM) if head.startswith(UTF8_BOM) else 0
    head = head[bom:]
    if not head.isascii():
        raise _Fallback
    try:
        _refuse_binary(head)
        delimiters, start = read_delimiters(head.decode("ascii"))
    except X12SyntaxError:
        raise _Fallback from None
    return delimiters, bom + start


def _native_scanner(
    path: Path,
    delimiters: Delimiters,
    start: int,
    emit: bool,
    kit: tuple[object, ...] | None = None,
    tables: bool = False,
    check_claims: bool = True,
) -> _NativeScanner:
    d = delimiters
    scanner: _NativeScanner = _module().Scanner(
        str(path), d.element, d.component, d.segment, start, emit, kit, tables, check_claims
    )
    return scanner


def _native_contexts(
    path: Path, delimiters: Delimiters, start: int, check_claims: bool = True
) -> dict[int, RemitContext]:
    """Pass one: the context of every transaction set, or `_Fallback`.

    `check_claims=False` skips checking the claims (only what the totals need is read): for tables,
    whose pass two checks every claim as it goes.
    """
    contexts: dict[int, RemitContext] = {}
    for batch in _native_scanner(path, delimiters, start, emit=False, check_claims=check_claims):
        for ordinal, st, isa13, gs06, gs08, header, bpr02, paid, plb, claims, lines in batch:
            st_segment = Segment(0, st[0], tuple(st[1:]))
            envelope = _Envelope(interchange_control=isa13, group_control=gs06, version=gs08)
            totals = TransactionTotals(
                ordinal,
                st_segment.get(2),
                _number(bpr02) if bpr02 is not None else None,
                Decimal(paid),
                Decimal(plb),
                claims,
                lines,
            )
            tx = _Transaction(st=st_segment, envelope=envelope, ordinal=ordinal, totals=totals)
            tx.header = [Segment(0, seg[0], tuple(seg[1:])) for seg in header]
            try:
                context = _context(tx)
            except (Defect, ValidationError):
                raise _Fallback from None
            if tx.warnings:
                raise _Fallback
            contexts[ordinal] = context
    return contexts


def _module() -> ModuleType:
    if NATIVE is None:
        raise ImportError("claimline_x12 (services/ingest/native) is not installed")
    return NATIVE


def _parse_835_file_native(path: Path, progress: Callable[[int], None] | None) -> Iterator[Item]:
    native = _module()
    try:
        delimiters, start = _native_delimiters(path)
        contexts = _native_contexts(path, delimiters, start)
    except (_Fallback, native.Unsupported):
        yield from _parse_835_file_python(path, progress)
        return
    yielded = 0
    scanner = _native_scanner(path, delimiters, start, emit=True, kit=_native_kit(contexts))
    last_reported = 0
    try:
        while True:
            # Building a batch allocates thousands of small containers that all outlive it, which
            # only makes the cyclic collector run again and again over them (about 40% of the time);
            # it is paused while a batch is built, never while the consumer runs.
            paused = gc.isenabled()
            gc.disable()
            try:
                batch: list[Item] | None = next(scanner, None)
            finally:
                if paused:
                    gc.enable()
            if batch is None:
                break
            if progress is not None and scanner.bytes_read != last_reported:
                last_reported = scanner.bytes_read
                progress(last_reported)
            for item in batch:
                yielded += 1
                yield item
    except native.Unsupported:
        # Pass two disagrees with pass one (the file changed between the passes): whatever the
        # Python parser now reads after the items already given is what follows.
        yield from itertools.islice(_parse_835_file_python(path, progress), yielded, None)


@dataclass(frozen=True)
class RemitTables:
    """A well-formed 835 as tables: the transactions' contexts, and batches of columns.

    `batches` yields `claimline_x12.Tables`: `services` (one row per SVC), `claims`, `adjustments`
    (CAS triplets; `service` is None for claim-level ones), `extras` (the other AMT/QTY/REF),
    `provider_adjustments` (PLB pairs) and `transactions` (one row per SE, in the batch it ends in).
    A batch holds whole claims, about 16,384 service lines at most, so memory stays flat. Rows carry
    the transaction's ordinal, the key of `contexts` (payer, payee, trace, payment, balancing).
    The values are the service's: `Table.column(name)` gives the same codes, `Decimal`s and dates
    as the `RemitLine` items of `parse_835_file`, and `Table.buffers(name)` the raw buffers.
    """

    contexts: dict[int, RemitContext]
    batches: Iterator[Any]


def read_835_tables(path: Path) -> RemitTables | None:
    """Read an 835 into tables with the compiled reader: no Python object per line or value.

    Pass one reads the envelopes, headers and totals (the contexts); pass two checks and reads every
    claim into the tables as it goes. None when the compiled reader is not installed or cannot vouch
    for the envelopes and headers; iterating `batches` raises `claimline_x12.Unsupported` at the first
    claim it cannot vouch for (a problem to report, ...). Either way the file is one for
    `parse_835_file`, which reports exactly what is wrong and where; what `batches` gave before is
    to be dropped (see `summarize_835` in claimline/summary.py).
    """
    if NATIVE is None:
        return None
    try:
        delimiters, start = _native_delimiters(path)
        contexts = _native_contexts(path, delimiters, start, check_claims=False)
    except (_Fallback, NATIVE.Unsupported):
        return None
    scanner = _native_scanner(path, delimiters, start, emit=True, tables=True)
    return RemitTables(contexts, (tables for batch in scanner for tables in batch))


_LINE_FIELDS = set(RemitServiceLine.model_fields)
_BRIEF_FIELDS = set(LineBrief.model_fields)
_ADJUSTMENT_FIELDS = set(Adjustment.model_fields)
_PERSON_FIELDS = set(PersonRef.model_fields)
_IMBALANCE_FIELDS = set(Imbalance.model_fields)


def _native_kit(contexts: dict[int, RemitContext]) -> tuple[object, ...]:
    """What pass two needs to build the items itself (see `Kit` in services/ingest/native/src/lib.rs).

    The models are made as `model_construct` makes them (every value was checked natively, the
    contexts are validated models), with the fields set the Python parser's validated models have.
    The fields sets of a model with every field passed are shared by its instances: pydantic never
    changes the set of a frozen model in place (`model_copy` copies it before adding to it).
    """
    return (
        contexts,
        RemitServiceLine,
        LineBrief,
        Adjustment,
        Imbalance,
        PersonRef,
        RemitClaim,
        RemitLine,
        ProviderAdjustment,
        RemittanceRead,
        Decimal,
        date,
        _LINE_FIELDS,
        _BRIEF_FIELDS,
        _ADJUSTMENT_FIELDS,
        _PERSON_FIELDS,
        _IMBALANCE_FIELDS,
        Decimal(1),
        object.__new__,
    )
