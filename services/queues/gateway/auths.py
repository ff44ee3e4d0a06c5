"""Gateway route for authorizations other systems or billers record (the auths service keeps the ledger)."""

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.queues.gateway.deps import AppSettings, Broker, User
from shared.schemas import (
    AuthRecorded,
    AuthStatus,
    ClaimDocumented,
    Correlation,
    DocumentationFacts,
    PersonRef,
    ProcedureScheduled,
    SubmittedLine,
    event_id_for,
    now_utc,
    topics,
)

router = APIRouter()


class AuthIn(BaseModel):
    practice_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    auth_number: str = Field(min_length=1, max_length=80, description="auth, tracking or WISeR UTN number")
    payer_id: str = Field(min_length=1, max_length=80)
    member_id: str = Field(min_length=1, max_length=80)
    patient_last_name: str | None = Field(None, max_length=100)
    patient_first_name: str | None = Field(None, max_length=100)
    patient_birth_date: date | None = None
    provider_npi: Annotated[str, Field(pattern=r"^[0-9]{10}$")] | None = None
    procedure_codes: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9]{5}$")]] = Field(min_length=1)
    units_authorized: Annotated[Decimal, Field(ge=0, le=9999)] | None = None
    units_used: Annotated[Decimal, Field(ge=0, le=9999)] | None = None
    levels: list[Annotated[str, Field(max_length=20)]] = Field(default=[], max_length=10)
    sides: list[Annotated[str, Field(pattern=r"^(left|right|bilateral)$")]] = Field(default=[], max_length=2)
    valid_from: date
    valid_to: date
    status: AuthStatus


@router.post("/v1/auths", status_code=202)
async def record_auth(body: AuthIn, user: User, broker: Broker, settings: AppSettings) -> JSONResponse:
    """Record an authorization (or a change of its status) for a practice in the caller's scope; every
    claim line of that patient is checked again against it."""
    scope = user.scope.practices
    if scope is not None and body.practice_id not in scope:
        raise HTTPException(404, "no such practice")
    if body.valid_to < body.valid_from:
        raise HTTPException(400, "valid_to is before valid_from")
    event = AuthRecorded(
        event_id=event_id_for("auths.record", body.model_dump_json()),
        occurred_at=now_utc(),
        practice_id=body.practice_id,
        correlation=Correlation(claim_key=body.auth_number),
        auth_number=body.auth_number,
        payer_id=body.payer_id,
        member_id=body.member_id,
        patient=PersonRef(
            last_name=body.patient_last_name, first_name=body.patient_first_name, member_id=body.member_id
        ),
        patient_birth_date=body.patient_birth_date,
        provider_npi=body.provider_npi,
        procedure_codes=tuple(body.procedure_codes),
        units_authorized=body.units_authorized,
        units_used=body.units_used,
        levels=tuple(body.levels),
        sides=tuple(body.sides),
        valid_from=body.valid_from,
        valid_to=body.valid_to,
        status=body.status,
    )
    await broker.publish(
        event.model_dump_json().encode(),
        topic=settings.topic(topics.AUTHS_RECORDS),
        key=event.partition_key,
        headers={"content-type": "application/json"},
    )
    result: dict[str, Any] = {
        "auth_number": body.auth_number,
        "status": "accepted",
        "event_id": str(event.event_id),
    }
    return JSONResponse(result, status_code=202)


class DocumentationIn(DocumentationFacts):
    practice_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@router.post("/v1/claims/{claim_id}/documentation", status_code=202)
async def document_claim(
    claim_id: str, body: DocumentationIn, user: User, broker: Broker, settings: AppSettings
) -> JSONResponse:
    """What the records say about a claim (diagnostic block and its relief, pain duration, conservative
    care, stimulator trial); the claim and the patient's RFA claims are checked again against it."""
    scope = user.scope.practices
    if scope is not None and body.practice_id not in scope:
        raise HTTPException(404, "no such claim")
    facts = DocumentationFacts.model_validate(body.model_dump(exclude={"practice_id"}))
    event = ClaimDocumented(
        event_id=event_id_for("auths.claim_documented", body.practice_id, claim_id, facts.model_dump_json()),
        occurred_at=now_utc(),
        practice_id=body.practice_id,
        correlation=Correlation(claim_key=claim_id),
        claim_id=claim_id,
        facts=facts,
        recorded_by=user.username,
    )
    await broker.publish(
        event.model_dump_json().encode(),
        topic=settings.topic(topics.AUTHS_DOCUMENTATION),
        key=event.partition_key,
        headers={"content-type": "application/json"},
    )
    return JSONResponse({"claim_id": claim_id, "status": "accepted"}, status_code=202)


class ScheduledProcedureIn(BaseModel):
    procedure_code: str = Field(pattern=r"^[A-Za-z0-9]{5}$")
    modifiers: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9]{2}$")]] = Field(default=[], max_length=4)
    units: Annotated[Decimal, Field(gt=0, le=999)] = Decimal(1)
    scheduled_date: date
    expected_charge: Annotated[Decimal, Field(ge=0, le=999_999)] = Decimal(0)
    place_of_service: str | None = Field(None, pattern=r"^[0-9]{2}$")


class ScheduleIn(BaseModel):
    practice_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    payer_id: str = Field(min_length=1, max_length=80)
    filing_indicator: str | None = Field(None, pattern=r"^[A-Z0-9]{2}$")
    member_id: str = Field(min_length=1, max_length=80)
    rendering_npi: Annotated[str, Field(pattern=r"^[0-9]{10}$")] | None = None
    place_of_service: str | None = Field(None, pattern=r"^[0-9]{2}$")
    prior_auth_number: str | None = Field(None, max_length=80)
    procedures: list[ScheduledProcedureIn] = Field(min_length=1, max_length=20)
    cancelled: bool = False


@router.put("/v1/schedules/{schedule_id}", status_code=202)
async def schedule(
    schedule_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")],
    body: ScheduleIn,
    user: User,
    broker: Broker,
    settings: AppSettings,
) -> JSONResponse:
    """Procedures scheduled for a patient: their authorizations are checked now and whenever an auth
    changes, so one that will have expired by the date of service is worked before any claim is made."""
    scope = user.scope.practices
    if scope is not None and body.practice_id not in scope:
        raise HTTPException(404, "no such practice")
    event = ProcedureScheduled(
        event_id=event_id_for("auths.procedure_scheduled", schedule_id, body.model_dump_json()),
        occurred_at=now_utc(),
        practice_id=body.practice_id,
        correlation=Correlation(claim_key=f"scheduled:{schedule_id}"),
        schedule_id=schedule_id,
        payer_id=body.payer_id,
        filing_indicator=body.filing_indicator,
        patient=PersonRef(member_id=body.member_id),
        rendering_npi=body.rendering_npi,
        place_of_service=body.place_of_service,
        prior_auth_number=body.prior_auth_number,
        procedures=tuple(
            SubmittedLine(
                line_number=n,
                procedure_code=p.procedure_code,
                modifiers=tuple(p.modifiers),
                units=p.units,
                charge=p.expected_charge,
                service_date=p.scheduled_date,
                place_of_service=p.place_of_service,
            )
            for n, p in enumerate(body.procedures, start=1)
        ),
        cancelled=body.cancelled,
    )
    await broker.publish(
        event.model_dump_json().encode(),
        topic=settings.topic(topics.AUTHS_SCHEDULED),
        key=event.partition_key,
        headers={"content-type": "application/json"},
    )
    return JSONResponse({"schedule_id": schedule_id, "status": "accepted"}, status_code=202)
