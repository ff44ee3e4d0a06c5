"""Gateway route for authorizations other systems or billers record (the auths service keeps the ledger)."""

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.queues.gateway.deps import AppSettings, Broker, User
from shared.schemas import (
    AuthRecorded,
    AuthStatus,
    ClaimDocumented,
    Correlation,
    DocumentationFacts,
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
