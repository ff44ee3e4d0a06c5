"""Gateway load: 50 concurrent billers and supervisors against the real gateway, beside the same SQL.

    cd /work/main && .venv/bin/python bench/gateway_load.py                   # 1M items, 50 clients, 60 s
    cd /work/main && .venv/bin/python bench/gateway_load.py --items 100000 --seconds 20

What it does, in one run:

 1. creates a fresh database `bench_gateway_<random>` on the server of DATABASE_URL and migrates it
    with `shared.runtime.migrations.upgrade_all` (the real schema and indexes);
 2. loads N work items (default 1,000,000) across 20 practices of unequal size, 4 rendering providers
    each, with COPY (asyncpg `copy_records_to_table`; the secondary indexes are dropped for the COPY and
    rebuilt from their own definitions), then VACUUM ANALYZE (what autovacuum would have done to a
    long-lived table: statistics, visibility map, hint bits);
 3. creates the users with `create_user`: a biller per practice, 4 provider-scoped billers, 2 supervisors;
 4. starts the gateway exactly as production does (`python -m claimline.cli run gateway --port P`, a
    subprocess on 127.0.0.1 with DATABASE_URL pointing at the bench database and the stack's Kafka);
 5. runs C concurrent clients (asyncio tasks, one keep-alive `httpx.AsyncClient` each, no think time by
    default) for a warm-up and then S measured seconds. Each client is one user and loops over a mix:
    60% a page of 50 (half unfiltered, half with one or two of queue / status / payer / min_amount /
    older_than_days; 30% of them then follow `next_cursor` for one or two more pages), 15% an item's
    detail, 15% a change (half `POST .../status`, half `POST .../claim`), 10% a page filtered by
    practice_id. Items for detail and changes come from the pages the client has just read;
 6. stops the gateway and runs the same mix, the same users and the same number of clients directly
    against PostgreSQL with asyncpg (one connection per client): the SQL the repository issues for a
    page (scope, filters, keyset cursor as a row comparison, ORDER BY priority DESC, item_id DESC,
    LIMIT 51), the scoped fetch by id, and the change (SELECT ... FOR UPDATE, UPDATE, INSERT into the
    audit log, COMMIT);
 7. prints count, throughput, p50/p95/p99 per operation for both, CPU use of each process, and whether
    the gateway's p99 for a page of 50 is under the 100 ms target (printed, never asserted).

Options: --items N, --clients C (50), --seconds S (60), --warmup (5), --think-ms (0: closed loop), --seed,
--keep (keep the database), --database NAME (reuse a kept one), --gateway-workers N,
--http-client httpx|raw, --explain (EXPLAIN ANALYZE the slowest direct-SQL page of each kind, custom and
generic plan), --json FILE. The gateway's log goes to .cache/bench/<database>-gateway.log (removed if empty).

Latency is measured by the client around each request (perf_counter), so the gateway figures include
HTTP on loopback, JSON, the gateway's per-request work (token lookup, SQLAlchemy, pydantic) and the
queueing inside it; the direct-SQL figures include only the queries. The machine has 2 cores shared by
the load generator, the gateway and PostgreSQL; the report shows who used them.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

import asyncpg
import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PROJECT_PYTHON = ROOT / ".venv" / "bin" / "python"
LOG_DIR = ROOT / ".cache" / "bench"
TARGET_P99_MS = 100.0
PAGE = 50
MAX_THINK_S = 4.0
BUSY_MACHINE_CORES = 0.25  # CPU used by other processes above which the report warns

# ----------------------------------------------------------------------------- the data

PRACTICE_COUNT = 20
PROVIDERS_PER_PRACTICE = 4
PRACTICES = tuple(f"practice-{i:02d}" for i in range(1, PRACTICE_COUNT + 1))
# Practices differ in size: the largest has about 6 times the items of the smallest.
PRACTICE_WEIGHTS = tuple(1 / (i**0.6) for i in range(1, PRACTICE_COUNT + 1))
QUEUES: tuple[tuple[str, str, str, int], ...] = (  # queue, kind, category, weight
    ("coding_modifiers", "denial", "denied", 14),
    ("frequency_medical_necessity", "denial", "denied", 12),
    ("authorization", "auth", "awaiting_auth", 12),
    ("documentation_requested", "denial", "denied", 9),
    ("bundling", "denial", "partially_denied", 8),
    ("eligibility_cob", "denial", "denied", 9),
    ("timely_filing", "denial", "denied", 4),
    ("underpayment", "denial", "underpaid", 10),
    ("rejections", "rejection", "ingest_rejection", 8),
    ("provider_adjustments", "provider_adjustment", "recoupment", 3),
    ("review", "denial", "needs_review", 7),
    ("duplicate", "denial", "denied", 4),
)
STATUSES: tuple[tuple[str, int], ...] = (
    ("new", 55),
    ("in_progress", 25),
    ("waiting_on_payer", 8),
    ("appealed", 6),
    ("resolved", 4),
    ("written_off", 2),
)
PAYERS = (
    "Medicare Part B (Novitas)",
    "Aetna",
    "UnitedHealthcare",
    "Blue Cross Blue Shield of Texas",
    "Cigna",
    "Humana",
    "Anthem Blue Cross",
    "Texas Medicaid (TMHP)",
    "WellCare",
    "Tricare East",
)
PAYER_SEARCHES = ("Aetna", "Blue", "Medicare", "Cigna", "Humana", "united", "WellCare", "Tricare")
PROCEDURES = ("64493", "64494", "64483", "62323", "77003", "20552", "64635", "64636", "62321", "27096")
MODIFIERS = ("", "-50", "-LT", "-RT", "-59", "-XS")
CARCS = (
    ("197", "precertification/authorization absent"),
    ("50", "not deemed a medical necessity"),
    ("4", "procedure code inconsistent with the modifier"),
    ("119", "benefit maximum for this time period reached"),
    ("16", "claim lacks information needed for adjudication"),
    ("97", "payment included in another service"),
    ("29", "time limit for filing has expired"),
    ("151", "payer deems the information does not support this many services"),
)
COLUMNS = (
    "item_id",
    "practice_id",
    "provider_npi",
    "kind",
    "category",
    "queue",
    "status",
    "priority",
    "amount_at_risk",
    "deadline",
    "summary",
    "payer_name",
    "claim_id",
    "line_number",
    "procedure_code",
    "service_date",
    "file_id",
    "source_event_id",
    "revision",
    "assignee",
    "detail",
    "created_at",
    "updated_at",
)
CHANGE_STATUSES = ("in_progress", "waiting_on_payer", "appealed", "in_progress", "resolved")


def npi(practice: int, provider: int) -> str:
    return f"1{practice:02d}{provider:07d}"


def biller_name(practice: int) -> str:
    return f"biller-{practice:02d}"


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def item_rows(count: int, seed: int, now: datetime, chunk: int = 20_000) -> Iterator[list[tuple[Any, ...]]]:
    """Work items in chunks of tuples in COPY column order; seeded, so the same N gives the same table."""
    rng = random.Random(seed)
    queue_weights = [q[3] for q in QUEUES]
    status_names = [s[0] for s in STATUSES]
    status_weights = [s[1] for s in STATUSES]
    made = 0
    while made < count:
        size = min(chunk, count - made)
        practices = rng.choices(range(PRACTICE_COUNT), weights=PRACTICE_WEIGHTS, k=size)
        queues = rng.choices(QUEUES, weights=queue_weights, k=size)
        statuses = rng.choices(status_names, weights=status_weights, k=size)
        rows: list[tuple[Any, ...]] = []
        for k in range(size):
            p = practices[k] + 1
            queue, kind, category, _ = queues[k]
            status = statuses[k]
            created = now - timedelta(seconds=rng.random() * 120 * 86_400)
            service = (created - timedelta(days=rng.randint(10, 60))).date()
            cents = int(math.exp(rng.uniform(math.log(2_000), math.log(2_500_000))))
            amount = Decimal(cents).scaleb(-2)
            priority = min(100, int(rng.betavariate(2.0, 3.0) * 101))
            payer = PAYERS[min(9, int(rng.expovariate(0.35)))]
            code = PROCEDURES[rng.randrange(len(PROCEDURES))]
            modifier = MODIFIERS[rng.randrange(len(MODIFIERS))]
            carc, meaning = CARCS[rng.randrange(len(CARCS))]
            line = rng.randint(1, 6)
            claim = f"PCN{p:02d}{rng.randrange(10**8):08d}"
            deadline = (created + timedelta(days=rng.randint(20, 180))).date()
            summary = (
                f"{payer} {category.replace('_', ' ')} {code}{modifier} line {line} of claim {claim}: "
                f"CARC {carc} {meaning}; ${amount} at risk"
            )[:120]
            assignee = (
                biller_name(p) if (status != "new" and rng.random() < 0.85) or rng.random() < 0.03 else None
            )
            rarcs = '["N54"]' if carc == "197" else "[]"
            detail = (
                f'{{"group": "CO", "carc": "{carc}", "rarcs": {rarcs}, "charge": "{amount * 2}", '
                f'"trace_number": "EFT{rng.randrange(10**9):09d}"}}'
            )
            updated = created if status == "new" else created + timedelta(hours=rng.random() * 240)
            rows.append(
                (
                    _uuid(rng),
                    PRACTICES[p - 1],
                    npi(p, rng.randrange(PROVIDERS_PER_PRACTICE)),
                    kind,
                    category,
                    queue,
                    status,
                    priority,
                    amount,
                    deadline,
                    summary,
                    payer,
                    claim,
                    line,
                    code,
                    service,
                    f"file-{p:02d}-{rng.randrange(4000):05d}",
                    _uuid(rng),
                    0,
                    assignee,
                    detail,
                    created,
                    min(updated, now),
                )
            )
        made += size
        yield rows


# ----------------------------------------------------------------------------- users


@dataclass(frozen=True)
class BenchUser:
    username: str
    role: str  # biller | supervisor
    practices: tuple[str, ...] | None  # None: every practice (supervisors)
    providers: tuple[str, ...]
    token: str = ""

    @property
    def kind(self) -> str:
        if self.role == "supervisor":
            return "supervisor"
        return "biller (providers)" if self.providers else "biller"


def bench_users() -> list[BenchUser]:
    billers = [BenchUser(biller_name(i), "biller", (PRACTICES[i - 1],), ()) for i in range(1, 21)]
    scoped = [
        BenchUser(f"{biller_name(i)}-providers", "biller", (PRACTICES[i - 1],), (npi(i, 0), npi(i, 1)))
        for i in range(1, 5)
    ]
    supervisors = [BenchUser(f"supervisor-{i}", "supervisor", None, ()) for i in (1, 2)]
    return billers + scoped + supervisors


def users_for_clients(users: Sequence[BenchUser], clients: int) -> list[BenchUser]:
    """About 8% of the clients are supervisors, 8% provider-scoped billers, the rest practice billers."""
    supervisors = [u for u in users if u.role == "supervisor"]
    scoped = [u for u in users if u.providers]
    billers = [u for u in users if u.role == "biller" and not u.providers]
    n_sup = max(1, round(clients * 0.08))
    n_scoped = max(1, round(clients * 0.08)) if clients > 2 else 0
    chosen = [supervisors[i % len(supervisors)] for i in range(n_sup)]
    chosen += [scoped[i % len(scoped)] for i in range(n_scoped)]
    chosen += [billers[i % len(billers)] for i in range(clients - len(chosen))]
    return chosen[:clients]


# ----------------------------------------------------------------------------- measurements


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)  # seconds
    errors: int = 0
    slowest: tuple[float, str] = (0.0, "")


class Recorder:
    def __init__(self) -> None:
        self.ops: dict[str, Stats] = {}
        self.by_kind: dict[str, list[float]] = {}
        self.error_samples: list[str] = []
        self.requests = 0  # every request, warm-up included (for CPU per request)

    def add(self, op: str, kind: str, seconds: float, ok: bool, what: Callable[[], str]) -> None:
        """`what` describes the request; it is only called for errors and for a new slowest request."""
        stats = self.ops.setdefault(op, Stats())
        stats.latencies.append(seconds)
        if op.startswith("list"):
            self.by_kind.setdefault(kind, []).append(seconds)
        if not ok:
            stats.errors += 1
            if len(self.error_samples) < 10:
                self.error_samples.append(f"{op}: {what()}")
        if seconds > stats.slowest[0]:
            stats.slowest = (seconds, what())


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def summary(latencies: Sequence[float], errors: int, seconds: float) -> dict[str, float]:
    values = sorted(latencies)
    return {
        "count": len(values),
        "errors": errors,
        "per_second": len(values) / seconds if seconds else 0.0,
        "p50_ms": percentile(values, 50) * 1000,
        "p95_ms": percentile(values, 95) * 1000,
        "p99_ms": percentile(values, 99) * 1000,
        "max_ms": (values[-1] * 1000) if values else float("nan"),
    }


def _proc_ticks(pid: int) -> int | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])  # utime + stime (fields 14 and 15 of the whole line)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _tree_ticks(pid: int, seen: dict[int, int]) -> None:
    """utime + stime of `pid` and every process below it, into `seen` (pid -> ticks)."""
    ticks = _proc_ticks(pid)
    if ticks is None:
        return
    seen[pid] = ticks
    for child in _children(pid):
        _tree_ticks(child, seen)


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs."""
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = parts[3] + parts[4]
    return sum(parts[:8]) - idle, sum(parts[:8])


class CpuWatch:
    """CPU seconds of this process, the gateway and the bench database's PostgreSQL backends, the machine's
    busy cores, and PostgreSQL's sessions and transactions in the bench database."""

    def __init__(self, dsn: str, database: str, gateway_pid: int | None) -> None:
        self.dsn = dsn
        self.database = database
        self.gateway_pid = gateway_pid
        self.hz = os.sysconf("SC_CLK_TCK")
        self.backend_start: dict[int, int] = {}
        self.backend_last: dict[int, int] = {}
        self.counters_start = (0, 0)
        self.task: asyncio.Task[None] | None = None
        self.conn: Any = None

    async def _backends(self) -> list[int]:
        rows = await self.conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", self.database
        )
        return [int(r["pid"]) for r in rows]

    async def _sample(self, first: bool) -> None:
        for pid in await self._backends():
            ticks = _proc_ticks(pid)
            if ticks is None:
                continue
            if first:
                self.backend_start[pid] = ticks
            else:
                self.backend_start.setdefault(pid, 0)  # a backend that started during the phase
            self.backend_last[pid] = ticks

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            await self._sample(first=False)

    async def _counters(self) -> tuple[int, int]:
        """(sessions ever opened, transactions committed or rolled back) in the bench database."""
        row = await self.conn.fetchrow(
            "SELECT sessions, xact_commit + xact_rollback AS xacts FROM pg_stat_database WHERE datname = $1",
            self.database,
        )
        return int(row["sessions"] or 0), int(row["xacts"] or 0)

    async def start(self) -> None:
        self.conn = await asyncpg.connect(self.dsn)
        await asyncio.sleep(0.6)  # pg_stat_database hears from the backends with a short delay
        self.counters_start = await self._counters()
        self.t0 = time.perf_counter()
        self.self0 = sum(os.times()[:2])
        self.gw_start: dict[int, int] = {}
        if self.gateway_pid:
            _tree_ticks(self.gateway_pid, self.gw_start)
        self.machine0 = _machine_ticks()
        self.load0 = _loadavg()
        await self._sample(first=True)
        self.task = asyncio.create_task(self._loop())

    async def stop(self) -> dict[str, Any]:
        assert self.task is not None
        self.task.cancel()
        await self._sample(first=False)
        wall = time.perf_counter() - self.t0
        busy1, total1 = _machine_ticks()
        gw_end: dict[int, int] = {}
        if self.gateway_pid:
            _tree_ticks(self.gateway_pid, gw_end)
        load1 = _loadavg()
        load_generator = sum(os.times()[:2]) - self.self0
        await asyncio.sleep(0.6)
        sessions, xacts = await self._counters()
        await self.conn.close()
        out: dict[str, Any] = {"wall_s": wall, "load_generator_cpu_s": load_generator}
        if gw_end:
            # A worker that started during the phase counts from 0.
            out["gateway_cpu_s"] = sum(t - self.gw_start.get(p, 0) for p, t in gw_end.items()) / self.hz
            out["gateway_processes"] = len(gw_end)
        out["loadavg_start"] = self.load0
        out["loadavg_end"] = load1
        out["postgres_cpu_s"] = (
            sum(self.backend_last[p] - self.backend_start[p] for p in self.backend_last) / self.hz
        )
        cores = os.cpu_count() or 1
        out["machine_busy_cores"] = (busy1 - self.machine0[0]) / max(1, total1 - self.machine0[1]) * cores
        ours = out["load_generator_cpu_s"] + out["postgres_cpu_s"] + out.get("gateway_cpu_s", 0.0)
        out["other_processes_cores"] = max(0.0, out["machine_busy_cores"] - ours / wall)
        out["new_postgres_sessions"] = max(0, sessions - self.counters_start[0])
        out["postgres_transactions"] = max(0, xacts - self.counters_start[1])
        return out


# ----------------------------------------------------------------------------- what a client does


@dataclass
class Seen:
    item_id: str
    assignee: str | None


class Session(Protocol):
    """One client's connection to the system under test, as one user."""

    async def list_page(
        self, params: dict[str, str], cursor: str | None
    ) -> tuple[list[Seen], str | None]: ...

    async def get_item(self, item_id: str) -> bool: ...

    async def set_status(self, item_id: str, status: str) -> bool: ...

    async def claim(self, item_id: str) -> bool: ...

    def describe(self, op: str, args: dict[str, Any]) -> str: ...


def random_filters(rng: random.Random) -> dict[str, str]:
    makers: list[Callable[[], tuple[str, str]]] = [
        lambda: ("queue", rng.choices(QUEUES, weights=[q[3] for q in QUEUES])[0][0]),
        lambda: ("status", rng.choice(("new", "new", "in_progress", "waiting_on_payer", "appealed"))),
        lambda: ("payer", rng.choice(PAYER_SEARCHES)),
        lambda: ("min_amount", rng.choice(("100", "500", "1000", "5000"))),
        lambda: ("older_than_days", rng.choice(("7", "30", "60", "90"))),
    ]
    chosen = rng.sample(makers, 2 if rng.random() < 0.3 else 1)
    return dict(maker() for maker in chosen)


class UnexpectedStatus(Exception):
    pass


async def client_loop(
    session: Session,
    user: BenchUser,
    rng: random.Random,
    record_from: float,
    end: float,
    recorder: Recorder,
    think_s: float,
) -> None:
    seen: list[Seen] = []

    async def timed(op: str, action: Awaitable[Any], what: dict[str, Any]) -> Any:
        started = time.perf_counter()
        result: Any = None
        ok = True
        error = ""
        try:
            result = await action
            if result is False:
                ok, error = False, "not found"
        except Exception as exc:
            ok, error = False, f"{type(exc).__name__}: {exc}"[:300]
        elapsed = time.perf_counter() - started
        recorder.requests += 1
        if started >= record_from:
            recorder.add(op, user.kind, elapsed, ok, lambda: error or session.describe(op, what))
        return result

    while time.perf_counter() < end:
        draw = rng.random()
        if draw < 0.60 or not seen:
            params = random_filters(rng) if rng.random() < 0.5 else {}
            op = "list filtered" if params else "list"
            page = await timed(op, session.list_page(params, None), {"params": params})
            pages = rng.choice((2, 3)) if rng.random() < 0.3 else 1
            while page is not None and page[1] is not None and pages > 1 and time.perf_counter() < end:
                seen = page[0] or seen
                pages -= 1
                cursor = page[1]
                page = await timed(
                    "list next page", session.list_page(params, cursor), {"params": params, "cursor": cursor}
                )
            if page is not None and page[0]:
                seen = page[0]
        elif draw < 0.75:
            item = rng.choice(seen)
            await timed("get item", session.get_item(item.item_id), {"item_id": item.item_id})
        elif draw < 0.90:
            if rng.random() < 0.5:
                mine = [s for s in seen if user.role == "supervisor" or s.assignee in (None, user.username)]
                if mine:
                    item = rng.choice(mine)
                    await timed("claim", session.claim(item.item_id), {"item_id": item.item_id})
                    item.assignee = user.username
                    continue
            item = rng.choice(seen)
            status = rng.choice(CHANGE_STATUSES)
            await timed(
                "set status",
                session.set_status(item.item_id, status),
                {"item_id": item.item_id, "status": status},
            )
        else:
            practice = rng.choice(user.practices or PRACTICES)
            params = {"practice_id": practice}
            page = await timed("list by practice", session.list_page(params, None), {"params": params})
            if page is not None and page[0]:
                seen = page[0]
        if think_s > 0:
            # Capped below uvicorn's 5 s keep-alive, so an idle connection is not closed under the client.
            await asyncio.sleep(min(MAX_THINK_S, rng.expovariate(1 / think_s)))


# ----------------------------------------------------------------------------- the gateway, over HTTP


class HttpSession:
    def __init__(self, client: httpx.AsyncClient, user: BenchUser) -> None:
        self.client = client
        self.user = user
        self.headers = {"Authorization": f"Bearer {user.token}"}

    def _check(self, response: httpx.Response) -> None:
        if response.status_code != 200:
            raise UnexpectedStatus(f"HTTP {response.status_code} {response.url}: {response.text[:200]}")

    async def list_page(self, params: dict[str, str], cursor: str | None) -> tuple[list[Seen], str | None]:
        query = {**params, "limit": str(PAGE)}
        if cursor:
            query["cursor"] = cursor
        response = await self.client.get("/v1/work-items", params=query, headers=self.headers)
        self._check(response)
        body = response.json()
        return [Seen(i["item_id"], i["assignee"]) for i in body["items"]], body["next_cursor"]

    async def get_item(self, item_id: str) -> bool:
        response = await self.client.get(f"/v1/work-items/{item_id}", headers=self.headers)
        self._check(response)
        return True

    async def set_status(self, item_id: str, status: str) -> bool:
        response = await self.client.post(
            f"/v1/work-items/{item_id}/status", json={"status": status}, headers=self.headers
        )
        self._check(response)
        return True

    async def claim(self, item_id: str) -> bool:
        response = await self.client.post(f"/v1/work-items/{item_id}/claim", headers=self.headers)
        self._check(response)
        return True

    def describe(self, op: str, args: dict[str, Any]) -> str:
        return f"{self.user.username}: {op} {json.dumps(args)}"


class RawHttpSession(HttpSession):
    """The same requests over one keep-alive HTTP/1.1 connection written by hand (asyncio streams): what
    the gateway can do when the load generator costs less CPU than httpx (`--http-client raw`)."""

    def __init__(self, base_url: str, user: BenchUser) -> None:
        self.user = user
        self.host, port = base_url.removeprefix("http://").split(":")
        self.port = int(port)
        self.auth = f"Authorization: Bearer {user.token}\r\n"
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def aclose(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None

    async def _request(self, method: str, target: str, body: bytes = b"") -> tuple[int, bytes]:
        head = f"{method} {target} HTTP/1.1\r\nHost: {self.host}\r\n{self.auth}"
        if method == "POST":
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        for attempt in (1, 2):
            if self.streams is None:
                self.streams = await asyncio.open_connection(self.host, self.port)
            reader, writer = self.streams
            try:
                writer.write(head.encode() + b"\r\n" + body)
                raw = await reader.readuntil(b"\r\n\r\n")
                status = int(raw[9:12])
                length = 0
                for line in raw.split(b"\r\n")[1:]:
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                return status, await reader.readexactly(length)
            except (asyncio.IncompleteReadError, ConnectionError):
                await self.aclose()  # the server closed a kept-alive connection: once more on a new one
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _ok(self, status: int, body: bytes, target: str) -> None:
        if status != 200:
            raise UnexpectedStatus(f"HTTP {status} {target}: {body[:200]!r}")

    async def list_page(self, params: dict[str, str], cursor: str | None) -> tuple[list[Seen], str | None]:
        query = {**params, "limit": str(PAGE)}
        if cursor:
            query["cursor"] = cursor
        target = "/v1/work-items?" + urlencode(query)
        status, raw = await self._request("GET", target)
        self._ok(status, raw, target)
        body = json.loads(raw)
        return [Seen(i["item_id"], i["assignee"]) for i in body["items"]], body["next_cursor"]

    async def get_item(self, item_id: str) -> bool:
        target = f"/v1/work-items/{item_id}"
        self._ok(*await self._request("GET", target), target)
        return True

    async def set_status(self, item_id: str, status: str) -> bool:
        target = f"/v1/work-items/{item_id}/status"
        self._ok(*await self._request("POST", target, json.dumps({"status": status}).encode()), target)
        return True

    async def claim(self, item_id: str) -> bool:
        target = f"/v1/work-items/{item_id}/claim"
        self._ok(*await self._request("POST", target), target)
        return True


# ----------------------------------------------------------------------------- the same, straight SQL

# Constant column names, no input: not an injection.
SELECT_ALL = "SELECT " + ", ".join(f"queues.work_items.{c}" for c in COLUMNS) + " FROM queues.work_items"  # noqa: S608
# A page leaves out what the list does not show (`repository.PAGE_COLUMNS`).
PAGE_COLUMNS = [c for c in COLUMNS if c not in ("detail", "file_id", "source_event_id", "revision")]
SELECT_PAGE = "SELECT " + ", ".join(f"queues.work_items.{c}" for c in PAGE_COLUMNS)
SELECT_PAGE += " FROM queues.work_items"


class Sql:
    """Positional parameters with the casts SQLAlchemy's asyncpg dialect renders."""

    def __init__(self) -> None:
        self.args: list[Any] = []
        self.where: list[str] = []

    def p(self, value: Any, cast: str) -> str:
        self.args.append(value)
        return f"${len(self.args)}::{cast}"

    def scope(self, user: BenchUser) -> None:
        if user.practices is not None:
            marks = ", ".join(self.p(x, "VARCHAR") for x in user.practices)
            self.where.append(f"queues.work_items.practice_id IN ({marks})")
        if user.providers:
            marks = ", ".join(self.p(x, "VARCHAR") for x in user.providers)
            self.where.append(f"queues.work_items.provider_npi IN ({marks})")

    def clause(self) -> str:
        return (" WHERE " + " AND ".join(self.where)) if self.where else ""


def page_sql(user: BenchUser, params: dict[str, str], cursor: str | None) -> tuple[str, list[Any]]:
    """What `WorkItems.page` sends for these filters, as SQLAlchemy compiles it for asyncpg."""
    sql = Sql()
    sql.scope(user)
    for column in ("practice_id", "category", "queue", "status", "kind", "assignee"):
        if column in params:
            sql.where.append(f"queues.work_items.{column} = {sql.p(params[column], 'VARCHAR')}")
    if "payer" in params:
        pattern = "%" + params["payer"] + "%"
        sql.where.append(f"queues.work_items.payer_name ILIKE {sql.p(pattern, 'VARCHAR')}")
    if "older_than_days" in params:
        days = timedelta(days=int(params["older_than_days"]))
        sql.where.append(f"queues.work_items.created_at <= now() - {sql.p(days, 'INTERVAL')}")
    if "min_amount" in params:
        amount = Decimal(params["min_amount"])
        sql.where.append(f"queues.work_items.amount_at_risk >= {sql.p(amount, 'NUMERIC(14, 2)')}")
    if cursor:
        priority, item_id = decode_cursor(cursor)
        sql.where.append(
            "(queues.work_items.priority, queues.work_items.item_id) < "
            f"({sql.p(priority, 'INTEGER')}, {sql.p(item_id, 'UUID')})"
        )
    order = " ORDER BY queues.work_items.priority DESC, queues.work_items.item_id DESC"
    limit = f" LIMIT {sql.p(PAGE + 1, 'INTEGER')}"
    return SELECT_PAGE + sql.clause() + order + limit, sql.args


def item_sql(user: BenchUser, item_id: str, for_update: bool) -> tuple[str, list[Any]]:
    sql = Sql()
    sql.where.append(f"queues.work_items.item_id = {sql.p(uuid.UUID(item_id), 'UUID')}")
    sql.scope(user)
    return SELECT_ALL + sql.clause() + (" FOR UPDATE" if for_update else ""), sql.args


def encode_cursor(priority: int, item_id: uuid.UUID) -> str:
    from services.queues.adapters.repository import encode_cursor as encode

    return encode(priority, item_id)


def decode_cursor(cursor: str) -> tuple[int, uuid.UUID]:
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    priority, item = raw.split(":", 1)
    return int(priority), uuid.UUID(item)


UPDATE_SQL = (
    "UPDATE queues.work_items SET {sets}, updated_at=now() WHERE queues.work_items.item_id = $1::UUID"
)
AUDIT_SQL = (
    "INSERT INTO queues.audit_log (item_id, practice_id, actor, action, before, after) "
    "VALUES ($1::UUID, $2::VARCHAR, $3::VARCHAR, $4::VARCHAR, $5::JSONB, $6::JSONB) "
    "RETURNING queues.audit_log.entry_id"
)


def _literal(value: Any) -> str:
    return f"{value.days} days" if isinstance(value, timedelta) else str(value)


class SqlSession:
    def __init__(self, conn: Any, user: BenchUser) -> None:
        self.conn = conn
        self.user = user

    async def list_page(self, params: dict[str, str], cursor: str | None) -> tuple[list[Seen], str | None]:
        query, args = page_sql(self.user, params, cursor)
        rows = await self.conn.fetch(query, *args)
        next_cursor = None
        if len(rows) > PAGE:
            rows = rows[:PAGE]
            next_cursor = encode_cursor(rows[-1]["priority"], rows[-1]["item_id"])
        return [Seen(str(r["item_id"]), r["assignee"]) for r in rows], next_cursor

    async def get_item(self, item_id: str) -> bool:
        query, args = item_sql(self.user, item_id, for_update=False)
        return await self.conn.fetchrow(query, *args) is not None

    async def _change(self, item_id: str, action: str, values: Callable[[Any], dict[str, Any]]) -> bool:
        """`Work._locked` + `Work._set`: lock the scoped row, update it and write the audit entry."""
        query, args = item_sql(self.user, item_id, for_update=True)
        async with self.conn.transaction():
            row = await self.conn.fetchrow(query, *args)
            if row is None:
                return False
            after = values(row)
            before = {k: row[k] for k in after}
            if before != after:
                sets = ", ".join(f"{k}=${i}::VARCHAR" for i, k in enumerate(after, start=2))
                await self.conn.execute(UPDATE_SQL.format(sets=sets), row["item_id"], *after.values())
                await self.conn.fetchval(
                    AUDIT_SQL,
                    row["item_id"],
                    row["practice_id"],
                    self.user.username,
                    action,
                    json.dumps(before),
                    json.dumps(after),
                )
        return True

    async def set_status(self, item_id: str, status: str) -> bool:
        return await self._change(item_id, "status", lambda row: {"status": status})

    async def claim(self, item_id: str) -> bool:
        def values(row: Any) -> dict[str, Any]:
            out: dict[str, Any] = {"assignee": self.user.username}
            if row["status"] == "new":
                out["status"] = "in_progress"
            return out

        return await self._change(item_id, "claim", values)

    def describe(self, op: str, args: dict[str, Any]) -> str:
        if op.startswith("list"):
            query, values = page_sql(self.user, args["params"], args.get("cursor"))
            return json.dumps(
                {"user": self.user.username, "sql": query, "args": [_literal(v) for v in values]}
            )
        return f"{self.user.username}: {op} {json.dumps(args)}"


# ----------------------------------------------------------------------------- phases


async def run_phase(
    name: str,
    sessions: AsyncIterator[tuple[Session, BenchUser]],
    clients: int,
    warmup: float,
    seconds: float,
    think_s: float,
    seed: int,
) -> Recorder:
    recorder = Recorder()
    start = time.perf_counter()
    record_from = start + warmup
    end = record_from + seconds
    tasks = []
    index = 0
    async for session, user in sessions:
        rng = random.Random(f"{seed}-{index}")
        tasks.append(
            asyncio.create_task(client_loop(session, user, rng, record_from, end, recorder, think_s))
        )
        index += 1
        if index == clients:
            break
    print(
        f"{name}: {clients} clients, {warmup:.0f} s warm-up, then {seconds:.0f} s measured ...",
        file=sys.stderr,
    )
    await asyncio.gather(*tasks)
    return recorder


async def http_sessions(
    base_url: str, users: Sequence[BenchUser], holder: list[httpx.AsyncClient]
) -> AsyncIterator[tuple[Session, BenchUser]]:
    for user in users:
        client = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(60.0),
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )
        holder.append(client)
        yield HttpSession(client, user), user


async def raw_http_sessions(
    base_url: str, users: Sequence[BenchUser], holder: list[RawHttpSession]
) -> AsyncIterator[tuple[Session, BenchUser]]:
    for user in users:
        session = RawHttpSession(base_url, user)
        holder.append(session)
        yield session, user


async def sql_sessions(
    dsn: str, users: Sequence[BenchUser], holder: list[Any]
) -> AsyncIterator[tuple[Session, BenchUser]]:
    for user in users:
        conn = await asyncpg.connect(dsn)
        holder.append(conn)
        yield SqlSession(conn, user), user


# ----------------------------------------------------------------------------- database and gateway


def urls(database_url: str, database: str) -> tuple[str, str, str]:
    """(SQLAlchemy URL of the bench database, asyncpg DSN of it, asyncpg DSN of the server's own database)."""
    from sqlalchemy.engine import make_url

    base = make_url(database_url)
    bench = base.set(database=database)
    plain = bench.set(drivername="postgresql")
    server = base.set(drivername="postgresql")
    return (
        bench.render_as_string(hide_password=False),
        plain.render_as_string(hide_password=False),
        server.render_as_string(hide_password=False),
    )


async def create_database(server_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(server_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_database(server_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(server_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def load_items(dsn: str, count: int, seed: int) -> dict[str, float]:
    """COPY the items in. The secondary indexes the migrations made are dropped first and rebuilt from
    their own definitions (pg_indexes.indexdef) afterwards: the same indexes, built once instead of
    maintained row by row. The primary key stays."""
    conn = await asyncpg.connect(dsn)
    try:
        secondary = await conn.fetch(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i "
            "WHERE i.schemaname = 'queues' AND i.tablename = 'work_items' AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
        )
        for index in secondary:
            await conn.execute(f'DROP INDEX queues."{index["indexname"]}"')
        now = datetime.now(UTC)
        started = time.perf_counter()

        async def records() -> AsyncIterator[tuple[Any, ...]]:
            done = 0
            for chunk in item_rows(count, seed, now):
                for row in chunk:
                    yield row
                done += len(chunk)
                if done % 200_000 < len(chunk):
                    print(f"  {done:,} rows, {time.perf_counter() - started:.1f} s", file=sys.stderr)

        await conn.copy_records_to_table(
            "work_items", schema_name="queues", columns=COLUMNS, records=records()
        )
        copy_s = time.perf_counter() - started
        started = time.perf_counter()
        for index in secondary:
            await conn.execute(index["indexdef"])
        index_s = time.perf_counter() - started
        started = time.perf_counter()
        await conn.execute("VACUUM (ANALYZE) queues.work_items")
        vacuum_s = time.perf_counter() - started
        size = await conn.fetchval("SELECT pg_total_relation_size('queues.work_items')")
        heap = await conn.fetchval("SELECT pg_relation_size('queues.work_items')")
    finally:
        await conn.close()
    return {
        "copy_s": copy_s,
        "index_s": index_s,
        "vacuum_analyze_s": vacuum_s,
        "total_mb": size / 1e6,
        "heap_mb": heap / 1e6,
    }


async def item_count(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM queues.work_items"))
    finally:
        await conn.close()


async def check_indexes(dsn: str) -> dict[str, str]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE schemaname = 'queues' AND tablename = 'work_items'"
        )
    finally:
        await conn.close()
    return {r["indexname"]: r["indexdef"] for r in rows}


async def create_users(database_url: str, users: Sequence[BenchUser]) -> list[BenchUser]:
    from services.queues.adapters.repository import create_user
    from services.queues.domain.scope import Role
    from shared.runtime.db import make_engine

    engine = make_engine(database_url)
    made = []
    try:
        async with engine.begin() as conn:
            for user in users:
                token = await create_user(
                    conn, user.username, Role(user.role), user.practices or (), user.providers
                )
                made.append(BenchUser(user.username, user.role, user.practices, user.providers, token))
    finally:
        await engine.dispose()
    return made


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_gateway(
    database_url: str, kafka: str, port: int, log_path: Path, workers: int | None
) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    for key in ("CLAIMLINE_JWT_KEYS", "PYTHONPATH"):
        env.pop(key, None)
    env.update(
        {
            "DATABASE_URL": database_url,
            "KAFKA_BOOTSTRAP_SERVERS": kafka,
            "CLAIMLINE_GATEWAY_HOST": "127.0.0.1",
            "CLAIMLINE_LOG_LEVEL": "WARNING",
        }
    )
    log = log_path.open("wb")
    command = [str(PROJECT_PYTHON), "-m", "claimline.cli", "run", "gateway", "--port", str(port)]
    if workers is not None:
        command += ["--workers", str(workers)]
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _drop_if_empty(path: Path) -> None:
    if path.exists() and path.stat().st_size == 0:
        path.unlink()


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:]


async def wait_ready(
    base_url: str, process: subprocess.Popen[bytes], log_path: Path, timeout: float = 90
) -> None:
    deadline = time.perf_counter() + timeout
    async with httpx.AsyncClient(base_url=base_url, timeout=2.0) as client:
        while time.perf_counter() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the gateway exited ({process.returncode}):\n{_tail(log_path)}")
            try:
                if (await client.get("/health/ready")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.25)
    raise RuntimeError(f"the gateway was not ready within {timeout:.0f} s:\n{_tail(log_path)}")


def stop_gateway(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# ----------------------------------------------------------------------------- EXPLAIN of the slowest


async def explain(dsn: str, recorder: Recorder) -> list[str]:
    """EXPLAIN ANALYZE of the slowest direct-SQL page query of each list operation, as a custom plan and as
    the generic plan a prepared statement may switch to after five executions."""
    out: list[str] = []
    conn = await asyncpg.connect(dsn)
    try:
        for op, stats in sorted(recorder.ops.items()):
            if not op.startswith("list") or not stats.slowest[1].startswith("{"):
                continue
            case = json.loads(stats.slowest[1])
            sql: str = case["sql"]
            out.append(f"-- slowest '{op}' ({stats.slowest[0] * 1000:.1f} ms in the run), {case['user']}:")
            out.append(f"--   {sql}")
            out.append(f"--   args {case['args']}")
            literal = sql
            for i in range(len(case["args"]), 0, -1):
                literal = literal.replace(f"${i}::", f"'{case['args'][i - 1]}'::")
            plan = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {literal}")
            out.extend("   " + r[0] for r in plan)
            types = [cast for _, cast in sorted((int(n), c) for n, c in re.findall(r"\$(\d+)::(\w+)", sql))]
            await conn.execute(f"PREPARE bench_q({', '.join(types)}) AS {sql}")
            await conn.execute("SET plan_cache_mode = force_generic_plan")
            values = ", ".join(f"'{a}'" for a in case["args"])
            generic = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) EXECUTE bench_q({values})")
            await conn.execute("RESET plan_cache_mode")
            await conn.execute("DEALLOCATE bench_q")
            out.append("   generic plan (prepared statement):")
            out.extend("   " + r[0] for r in generic)
            out.append("")
    finally:
        await conn.close()
    return out


# ----------------------------------------------------------------------------- report

OP_ORDER = ("list", "list filtered", "list next page", "list by practice", "get item", "set status", "claim")


def code_version() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "services/queues", "shared/runtime"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git)"
    return f"{head} (queues/runtime files modified in the work tree)" if dirty else head


def tabulate(recorders: dict[str, Recorder], seconds: float) -> tuple[list[str], dict[str, Any]]:
    names = list(recorders)
    results: dict[str, Any] = {name: {} for name in names}
    for name, rec in recorders.items():
        for op, stats in rec.ops.items():
            results[name][op] = summary(stats.latencies, stats.errors, seconds)
        pages = [x for op, s in rec.ops.items() if op.startswith("list") for x in s.latencies]
        errors = sum(s.errors for op, s in rec.ops.items() if op.startswith("list"))
        results[name]["page of 50 (all lists)"] = summary(pages, errors, seconds)
        everything = [x for s in rec.ops.values() for x in s.latencies]
        results[name]["all requests"] = summary(everything, sum(s.errors for s in rec.ops.values()), seconds)
    lines = []
    cell = f"{'count':>7} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'err':>4}"
    width = len(cell)
    lines.append(f"{'':<22} " + " | ".join(f"{n:^{width}}" for n in names))
    lines.append(f"{'operation':<22} " + " | ".join(cell for _ in names))
    lines.append("-" * len(lines[-1]))
    rows = [op for op in OP_ORDER if any(op in results[n] for n in names)]
    for op in [*rows, "page of 50 (all lists)", "all requests"]:
        if op == "page of 50 (all lists)":
            lines.append("-" * len(lines[1]))
        cells = []
        for name in names:
            s = results[name].get(op)
            if s is None or not s["count"]:
                cells.append(f"{'-':>{width}}")
                continue
            cells.append(
                f"{s['count']:>7,} {s['per_second']:>7.1f} {s['p50_ms']:>7.1f} {s['p95_ms']:>7.1f} "
                f"{s['p99_ms']:>7.1f} {s['errors']:>4}"
            )
        lines.append(f"{op:<22} " + " | ".join(cells))
    return lines, results


def main() -> int:
    parser = argparse.ArgumentParser(
        description="gateway load: concurrent billers against the gateway and SQL"
    )
    parser.add_argument("--items", type=int, default=1_000_000, help="work items to load (default 1,000,000)")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (default 50)")
    parser.add_argument("--seconds", type=float, default=60, help="measured seconds per phase (default 60)")
    parser.add_argument(
        "--warmup", type=float, default=5, help="unrecorded seconds before each phase (default 5)"
    )
    parser.add_argument(
        "--think-ms",
        type=float,
        default=0,
        help="mean pause between a client's requests (exponential, capped at 4 s; default 0: closed loop)",
    )
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--keep", action="store_true", help="keep the bench database (it is dropped otherwise)"
    )
    parser.add_argument(
        "--database",
        help="reuse a database a run with --keep left (migrated to the newest schema, not reloaded, kept); "
        "for trying changes quickly: its items have been worked by earlier runs",
    )
    parser.add_argument(
        "--gateway-workers",
        type=int,
        default=None,
        help="gateway processes (`claimline run gateway --workers N`; default: the gateway's own default)",
    )
    parser.add_argument(
        "--http-client",
        choices=("httpx", "raw"),
        default="httpx",
        help="the clients' HTTP: httpx.AsyncClient (default) or a hand-written keep-alive HTTP/1.1 client "
        "that costs the shared cores less CPU; same requests either way",
    )
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the slowest page queries")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args()

    from shared.runtime.migrations import upgrade_all
    from shared.runtime.settings import Settings

    settings = Settings()
    database = args.database or f"bench_gateway_{uuid.uuid4().hex[:10]}"
    keep = args.keep or bool(args.database)
    bench_url, bench_dsn, server_dsn = urls(settings.database_url, database)
    host = bench_url.split("@")[-1].split("/")[0]
    if not args.database:
        print(f"creating database {database} on {host} ...", file=sys.stderr)
        asyncio.run(create_database(server_dsn, database))
    try:
        started = time.perf_counter()
        upgrade_all(bench_url)
        migrate_s = time.perf_counter() - started
        return asyncio.run(
            bench(args, settings.kafka_bootstrap_servers, database, bench_url, bench_dsn, migrate_s)
        )
    finally:
        if keep:
            print(f"kept database {database} (DATABASE_URL={bench_url})", file=sys.stderr)
        else:
            asyncio.run(drop_database(server_dsn, database))
            print(f"dropped database {database}", file=sys.stderr)


async def bench(
    args: argparse.Namespace, kafka: str, database: str, bench_url: str, bench_dsn: str, migrate_s: float
) -> int:
    out: list[str] = []
    indexes = await check_indexes(bench_dsn)
    expected = ("ix_work_items_practice_priority", "ix_work_items_priority")
    missing = [name for name in expected if name not in indexes]

    if args.database and await item_count(bench_dsn):
        args.items = await item_count(bench_dsn)
        print(f"reusing {database}: {args.items:,} work items", file=sys.stderr)
        load = dict.fromkeys(("index_s", "vacuum_analyze_s", "total_mb", "heap_mb"), 0.0)
        load["copy_s"] = float("nan")
    else:
        print(f"loading {args.items:,} work items with COPY ...", file=sys.stderr)
        load = await load_items(bench_dsn, args.items, args.seed)
    rebuilt = await check_indexes(bench_dsn)
    if rebuilt != indexes:
        missing.append(f"(after the load the indexes differ: {sorted(rebuilt)} vs {sorted(indexes)})")
    users = await create_users(bench_url, bench_users())
    clients = users_for_clients(users, args.clients)
    think = args.think_ms / 1000

    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / f"{database}-gateway.log"
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    process = start_gateway(bench_url, kafka, port, log_path, args.gateway_workers)
    try:
        await wait_ready(base_url, process, log_path)
        watch = CpuWatch(bench_dsn, database, process.pid)
        holder: list[httpx.AsyncClient] = []
        raw_holder: list[RawHttpSession] = []
        await watch.start()
        try:
            gateway = await run_phase(
                "gateway",
                (
                    raw_http_sessions(base_url, clients, raw_holder)
                    if args.http_client == "raw"
                    else http_sessions(base_url, clients, holder)
                ),
                args.clients,
                args.warmup,
                args.seconds,
                think,
                args.seed,
            )
        finally:
            gateway_cpu = await watch.stop()
            for client in holder:
                await client.aclose()
            for session in raw_holder:
                await session.aclose()
    finally:
        stop_gateway(process)
        _drop_if_empty(log_path)

    conns: list[Any] = []
    watch = CpuWatch(bench_dsn, database, None)
    await watch.start()
    try:
        direct = await run_phase(
            "direct SQL",
            sql_sessions(bench_dsn, clients, conns),
            args.clients,
            args.warmup,
            args.seconds,
            think,
            args.seed,
        )
    finally:
        sql_cpu = await watch.stop()
        for conn in conns:
            await conn.close()

    table, results = tabulate({"gateway (HTTP)": gateway, "direct SQL (asyncpg)": direct}, args.seconds)
    kinds = Counter(u.kind for u in clients)
    gateway_flags = f" --workers {args.gateway_workers}" if args.gateway_workers is not None else ""
    out.append(
        f"gateway load benchmark  {time.strftime('%Y-%m-%d %H:%M')}  python {sys.version.split()[0]}  "
        f"cores {os.cpu_count()}  claimline at commit {code_version()}"
    )
    if math.isnan(load["copy_s"]):
        out.append(
            f"  database {database}: REUSED (--database; its items were worked by earlier runs), migrated "
            f"in {migrate_s:.1f} s; {args.items:,} work items"
        )
    else:
        out.append(
            f"  database {database}: migrated in {migrate_s:.1f} s; {args.items:,} work items across "
            f"{PRACTICE_COUNT} practices loaded with COPY in {load['copy_s']:.1f} s "
            f"({args.items / load['copy_s']:,.0f} rows/s), secondary indexes rebuilt in "
            f"{load['index_s']:.1f} s, VACUUM ANALYZE {load['vacuum_analyze_s']:.1f} s, "
            f"table + indexes {load['total_mb']:.0f} MB (heap {load['heap_mb']:.0f} MB)"
        )
    out.append(
        f"  {args.clients} clients ({', '.join(f'{n} {k}' for k, n in kinds.items())}), "
        f"{'no think time (closed loop)' if not think else f'mean think time {args.think_ms:.0f} ms'}, "
        f"{args.warmup:.0f} s warm-up + {args.seconds:.0f} s measured per phase; gateway = "
        f"`claimline run gateway{gateway_flags}` subprocess ({gateway_cpu.get('gateway_processes', '?')} "
        f"processes: uvicorn and its workers), clients on {args.http_client}; direct SQL = 1 asyncpg "
        "connection per client"
    )
    if missing:
        out.append(f"  WARNING: indexes missing from the migrations: {', '.join(missing)}")
    else:
        out.append(f"  indexes on work_items: {', '.join(sorted(indexes))}")
    out.append("")
    out.extend(table)
    out.append("")
    for label, rec in (("gateway", gateway), ("direct SQL", direct)):
        per_kind = []
        for kind, values in sorted(rec.by_kind.items()):
            s = summary(values, 0, args.seconds)
            per_kind.append(f"{kind} p50 {s['p50_ms']:.1f} / p99 {s['p99_ms']:.1f} ms ({s['count']:,})")
        out.append(f"pages by user, {label}: " + "; ".join(per_kind))
    out.append("")
    for label, cpu, rec in (("gateway phase", gateway_cpu, gateway), ("direct SQL phase", sql_cpu, direct)):
        n = max(1, rec.requests)

        def part(name: str, key: str, cpu: dict[str, Any] = cpu, n: int = n) -> str:
            return f"{name} {cpu[key]:.1f} s ({cpu[key] / n * 1000:.2f} ms/request)"

        parts = [part("load generator", "load_generator_cpu_s")]
        if "gateway_cpu_s" in cpu:
            parts.append(part("gateway", "gateway_cpu_s"))
        parts.append(part("PostgreSQL backends", "postgres_cpu_s"))
        out.append(
            f"CPU, {label}: {rec.requests:,} requests in {cpu['wall_s']:.0f} s (warm-up included): "
            f"{', '.join(parts)}; machine {cpu['machine_busy_cores']:.2f} of {os.cpu_count()} cores busy, "
            f"{cpu['other_processes_cores']:.2f} of them other processes; PostgreSQL "
            f"{cpu['postgres_transactions'] / n:.1f} transactions per request, "
            f"{cpu['new_postgres_sessions']:.0f} sessions opened; load average {cpu['loadavg_start']} "
            f"at the start, {cpu['loadavg_end']} at the end"
        )
    note = (
        f"NOTE: this machine has {os.cpu_count()} cores, shared by the load generator, the gateway and "
        "PostgreSQL (and whatever else runs on it). "
    )
    if think:
        note += (
            "Each client pauses between requests, so the offered load is about clients / (think time + "
            "latency) requests/s; latency grows steeply once that nears the throughput the system can give."
        )
    else:
        note += (
            "With no think time each client sends its next request as soon as the last one returns (a "
            "closed loop), so mean latency is about clients / throughput: "
            f"{args.clients} clients need {args.clients / (TARGET_P99_MS / 1000):.0f} requests/s or more "
            f"for ~{TARGET_P99_MS:.0f} ms."
        )
    out.append(note)
    busy = [
        f"{label} {cpu['other_processes_cores']:.2f} cores"
        for label, cpu in (("gateway phase", gateway_cpu), ("direct SQL phase", sql_cpu))
        if cpu["other_processes_cores"] > BUSY_MACHINE_CORES
    ]
    if busy:
        out.append(
            f"WARNING: other processes used CPU during the run ({', '.join(busy)}): the machine was busy "
            "with something else; these figures are lower than this code can do. Rerun on a quiet machine."
        )
    pages = results["gateway (HTTP)"]["page of 50 (all lists)"]
    base = results["direct SQL (asyncpg)"]["page of 50 (all lists)"]
    verdict = "PASS" if pages["count"] and pages["p99_ms"] < TARGET_P99_MS else "FAIL"
    out.append("")
    out.append(
        f"page of 50 through the gateway: p99 {pages['p99_ms']:.1f} ms against the {TARGET_P99_MS:.0f} ms "
        f"target: {verdict}  (p50 {pages['p50_ms']:.1f} ms, {pages['per_second']:.1f} pages/s; "
        f"the same queries in PostgreSQL: p99 {base['p99_ms']:.1f} ms, p50 {base['p50_ms']:.1f} ms, "
        f"{base['per_second']:.1f} pages/s)"
    )
    errors = gateway.error_samples + direct.error_samples
    if errors:
        out.append("errors (first few): " + "\n  ".join(["", *errors]))
    out.append("")
    out.append("slowest request of each operation:")
    for label, rec in (("gateway", gateway), ("direct SQL", direct)):
        for op in OP_ORDER:
            stats = rec.ops.get(op)
            if stats and stats.slowest[1]:
                what = stats.slowest[1]
                if what.startswith("{"):
                    case = json.loads(what)
                    what = f"{case['user']}: args {case['args']}"
                out.append(f"  {label:<10} {op:<16} {stats.slowest[0] * 1000:8.1f} ms  {what[:160]}")
    if args.explain:
        out.append("")
        out.extend(await explain(bench_dsn, direct))
    print("\n".join(out))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    "cores": os.cpu_count(),
                    "commit": code_version(),
                    "items": args.items,
                    "clients": args.clients,
                    "seconds": args.seconds,
                    "warmup": args.warmup,
                    "think_ms": args.think_ms,
                    "load": load,
                    "migrate_s": migrate_s,
                    "results": results,
                    "cpu": {"gateway_phase": gateway_cpu, "direct_sql_phase": sql_cpu},
                    "target_p99_ms": TARGET_P99_MS,
                    "verdict": verdict,
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
