"""End-to-end throughput: generated 835s for 20 practices, from `claimline ingest` to the queues' read model,
through the real services on the real broker and database, beside the raw Kafka and PostgreSQL rates
measured in the same run (the ceiling).

    .venv/bin/python bench/e2e_throughput.py --lines 1000000        # the issue's size
    .venv/bin/python bench/e2e_throughput.py --lines 100000         # a quicker run

It uses the stack of KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL (`eval "$(claimline stack env)"`), in a fresh
database and topic prefix of its own, and starts ingest, denials, auths and queues as real processes
(`claimline run NAME`). Printed: lines per second from the start of the ingest to the last line in
`queues.remit_lines` (every 835 service line becomes exactly one row there, plus a work item when it needs
work), consumer lag of each group over time, peak memory (VmHWM) of every process, and the ceilings:
Kafka produce and consume of the same events, and PostgreSQL inserts of rows of the same size.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from gen835 import write_835  # noqa: E402

SERVICES = ("ingest", "denials", "auths", "queues")
PRACTICES = 20


@dataclass
class Sample:
    t: float
    lines_queued: int
    lag: dict[str, int] = field(default_factory=dict)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def peak_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def cpu_seconds(pid: int, *, ended_children: bool = False) -> float:
    """User + system CPU seconds of a process, or of its children that ended and were waited for."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        first = 13 if ended_children else 11
        return (int(fields[first]) + int(fields[first + 1])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return float("nan")


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return 0


def _pids(match: Any) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if match(entry):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def stack_cpu_seconds() -> dict[str, float]:
    """CPU seconds so far of the Kafka broker, of PostgreSQL's processes, of this process's ended children
    (`claimline ingest`, once it has exited) and of the whole machine (busy, all cores)."""
    kafka = _pids(lambda e: b"kafka.Kafka" in (e / "cmdline").read_bytes())
    postgres = _pids(lambda e: (e / "comm").read_text().strip() == "postgres")
    # processes that ended (autovacuum workers, closed connections) count in their parent's children
    postmasters = [p for p in postgres if _parent(p) not in postgres]
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    first = Path("/proc/stat").read_text().splitlines()[0].split()[1:9]
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, first)
    return {
        "kafka": sum(cpu_seconds(p) for p in kafka),
        "postgresql": sum(cpu_seconds(p) for p in postgres)
        + sum(cpu_seconds(p, ended_children=True) for p in postmasters),
        "ingest-cli": children.ru_utime + children.ru_stime,
        "machine": (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK"),
    }


def machine_speed(payload: bytes, rounds: int = 3000) -> float:
    """µs of CPU to parse the sample event with the standard library: the same work every run, so it
    tells a slower machine (a busy host) from slower code when two runs are compared."""
    started = time.process_time()
    for _ in range(rounds):
        json.loads(payload)
    return 1e6 * (time.process_time() - started) / rounds


# ---------------------------------------------------------------- set-up


async def fresh_database(server_url: str, name: str) -> str:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    admin = make_url(server_url)
    engine = create_async_engine(admin, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await engine.dispose()
    return admin.set(database=name).render_as_string(hide_password=False)


async def drop_database(server_url: str, name: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ProgrammingError
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(make_url(server_url), isolation_level="AUTOCOMMIT")
    try:
        for attempt in range(10):
            try:
                async with engine.connect() as conn:
                    await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                return
            except ProgrammingError:  # an autovacuum worker in it, which only a superuser may end
                if attempt == 9:
                    raise
                await asyncio.sleep(2)
    finally:
        await engine.dispose()


def files_for(lines: int, directory: Path) -> list[tuple[Path, str, str]]:
    """One file per practice: (path, practice id, payee NPI); lines spread evenly, cached on disk."""
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    per = lines // PRACTICES
    for n in range(PRACTICES):
        count = per + (1 if n < lines % PRACTICES else 0)
        npi = f"19{n:02d}000000"
        practice = f"bench-practice-{n:02d}"
        path = directory / f"{practice}-{count}l.835"
        if not path.exists():
            write_835(
                path,
                count,
                seed=1000 + n,
                payee_npi=npi,
                trace_prefix=f"P{n:02d}T",
                interchange_control=n + 1,
            )
        out.append((path, practice, npi))
    return out


# ---------------------------------------------------------------- the ceiling


async def sample_event(path: Path) -> bytes:
    """The JSON of one real remit.lines event, as the ingest service publishes it."""
    from services.ingest.app import line_event
    from services.ingest.domain.remit835 import RemitLine, parse_835_file

    for item in parse_835_file(path):
        if isinstance(item, RemitLine):
            return line_event(item, "bench-practice-00", "f" * 64).model_dump_json().encode()
    raise SystemExit(f"{path}: no service line")


async def kafka_ceiling(bootstrap: str, prefix: str, payload: bytes, count: int) -> tuple[float, float]:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    topic = f"{prefix}ceiling"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=6, replication_factor=1)])
    await admin.close()
    # the services' producer settings (shared/runtime/broker.py: make_broker), 256 KiB batches included
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        max_batch_size=256 * 1024,
    )
    await producer.start()
    started = time.perf_counter()
    pending = []
    for n in range(count):
        pending.append(await producer.send(topic, payload, key=str(n % 997).encode()))
        if len(pending) >= 5000:
            await asyncio.gather(*pending)
            pending.clear()
    await asyncio.gather(*pending)
    produce = count / (time.perf_counter() - started)
    await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=f"{prefix}ceiling", auto_offset_reset="earliest"
    )
    await consumer.start()
    started = time.perf_counter()
    seen = 0
    while seen < count:
        batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
        seen += sum(len(v) for v in batch.values())
        if batch:
            await consumer.commit()
    consume = count / (time.perf_counter() - started)
    await consumer.stop()
    return produce, consume


async def postgres_ceiling(database_url: str, payload: bytes, count: int) -> tuple[float, float]:
    """Rows like the queues' read model (ids, practice, amounts, the decision as lz4 JSONB): inserted 500 to a
    transaction with executemany, and one row per transaction (what a per-event handler does at best)."""
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    conn = await asyncpg.connect(
        user=url.username, password=url.password, host=url.host, port=url.port, database=url.database
    )
    await conn.execute(
        "CREATE TABLE ceiling (id uuid primary key, practice_id text, claim_id text, line_number int,"
        " charge numeric(14,2), paid numeric(14,2), decision jsonb)"
    )
    # compressed like the services' documents (their migrations set lz4), so the ceiling is no lower
    await conn.execute("ALTER TABLE ceiling ALTER COLUMN decision SET COMPRESSION lz4")
    text = payload.decode()
    charge, paid = Decimal("850.00"), Decimal("412.18")
    rows = [(uuid.uuid4(), f"p{n % 20}", f"C{n // 3}", n % 3 + 1, charge, paid, text) for n in range(count)]
    sql = "INSERT INTO ceiling VALUES ($1, $2, $3, $4, $5, $6, $7)"
    started = time.perf_counter()
    for start in range(0, count, 500):
        async with conn.transaction():
            await conn.executemany(sql, rows[start : start + 500])
    batched = count / (time.perf_counter() - started)
    await conn.execute("TRUNCATE ceiling")
    single_count = min(count, 20_000)
    started = time.perf_counter()
    for row in rows[:single_count]:
        async with conn.transaction():
            await conn.execute(sql, *row)
    single = single_count / (time.perf_counter() - started)
    await conn.execute("DROP TABLE ceiling")
    await conn.close()
    return batched, single


# ---------------------------------------------------------------- the run


async def consumer_lag(bootstrap: str, suffix: str) -> dict[str, int]:
    from aiokafka import AIOKafkaConsumer
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await admin.start()
    await consumer.start()
    try:
        groups = [g[0] for g in await admin.list_consumer_groups() if str(g[0]).endswith(suffix)]
        lag: dict[str, int] = {}
        for group in groups:
            committed = await admin.list_consumer_group_offsets(group)
            if not committed:
                continue
            ends = await consumer.end_offsets(list(committed))
            name = group.removeprefix("claimline.").removesuffix(suffix)
            lag[name] = sum(max(ends[tp] - meta.offset, 0) for tp, meta in committed.items())
        return lag
    finally:
        await consumer.stop()
        await admin.close()


async def lines_queued(engine: Any) -> int:
    from sqlalchemy import text

    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM queues.remit_lines"))).scalar_one())


def start_services(env: dict[str, str], logs: Path) -> dict[str, tuple[subprocess.Popen[bytes], int]]:
    procs = {}
    for service in SERVICES:
        port = free_port()
        log = (logs / f"{service}.log").open("ab")
        procs[service] = (
            subprocess.Popen(
                [sys.executable, "-m", "claimline.cli", "run", service, "--port", str(port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
            ),
            port,
        )
    deadline = time.monotonic() + 120
    for service, (proc, port) in procs.items():
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"{service} exited: see {logs / (service + '.log')}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{service} not ready: see {logs / (service + '.log')}")
            time.sleep(0.3)
    return procs


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from shared.runtime.db import make_engine

    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    server_url = os.environ.get("DATABASE_URL")
    if not bootstrap or not server_url:
        raise SystemExit(
            'set KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL: eval "$(.venv/bin/claimline stack env)"'
        )
    tag = uuid.uuid4().hex[:8]
    db_name = f"claimline_bench_{tag}"
    work = REPO / ".cache" / "bench" / "e2e" / tag
    work.mkdir(parents=True, exist_ok=True)
    print(f"[e2e] generating {args.lines:,} service lines in {PRACTICES} files", flush=True)
    files = files_for(args.lines, REPO / ".cache" / "bench" / "e2e-files" / f"{args.lines}")
    database_url = await fresh_database(server_url, db_name)
    prefix, suffix = f"b{tag}.", f".b{tag}"
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "DATABASE_URL": database_url,
        "CLAIMLINE_TOPIC_PREFIX": prefix,
        "CLAIMLINE_CONSUMER_GROUP_SUFFIX": suffix,
        "CLAIMLINE_ARCHIVE_DIR": str(work / "archive"),
        "CLAIMLINE_LOG_LEVEL": "WARNING",
    }
    result: dict[str, Any] = {"lines": args.lines, "practices": PRACTICES, "load_before": os.getloadavg()}
    procs: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    engine = make_engine(database_url)
    try:
        payload = await sample_event(files[0][0])
        result["calibration_before_us"] = machine_speed(payload)
        ceiling_count = min(args.lines, args.ceiling_messages)
        print(
            f"[e2e] ceiling: {ceiling_count:,} events of {len(payload):,} bytes through Kafka and PostgreSQL",
            flush=True,
        )
        produce, consume = await kafka_ceiling(bootstrap, prefix, payload, ceiling_count)
        batched, single = await postgres_ceiling(database_url, payload, ceiling_count)
        result["ceiling"] = {
            "event_bytes": len(payload),
            "messages": ceiling_count,
            "kafka_produce_per_s": produce,
            "kafka_consume_per_s": consume,
            "postgres_insert_batched_per_s": batched,
            "postgres_insert_one_per_transaction_per_s": single,
        }
        print("[e2e] starting " + ", ".join(SERVICES), flush=True)
        procs = start_services(env, work)
        for _, practice, npi in files:
            subprocess.run(  # noqa: ASYNC221 - set-up before the clock starts
                [
                    sys.executable,
                    "-m",
                    "claimline.cli",
                    "practices",
                    "add",
                    practice,
                    "--name",
                    practice,
                    "--payee-npi",
                    npi,
                ],
                env=env,
                cwd=REPO,
                check=True,
                capture_output=True,
            )
        cpu_before = {s: cpu_seconds(p.pid) for s, (p, _) in procs.items()}
        stack_before = stack_cpu_seconds()
        print(f"[e2e] ingesting {len(files)} files", flush=True)
        started = time.perf_counter()
        ingest = subprocess.Popen(  # noqa: ASYNC220 - polled below, never waited on
            [sys.executable, "-m", "claimline.cli", "ingest", *(str(f[0]) for f in files)],
            env=env,
            cwd=REPO,
            stdout=(work / "ingest-cli.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        samples: list[Sample] = []
        ingest_peak = 0.0
        ingest_seconds = None
        deadline = started + args.timeout
        while True:
            await asyncio.sleep(args.interval)
            now = time.perf_counter() - started
            if ingest.poll() is None:
                ingest_peak = max(ingest_peak, peak_mb(ingest.pid))
            elif ingest_seconds is None:
                ingest_seconds = now
                if ingest.returncode != 0:
                    raise SystemExit(
                        f"claimline ingest exited {ingest.returncode}: see {work / 'ingest-cli.log'}"
                    )
            queued = await lines_queued(engine)
            sample = Sample(round(now, 1), queued, await consumer_lag(bootstrap, suffix))
            samples.append(sample)
            lag_text = " ".join(f"{k}={v:,}" for k, v in sorted(sample.lag.items()) if v)
            print(
                f"[e2e] {now:7.1f}s  queued {queued:>9,} / {args.lines:,}  lag {lag_text or '0'}", flush=True
            )
            if queued >= args.lines and ingest_seconds is not None:
                break
            if time.perf_counter() > deadline:
                print(f"[e2e] timeout after {args.timeout}s", flush=True)
                break
        elapsed = time.perf_counter() - started
        queued = await lines_queued(engine)
        result.update(
            {
                "seconds": elapsed,
                "lines_queued": queued,
                "lines_per_s": queued / elapsed,
                "ingest_cli_seconds": ingest_seconds,
                "peak_mb": {"ingest-cli": ingest_peak, **{s: peak_mb(p.pid) for s, (p, _) in procs.items()}},
                "cpu_s": {s: cpu_seconds(p.pid) - cpu_before[s] for s, (p, _) in procs.items()},
                "stack_cpu_s": {k: v - stack_before[k] for k, v in stack_cpu_seconds().items()},
                "samples": [s.__dict__ for s in samples],
                "load_after": os.getloadavg(),
                "calibration_after_us": machine_speed(payload),
            }
        )
    finally:
        for proc, _ in procs.values():
            proc.terminate()
        for proc, _ in procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        await engine.dispose()
        if not args.keep:
            await drop_database(server_url, db_name)
    return result


def report(r: dict[str, Any]) -> None:
    c = r["ceiling"]
    slowest_name, slowest = min(
        (
            ("Kafka produce", c["kafka_produce_per_s"]),
            ("Kafka consume", c["kafka_consume_per_s"]),
            ("PostgreSQL insert (batched)", c["postgres_insert_batched_per_s"]),
        ),
        key=lambda x: x[1],
    )
    rate = r["lines_per_s"]
    ingest_done = r["ingest_cli_seconds"] or float("nan")
    lines = [
        "",
        f"end to end: {r['lines_queued']:,} of {r['lines']:,} lines in {r['seconds']:.1f} s"
        f" = {rate:,.0f} lines/s"
        f" ({PRACTICES} practices; claimline ingest itself finished at {ingest_done:.1f} s)",
        f"ceiling ({c['messages']:,} events of {c['event_bytes']:,} bytes):"
        f" Kafka produce {c['kafka_produce_per_s']:,.0f}/s, consume {c['kafka_consume_per_s']:,.0f}/s;"
        f" PostgreSQL insert {c['postgres_insert_batched_per_s']:,.0f} rows/s batched (500 a transaction),"
        f" {c['postgres_insert_one_per_transaction_per_s']:,.0f} rows/s one per transaction",
        f"target 1, at least 10,000 lines/s: {'MET' if rate >= 10_000 else 'NOT MET'}",
        f"target 2, at least half the slowest component ({slowest_name} {slowest:,.0f}/s, half"
        f" {slowest / 2:,.0f}/s): {'MET' if rate >= slowest / 2 else 'NOT MET'}"
        f" (end to end = {rate / slowest:.3f} of that ceiling)",
        "peak memory (VmHWM, MB): " + ", ".join(f"{k} {v:,.0f}" for k, v in r["peak_mb"].items()),
        "CPU seconds during the run: " + ", ".join(f"{k} {v:,.1f}" for k, v in r["cpu_s"].items()),
        "CPU seconds of the rest: "
        + ", ".join(f"{k} {v:,.1f}" for k, v in r["stack_cpu_s"].items() if k != "machine")
        + f"; the machine was busy {r['stack_cpu_s']['machine']:,.1f} CPU s"
        f" ({r['stack_cpu_s']['machine'] / r['seconds']:.2f} of {os.cpu_count()} cores)",
        "CPU per line, ms: "
        + ", ".join(
            f"{k} {1000 * v / max(r['lines_queued'], 1):.3f}"
            for k, v in {**r["cpu_s"], **r["stack_cpu_s"]}.items()
        ),
        f"load average before {tuple(round(x, 2) for x in r['load_before'])},"
        f" after {tuple(round(x, 2) for x in r['load_after'])}",
        f"machine speed (json.loads of the sample event, µs; compare runs only when these are close):"
        f" before {r['calibration_before_us']:.1f}, after {r['calibration_after_us']:.1f}",
    ]
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument(
        "--ceiling-messages", type=int, default=200_000, help="events for the Kafka/PostgreSQL ceiling"
    )
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between lag samples")
    parser.add_argument("--timeout", type=float, default=7200.0)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark's database")
    parser.add_argument("--json", type=Path, help="write the results as JSON here too")
    args = parser.parse_args()
    # SIGTERM stops the run like Ctrl-C: the services are stopped and the database dropped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    result = asyncio.run(run(args))
    report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
