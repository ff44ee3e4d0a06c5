"""An 835 goes through the real Kafka and PostgreSQL to the work queues of the right billers only."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from claimline.x12gen import Claim, Envelope, Line, Remit, render
from services.queues.adapters.orm import remit_lines
from tests.support.kafka import eventually
from tests.support.system import LiveSystem

pytestmark = pytest.mark.e2e


def random_npi() -> str:
    return "1" + "".join(random.choice("0123456789") for _ in range(9))


@dataclass
class Practice:
    practice_id: str
    npi: str
    token: str = ""


def remittance_for(practice: Practice, lines: tuple[tuple[Line, ...], ...]) -> str:
    tag = uuid.uuid4().hex[:8].upper()
    claims = tuple(Claim(f"{tag}{n}", claim_lines) for n, claim_lines in enumerate(lines, start=1))
    remit = Remit(f"TRN{tag}", practice.npi, practice.practice_id.upper(), claims)
    return render(Envelope(interchange_control=random.randint(1, 999_999), remits=[remit]))


DOS = date(2026, 9, 14)


@pytest.fixture(scope="module")
def world(live_system: LiveSystem, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Two practices with a biller each, a supervisor, and one remittance file per practice."""
    a = Practice(f"a-{uuid.uuid4().hex[:6]}", random_npi())
    b = Practice(f"b-{uuid.uuid4().hex[:6]}", random_npi())
    for p in (a, b):
        live_system.claimline(
            "practices", "add", p.practice_id, "--name", p.practice_id, "--payee-npi", p.npi
        )
        p.token = live_system.claimline(
            "users", "add", f"biller-{p.practice_id}", "--role", "biller", "--practice", p.practice_id
        ).stdout.strip()
    supervisor = live_system.claimline(
        "users", "add", f"sup-{uuid.uuid4().hex[:6]}", "--role", "supervisor"
    ).stdout.strip()
    files = tmp_path_factory.mktemp("files")
    file_a = files / "a.835"
    file_a.write_text(
        remittance_for(
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
                        "20552",
                        D("180"),
                        D("61.92"),
                        service_date=DOS,
                        adjustments=(("CO", "45", D("102.60")), ("PR", "2", D("15.48"))),
                    ),
                ),
            ),
        )
    )
    file_b = files / "b.835"
    file_b.write_text(
        remittance_for(
            b,
            (
                (
                    Line(
                        "62323", D("1200"), D("0"), service_date=DOS, adjustments=(("CO", "197", D("1200")),)
                    ),
                    Line(
                        "77003",
                        D("150"),
                        D("0"),
                        service_date=DOS,
                        adjustments=(("CO", "97", D("150")),),
                        remarks=("M15",),
                    ),
                ),
            ),
        )
    )
    return {"a": a, "b": b, "supervisor": supervisor, "file_a": file_a, "file_b": file_b}


def items(system: LiveSystem, token: str, **params: str) -> list[dict[str, object]]:
    response = httpx.get(
        f"{system.gateway}/v1/work-items",
        params=params,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    response.raise_for_status()
    return list(response.json()["items"])


async def wait_for_items(
    system: LiveSystem, token: str, practice_id: str, count: int
) -> list[dict[str, object]]:
    async def check() -> list[dict[str, object]] | None:
        found = items(system, token, practice_id=practice_id)
        return found if len(found) >= count else None

    return list(await eventually(check, timeout=60))


async def test_each_biller_sees_only_their_practice_and_the_supervisor_sees_both(live_system, world):
    a, b = world["a"], world["b"]
    assert isinstance(a, Practice) and isinstance(b, Practice)
    out = live_system.claimline("ingest", str(world["file_a"]), str(world["file_b"]))
    assert "3 service lines" in out.stdout and "2 service lines" in out.stdout

    sup = str(world["supervisor"])
    a_items = await wait_for_items(live_system, sup, a.practice_id, 1)
    b_items = await wait_for_items(live_system, sup, b.practice_id, 2)
    assert [(i["procedure_code"], i["queue"]) for i in a_items] == [("64494", "coding_modifiers")]
    assert sorted((i["procedure_code"], i["queue"]) for i in b_items) == [
        ("62323", "authorization"),
        ("77003", "bundling"),
    ]
    assert {i["amount_at_risk"] for i in b_items} == {"1200.00", "150.00"}

    seen_by_a = items(live_system, a.token)
    seen_by_b = items(live_system, b.token)
    assert {i["practice_id"] for i in seen_by_a} == {a.practice_id}
    assert {i["practice_id"] for i in seen_by_b} == {b.practice_id}
    assert len(seen_by_a) == 1 and len(seen_by_b) == 2
    # Asking for the other practice by filter returns nothing, not the other practice's items.
    assert items(live_system, a.token, practice_id=b.practice_id) == []


async def test_another_practices_item_answers_exactly_like_a_missing_one(live_system, world):
    a, b = world["a"], world["b"]
    assert isinstance(a, Practice) and isinstance(b, Practice)
    b_items = await wait_for_items(live_system, str(world["supervisor"]), b.practice_id, 2)
    headers = {"Authorization": f"Bearer {a.token}"}
    foreign = httpx.get(f"{live_system.gateway}/v1/work-items/{b_items[0]['item_id']}", headers=headers)
    missing = httpx.get(f"{live_system.gateway}/v1/work-items/{uuid.uuid4()}", headers=headers)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()
    own = httpx.get(
        f"{live_system.gateway}/v1/work-items/{b_items[0]['item_id']}",
        headers={"Authorization": f"Bearer {b.token}"},
    )
    assert own.status_code == 200
    assert own.json()["detail"]["codes"][0]["code"] in {"CO", "197", "97"}


async def test_requests_without_a_valid_token_are_refused(live_system):
    assert httpx.get(f"{live_system.gateway}/v1/work-items").status_code == 401
    bad = httpx.get(f"{live_system.gateway}/v1/work-items", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert bad.json()["error"] == "unauthenticated"


async def test_the_same_file_twice_posts_nothing_new(live_system, world, engine):
    a = world["a"]
    assert isinstance(a, Practice)
    sup = str(world["supervisor"])
    before = await wait_for_items(live_system, sup, a.practice_id, 1)

    async def lines_of_a() -> int:
        async with engine.connect() as conn:
            return int(
                (
                    await conn.execute(
                        select(func.count())
                        .select_from(remit_lines)
                        .where(remit_lines.c.practice_id == a.practice_id)
                    )
                ).scalar_one()
            )

    assert await eventually(lambda: _at_least(lines_of_a, 3)) == 3
    again = live_system.claimline("ingest", str(world["file_a"]))
    assert "duplicate" in again.stdout and "nothing posted" in again.stdout
    copy = Path(str(world["file_a"])).with_name("a-renamed.835")
    copy.write_bytes(Path(str(world["file_a"])).read_bytes())
    renamed = live_system.claimline("ingest", str(copy))
    assert "duplicate" in renamed.stdout
    await asyncio.sleep(2)  # give any stray event time to arrive before counting again
    assert await lines_of_a() == 3
    after = items(live_system, sup, practice_id=a.practice_id)
    assert [i["item_id"] for i in after] == [i["item_id"] for i in before]


async def _at_least(count_fn, n: int) -> int | None:
    value = await count_fn()
    return value if value >= n else None


async def test_each_consumer_service_tunes_its_garbage_collector_once_started(live_system):
    """`claimline run` freezes what a service loaded and collects every 50,000 allocations
    (CLAIMLINE_GC_THRESHOLD): the setting the hot path's CPU per line was measured with."""

    def tuned(service: str) -> dict[str, object] | None:
        for line in (live_system.workdir / f"{service}.log").read_text(errors="replace").splitlines():
            if line.startswith("{") and '"garbage collector tuned"' in line:
                return dict(json.loads(line))
        return None

    for service in ("ingest", "denials", "auths", "queues"):

        async def logged(service: str = service) -> dict[str, object] | None:
            return tuned(service)

        entry = await eventually(logged, timeout=30)
        assert entry["threshold"] == 50_000
        assert isinstance(entry["frozen_objects"], int) and entry["frozen_objects"] > 10_000, entry
