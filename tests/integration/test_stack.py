"""`claimline stack`: idempotent, answers really checked, failures name the component and its log."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from claimline import stack
from tests.support.strict import unavailable

pytestmark = pytest.mark.integration


def claimline(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "claimline.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_stack_up_twice_is_harmless_and_status_reports_both_components(kafka_bootstrap, server_database_url):
    cfg = stack.StackConfig.from_env()
    if cfg.bootstrap_servers != kafka_bootstrap:
        unavailable("the broker under test was not started by `claimline stack up` (testcontainers run)")
    first = claimline("stack", "up")
    second = claimline("stack", "up")
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert "kafka: already running" in second.stdout
    assert "postgres: already running" in second.stdout
    status = claimline("stack", "status")
    assert status.returncode == 0
    assert "kafka     answering" in status.stdout
    assert "postgres  answering" in status.stdout


def test_a_port_taken_by_someone_else_is_reported_for_kafka(tmp_path: Path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        cfg = stack.StackConfig(tmp_path / "state", tmp_path / "cache", "4.4.0", port, port + 1, 1)
        with pytest.raises(stack.StackError, match=rf"kafka: port {port} is taken"):
            stack.start_kafka(cfg, timeout=5)


def test_a_kafka_version_maven_cannot_fetch_fails_with_the_log_path(tmp_path: Path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    cfg = stack.StackConfig(tmp_path / "state", tmp_path / "cache", "0.0.404", free, free + 1, 1)
    with pytest.raises(stack.StackError) as failure:
        stack.start_kafka(cfg, timeout=5)
    message = str(failure.value)
    assert message.startswith("kafka: Maven could not fetch the broker jars")
    assert str(tmp_path / "cache" / "kafka" / "0.0.404" / "maven.log") in message
