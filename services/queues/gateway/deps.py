"""Dependencies every gateway route uses: a database connection, the authenticated user, the broker."""

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, ParamSpec, TypeVar

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncConnection

from services.queues.adapters.repository import principal_for_token, principal_for_username
from services.queues.adapters.sessions import principal_for_session
from services.queues.domain.scope import Principal, Role
from services.queues.gateway.jwt import JwtVerifier
from shared.runtime.settings import Settings

bearer = HTTPBearer(auto_error=False)
P = ParamSpec("P")
T = TypeVar("T")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


AUTOCOMMIT_MARK = "__claimline_autocommit__"


def without_transaction(endpoint: Callable[P, T]) -> Callable[P, T]:
    """Mark a read-only route whose statements need no transaction block between them.

    Its connection runs in AUTOCOMMIT: no BEGIN and ROLLBACK round trips. Each statement sees its own
    snapshot, as under READ COMMITTED anyway, but nothing holds between statements (no row lock, no
    shared snapshot), so only routes that read independent rows may be marked."""
    setattr(endpoint, AUTOCOMMIT_MARK, True)
    return endpoint


async def connection(request: Request) -> AsyncIterator[AsyncConnection]:
    async with request.app.state.engine.connect() as conn:
        route = request.scope.get("route")
        if request.method in SAFE_METHODS and getattr(
            getattr(route, "endpoint", None), AUTOCOMMIT_MARK, False
        ):
            await conn.execution_options(isolation_level="AUTOCOMMIT")
        yield conn


Conn = Annotated[AsyncConnection, Depends(connection)]


SESSION_COOKIE = "claimline_session"
CONSOLE_HEADER = "x-claimline-console"


async def principal_from_token(request: Request, conn: AsyncConnection, token: str) -> Principal | None:
    """The user of an identity provider's JWT (when keys are configured) or of an API token."""
    verifier: JwtVerifier | None = request.app.state.jwt
    if verifier is not None and token.count(".") == 2:
        username = verifier.subject(token)
        return await principal_for_username(conn, username) if username else None
    return await principal_for_token(conn, token)


async def current_user(
    request: Request, conn: Conn, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    """A bearer token (other systems, the CLI) or a console session cookie (browsers)."""
    if credentials is not None and credentials.scheme.lower() == "bearer":
        principal = await principal_from_token(request, conn, credentials.credentials)
        if principal is None:
            raise HTTPException(401, "the token is not valid", headers={"WWW-Authenticate": "Bearer"})
        return principal
    session = request.cookies.get(SESSION_COOKIE)
    if session is None:
        raise HTTPException(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    if request.method not in SAFE_METHODS and request.headers.get(CONSOLE_HEADER) != "1":
        raise HTTPException(403, "console requests must carry the X-Claimline-Console header")
    # Its own short transaction, so the idle deadline moves even when the request only reads.
    async with request.app.state.engine.begin() as own:
        principal = await principal_for_session(own, session)
    if principal is None:
        raise HTTPException(
            401, "the session has ended: sign in again", headers={"WWW-Authenticate": "Bearer"}
        )
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
