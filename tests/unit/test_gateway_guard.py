"""The gateway's door: NUL in the URL is refused, API answers are never cached."""

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.queues.gateway.guard import GatewayGuard


async def ok(request: Request) -> Response:
    return JSONResponse({"ok": True})


async def cached(request: Request) -> Response:
    return JSONResponse({"ok": True}, headers={"Cache-Control": "private, max-age=60"})


APP = GatewayGuard(
    Starlette(routes=[Route("/v1/items", ok), Route("/v1/cached", cached), Route("/health/live", ok)])
)


async def get(url: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=APP), base_url="http://gw") as client:
        return await client.get(url)


async def test_nul_in_the_path_or_query_is_refused_with_400() -> None:
    for url in ("/v1/items%00", "/v1/items?queue=a%00b"):
        response = await get(url)
        assert response.status_code == 400
        assert response.json() == {
            "error": "bad_request",
            "detail": "NUL characters are not allowed in the URL",
        }
        assert response.headers["cache-control"] == "no-store"


async def test_api_answers_are_marked_no_store_and_nosniff() -> None:
    response = await get("/v1/items?queue=authorization")
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_a_route_that_sets_its_own_cache_control_keeps_it_and_health_is_not_marked() -> None:
    assert (await get("/v1/cached")).headers["cache-control"] == "private, max-age=60"
    health = await get("/health/live")
    assert health.status_code == 200
    assert "cache-control" not in health.headers
