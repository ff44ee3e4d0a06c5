"""What the console is built on, on the real database: sign-in sessions (cookie, idle and absolute expiry,
sign-out, deactivation, the console header that stops forged posts), the one-call item view, the dashboard
figures and the ERA reconciliation, each scoped like every other route, and the console's own pages."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from decimal import Decimal

import httpx
from sqlalchemy import func, select

from services.queues.adapters.orm import console_sessions, remit_lines, work_items
from services.queues.adapters.sessions import _hash
from tests.integration import test_gateway
from tests.integration.test_gateway import PROVIDER_2, World

world = test_gateway.world  # the same two practices, billers, supervisor and admin

CONSOLE = {"X-Claimline-Console": "1"}


@asynccontextmanager
async def sign_in(world: World, who: str) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client of its own holding a session cookie and no bearer token."""
    async with httpx.AsyncClient(transport=world.client._transport, base_url="http://gateway") as client:
        r = await client.post("/v1/session", json={"token": world.tokens[who]})
        assert r.status_code == 200, r.text
        yield client


async def test_signing_in_exchanges_the_token_for_an_httponly_strict_cookie(world: World, engine):
    r = await world.client.post("/v1/session", json={"token": world.tokens["biller_a"]})
    assert r.status_code == 200
    assert r.json()["role"] == "biller"
    cookie = r.headers["set-cookie"]
    value = cookie.split(";")[0].split("=", 1)[1]
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/"} <= attributes
    assert value != world.tokens["biller_a"]
    async with engine.connect() as conn:
        stored = (await conn.execute(select(console_sessions.c.session_hash))).scalars().all()
    assert _hash(value) in stored and value not in stored
    assert (await world.client.post("/v1/session", json={"token": "cl_not-a-token"})).status_code == 401


async def test_a_session_reads_like_its_user_and_changes_only_with_the_console_header(world: World):
    async with sign_in(world, "biller_a") as browser:
        me = (await browser.get("/v1/me")).json()
        assert me["role"] == "biller" and me["practices"] == [world.a]
        listed = {i["item_id"] for i in (await browser.get("/v1/work-items")).json()["items"]}
        assert listed == set(world.items[world.a])
        own = world.items[world.a][0]
        forged = await browser.post(f"/v1/work-items/{own}/claim")
        assert forged.status_code == 403
        assert "X-Claimline-Console" in forged.json()["detail"]
        taken = await browser.post(f"/v1/work-items/{own}/claim", headers=CONSOLE)
        assert taken.status_code == 200 and taken.json()["status"] == "in_progress"
        foreign = world.items[world.b][0]
        assert (await browser.get(f"/v1/work-items/{foreign}")).status_code == 404


async def test_signing_out_ends_the_session(world: World, engine):
    async with sign_in(world, "biller_a") as browser:
        assert (await browser.delete("/v1/session")).status_code == 403  # no console header: refused
        assert (await browser.get("/v1/me")).status_code == 200
        out = await browser.delete("/v1/session", headers=CONSOLE)
        assert out.status_code == 204
        assert 'claimline_session=""' in out.headers["set-cookie"] or "Max-Age=0" in out.headers["set-cookie"]
        assert (await browser.get("/v1/me")).status_code == 401


async def test_idle_and_expired_sessions_end_and_a_request_extends_the_idle_deadline(world: World, engine):
    async with sign_in(world, "biller_a") as browser:
        value = browser.cookies["claimline_session"]
        async with engine.begin() as conn:
            await conn.execute(
                console_sessions.update()
                .where(console_sessions.c.session_hash == _hash(value))
                .values(idle_until=func.now() + timedelta(minutes=1))
            )
        assert (await browser.get("/v1/me")).status_code == 200
        async with engine.connect() as conn:
            idle_until, expires_at, now = (
                await conn.execute(
                    select(console_sessions.c.idle_until, console_sessions.c.expires_at, func.now()).where(
                        console_sessions.c.session_hash == _hash(value)
                    )
                )
            ).one()
        assert timedelta(minutes=29) < idle_until - now <= timedelta(minutes=30)
        assert timedelta(hours=11, minutes=59) < expires_at - now <= timedelta(hours=12)
        for column in ("idle_until", "expires_at"):
            async with engine.begin() as conn:
                await conn.execute(
                    console_sessions.update()
                    .where(console_sessions.c.session_hash == _hash(value))
                    .values({column: func.now() - timedelta(seconds=1)})
                )
            assert (await browser.get("/v1/me")).status_code == 401
            async with engine.begin() as conn:
                await conn.execute(
                    console_sessions.update()
                    .where(console_sessions.c.session_hash == _hash(value))
                    .values(
                        idle_until=func.now() + timedelta(minutes=5),
                        expires_at=func.now() + timedelta(hours=1),
                    )
                )
            assert (await browser.get("/v1/me")).status_code == 200


async def test_deactivating_a_user_ends_their_console_sessions(world: World, engine):
    async with sign_in(world, "biller_b") as browser:
        me = (await browser.get("/v1/me")).json()
        r = await world.client.post(f"/v1/users/{me['username']}/deactivate", headers=world.as_("admin"))
        assert r.status_code == 200
        assert (await browser.get("/v1/me")).status_code == 401
        async with engine.connect() as conn:
            left = (
                await conn.execute(
                    select(func.count())
                    .select_from(console_sessions)
                    .where(console_sessions.c.session_hash == _hash(browser.cookies["claimline_session"]))
                )
            ).scalar_one()
        assert left == 0


async def test_the_item_context_holds_the_line_its_claim_and_nothing_of_other_practices(world: World, engine):
    own = world.items[world.a][0]
    r = await world.client.get(f"/v1/work-items/{own}/context", headers=world.as_("biller_a"))
    assert r.status_code == 200
    body = r.json()
    assert body["item"]["item_id"] == own
    async with engine.connect() as conn:
        item = (await conn.execute(select(work_items).where(work_items.c.item_id == uuid.UUID(own)))).one()
        lines = (
            await conn.execute(
                select(remit_lines).where(
                    remit_lines.c.practice_id == item.practice_id, remit_lines.c.claim_id == item.claim_id
                )
            )
        ).all()
    assert [(ln["procedure_code"], Decimal(ln["charge"]), Decimal(ln["paid"])) for ln in body["lines"]] == [
        (ln.procedure_code, ln.charge, ln.paid) for ln in lines
    ]
    adjustments = body["lines"][0]["adjustments"]
    assert [(a["group"], a["reason"]) for a in adjustments] == [("CO", "197")]
    assert "authorization" in adjustments[0]["meaning"].lower()
    assert all(ln["practice_id"] == world.a for ln in body["lines"])
    # another practice's item, and a provider outside a provider-scoped biller's scope: 404 like a missing one
    missing = await world.client.get(f"/v1/work-items/{uuid.uuid4()}/context", headers=world.as_("biller_a"))
    foreign = await world.client.get(
        f"/v1/work-items/{world.items[world.b][0]}/context", headers=world.as_("biller_a")
    )
    other_provider = await world.client.get(
        f"/v1/work-items/{world.items[f'{world.a}/{PROVIDER_2}'][0]}/context", headers=world.as_("biller_a1")
    )
    assert missing.status_code == foreign.status_code == other_provider.status_code == 404
    assert missing.json() == foreign.json() == other_provider.json()


async def _expected_figures(engine, practices: list[str]) -> tuple[int, int, Decimal]:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(remit_lines.c.category, remit_lines.c.decision).where(
                    remit_lines.c.practice_id.in_(practices)
                )
            )
        ).all()
    denied = sum(1 for r in rows if r.category in ("denied", "partially_denied"))
    at_risk = sum(
        (Decimal(r.decision["amount_at_risk"]) for r in rows if r.decision["needs_work"]), Decimal(0)
    )
    return len(rows), denied, at_risk


async def test_dashboard_figures_add_up_to_the_lines_in_scope(world: World, engine):
    lines, denied, at_risk = await _expected_figures(engine, [world.a])
    assert lines == 3 and denied == 3 and at_risk > 0
    for by in ("category", "payer", "practice"):
        r = await world.client.get("/v1/stats/denials", params={"by": by}, headers=world.as_("biller_a"))
        assert r.status_code == 200, r.text
        stats = r.json()
        assert sum(t["lines"] for t in stats["totals"]) == lines
        assert sum(t["denied_lines"] for t in stats["totals"]) == denied
        assert sum(Decimal(t["dollars_at_risk"]) for t in stats["totals"]) == at_risk
        assert sum(s["lines"] for s in stats["series"]) == lines
        assert stats["months"] == ["2026-10"]
    by_practice = (
        await world.client.get("/v1/stats/denials", params={"by": "practice"}, headers=world.as_("biller_a"))
    ).json()
    assert {s["key"] for s in by_practice["series"]} == {world.a}
    assert by_practice["totals"][0]["denial_rate"] == 1.0
    everyone = (
        await world.client.get(
            "/v1/stats/denials", params={"by": "practice"}, headers=world.as_("supervisor")
        )
    ).json()
    assert {world.a, world.b} <= {s["key"] for s in everyone["series"]}
    assert (await world.client.get("/v1/stats/denials", headers=world.as_("admin"))).json()["totals"] == []


async def test_aging_counts_open_items_by_deadline_and_age(world: World, engine):
    def total(buckets: list[dict[str, object]]) -> int:
        return sum(int(b["items"]) for b in buckets)  # type: ignore[call-overload]

    before = (await world.client.get("/v1/stats/aging", headers=world.as_("biller_a"))).json()
    assert total(before["by_deadline"]) == total(before["by_age"]) == len(world.items[world.a])
    first, second = world.items[world.a][:2]
    async with engine.begin() as conn:
        await conn.execute(
            work_items.update()
            .where(work_items.c.item_id == uuid.UUID(first))
            .values(deadline=date.today() - timedelta(days=3))
        )
    resolved = await world.client.post(
        f"/v1/work-items/{second}/status", json={"status": "resolved"}, headers=world.as_("biller_a")
    )
    assert resolved.status_code == 200
    after = (await world.client.get("/v1/stats/aging", headers=world.as_("biller_a"))).json()
    assert total(after["by_deadline"]) == len(world.items[world.a]) - 1
    overdue = next(b for b in after["by_deadline"] if b["bucket"] == "overdue")
    assert overdue["items"] == 1
    async with engine.connect() as conn:
        amount = (
            await conn.execute(
                select(work_items.c.amount_at_risk).where(work_items.c.item_id == uuid.UUID(first))
            )
        ).scalar_one()
    assert Decimal(overdue["dollars_at_risk"]) == amount


async def test_the_era_reconciles_only_when_the_caller_sees_the_whole_payment(world: World, engine):
    full = (
        await world.client.get(f"/v1/remittances/{world.trace_a}", headers=world.as_("supervisor"))
    ).json()
    rec = full["reconciliation"]
    assert rec["complete"] is True
    assert Decimal(rec["lines_paid"]) == sum(Decimal(ln["paid"]) for ln in full["lines"])
    assert Decimal(rec["expected_payment"]) == Decimal(rec["lines_paid"]) - Decimal(
        rec["provider_adjustments"]
    )
    assert Decimal(rec["difference"]) == Decimal(full["payment_amount"]) - Decimal(rec["expected_payment"])
    assert rec["reconciled"] is (Decimal(rec["difference"]) == 0)
    partial = (
        await world.client.get(f"/v1/remittances/{world.trace_a}", headers=world.as_("biller_a1"))
    ).json()
    assert len(partial["lines"]) < len(full["lines"])
    assert partial["reconciliation"]["complete"] is False and partial["reconciliation"]["reconciled"] is False


async def test_the_patient_frequency_can_be_asked_without_patient_data_in_the_url(world: World):
    body = {"member_id": "nobody-" + uuid.uuid4().hex[:6], "birth_date": "1950-01-01"}
    r = await world.client.post("/v1/patients/frequency", json=body, headers=world.as_("biller_a"))
    assert r.status_code == 404 and r.json()["detail"] == "no such patient"
    assert r.request.url.query == b""


async def test_the_console_pages_are_served_with_a_strict_policy_and_the_api_is_not_cached(world: World):
    page = await world.client.get("/console/")
    assert page.status_code == 200 and "console.js" in page.text
    policy = page.headers["content-security-policy"]
    assert (
        "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
    )
    assert page.headers["cache-control"] == "no-store"
    assert (
        (await world.client.get("/console/console.js")).headers["content-type"].startswith("text/javascript")
    )
    assert (await world.client.get("/console/..%2Fapp.py")).status_code == 404
    assert (await world.client.get("/console/app.py")).status_code == 404
    root = await world.client.get("/")
    assert root.status_code == 307 and root.headers["location"] == "/console/"
    api = await world.client.get("/v1/me", headers=world.as_("biller_a"))
    assert api.headers["cache-control"] == "no-store"
    assert "/console/" not in (await world.client.get("/openapi.json")).json()["paths"]
