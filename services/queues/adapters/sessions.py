"""Console sessions: a signed-in browser holds a random value in an HttpOnly cookie; only its hash is stored.

A session ends at the first of: sign-out, IDLE minutes without a request (automatic logoff), LIFETIME after
sign-in, or the user being deactivated. Every request re-reads the user, so a scope change applies at once.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.queues.adapters.orm import console_sessions, users
from services.queues.domain.scope import Principal, Role, Scope

IDLE = timedelta(minutes=30)
LIFETIME = timedelta(hours=12)


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


async def open_session(conn: AsyncConnection, username: str) -> str:
    """A new session for an active user; returns the cookie value (never stored)."""
    user_id = (
        await conn.execute(
            select(users.c.user_id).where(users.c.username == username, users.c.active.is_(True))
        )
    ).scalar_one()
    value = secrets.token_urlsafe(32)
    now = func.now()
    await conn.execute(
        console_sessions.insert().values(
            session_hash=_hash(value),
            user_id=user_id,
            expires_at=now + LIFETIME,
            idle_until=now + IDLE,
        )
    )
    # Sessions that ended are removed as new ones start, so the table holds only live ones.
    await conn.execute(
        delete(console_sessions).where(
            (console_sessions.c.idle_until < now) | (console_sessions.c.expires_at < now)
        )
    )
    return value


async def principal_for_session(conn: AsyncConnection, value: str) -> Principal | None:
    """The user of a live session, extending its idle deadline (never past its absolute end)."""
    stmt = (
        update(console_sessions)
        .where(
            console_sessions.c.session_hash == _hash(value),
            console_sessions.c.idle_until > func.now(),
            console_sessions.c.expires_at > func.now(),
            users.c.user_id == console_sessions.c.user_id,
            users.c.active.is_(True),
        )
        .values(idle_until=func.least(func.now() + IDLE, console_sessions.c.expires_at))
        .returning(users.c.username, users.c.role, users.c.practices, users.c.providers)
    )
    row = (await conn.execute(stmt)).first()
    if row is None:
        return None
    role = Role(row.role)
    return Principal(row.username, role, Scope.for_user(role, tuple(row.practices), tuple(row.providers)))


async def close_session(conn: AsyncConnection, value: str) -> None:
    await conn.execute(delete(console_sessions).where(console_sessions.c.session_hash == _hash(value)))


async def close_sessions_of(conn: AsyncConnection, user_id: uuid.UUID) -> None:
    """Every console session of a user (on deactivation)."""
    await conn.execute(delete(console_sessions).where(console_sessions.c.user_id == user_id))
