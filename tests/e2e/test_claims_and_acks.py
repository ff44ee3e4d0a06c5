"""An 837P goes out, its 277CA and 835 come back: auth checks, rejections and line matching."""

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
from tests.support.x837 import billing, claim, interchange, line, seg, subscriber, transaction

pytestmark = pytest.mark.e2e


def npi() -> str:
    return "1" + "".join(random.choice("0123456789") for _ in range(9))


def ack_277ca(
    billing_npi: str,
    claim_id: str,
    status: str = "A7:145:IL",
    lines: tuple[tuple[str, str, str, str, str], ...] = (
        ("HC:64483:RT", "950.00", "A7:453", "LN-3", "20260921"),
    ),
    total: str = "950.00",
) -> str:
    """A 277CA for one claim (rejected with A7 by default) that echoes its lines."""
    body = [
        seg("BHT", "0085", "08", "ACK1", "20261021", "0800", "TH"),
        seg("HL", "1", "", "20", "1"),
        seg("NM1", "PR", "2", "NORIDIAN JF PART B", "", "", "", "", "PI", "04412"),
        seg("TRN", "1", "BATCH1"),
        seg("DTP", "050", "D8", "20261021"),
        seg("DTP", "009", "D8", "20261021"),
        seg("HL", "2", "1", "21", "1"),
        seg("NM1", "41", "2", "BILLING", "", "", "", "", "46", "S1"),
        seg("TRN", "2", "BATCH0101"),
        seg("STC", "A1:19:PR", "20261021", "WQ", total),
        seg("HL", "3", "2", "19", "1"),
        seg("NM1", "85", "2", "PAIN GROUP", "", "", "", "", "XX", billing_npi),
        seg("TRN", "1", "PROV1"),
        seg("STC", "A1:19:PR", "20261021", "WQ", total),
        seg("HL", "4", "3", "PT"),
        seg("NM1", "QC", "1", "COLE", "JO", "", "", "", "MI", "W77731"),
        seg("TRN", "2", claim_id),
        seg("STC", status, "20261021", "U", total),
        seg("DTP", "472", "D8", lines[0][4]),
    ]
    for composite, charge, line_status, control, dos in lines:
        body += [
            seg("SVC", composite, charge, "0"),
            seg("STC", line_status, "20261021", "U"),
            seg("REF", "FJ", control),
            seg("DTP", "472", "D8", dos),
        ]
    segs = [
        f"ISA*00*{'':10}*00*{'':10}*ZZ*{'CLEARINGHOUSE':15}*ZZ*{'CLAIMLINE':15}*261021*0800*^*00501*000000042*0*P*:~",
        seg("GS", "HN", "CLEARINGHOUSE", "CLAIMLINE", "20261021", "0800", "88", "X", "005010X214"),
        seg("ST", "277", "0777", "005010X214"),
        *body,
        seg("SE", str(len(body) + 2), "0777"),
        seg("GE", "1", "88"),
        seg("IEA", "1", "000000042"),
    ]
    return "\n".join(segs) + "\n"


@pytest.fixture(scope="module")
def practice(live_system: LiveSystem) -> dict[str, str]:
    practice_id, group_npi = f"c-{uuid.uuid4().hex[:6]}", npi()
    live_system.claimline("practices", "add", practice_id, "--name", "Claims Pain", "--payee-npi", group_npi)
    token = live_system.claimline(
        "users", "add", f"b-{uuid.uuid4().hex[:6]}", "--role", "biller", "--practice", practice_id
    ).stdout.strip()
    return {"id": practice_id, "npi": group_npi, "token": token}


def items(system: LiveSystem, token: str, **params: str) -> list[dict[str, object]]:
    r = httpx.get(
        f"{system.gateway}/v1/work-items", params=params, headers={"Authorization": f"Bearer {token}"}
    )
    r.raise_for_status()
    return list(r.json()["items"])


async def wait_items(system: LiveSystem, token: str, n: int, **params: str) -> list[dict[str, object]]:
    async def check() -> list[dict[str, object]] | None:
        found = items(system, token, **params)
        return found if len(found) >= n else None

    return list(await eventually(check, timeout=60))


async def test_a_submitted_claim_is_auth_checked_and_its_remittance_lines_match_it(
    live_system, practice, tmp_path: Path
):
    claim_id = f"PCN{uuid.uuid4().hex[:8].upper()}"
    text_837 = interchange(
        transaction(
            "0001",
            billing(npi=practice["npi"]),
            subscriber("2", payer_id="87726", payer_name="UNITED COMMERCIAL", filing="CI"),
            claim(
                claim_id,
                line(1, "64493", "850", modifiers=("50",), control=f"{claim_id}-1"),
                line(2, "64494", "400", modifiers=("50",), control=f"{claim_id}-2"),
            ),
        )
    )
    submitted = tmp_path / "claims.837"
    submitted.write_text(text_837)
    out = live_system.claimline("ingest", str(submitted))
    assert "1 submitted claim(s), 2 service lines" in out.stdout

    awaiting = await wait_items(live_system, practice["token"], 2, queue="authorization", kind="auth")
    codes = sorted(str(i["procedure_code"]) for i in awaiting if i["claim_id"] == claim_id)
    assert codes == ["64493", "64494"]
    assert all(i["category"] == "awaiting_auth" for i in awaiting if i["claim_id"] == claim_id)

    trace = f"T{uuid.uuid4().hex[:10]}"
    remit = render(
        Envelope(
            interchange_control=random.randint(1, 999_999),
            remits=[
                Remit(
                    trace,
                    practice["npi"],
                    "CLAIMS PAIN",
                    (
                        Claim(
                            claim_id,
                            (
                                Line(
                                    "64493",
                                    D("850"),
                                    D("412.18"),
                                    ("50",),
                                    service_date=date(2026, 9, 14),
                                    control=f"{claim_id}-1",
                                    adjustments=(("CO", "45", D("437.82")),),
                                ),
                                # Modifier 50 dropped, no REF*6R echoed: matched by code, date and units.
                                Line(
                                    "64494",
                                    D("400"),
                                    D("0"),
                                    service_date=date(2026, 9, 14),
                                    adjustments=(("CO", "4", D("400")),),
                                ),
                            ),
                        ),
                    ),
                )
            ],
        )
    )
    echo = tmp_path / "accepted.277"
    echo.write_text(
        ack_277ca(
            practice["npi"],
            claim_id,
            "A2:20:PR",
            (
                ("HC:64493:50", "850", "A2:20", f"{claim_id}-1", "20260914"),
                ("HC:64494:50", "400", "A2:20", f"{claim_id}-2", "20260914"),
            ),
            total="1250",
        )
    )
    assert "1 277CA acknowledgment(s)" in live_system.claimline("ingest", str(echo)).stdout
    paid = tmp_path / "remit.835"
    paid.write_text(remit)
    out = live_system.claimline("ingest", str(paid))
    assert "2 service lines" in out.stdout and "matching no submitted line" not in out.stdout

    denied = await wait_items(live_system, practice["token"], 1, queue="coding_modifiers")
    (item,) = [i for i in denied if i["claim_id"] == claim_id]
    detail = httpx.get(
        f"{live_system.gateway}/v1/work-items/{item['item_id']}",
        headers={"Authorization": f"Bearer {practice['token']}"},
    ).json()["detail"]
    assert detail["match"]["status"] == "matched"
    assert detail["match"]["by"] == "code_date_units"
    assert detail["match"]["submitted_line_number"] == 2
    assert detail["match"]["submitted_modifiers"] == ["50"]
    assert detail["modifiers"] == []
    era = httpx.get(
        f"{live_system.gateway}/v1/remittances/{trace}",
        headers={"Authorization": f"Bearer {practice['token']}"},
    ).json()
    trail = {
        ln["line_number"]: (
            ln["submitted_modifiers"],
            ln["acknowledged_modifiers"],
            ln["modifiers"],
            ln["modifier_trail_changed"],
        )
        for ln in era["lines"]
    }
    assert trail == {1: (["50"], ["50"], ["50"], False), 2: (["50"], ["50"], [], True)}


async def test_a_277ca_rejection_becomes_work_for_the_practice(live_system, practice, tmp_path: Path):
    claim_id = f"REJ{uuid.uuid4().hex[:8].upper()}"
    path = tmp_path / "ack.277"
    path.write_text(ack_277ca(practice["npi"], claim_id))
    out = live_system.claimline("ingest", str(path))
    assert "1 277CA acknowledgment(s)" in out.stdout

    rejected = await wait_items(live_system, practice["token"], 1, queue="clearinghouse_rejections")
    (item,) = [i for i in rejected if i["claim_id"] == claim_id]
    assert item["amount_at_risk"] == "950.00"
    assert "A7/145" in str(item["summary"]) and "resubmit" in str(item["summary"])
