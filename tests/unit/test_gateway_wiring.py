"""How the gateway is put together: the admission limit follows its pool, and only routes that hold
nothing between statements run without a transaction block."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from services.queues.gateway.admission import FairAdmission
from services.queues.gateway.app import POOL_SIZE, admission_limit, create_app
from services.queues.gateway.deps import AUTOCOMMIT_MARK

URL = "postgresql+asyncpg://nobody:nothing@127.0.0.1:1/none"  # never connected to


def test_the_admission_limit_leaves_one_connection_of_the_pool_free():
    assert admission_limit(None) == POOL_SIZE - 1
    small = create_async_engine(URL, pool_size=3, max_overflow=0)
    assert admission_limit(small) == 2
    overflowing = create_async_engine(URL, pool_size=3, max_overflow=2)
    assert admission_limit(overflowing) == 4
    tiny = create_async_engine(URL, pool_size=1, max_overflow=0)
    assert admission_limit(tiny) == 1
    assert admission_limit(create_async_engine(URL, poolclass=NullPool)) == POOL_SIZE - 1


def test_the_app_admits_by_its_engines_pool():
    app = create_app(engine=create_async_engine(URL, pool_size=4, max_overflow=0))
    admission = [m for m in app.user_middleware if m.cls is FairAdmission]  # type: ignore[comparison-overlap]
    assert len(admission) == 1 and admission[0].kwargs["limit"] == 3


def api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # FastAPI's included routers
            yield from api_routes(route.original_router.routes)


def test_only_the_queue_page_runs_without_a_transaction_block():
    """AUTOCOMMIT releases row locks and snapshots after each statement: a route that locks a row
    and then reads (the history) or writes more than one row must keep its transaction."""
    routes = list(api_routes(create_app().routes))
    assert any(r.path == "/v1/work-items/{item_id}/history" for r in routes)  # the walk finds them all
    marked = {
        (route.path, tuple(sorted(route.methods or ())))
        for route in routes
        if getattr(route.endpoint, AUTOCOMMIT_MARK, False)
    }
    assert marked == {("/v1/work-items", ("GET",))}
