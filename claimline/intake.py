"""`claimline ingest`: archive, parse and record files, then publish what they produced."""

from __future__ import annotations

import json
from pathlib import Path

from services.ingest.adapters.orm import outbox
from services.ingest.app import IngestReport, ingest_bytes
from shared.runtime.broker import make_broker, relay_once
from shared.runtime.db import make_engine
from shared.runtime.settings import Settings


def _describe(report: IngestReport) -> str:
    if report.duplicate:
        return (
            f"{report.file_name}: duplicate of a file already ingested "
            f"(sha256 {report.file_id[:12]}); nothing posted"
        )
    parts = [f"{report.file_name}: {report.lines} service lines"]
    if report.practices:
        parts.append("(" + ", ".join(f"{p}: {n}" for p, n in sorted(report.practices.items())) + ")")
    if report.problems:
        parts.append(f"{len(report.problems)} rejected part(s)")
    text = " ".join(parts)
    for p in report.problems:
        where = ", ".join(
            x
            for x in (
                f"segment {p.segment_position}" if p.segment_position else "",
                p.segment_id or "",
                f"element {p.element_position}" if p.element_position else "",
            )
            if x
        )
        expected = f" (expected {p.expected}, found {p.found})" if p.expected else ""
        text += f"\n  rejected {p.scope}: {p.reason}{' at ' + where if where else ''}{expected}"
    return text


async def ingest_files(paths: list[Path], settings: Settings, as_json: bool = False) -> int:
    engine = make_engine(settings.database_url)
    broker = make_broker(settings, "ingest-cli")
    status = 0
    try:
        reports = []
        for path in paths:
            try:
                data = path.read_bytes()
            except OSError as exc:
                print(f"{path}: cannot read file: {exc.strerror}")
                status = 1
                continue
            report = await ingest_bytes(engine, settings, data, path.name, source="cli")
            reports.append(report)
            if report.problems:
                status = max(status, 2)
            if as_json:
                print(
                    json.dumps(
                        {
                            "file": str(path),
                            "file_id": report.file_id,
                            "duplicate": report.duplicate,
                            "lines": report.lines,
                            "practices": report.practices,
                            "rejections": [p.__dict__ for p in report.problems],
                        }
                    )
                )
            else:
                print(_describe(report))
        await broker.connect()
        published = 0
        while (n := await relay_once(engine, outbox, broker)) > 0:
            published += n
        if not as_json:
            print(f"published {published} event(s) to Kafka")
    finally:
        await broker.stop()
        await engine.dispose()
    return status
