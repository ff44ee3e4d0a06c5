"""SIGTERM during a handler: the service stops fetching, and either finishes the message and commits
it, or (past CLAIMLINE_SHUTDOWN_GRACE_SECONDS) gives it up uncommitted. Either way, after a restart
the message has been applied exactly once. Real processes, real broker."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.runtime.settings import REPO_ROOT, Settings
from tests.conftest import unique
from tests.support.kafka import eventually, produce

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Service:
    """One `uvicorn` process of tests/integration/shutdown_app.py."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable, "-m", "uvicorn", "--factory", "tests.integration.shutdown_app:create_app",
                    "--host", "127.0.0.1", "--port", str(self.port), "--timeout-graceful-shutdown", "30",
                ],
                cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                return r.status, r.read().decode()
        except OSError:
            return 0, ""

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.get("/health/ready")[0] != 200:
            assert self.proc.poll() is None, f"service exited; see {self.log}"
            assert time.monotonic() < deadline, f"service not ready; see {self.log}"
            time.sleep(0.3)

    def terminate(self, timeout: float = 60) -> bool:
        """SIGTERM; True when the process shut down in order (uvicorn re-raises the signal after its
        shutdown, so the exit status alone cannot tell an orderly stop from sudden death)."""
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        return code in (0, -signal.SIGTERM) and "Application shutdown complete" in self.log.read_text()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def run(settings: Settings, tmp_path: Path) -> Iterator[tuple[str, Path, object]]:
    topic = settings.topic(unique("shutdown"))
    effects = tmp_path / "effects"
    effects.mkdir()
    started: list[Service] = []

    def start(handler_seconds: float, grace_seconds: float = 15) -> Service:
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "DATABASE_URL": settings.database_url,
            "CLAIMLINE_TOPIC_PARTITIONS": "1",
            "CLAIMLINE_CONSUMER_GROUP_SUFFIX": f".{topic}",
            "CLAIMLINE_SHUTDOWN_GRACE_SECONDS": str(grace_seconds),
            "SHUTDOWN_TEST_TOPIC": topic,
            "SHUTDOWN_TEST_EFFECTS": str(effects),
            "SHUTDOWN_TEST_HANDLER_SECONDS": str(handler_seconds),
        }
        service = Service(env, tmp_path / f"service-{len(started)}.log")
        started.append(service)
        service.wait_ready()
        return service

    yield topic, effects, start
    for service in started:
        service.kill()


def applied(effects: Path) -> list[int]:
    path = effects / "applied"
    return [int(n) for n in path.read_text().split()] if path.exists() else []


async def publish(settings: Settings, topic: str, n: int) -> None:
    await produce(settings.kafka_bootstrap_servers, topic, json.dumps({"n": n}).encode(), key=b"k")


async def in_flight(effects: Path, n: int) -> None:
    async def started() -> bool:
        return (effects / f"started-{n}").exists()

    await eventually(started, timeout=60)


def metric(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{"))


async def test_sigterm_lets_the_in_flight_message_finish_and_commit(settings, run):
    topic, effects, start = run
    service = start(handler_seconds=3)
    await publish(settings, topic, 1)
    await in_flight(effects, 1)

    assert service.terminate()
    assert applied(effects) == [1]  # finished before the process exited

    again = start(handler_seconds=0)
    await publish(settings, topic, 2)

    async def second_applied() -> list[int]:
        return applied(effects) if 2 in applied(effects) else []

    assert await eventually(second_applied, timeout=60) == [1, 2]  # 1 was committed: not redelivered
    _, metrics = again.get("/metrics")
    assert metric(metrics, "claimline_messages_processed_total") == 1
    lag_series = [line for line in metrics.splitlines() if line.startswith("claimline_consumer_lag{")]
    assert len(lag_series) == 1
    assert f'group="claimline.shutdown-test.slow.{topic}"' in lag_series[0]
    assert metric(metrics, "claimline_consumer_lag") == 0
    again.terminate()


async def test_sigterm_past_the_grace_gives_the_message_back_uncommitted(settings, run):
    topic, effects, start = run
    service = start(handler_seconds=120, grace_seconds=1)
    await publish(settings, topic, 1)
    await in_flight(effects, 1)

    began = time.monotonic()
    assert service.terminate()
    assert time.monotonic() - began < 10  # a one-second grace, not the two-minute handler
    assert applied(effects) == []

    again = start(handler_seconds=0)

    async def redelivered() -> list[int]:
        return applied(effects)

    assert await eventually(redelivered, timeout=60) == [1]
    await publish(settings, topic, 2)

    async def second_applied() -> list[int]:
        return applied(effects) if 2 in applied(effects) else []

    assert await eventually(second_applied, timeout=60) == [1, 2]  # exactly once each
    _, metrics = again.get("/metrics")
    assert metric(metrics, "claimline_messages_processed_total") == 2
    again.terminate()
