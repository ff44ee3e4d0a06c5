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
requests can never all hold one and wait for another. Health probes are never held back.
"""

from __future__ import annotations

import asyncio
from collections import deque

from starlette.types import ASGIApp, Receive, Scope, Send


class FairAdmission:
    def __init__(self, app: ASGIApp, limit: int) -> None:
        if limit < 1:
            raise ValueError("the admission limit must be at least 1")
        self.app = app
        self.limit = limit
        self.active = 0
        self.waiting: deque[asyncio.Future[None]] = deque()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/health/"):
            await self.app(scope, receive, send)
            return
        await self._enter()
        try:
            await self.app(scope, receive, send)
        finally:
            self._leave()

    async def _enter(self) -> None:
        if self.active < self.limit and not self.waiting:
            self.active += 1
            return
        turn = asyncio.get_running_loop().create_future()
        self.waiting.append(turn)
        try:
            await turn  # resolved by `_leave`, which hands over its slot: `active` is unchanged
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._leave()  # the slot was handed over as the client went away: pass it on
            elif turn in self.waiting:
                self.waiting.remove(turn)
            raise

    def _leave(self) -> None:
        while self.waiting:
            turn = self.waiting.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        self.active -= 1
