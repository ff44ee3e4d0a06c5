"""Dependencies every gateway route uses: a database connection, the authenticated user, the broker."""

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncConnection

from services.queues.adapters.repository import principal_for_token, principal_for_username
from services.queues.domain.scope import Principal, Role
from services.queues.gateway.jwt import JwtVerifier
from shared.runtime.settings import Settings

bearer = HTTPBearer(auto_error=False)


async def connection(request: Request) -> AsyncIterator[AsyncConnection]:
    async with request.app.state.engine.connect() as conn:
        yield conn


Conn = Annotated[AsyncConnection, Depends(connection)]


async def current_user(
    request: Request, conn: Conn, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    token = credentials.credentials
    verifier: JwtVerifier | None = request.app.state.jwt
    if verifier is not None and token.count(".") == 2:
        username = verifier.subject(token)
        principal = await principal_for_username(conn, username) if username else None
    else:
        principal = await principal_for_token(conn, token)
    if principal is None:
        raise HTTPException(401, "the token is not valid", headers={"WWW-Authenticate": "Bearer"})
    return principal


User = Annotated[Principal, Depends(current_user)]


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def broker_of(request: Request) -> Any:
    return request.app.state.broker


async def admin_user(user: User) -> Principal:
    if user.role is not Role.ADMIN:
        raise HTTPException(403, "this needs the admin role")
    return user


Admin = Annotated[Principal, Depends(admin_user)]
AppSettings = Annotated[Settings, Depends(settings_of)]
Broker = Annotated[Any, Depends(broker_of)]
