"""Acknowledgments of submitted claims: 999 (005010X231A1) and 277CA (005010X214).

`parse_999` yields one `AckResult` per AK2 transaction set response (or one for the whole group when
the 999 has no AK2), with its IK3/IK4 errors and the AK9 group result. `parse_277ca` yields one
`ClaimAck` per 2200D claim status with its 2220D service line echoes. Both yield `Problem`s in file
order; one unreadable response or claim status never sinks the others.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from services.ingest.domain.claim837 import (
    Procedure,
    TransactionSet,
    amount,
    bad_segment_id,
    ccyymmdd,
    check_segment_id,
    period_start,
    procedure,
    transaction_sets,
    valid_segment_id,
)
from services.ingest.domain.x12 import Defect, Delimiters, Problem, Segment
from shared.schemas import PersonRef

SUPPORTED_999 = ("005010X231A1", "005010X231")
SUPPORTED_277CA = ("005010X214",)

ACCEPTING_CODES = ("A", "E")
"""IK501/AK901: A accepted, E accepted with errors noted. M, R, W, X reject; P (AK901) is partial."""

CATEGORY_MEANINGS = {
    "A0": "forwarded to another entity",
    "A1": "received, not yet accepted for adjudication",
    "A2": "accepted into the adjudication system",
    "A3": "returned as unprocessable",
    "A4": "not found",
    "A5": "split by the payer",
    "A6": "rejected for missing information",
    "A7": "rejected for invalid information",
    "A8": "rejected for a relational field in error",
    "E0": "response not possible: error on the submitted request",
    "E1": "response not possible: system status",
    "E2": "response not possible: cannot match the request",
    "E3": "response not possible: error on the response",
    "E4": "response not possible: trading partner not recognized",
}
ACCEPTED_CATEGORIES = ("A0", "A1", "A2", "A5")
REJECTED_CATEGORIES = ("A3", "A4", "A6", "A7", "A8", "E0", "E1", "E2", "E3", "E4")


# ---------------------------------------------------------------- 999

SEGMENT_ERRORS = {
    "1": "segment id not recognised",
    "2": "segment not expected here",
    "3": "required segment missing",
    "4": "loop repeated more often than allowed",
    "5": "segment repeated more often than allowed",
    "6": "segment not defined for this transaction set",
    "7": "segment out of order",
    "8": "segment has element errors",
    "I4": "segment the guide does not use is present",
    "I6": "segment the guide requires in this situation is missing",
    "I7": "loop occurs fewer times than the guide requires",
    "I8": "segment occurs fewer times than the guide requires",
    "I9": "segment the guide does not use in this situation is present",
}
"""IK304, in plain words."""

ELEMENT_ERRORS = {
    "1": "required element missing",
    "2": "conditionally required element missing",
    "3": "too many elements",
    "4": "value too short",
    "5": "value too long",
    "6": "invalid character",
    "7": "invalid code value",
    "8": "invalid date",
    "9": "invalid time",
    "10": "element present although another element excludes it",
    "12": "too many repetitions",
    "13": "too many components",
    "I6": "code value the guide does not use",
    "I9": "element the guide requires in this situation is missing",
    "I10": "element the guide does not use is present",
    "I11": "too few repetitions",
    "I12": "value does not match the pattern the guide requires",
    "I13": "element the guide does not use in this situation is present",
}
"""IK403, in plain words."""


@dataclass(frozen=True)
class ElementError:
    """IK4: one element of the acknowledged segment that was wrong."""

    position: int
    component_position: int | None
    data_element: str | None
    error_code: str
    bad_value: str | None

    @property
    def plain(self) -> str:
        where = f"element {self.position}" + (
            f"-{self.component_position}" if self.component_position else ""
        )
        meaning = ELEMENT_ERRORS.get(self.error_code, f"error code {self.error_code}")
        return f"{where}: {meaning}" + (f" ({self.bad_value!r})" if self.bad_value else "")


@dataclass(frozen=True)
class SegmentError:
    """IK3: one segment of the acknowledged transaction set that was wrong, with its IK4 elements."""

    segment_id: str
    position: int
    loop_id: str | None
    error_code: str | None
    claim_id: str | None = None
    trigger_segment_id: str | None = None
    trigger_position: int | None = None
    elements: tuple[ElementError, ...] = ()

    @property
    def plain(self) -> str:
        """E.g. "CLM at segment 22 of claim PCN-1: segment has element errors; element 2: invalid date"."""
        meaning = SEGMENT_ERRORS.get(self.error_code or "", f"error code {self.error_code or '(none)'}")
        claim = f" of claim {self.claim_id}" if self.claim_id else ""
        return "; ".join(
            [
                f"{self.segment_id} at segment {self.position}{claim}: {meaning}",
                *(e.plain for e in self.elements),
            ]
        )


@dataclass(frozen=True)
class GroupAck:
    """AK1 and AK9: the functional group acknowledged and its overall result."""

    functional_id: str | None
    group_control: str | None
    version: str | None
    code: str | None
    transactions_included: int | None
    transactions_received: int | None
    transactions_accepted: int | None
    errors: tuple[str, ...] = ()

    @property
    def accepted(self) -> bool:
        """Every transaction set of the group was taken in (perhaps with errors noted)."""
        return self.code in ACCEPTING_CODES


@dataclass(frozen=True)
class AckResult:
    """The 999's verdict on one acknowledged transaction set (AK2..IK5)."""

    interchange_control: str | None
    transaction_control: str
    group: GroupAck
    transaction_set_id: str | None
    transaction_set_control: str | None
    implementation_reference: str | None
    code: str | None
    syntax_errors: tuple[str, ...] = ()
    segment_errors: tuple[SegmentError, ...] = ()

    @property
    def accepted(self) -> bool:
        """The receiver took this transaction set in (accepted, or accepted with errors noted).

        M, R, W and X mean it was rejected and none of its claims will be adjudicated. A result for a
        whole group without AK2 follows the group's AK9."""
        if self.transaction_set_control is None:
            return self.group.accepted
        return self.code in ACCEPTING_CODES

    @property
    def claim_ids(self) -> tuple[str, ...]:
        """CLM01 of the claims the segment errors name (CTX*CLM01), in order, once each."""
        return tuple(dict.fromkeys(e.claim_id for e in self.segment_errors if e.claim_id))


def _integer(segment: Segment, index: int, *, required: bool) -> int | None:
    raw = segment.get(index)
    if raw == "":
        if required:
            raise Defect(f"{segment.id}{index:02d} is required", segment, index, "a number", "(empty)")
        return None
    if not raw.isdigit():
        raise Defect(f"{segment.id}{index:02d} is not a whole number", segment, index, "a number", raw)
    return int(raw)


@dataclass
class _SegmentErrorBuilder:
    ik3: Segment
    claim_id: str | None = None
    trigger: Segment | None = None
    elements: list[ElementError] = field(default_factory=list)

    def context(self, ctx: Segment, delimiters: Delimiters) -> None:
        name, _, reference = ctx.get(1).partition(delimiters.component)
        if name == "CLM01" and reference:
            self.claim_id = reference
        elif ctx.get(1) == "SITUATIONAL TRIGGER":
            self.trigger = ctx

    def element(self, ik4: Segment, delimiters: Delimiters) -> None:
        where = ik4.get(1).split(delimiters.component)
        if not where[0].isdigit():
            raise Defect(
                "IK401 element position is not a number", ik4, 1, "a number", ik4.get(1) or "(empty)"
            )
        component = where[1] if len(where) > 1 else ""
        if component and not component.isdigit():
            raise Defect("IK401-2 component position is not a number", ik4, 1, "a number", ik4.get(1))
        if not ik4.get(3):
            raise Defect("IK403 element error code is required", ik4, 3, "an error code", "(empty)")
        self.elements.append(
            ElementError(
                position=int(where[0]),
                component_position=int(component) if component else None,
                data_element=ik4.get(2) or None,
                error_code=ik4.get(3),
                bad_value=ik4.get(4) or None,
            )
        )

    def build(self) -> SegmentError:
        ik3 = self.ik3
        if not ik3.get(1):
            raise Defect("IK301 segment id is required", ik3, 1, "a segment id", "(empty)")
        position = _integer(ik3, 2, required=True)
        assert position is not None
        trigger_position = _integer(self.trigger, 3, required=False) if self.trigger else None
        return SegmentError(
            segment_id=ik3.get(1),
            position=position,
            loop_id=ik3.get(3) or None,
            error_code=ik3.get(4) or None,
            claim_id=self.claim_id,
            trigger_segment_id=(self.trigger.get(2) or None) if self.trigger else None,
            trigger_position=trigger_position,
            elements=tuple(self.elements),
        )


@dataclass
class _ResponseBuilder:
    ak2: Segment
    ik5: Segment | None = None
    errors: list[_SegmentErrorBuilder] = field(default_factory=list)
    defects: list[Defect] = field(default_factory=list)

    def add(self, seg: Segment, delimiters: Delimiters) -> None:
        if seg.id == "IK3":
            self.errors.append(_SegmentErrorBuilder(seg))
        elif seg.id == "IK4":
            if not self.errors:
                raise Defect("IK4 without an IK3 before it", seg, None, "IK3", "IK4")
            self.errors[-1].element(seg, delimiters)
        elif seg.id == "CTX" and self.errors:
            self.errors[-1].context(seg, delimiters)
        elif seg.id == "IK5":
            if not seg.get(1):
                raise Defect("IK501 acknowledgment code is required", seg, 1, "A, E, M, R, W or X", "(empty)")
            self.ik5 = seg

    def build(self, tx: TransactionSet, group: GroupAck) -> AckResult:
        ak2 = self.ak2
        if not ak2.get(2):
            raise Defect(
                "AK202 transaction set control number is required", ak2, 2, "a control number", "(empty)"
            )
        if self.ik5 is None:
            raise Defect("AK2 response has no IK5", ak2, None, "IK5", "(missing)")
        return AckResult(
            interchange_control=tx.interchange_control,
            transaction_control=tx.control,
            group=group,
            transaction_set_id=ak2.get(1) or None,
            transaction_set_control=ak2.get(2),
            implementation_reference=ak2.get(3) or None,
            code=self.ik5.get(1),
            syntax_errors=tuple(e for e in self.ik5.elements[1:6] if e),
            segment_errors=tuple(e.build() for e in self.errors),
        )


def _group(ak1: Segment, ak9: Segment | None) -> GroupAck:
    return GroupAck(
        functional_id=ak1.get(1) or None,
        group_control=ak1.get(2) or None,
        version=ak1.get(3) or None,
        code=(ak9.get(1) or None) if ak9 else None,
        transactions_included=_integer(ak9, 2, required=False) if ak9 else None,
        transactions_received=_integer(ak9, 3, required=False) if ak9 else None,
        transactions_accepted=_integer(ak9, 4, required=False) if ak9 else None,
        errors=tuple(e for e in ak9.elements[4:9] if e) if ak9 else (),
    )


def _read_999(tx: TransactionSet) -> Iterator[AckResult | Problem]:
    ak1: Segment | None = None
    ak9: Segment | None = None
    responses: list[_ResponseBuilder] = []
    for seg in tx.body:
        try:
            check_segment_id(seg)
            if seg.id == "AK1":
                if ak1 is not None:
                    raise Defect("second AK1 in one 999", seg, None, "one AK1", "AK1")
                ak1 = seg
            elif seg.id == "AK9":
                ak9 = seg
            elif seg.id == "AK2":
                responses.append(_ResponseBuilder(seg))
            elif responses:
                responses[-1].add(seg, tx.delimiters)
        except Defect as defect:
            if responses and seg.id != "AK1":
                responses[-1].defects.append(defect)
            else:
                yield tx.problem("transaction", defect)
    if ak1 is None:
        yield tx.problem(
            "transaction", Defect("999 has no AK1 group response", tx.st, None, "AK1", "(missing)")
        )
        return
    try:
        group = _group(ak1, ak9)
    except Defect as defect:
        yield tx.problem("transaction", defect)
        group = _group(ak1, None)
    if ak9 is None:
        yield tx.problem(
            "transaction", Defect("AK1 group response has no AK9", ak1, None, "AK9", "(missing)")
        )
    if not responses:
        yield AckResult(tx.interchange_control, tx.control, group, None, None, None, None)
    for response in responses:
        if response.defects:
            yield from (tx.problem("transaction", d) for d in response.defects)
            continue
        try:
            yield response.build(tx, group)
        except Defect as defect:
            yield tx.problem("transaction", defect)


def parse_999(text: str) -> Iterator[AckResult | Problem]:
    """Read every 999 of an X12 text; yield one result per acknowledged transaction set, and problems."""
    for item in transaction_sets(text):
        if isinstance(item, Problem):
            yield item
        elif item.st.get(1) != "999":
            yield item.type_problem("999")
        elif item.version not in SUPPORTED_999:
            yield item.version_problem("unsupported 999 version", " or ".join(SUPPORTED_999))
        else:
            yield from _read_999(item)
            yield from item.trailer_problems


# ---------------------------------------------------------------- 277CA


@dataclass(frozen=True)
class Status:
    """One STC status composite: category, status code and the entity it is about."""

    category: str
    code: str | None
    entity: str | None
    effective_date: date | None
    action: str | None = None

    @property
    def meaning(self) -> str:
        return CATEGORY_MEANINGS.get(self.category, f"status category {self.category}")

    @property
    def rejected(self) -> bool:
        return self.category in REJECTED_CATEGORIES


@dataclass(frozen=True)
class LineAck:
    """2220D: the service line as the payer echoes it, with its own status."""

    qualifier: str
    procedure_code: str
    modifiers: tuple[str, ...]
    charge: Decimal
    units: Decimal | None
    statuses: tuple[Status, ...]
    line_control_number: str | None
    service_date: date | None

    @property
    def accepted(self) -> bool:
        return _accepted(self.statuses)


@dataclass(frozen=True)
class ClaimAck:
    """2200D: what the payer or clearinghouse says about one submitted claim."""

    interchange_control: str | None
    group_control: str | None
    transaction_control: str
    segment_position: int
    claim_id: str
    payer_claim_control_number: str | None
    payer_name: str | None
    payer_id: str | None
    billing_npi: str | None
    patient: PersonRef
    statuses: tuple[Status, ...]
    total_charge: Decimal | None
    service_date: date | None
    other_refs: Mapping[str, str] = field(default_factory=dict)
    lines: tuple[LineAck, ...] = ()

    @property
    def category(self) -> str:
        return self.statuses[0].category

    @property
    def accepted(self) -> bool:
        """The claim got in: it was received (A1), accepted (A2), forwarded (A0) or split (A5), and no
        status says it was returned as unprocessable, not found or rejected (A3, A4, A6-A8, E0-E4)."""
        return _accepted(self.statuses)

    @property
    def rejected(self) -> bool:
        """Some status says the claim was returned, not found or rejected: it must be fixed and resent."""
        return any(s.rejected for s in self.statuses)


def _accepted(statuses: tuple[Status, ...]) -> bool:
    return any(s.category in ACCEPTED_CATEGORIES for s in statuses) and not any(s.rejected for s in statuses)


def _statuses(stc: Segment, delimiters: Delimiters) -> list[Status]:
    effective = ccyymmdd(stc, 2)
    action = stc.get(3) or None
    found: list[Status] = []
    for index in (1, 10, 11):
        value = stc.get(index)
        if value == "" and index != 1:
            continue
        parts = value.split(delimiters.component)
        if not parts[0]:
            raise Defect(
                f"STC{index:02d}-1 status category is required",
                stc,
                index,
                f"category{delimiters.component}status{delimiters.component}entity",
                value or "(empty)",
            )
        found.append(
            Status(
                category=parts[0],
                code=(parts[1] or None) if len(parts) > 1 else None,
                entity=(parts[2] or None) if len(parts) > 2 else None,
                effective_date=effective,
                action=action,
            )
        )
    return found


@dataclass
class _LineBuilder:
    svc: Segment
    procedure: Procedure
    charge: Decimal
    units: Decimal | None
    statuses: list[Status] = field(default_factory=list)
    control: str | None = None
    service_date: date | None = None

    def build(self) -> LineAck:
        return LineAck(
            qualifier=self.procedure.qualifier,
            procedure_code=self.procedure.code,
            modifiers=self.procedure.modifiers,
            charge=self.charge,
            units=self.units,
            statuses=tuple(self.statuses),
            line_control_number=self.control,
            service_date=self.service_date,
        )


@dataclass
class _Party:
    payer_name: str | None = None
    payer_id: str | None = None
    billing_npi: str | None = None
    patient: PersonRef = field(default_factory=PersonRef)


@dataclass
class _ClaimBuilder:
    trn: Segment
    party: _Party
    statuses: list[Status] = field(default_factory=list)
    total_charge: Decimal | None = None
    refs: dict[str, str] = field(default_factory=dict)
    service_date: date | None = None
    lines: list[_LineBuilder] = field(default_factory=list)
    defects: list[Defect] = field(default_factory=list)
    line_broken: bool = False

    def add(self, seg: Segment, delimiters: Delimiters) -> None:
        check_segment_id(seg)
        if seg.id == "SVC":
            self.line_broken = True
            svc = procedure(seg, 1, delimiters)
            charge = amount(seg, 2)
            assert charge is not None
            self.lines.append(_LineBuilder(seg, svc, charge, amount(seg, 7, required=False)))
            self.line_broken = False
        elif self.line_broken:
            return
        elif self.lines:
            line = self.lines[-1]
            if seg.id == "STC":
                line.statuses.extend(_statuses(seg, delimiters))
            elif seg.id == "REF" and seg.get(1) == "FJ":
                line.control = seg.get(2) or None
            elif seg.id == "DTP" and seg.get(1) == "472":
                line.service_date = period_start(seg, 2)
        elif seg.id == "STC":
            if self.total_charge is None:
                self.total_charge = amount(seg, 4, required=False)
            self.statuses.extend(_statuses(seg, delimiters))
        elif seg.id == "REF" and seg.get(1):
            self.refs.setdefault(seg.get(1), seg.get(2))
        elif seg.id == "DTP" and seg.get(1) == "472":
            self.service_date = period_start(seg, 2)

    def build(self, tx: TransactionSet) -> ClaimAck:
        if not self.trn.get(2):
            raise Defect(
                "TRN02 claim identifier is required", self.trn, 2, "the CLM01 of the claim", "(empty)"
            )
        if not self.statuses:
            raise Defect("claim status has no STC", self.trn, None, "STC after TRN", "(missing)")
        return ClaimAck(
            interchange_control=tx.interchange_control,
            group_control=tx.group_control,
            transaction_control=tx.control,
            segment_position=self.trn.position,
            claim_id=self.trn.get(2),
            payer_claim_control_number=self.refs.get("1K") or None,
            payer_name=self.party.payer_name,
            payer_id=self.party.payer_id,
            billing_npi=self.party.billing_npi,
            patient=self.party.patient,
            statuses=tuple(self.statuses),
            total_charge=self.total_charge,
            service_date=self.service_date,
            other_refs=dict(self.refs),
            lines=tuple(line.build() for line in self.lines),
        )


CLAIM_LEVELS = ("PT", "22", "23")
"""HL03 of the loops that carry claim statuses: PT (2000D patient) in X214; 22/23 read the same way."""


def _finish(claim: _ClaimBuilder | None, tx: TransactionSet) -> Iterator[ClaimAck | Problem]:
    if claim is None:
        return
    if claim.defects:
        yield from (tx.problem("claim", d) for d in claim.defects)
        return
    try:
        yield claim.build(tx)
    except Defect as defect:
        yield tx.problem("claim", defect)


def _read_277ca(tx: TransactionSet) -> Iterator[ClaimAck | Problem]:
    party = _Party()
    level = ""
    claim: _ClaimBuilder | None = None
    for seg in tx.body:
        if seg.id == "HL" or (seg.id == "TRN" and level in CLAIM_LEVELS):
            yield from _finish(claim, tx)
            claim = None
            if seg.id == "HL":
                level = seg.get(3)
                if level in CLAIM_LEVELS:
                    party = _Party(party.payer_name, party.payer_id, party.billing_npi)
                elif level == "19":
                    party = _Party(party.payer_name, party.payer_id)
                elif level == "20":
                    party = _Party()
            elif seg.get(1) == "2":
                claim = _ClaimBuilder(seg, party)
            continue
        if claim is not None:
            try:
                claim.add(seg, tx.delimiters)
            except Defect as defect:
                claim.defects.append(defect)
        elif not valid_segment_id(seg):
            yield tx.problem("transaction", bad_segment_id(seg))
        elif seg.id == "NM1":
            entity = seg.get(1)
            if level == "20" and entity in ("PR", "AY"):
                party.payer_name, party.payer_id = seg.get(3) or None, seg.get(9) or None
            elif level == "19" and entity == "85" and seg.get(8) == "XX":
                party.billing_npi = seg.get(9) or None
            elif level in CLAIM_LEVELS and entity in ("QC", "IL"):
                party.patient = PersonRef(
                    last_name=seg.get(3) or None, first_name=seg.get(4) or None, member_id=seg.get(9) or None
                )
    yield from _finish(claim, tx)


def parse_277ca(text: str) -> Iterator[ClaimAck | Problem]:
    """Read every 277CA of an X12 text; yield one acknowledgment per claim, and problems, in file order.

    Only 2200D claim statuses become `ClaimAck`s; the receiver (2200B) and provider (2200C) summaries
    are not reported."""
    for item in transaction_sets(text):
        if isinstance(item, Problem):
            yield item
        elif item.st.get(1) != "277":
            yield item.type_problem("277")
        elif item.version not in SUPPORTED_277CA:
            yield item.version_problem(
                "unsupported 277 version: only 277CA claim acknowledgments are read", "005010X214"
            )
        else:
            yield from _read_277ca(item)
            yield from item.trailer_problems
