"""Authorizations on the real stack: a claim that waits for an auth moves to ready when the approval,
imported from a payer portal export, arrives after it."""

from __future__ import annotations

import random
import uuid
from pathlib import Path

import httpx
import pytest

from tests.support.kafka import eventually
from tests.support.system import LiveSystem
from tests.support.x837 import billing, claim, interchange, line, subscriber, transaction

pytestmark = pytest.mark.e2e


async def test_an_auth_approved_after_the_claim_moves_its_item_from_awaiting_auth_to_ready(
    live_system: LiveSystem, tmp_path: Path
):
    practice, group_npi = (
        f"au-{uuid.uuid4().hex[:6]}",
        "1" + "".join(random.choice("0123456789") for _ in range(9)),
    )
    live_system.claimline("practices", "add", practice, "--name", "Auth Pain", "--payee-npi", group_npi)
    token = live_system.claimline(
        "users", "add", f"au-{uuid.uuid4().hex[:6]}", "--role", "biller", "--practice", practice
    ).stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    claim_id = f"AU{uuid.uuid4().hex[:8].upper()}"
    member = f"W{random.randint(10_000_000, 99_999_999)}"
    path = tmp_path / "claim.837"
    path.write_text(
        interchange(
            transaction(
                "0001",
                billing(npi=group_npi),
                subscriber("2", member=member, payer_id="87726", payer_name="UNITED COMMERCIAL", filing="CI"),
                claim(claim_id, line(1, "64483", "1100", modifiers=("LT",))),
            )
        )
    )
    live_system.claimline("ingest", str(path))

    async def item(status: str) -> dict[str, object] | None:
        found = httpx.get(
            f"{live_system.gateway}/v1/work-items", params={"kind": "auth", "status": status}, headers=headers
        ).json()["items"]
        mine = [i for i in found if i["claim_id"] == claim_id]
        return mine[0] if mine else None

    waiting = await eventually(lambda: item("new"), timeout=60)
    assert waiting["category"] == "awaiting_auth"
    assert "needs prior authorization and none is on file" in str(waiting["summary"])

    export = tmp_path / "portal.csv"
    export.write_text(
        "Auth Number,Member ID,Payer ID,CPT Codes,Start Date,End Date,Status,Units Approved\n"
        f"PA-{claim_id},{member},87726,64483;64484,2026-09-01,2026-12-31,Approved,2\n"
    )
    out = live_system.claimline("auths", "import", str(export), "--practice", practice)
    assert "published 1 authorization(s)" in out.stdout

    ready = await eventually(lambda: item("resolved"), timeout=60)
    assert ready["item_id"] == waiting["item_id"]
    assert ready["category"] == "auth_valid"
    assert f"PA-{claim_id} is valid" in str(ready["summary"])
