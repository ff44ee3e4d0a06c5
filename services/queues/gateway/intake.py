"""Gateway routes for files (upload and status) and the practice registry."""

import hashlib
import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.queues.adapters.repository import Files, Practices
from services.queues.gateway.deps import Admin, AppSettings, Broker, Conn, User
from shared.schemas import Correlation, PracticeRegistered, event_id_for, now_utc, topics

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,200}$")

router = APIRouter()


class FileOut(BaseModel):
    file_id: str
    file_name: str
    kind: str | None
    source: str
    submitted_by: str | None
    lines: int
    held_lines: int
    provider_adjustments: int
    rejections: int
    duplicate_remittances: int
    duplicate_submissions: int
    practices: dict[str, int]
    received_at: datetime
    last_submitted_at: datetime


class Accepted(BaseModel):
    file_id: str
    status: str
    status_url: str


class PracticeIn(BaseModel):
    practice_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    name: str = Field(min_length=1, max_length=200)
    active: bool = True
    payee_npis: list[Annotated[str, Field(pattern=r"^[0-9]{10}$")]] = []
    payee_tins: list[Annotated[str, Field(pattern=r"^[0-9]{9}$")]] = []
    rendering_npis: list[Annotated[str, Field(pattern=r"^[0-9]{10}$")]] = []


class PracticeOut(PracticeIn):
    revision: int


@router.post("/v1/files", status_code=202, response_model=Accepted)
async def upload_file(
    request: Request,
    user: User,
    broker: Broker,
    settings: AppSettings,
    name: Annotated[str, Query(description="the file's name, as the payer or clearinghouse sent it")],
) -> Accepted:
    """Upload an X12 file (835) as the request body. It is ingested asynchronously; poll its status URL."""
    if not SAFE_NAME.match(name):
        raise HTTPException(400, "name must be a plain file name (letters, digits, . _ - and spaces)")
    body = await request.body()
    if not body:
        raise HTTPException(400, "the request body is empty; send the file's bytes")
    if len(body) > MAX_UPLOAD_BYTES:
        raise HTTPException(413, f"files over {MAX_UPLOAD_BYTES // (1024 * 1024)} MB go to the drop folder")
    file_id = hashlib.sha256(body).hexdigest()
    await broker.publish(
        body,
        topic=settings.topic(topics.INGEST_RAW_FILES),
        key=file_id.encode(),
        headers={
            "file-name": name,
            "source": "upload",
            "submitted-by": user.username,
            "content-type": "application/octet-stream",
        },
    )
    return Accepted(file_id=file_id, status="accepted", status_url=f"/v1/files/{file_id}")


@router.get("/v1/files", response_model=list[FileOut])
async def list_files(
    user: User, conn: Conn, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[FileOut]:
    """Received files within the caller's scope, newest first."""
    return [FileOut.model_validate(r) for r in await Files(conn, user).recent(limit)]


@router.get("/v1/files/{file_id}", response_model=FileOut)
async def get_file(file_id: str, user: User, conn: Conn) -> FileOut:
    """What became of one file: lines, held lines, rejections, duplicate submissions."""
    row = await Files(conn, user).get(file_id)
    if row is None:
        raise HTTPException(404, "no such file (an upload shows here once it has been read)")
    return FileOut.model_validate(row)


@router.get("/v1/practices", response_model=list[PracticeOut])
async def list_practices(user: User, conn: Conn) -> list[PracticeOut]:
    """The practices within the caller's scope and the identifiers that route claims to them."""
    return [PracticeOut.model_validate(r) for r in await Practices(conn, user.scope).visible()]


@router.put("/v1/practices/{practice_id}", status_code=202)
async def put_practice(
    practice_id: str, practice: PracticeIn, user: Admin, conn: Conn, broker: Broker, settings: AppSettings
) -> JSONResponse:
    """Create or change a practice (admins). Identifiers owned by another practice are refused with 409."""
    if practice.practice_id != practice_id:
        raise HTTPException(400, "practice_id in the path and the body differ")
    repo = Practices(conn, user.scope)
    for kind, values in (
        ("payee_npi", practice.payee_npis),
        ("payee_tin", practice.payee_tins),
        ("rendering_npi", practice.rendering_npis),
    ):
        taken = {v: p for v, p in (await repo.owners_of(kind, values)).items() if p != practice_id}
        if taken:
            raise HTTPException(409, f"{kind} already belongs to another practice: {sorted(taken)}")
    revision = int(now_utc().timestamp() * 1000)
    event = PracticeRegistered(
        event_id=event_id_for("practices.registered", practice_id, str(revision)),
        occurred_at=now_utc(),
        practice_id=practice_id,
        correlation=Correlation(claim_key=practice_id),
        name=practice.name,
        active=practice.active,
        payee_npis=tuple(practice.payee_npis),
        payee_tins=tuple(practice.payee_tins),
        rendering_npis=tuple(practice.rendering_npis),
        revision=revision,
    )
    await broker.publish(
        event.model_dump_json().encode(),
        topic=settings.topic(topics.PRACTICES),
        key=event.partition_key,
        headers={"content-type": "application/json"},
    )
    body: dict[str, Any] = {"practice_id": practice_id, "status": "accepted", "revision": revision}
    return JSONResponse(body, status_code=202)
