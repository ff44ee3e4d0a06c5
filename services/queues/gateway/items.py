"""Gateway routes for work items (queues, working them, export) and the ERA and claim views."""

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import to_json
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.queues.adapters.orm import patient_sessions
from services.queues.adapters.repository import (
    PAGE_COLUMNS,
    BadCursor,
    Claims,
    ItemFilters,
    Remittances,
    WorkItems,
    acknowledged_lines,
)
from services.queues.adapters.work import NotAllowed, NotFound, Status, Work, record_access
from services.queues.app import member_key
from services.queues.domain.scope import Principal, Role
from services.queues.gateway.deps import Conn, User, without_transaction

router = APIRouter()
NOT_FOUND = "no such work item"


class WorkItemOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    item_id: uuid.UUID
    practice_id: str
    provider_npi: str | None
    kind: str
    category: str
    queue: str
    status: str
    priority: int
    amount_at_risk: Decimal
    deadline: date | None
    summary: str
    payer_name: str | None
    claim_id: str | None
    line_number: int | None
    procedure_code: str | None
    service_date: date | None
    assignee: str | None
    created_at: datetime
    updated_at: datetime


class WorkItemDetail(WorkItemOut):
    detail: dict[str, Any]


class WorkItemPage(BaseModel):
    items: list[WorkItemOut]
    next_cursor: str | None


class AssignIn(BaseModel):
    assignee: str | None = Field(description="a username, or null to unassign")


class StatusIn(BaseModel):
    status: Status
    note: str | None = Field(None, max_length=4000)


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=4000)


class BulkIn(BaseModel):
    item_ids: list[uuid.UUID] = Field(min_length=1, max_length=200)
    action: Literal["assign", "claim", "status"]
    assignee: str | None = None
    status: Status | None = None
    note: str | None = Field(None, max_length=4000)


class BulkResult(BaseModel):
    item_id: uuid.UUID
    ok: bool
    error: str | None = None


class HistoryOut(BaseModel):
    audit: list[dict[str, Any]]
    notes: list[dict[str, Any]]


EXPORT_MAX_ROWS = 100_000
EXPORT_PAGE = 200


class QueueQuery(BaseModel):
    """The queue filters, shared by the page and the CSV export: one model, validated in one call."""

    practice_id: str | None = None
    category: str | None = None
    queue: str | None = None
    status: str | None = None
    kind: str | None = None
    payer: str | None = None
    assignee: str | None = Field(None, description="a username, or 'me'")
    older_than_days: int | None = Field(None, ge=0, le=3650)
    min_amount: Decimal | None = Field(None, ge=0, le=999_999_999_999, decimal_places=2)

    def filters(self, user: Principal) -> ItemFilters:
        return ItemFilters(
            practice_id=self.practice_id,
            category=self.category,
            queue=self.queue,
            status=self.status,
            kind=self.kind,
            payer=self.payer,
            assignee=user.username if self.assignee == "me" else self.assignee,
            older_than_days=self.older_than_days,
            min_amount=self.min_amount,
        )


class PageQuery(QueueQuery):
    limit: int = Field(50, ge=1, le=200)
    cursor: str | None = None


async def item_filters(  # async: FastAPI would run a plain def in a worker thread, per request
    user: User, query: Annotated[QueueQuery, Query()]
) -> ItemFilters:
    return query.filters(user)


Filters = Annotated[ItemFilters, Depends(item_filters)]


@router.get("/v1/work-items", response_model=WorkItemPage)
@without_transaction  # one query for the user, one for the page: nothing to hold between them
async def list_items(user: User, conn: Conn, query: Annotated[PageQuery, Query()]) -> Response:
    """Work items within the caller's scope, highest priority first, keyset-paginated."""
    try:
        rows, next_cursor = await WorkItems(conn, user.scope).page(
            query.filters(user), query.limit, query.cursor
        )
    except BadCursor as exc:
        raise HTTPException(400, str(exc)) from None
    # The rows are the page's columns exactly (checked below, at import) with the database's types,
    # so the page is written as JSON in one pydantic-core call, without validating every field twice
    # (once into WorkItemPage, once more as the response model).
    return Response(
        to_json({"items": rows, "next_cursor": next_cursor}),
        media_type="application/json",
    )


if set(WorkItemOut.model_fields) != {c.name for c in PAGE_COLUMNS}:  # pragma: no cover - a schema slip
    raise RuntimeError("WorkItemOut and the page's columns (repository.PAGE_COLUMNS) differ")


@router.get("/v1/work-items.csv", response_class=StreamingResponse)
async def export_items(user: User, conn: Conn, filters: Filters) -> StreamingResponse:
    """The same queue as CSV (every page, within the caller's scope), for spreadsheets and other systems.

    More than EXPORT_MAX_ROWS matching items is refused with 413 rather than cut short."""
    repo = WorkItems(conn, user.scope)
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        page, cursor = await repo.page(filters, EXPORT_PAGE, cursor)
        rows.extend(page)
        if cursor is None:
            break
        if len(rows) >= EXPORT_MAX_ROWS:
            raise HTTPException(
                413, f"more than {EXPORT_MAX_ROWS:,} work items match: narrow the filters and export again"
            )
    await record_access(conn, user, "export", repr(filters), [r["practice_id"] for r in rows])
    columns = list(WorkItemOut.model_fields)

    async def body() -> AsyncIterator[str]:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([row[c] for c in columns])
            if out.tell() > 64_000:
                yield out.getvalue()
                out.seek(0)
                out.truncate()
        yield out.getvalue()

    return StreamingResponse(
        body(),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="work-items.csv"'},
    )


@router.get("/v1/work-items/{item_id}", response_model=WorkItemDetail)
async def get_item(item_id: uuid.UUID, user: User, conn: Conn) -> WorkItemDetail:
    """One work item with the decision or finding behind it (a read of patient data: logged)."""
    row = await WorkItems(conn, user.scope).get(item_id)
    if row is None:
        raise HTTPException(404, NOT_FOUND)
    await record_access(conn, user, "work_item", str(item_id), [row["practice_id"]])
    return WorkItemDetail.model_validate(visible_to(user, row))


async def _act(conn: Conn, action: Any) -> Any:
    try:
        result = await action
    except NotFound:
        await conn.rollback()
        raise HTTPException(404, NOT_FOUND) from None
    except NotAllowed as exc:
        await conn.rollback()
        raise HTTPException(403, str(exc)) from None
    await conn.commit()
    return result


def visible_to(user: Principal, row: dict[str, Any]) -> dict[str, Any]:
    """Fields the role may not see never leave the gateway: other practices' claims behind a frequency
    hold are for supervisors only."""
    if user.role is Role.SUPERVISOR:
        return row
    detail = {k: v for k, v in row["detail"].items() if not k.startswith("supervisor_only")}
    return {**row, "detail": detail}


async def _item(conn: Conn, user: User, item_id: uuid.UUID) -> WorkItemDetail:
    row = await WorkItems(conn, user.scope).get(item_id)
    if row is None:
        raise HTTPException(404, NOT_FOUND)
    return WorkItemDetail.model_validate(visible_to(user, row))


@router.post("/v1/work-items/{item_id}/assign", response_model=WorkItemDetail)
async def assign(item_id: uuid.UUID, body: AssignIn, user: User, conn: Conn) -> WorkItemDetail:
    """Give the item to a biller (supervisors), or take or drop it yourself."""
    await _act(conn, Work(conn, user).assign(item_id, body.assignee))
    return await _item(conn, user, item_id)


@router.post("/v1/work-items/{item_id}/claim", response_model=WorkItemDetail)
async def claim(item_id: uuid.UUID, user: User, conn: Conn) -> WorkItemDetail:
    """Take the item: it is assigned to you and, if new, in progress."""
    await _act(conn, Work(conn, user).claim(item_id))
    return await _item(conn, user, item_id)


@router.post("/v1/work-items/{item_id}/status", response_model=WorkItemDetail)
async def set_status(item_id: uuid.UUID, body: StatusIn, user: User, conn: Conn) -> WorkItemDetail:
    """Move the item along: in progress, waiting on payer, appealed, resolved, written off."""
    await _act(conn, Work(conn, user).set_status(item_id, body.status, body.note))
    return await _item(conn, user, item_id)


@router.post("/v1/work-items/{item_id}/notes", status_code=201)
async def add_note(item_id: uuid.UUID, body: NoteIn, user: User, conn: Conn) -> dict[str, Any]:
    """Add a note; notes cannot be edited or deleted."""
    note: dict[str, Any] = await _act(conn, Work(conn, user).add_note(item_id, body.text))
    return {k: (str(v) if isinstance(v, uuid.UUID | datetime) else v) for k, v in note.items()}


@router.get("/v1/work-items/{item_id}/history", response_model=HistoryOut)
async def history(item_id: uuid.UUID, user: User, conn: Conn) -> HistoryOut:
    """Who did what and when, and the notes, oldest first."""
    trail, written = await _act(conn, Work(conn, user).history(item_id))
    return HistoryOut(audit=trail, notes=written)


@router.post("/v1/work-items/bulk", response_model=list[BulkResult])
async def bulk(body: BulkIn, user: User, conn: Conn) -> list[BulkResult]:
    """One action on a selection; each item succeeds or fails on its own (not found, not allowed)."""
    if body.action == "status" and body.status is None:
        raise HTTPException(400, "action 'status' needs a status")
    results = []
    for item_id in body.item_ids:
        work = Work(conn, user)
        try:
            if body.action == "assign":
                await work.assign(item_id, body.assignee)
            elif body.action == "claim":
                await work.claim(item_id)
            else:
                assert body.status is not None
                await work.set_status(item_id, body.status, body.note)
        except NotFound:
            results.append(BulkResult(item_id=item_id, ok=False, error="not_found"))
            continue
        except NotAllowed as exc:
            results.append(BulkResult(item_id=item_id, ok=False, error=f"not_allowed: {exc}"))
            continue
        results.append(BulkResult(item_id=item_id, ok=True))
    await conn.commit()
    return results


# ---------------------------------------------------------------- ERA and claim views


class EraAdjustment(BaseModel):
    group: str
    reason: str
    amount: Decimal
    meaning: str


class EraLine(BaseModel):
    claim_id: str
    claim_status_code: str
    practice_id: str
    line_number: int
    procedure_code: str
    modifiers: list[str]
    submitted_procedure_code: str | None
    submitted_modifiers: list[str]
    acknowledged_procedure_code: str | None = Field(description="as the 277CA echoed it")
    acknowledged_modifiers: list[str] | None
    modifier_trail_changed: bool
    service_date: date | None
    charge: Decimal
    allowed: Decimal | None
    paid: Decimal
    category: str
    underpaid: bool
    reversed: bool
    adjustments: list[EraAdjustment]
    remarks: list[dict[str, Any]]
    summary: str
    patient: dict[str, Any]


class Reconciliation(BaseModel):
    lines_paid: Decimal = Field(description="what the lines in your scope paid")
    provider_adjustments: Decimal = Field(description="PLB amounts in your scope (positive = taken back)")
    expected_payment: Decimal = Field(description="lines paid minus provider adjustments")
    difference: Decimal | None = Field(description="payment amount minus expected payment")
    complete: bool = Field(description="every line and PLB of the payment is in your scope")
    reconciled: bool = Field(description="complete, and the lines and adjustments add up to the payment")


class EraOut(BaseModel):
    trace_number: str
    payer_name: str | None
    payment_date: date | None
    lines: list[EraLine]
    total_charge: Decimal
    total_paid: Decimal
    payment_amount: Decimal | None = Field(description="BPR02 as the payer stated it (all practices)")
    reconciliation: Reconciliation


def _echo_of(row: dict[str, Any], echoes: list[dict[str, Any]]) -> dict[str, Any] | None:
    decision = row["decision"]
    control = decision.get("line_control_number")
    if control:
        for echo in echoes:
            if echo["line_control_number"] == control:
                return echo
    codes = {decision.get("submitted_procedure_code"), row["procedure_code"]} - {None}
    same = [e for e in echoes if e["procedure_code"] in codes and e["service_date"] == row["service_date"]]
    return same[0] if len(same) == 1 else None


def _era_line(row: dict[str, Any], echoes: list[dict[str, Any]] | None = None) -> EraLine:
    decision = row["decision"]
    echo = _echo_of(row, echoes or [])
    meanings = {c["code"]: c["meaning"] for c in decision.get("codes", []) if c["kind"] == "carc"}
    match = decision.get("match") or {}
    submitted_code = decision.get("submitted_procedure_code") or match.get("submitted_procedure_code")
    submitted_mods = decision.get("submitted_modifiers") or match.get("submitted_modifiers") or []
    adjudicated = (row["procedure_code"], list(row["modifiers"]))
    trail = [adjudicated]
    if submitted_code or submitted_mods:
        trail.append((submitted_code or row["procedure_code"], list(submitted_mods)))
    if echo is not None:
        trail.append((echo["procedure_code"] or row["procedure_code"], list(echo["modifiers"])))
    changed = any(step != adjudicated for step in trail)
    return EraLine(
        claim_id=row["claim_id"],
        claim_status_code=row["claim_status_code"],
        practice_id=row["practice_id"],
        line_number=row["line_number"],
        procedure_code=row["procedure_code"],
        modifiers=list(row["modifiers"]),
        submitted_procedure_code=submitted_code,
        submitted_modifiers=list(submitted_mods),
        acknowledged_procedure_code=echo["procedure_code"] if echo else None,
        acknowledged_modifiers=list(echo["modifiers"]) if echo else None,
        modifier_trail_changed=changed,
        service_date=row["service_date"],
        charge=row["charge"],
        allowed=row["allowed"],
        paid=row["paid"],
        category=row["category"],
        underpaid=row["category"] == "underpaid",
        reversed=row["claim_status_code"] == "22",
        adjustments=[
            EraAdjustment(
                group=a["group"],
                reason=a["reason"],
                amount=Decimal(a["amount"]),
                meaning=meanings.get(a["reason"], f"unknown reason {a['reason']}"),
            )
            for a in decision.get("adjustments", [])
        ],
        remarks=[c for c in decision.get("codes", []) if c["kind"] == "rarc"],
        summary=row["summary"],
        patient=decision.get("patient", {}),
    )


@router.get("/v1/remittances")
async def list_remittances(
    user: User, conn: Conn, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[dict[str, Any]]:
    """Remittances with lines in the caller's scope, newest first."""
    return await Remittances(conn, user.scope).recent(limit)


@router.get("/v1/remittances/{trace_number}", response_model=EraOut)
async def era(trace_number: str, user: User, conn: Conn) -> EraOut:
    """One remittance line by line: billed beside allowed beside paid, every adjustment in plain English,
    underpayments and reversals marked, the modifier trail, and the totals."""
    rows = await Remittances(conn, user.scope).lines(trace_number)
    if not rows:
        raise HTTPException(404, "no such remittance")
    await record_access(conn, user, "remittance", trace_number, [r["practice_id"] for r in rows])
    echoes = await acknowledged_lines(conn, {(r["practice_id"], r["claim_id"]) for r in rows})
    lines = [_era_line(r, echoes.get((r["practice_id"], r["claim_id"]))) for r in rows]
    payment = rows[0]["decision"].get("payment_amount")
    payment_amount = Decimal(payment) if payment is not None else None
    adjustments, everything_visible = await Remittances(conn, user.scope).provider_adjustments(
        trace_number, len(rows)
    )
    lines_paid = sum((ln.paid for ln in lines), Decimal(0))
    plb = sum(adjustments, Decimal(0))
    expected = lines_paid - plb
    difference = payment_amount - expected if payment_amount is not None else None
    return EraOut(
        trace_number=trace_number,
        payer_name=rows[0]["payer_name"],
        payment_date=rows[0]["payment_date"],
        lines=lines,
        total_charge=sum((ln.charge for ln in lines), Decimal(0)),
        total_paid=sum((ln.paid for ln in lines), Decimal(0)),
        payment_amount=payment_amount,
        reconciliation=Reconciliation(
            lines_paid=lines_paid,
            provider_adjustments=plb,
            expected_payment=expected,
            difference=difference,
            complete=everything_visible,
            reconciled=everything_visible and difference == 0,
        ),
    )


@router.get("/v1/claims/{claim_id}")
async def claim_view(claim_id: str, user: User, conn: Conn, practice_id: str | None = None) -> dict[str, Any]:
    """One claim: every adjudicated line (with its history across remittances) and every finding on it."""
    lines, items = await Claims(conn, user.scope).view(claim_id, practice_id)
    if not lines and not items:
        raise HTTPException(404, "no such claim")
    practices = sorted({r["practice_id"] for r in (*lines, *items)})
    if len(practices) > 1 and practice_id is None:
        raise HTTPException(400, f"claim id {claim_id} exists in several of your practices; add practice_id")
    await record_access(conn, user, "claim", claim_id, practices)
    echoes = await acknowledged_lines(conn, {(r["practice_id"], r["claim_id"]) for r in lines})
    return {
        "claim_id": claim_id,
        "practice_id": practices[0],
        "lines": [
            _era_line(r, echoes.get((r["practice_id"], r["claim_id"]))).model_dump(mode="json") for r in lines
        ],
        "items": [WorkItemOut.model_validate(i).model_dump(mode="json") for i in items],
    }


class SessionOut(BaseModel):
    service_date: date
    family: str
    region: str | None
    in_your_scope: bool
    practice_id: str | None
    claim_id: str | None


class FrequencyOut(BaseModel):
    sessions: list[SessionOut]
    last_12_months: dict[str, int] = Field(description="sessions per family/region in the rolling 12 months")


async def frequency_of(
    conn: AsyncConnection, user: Principal, member_key: str, birth_date: date | None
) -> FrequencyOut | None:
    """A patient's sessions at every practice: in full where the caller's scope reaches, as dates and counts
    elsewhere. None when none of the patient's sessions is in the caller's scope (then nothing is shown)."""
    stmt = select(patient_sessions).where(patient_sessions.c.member_key == member_key)
    if birth_date is not None:
        stmt = stmt.where(patient_sessions.c.birth_date == birth_date)
    rows = [
        dict(r._mapping) for r in await conn.execute(stmt.order_by(patient_sessions.c.service_date.desc()))
    ]
    scope = user.scope

    def visible(row: dict[str, Any]) -> bool:
        if scope.practices is not None and row["practice_id"] not in scope.practices:
            return False
        return not scope.providers or row["provider_npi"] in scope.providers

    mine = [r for r in rows if visible(r)]
    if not mine:
        return None
    await record_access(conn, user, "patient_frequency", member_key, [r["practice_id"] for r in mine])
    window_start = date.today() - timedelta(days=365)
    counts: dict[str, int] = {}
    for r in rows:
        if r["service_date"] >= window_start:
            label = f"{r['family']}/{r['region'] or '-'}"
            counts[label] = counts.get(label, 0) + 1
    return FrequencyOut(
        sessions=[
            SessionOut(
                service_date=r["service_date"],
                family=r["family"],
                region=r["region"] or None,
                in_your_scope=visible(r),
                practice_id=r["practice_id"] if visible(r) else None,
                claim_id=r["claim_id"] if visible(r) else None,
            )
            for r in rows
        ],
        last_12_months=counts,
    )


class PatientIn(BaseModel):
    member_id: str = Field(min_length=1, max_length=80)
    birth_date: date


@router.post("/v1/patients/frequency", response_model=FrequencyOut)
async def patient_frequency(body: PatientIn, user: User, conn: Conn) -> FrequencyOut:
    """A patient's sessions (facet, RFA, epidural, trigger point, drug test) at every practice: in full
    where the caller's scope reaches, as dates and counts elsewhere. Only for patients the caller's
    practices treat (otherwise 404), and the read is logged. The patient is named in the body, so member
    ids and birth dates stay out of URLs and the access logs of proxies."""
    found = await frequency_of(conn, user, member_key(body.member_id), body.birth_date)
    if found is None:
        raise HTTPException(404, "no such patient")
    return found


@router.get("/v1/patients/frequency", response_model=FrequencyOut, deprecated=True)
async def patient_frequency_by_query(
    user: User,
    conn: Conn,
    member_id: Annotated[str, Query(min_length=1, max_length=80)],
    birth_date: date,
) -> FrequencyOut:
    """The same as POST /v1/patients/frequency, with the patient in the query string (deprecated: URLs end
    up in logs; use the POST)."""
    return await patient_frequency(PatientIn(member_id=member_id, birth_date=birth_date), user, conn)
