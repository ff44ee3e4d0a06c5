"""Fair admission: at most `limit` API requests of one gateway process in flight, the rest served in
arrival order.

Why: each request holds a pooled database connection for most of its life. When more requests than
connections are in flight, the pool's queue lets a newly arrived request take a connection that was
just handed back while earlier requests are still waiting for one (asyncio's queue lets the newcomer
barge in, and the woken waiter joins the back of the line again). Under load most requests were
fast and a few waited for seconds: 50 clients back to back gave a page p50 of 29 ms and a p99 of
1.7 s (`bench/gateway_load.py`). Here a finished request hands its slot straight to the longest
waiting one, so nobody is overtaken.

The limit is one less than the pool: a request that signs in with a console cookie takes a second
connection for its session's own short transaction, and with one connection always left over, such
requests can never all hold one and wait for another. Only API requests (`/v1/...`) are admitted
this way; health probes, `/metrics`, the console's static files and the API document never wait.
A request that waits longer than `max_wait` seconds (the pool's own timeout before this existed)
is answered 503 with Retry-After instead of waiting on, so an overloaded process sheds work.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque

from starlette.types import ASGIApp, Receive, Scope, Send

BUSY_BODY = json.dumps(
    {"error": "busy", "detail": "the gateway is at capacity: try again in a moment"}, separators=(",", ":")
).encode()


class FairAdmission:
    def __init__(self, app: ASGIApp, limit: int, max_wait: float = 30.0) -> None:
        if limit < 1:
            raise ValueError("the admission limit must be at least 1")
        self.app = app
        self.limit = limit
        self.max_wait = max_wait
        self.active = 0
        self.waiting: deque[asyncio.Future[bool]] = deque()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        if not await self._enter():
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(BUSY_BODY)).encode()),
                        (b"retry-after", b"1"),
                        (b"cache-control", b"no-store"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": BUSY_BODY})
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self._leave()

    async def _enter(self) -> bool:
        """True once this request holds a slot; False when it waited `max_wait` in vain."""
        if self.active < self.limit and not self.waiting:
            self.active += 1
            return True
        loop = asyncio.get_running_loop()
        turn: asyncio.Future[bool] = loop.create_future()  # True: `_leave` handed over its slot
        self.waiting.append(turn)

        def expire() -> None:
            if not turn.done():
                self.waiting.remove(turn)
                turn.set_result(False)

        timer = loop.call_later(self.max_wait, expire)
        try:
            return await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled() and turn.result():
                self._leave()  # the slot was handed over as the client went away: pass it on
            elif turn in self.waiting:
                self.waiting.remove(turn)
            raise
        finally:
            timer.cancel()

    def _leave(self) -> None:
        while self.waiting:
            turn = self.waiting.popleft()
            if not turn.done():
                turn.set_result(True)
                return
        self.active -= 1
