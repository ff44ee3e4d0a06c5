"""PostgreSQL CPU per row for a ~2.5 KB document (a remit line event) by column type and compression.

Each variant inserts the same rows, 500 to a transaction, into a fresh table from one connection and
reads that connection's backend CPU from /proc (so PostgreSQL must run on this machine, as the native
stack does). The variants side by side are the baseline for one another.

    eval "$(.venv/bin/claimline stack env)"; export DATABASE_URL
    .venv/bin/python bench/pg_documents.py --rows 20000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

VARIANTS = [
    ("jsonb", "pglz"),
    ("jsonb", "lz4"),
    ("json", "pglz"),
    ("json", "lz4"),
    ("text", "pglz"),
    ("text", "lz4"),
]


def sample_document() -> str:
    import gen835

    from services.ingest.app import line_event
    from services.ingest.domain.remit835 import RemitLine, parse_835_file

    directory = REPO / ".cache" / "bench"
    directory.mkdir(parents=True, exist_ok=True)
    path, _, _ = gen835.cached_835(directory, 1000, claims_per_transaction=500)
    item = next(i for i in parse_835_file(path) if isinstance(i, RemitLine))
    return line_event(item, "p1", "f1").model_dump_json()


def backend_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run(rows: int) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(os.environ["DATABASE_URL"])
    conn = await asyncpg.connect(
        user=url.username, password=url.password, host=url.host, port=url.port, database=url.database
    )
    document = sample_document()
    table = f"bench_documents_{uuid.uuid4().hex[:8]}"
    pid = await conn.fetchval("SELECT pg_backend_pid()")
    print(f"{rows:,} rows of a {len(document):,}-byte document, 500 to a transaction")
    print(f"{'column':16s}{'rows/s':>10s}{'backend CPU ms/row':>20s}{'table MB':>10s}")
    try:
        for kind, method in VARIANTS:
            await conn.execute(f"DROP TABLE IF EXISTS {table}")
            await conn.execute(f"CREATE TABLE {table} (id uuid PRIMARY KEY, d {kind})")
            await conn.execute(f"ALTER TABLE {table} ALTER COLUMN d SET COMPRESSION {method}")
            values = [(uuid.uuid4(), document) for _ in range(rows)]
            cpu, started = backend_cpu(pid), time.perf_counter()
            for start in range(0, rows, 500):
                async with conn.transaction():
                    insert = f"INSERT INTO {table} VALUES ($1, $2::{kind})"  # noqa: S608 - our own names
                    await conn.executemany(insert, values[start : start + 500])
            seconds, spent = time.perf_counter() - started, backend_cpu(pid) - cpu
            size = await conn.fetchval(f"SELECT pg_total_relation_size('{table}')")
            label = f"{kind} {method}"
            print(f"{label:16s}{rows / seconds:10,.0f}{1000 * spent / rows:20.3f}{size / 2**20:10.1f}")
    finally:
        await conn.execute(f"DROP TABLE IF EXISTS {table}")
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    asyncio.run(run(parser.parse_args().rows))


if __name__ == "__main__":
    main()
