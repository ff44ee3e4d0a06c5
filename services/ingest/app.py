"""Ingest service layer: a received file becomes archived bytes, events and precise rejections.

Everything a file produces is written to the outbox in the same transaction as the file's record, so a
crash leaves either the whole file posted or nothing, and the same bytes twice post nothing new. The
file is read as a stream (hashing, archiving and parsing alike), so memory stays flat.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.ingest.adapters.orm import (
    files,
    outbox,
    practice_identifiers,
    practices,
    remittances,
    submitted_claims,
    submitted_lines,
)
from services.ingest.claims import (
    READERS,
    claim_ack_event,
    claim_event,
    claim_owner,
    keep_for_matching,
    read_claim_file,
    set_ack_event,
    set_owner,
)
from services.ingest.domain.acks import AckResult, ClaimAck
from services.ingest.domain.claim837 import SubmittedClaim
from services.ingest.domain.matching import SubmittedLineRow, match_line
from services.ingest.domain.remit835 import ProviderAdjustment, RemitLine, RemittanceRead, parse_835_file
from services.ingest.domain.x12 import Problem, SegmentReader, X12SyntaxError
from shared.runtime.db import enqueue, outbox_row
from shared.runtime.logging import get_logger
from shared.runtime.settings import Settings
from shared.schemas import (
    UNASSIGNED_PRACTICE,
    Correlation,
    FileIngested,
    IngestRejection,
    LineMatch,
    PracticeRegistered,
    ProviderAdjustmentReceived,
    RejectionLocation,
    RemitContext,
    RemitLineReceived,
    event_id_for,
    now_utc,
    topics,
)

log = get_logger("claimline.ingest")
OUTBOX_CHUNK = 1000
MATCH_BATCH = 500
HASH_CHUNK = 1 << 20


@dataclass
class IngestReport:
    file_id: str
    file_name: str
    kind: str | None = None
    duplicate: bool = False
    lines: int = 0
    held_lines: int = 0
    provider_adjustments: int = 0
    remittances: int = 0
    duplicate_remittances: int = 0
    unmatched_lines: int = 0
    claims: int = 0
    acknowledgments: int = 0
    problems: list[Problem] = field(default_factory=list)
    practices: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class PracticeDirectory:
    """Which practice a remittance belongs to: payee NPI first, then payee TIN, then rendering NPI."""

    by_kind: dict[str, dict[str, str]]

    def practice_for(
        self, payee_npi: str | None, payee_tin: str | None, rendering_npi: str | None = None
    ) -> str:
        for kind, value in (
            ("payee_npi", payee_npi),
            ("payee_tin", payee_tin),
            ("rendering_npi", rendering_npi),
        ):
            if value and value in self.by_kind.get(kind, {}):
                return self.by_kind[kind][value]
        return UNASSIGNED_PRACTICE


async def load_directory(conn: AsyncConnection) -> PracticeDirectory:
    rows = await conn.execute(
        select(practice_identifiers.c.kind, practice_identifiers.c.value, practice_identifiers.c.practice_id)
        .join(practices, practices.c.practice_id == practice_identifiers.c.practice_id)
        .where(practices.c.active.is_(True))
    )
    by_kind: dict[str, dict[str, str]] = {}
    for kind, value, practice_id in rows:
        by_kind.setdefault(kind, {})[value] = practice_id
    return PracticeDirectory(by_kind)


def sha256_of(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def archive(settings: Settings, file_id: str, source: Path) -> Path:
    path = settings.archive_dir / file_id[:2] / file_id
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        shutil.copyfile(source, tmp)
        tmp.replace(path)
    return path


def sniff_kind(path: Path) -> str | None:
    """The transaction set of the first ST in the file: 835, 837P, 837I, 999, 277CA; None if unreadable."""
    try:
        with path.open("rb") as handle:
            for seg in SegmentReader(handle):
                if seg.id == "ST":
                    version = seg.get(3)
                    if seg.get(1) == "837":
                        return "837I" if "X223" in version else "837P"
                    if seg.get(1) == "277":
                        return "277CA"
                    return seg.get(1) or None
                if seg.position > 50:
                    return None
    except X12SyntaxError:
        return None
    return None


def _payer_key(remit: RemitContext) -> str:
    return remit.payer_id or remit.payer_name or "unknown-payer"


def _source_identity(remit: RemitContext, file_id: str) -> tuple[str, ...]:
    if remit.trace_number:
        return (_payer_key(remit), remit.trace_number)
    return (file_id, str(remit.transaction_ordinal), remit.transaction_control)


def line_event(
    item: RemitLine, practice_id: str, file_id: str, match: LineMatch | None = None
) -> RemitLineReceived:
    return RemitLineReceived(
        event_id=event_id_for(
            "remit.line",
            *_source_identity(item.remittance, file_id),
            str(item.claim_ordinal),
            str(item.line.line_number),
        ),
        occurred_at=now_utc(),
        practice_id=practice_id,
        correlation=Correlation(file_id=file_id, claim_key=item.claim.patient_control_number),
        file_id=file_id,
        remittance=item.remittance,
        claim=item.claim,
        line=item.line,
        claim_ordinal=item.claim_ordinal,
        posting="hold" if item.posting == "hold" else "auto",
        match=match,
    )


def adjustment_event(item: ProviderAdjustment, practice_id: str, file_id: str) -> ProviderAdjustmentReceived:
    return ProviderAdjustmentReceived(
        event_id=event_id_for(
            "remit.provider_adjustment", *_source_identity(item.remittance, file_id), str(item.ordinal)
        ),
        occurred_at=now_utc(),
        practice_id=practice_id,
        correlation=Correlation(file_id=file_id, claim_key=item.reference),
        file_id=file_id,
        remittance=item.remittance,
        provider_id=item.provider_id,
        fiscal_period_date=item.fiscal_period_date,
        reason_code=item.reason_code,
        reference=item.reference,
        amount=item.amount,
        ordinal=item.ordinal,
    )


def rejection_event(
    problem: Problem, practice_id: str, file_id: str, file_name: str, kind: str | None
) -> IngestRejection:
    return IngestRejection(
        event_id=event_id_for(
            "ingest.rejection", file_id, str(problem.segment_position), problem.scope, problem.reason
        ),
        occurred_at=now_utc(),
        practice_id=practice_id,
        correlation=Correlation(file_id=file_id),
        file_id=file_id,
        file_name=file_name,
        file_kind=kind,
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


class _Posting:
    """Turns parsed items into outbox rows, in chunks, inside the file's database transaction."""

    def __init__(
        self, conn: AsyncConnection, settings: Settings, directory: PracticeDirectory, report: IngestReport
    ):
        self.conn = conn
        self.settings = settings
        self.directory = directory
        self.report = report
        self.rows: list[dict[str, Any]] = []
        self.duplicate_transactions: dict[int, str] = {}
        self.seen_transactions: set[int] = set()
        self.pending: list[tuple[RemitLine, str]] = []
        self.practices_with_claims: set[str] = set()

    async def load(self) -> None:
        rows = await self.conn.execute(select(submitted_claims.c.practice_id).distinct())
        self.practices_with_claims = {r.practice_id for r in rows}

    async def add(self, topic: str, event: Any) -> None:
        self.rows.append(outbox_row(self.settings.topic(topic), event))
        if len(self.rows) >= OUTBOX_CHUNK:
            await enqueue(self.conn, outbox, self.rows)
            self.rows = []

    async def flush(self) -> None:
        if self.pending:
            await self.flush_lines()
        await enqueue(self.conn, outbox, self.rows)
        self.rows = []

    async def is_duplicate_remittance(self, remit: RemitContext) -> bool:
        """Same payer and trace number as a remittance already received in another file: post nothing."""
        ordinal = remit.transaction_ordinal
        if ordinal in self.seen_transactions:
            return ordinal in self.duplicate_transactions
        self.seen_transactions.add(ordinal)
        if not remit.trace_number:
            return False
        claimed = await self.conn.execute(
            pg_insert(remittances)
            .values(
                payer_key=_payer_key(remit)[:80],
                trace_number=remit.trace_number[:80],
                file_id=self.report.file_id,
                transaction_control=remit.transaction_control[:20],
                payment_amount=remit.payment_amount,
            )
            .on_conflict_do_nothing()
            .returning(remittances.c.file_id)
        )
        if claimed.first() is not None:
            return False
        earlier = (
            await self.conn.execute(
                select(remittances.c.file_id).where(
                    remittances.c.payer_key == _payer_key(remit)[:80],
                    remittances.c.trace_number == remit.trace_number[:80],
                )
            )
        ).scalar_one()
        self.duplicate_transactions[ordinal] = earlier
        self.report.duplicate_remittances += 1
        await self.problem(
            Problem(
                "transaction",
                f"duplicate remittance: payer {_payer_key(remit)} trace {remit.trace_number} was already "
                f"received in file {earlier[:12]}; nothing of it is posted again",
                interchange_control=remit.interchange_control,
                group_control=remit.group_control,
                transaction_control=remit.transaction_control,
                payee_npi=remit.payee_npi,
                payee_tin=remit.payee_tin,
            )
        )
        return True

    async def problem(self, problem: Problem) -> None:
        self.report.problems.append(problem)
        practice_id = self.directory.practice_for(problem.payee_npi, problem.payee_tin)
        await self.add(
            topics.INGEST_REJECTIONS,
            rejection_event(
                problem, practice_id, self.report.file_id, self.report.file_name, self.report.kind
            ),
        )

    async def item(self, item: Any) -> None:
        if isinstance(item, SubmittedClaim):
            practice_id = self.directory.practice_for(item.billing_npi, item.billing_tin, item.rendering_npi)
            self.report.claims += 1
            self.report.lines += len(item.lines)
            self.report.practices[practice_id] = self.report.practices.get(practice_id, 0) + len(item.lines)
            await keep_for_matching(self.conn, item, practice_id, self.report.file_id)
            await self.add(topics.CLAIMS_SUBMITTED, claim_event(item, practice_id, self.report.file_id))
        elif isinstance(item, AckResult):
            practice_id, submitted_file = await set_owner(self.conn, item)
            self.report.acknowledgments += 1
            await self.add(
                topics.CLAIMS_ACKNOWLEDGMENTS,
                set_ack_event(item, practice_id, self.report.file_id, submitted_file),
            )
        elif isinstance(item, ClaimAck):
            by_npi = self.directory.practice_for(item.billing_npi, None)
            practice_id = await claim_owner(self.conn, item.claim_id, by_npi)
            self.report.acknowledgments += 1
            self.report.practices[practice_id] = self.report.practices.get(practice_id, 0) + 1
            await self.add(
                topics.CLAIMS_ACKNOWLEDGMENTS, claim_ack_event(item, practice_id, self.report.file_id)
            )
        else:
            await self.remit_item(item)

    async def remit_item(self, item: RemitLine | ProviderAdjustment | RemittanceRead | Problem) -> None:
        if isinstance(item, Problem):
            await self.problem(item)
            return
        if await self.is_duplicate_remittance(item.remittance):
            return
        remit = item.remittance
        if isinstance(item, RemittanceRead):
            self.report.remittances += 1
            return
        if isinstance(item, ProviderAdjustment):
            practice_id = self.directory.practice_for(remit.payee_npi, remit.payee_tin)
            self.report.provider_adjustments += 1
            await self.add(
                topics.REMIT_PROVIDER_ADJUSTMENTS, adjustment_event(item, practice_id, self.report.file_id)
            )
            return
        practice_id = self.directory.practice_for(remit.payee_npi, remit.payee_tin, item.claim.rendering_npi)
        self.report.lines += 1
        self.report.held_lines += item.posting == "hold"
        self.report.practices[practice_id] = self.report.practices.get(practice_id, 0) + 1
        self.pending.append((item, practice_id))
        if len(self.pending) >= MATCH_BATCH:
            await self.flush_lines()

    async def flush_lines(self) -> None:
        """Match the pending lines to submitted 837P lines (one query per batch), then queue their events."""
        pending, self.pending = self.pending, []
        wanted = {
            (p, item.claim.patient_control_number) for item, p in pending if p in self.practices_with_claims
        }
        on_file: dict[tuple[str, str], list[SubmittedLineRow]] = {}
        if wanted:
            rows = await self.conn.execute(
                select(submitted_lines).where(
                    tuple_(submitted_lines.c.practice_id, submitted_lines.c.claim_id).in_(sorted(wanted))
                )
            )
            for r in rows:
                on_file.setdefault((r.practice_id, r.claim_id), []).append(
                    SubmittedLineRow(
                        r.line_number,
                        r.procedure_code,
                        tuple(r.modifiers),
                        r.units,
                        r.charge,
                        r.service_date,
                        r.line_control_number,
                    )
                )
        used: dict[tuple[str, str, int, int], set[int]] = {}
        for item, practice_id in pending:
            key = (practice_id, item.claim.patient_control_number)
            claim_key = (*key, item.remittance.transaction_ordinal, item.claim_ordinal)
            match = match_line(item.line, on_file.get(key), used.setdefault(claim_key, set()))
            if match.status == "unmatched":
                self.report.unmatched_lines += 1
            await self.add(topics.REMIT_LINES, line_event(item, practice_id, self.report.file_id, match))


def _items_for(kind: str | None, path: Path, progress: Callable[[int], None] | None) -> Iterator[Any]:
    if kind == "835":
        yield from parse_835_file(path, progress)
        return
    if kind in READERS:
        yield from read_claim_file(kind, path)
        return
    try:
        with path.open("rb") as handle:
            SegmentReader(handle)
    except X12SyntaxError as exc:
        yield Problem(
            "file",
            exc.reason,
            exc.segment_position,
            exc.segment_id,
            exc.element_position,
            exc.expected,
            exc.found,
        )
        return
    yield Problem(
        "file",
        f"{kind or 'this'} transaction set is not one claimline reads"
        if kind
        else "no transaction set found",
        expected="835, 837P, 999 or 277CA",
        found=kind or "no ST segment",
    )


async def ingest_file(
    engine: AsyncEngine,
    settings: Settings,
    path: Path,
    file_name: str | None = None,
    source: str = "cli",
    progress: Callable[[int], None] | None = None,
    submitted_by: str | None = None,
) -> IngestReport:
    file_name = file_name or path.name
    file_id, size = sha256_of(path)
    report = IngestReport(file_id=file_id, file_name=file_name, kind=sniff_kind(path))
    stored = archive(settings, file_id, path)
    async with engine.begin() as conn:
        claimed = await conn.execute(
            pg_insert(files)
            .values(
                file_id=file_id,
                file_name=file_name,
                size_bytes=size,
                archive_path=str(stored),
                lines=0,
                rejections=0,
                source=source,
                kind=report.kind,
            )
            .on_conflict_do_nothing()
            .returning(files.c.file_id)
        )
        if claimed.first() is None:
            report.duplicate = True
            log.info("duplicate file, nothing posted", file_id=file_id)
            await enqueue(conn, outbox, [file_outbox_row(settings, report, source, submitted_by)])
            return report
        posting = _Posting(conn, settings, await load_directory(conn), report)
        await posting.load()
        for item in _items_for(report.kind, path, progress):
            await posting.item(item)
        await posting.flush()
        await enqueue(conn, outbox, [file_outbox_row(settings, report, source, submitted_by)])
        await conn.execute(
            files.update()
            .where(files.c.file_id == file_id)
            .values(lines=report.lines, rejections=len(report.problems))
        )
    log.info(
        "file ingested",
        file_id=file_id,
        kind=report.kind,
        lines=report.lines,
        held=report.held_lines,
        rejections=len(report.problems),
    )
    return report


def file_outbox_row(
    settings: Settings, report: IngestReport, source: str, submitted_by: str | None
) -> dict[str, Any]:
    main = max(report.practices.items(), key=lambda kv: kv[1])[0] if report.practices else UNASSIGNED_PRACTICE
    identity = (report.file_id, "duplicate", now_utc().isoformat()) if report.duplicate else (report.file_id,)
    event = FileIngested(
        event_id=event_id_for("ingest.file", *identity),
        occurred_at=now_utc(),
        practice_id=main,
        correlation=Correlation(file_id=report.file_id, claim_key=report.file_id),
        file_id=report.file_id,
        file_name=report.file_name[:255],
        kind=report.kind,
        source=source,
        submitted_by=submitted_by,
        duplicate=report.duplicate,
        lines=report.lines,
        held_lines=report.held_lines,
        provider_adjustments=report.provider_adjustments,
        rejections=len(report.problems),
        duplicate_remittances=report.duplicate_remittances,
        practices=report.practices,
    )
    return outbox_row(settings.topic(topics.INGEST_FILES), event)


async def ingest_bytes(
    engine: AsyncEngine,
    settings: Settings,
    data: bytes,
    file_name: str,
    source: str = "upload",
    submitted_by: str | None = None,
) -> IngestReport:
    """Ingest content that arrived in memory (HTTP upload, raw-file topic) by way of a spool file."""
    import tempfile

    settings.archive_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=settings.archive_dir, prefix="spool-", delete=False) as spool:
        spool.write(data)
        spool_path = Path(spool.name)
    try:
        return await ingest_file(engine, settings, spool_path, file_name, source, submitted_by=submitted_by)
    finally:
        spool_path.unlink(missing_ok=True)  # noqa: ASYNC240 - a local spool file, removed once


# ---------------------------------------------------------------- practice registry


@dataclass(frozen=True)
class PracticeSpec:
    practice_id: str
    name: str
    payee_npis: tuple[str, ...] = ()
    payee_tins: tuple[str, ...] = ()
    rendering_npis: tuple[str, ...] = ()
    active: bool = True


class RegistryConflict(ValueError):
    """An identifier already routes to another practice."""


async def register_practice(
    engine: AsyncEngine, settings: Settings, spec: PracticeSpec
) -> PracticeRegistered:
    """Create or update a practice and its identifiers, and publish the registry change."""
    async with engine.begin() as conn:
        return await apply_practice(conn, settings, spec, publish=True)


async def apply_practice(
    conn: AsyncConnection, settings: Settings, spec: PracticeSpec, publish: bool
) -> PracticeRegistered:
    wanted = (
        [("payee_npi", v) for v in spec.payee_npis]
        + [("payee_tin", v) for v in spec.payee_tins]
        + [("rendering_npi", v) for v in spec.rendering_npis]
    )
    for kind, value in wanted:
        owner = (
            await conn.execute(
                select(practice_identifiers.c.practice_id).where(
                    practice_identifiers.c.kind == kind, practice_identifiers.c.value == value
                )
            )
        ).scalar_one_or_none()
        if owner is not None and owner != spec.practice_id:
            raise RegistryConflict(f"{kind} {value} already belongs to practice {owner}")
    stmt = pg_insert(practices).values(practice_id=spec.practice_id, name=spec.name, active=spec.active)
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[practices.c.practice_id],
            set_={"name": spec.name, "active": spec.active, "updated_at": now_utc()},
        )
    )
    await conn.execute(
        delete(practice_identifiers).where(practice_identifiers.c.practice_id == spec.practice_id)
    )
    if wanted:
        await conn.execute(
            practice_identifiers.insert(),
            [{"kind": k, "value": v, "practice_id": spec.practice_id} for k, v in wanted],
        )
    revision = int(now_utc().timestamp() * 1000)
    event = PracticeRegistered(
        event_id=event_id_for("practices.registered", spec.practice_id, str(revision)),
        occurred_at=now_utc(),
        practice_id=spec.practice_id,
        correlation=Correlation(claim_key=spec.practice_id),
        name=spec.name,
        active=spec.active,
        payee_npis=spec.payee_npis,
        payee_tins=spec.payee_tins,
        rendering_npis=spec.rendering_npis,
        revision=revision,
    )
    if publish:
        await enqueue(conn, outbox, [outbox_row(settings.topic(topics.PRACTICES), event)])
    return event


async def list_practices(engine: AsyncEngine) -> list[PracticeSpec]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(practices).order_by(practices.c.practice_id))).all()
        ids = (await conn.execute(select(practice_identifiers))).all()
    result = []
    for row in rows:
        mine = [i for i in ids if i.practice_id == row.practice_id]
        result.append(
            PracticeSpec(
                row.practice_id,
                row.name,
                tuple(sorted(i.value for i in mine if i.kind == "payee_npi")),
                tuple(sorted(i.value for i in mine if i.kind == "payee_tin")),
                tuple(sorted(i.value for i in mine if i.kind == "rendering_npi")),
                row.active,
            )
        )
    return result
