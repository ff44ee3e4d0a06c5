"""The pain coding rule pack on the real stack: a bilateral two-level lumbar facet session with a trigger
point injection on the same date is held differently in an ASC and in an office, and a denial is
explained by the rule it broke."""

from __future__ import annotations

import random
import uuid
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import httpx
import pytest

from claimline.x12gen import Claim, Envelope, Line, Remit, render
from tests.support.kafka import eventually
from tests.support.system import LiveSystem
from tests.support.x837 import billing, claim, interchange, line, subscriber, transaction

pytestmark = pytest.mark.e2e


def npi() -> str:
    return "1" + "".join(random.choice("0123456789") for _ in range(9))


@pytest.fixture(scope="module")
def practice(live_system: LiveSystem) -> dict[str, str]:
    practice_id, group_npi = f"cr-{uuid.uuid4().hex[:6]}", npi()
    live_system.claimline("practices", "add", practice_id, "--name", "Rules Pain", "--payee-npi", group_npi)
    token = live_system.claimline(
        "users", "add", f"cr-{uuid.uuid4().hex[:6]}", "--role", "biller", "--practice", practice_id
    ).stdout.strip()
    return {"id": practice_id, "npi": group_npi, "token": token}


def facet_session_with_trigger_point(claim_id: str, place: str) -> list[str]:
    return claim(
        claim_id,
        line(1, "64493", "850", modifiers=("50",)),
        line(2, "64494", "400", modifiers=("50",)),
        line(3, "20552", "180"),
        place=place,
    )


async def held_lines(system: LiveSystem, token: str, claim_id: str, expect: int) -> list[dict[str, object]]:
    async def check() -> list[dict[str, object]] | None:
        r = httpx.get(
            f"{system.gateway}/v1/work-items",
            params={"kind": "rule", "limit": 200},
            headers={"Authorization": f"Bearer {token}"},
        )
        found = [i for i in r.json()["items"] if i["claim_id"] == claim_id]
        return found if len(found) >= expect else None

    return sorted(await eventually(check, timeout=60), key=lambda i: (i["line_number"], str(i["summary"])))


async def test_an_asc_and_an_office_claim_are_held_on_exactly_the_lines_the_rules_name(
    live_system, practice, tmp_path: Path
):
    office, asc = f"OF{uuid.uuid4().hex[:6].upper()}", f"AS{uuid.uuid4().hex[:6].upper()}"
    text = interchange(
        transaction(
            "0001",
            billing(npi=practice["npi"]),
            subscriber("2"),
            facet_session_with_trigger_point(office, "11"),
            facet_session_with_trigger_point(asc, "24"),
        )
    )
    path = tmp_path / "session.837"
    path.write_text(text)
    assert "2 submitted claim(s)" in live_system.claimline("ingest", str(path)).stdout

    in_office = await held_lines(live_system, practice["token"], office, 1)
    assert [(i["line_number"], i["procedure_code"]) for i in in_office] == [(3, "20552")]
    assert "PAIN-PAIR-001" in str(in_office[0]["summary"]) and "59" in str(in_office[0]["summary"])

    in_asc = await held_lines(live_system, practice["token"], asc, 3)
    assert [(i["line_number"], i["procedure_code"]) for i in in_asc] == [
        (1, "64493"),
        (2, "64494"),
        (3, "20552"),
    ]
    assert all("PAIN-BIL-001" in str(i["summary"]) for i in in_asc[:2])
    assert "RT" in str(in_asc[0]["summary"]) and "LT" in str(in_asc[0]["summary"])
    assert "PAIN-PAIR-001" in str(in_asc[2]["summary"])


async def test_a_denial_is_explained_by_the_rule_it_broke(live_system, practice, tmp_path: Path):
    claim_id = f"IMG{uuid.uuid4().hex[:6].upper()}"
    dos = date(2026, 9, 14)
    remit = render(
        Envelope(
            interchange_control=random.randint(1, 999_999),
            remits=[
                Remit(
                    f"T{uuid.uuid4().hex[:10]}",
                    practice["npi"],
                    "RULES PAIN",
                    (
                        Claim(
                            claim_id,
                            (
                                Line(
                                    "62323",
                                    D("1200"),
                                    D("540"),
                                    service_date=dos,
                                    adjustments=(("CO", "45", D("660")),),
                                ),
                                Line(
                                    "77003",
                                    D("150"),
                                    D("0"),
                                    service_date=dos,
                                    adjustments=(("CO", "97", D("150")),),
                                    remarks=("M15",),
                                ),
                            ),
                        ),
                    ),
                )
            ],
        )
    )
    path = tmp_path / "bundled.835"
    path.write_text(remit)
    live_system.claimline("ingest", str(path))

    async def explained() -> dict[str, object] | None:
        r = httpx.get(
            f"{live_system.gateway}/v1/work-items",
            params={"queue": "bundling"},
            headers={"Authorization": f"Bearer {practice['token']}"},
        )
        found = [i for i in r.json()["items"] if i["claim_id"] == claim_id]
        return found[0] if found else None

    item = await eventually(explained, timeout=60)
    assert "Coding rule PAIN-IMG-001" in str(item["summary"])
    detail = httpx.get(
        f"{live_system.gateway}/v1/work-items/{item['item_id']}",
        headers={"Authorization": f"Bearer {practice['token']}"},
    ).json()["detail"]
    assert detail["broken_rule"]["rule_id"] == "PAIN-IMG-001"
