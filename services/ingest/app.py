"""Ingest service layer: a received file becomes archived bytes, line events and rejections.

Everything a file produces is written to the outbox in the same transaction as the file's record, so a
crash leaves either the whole file posted or nothing, and the same bytes twice post nothing new.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.ingest.adapters.orm import files, outbox, practices
from services.ingest.domain.remit835 import Problem, RemitLine, parse_835
from services.ingest.domain.x12 import X12SyntaxError, decode
from shared.runtime.db import enqueue, outbox_row
from shared.runtime.logging import get_logger
from shared.runtime.settings import Settings
from shared.schemas import (
    UNASSIGNED_PRACTICE,
    Correlation,
    IngestRejection,
    RejectionLocation,
    RemitLineReceived,
    event_id_for,
    now_utc,
    topics,
)

log = get_logger("claimline.ingest")
OUTBOX_CHUNK = 1000


@dataclass
class IngestReport:
    file_id: str
    file_name: str
    duplicate: bool = False
    lines: int = 0
    problems: list[Problem] = field(default_factory=list)
    practices: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class PracticeDirectory:
    by_npi: dict[str, str]
    by_tin: dict[str, str]

    def practice_for(self, payee_npi: str | None, payee_tin: str | None) -> str:
        if payee_npi and payee_npi in self.by_npi:
            return self.by_npi[payee_npi]
        if payee_tin and payee_tin in self.by_tin:
            return self.by_tin[payee_tin]
        return UNASSIGNED_PRACTICE


async def load_directory(conn: AsyncConnection) -> PracticeDirectory:
    rows = (
        await conn.execute(select(practices.c.practice_id, practices.c.payee_npi, practices.c.payee_tin))
    ).all()
    return PracticeDirectory(
        by_npi={r.payee_npi: r.practice_id for r in rows if r.payee_npi},
        by_tin={r.payee_tin: r.practice_id for r in rows if r.payee_tin},
    )


def archive(settings: Settings, file_id: str, data: bytes) -> Path:
    path = settings.archive_dir / file_id[:2] / file_id
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path


def line_event(item: RemitLine, practice_id: str, file_id: str) -> RemitLineReceived:
    remit = item.remittance
    payer_key = remit.payer_id or remit.payer_name or "unknown-payer"
    source = (payer_key, remit.trace_number) if remit.trace_number else (file_id, remit.transaction_control)
    return RemitLineReceived(
        event_id=event_id_for("remit.line", *source, str(item.claim_ordinal), str(item.line.line_number)),
        occurred_at=now_utc(),
        practice_id=practice_id,
        correlation=Correlation(file_id=file_id, claim_key=item.claim.patient_control_number),
        file_id=file_id,
        remittance=remit,
        claim=item.claim,
        line=item.line,
    )


def rejection_event(problem: Problem, file_id: str, file_name: str) -> IngestRejection:
    return IngestRejection(
        event_id=event_id_for(
            "ingest.rejection", file_id, str(problem.segment_position), problem.scope, problem.reason
        ),
        occurred_at=now_utc(),
        practice_id=UNASSIGNED_PRACTICE,
        correlation=Correlation(file_id=file_id),
        file_id=file_id,
        file_name=file_name,
        scope=problem.scope,
        reason=problem.reason,
        expected=problem.expected,
        found=problem.found,
        location=RejectionLocation(
            interchange_control=problem.interchange_control,
            group_control=problem.group_control,
            transaction_control=problem.transaction_control,
            segment_position=problem.segment_position,
            segment_id=problem.segment_id,
            element_position=problem.element_position,
        ),
    )


async def ingest_bytes(
    engine: AsyncEngine, settings: Settings, data: bytes, file_name: str, source: str = "cli"
) -> IngestReport:
    file_id = hashlib.sha256(data).hexdigest()
    report = IngestReport(file_id=file_id, file_name=file_name)
    path = archive(settings, file_id, data)
    async with engine.begin() as conn:
        claimed = await conn.execute(
            pg_insert(files)
            .values(
                file_id=file_id,
                file_name=file_name,
                size_bytes=len(data),
                archive_path=str(path),
                lines=0,
                rejections=0,
                source=source,
            )
            .on_conflict_do_nothing()
            .returning(files.c.file_id)
        )
        if claimed.first() is None:
            report.duplicate = True
            log.info("duplicate file, nothing posted", file_id=file_id)
            return report
        directory = await load_directory(conn)
        rows: list[dict[str, Any]] = []
        try:
            text = decode(data)
        except X12SyntaxError as exc:
            items: Any = [
                Problem(
                    "file",
                    exc.reason,
                    exc.segment_position,
                    exc.segment_id,
                    exc.element_position,
                    exc.expected,
                    exc.found,
                )
            ]
        else:
            items = parse_835(text)
        for item in items:
            if isinstance(item, Problem):
                report.problems.append(item)
                rows.append(
                    outbox_row(
                        settings.topic(topics.INGEST_REJECTIONS), rejection_event(item, file_id, file_name)
                    )
                )
            else:
                practice_id = directory.practice_for(item.remittance.payee_npi, item.remittance.payee_tin)
                report.lines += 1
                report.practices[practice_id] = report.practices.get(practice_id, 0) + 1
                rows.append(
                    outbox_row(settings.topic(topics.REMIT_LINES), line_event(item, practice_id, file_id))
                )
            if len(rows) >= OUTBOX_CHUNK:
                await enqueue(conn, outbox, rows)
                rows = []
        await enqueue(conn, outbox, rows)
        await conn.execute(
            files.update()
            .where(files.c.file_id == file_id)
            .values(lines=report.lines, rejections=len(report.problems))
        )
    log.info("file ingested", file_id=file_id, lines=report.lines, rejections=len(report.problems))
    return report


async def register_practice(
    engine: AsyncEngine, practice_id: str, name: str, payee_npi: str | None, payee_tin: str | None
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            pg_insert(practices)
            .values(practice_id=practice_id, name=name, payee_npi=payee_npi, payee_tin=payee_tin)
            .on_conflict_do_update(
                index_elements=[practices.c.practice_id],
                set_={"name": name, "payee_npi": payee_npi, "payee_tin": payee_tin},
            )
        )
