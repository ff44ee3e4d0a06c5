"""A remittance with every kind of line gives exactly the work it should: plain-English reasons,
routed queues, priorities and deadlines, readable through the gateway; paid lines stay in the ERA view."""

from __future__ import annotations

import random
import uuid
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from claimline.x12gen import Claim, Envelope, Line, Remit, render
from services.queues.adapters.orm import remit_lines
from tests.support.kafka import eventually
from tests.support.system import LiveSystem

pytestmark = pytest.mark.e2e

DOS = date(2026, 9, 14)
PAID_ON = date(2026, 10, 20)


def npi() -> str:
    return "1" + "".join(random.choice("0123456789") for _ in range(9))


def remittance(payee: str, tag: str) -> str:
    def claim(n: int, *lines: Line, status: str = "1") -> Claim:
        return Claim(f"{tag}{n}", lines, status=status, filing_indicator="CI")

    claims = (
        claim(1, Line("64483", D("700"), D("700"), service_date=DOS)),
        claim(2, Line("62323", D("1000"), D("600"), service_date=DOS, adjustments=(("CO", "45", D("400")),))),
        claim(
            3,
            Line(
                "20552",
                D("180"),
                D("60"),
                service_date=DOS,
                adjustments=(("CO", "45", D("100")), ("PR", "2", D("20"))),
            ),
        ),
        claim(
            4,
            Line(
                "64635",
                D("2100"),
                D("0"),
                ("RT",),
                service_date=DOS,
                adjustments=(("CO", "197", D("2100")),),
                remarks=("N54",),
            ),
        ),
        claim(
            5,
            Line("64493", D("-850"), D("-500"), service_date=DOS, adjustments=(("CO", "45", D("-350")),)),
            status="22",
        ),
        claim(5, Line("64493", D("850"), D("520"), service_date=DOS, adjustments=(("CO", "45", D("330")),))),
        claim(6, Line("64490", D("900"), D("300"), service_date=DOS, adjustments=(("CO", "45", D("600")),))),
    )
    remit = Remit(
        f"TRN{tag}",
        payee,
        "DENIALS PAIN",
        claims,
        payer_name="UNITED COMMERCIAL",
        payer_id="87726",
        payment_date=PAID_ON,
    )
    return render(Envelope(interchange_control=random.randint(1, 999_999), remits=[remit]))


async def test_every_kind_of_line_gets_the_work_it_should(live_system: LiveSystem, tmp_path: Path, engine):
    practice, payee, tag = f"d-{uuid.uuid4().hex[:6]}", npi(), uuid.uuid4().hex[:6].upper()
    live_system.claimline("practices", "add", practice, "--name", "Denials Pain", "--payee-npi", payee)
    token = live_system.claimline(
        "users", "add", f"b-{tag}", "--role", "biller", "--practice", practice
    ).stdout
    path = tmp_path / "mixed.835"
    path.write_text(remittance(payee, tag))
    assert "7 service lines" in live_system.claimline("ingest", str(path)).stdout

    async def era_lines() -> list[tuple[str, str]] | None:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(
                        remit_lines.c.claim_id, remit_lines.c.category, remit_lines.c.claim_status_code
                    ).where(remit_lines.c.practice_id == practice)
                )
            ).all()
        return sorted((r.claim_id, r.category) for r in rows) if len(rows) == 7 else None

    assert await eventually(era_lines, timeout=60) == [
        (f"{tag}1", "paid_in_full"),
        (f"{tag}2", "paid_with_contractual_adjustment"),
        (f"{tag}3", "patient_responsibility"),
        (f"{tag}4", "denied"),
        (f"{tag}5", "paid_with_contractual_adjustment"),
        (f"{tag}5", "reversed"),
        (f"{tag}6", "underpaid"),
    ]

    headers = {"Authorization": f"Bearer {token.strip()}"}
    items = httpx.get(f"{live_system.gateway}/v1/work-items", headers=headers).json()["items"]
    assert [(i["claim_id"], i["queue"], i["amount_at_risk"]) for i in items] == [
        (f"{tag}4", "authorization", "2100.00"),
        (f"{tag}6", "underpayment", "200.00"),
    ]
    denied, underpaid = items
    assert denied["priority"] > underpaid["priority"]
    assert (
        denied["deadline"] == underpaid["deadline"] == "2027-04-18"
    )  # commercial: 180 days after 2026-10-20
    assert denied["summary"].startswith("Denied (CO-197, $2,100.00 at risk): Prior authorization")
    assert "N54" in denied["summary"]
    assert underpaid["summary"].startswith("Underpaid by $200.00: the payer allowed $300.00 where the fee")
    assert "$500.00" in underpaid["summary"]
    detail = httpx.get(f"{live_system.gateway}/v1/work-items/{denied['item_id']}", headers=headers).json()[
        "detail"
    ]
    assert [(c["kind"], c["code"]) for c in detail["codes"]] == [
        ("group", "CO"),
        ("carc", "197"),
        ("rarc", "N54"),
    ]
    assert detail["routing_rule"] == "authorization"
