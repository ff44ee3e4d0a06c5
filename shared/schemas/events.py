"""Event contracts: the only thing the services share about each other."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from shared.schemas.envelope import (
    Carc,
    Contract,
    Envelope,
    Modifier,
    Money,
    Npi,
    ProcedureCode,
    Rarc,
)

GroupCode = Literal["CO", "PR", "OA", "PI", "CR"]


# ---------------------------------------------------------------- remittance (835)


class Adjustment(Contract):
    """One CAS triplet: group code, reason code (CARC), amount and optional quantity."""

    group: GroupCode
    reason: Carc
    amount: Money
    quantity: Money | None = None


class PersonRef(Contract):
    """Patient or insured as the payer reports them. Patient data: never logged."""

    last_name: str | None = None
    first_name: str | None = None
    member_id: str | None = None


class Imbalance(Contract):
    """Where a remittance does not add up: at which level, what was expected and what was found."""

    level: Literal["line", "claim", "transaction"]
    rule: str
    expected: Money
    found: Money

    @property
    def difference(self) -> Decimal:
        return self.found - self.expected


class RemitContext(Contract):
    """The remittance (one 835 transaction set) a line came in."""

    interchange_control: str | None = None
    group_control: str | None = None
    transaction_control: str
    transaction_ordinal: int = Field(1, ge=1, description="position of the transaction set in its file")
    version: str | None = None
    production_date: date | None = None
    payer_refs: dict[str, str] = Field(default_factory=dict)
    payee_refs: dict[str, str] = Field(default_factory=dict)
    imbalance: Imbalance | None = None
    payer_name: str | None = None
    payer_id: str | None = None
    payee_name: str | None = None
    payee_npi: str | None = None
    payee_tin: str | None = None
    trace_number: str | None = None
    payment_amount: Money
    payment_method: str | None = None
    payment_date: date | None = None
    credit_debit: str | None = None
    handling_code: str | None = None


class LineBrief(Contract):
    """A sibling line of the same claim, as much as pricing and coding rules need to see of it."""

    line_number: int = Field(ge=1)
    procedure_code: ProcedureCode
    modifiers: tuple[Modifier, ...] = ()
    units: Money | None = None
    charge: Money
    paid: Money
    service_date: date | None = None


class RemitClaim(Contract):
    """The CLP claim a line belongs to."""

    patient_control_number: str
    status_code: str
    charge: Money
    paid: Money
    patient_responsibility: Money | None = None
    payer_claim_control_number: str | None = None
    filing_indicator: str | None = None
    patient: PersonRef = PersonRef()
    insured: PersonRef | None = None
    corrected_patient: PersonRef | None = None
    rendering_npi: str | None = None
    rendering_name: str | None = None
    facility_code: str | None = None
    frequency_code: str | None = None
    statement_from: date | None = None
    statement_to: date | None = None
    received_date: date | None = None
    remarks: tuple[Rarc, ...] = Field(default=(), description="claim-level remarks from MOA/MIA")
    amounts: dict[str, Money] = Field(default_factory=dict, description="AMT qualifier to amount")
    quantities: dict[str, Money] = Field(default_factory=dict, description="QTY qualifier to quantity")
    refs: dict[str, str] = Field(default_factory=dict, description="REF qualifier to value")
    adjustments: tuple[Adjustment, ...] = ()
    imbalance: Imbalance | None = None
    lines: tuple[LineBrief, ...] = Field(default=(), description="every service line of the claim, in order")
    follows_reversal: bool = Field(
        False, description="a corrected claim right after the reversal of the same claim in this remittance"
    )


class RemitServiceLine(Contract):
    """One SVC service line as adjudicated."""

    line_number: int = Field(ge=1)
    qualifier: str = "HC"
    procedure_code: ProcedureCode
    modifiers: tuple[Modifier, ...] = ()
    submitted_procedure_code: ProcedureCode | None = None
    submitted_modifiers: tuple[Modifier, ...] = ()
    charge: Money
    paid: Money
    units_billed: Money | None = None
    units_paid: Money | None = None
    service_date: date | None = None
    service_date_end: date | None = None
    line_control_number: str | None = None
    allowed: Money | None = None
    amounts: dict[str, Money] = Field(default_factory=dict, description="AMT qualifier to amount")
    refs: dict[str, str] = Field(default_factory=dict, description="REF qualifier to value")
    adjustments: tuple[Adjustment, ...] = ()
    remarks: tuple[Rarc, ...] = ()
    imbalance: Imbalance | None = None


class LineMatch(Contract):
    """Which submitted (837P) line an adjudicated line pays, and how that was decided."""

    status: Literal["matched", "unmatched", "claim_not_on_file"]
    by: Literal["line_control_number", "code_date_units", "code_date"] | None = None
    submitted_line_number: int | None = None
    submitted_procedure_code: ProcedureCode | None = None
    submitted_modifiers: tuple[Modifier, ...] = ()
    submitted_units: Money | None = None
    submitted_charge: Money | None = None


class RemitLineReceived(Envelope):
    """An adjudicated 835 service line with its claim and remittance context.

    `posting` is "hold" when the remittance does not balance at any level: such a line is worked as a
    balancing exception, never auto-posted.
    """

    event_type: Literal["remit.line"] = "remit.line"
    schema_version: Literal[1] = 1
    file_id: str
    remittance: RemitContext
    claim: RemitClaim
    line: RemitServiceLine
    claim_ordinal: int = Field(1, ge=1)
    posting: Literal["auto", "hold"] = "auto"
    match: LineMatch | None = None


class ProviderAdjustmentReceived(Envelope):
    """One PLB adjustment (recoupment, interest, forwarding balance), linked to a claim when it names one."""

    event_type: Literal["remit.provider_adjustment"] = "remit.provider_adjustment"
    schema_version: Literal[1] = 1
    file_id: str
    remittance: RemitContext
    provider_id: str
    fiscal_period_date: date | None = None
    reason_code: str
    reference: str | None = None
    amount: Money
    ordinal: int = Field(ge=1, description="position of this adjustment among the transaction's PLB pairs")


# ---------------------------------------------------------------- practice registry


class PracticeRegistered(Envelope):
    """A practice and the identifiers that route remittances and claims to it (latest state wins)."""

    event_type: Literal["practices.registered"] = "practices.registered"
    schema_version: Literal[1] = 1
    name: str
    active: bool = True
    payee_npis: tuple[Npi, ...] = ()
    payee_tins: tuple[Annotated[str, StringConstraints(pattern=r"^[0-9]{9}$")], ...] = ()
    rendering_npis: tuple[Npi, ...] = ()
    revision: int = Field(ge=0, description="grows with every change, so a late older event changes nothing")


# ---------------------------------------------------------------- files


class FileIngested(Envelope):
    """What became of one received file. `practice_id` is the practice with most lines (or unassigned);
    `practices` lists every practice the file touched."""

    event_type: Literal["ingest.file"] = "ingest.file"
    schema_version: Literal[1] = 1
    file_id: str = Field(pattern=r"^[0-9a-f]{64}$")
    file_name: str
    kind: str | None = None
    source: str
    submitted_by: str | None = None
    duplicate: bool
    lines: int = Field(ge=0)
    held_lines: int = Field(ge=0)
    provider_adjustments: int = Field(ge=0)
    rejections: int = Field(ge=0)
    duplicate_remittances: int = Field(ge=0)
    practices: dict[str, int] = Field(default_factory=dict)


# ---------------------------------------------------------------- ingest rejections


class RejectionLocation(Contract):
    """Where in a file a problem sits. Positions are 1-based, counted in the file as received."""

    interchange_control: str | None = None
    group_control: str | None = None
    transaction_control: str | None = None
    segment_position: int | None = None
    segment_id: str | None = None
    element_position: int | None = None


class IngestRejection(Envelope):
    """A file, transaction or claim that could not be read, with what was expected and found."""

    event_type: Literal["ingest.rejection"] = "ingest.rejection"
    schema_version: Literal[1] = 1
    file_id: str
    file_name: str
    scope: Literal["file", "interchange", "transaction", "claim"]
    file_kind: str | None = None
    reason: str
    expected: str | None = None
    found: str | None = None
    location: RejectionLocation = RejectionLocation()


# ---------------------------------------------------------------- denials


class LineCategory(StrEnum):
    PAID_IN_FULL = "paid_in_full"
    PAID_CONTRACTUAL = "paid_with_contractual_adjustment"
    PATIENT_RESPONSIBILITY = "patient_responsibility"
    DENIED = "denied"
    PARTIALLY_DENIED = "partially_denied"
    REVERSED = "reversed"
    UNDERPAID = "underpaid"
    NEEDS_REVIEW = "needs_review"


class TranslatedCode(Contract):
    """A code on a line in plain English; `official` is the X12 wording when the customer imported it."""

    kind: Literal["group", "carc", "rarc"]
    code: str
    known: bool
    meaning: str
    action: str | None = None
    official: str | None = None
    stop_date: date | None = None
    used_after_stop: bool = False


class LineDecision(Envelope):
    """What an adjudicated line means for the billing company, and where it goes to be worked."""

    event_type: Literal["denials.decision"] = "denials.decision"
    schema_version: Literal[1] = 1
    source_event_id: uuid.UUID
    file_id: str
    payer_name: str | None = None
    payer_id: str | None = None
    trace_number: str | None = None
    payment_date: date | None = None
    payment_amount: Money | None = Field(None, description="BPR02 of the remittance the line came in")
    patient_control_number: str
    payer_claim_control_number: str | None = None
    claim_status_code: str
    patient: PersonRef = PersonRef()
    line_number: int = Field(ge=1)
    procedure_code: ProcedureCode
    modifiers: tuple[Modifier, ...] = ()
    submitted_procedure_code: ProcedureCode | None = None
    submitted_modifiers: tuple[Modifier, ...] = ()
    units_billed: Money | None = None
    units_paid: Money | None = None
    service_date: date | None = None
    line_control_number: str | None = None
    rendering_npi: str | None = None
    charge: Money
    allowed: Money | None = None
    paid: Money
    adjustments: tuple[Adjustment, ...] = ()
    remarks: tuple[Rarc, ...] = ()
    category: LineCategory
    queue: str | None
    needs_work: bool
    priority: int = Field(ge=0, le=100)
    amount_at_risk: Money
    deadline: date | None = None
    codes: tuple[TranslatedCode, ...] = ()
    summary: str
    reason_category: str | None = None
    routing_rule: str | None = None
    broken_rule: RuleHit | None = Field(None, description="the coding rule that explains the denial, if any")
    posting: Literal["auto", "hold"] = "auto"
    match: LineMatch | None = None


class RuleHit(Contract):
    """A pain coding rule a claim line breaks: what, how to fix it, and where the rule comes from."""

    rule_id: str
    severity: Literal["hold", "warn"]
    line_numbers: tuple[int, ...]
    title: str = ""
    message: str
    fix: str
    citation: str


class ClaimScrubbed(Envelope):
    """The rule pack's verdict on a submitted claim, before it reaches the payer."""

    event_type: Literal["denials.claim_scrubbed"] = "denials.claim_scrubbed"
    schema_version: Literal[1] = 1
    source_event_id: uuid.UUID
    claim_id: str
    payer_id: str
    payer_type: str
    place_of_service: str | None = None
    rendering_npi: str | None = None
    lines: tuple[SubmittedLine, ...]
    findings: tuple[RuleHit, ...] = ()


# ---------------------------------------------------------------- submitted claims (837P)


class SubmittedLine(Contract):
    line_number: int = Field(ge=1)
    procedure_code: ProcedureCode
    modifiers: tuple[Modifier, ...] = ()
    units: Money
    charge: Money
    diagnosis_pointers: tuple[int, ...] = ()
    service_date: date | None = None
    place_of_service: str | None = Field(None, description="SV105 when the line overrides the claim's")
    line_control_number: str | None = None


class ClaimSubmitted(Envelope):
    """A professional claim as submitted to the payer (837P)."""

    event_type: Literal["claims.submitted"] = "claims.submitted"
    schema_version: Literal[1] = 1
    file_id: str | None = None
    claim_id: str
    frequency_code: str = "1"
    total_charge: Money | None = None
    original_reference: str | None = Field(
        None, description="REF*F8: the payer claim number a correction replaces"
    )
    billing_tin: str | None = None
    billing_npi: Npi
    rendering_npi: Npi | None = None
    payer_id: str
    payer_name: str | None = None
    filing_indicator: str | None = Field(None, description="SBR09 claim filing indicator (MB, CI, MC, 16...)")
    patient: PersonRef
    patient_birth_date: date | None = None
    place_of_service: str | None = None
    diagnosis_codes: tuple[str, ...] = ()
    prior_auth_number: str | None = None
    lines: tuple[SubmittedLine, ...]


# ---------------------------------------------------------------- acknowledgments (999, 277CA)


class AckStatus(Contract):
    category: str
    code: str | None = None
    entity: str | None = None
    meaning: str


class LineAckEcho(Contract):
    """A service line as echoed in a 277CA (kept for the modifier audit trail)."""

    line_control_number: str | None = None
    procedure_code: ProcedureCode | None = None
    modifiers: tuple[Modifier, ...] = ()
    charge: Money | None = None
    service_date: date | None = None
    accepted: bool | None = None
    statuses: tuple[AckStatus, ...] = ()


class ClaimAcknowledged(Envelope):
    """What a 277CA says of one submitted claim: received, accepted, or rejected and why."""

    event_type: Literal["claims.acknowledged"] = "claims.acknowledged"
    schema_version: Literal[1] = 1
    file_id: str
    claim_id: str
    payer_claim_control_number: str | None = None
    accepted: bool
    total_charge: Money | None = None
    statuses: tuple[AckStatus, ...] = ()
    lines: tuple[LineAckEcho, ...] = ()


class TransactionSetAcknowledged(Envelope):
    """What a 999 says of one submitted transaction set (usually an 837 file's ST)."""

    event_type: Literal["claims.set_acknowledged"] = "claims.set_acknowledged"
    schema_version: Literal[1] = 1
    file_id: str
    group_control: str | None = None
    transaction_set_id: str | None = None
    transaction_control: str | None = None
    accepted: bool
    result_code: str
    errors: tuple[str, ...] = Field(default=(), description="each segment or element error in plain words")
    submitted_file_id: str | None = Field(
        None, description="the 837 file this acknowledges, when it is on file"
    )


# ---------------------------------------------------------------- authorizations


class AuthStatus(StrEnum):
    REQUESTED = "requested"
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class AuthRecorded(Envelope):
    """An authorization as another system, the gateway or a portal export reports it."""

    event_type: Literal["auths.record"] = "auths.record"
    schema_version: Literal[1] = 1
    auth_number: str
    payer_id: str
    member_id: str
    patient: PersonRef = PersonRef()
    patient_birth_date: date | None = None
    provider_npi: Npi | None = None
    procedure_codes: tuple[ProcedureCode, ...]
    units_authorized: Money | None = None
    units_used: Money | None = None
    levels: tuple[str, ...] = ()
    sides: tuple[str, ...] = ()
    valid_from: date
    valid_to: date
    status: AuthStatus


class ProcedureScheduled(Envelope):
    """Procedures a practice has scheduled, so an authorization that will have expired (or is missing)
    by the date of service raises an alert before any claim is made."""

    event_type: Literal["auths.procedure_scheduled"] = "auths.procedure_scheduled"
    schema_version: Literal[1] = 1
    schedule_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    payer_id: str
    filing_indicator: str | None = None
    patient: PersonRef
    rendering_npi: Npi | None = None
    place_of_service: str | None = None
    prior_auth_number: str | None = None
    procedures: tuple[SubmittedLine, ...] = Field(min_length=1)
    cancelled: bool = False


class AuthCheckResult(StrEnum):
    NOT_REQUIRED = "not_required"
    VALID = "valid"
    MISSING = "missing"
    PENDING = "pending"
    DENIED = "denied"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    DIFFERENT_PROCEDURE = "different_procedure"
    DIFFERENT_PROVIDER = "different_provider"
    UNITS_EXHAUSTED = "units_exhausted"


class AuthChecked(Envelope):
    """Whether the authorization on one claim line is valid, re-issued whenever claim or auth changes."""

    event_type: Literal["auths.check"] = "auths.check"
    schema_version: Literal[1] = 1
    claim_id: str
    payer_id: str
    line_number: int = Field(ge=1)
    procedure_code: ProcedureCode
    service_date: date | None = None
    rendering_npi: str | None = None
    charge: Money
    result: AuthCheckResult
    auth_number: str | None = None
    reason: str
    revision: int = Field(ge=0, description="grows with every re-evaluation of the same line")


class SessionSeen(Contract):
    """A session that counts against a limit. Another practice's claim id and practice id are left out
    unless the reader may see them."""

    service_date: date
    family: str
    region: str | None = None
    at_this_practice: bool
    claim_id: str | None = None
    practice_id: str | None = None


class LimitFinding(Contract):
    """A frequency cap or prerequisite a claim's session does not meet."""

    kind: Literal["frequency", "prerequisite"]
    line_numbers: tuple[int, ...]
    family: str
    region: str | None = None
    message: str
    count_in_window: int | None = None
    cap: int | None = None
    window_start: date | None = None
    window_end: date | None = None
    counted: tuple[SessionSeen, ...] = ()
    supervisor_only_counted: tuple[SessionSeen, ...] = ()
    source: str | None = None
    missing_documentation: bool = False
    finding: str | None = None
    dates: tuple[date, ...] = ()


class DocumentationFacts(Contract):
    """What the practice's records say about a claim, for prerequisites: relief after each diagnostic
    block (by its date of service), pain duration, conservative care, the stimulator trial."""

    facet_purpose: Literal["diagnostic", "therapeutic"] | None = None
    block_relief_percent: dict[date, Annotated[Decimal, Field(ge=0, le=100)]] = Field(default_factory=dict)
    block_interval_exception_documented: bool = False
    prior_rfa_improvement_percent: Annotated[Decimal, Field(ge=0, le=100)] | None = None
    prior_rfa_improvement_months: Annotated[Decimal, Field(ge=0, le=120)] | None = None
    pain_duration_months: Annotated[Decimal, Field(ge=0, le=600)] | None = None
    conservative_care_documented: bool = False
    scs_trial_date: date | None = None
    trial_relief_percent: Annotated[Decimal, Field(ge=0, le=100)] | None = None
    psych_evaluation_documented: bool = False


class ClaimDocumented(Envelope):
    """Documentation facts for one claim, from the practice (through the gateway) or another system."""

    event_type: Literal["auths.claim_documented"] = "auths.claim_documented"
    schema_version: Literal[1] = 1
    claim_id: str
    facts: DocumentationFacts
    recorded_by: str | None = None


class ClaimLimitsChecked(Envelope):
    """Frequency limits and prerequisites of one submitted claim, across practices."""

    event_type: Literal["auths.limits_checked"] = "auths.limits_checked"
    schema_version: Literal[1] = 1
    source_event_id: uuid.UUID
    claim_id: str
    payer_id: str
    rendering_npi: str | None = None
    lines: tuple[SubmittedLine, ...]
    findings: tuple[LimitFinding, ...] = ()
    patient: PersonRef = PersonRef()
    patient_birth_date: date | None = None
    sessions: tuple[SessionSeen, ...] = Field(default=(), description="this claim's sessions, as counted")


Event = (
    RemitLineReceived
    | ProviderAdjustmentReceived
    | FileIngested
    | IngestRejection
    | PracticeRegistered
    | LineDecision
    | ClaimSubmitted
    | AuthRecorded
    | AuthChecked
)
