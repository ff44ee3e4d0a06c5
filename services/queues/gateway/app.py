"""The HTTP gateway: the only way billers and other systems reach the queues.

Every request is authenticated; the caller's scope comes from the stored user, never the request.
Another practice's item answers 404, exactly like a missing one.
"""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncEngine

from services.queues.adapters.repository import BadCursor, ItemFilters, WorkItems
from services.queues.gateway.deps import Conn, User
from services.queues.gateway.intake import MAX_UPLOAD_BYTES
from services.queues.gateway.intake import router as intake_router
from shared.runtime.db import make_engine
from shared.runtime.service import database_ready
from shared.runtime.settings import Settings, get_settings


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


class ErrorBody(BaseModel):
    error: str
    detail: str


def create_app(settings: Settings | None = None, engine: AsyncEngine | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.engine = engine or make_engine(settings.database_url)
        app.state.broker = KafkaBroker(
            settings.kafka_bootstrap_servers,
            enable_idempotence=True,
            client_id="claimline-gateway",
            max_request_size=MAX_UPLOAD_BYTES + 1024 * 1024,
            logger=None,
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

    app.include_router(intake_router)

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

    @app.get("/v1/work-items", response_model=WorkItemPage)
    async def list_items(
        user: User,
        conn: Conn,
        practice_id: str | None = None,
        category: str | None = None,
        queue: str | None = None,
        status: str | None = None,
        kind: str | None = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        cursor: str | None = None,
    ) -> WorkItemPage:
        """Work items within the caller's scope, highest priority first, keyset-paginated."""
        repo = WorkItems(conn, user.scope)
        try:
            rows, next_cursor = await repo.page(
                ItemFilters(practice_id, category, queue, status, kind), limit, cursor
            )
        except BadCursor as exc:
            raise HTTPException(400, str(exc)) from None
        return WorkItemPage(items=[WorkItemOut.model_validate(r) for r in rows], next_cursor=next_cursor)

    @app.get("/v1/work-items/{item_id}", response_model=WorkItemDetail)
    async def get_item(item_id: uuid.UUID, user: User, conn: Conn) -> WorkItemDetail:
        """One work item with the decision or finding behind it."""
        row = await WorkItems(conn, user.scope).get(item_id)
        if row is None:
            raise HTTPException(404, "no such work item")
        return WorkItemDetail.model_validate(row)

    return app
