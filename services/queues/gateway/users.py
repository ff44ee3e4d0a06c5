"""Gateway routes for users (admins): who may sign in, with which role and scope."""

from typing import Annotated

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field
from sqlalchemy import select

from services.queues.adapters.orm import users
from services.queues.adapters.repository import create_user
from services.queues.adapters.sessions import close_sessions_of
from services.queues.domain.scope import Role
from services.queues.gateway.deps import Admin, Conn

router = APIRouter()


class UserIn(BaseModel):
    username: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,99}$")
    role: Role
    practices: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]] = []
    providers: list[Annotated[str, Field(pattern=r"^[0-9]{10}$")]] = []


class UserOut(BaseModel):
    username: str
    role: str
    practices: list[str]
    providers: list[str]
    active: bool


class NewUser(UserOut):
    token: str = Field(description="shown once; only its hash is stored")


@router.get("/v1/users", response_model=list[UserOut])
async def list_users(admin: Admin, conn: Conn) -> list[UserOut]:
    """Every user, for admins."""
    rows = await conn.execute(select(users).order_by(users.c.username))
    return [UserOut.model_validate(dict(r._mapping)) for r in rows]


@router.post("/v1/users", response_model=NewUser, status_code=201)
async def add_user(body: UserIn, admin: Admin, conn: Conn) -> NewUser:
    """Create (or replace) a user and return a new API token, once."""
    if body.role is Role.BILLER and not body.practices:
        raise HTTPException(400, "a biller needs at least one practice")
    token = await create_user(conn, body.username, body.role, tuple(body.practices), tuple(body.providers))
    # A replaced user (new token, perhaps a new scope) signs in to the console again.
    user_id = (
        await conn.execute(select(users.c.user_id).where(users.c.username == body.username))
    ).scalar_one()
    await close_sessions_of(conn, user_id)
    await conn.commit()
    return NewUser(
        username=body.username,
        role=body.role.value,
        practices=body.practices,
        providers=body.providers,
        active=True,
        token=token,
    )


@router.post("/v1/users/{username}/deactivate", response_model=UserOut)
async def deactivate(username: str, admin: Admin, conn: Conn) -> UserOut:
    """Stop a user's tokens from working, at once."""
    row = (
        await conn.execute(
            users.update().where(users.c.username == username).values(active=False).returning(users)
        )
    ).first()
    if row is None:
        raise HTTPException(404, "no such user")
    await close_sessions_of(conn, row.user_id)
    await conn.commit()
    return UserOut.model_validate(dict(row._mapping))
