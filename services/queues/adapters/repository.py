"""Scoped reads of work items. Every query is filtered by the caller's scope; there is no unscoped lookup."""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, or_, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.queues.adapters.orm import claim_ack_lines, files, practices, remit_lines, users, work_items
from services.queues.domain.scope import Principal, Role, Scope

MAX_PAGE = 200
# What a page shows of each item: everything but the decision behind it (`detail`, read per item) and
# bookkeeping. Leaving `detail` out spares decoding 50 JSON documents nobody sees.
PAGE_COLUMNS = tuple(
    c for c in work_items.c if c.name not in ("detail", "file_id", "source_event_id", "revision")
)
# The page's keys as plain str: SQLAlchemy's column names are a str subclass, which JSON writers
# handle through a slow path (probing it for a dozen other types) for every key of every row.
PAGE_KEYS = tuple(str(c.name) for c in PAGE_COLUMNS)


class BadCursor(ValueError):
    pass


def scoped(stmt: Select[Any], scope: Scope) -> Select[Any]:
    if scope.practices is not None:
        stmt = stmt.where(work_items.c.practice_id.in_(scope.practices))
    if scope.providers:
        stmt = stmt.where(work_items.c.provider_npi.in_(scope.providers))
    return stmt


def encode_cursor(priority: int, item_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{priority}:{item_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        priority, item = raw.split(":", 1)
        return int(priority), uuid.UUID(item)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadCursor("cursor is not one this API issued") from exc


@dataclass(frozen=True)
class ItemFilters:
    practice_id: str | None = None
    category: str | None = None
    queue: str | None = None
    status: str | None = None
    kind: str | None = None
    payer: str | None = None
    assignee: str | None = None
    older_than_days: int | None = None
    min_amount: Decimal | None = None


class WorkItems:
    def __init__(self, conn: AsyncConnection, scope: Scope):
        self.conn = conn
        self.scope = scope

    async def page(
        self, filters: ItemFilters, limit: int, after: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        limit = max(1, min(limit, MAX_PAGE))
        stmt = scoped(select(*PAGE_COLUMNS), self.scope)
        for column in ("practice_id", "category", "queue", "status", "kind", "assignee"):
            value = getattr(filters, column)
            if value is not None:
                stmt = stmt.where(work_items.c[column] == value)
        if filters.payer is not None:
            stmt = stmt.where(work_items.c.payer_name.ilike(f"%{filters.payer}%"))
        if filters.older_than_days is not None:
            stmt = stmt.where(work_items.c.created_at <= func.now() - timedelta(days=filters.older_than_days))
        if filters.min_amount is not None:
            stmt = stmt.where(work_items.c.amount_at_risk >= filters.min_amount)
        if after:
            # One row comparison in the index's own order, so the scan starts at the cursor instead of
            # filtering every row above it (the (practice_id, priority, item_id) index, read backward).
            priority, item_id = decode_cursor(after)
            stmt = stmt.where(tuple_(work_items.c.priority, work_items.c.item_id) < tuple_(priority, item_id))
        stmt = stmt.order_by(work_items.c.priority.desc(), work_items.c.item_id.desc()).limit(limit + 1)
        rows = [dict(zip(PAGE_KEYS, r, strict=True)) for r in await self.conn.execute(stmt)]
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = encode_cursor(rows[-1]["priority"], rows[-1]["item_id"])
        return rows, next_cursor

    async def get(self, item_id: uuid.UUID) -> dict[str, Any] | None:
        stmt = scoped(select(work_items).where(work_items.c.item_id == item_id), self.scope)
        row = (await self.conn.execute(stmt)).first()
        return dict(row._mapping) if row else None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# Built once: every request runs it, and building a statement costs more than running a cached one.
_USER_BY_TOKEN = select(users).where(users.c.token_hash == bindparam("token_hash"), users.c.active.is_(True))


async def principal_for_token(conn: AsyncConnection, token: str) -> Principal | None:
    row = (await conn.execute(_USER_BY_TOKEN, {"token_hash": hash_token(token)})).first()
    if row is None:
        return None
    role = Role(row.role)
    return Principal(row.username, role, Scope.for_user(role, tuple(row.practices), tuple(row.providers)))


async def principal_for_username(conn: AsyncConnection, username: str) -> Principal | None:
    """For identity-provider tokens: the user named by the token's subject, with the scope we store."""
    row = (
        await conn.execute(select(users).where(users.c.username == username, users.c.active.is_(True)))
    ).first()
    if row is None:
        return None
    role = Role(row.role)
    return Principal(row.username, role, Scope.for_user(role, tuple(row.practices), tuple(row.providers)))


async def create_user(
    conn: AsyncConnection,
    username: str,
    role: Role,
    practices: tuple[str, ...] = (),
    providers: tuple[str, ...] = (),
    token: str | None = None,
) -> str:
    """Create or replace a user and return the API token (shown once; only its hash is stored)."""
    token = token or f"cl_{secrets.token_urlsafe(32)}"
    values = {
        "user_id": uuid.uuid4(),
        "username": username,
        "role": role.value,
        "practices": list(practices),
        "providers": list(providers),
        "token_hash": hash_token(token),
        "active": True,
    }
    stmt = pg_insert(users).values(**values)
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[users.c.username],
            set_={k: stmt.excluded[k] for k in ("role", "practices", "providers", "token_hash", "active")},
        )
    )
    return token


class Files:
    """Received files, as far as the caller's scope reaches: a biller sees a file that touched one of their
    practices (only their practices' counts) or that they submitted; supervisors see every file."""

    def __init__(self, conn: AsyncConnection, principal: Principal):
        self.conn = conn
        self.principal = principal

    def _visible(self, stmt: Select[Any]) -> Select[Any]:
        scope = self.principal.scope
        if scope.practices is None:
            return stmt
        return stmt.where(
            or_(
                files.c.practice_ids.overlap(list(scope.practices)),
                files.c.submitted_by == self.principal.username,
            )
        )

    def _trim(self, row: dict[str, Any]) -> dict[str, Any]:
        scope = self.principal.scope
        if scope.practices is not None:
            row["practices"] = {p: n for p, n in row["practices"].items() if p in scope.practices}
            row["practice_ids"] = sorted(row["practices"])
        return row

    async def get(self, file_id: str) -> dict[str, Any] | None:
        row = (
            await self.conn.execute(self._visible(select(files).where(files.c.file_id == file_id)))
        ).first()
        return self._trim(dict(row._mapping)) if row else None

    async def recent(self, limit: int) -> list[dict[str, Any]]:
        stmt = (
            self._visible(select(files))
            .order_by(files.c.last_submitted_at.desc())
            .limit(min(limit, MAX_PAGE))
        )
        return [self._trim(dict(r._mapping)) for r in await self.conn.execute(stmt)]


class Practices:
    def __init__(self, conn: AsyncConnection, scope: Scope):
        self.conn = conn
        self.scope = scope

    async def visible(self) -> list[dict[str, Any]]:
        stmt = select(practices).order_by(practices.c.practice_id)
        if self.scope.practices is not None:
            stmt = stmt.where(practices.c.practice_id.in_(self.scope.practices))
        return [dict(r._mapping) for r in await self.conn.execute(stmt)]

    async def owners_of(self, kind: str, values: list[str]) -> dict[str, str]:
        """Which practice each identifier already routes to (for conflict checks by admins)."""
        column = {
            "payee_npi": practices.c.payee_npis,
            "payee_tin": practices.c.payee_tins,
            "rendering_npi": practices.c.rendering_npis,
        }[kind]
        owners: dict[str, str] = {}
        for row in await self.conn.execute(
            select(practices.c.practice_id, column).where(column.overlap(values))
        ):
            for value in row[1]:
                if value in values:
                    owners[value] = row[0]
        return owners


def scoped_lines(stmt: Select[Any], scope: Scope) -> Select[Any]:
    if scope.practices is not None:
        stmt = stmt.where(remit_lines.c.practice_id.in_(scope.practices))
    if scope.providers:
        stmt = stmt.where(remit_lines.c.provider_npi.in_(scope.providers))
    return stmt


class Remittances:
    """The ERA review: one remittance (by its trace number) line by line, as far as the scope reaches."""

    def __init__(self, conn: AsyncConnection, scope: Scope):
        self.conn = conn
        self.scope = scope

    async def lines(self, trace_number: str) -> list[dict[str, Any]]:
        stmt = scoped_lines(select(remit_lines).where(remit_lines.c.trace_number == trace_number), self.scope)
        stmt = stmt.order_by(
            remit_lines.c.claim_id, remit_lines.c.claim_status_code.desc(), remit_lines.c.line_number
        )
        return [dict(r._mapping) for r in await self.conn.execute(stmt)]

    async def provider_adjustments(self, trace_number: str, lines_seen: int) -> tuple[list[Decimal], bool]:
        """The PLB amounts of a remittance in the scope, and whether the scope covers the whole payment
        (every line and every PLB of the trace): only then can the lines be reconciled with the check."""
        on_trace = and_(
            work_items.c.kind == "provider_adjustment",
            work_items.c.detail["remittance"]["trace_number"].as_string() == trace_number,
        )
        amounts = [
            Decimal(a)
            for (a,) in await self.conn.execute(
                scoped(select(work_items.c.detail["amount"].as_string()).where(on_trace), self.scope)
            )
        ]
        if self.scope.everything:
            return amounts, True
        all_lines = (
            await self.conn.execute(
                select(func.count())
                .select_from(remit_lines)
                .where(remit_lines.c.trace_number == trace_number)
            )
        ).scalar_one()
        all_plb = (
            await self.conn.execute(select(func.count()).select_from(work_items).where(on_trace))
        ).scalar_one()
        return amounts, all_lines == lines_seen and all_plb == len(amounts)

    async def recent(self, limit: int) -> list[dict[str, Any]]:
        stmt = scoped_lines(
            select(
                remit_lines.c.trace_number,
                remit_lines.c.payer_name,
                remit_lines.c.payment_date,
                func.count().label("lines"),
                func.sum(remit_lines.c.paid).label("paid"),
                func.array_agg(func.distinct(remit_lines.c.practice_id)).label("practice_ids"),
            ),
            self.scope,
        ).where(remit_lines.c.trace_number.is_not(None))
        stmt = stmt.group_by(remit_lines.c.trace_number, remit_lines.c.payer_name, remit_lines.c.payment_date)
        stmt = stmt.order_by(remit_lines.c.payment_date.desc().nulls_last(), remit_lines.c.trace_number)
        return [dict(r._mapping) for r in await self.conn.execute(stmt.limit(min(limit, MAX_PAGE)))]


class Claims:
    """One claim: every adjudicated line and every open finding of it, within the scope."""

    def __init__(self, conn: AsyncConnection, scope: Scope):
        self.conn = conn
        self.scope = scope

    async def view(
        self, claim_id: str, practice_id: str | None
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        lines_stmt = scoped_lines(select(remit_lines).where(remit_lines.c.claim_id == claim_id), self.scope)
        items_stmt = scoped(select(work_items).where(work_items.c.claim_id == claim_id), self.scope)
        if practice_id is not None:
            lines_stmt = lines_stmt.where(remit_lines.c.practice_id == practice_id)
            items_stmt = items_stmt.where(work_items.c.practice_id == practice_id)
        lines = [
            dict(r._mapping)
            for r in await self.conn.execute(
                lines_stmt.order_by(remit_lines.c.received_at, remit_lines.c.line_number)
            )
        ]
        items = [
            dict(r._mapping)
            for r in await self.conn.execute(
                items_stmt.order_by(work_items.c.priority.desc(), work_items.c.item_id)
            )
        ]
        return lines, items


async def acknowledged_lines(
    conn: AsyncConnection, claims: set[tuple[str, str]]
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The 277CA echo of the lines of these (practice, claim) pairs; callers pass only pairs in scope."""
    if not claims:
        return {}
    rows = await conn.execute(
        select(claim_ack_lines).where(
            tuple_(claim_ack_lines.c.practice_id, claim_ack_lines.c.claim_id).in_(sorted(claims))
        )
    )
    found: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        found.setdefault((r.practice_id, r.claim_id), []).append(dict(r._mapping))
    return found
