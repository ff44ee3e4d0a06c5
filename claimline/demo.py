"""The main job on one machine: start the stack and services, ingest the samples, show the queues."""

from __future__ import annotations

import asyncio
import os
import time
from decimal import Decimal
from typing import Any

import httpx

from claimline import processes, stack
from claimline.samples import PRACTICES, SAMPLES_DIR

DEMO_USERS = (
    # username, role, practices
    ("sam.supervisor", "supervisor", ()),
    ("dana.biller", "biller", ("desert-spine",)),
    ("lee.biller", "biller", ("lakeside-pain",)),
)


def _fetch_queue(url: str, token: str, limit: int = 200) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
        me = client.get("/v1/me")
        me.raise_for_status()
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": min(limit - len(items), 200)}
            if cursor:
                params["cursor"] = cursor
            page = client.get("/v1/work-items", params=params)
            page.raise_for_status()
            body = page.json()
            items.extend(body["items"])
            cursor = body["next_cursor"]
            if not cursor or len(items) >= limit:
                break
    return me.json(), items


def print_queue(url: str, token: str, limit: int = 50) -> int:
    try:
        me, items = _fetch_queue(url, token, limit)
    except httpx.HTTPStatusError as exc:
        print(f"gateway answered {exc.response.status_code}: {exc.response.text}")
        return 1
    except httpx.HTTPError as exc:
        print(f"cannot reach the gateway at {url}: {exc}")
        return 1
    scope = "all practices" if me["practices"] == "all" else ", ".join(me["practices"])
    total = sum((Decimal(i["amount_at_risk"]) for i in items), Decimal(0))
    print(f"\n== {me['username']} ({me['role']}, {scope}): {len(items)} open item(s), ${total} at risk")
    header = ("pri", "practice", "queue", "claim", "code", "at risk", "deadline", "summary")
    print(
        f"{header[0]:>3}  {header[1]:14} {header[2]:24} {header[3]:10} {header[4]:6} {header[5]:>9}  "
        f"{header[6]:10}  {header[7]}"
    )
    for i in items:
        print(
            f"{i['priority']:>3}  {i['practice_id'][:14]:14} {i['queue'][:24]:24} "
            f"{(i['claim_id'] or '-')[:10]:10} "
            f"{(i['procedure_code'] or '-')[:6]:6} {i['amount_at_risk']:>9}  {i['deadline'] or '-':10}  "
            f"{i['summary'][:110]}"
        )
    return 0


async def _setup_registry() -> dict[str, str]:
    from services.ingest.app import PracticeSpec, register_practice
    from services.queues.adapters.repository import create_user
    from services.queues.domain.scope import Role
    from shared.runtime.db import make_engine
    from shared.runtime.settings import Settings

    settings = Settings()
    engine = make_engine(settings.database_url)
    tokens = {}
    try:
        for practice_id, name, npi, tin in PRACTICES:
            await register_practice(engine, settings, PracticeSpec(practice_id, name, (npi,), (tin,)))
        async with engine.begin() as conn:
            for username, role, practices in DEMO_USERS:
                tokens[username] = await create_user(conn, username, Role(role), practices)
    finally:
        await engine.dispose()
    return tokens


def _wait_for_items(url: str, token: str, timeout: float = 90.0) -> int:
    deadline = time.monotonic() + timeout
    last, stable_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        _, items = _fetch_queue(url, token, limit=1000)
        if len(items) != last:
            last, stable_since = len(items), time.monotonic()
        elif last > 0 and time.monotonic() - stable_since > 3:
            return last
        time.sleep(0.5)
    return last


def run_demo(keep_running: bool = True) -> int:
    from shared.runtime.migrations import upgrade_all

    cfg = stack.StackConfig.from_env()
    stack.up(cfg)
    os.environ["KAFKA_BOOTSTRAP_SERVERS"] = cfg.bootstrap_servers
    os.environ["DATABASE_URL"] = cfg.database_url
    upgrade_all(cfg.database_url)
    tokens = asyncio.run(_setup_registry())
    token_file = cfg.state_dir / "demo-tokens.txt"
    token_file.write_text("".join(f"{user} {token}\n" for user, token in tokens.items()))
    token_file.chmod(0o600)
    processes.up(["ingest", "denials", "auths", "queues", "gateway"])

    from claimline.intake import ingest_files
    from shared.runtime.settings import Settings

    files = sorted((SAMPLES_DIR / "835").glob("*.835"))
    status = asyncio.run(ingest_files(files, Settings()))
    url = f"http://127.0.0.1:{processes.port_of('gateway')}"
    count = _wait_for_items(url, tokens["sam.supervisor"])
    print(f"\n{count} work item(s) reached the queues")
    for username, _, _ in DEMO_USERS:
        print_queue(url, tokens[username], limit=200)
    if keep_running:
        print(f"\nThe gateway keeps serving at {url} (API docs: {url}/docs; console: {url}/console/).")
        print(f"Demo users' API tokens are in {token_file}; e.g.")
        print(f"  claimline queues --token {tokens['dana.biller']}")
        print("Stop everything with: claimline services down && claimline stack down")
    else:
        processes.down(["gateway", "queues", "auths", "denials", "ingest"])
        stack.down(cfg)
    return 0 if status in (0, 2) and count > 0 else 1
