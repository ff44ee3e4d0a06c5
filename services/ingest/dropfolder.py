"""The drop folder: where a clearinghouse's SFTP delivers files. Each file is ingested once, then moved.

A file is taken only when its size has not changed between two looks (the upload finished) and it is
not a hidden or `.part` file. It is claimed by an atomic rename into `work/`, so several replicas can
watch one folder; afterwards it moves to `done/` (or `failed/` with a `.error` note).

A replica that dies while it reads a file (SIGKILL, OOM, power) leaves its claim in `work/` with nothing
committed. A watcher on the same host puts such a claim back (its name carries host and pid, and that
pid is gone), so the file is read again; ingesting is idempotent by sha256, so a claim
whose transaction had committed just before the crash is reported as a duplicate and posts nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from services.ingest.app import ingest_file
from shared.runtime.logging import get_logger
from shared.runtime.settings import Settings

log = get_logger("claimline.ingest.dropfolder")


def _candidates(folder: Path) -> dict[Path, int]:
    found = {}
    for entry in folder.iterdir():
        if entry.is_file() and not entry.name.startswith(".") and not entry.name.endswith(".part"):
            found[entry] = entry.stat().st_size
    return found


def _claim_prefix(pid: int) -> str:
    return f"{socket.gethostname()}-{pid}-"


def _running(pid: int) -> bool:
    if pid == os.getpid():
        # This process reads one file at a time and releases before it claims, so a claim under its own
        # pid is a dead predecessor's (a restarted container often gets the same pid again).
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def release_orphans(folder: Path) -> list[str]:
    """Put back the claims in `work/` of watchers on this host that are no longer running."""
    released = []
    host = f"{socket.gethostname()}-"
    for claimed in (folder / "work").iterdir():
        if not claimed.name.startswith(host):
            continue  # another host's claim: only that host can tell whether its reader still runs
        pid_text, _, original = claimed.name[len(host) :].partition("-")
        if not pid_text.isdigit() or not original or _running(int(pid_text)):
            continue
        try:
            claimed.rename(folder / original)
        except FileNotFoundError:
            continue  # another watcher put it back first
        released.append(original)
        log.warning("drop folder file put back after its reader died", file=original, reader_pid=pid_text)
    return released


async def scan_once(engine: AsyncEngine, settings: Settings, folder: Path, seen: dict[Path, int]) -> int:
    """Ingest the files whose size was stable since the previous scan. Returns how many were taken."""
    for sub in ("work", "done", "failed"):
        (folder / sub).mkdir(exist_ok=True)
    await asyncio.to_thread(release_orphans, folder)
    current = await asyncio.to_thread(_candidates, folder)
    ready = [path for path, size in current.items() if seen.get(path) == size]
    seen.clear()
    seen.update({p: s for p, s in current.items() if p not in ready})
    taken = 0
    for path in sorted(ready):
        claimed = folder / "work" / f"{_claim_prefix(os.getpid())}{path.name}"
        try:
            path.rename(claimed)
        except FileNotFoundError:
            continue  # another replica took it
        taken += 1
        try:
            report = await ingest_file(engine, settings, claimed, path.name, source="drop-folder")
        except Exception as exc:
            claimed.rename(folder / "failed" / path.name)
            (folder / "failed" / f"{path.name}.error").write_text(f"{type(exc).__name__}: {exc}\n")
            log.error("drop folder file failed", file=path.name, error=type(exc).__name__)
            raise
        claimed.rename(folder / "done" / path.name)
        log.info("drop folder file ingested", file=path.name, lines=report.lines, duplicate=report.duplicate)
    return taken


async def watch(engine: AsyncEngine, settings: Settings, folder: Path, stop: asyncio.Event) -> None:
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    seen: dict[Path, int] = {}
    log.info("watching drop folder", folder=str(folder))
    while not stop.is_set():
        try:
            await scan_once(engine, settings, folder, seen)
        except Exception as exc:  # keep watching; the failed file was moved aside
            log.warning("drop folder scan failed", error=type(exc).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=settings.drop_poll_seconds)
