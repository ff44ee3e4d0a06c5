"""What the fault tests share: large files, the exact line count they must produce, and the moment to strike.

The count that matters is the queues' read model: `queues.remit_lines` holds one row per 835 service line
(keyed by the line's event id), and every denied line is also one `denial` work item. A fault test
computes the lines a file holds with `claimline parse` (independently of the running services) and, once
the system has settled, requires exactly that set of lines in the read model: none missing, none extra.
"""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from claimline.x12gen import Claim, Envelope, Line, Remit, render
from services.queues.adapters.orm import remit_lines, work_items
from tests.support import x837
from tests.support.system import LiveSystem

DOS = date(2026, 9, 14)
LINES_PER_CLAIM = 4
# Large enough that a kill lands while lines are still flowing (one at a time the services decide and
# queue 50-150 lines a second on a busy 2-core machine, in batches of CLAIMLINE_CONSUMER_BATCH many
# more), small enough for the fault suite to stay short.
LARGE_FILE_LINES = 1000


def random_npi() -> str:
    return "1" + "".join(random.choice("0123456789") for _ in range(9))


@dataclass
class Tenant:
    """A practice of its own per test, so every count below is scoped to what that test sent."""

    practice_id: str
    payee_npi: str

    @classmethod
    def register(cls, system: LiveSystem, tag: str) -> Tenant:
        tenant = cls(f"{tag}-{uuid.uuid4().hex[:6]}", random_npi())
        system.claimline(
            "practices",
            "add",
            tenant.practice_id,
            "--name",
            tenant.practice_id,
            "--payee-npi",
            tenant.payee_npi,
        )
        return tenant


def write_remittance(path: Path, tenant: Tenant, lines: int = LARGE_FILE_LINES) -> Path:
    """One 835 of `lines` denied service lines (CO-197, so each also becomes a work item)."""
    tag = uuid.uuid4().hex[:6].upper()
    claims = tuple(
        Claim(
            f"F{tag}{n:05d}",
            tuple(
                Line(
                    ("64493", "64494", "62323", "20552")[k],
                    Decimal("850"),
                    Decimal("0"),
                    service_date=DOS,
                    adjustments=(("CO", "197", Decimal("850")),),
                )
                for k in range(LINES_PER_CLAIM)
            ),
            member_id=f"M{tag}{n:05d}",
        )
        for n in range(lines // LINES_PER_CLAIM)
    )
    remit = Remit(f"TRN{tag}", tenant.payee_npi, tenant.practice_id.upper(), claims)
    path.write_text(render(Envelope(interchange_control=random.randint(1, 999_999), remits=[remit])))
    return path


def write_claims(path: Path, tenant: Tenant, claims: int) -> Path:
    """One 837P of `claims` one-line claims (64483 for a commercial payer with no auth on file), each for
    another patient so no frequency cap joins in: every line becomes exactly one `auth` work item."""
    tag = uuid.uuid4().hex[:6].upper()
    loops: list[list[str]] = [x837.billing(npi=tenant.payee_npi)]
    for n in range(claims):
        loops.append(
            x837.subscriber(
                str(n + 2),
                member=f"W{tag}{n:05d}",
                last=f"PATIENT{n}",
                payer_id="87726",
                payer_name="UNITED COMMERCIAL",
                filing="CI",
            )
        )
        loops.append(x837.claim(f"A{tag}{n:05d}", x837.line(1, "64483", "1100", modifiers=("LT",))))
    path.write_text(x837.interchange(x837.transaction("0001", *loops), control=random.randint(1, 999_999)))
    return path


def parsed_lines(path: Path) -> set[tuple[str, int]]:
    """(claim, line number) of every service line in a file, read by `claimline parse` on its own."""
    result = subprocess.run(
        [sys.executable, "-m", "claimline.cli", "parse", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    keys: list[tuple[str, int]] = []
    for text in result.stdout.splitlines():
        record = json.loads(text)
        if record["kind"] == "remit_line":
            keys.append((record["claim"]["patient_control_number"], record["line"]["line_number"]))
        elif record["kind"] == "submitted_claim":
            keys.extend((record["claim_id"], line["line_number"]) for line in record["lines"])
        elif record["kind"] == "rejection":
            raise AssertionError(f"the generated file {path.name} does not read cleanly: {record}")
    assert len(keys) == len(set(keys)), "the generated file repeats a line"
    return set(keys)


async def read_model_lines(engine: AsyncEngine, practice_id: str) -> list[tuple[str, int]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(remit_lines.c.claim_id, remit_lines.c.line_number).where(
                remit_lines.c.practice_id == practice_id
            )
        )
        return [(r.claim_id, r.line_number) for r in rows]


async def work_item_lines(engine: AsyncEngine, practice_id: str, kind: str) -> list[tuple[str, int]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(work_items.c.claim_id, work_items.c.line_number).where(
                work_items.c.practice_id == practice_id, work_items.c.kind == kind
            )
        )
        return [(r.claim_id, r.line_number) for r in rows]


async def count_lines(engine: AsyncEngine, practice_id: str) -> int:
    async with engine.connect() as conn:
        return int(
            (
                await conn.execute(
                    select(func.count())
                    .select_from(remit_lines)
                    .where(remit_lines.c.practice_id == practice_id)
                )
            ).scalar_one()
        )


async def count_items(engine: AsyncEngine, practice_id: str, kind: str) -> int:
    return len(await work_item_lines(engine, practice_id, kind))


def ingest_in_background(system: LiveSystem, *paths: Path) -> asyncio.Task[None]:
    """`claimline ingest` each file in turn, off the test's event loop, so the test watches the lines
    flow (and strikes) while the command still publishes them. Await the task to see it succeeded."""

    def run() -> None:
        for path in paths:
            system.claimline("ingest", str(path))

    return asyncio.create_task(asyncio.to_thread(run))


async def strike_mid_stream(
    progress: Callable[[], Awaitable[int]],
    total: int,
    strike: Callable[[], object],
    timeout: float = 180.0,
    interval: float = 0.02,
) -> int:
    """Wait until the first of `total` lines arrived, strike at once, and return how
    many had arrived. The caller asserts the strike really landed mid-stream (0 < arrived < total)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        arrived = await progress()
        if arrived >= 1:
            strike()
            return await progress()
        await asyncio.sleep(interval)
    raise AssertionError(f"no line arrived within {timeout}s; nothing to strike in the middle of")


async def settle_exactly(
    lines: Callable[[], Awaitable[list[tuple[str, int]]]],
    expected: set[tuple[str, int]],
    timeout: float = 240.0,
    quiet: float = 3.0,
) -> None:
    """Wait until the read model holds exactly `expected`, then make sure it stays so for `quiet`
    seconds (a late duplicate or a stray extra line would show up in that time). Fails with what is
    missing and what is extra."""
    deadline = time.monotonic() + timeout
    found: list[tuple[str, int]] = []
    while time.monotonic() < deadline:
        found = await lines()
        if len(found) >= len(expected):
            break
        await asyncio.sleep(0.5)
    await asyncio.sleep(quiet)
    found = await lines()
    missing = expected - set(found)
    extra = set(found) - expected
    duplicates = len(found) - len(set(found))
    assert not missing and not extra and not duplicates, (
        f"expected exactly {len(expected)} lines, found {len(found)}: {len(missing)} missing "
        f"(e.g. {sorted(missing)[:3]}), {len(extra)} extra (e.g. {sorted(extra)[:3]}), "
        f"{duplicates} duplicated"
    )
