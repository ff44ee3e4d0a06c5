"""The HTTP gateway: the only way billers and other systems reach the queues.

Every request is authenticated; the caller's scope comes from the stored user, never the request.
Another practice's item answers 404, exactly like a missing one.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine

from services.queues.gateway.admission import FairAdmission
from services.queues.gateway.auths import router as auths_router
from services.queues.gateway.console import router as console_router
from services.queues.gateway.deps import User
from services.queues.gateway.guard import GatewayGuard
from services.queues.gateway.intake import MAX_UPLOAD_BYTES
from services.queues.gateway.intake import router as intake_router
from services.queues.gateway.items import router as items_router
from services.queues.gateway.jwt import JwtVerifier
from services.queues.gateway.session import router as session_router
from services.queues.gateway.users import router as users_router
from services.queues.gateway.views import router as views_router
from shared.runtime.db import make_engine
from shared.runtime.security import kafka_security
from shared.runtime.service import database_ready
from shared.runtime.settings import Settings, get_settings


class ErrorBody(BaseModel):
    error: str
    detail: str


POOL_SIZE = 10  # database connections per gateway process


def admission_limit(engine: AsyncEngine | None) -> int:
    """One less than the connections the process's pool can hand out (its own, or a given engine's)."""
    pool = getattr(engine, "pool", None)
    if pool is None:
        return POOL_SIZE - 1
    size = getattr(pool, "size", None)
    overflow = getattr(pool, "_max_overflow", 0)
    if not callable(size):
        return POOL_SIZE - 1  # a pool without a fixed size (NullPool opens a connection per checkout)
    return max(1, int(size()) + max(0, int(overflow)) - 1)


def create_app(settings: Settings | None = None, engine: AsyncEngine | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.jwt = (
            JwtVerifier(settings.jwt_public_keys, settings.jwt_issuer, settings.jwt_audience)
            if settings.jwt_public_keys
            else None
        )
        app.state.engine = engine or make_engine(
            settings.database_url, pool_size=POOL_SIZE, max_overflow=0, pre_ping=False
        )  # one worker's pool: no round trip before each request, no reconnecting under load
        app.state.broker = KafkaBroker(
            settings.kafka_bootstrap_servers,
            enable_idempotence=True,
            client_id="claimline-gateway",
            max_request_size=MAX_UPLOAD_BYTES + 1024 * 1024,
            logger=None,
            security=kafka_security(settings),
        )
        await app.state.broker.connect()
        try:
            yield
        finally:
            await app.state.broker.stop()
            if engine is None:
                await app.state.engine.dispose()

    app = FastAPI(
        title="claimline gateway",
        version="1",
        lifespan=lifespan,
        responses={401: {"model": ErrorBody}, 404: {"model": ErrorBody}},
    )

    # NUL in the URL refused with 400; API answers marked no-store (plain ASGI: cheaper per request).
    app.add_middleware(GatewayGuard)
    # At most pool - 1 API requests in flight per process, the rest in arrival order (admission.py).
    app.add_middleware(FairAdmission, limit=admission_limit(engine))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:10])
        return JSONResponse({"error": "invalid_request", "detail": problems}, status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        names = {
            400: "bad_request",
            401: "unauthenticated",
            403: "forbidden",
            404: "not_found",
            409: "conflict",
            413: "too_large",
        }
        return JSONResponse(
            {"error": names.get(exc.status_code, "error"), "detail": exc.detail},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    app.include_router(views_router)
    app.include_router(items_router)
    app.include_router(session_router)
    app.include_router(console_router)
    app.include_router(intake_router)
    app.include_router(users_router)
    app.include_router(auths_router)

    @app.get("/health/live", include_in_schema=False)
    async def live() -> dict[str, str]:
        return {"status": "live"}

    @app.get("/health/ready", include_in_schema=False)
    async def ready(request: Request) -> JSONResponse:
        ok = await database_ready(request.app.state.engine)
        return JSONResponse({"database": ok}, status_code=200 if ok else 503)

    @app.get("/v1/me")
    async def me(user: User) -> dict[str, Any]:
        """Who the token belongs to and what it may see."""
        return {
            "username": user.username,
            "role": user.role.value,
            "practices": list(user.scope.practices) if user.scope.practices is not None else "all",
            "providers": list(user.scope.providers),
        }

    from shared.runtime.metrics import install_http_metrics  # last: it measures every other middleware too

    install_http_metrics(app)
    return app
