"""`claimline ingest` and `claimline parse`: read files, record and publish what they produced."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from services.ingest.adapters.orm import outbox
from services.ingest.app import IngestReport, ingest_file, sniff_kind
from services.ingest.claims import READERS, read_claim_file
from services.ingest.domain.acks import AckResult, ClaimAck
from services.ingest.domain.claim837 import SubmittedClaim
from services.ingest.domain.remit835 import ProviderAdjustment, RemitLine, RemittanceRead, parse_835_file
from services.ingest.domain.x12 import Problem
from shared.runtime.broker import make_broker, relay_once
from shared.runtime.db import make_engine
from shared.runtime.settings import Settings


def where(p: Problem) -> str:
    parts = [
        f"interchange {p.interchange_control}" if p.interchange_control else "",
        f"transaction {p.transaction_control}" if p.transaction_control else "",
        f"segment {p.segment_position}" if p.segment_position else "",
        p.segment_id or "",
        f"element {p.element_position}" if p.element_position else "",
    ]
    return ", ".join(x for x in parts if x)


def describe(report: IngestReport) -> str:
    if report.duplicate:
        return (
            f"{report.file_name}: duplicate of a file already ingested "
            f"(sha256 {report.file_id[:12]}); nothing posted"
        )
    if report.kind == "837P":
        parts = [f"{report.file_name}: {report.claims} submitted claim(s), {report.lines} service lines"]
    elif report.kind in ("999", "277CA"):
        parts = [f"{report.file_name}: {report.acknowledgments} {report.kind} acknowledgment(s)"]
    else:
        parts = [f"{report.file_name}: {report.lines} service lines"]
    if report.practices:
        parts.append("(" + ", ".join(f"{p}: {n}" for p, n in sorted(report.practices.items())) + ")")
    if report.unmatched_lines:
        parts.append(f"{report.unmatched_lines} matching no submitted line")
    if report.held_lines:
        parts.append(f"{report.held_lines} held as balancing exceptions")
    if report.provider_adjustments:
        parts.append(f"{report.provider_adjustments} provider adjustment(s)")
    if report.problems:
        parts.append(f"{len(report.problems)} rejected part(s)")
    text = " ".join(parts)
    for p in report.problems:
        expected = f" (expected {p.expected}, found {p.found})" if p.expected else ""
        location = where(p)
        text += f"\n  rejected {p.scope}: {p.reason}{' at ' + location if location else ''}{expected}"
    return text


def progress_printer(path: Path) -> Callable[[int], None]:
    """Progress on stderr for long files: at most one line a second."""
    size = max(path.stat().st_size, 1)
    last = [time.monotonic()]

    def show(done: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 1.0:
            last[0] = now
            print(
                f"  {path.name}: {done * 100 // size}% ({done:,} of {size:,} bytes)",
                file=sys.stderr,
                flush=True,
            )

    return show


async def ingest_files(paths: list[Path], settings: Settings, as_json: bool = False) -> int:
    engine = make_engine(settings.database_url)
    broker = make_broker(settings, "ingest-cli")
    status = 0
    try:
        await broker.connect()
        for path in paths:
            if not path.is_file():
                print(f"{path}: no such file")
                status = 1
                continue
            report = await ingest_file(engine, settings, path, source="cli", progress=progress_printer(path))
            if report.problems:
                status = max(status, 2)
            if as_json:
                print(
                    json.dumps(
                        {
                            "file": str(path),
                            "file_id": report.file_id,
                            "kind": report.kind,
                            "duplicate": report.duplicate,
                            "lines": report.lines,
                            "held_lines": report.held_lines,
                            "practices": report.practices,
                            "provider_adjustments": report.provider_adjustments,
                            "rejections": [p.__dict__ for p in report.problems],
                        }
                    )
                )
            else:
                print(describe(report))
            published = 0
            while (n := await relay_once(engine, outbox, broker)) > 0:
                published += n
            if not as_json:
                print(f"  published {published} event(s) to Kafka")
    finally:
        await broker.stop()
        await engine.dispose()
    return status


def parse_records(path: Path) -> Iterator[dict[str, Any]]:
    """What `claimline parse` prints: one record per line, adjustment, remittance or rejection."""
    if not path.is_file():
        yield {"kind": "rejection", "file": str(path), "scope": "file", "reason": "no such file"}
        return
    kind = sniff_kind(path)
    if kind in READERS:
        yield from _claim_records(kind, path)
        return
    if kind not in ("835", None):
        yield {
            "kind": "rejection",
            "file": str(path),
            "scope": "file",
            "reason": f"{kind} transaction set is not one claimline reads",
            "expected": "835, 837P, 999 or 277CA",
            "found": kind,
        }
        return
    for item in parse_835_file(path):
        if isinstance(item, Problem):
            yield {"kind": "rejection", "file": str(path), **item.__dict__}
        elif isinstance(item, RemitLine):
            yield {
                "kind": "remit_line",
                "file": str(path),
                "claim_ordinal": item.claim_ordinal,
                "posting": item.posting,
                "remittance": item.remittance.model_dump(mode="json"),
                "claim": item.claim.model_dump(mode="json"),
                "line": item.line.model_dump(mode="json"),
            }
        elif isinstance(item, ProviderAdjustment):
            yield {
                "kind": "provider_adjustment",
                "file": str(path),
                "provider_id": item.provider_id,
                "fiscal_period_date": item.fiscal_period_date,
                "reason_code": item.reason_code,
                "reference": item.reference,
                "amount": str(item.amount),
                "trace_number": item.remittance.trace_number,
            }
        elif isinstance(item, RemittanceRead):
            yield {
                "kind": "remittance",
                "file": str(path),
                "claims": item.claims,
                "lines": item.lines,
                "provider_adjustments": item.provider_adjustments,
                "remittance": item.remittance.model_dump(mode="json"),
                "balanced": item.remittance.imbalance is None,
            }


def _claim_records(kind: str, path: Path) -> Iterator[dict[str, Any]]:
    for item in read_claim_file(kind, path):
        if isinstance(item, Problem):
            yield {"kind": "rejection", "file": str(path), **item.__dict__}
        elif isinstance(item, SubmittedClaim):
            yield {"kind": "submitted_claim", "file": str(path), **_plain(item)}
        elif isinstance(item, AckResult):
            yield {"kind": "set_acknowledgment", "file": str(path), "accepted": item.accepted, **_plain(item)}
        elif isinstance(item, ClaimAck):
            yield {
                "kind": "claim_acknowledgment",
                "file": str(path),
                "accepted": item.accepted,
                **_plain(item),
            }


def _plain(item: Any) -> dict[str, Any]:
    """A parser dataclass as JSON-ready data (contracts inside it dumped the pydantic way)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(item):
        out[f.name] = _jsonable(getattr(item, f.name))
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(value)
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value
