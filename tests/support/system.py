"""Run the real services as separate processes (`claimline run NAME`) against the test broker and database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

SERVICES = ("ingest", "denials", "auths", "queues", "gateway")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveSystem:
    env: dict[str, str]
    workdir: Path
    ports: dict[str, int] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    def claimline(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "claimline.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"claimline {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
            )
        return result

    def start(self, service: str, replica: int = 1) -> str:
        """Start `claimline run SERVICE`. Replica 2, 3 … run beside the first as `SERVICE#2` … (same
        consumer groups, their own health port and log). Returns the name the process goes by."""
        name = service if replica == 1 else f"{service}#{replica}"
        port = self.ports.setdefault(name, free_port())
        with (self.workdir / f"{name}.log").open("ab") as log:
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "claimline.cli", "run", service, "--port", str(port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return name

    def wait_ready(self, service: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            proc = self.procs[service]
            if proc.poll() is not None:
                raise AssertionError(f"{service} exited with {proc.returncode}: {self.log(service)}")
            try:
                url = f"http://127.0.0.1:{self.ports[service]}/health/ready"
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{service} not ready in {timeout}s: {self.log(service)}")

    def stop(self, service: str, sig: int = signal.SIGTERM) -> None:
        proc = self.procs.pop(service, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def kill(self, service: str) -> None:
        """SIGKILL, as a crash or an OOM kill would: no shutdown hook, no offset commit, no relay flush."""
        proc = self.procs.pop(service)
        assert proc.poll() is None, f"{service} had already exited with {proc.returncode}"
        proc.kill()
        proc.wait(timeout=30)

    def restart(self, service: str, timeout: float = 90.0) -> None:
        """Start a killed (or stopped) process again under the same name and port, and wait for it."""
        base, _, replica = service.partition("#")
        self.start(base, int(replica or 1))
        self.wait_ready(service, timeout)

    def log(self, service: str) -> str:
        path = self.workdir / f"{service}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else "(no log)"

    def stop_all(self) -> None:
        for service in list(self.procs):
            self.stop(service)


def start_system(env: dict[str, str], workdir: Path, services: tuple[str, ...] = SERVICES) -> LiveSystem:
    system = LiveSystem({**os.environ, **env}, workdir)
    for service in services:
        system.start(service)
    for service in services:
        system.wait_ready(service)
    return system
