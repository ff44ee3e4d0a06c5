"""The gateway's fair admission: requests beyond the limit are served in arrival order, none is
overtaken by a later one, and a client that goes away never keeps a slot."""

from __future__ import annotations

import asyncio

import pytest
from starlette.types import Message, Receive, Scope, Send

from services.queues.gateway.admission import FairAdmission


class Held:
    """An app whose requests run until released, recording the order they started in."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.release: dict[str, asyncio.Event] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        name = scope["name"]
        self.started.append(name)
        self.release.setdefault(name, asyncio.Event())
        await self.release[name].wait()


def request(name: str, path: str = "/v1/work-items") -> Scope:
    return {"type": "http", "path": path, "name": name}


async def receive() -> Message:
    return {"type": "http.request", "body": b""}


async def send(message: Message) -> None:
    pass


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_requests_over_the_limit_start_in_arrival_order_and_none_is_overtaken():
    app = Held()
    door = FairAdmission(app, limit=2)
    tasks = {}
    for name in ("a", "b", "c", "d", "e"):
        app.release[name] = asyncio.Event()
        tasks[name] = asyncio.create_task(door(request(name), receive, send))
        await settle()
    assert app.started == ["a", "b"] and door.active == 2 and len(door.waiting) == 3

    # a slot frees and a newcomer arrives in the same instant: the longest waiting goes first
    app.release["a"].set()
    app.release["late"] = asyncio.Event()
    tasks["late"] = asyncio.create_task(door(request("late"), receive, send))
    await settle()
    assert app.started == ["a", "b", "c"]

    for name in ("b", "c", "d", "e", "late"):
        app.release[name].set()
        await settle()
    await asyncio.gather(*tasks.values())
    assert app.started == ["a", "b", "c", "d", "e", "late"]
    assert door.active == 0 and not door.waiting


async def test_a_client_that_goes_away_while_waiting_keeps_no_slot():
    app = Held()
    door = FairAdmission(app, limit=1)
    for name in ("a", "b", "c"):
        app.release[name] = asyncio.Event()
    first = asyncio.create_task(door(request("a"), receive, send))
    await settle()
    gone = asyncio.create_task(door(request("b"), receive, send))
    last = asyncio.create_task(door(request("c"), receive, send))
    await settle()
    gone.cancel()
    await settle()
    app.release["a"].set()
    app.release["c"].set()
    await asyncio.gather(first, last)
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert app.started == ["a", "c"]
    assert door.active == 0 and not door.waiting


async def test_a_slot_handed_to_a_client_that_just_left_passes_on():
    app = Held()
    door = FairAdmission(app, limit=1)
    for name in ("a", "b", "c"):
        app.release[name] = asyncio.Event()
    first = asyncio.create_task(door(request("a"), receive, send))
    await settle()
    leaving = asyncio.create_task(door(request("b"), receive, send))
    last = asyncio.create_task(door(request("c"), receive, send))
    await settle()
    app.release["a"].set()  # hands the slot to b ...
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    leaving.cancel()  # ... which goes away before it runs
    app.release["c"].set()
    await asyncio.gather(first, last, leaving, return_exceptions=True)
    assert "c" in app.started
    assert door.active == 0 and not door.waiting


@pytest.mark.parametrize("path", ["/health/ready", "/health/live", "/metrics", "/console/", "/openapi.json"])
async def test_only_api_requests_wait_probes_metrics_and_static_files_never(path):
    app = Held()
    door = FairAdmission(app, limit=1)
    app.release["busy"] = asyncio.Event()
    busy = asyncio.create_task(door(request("busy"), receive, send))
    await settle()
    app.release["probe"] = asyncio.Event()
    app.release["probe"].set()
    await asyncio.wait_for(door(request("probe", path), receive, send), 1)
    assert app.started == ["busy", "probe"]
    app.release["busy"].set()
    await busy
    assert door.active == 0


async def test_a_request_that_waits_too_long_is_answered_busy_and_leaves_the_line():
    app = Held()
    door = FairAdmission(app, limit=1, max_wait=0.05)
    app.release["busy"] = asyncio.Event()
    busy = asyncio.create_task(door(request("busy"), receive, send))
    await settle()
    sent: list[Message] = []

    async def capture(message: Message) -> None:
        sent.append(message)

    await asyncio.wait_for(door(request("late"), receive, capture), 2)

    assert "late" not in app.started
    assert sent[0]["status"] == 503 and (b"retry-after", b"1") in sent[0]["headers"]
    assert b'"error":"busy"' in sent[1]["body"]
    assert not door.waiting and door.active == 1
    app.release["busy"].set()
    await busy
    assert door.active == 0


def test_the_limit_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        FairAdmission(Held(), limit=0)
