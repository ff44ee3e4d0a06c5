"""Read views the console is built on (and other systems may use): everything about one work item in one
call, and the supervisor dashboard's figures. Same scope rules as every route: the caller's practices and
providers only; another practice's item answers 404 like a missing one."""

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field
from sqlalchemy import Date, and_, case, cast, func, literal, select

from services.queues.adapters.orm import patient_sessions, remit_lines, work_items
from services.queues.adapters.repository import Claims, WorkItems, acknowledged_lines, scoped, scoped_lines
from services.queues.adapters.work import record_access
from services.queues.gateway.deps import Conn, User
from services.queues.gateway.items import (
    NOT_FOUND,
    EraLine,
    FrequencyOut,
    WorkItemDetail,
    WorkItemOut,
    _era_line,
    frequency_of,
    visible_to,
)

router = APIRouter()

OPEN_STATUSES = ("new", "in_progress", "waiting_on_payer", "appealed")
DENIED_CATEGORIES = ("denied", "partially_denied")


class ItemContext(BaseModel):
    item: WorkItemDetail
    lines: list[EraLine] = Field(
        description="every adjudicated line of the item's claim, in the caller's scope"
    )
    claim_items: list[WorkItemOut] = Field(
        description="the other findings on the same claim (auth, rules, ...)"
    )
    authorization: list[WorkItemOut] = Field(description="authorization findings on the claim; empty = none")
    frequency: FrequencyOut | None = Field(description="the patient's sessions, when the claim names one")


@router.get("/v1/work-items/{item_id}/context", response_model=ItemContext)
async def item_context(item_id: uuid.UUID, user: User, conn: Conn) -> ItemContext:
    """Everything a biller needs to work one item, without patient identifiers in the URL: the item, its
    claim's lines (billed, allowed, paid, each adjustment in plain English, the modifier trail), the other
    findings on the claim (auth status among them) and the patient's frequency history within scope."""
    row = await WorkItems(conn, user.scope).get(item_id)
    if row is None:
        raise HTTPException(404, NOT_FOUND)
    await record_access(conn, user, "work_item", str(item_id), [row["practice_id"]])
    item = WorkItemDetail.model_validate(visible_to(user, row))
    lines: list[EraLine] = []
    others: list[WorkItemOut] = []
    frequency = None
    if row["claim_id"]:
        line_rows, item_rows = await Claims(conn, user.scope).view(row["claim_id"], row["practice_id"])
        echoes = await acknowledged_lines(conn, {(row["practice_id"], row["claim_id"])})
        lines = [_era_line(r, echoes.get((r["practice_id"], r["claim_id"]))) for r in line_rows]
        others = [WorkItemOut.model_validate(i) for i in item_rows if i["item_id"] != item_id]
        patient = (
            await conn.execute(
                select(patient_sessions.c.member_key, patient_sessions.c.birth_date)
                .where(
                    patient_sessions.c.practice_id == row["practice_id"],
                    patient_sessions.c.claim_id == row["claim_id"],
                )
                .limit(1)
            )
        ).first()
        if patient is not None:
            frequency = await frequency_of(conn, user, patient.member_key, patient.birth_date)
    authorization = [i for i in [*others, item] if i.kind == "auth"]
    return ItemContext(
        item=item, lines=lines, claim_items=others, authorization=authorization, frequency=frequency
    )


# ---------------------------------------------------------------- dashboard


class MonthFigures(BaseModel):
    month: str = Field(description="YYYY-MM of the payment date")
    key: str = Field(description="the category, payer or practice; 'all' in the totals")
    lines: int
    denied_lines: int
    denial_rate: float = Field(description="denied (and partially denied) lines / adjudicated lines")
    dollars_at_risk: Decimal = Field(description="what the lines that need work leave unpaid")


class DenialStats(BaseModel):
    by: str
    months: list[str]
    totals: list[MonthFigures]
    series: list[MonthFigures]


@router.get("/v1/stats/denials", response_model=DenialStats)
async def denial_stats(
    user: User,
    conn: Conn,
    by: Literal["category", "payer", "practice"] = "category",
    months: Annotated[int, Query(ge=1, le=36)] = 12,
) -> DenialStats:
    """Denial rate and dollars at risk per month, overall and per category, payer or practice, over the last
    `months` months of payment dates, within the caller's scope."""
    day = func.coalesce(remit_lines.c.payment_date, cast(remit_lines.c.received_at, Date))
    month = func.to_char(day, "YYYY-MM")
    start = (date.today().replace(day=1) - timedelta(days=31 * (months - 1))).replace(day=1)
    column = {
        "category": remit_lines.c.category,
        "payer": func.coalesce(remit_lines.c.payer_name, literal("(no payer name)")),
        "practice": remit_lines.c.practice_id,
    }[by]
    denied = func.count().filter(remit_lines.c.category.in_(DENIED_CATEGORIES))
    at_risk = func.coalesce(
        func.sum(
            case(
                (
                    remit_lines.c.decision["needs_work"].as_boolean(),
                    remit_lines.c.decision["amount_at_risk"].as_string().cast(remit_lines.c.paid.type),
                ),
                else_=0,
            )
        ),
        0,
    )

    async def figures(key: Any) -> list[MonthFigures]:
        stmt = scoped_lines(
            select(month.label("month"), key.label("key"), func.count(), denied, at_risk), user.scope
        )
        stmt = stmt.where(day >= start).group_by(month, key).order_by(month, key)
        return [
            MonthFigures(
                month=m,
                key=str(k),
                lines=n,
                denied_lines=d,
                denial_rate=round(d / n, 4) if n else 0.0,
                dollars_at_risk=Decimal(r),
            )
            for m, k, n, d, r in await conn.execute(stmt)
        ]

    totals = await figures(literal("all"))
    series = await figures(column)
    return DenialStats(by=by, months=sorted({f.month for f in totals}), totals=totals, series=series)


class AgingBucket(BaseModel):
    bucket: str
    items: int
    dollars_at_risk: Decimal


class AgingOut(BaseModel):
    by_deadline: list[AgingBucket] = Field(description="open items by days left until their deadline")
    by_age: list[AgingBucket] = Field(description="open items by days since they were created")


DEADLINE_BUCKETS = ("overdue", "0-7 days", "8-30 days", "31-60 days", "over 60 days", "no deadline")
AGE_BUCKETS = ("0-7 days", "8-30 days", "31-60 days", "61-90 days", "over 90 days")


@router.get("/v1/stats/aging", response_model=AgingOut)
async def aging(user: User, conn: Conn) -> AgingOut:
    """Open work items (new, in progress, waiting on payer, appealed) against their deadlines, and by age."""
    left = work_items.c.deadline - func.current_date()
    deadline_bucket = case(
        (work_items.c.deadline.is_(None), literal("no deadline")),
        (left < 0, literal("overdue")),
        (left <= 7, literal("0-7 days")),
        (left <= 30, literal("8-30 days")),
        (left <= 60, literal("31-60 days")),
        else_=literal("over 60 days"),
    )
    age = func.current_date() - cast(work_items.c.created_at, Date)
    age_bucket = case(
        (age <= 7, literal("0-7 days")),
        (age <= 30, literal("8-30 days")),
        (age <= 60, literal("31-60 days")),
        (age <= 90, literal("61-90 days")),
        else_=literal("over 90 days"),
    )

    async def buckets(bucket: Any, names: tuple[str, ...]) -> list[AgingBucket]:
        stmt = scoped(
            select(bucket, func.count(), func.coalesce(func.sum(work_items.c.amount_at_risk), 0)),
            user.scope,
        )
        stmt = stmt.where(and_(work_items.c.status.in_(OPEN_STATUSES))).group_by(bucket)
        found = {name: (n, amount) for name, n, amount in await conn.execute(stmt)}
        return [
            AgingBucket(
                bucket=name,
                items=found.get(name, (0, 0))[0],
                dollars_at_risk=Decimal(found.get(name, (0, 0))[1]),
            )
            for name in names
        ]

    return AgingOut(
        by_deadline=await buckets(deadline_bucket, DEADLINE_BUCKETS),
        by_age=await buckets(age_bucket, AGE_BUCKETS),
    )
