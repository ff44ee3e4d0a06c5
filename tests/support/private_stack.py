"""A Kafka broker and a PostgreSQL server of a test's own, so it can stop and start them.

Built with `claimline.stack` on free loopback ports and a temporary state directory; the Kafka jars come
from the shared cache (`.cache/kafka`), so nothing is downloaded. Everything it starts is stopped by pid
and the directory removed when the `private_stack` context ends, whatever happened inside.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from claimline import stack
from tests.support.system import free_port


@contextlib.contextmanager
def private_stack() -> Iterator[stack.StackConfig]:
    base = stack.StackConfig.from_env()
    state = Path(tempfile.mkdtemp(prefix="claimline-fault-stack-"))
    state.chmod(0o755)  # as root, PostgreSQL runs as `postgres`, which must reach its data directory
    cfg = stack.StackConfig(
        state_dir=state,
        cache_dir=base.cache_dir,
        kafka_version=base.kafka_version,
        kafka_port=free_port(),
        kafka_controller_port=free_port(),
        pg_port=free_port(),
    )
    try:
        stack.up(cfg)
        yield cfg
    finally:
        try:
            stack.stop_kafka(cfg, timeout=5)  # its data is thrown away: no need to wait for a clean shutdown
            stack.stop_postgres(cfg)
        finally:
            if not cfg.pg_dir.is_relative_to(state):
                shutil.rmtree(cfg.pg_dir.parent, ignore_errors=True)
            shutil.rmtree(state, ignore_errors=True)


def kafka_down(cfg: stack.StackConfig) -> None:
    """SIGTERM: the broker closes its listeners at once and flushes its logs. A single KRaft node then
    often hangs in its shutdown hook until `stop_kafka` sends SIGKILL (30 s by default); 10 s will do."""
    stack.stop_kafka(cfg, timeout=10)


def kafka_up(cfg: stack.StackConfig) -> None:
    stack.start_kafka(cfg)


def postgres_down(cfg: stack.StackConfig) -> None:
    stack.stop_postgres(cfg)


def postgres_up(cfg: stack.StackConfig) -> None:
    stack.start_postgres(cfg)


def migrated(cfg: stack.StackConfig) -> str:
    """The private server's database, migrated to head with every service's Alembic scripts."""
    from shared.runtime.migrations import upgrade_all

    upgrade_all(cfg.database_url)
    return cfg.database_url


async def in_thread(fn: Callable[[stack.StackConfig], None], cfg: stack.StackConfig) -> None:
    """Stack functions block (and run their own event loops): keep them off the test's loop."""
    await asyncio.to_thread(fn, cfg)
