"""Working an item: assign, claim, note, change status; every change is written to the audit trail.

Every method finds the item through the caller's scope first, so an item of another practice is
"not found", exactly like a missing one. The audit trail and notes are append-only (a database
trigger refuses UPDATE and DELETE on them).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from services.queues.adapters.orm import access_log, audit_log, notes, users, work_items
from services.queues.adapters.repository import scoped
from services.queues.domain.scope import Principal, Role


class Status(StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    WAITING_ON_PAYER = "waiting_on_payer"
    APPEALED = "appealed"
    RESOLVED = "resolved"
    WRITTEN_OFF = "written_off"


CLOSED = {Status.RESOLVED, Status.WRITTEN_OFF}


class NotFound(LookupError):
    """No such item in the caller's scope (missing, or another practice's: the same answer)."""


class NotAllowed(PermissionError):
    """The caller's role may not do this (for example a biller assigning work to someone else)."""


@dataclass(frozen=True)
class Change:
    item_id: uuid.UUID
    before: dict[str, Any]
    after: dict[str, Any]


class Work:
    def __init__(self, conn: AsyncConnection, principal: Principal):
        self.conn = conn
        self.principal = principal

    async def _locked(self, item_id: uuid.UUID) -> dict[str, Any]:
        stmt = scoped(select(work_items).where(work_items.c.item_id == item_id), self.principal.scope)
        row = (await self.conn.execute(stmt.with_for_update())).first()
        if row is None:
            raise NotFound(str(item_id))
        return dict(row._mapping)

    async def _audit(
        self, item: dict[str, Any], action: str, before: dict[str, Any] | None, after: dict[str, Any] | None
    ) -> None:
        await self.conn.execute(
            audit_log.insert().values(
                item_id=item["item_id"],
                practice_id=item["practice_id"],
                actor=self.principal.username,
                action=action,
                before=before,
                after=after,
            )
        )

    async def _set(self, item: dict[str, Any], action: str, **values: Any) -> Change:
        before = {k: _plain(item[k]) for k in values}
        after = {k: _plain(v) for k, v in values.items()}
        if before != after:
            await self.conn.execute(
                work_items.update()
                .where(work_items.c.item_id == item["item_id"])
                .values(**values, updated_at=func.now())
            )
            await self._audit(item, action, before, after)
        return Change(item["item_id"], before, after)

    async def assign(self, item_id: uuid.UUID, assignee: str | None) -> Change:
        """Supervisors give work to a biller whose scope covers the item; billers only take it themselves."""
        item = await self._locked(item_id)
        if assignee is not None and assignee != self.principal.username:
            if self.principal.role is not Role.SUPERVISOR:
                raise NotAllowed("only a supervisor assigns work to someone else")
            await self._check_assignee(assignee, item)
        elif (
            assignee is None
            and item["assignee"] not in (None, self.principal.username)
            and self.principal.role is not Role.SUPERVISOR
        ):
            raise NotAllowed("only a supervisor takes work away from someone else")
        return await self._set(item, "assign", assignee=assignee)

    async def claim(self, item_id: uuid.UUID) -> Change:
        item = await self._locked(item_id)
        if (
            item["assignee"] not in (None, self.principal.username)
            and self.principal.role is not Role.SUPERVISOR
        ):
            raise NotAllowed(f"the item is assigned to {item['assignee']}; ask a supervisor to reassign it")
        values: dict[str, Any] = {"assignee": self.principal.username}
        if item["status"] == Status.NEW:
            values["status"] = Status.IN_PROGRESS.value
        return await self._set(item, "claim", **values)

    async def set_status(self, item_id: uuid.UUID, status: Status, note: str | None = None) -> Change:
        item = await self._locked(item_id)
        change = await self._set(item, "status", status=status.value)
        if note:
            await self._note(item, note)
        return change

    async def add_note(self, item_id: uuid.UUID, text: str) -> dict[str, Any]:
        item = await self._locked(item_id)
        return await self._note(item, text)

    async def _note(self, item: dict[str, Any], text: str) -> dict[str, Any]:
        row = (
            await self.conn.execute(
                notes.insert()
                .values(
                    item_id=item["item_id"],
                    practice_id=item["practice_id"],
                    author=self.principal.username,
                    text=text,
                )
                .returning(notes)
            )
        ).one()
        await self._audit(item, "note", None, {"note_id": row.note_id})
        return dict(row._mapping)

    async def history(self, item_id: uuid.UUID) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        item = await self._locked(item_id)
        trail = await self.conn.execute(
            select(audit_log).where(audit_log.c.item_id == item["item_id"]).order_by(audit_log.c.entry_id)
        )
        written = await self.conn.execute(
            select(notes).where(notes.c.item_id == item["item_id"]).order_by(notes.c.note_id)
        )
        return [dict(r._mapping) for r in trail], [dict(r._mapping) for r in written]

    async def _check_assignee(self, assignee: str, item: dict[str, Any]) -> None:
        row = (
            await self.conn.execute(
                select(users.c.role, users.c.practices, users.c.providers, users.c.active).where(
                    users.c.username == assignee
                )
            )
        ).first()
        if row is None or not row.active:
            raise NotAllowed(f"{assignee} is not an active user")
        if row.role == Role.BILLER.value:
            if item["practice_id"] not in row.practices:
                raise NotAllowed(f"{assignee} does not work practice {item['practice_id']}")
            if row.providers and item["provider_npi"] not in row.providers:
                raise NotAllowed(f"{assignee} does not work this item's provider")
        elif row.role != Role.SUPERVISOR.value:
            raise NotAllowed(f"{assignee} does not work queues")


async def record_access(
    conn: AsyncConnection, principal: Principal, what: str, target: str, practice_ids: list[str]
) -> None:
    """Every read of patient data is logged: who, what view, which object, which practices, when."""
    await conn.execute(
        access_log.insert().values(
            actor=principal.username,
            role=principal.role.value,
            what=what,
            target=target[:500],
            practice_ids=sorted(set(practice_ids)),
        )
    )
    await conn.commit()


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, StrEnum) else value
