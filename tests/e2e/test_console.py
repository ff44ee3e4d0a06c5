"""The biller console in a real browser (Debian's Chromium, headless, driven by Playwright) against the five
real processes on the real broker and database, with remittances ingested through the CLI.

A biller of one practice signs in, works an item from the queue to resolved, and never sees another
practice's items, even by editing the URL; a supervisor uses bulk actions and the dashboard; everything
works from the keyboard; no patient data ever appears in a URL the browser requests. Each page is
screenshotted into artifacts/console/ for review.
"""

from __future__ import annotations

import os
import random
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from claimline.x12gen import Claim, Envelope, Line, Remit, render
from tests.support.strict import unavailable
from tests.support.system import LiveSystem
from tests.support.x837 import billing, claim, interchange, line, subscriber, transaction

pytestmark = pytest.mark.e2e

CHROMIUM = os.environ.get("CLAIMLINE_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "console"
DOS = date(2026, 9, 14)
PATIENT = {"last": "QUIXOTE", "first": "ALONSO", "member": "MBRQX7781"}


@dataclass
class Practice:
    practice_id: str
    npi: str
    token: str = ""
    username: str = ""
    trace: str = ""
    claim_ids: tuple[str, ...] = ()


def remittance(p: Practice, lines: tuple[tuple[Line, ...], ...]) -> str:
    tag = uuid.uuid4().hex[:8].upper()
    claims = tuple(
        Claim(
            f"{tag}{n}",
            claim_lines,
            patient_last=PATIENT["last"],
            patient_first=PATIENT["first"],
            member_id=PATIENT["member"],
        )
        for n, claim_lines in enumerate(lines, start=1)
    )
    p.trace = f"TRN{tag}"
    p.claim_ids = tuple(c.claim_id for c in claims)
    remit = Remit(p.trace, p.npi, p.practice_id.upper(), claims)
    return render(Envelope(interchange_control=random.randint(1, 999_999), remits=[remit]))


def api(system: LiveSystem, token: str, path: str, **params: Any) -> Any:
    r = httpx.get(
        f"{system.gateway}{path}", params=params, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    r.raise_for_status()
    return r.json()


@pytest.fixture(scope="module")
def console_world(live_system: LiveSystem, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two practices with a biller each and a supervisor; one remittance per practice, ingested and queued."""
    a = Practice(f"ca-{uuid.uuid4().hex[:6]}", "1" + str(random.randint(10**8, 10**9 - 1)))
    b = Practice(f"cb-{uuid.uuid4().hex[:6]}", "1" + str(random.randint(10**8, 10**9 - 1)))
    for p in (a, b):
        live_system.claimline(
            "practices", "add", p.practice_id, "--name", p.practice_id, "--payee-npi", p.npi
        )
        p.username = f"biller-{p.practice_id}"
        p.token = live_system.claimline(
            "users", "add", p.username, "--role", "biller", "--practice", p.practice_id
        ).stdout.strip()
    supervisor = f"sup-{uuid.uuid4().hex[:6]}"
    sup_token = live_system.claimline("users", "add", supervisor, "--role", "supervisor").stdout.strip()
    files = tmp_path_factory.mktemp("console-files")
    (files / "a.835").write_text(
        remittance(
            a,
            (
                (
                    Line(
                        "64493",
                        D("850"),
                        D("412.18"),
                        ("50",),
                        service_date=DOS,
                        adjustments=(("CO", "45", D("437.82")),),
                    ),
                    Line(
                        "64494",
                        D("400"),
                        D("0"),
                        ("50",),
                        service_date=DOS,
                        adjustments=(("CO", "4", D("400")),),
                        remarks=("N822",),
                    ),
                ),
                (
                    Line(
                        "62323", D("1200"), D("0"), service_date=DOS, adjustments=(("CO", "197", D("1200")),)
                    ),
                ),
            ),
        )
    )
    (files / "b.835").write_text(
        remittance(
            b,
            (
                (
                    Line(
                        "77003",
                        D("150"),
                        D("0"),
                        service_date=DOS,
                        adjustments=(("CO", "97", D("150")),),
                        remarks=("M15",),
                    ),
                    Line("20552", D("180"), D("0"), service_date=DOS, adjustments=(("CO", "50", D("180")),)),
                ),
            ),
        )
    )
    # The claims of practice A as submitted: the epidural claim that the 835 denies for a missing auth, and an
    # earlier epidural of the same patient, so the item shows an auth finding and a frequency count.
    prior = f"PR{uuid.uuid4().hex[:8].upper()}"
    (files / "a.837").write_text(
        interchange(
            transaction(
                "0001",
                billing(npi=a.npi),
                subscriber(
                    "2",
                    member=PATIENT["member"],
                    last=PATIENT["last"],
                    first=PATIENT["first"],
                    payer_id="87726",
                    payer_name="UNITED COMMERCIAL",
                    filing="CI",
                ),
                claim(a.claim_ids[1], line(1, "62323", "1200")),
                claim(prior, line(1, "62323", "1200", service="D8*20260601")),
            )
        )
    )
    a.claim_ids = (*a.claim_ids, prior)
    live_system.claimline("ingest", str(files / "a.837"), str(files / "a.835"), str(files / "b.835"))
    import asyncio

    from tests.support.kafka import eventually

    async def queued() -> bool:
        a_items = api(live_system, sup_token, "/v1/work-items", practice_id=a.practice_id)["items"]
        b_items = api(live_system, sup_token, "/v1/work-items", practice_id=b.practice_id)["items"]
        awaiting = [
            i for i in a_items if i["category"] == "awaiting_auth" and i["claim_id"] == a.claim_ids[1]
        ]
        return len(a_items) >= 4 and len(b_items) >= 2 and bool(awaiting)

    asyncio.run(eventually(queued, timeout=90))
    return {"a": a, "b": b, "supervisor": sup_token, "supervisor_name": supervisor}


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        unavailable(f"Chromium is not at {CHROMIUM} (./run test installs Debian's chromium package)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module", autouse=True)
def screenshots() -> None:
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True, exist_ok=True)


class Session:
    """One browser context (its own cookies) that records every URL it requests and every script error."""

    def __init__(self, browser: Any, system: LiveSystem):
        self.context = browser.new_context(viewport={"width": 1366, "height": 900})
        self.page = self.context.new_page()
        self.page.set_default_timeout(20_000)
        self.base = system.gateway
        self.urls: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.urls.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def sign_in(self, token: str) -> None:
        self.page.goto(f"{self.base}/console/")
        self.page.get_by_label("API token").fill(token)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_selector("tbody tr[data-item], tbody td[colspan]")

    def go(self, fragment: str, wait_for: str) -> None:
        """Open a console URL as if typed into the address bar (a fresh page load, nothing left over)."""
        self.page.goto("about:blank")
        self.page.goto(f"{self.base}/console/#{fragment}")
        self.page.wait_for_selector(wait_for)

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def queue_practices(self) -> set[str]:
        return {t.strip() for t in self.page.locator("tbody tr[data-item] td:nth-child(3)").all_inner_texts()}

    def close(self) -> None:
        self.context.close()


def no_patient_data_in(urls: list[str], world: dict[str, Any]) -> None:
    secrets = [
        PATIENT["last"],
        PATIENT["first"],
        PATIENT["member"],
        *world["a"].claim_ids,
        *world["b"].claim_ids,
    ]
    leaked = [(u, s) for u in urls for s in secrets if s.lower() in u.lower()]
    assert leaked == [], f"patient data in requested URLs: {leaked}"


def test_a_biller_works_an_item_from_the_queue_to_resolved_and_sees_only_their_practice(
    live_system: LiveSystem, console_world: dict[str, Any], chromium: Any
) -> None:
    a, b = console_world["a"], console_world["b"]
    s = Session(chromium, live_system)
    try:
        s.sign_in(a.token)
        assert s.page.get_by_text(f"{a.username} (biller)").is_visible()
        assert s.queue_practices() == {a.practice_id}
        assert b.practice_id not in s.page.content()
        s.shot("01-queue-biller")

        # The epidural denied for a missing authorization ($1,200), from the queue.
        row = s.page.locator("tbody tr[data-item]", has_text="Denied (CO-197")
        assert "62323" in row.inner_text() and "$1,200.00" in row.inner_text()
        item_id = row.get_attribute("data-item")
        row.get_by_role("link").click()
        s.page.wait_for_selector("#frequency")
        assert s.page.url.endswith(f"#/item/{item_id}")
        money = s.page.get_by_role("group", name="Billed, allowed and paid").inner_text()
        assert "$1,200.00" in money and "$0.00" in money
        adjustments = s.page.locator("main").inner_text()
        assert "CO-197 $1,200.00: Prior authorization or notification was absent." in adjustments
        assert "Next action" in adjustments and "Request retro-authorization" in adjustments
        assert "awaiting auth" in s.page.locator("#auth").inner_text()
        assert "2 sessions" in s.page.locator("#frequency").inner_text()
        s.shot("02-item-before")

        s.page.get_by_role("button", name="Take it").click()
        expect(s.page.locator("#item-status")).to_have_text("in progress")
        assert s.page.locator("#item-assignee").inner_text() == a.username
        s.page.get_by_label("Add a note").fill("Called the payer: retro-auth request faxed, ref 55-1")
        s.page.get_by_role("button", name="Add note").click()
        s.page.wait_for_selector("#notes >> text=retro-auth request faxed")
        s.page.get_by_label("Status").select_option("resolved")
        s.page.get_by_label("Note", exact=True).fill("Retro auth approved")
        s.page.get_by_role("button", name="Change status").click()
        expect(s.page.locator("#item-status")).to_have_text("resolved")
        history = s.page.locator("#history").inner_text()
        assert history.count(a.username) >= 2 and "status" in history
        s.shot("03-item-resolved")

        stored = api(live_system, a.token, f"/v1/work-items/{item_id}")
        assert stored["status"] == "resolved" and stored["assignee"] == a.username
        trail = api(live_system, a.token, f"/v1/work-items/{item_id}/history")
        assert [n["text"] for n in trail["notes"]] == [
            "Called the payer: retro-auth request faxed, ref 55-1",
            "Retro auth approved",
        ]
        assert {e["actor"] for e in trail["audit"]} == {a.username}

        # Another practice's item, by editing the URL: the same page as an id that does not exist.
        b_item = api(live_system, console_world["supervisor"], "/v1/work-items", practice_id=b.practice_id)[
            "items"
        ][0]
        s.go(f"/item/{b_item['item_id']}", "h1:text('Not found')")
        foreign_text = s.page.locator("main").inner_text()
        assert b_item["summary"] not in s.page.content()
        s.go(f"/item/{uuid.uuid4()}", "h1:text('Not found')")
        assert s.page.locator("main").inner_text() == foreign_text
        s.shot("04-foreign-item-not-found")
        # ... and by filter: the queue of practice B is empty for this biller.
        s.go(f"/queue?practice_id={b.practice_id}", "tbody td[colspan]")
        assert s.queue_practices() == set()
        # ... and the other practice's remittance.
        s.go("/eras", "tbody tr")
        assert a.trace in s.page.locator("main").inner_text() and b.trace not in s.page.content()
        s.go(f"/era/{b.trace}", "h1:text('Not found')")

        # The ERA of this biller's remittance: line by line, totals reconciled with the check.
        s.go(f"/era/{a.trace}", "#reconciliation")
        era = s.page.locator("main").inner_text()
        assert "64493-50" in era and "64494-50" in era and "62323" in era
        assert "$2,450.00" in era  # billed: 850 + 400 + 1,200
        assert "$412.18" in era
        assert "Yes: the lines and adjustments add up to the payment." in era
        s.shot("05-era")

        # Signing out ends the session: the console asks for the token again, and the API refuses the cookie.
        s.page.get_by_role("button", name="Sign out").click()
        s.page.wait_for_selector("#token")
        status = s.page.evaluate("fetch('/v1/me', {credentials: 'same-origin'}).then(r => r.status)")
        assert status == 401
        assert s.errors == []
        no_patient_data_in(s.urls, console_world)
    finally:
        s.close()


def test_the_session_cookie_is_httponly_and_a_forged_post_is_refused(
    live_system: LiveSystem, console_world: dict[str, Any], chromium: Any
) -> None:
    a = console_world["a"]
    s = Session(chromium, live_system)
    try:
        s.sign_in(a.token)
        cookie = next(c for c in s.context.cookies() if c["name"] == "claimline_session")
        assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
        assert s.page.evaluate("document.cookie") == ""
        item_id = s.page.locator("tbody tr[data-item]").last.get_attribute("data-item")
        before = api(live_system, a.token, f"/v1/work-items/{item_id}")
        # A request that does not come from the console's own code (no console header) changes nothing.
        status = s.page.evaluate(
            f"fetch('/v1/work-items/{item_id}/status', {{method: 'POST', credentials: 'same-origin',"
            " headers: {'Content-Type': 'application/json'}, body: JSON.stringify({status: 'written_off'})})"
            ".then(r => r.status)"
        )
        assert status == 403
        after = api(live_system, a.token, f"/v1/work-items/{item_id}")
        assert (after["status"], after["assignee"]) == (before["status"], before["assignee"])
        assert after["status"] != "written_off"
    finally:
        s.close()


def test_a_supervisor_sees_every_practice_works_a_selection_and_reads_the_dashboard(
    live_system: LiveSystem, console_world: dict[str, Any], chromium: Any
) -> None:
    a, b = console_world["a"], console_world["b"]
    s = Session(chromium, live_system)
    try:
        s.sign_in(console_world["supervisor"])
        s.go(f"/queue?practice_id={b.practice_id}", "tbody tr[data-item]")
        assert s.queue_practices() == {b.practice_id}
        rows = s.page.locator("tbody tr[data-item]")
        chosen = [rows.nth(i).get_attribute("data-item") for i in range(2)]
        s.page.get_by_label("Select item 1", exact=True).check()
        s.page.get_by_label("Select item 2", exact=True).check()
        s.page.get_by_role("group", name="Bulk actions on the selected items").get_by_label(
            "Status"
        ).select_option("waiting_on_payer")
        s.page.get_by_role("button", name="Set status of selected").click()
        s.page.wait_for_selector("#status:text('2 updated')")
        for item_id in chosen:
            assert api(live_system, console_world["supervisor"], f"/v1/work-items/{item_id}")["status"] == (
                "waiting_on_payer"
            )
        s.shot("06-queue-supervisor-bulk")

        s.go("/dashboard?by=practice", "svg.chart")
        dashboard = s.page.locator("main").inner_text()
        assert a.practice_id in dashboard and b.practice_id in dashboard
        assert s.page.get_by_role("img", name="Open items by days left to the deadline").is_visible()
        table = s.page.get_by_role("table", name="Totals by practice").inner_text()
        b_row = next(line for line in table.splitlines() if line.startswith(b.practice_id))
        assert "\t2\t2\t100.0 %\t$330.00" in b_row  # 77003 ($150) and 20552 ($180), both denied
        rates = s.page.get_by_role("table", name="Denial rate by month and practice").inner_text()
        assert any(r.startswith(b.practice_id) and "100.0 % of 2" in r for r in rates.splitlines())
        s.shot("07-dashboard")
        assert s.errors == []
        no_patient_data_in(s.urls, console_world)
    finally:
        s.close()


def test_the_console_works_from_the_keyboard(
    live_system: LiveSystem, console_world: dict[str, Any], chromium: Any
) -> None:
    a = console_world["a"]
    s = Session(chromium, live_system)
    try:
        s.page.goto(f"{s.base}/console/")
        s.page.wait_for_selector("#token")
        assert s.page.evaluate("document.activeElement.id") == "token"
        s.page.keyboard.type(a.token)
        s.page.keyboard.press("Enter")
        s.page.wait_for_selector("tbody tr[data-item], tbody td[colspan]")
        # The skip link is the first thing Tab reaches on a page; it moves focus to the content and
        # leaves the page where it is.
        first = s.page.evaluate(
            "[...document.querySelectorAll('a[href], button, input, select, textarea')]"
            ".find(el => el.offsetParent !== null || el.classList.contains('skip')).textContent"
        )
        assert first == "Skip to content"
        url = s.page.url
        s.page.locator(".skip").focus()
        s.page.keyboard.press("Enter")
        assert s.page.evaluate("document.activeElement.id") == "main" and s.page.url == url
        for _ in range(80):
            s.page.keyboard.press("Tab")
            if s.page.evaluate(
                "document.activeElement.tagName === 'A'"
                " && document.activeElement.closest('tbody tr[data-item]') !== null"
            ):
                break
        else:
            raise AssertionError("no item link is reachable with Tab")
        s.page.keyboard.press("Enter")
        s.page.wait_for_selector("#frequency")
        assert "#/item/" in s.page.url
        # Every form control on the item page has a label a screen reader can announce.
        unlabeled = s.page.evaluate(
            """[...document.querySelectorAll('main input, main select, main textarea')]
               .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')).length"""
        )
        assert unlabeled == 0
        s.shot("08-item-keyboard")
    finally:
        s.close()
