"""The gateway's door, as one plain ASGI middleware: refuse NUL in the URL, and mark API answers no-store.

Plain ASGI rather than `@app.middleware("http")`: Starlette's BaseHTTPMiddleware runs the rest of the app
in a task and relays the response through a memory stream, which cost more CPU per request than the
two checks themselves (0.3-0.6 ms per layer in `bench/`)."""

from __future__ import annotations

import json
from urllib.parse import unquote

from starlette.datastructures import URL, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

NUL_REFUSAL = {"error": "bad_request", "detail": "NUL characters are not allowed in the URL"}
NUL_BODY = json.dumps(NUL_REFUSAL, separators=(",", ":")).encode()  # as JSONResponse renders it


class GatewayGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        url = URL(scope=scope)
        api = url.path.startswith("/v1/")

        async def send_marked(message: Message) -> None:
            if api and message["type"] == "http.response.start":
                # API answers carry patient data: no browser or proxy may keep a copy.
                headers = MutableHeaders(scope=message)
                headers.setdefault("Cache-Control", "no-store")
                headers.setdefault("X-Content-Type-Options", "nosniff")
            await send(message)

        if "\x00" in unquote(url.path) or "\x00" in unquote(url.query):
            # PostgreSQL text cannot hold NUL: refuse it at the door instead of failing in a query.
            await send_marked(
                {
                    "type": "http.response.start",
                    "status": 400,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(NUL_BODY)).encode()),
                    ],
                }
            )
            await send_marked({"type": "http.response.body", "body": NUL_BODY})
            return
        await self.app(scope, receive, send_marked)
