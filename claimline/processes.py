"""Run the services as background processes on this machine (each `claimline run NAME`), by pid."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from claimline.stack import StackConfig

DEFAULT_PORTS = {"gateway": 8080, "ingest": 8091, "denials": 8092, "auths": 8093, "queues": 8094}


def gateway_app() -> Any:
    """The gateway app of one worker process (`claimline run gateway --workers N` starts N of these)."""
    from services.queues.gateway.app import create_app
    from shared.runtime.logging import configure_logging
    from shared.runtime.settings import get_settings

    settings = get_settings()
    configure_logging("gateway", settings.log_level, settings.log_format)
    return create_app(settings)


def _dir() -> Path:
    path = StackConfig.from_env().state_dir / "services"
    path.mkdir(parents=True, exist_ok=True)
    return path


def port_of(service: str) -> int:
    if service == "gateway":
        return int(os.environ.get("CLAIMLINE_GATEWAY_PORT", DEFAULT_PORTS["gateway"]))
    return DEFAULT_PORTS[service]


def _alive(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text())
        os.kill(pid, 0)
        return pid
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None


def ready(service: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port_of(service)}/health/ready", timeout=timeout
        ) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def up(services: list[str], timeout: float = 90.0) -> None:
    started: list[tuple[str, subprocess.Popen[bytes], Path]] = []
    for service in services:
        pid_file = _dir() / f"{service}.pid"
        if _alive(pid_file) and ready(service):
            print(f"[services] {service}: already running")
            continue
        log = _dir() / f"{service}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "claimline.cli", "run", service, "--port", str(port_of(service))],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        pid_file.write_text(str(proc.pid))
        started.append((service, proc, log))
    deadline = time.monotonic() + timeout
    for service, proc, log in started:
        while not ready(service):
            if proc.poll() is not None:
                raise SystemExit(f"[services] {service} exited with code {proc.returncode}; see {log}")
            if time.monotonic() > deadline:
                raise SystemExit(f"[services] {service} not ready within {timeout:.0f}s; see {log}")
            time.sleep(0.3)
        print(f"[services] {service}: ready on 127.0.0.1:{port_of(service)} (pid {proc.pid}, log {log})")


def down(services: list[str], timeout: float = 30.0) -> None:
    for service in services:
        pid_file = _dir() / f"{service}.pid"
        pid = _alive(pid_file)
        if pid is None:
            pid_file.unlink(missing_ok=True)
            continue
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid_file) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(pid_file):
            os.kill(pid, signal.SIGKILL)
        pid_file.unlink(missing_ok=True)
        print(f"[services] {service}: stopped (pid {pid})")


def status(services: list[str]) -> bool:
    healthy = True
    for service in services:
        pid = _alive(_dir() / f"{service}.pid")
        ok = ready(service)
        healthy &= ok
        print(f"{service:8} {'ready' if ok else 'down'} (pid {pid or '-'}, port {port_of(service)})")
    return healthy
