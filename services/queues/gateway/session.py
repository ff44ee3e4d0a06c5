"""Console sign-in: a token (an API token or an identity provider's JWT) is exchanged once for a session
cookie, so the browser never keeps the token. The cookie is HttpOnly and SameSite=Strict; requests that
change something with it must also carry the X-Claimline-Console header, which another site's page
cannot send (no CORS is allowed), so a forged form post is refused."""

from typing import Annotated

from fastapi import APIRouter, Cookie, HTTPException, Request, Response
from pydantic import BaseModel, Field

from services.queues.adapters.sessions import LIFETIME, close_session, open_session
from services.queues.gateway.deps import SESSION_COOKIE, Conn, principal_from_token

router = APIRouter()


class SignIn(BaseModel):
    token: str = Field(min_length=1, max_length=8192, description="an API token or an OIDC/JWT bearer token")


class SignedIn(BaseModel):
    username: str
    role: str


@router.post("/v1/session", response_model=SignedIn)
async def sign_in(body: SignIn, request: Request, response: Response, conn: Conn) -> SignedIn:
    """Start a console session: sets the session cookie. The token is checked like a bearer token."""
    principal = await principal_from_token(request, conn, body.token)
    if principal is None:
        raise HTTPException(401, "the token is not valid")
    value = await open_session(conn, principal.username)
    await conn.commit()
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=int(LIFETIME.total_seconds()),
        path="/",
        # Secure whenever the browser reached us over TLS (directly, or through a proxy that says so).
        secure=request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https",
        httponly=True,
        samesite="strict",
    )
    return SignedIn(username=principal.username, role=principal.role.value)


@router.delete("/v1/session", status_code=204)
async def sign_out(
    request: Request, conn: Conn, session: Annotated[str | None, Cookie(alias=SESSION_COOKIE)] = None
) -> Response:
    """End the console session (if any) and clear the cookie."""
    if session is not None:
        if request.headers.get("x-claimline-console") != "1":
            raise HTTPException(403, "console requests must carry the X-Claimline-Console header")
        await close_session(conn, session)
        await conn.commit()
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response
