"""Every intake path on the real stack: upload through the gateway, the drop folder, the CLI; duplicates,
balancing exceptions, provider adjustments and precise rejections all reach the right queue."""

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

pytestmark = pytest.mark.e2e

DOS = date(2026, 9, 14)


def npi() -> str:
    return "1" + "".join(random.choice("0123456789") for _ in range(9))


@pytest.fixture(scope="module")
def tenants(live_system: LiveSystem) -> dict[str, str]:
    """One practice, its biller, a biller of another practice, a supervisor and an admin."""
    practice, other = f"p-{uuid.uuid4().hex[:6]}", f"o-{uuid.uuid4().hex[:6]}"
    payee = npi()
    live_system.claimline("practices", "add", practice, "--name", "Intake Pain", "--payee-npi", payee)
    live_system.claimline("practices", "add", other, "--name", "Other Pain", "--payee-npi", npi())

    def user(role: str, *practices: str) -> str:
        args = ["users", "add", f"{role}-{uuid.uuid4().hex[:6]}", "--role", role]
        for p in practices:
            args += ["--practice", p]
        return live_system.claimline(*args).stdout.strip()

    return {
        "practice": practice,
        "other": other,
        "payee": payee,
        "biller": user("biller", practice),
        "other_biller": user("biller", other),
        "supervisor": user("supervisor"),
        "admin": user("admin"),
    }


def remit(
    payee: str,
    trace: str,
    lines: tuple[Line, ...],
    plb: tuple[tuple[str, str, D], ...] = (),
    control: int | None = None,
) -> str:
    claim = Claim(f"C{uuid.uuid4().hex[:8].upper()}", lines)
    return render(
        Envelope(
            interchange_control=control or random.randint(1, 999_999),
            remits=[Remit(trace, payee, "INTAKE PAIN", (claim,), plb=plb)],
        )
    )


def denied(code: str = "62323", amount: str = "1200") -> Line:
    return Line(code, D(amount), D("0"), service_date=DOS, adjustments=(("CO", "197", D(amount)),))


def get(system: LiveSystem, token: str, path: str, **params: str) -> httpx.Response:
    return httpx.get(
        f"{system.gateway}{path}", params=params, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


async def items_where(system: LiveSystem, token: str, expect: int, **filters: str) -> list[dict[str, object]]:
    async def check() -> list[dict[str, object]] | None:
        found = get(system, token, "/v1/work-items", **filters).json()["items"]
        return found if len(found) >= expect else None

    return list(await eventually(check, timeout=60))


async def test_an_upload_through_the_gateway_is_ingested_and_its_status_is_scoped(live_system, tenants):
    content = remit(tenants["payee"], f"UP{uuid.uuid4().hex[:8]}", (denied(),)).encode()
    response = httpx.post(
        f"{live_system.gateway}/v1/files",
        params={"name": "upload.835"},
        content=content,
        headers={"Authorization": f"Bearer {tenants['biller']}"},
    )
    assert response.status_code == 202, response.text
    accepted = response.json()

    async def status() -> dict[str, object] | None:
        r = get(live_system, tenants["biller"], accepted["status_url"])
        return r.json() if r.status_code == 200 else None

    file = await eventually(status, timeout=60)
    assert file["lines"] == 1 and file["source"] == "upload" and file["practices"] == {tenants["practice"]: 1}
    assert get(live_system, tenants["other_biller"], accepted["status_url"]).status_code == 404
    items = await items_where(
        live_system, tenants["biller"], 1, practice_id=tenants["practice"], queue="authorization"
    )
    assert any(i["procedure_code"] == "62323" for i in items)


async def test_an_upload_without_a_name_or_body_is_refused_clearly(live_system, tenants):
    headers = {"Authorization": f"Bearer {tenants['biller']}"}
    empty = httpx.post(
        f"{live_system.gateway}/v1/files", params={"name": "x.835"}, content=b"", headers=headers
    )
    assert empty.status_code == 400 and "empty" in empty.json()["detail"]
    sneaky = httpx.post(
        f"{live_system.gateway}/v1/files", params={"name": "../etc/passwd"}, content=b"x", headers=headers
    )
    assert sneaky.status_code == 400


async def test_a_file_dropped_in_the_drop_folder_is_ingested_once_and_moved(live_system, tenants):
    drop = Path(live_system.env["CLAIMLINE_DROP_DIR"])
    drop.mkdir(parents=True, exist_ok=True)
    name = f"drop-{uuid.uuid4().hex[:6]}.835"
    (drop / name).write_text(remit(tenants["payee"], f"DR{uuid.uuid4().hex[:8]}", (denied("64483", "1100"),)))

    async def done() -> bool:
        return (drop / "done" / name).exists()

    await eventually(done, timeout=60)
    assert not (drop / name).exists()

    async def recorded() -> list[str] | None:
        # The file's status reaches the gateway through the ingest outbox and the queues consumer.
        files = get(live_system, tenants["supervisor"], "/v1/files").json()
        sources = [f["source"] for f in files if f["file_name"] == name]
        return sources or None

    assert await eventually(recorded, timeout=60) == ["drop-folder"]


async def test_the_same_remittance_in_another_file_posts_nothing_and_says_so(live_system, tenants, tmp_path):
    trace = f"DUP{uuid.uuid4().hex[:8]}"
    lines = (denied("64493", "850"),)
    first, second = tmp_path / "first.835", tmp_path / "second.835"
    first.write_text(remit(tenants["payee"], trace, lines, control=111))
    second.write_text(remit(tenants["payee"], trace, lines, control=222))  # other envelope, same remittance
    assert first.read_bytes() != second.read_bytes()
    assert "1 service lines" in live_system.claimline("ingest", str(first)).stdout
    again = live_system.claimline("ingest", str(second), check=False)
    assert again.returncode == 2
    assert "duplicate remittance" in again.stdout and trace in again.stdout
    assert "0 service lines" in again.stdout


async def test_an_unbalanced_remittance_is_held_with_the_numbers_that_disagree(
    live_system, tenants, tmp_path
):
    text = remit(
        tenants["payee"],
        f"UNB{uuid.uuid4().hex[:8]}",
        (Line("20552", D("180"), D("77.40"), service_date=DOS, adjustments=(("CO", "45", D("102.60")),)),),
    )
    broken = text.replace("BPR*I*77.4*", "BPR*I*70*")  # the payment no longer matches the claims
    assert broken != text
    path = tmp_path / "unbalanced.835"
    path.write_text(broken)
    out = live_system.claimline("ingest", str(path))
    assert "1 held as balancing exceptions" in out.stdout
    items = await items_where(
        live_system, tenants["supervisor"], 1, practice_id=tenants["practice"], queue="balancing_exception"
    )
    summary = str(items[0]["summary"])
    assert "expected $70.00, found $77.40, off by $7.40" in summary


async def test_a_recoupment_and_a_broken_claim_reach_their_queues(live_system, tenants, tmp_path):
    reference = f"ICN{uuid.uuid4().hex[:8]}"
    text = remit(
        tenants["payee"],
        f"PLB{uuid.uuid4().hex[:8]}",
        (denied("64635", "2100"),),
        plb=(("WO", reference, D("312.50")),),
    )
    bad_claim = text.replace("SVC*HC:64635*2100*0", "SVC*HC:64635*21O0*0")  # letter O in the charge
    path = tmp_path / "plb.835"
    path.write_text(bad_claim)
    out = live_system.claimline("ingest", str(path), check=False)
    assert out.returncode == 2
    assert "SVC02 is not a number" in out.stdout and "element 2" in out.stdout
    recoupments = await items_where(
        live_system, tenants["supervisor"], 1, practice_id=tenants["practice"], queue="provider_adjustments"
    )
    assert any(reference in str(i["summary"]) and i["amount_at_risk"] == "312.50" for i in recoupments)
    rejections = await items_where(live_system, tenants["biller"], 1, queue="rejections")
    assert any(
        "SVC02 is not a number" in str(i["summary"]) and "21O0" in str(i["summary"]) for i in rejections
    )
    assert (
        get(live_system, tenants["other_biller"], "/v1/work-items", queue="rejections").json()["items"] == []
    )


async def test_admins_manage_practices_through_the_api(live_system, tenants):
    practice_id = f"api-{uuid.uuid4().hex[:6]}"
    body = {
        "practice_id": practice_id,
        "name": "API Pain",
        "payee_npis": [npi()],
        "payee_tins": [],
        "rendering_npis": [npi()],
    }
    url = f"{live_system.gateway}/v1/practices/{practice_id}"
    refused = httpx.put(url, json=body, headers={"Authorization": f"Bearer {tenants['biller']}"})
    assert refused.status_code == 403
    accepted = httpx.put(url, json=body, headers={"Authorization": f"Bearer {tenants['admin']}"})
    assert accepted.status_code == 202, accepted.text

    async def registered() -> bool:
        listed = get(live_system, tenants["supervisor"], "/v1/practices").json()
        return any(p["practice_id"] == practice_id for p in listed)

    await eventually(registered, timeout=60)
    out = live_system.claimline("practices", "list").stdout
    assert practice_id in out and body["payee_npis"][0] in out
    clash = dict(body, practice_id=f"x-{practice_id}")
    conflict = httpx.put(
        f"{live_system.gateway}/v1/practices/x-{practice_id}",
        json=clash,
        headers={"Authorization": f"Bearer {tenants['admin']}"},
    )
    assert conflict.status_code == 409
    assert [p["practice_id"] for p in get(live_system, tenants["biller"], "/v1/practices").json()] == [
        tenants["practice"]
    ]
