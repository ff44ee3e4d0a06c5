"""Auths service layer: keep the authorization ledger; re-check claim lines whenever either side changes."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.auths.adapters.orm import (
    auth_history,
    authorizations,
    claims,
    documentation,
    outbox,
    processed_events,
    scheduled,
    sessions,
)
from services.auths.domain.checks import Auth, LineToCheck, Verdict, check_line
from services.auths.domain.frequency import default_frequency_caps
from services.auths.domain.payer_rules import ClaimContext, requirement
from services.auths.domain.prerequisites import default_prerequisites
from services.auths.limits import claim_sessions, findings_for, history_of, keep, stimulator_history
from shared.runtime.db import enqueue, first_time, outbox_row
from shared.runtime.settings import Settings
from shared.schemas import (
    AuthChecked,
    AuthCheckResult,
    AuthRecorded,
    AuthStatus,
    ClaimDocumented,
    ClaimLimitsChecked,
    ClaimSubmitted,
    Correlation,
    DocumentationFacts,
    ProcedureScheduled,
    SessionSeen,
    SubmittedLine,
    event_id_for,
    now_utc,
)
from shared.schemas import topics as t

FREQUENCY_CAPS = default_frequency_caps()
PREREQUISITES = default_prerequisites()


async def _auths_for(
    conn: AsyncConnection, practice_id: str, payer_id: str, member_id: str | None
) -> list[Auth]:
    if not member_id:
        return []
    rows = await conn.execute(
        select(authorizations).where(
            authorizations.c.practice_id == practice_id,
            authorizations.c.payer_id == payer_id,
            authorizations.c.member_id == member_id,
        )
    )
    return [
        Auth(
            r.auth_number,
            r.provider_npi,
            tuple(r.procedure_codes),
            r.units_authorized,
            r.valid_from,
            r.valid_to,
            AuthStatus(r.status),
            r.units_used,
        )
        for r in rows
    ]


async def _evaluate(conn: AsyncConnection, settings: Settings, claim: ClaimSubmitted, revision: int) -> None:
    await _evaluate_lines(
        conn,
        settings,
        LinesToCheck(
            claim.practice_id,
            claim.payer_id,
            claim.filing_indicator,
            claim.patient.member_id,
            claim.prior_auth_number,
            claim.rendering_npi,
            claim.place_of_service,
            claim.lines,
            claim.claim_id,
            claim.file_id,
        ),
        revision,
    )


@dataclass(frozen=True)
class LinesToCheck:
    """A submitted claim's lines, or a schedule's procedures: what the auth check looks at."""

    practice_id: str
    payer_id: str
    filing_indicator: str | None
    member_id: str | None
    prior_auth_number: str | None
    rendering_npi: str | None
    place_of_service: str | None
    lines: tuple[SubmittedLine, ...]
    claim_id: str
    file_id: str | None = None


async def _evaluate_lines(
    conn: AsyncConnection, settings: Settings, subject: LinesToCheck, revision: int
) -> None:
    auths = await _auths_for(conn, subject.practice_id, subject.payer_id, subject.member_id)
    rows = []
    for line in subject.lines:
        needed = requirement(
            line,
            ClaimContext(
                subject.payer_id,
                line.place_of_service or subject.place_of_service,
                payer_type=payer_type_of(subject.filing_indicator),
            ),
        )
        if needed.required:
            verdict = check_line(
                LineToCheck(
                    line.procedure_code,
                    line.units,
                    line.service_date,
                    subject.rendering_npi,
                    subject.prior_auth_number,
                ),
                auths,
                required=frozenset({line.procedure_code}),
            )
            if needed.program and verdict.result is not AuthCheckResult.VALID:
                verdict = Verdict(verdict.result, verdict.auth_number, f"{verdict.reason} ({needed.reason})")
        else:
            verdict = Verdict(AuthCheckResult.NOT_REQUIRED, None, needed.reason)
        check = AuthChecked(
            event_id=event_id_for(
                "auths.check",
                subject.practice_id,
                subject.payer_id,
                subject.claim_id,
                str(line.line_number),
                str(revision),
            ),
            occurred_at=now_utc(),
            practice_id=subject.practice_id,
            correlation=Correlation(file_id=subject.file_id, claim_key=subject.claim_id),
            claim_id=subject.claim_id,
            payer_id=subject.payer_id,
            line_number=line.line_number,
            procedure_code=line.procedure_code,
            service_date=line.service_date,
            rendering_npi=subject.rendering_npi,
            charge=line.charge,
            result=verdict.result,
            auth_number=verdict.auth_number,
            reason=verdict.reason,
            revision=revision,
        )
        rows.append(outbox_row(settings.topic(t.AUTHS_CHECKS), check))
    await enqueue(conn, outbox, rows)


def _schedule_subject(event: ProcedureScheduled) -> LinesToCheck:
    return LinesToCheck(
        event.practice_id,
        event.payer_id,
        event.filing_indicator,
        event.patient.member_id,
        event.prior_auth_number,
        event.rendering_npi,
        event.place_of_service,
        event.procedures,
        f"scheduled:{event.schedule_id}",
    )


async def handle_scheduled(engine: AsyncEngine, settings: Settings, event: ProcedureScheduled) -> bool:
    """Check the auths of scheduled procedures now, and again whenever an auth of the patient changes."""
    async with engine.begin() as conn:
        if not await first_time(conn, processed_events, "auths.scheduled", event.event_id):
            return False
        if event.cancelled:
            await conn.execute(
                delete(scheduled).where(
                    scheduled.c.practice_id == event.practice_id, scheduled.c.schedule_id == event.schedule_id
                )
            )
            return True
        stmt = pg_insert(scheduled).values(
            practice_id=event.practice_id,
            schedule_id=event.schedule_id,
            payer_id=event.payer_id,
            member_id=event.patient.member_id,
            revision=0,
            schedule=event.model_dump(mode="json"),
        )
        result = await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[scheduled.c.practice_id, scheduled.c.schedule_id],
                set_={
                    "schedule": stmt.excluded.schedule,
                    "member_id": stmt.excluded.member_id,
                    "payer_id": stmt.excluded.payer_id,
                    "revision": scheduled.c.revision + 1,
                },
            ).returning(scheduled.c.revision)
        )
        await _evaluate_lines(conn, settings, _schedule_subject(event), result.scalar_one())
    return True


FILING_INDICATOR_PAYER_TYPES = {
    "MA": "medicare",
    "MB": "medicare",
    "16": "medicare_advantage",
    "MC": "medicaid",
    "CI": "commercial",
    "BL": "commercial",
    "HM": "commercial",
    "12": "commercial",
    "13": "commercial",
    "14": "commercial",
    "15": "commercial",
    "WC": "workers_comp",
}


def payer_type_of(filing_indicator: str | None) -> str | None:
    return FILING_INDICATOR_PAYER_TYPES.get(filing_indicator or "")


async def facts_of(conn: AsyncConnection, practice_id: str, claim_id: str) -> DocumentationFacts | None:
    row = (
        await conn.execute(
            select(documentation.c.facts).where(
                documentation.c.practice_id == practice_id, documentation.c.claim_id == claim_id
            )
        )
    ).scalar_one_or_none()
    return DocumentationFacts.model_validate(row) if row is not None else None


async def check_limits(
    conn: AsyncConnection, settings: Settings, claim: ClaimSubmitted
) -> ClaimLimitsChecked:
    """Frequency caps and prerequisites across practices; the claim's sessions are then kept on file."""
    facts = await facts_of(conn, claim.practice_id, claim.claim_id)
    history = await history_of(conn, claim, settings.cross_practice_matching)
    found = findings_for(
        claim,
        history,
        FREQUENCY_CAPS,
        payer_type_of(claim.filing_indicator),
        PREREQUISITES.policy_for(payer_id=claim.payer_id, payer_type=payer_type_of(claim.filing_indicator)),
        facts,
        await stimulator_history(conn, claim, settings.cross_practice_matching),
    )
    await conn.execute(
        delete(sessions).where(
            sessions.c.practice_id == claim.practice_id, sessions.c.claim_id == claim.claim_id
        )
    )
    await keep(conn, claim, claim_sessions(claim, facts))
    verdict = ClaimLimitsChecked(
        event_id=event_id_for(
            "auths.limits_checked", str(claim.event_id), facts.model_dump_json() if facts else ""
        ),
        occurred_at=now_utc(),
        practice_id=claim.practice_id,
        correlation=Correlation(file_id=claim.file_id, claim_key=claim.claim_id),
        source_event_id=claim.event_id,
        claim_id=claim.claim_id,
        payer_id=claim.payer_id,
        rendering_npi=claim.rendering_npi,
        lines=claim.lines,
        findings=tuple(found),
        patient=claim.patient,
        patient_birth_date=claim.patient_birth_date,
        sessions=tuple(
            SessionSeen(
                service_date=s.service_date,
                family=s.family.value,
                region=s.region.value if s.region else None,
                at_this_practice=True,
                claim_id=claim.claim_id,
                practice_id=claim.practice_id,
            )
            for s in claim_sessions(claim, facts)
        ),
    )
    await enqueue(conn, outbox, [outbox_row(settings.topic(t.AUTHS_LIMITS), verdict)])
    return verdict


RFA_CODES = frozenset({"64633", "64634", "64635", "64636"})


async def handle_documented(engine: AsyncEngine, settings: Settings, event: ClaimDocumented) -> bool:
    """Record what the records say about a claim, then check it (and the patient's RFA claims) again."""
    async with engine.begin() as conn:
        if not await first_time(conn, processed_events, "auths.documentation", event.event_id):
            return False
        stmt = pg_insert(documentation).values(
            practice_id=event.practice_id, claim_id=event.claim_id, facts=event.facts.model_dump(mode="json")
        )
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[documentation.c.practice_id, documentation.c.claim_id],
                set_={"facts": stmt.excluded.facts, "updated_at": now_utc()},
            )
        )
        row = (
            await conn.execute(
                select(claims).where(
                    claims.c.practice_id == event.practice_id, claims.c.claim_id == event.claim_id
                )
            )
        ).first()
        if row is None:
            return True  # kept until the claim arrives
        documented = ClaimSubmitted.model_validate(row.claim)
        await check_limits(conn, settings, documented)
        waiting = await conn.execute(
            select(claims).where(
                claims.c.practice_id == event.practice_id,
                claims.c.member_id == row.member_id,
                claims.c.claim_id != event.claim_id,
            )
        )
        for other in waiting.all():
            claim = ClaimSubmitted.model_validate(other.claim)
            if any(line.procedure_code in RFA_CODES for line in claim.lines):
                await check_limits(conn, settings, claim)
    return True


async def handle_claim(engine: AsyncEngine, settings: Settings, claim: ClaimSubmitted) -> bool:
    async with engine.begin() as conn:
        if not await first_time(conn, processed_events, "auths.claims", claim.event_id):
            return False
        await check_limits(conn, settings, claim)
        stmt = pg_insert(claims).values(
            practice_id=claim.practice_id,
            payer_id=claim.payer_id,
            claim_id=claim.claim_id,
            member_id=claim.patient.member_id,
            revision=0,
            claim=claim.model_dump(mode="json"),
        )
        result = await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[claims.c.practice_id, claims.c.payer_id, claims.c.claim_id],
                set_={
                    "claim": stmt.excluded.claim,
                    "member_id": stmt.excluded.member_id,
                    "revision": claims.c.revision + 1,
                },
            ).returning(claims.c.revision)
        )
        await _evaluate(conn, settings, claim, result.scalar_one())
    return True


async def handle_auth(engine: AsyncEngine, settings: Settings, auth: AuthRecorded) -> bool:
    async with engine.begin() as conn:
        if not await first_time(conn, processed_events, "auths.records", auth.event_id):
            return False
        values = {
            "member_id": auth.member_id,
            "provider_npi": auth.provider_npi,
            "procedure_codes": list(auth.procedure_codes),
            "units_authorized": auth.units_authorized,
            "units_used": auth.units_used,
            "patient_last_name": auth.patient.last_name,
            "patient_first_name": auth.patient.first_name,
            "patient_birth_date": auth.patient_birth_date,
            "levels": list(auth.levels),
            "sides": list(auth.sides),
            "valid_from": auth.valid_from,
            "valid_to": auth.valid_to,
            "status": auth.status.value,
        }
        await conn.execute(
            auth_history.insert().values(
                practice_id=auth.practice_id,
                payer_id=auth.payer_id,
                auth_number=auth.auth_number,
                status=auth.status.value,
                valid_from=auth.valid_from,
                valid_to=auth.valid_to,
                units_authorized=auth.units_authorized,
                units_used=auth.units_used,
                source_event_id=auth.event_id,
            )
        )
        stmt = pg_insert(authorizations).values(
            practice_id=auth.practice_id, payer_id=auth.payer_id, auth_number=auth.auth_number, **values
        )
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[
                    authorizations.c.practice_id,
                    authorizations.c.payer_id,
                    authorizations.c.auth_number,
                ],
                set_=values,
            )
        )
        affected = await conn.execute(
            select(claims)
            .where(
                claims.c.practice_id == auth.practice_id,
                claims.c.payer_id == auth.payer_id,
                claims.c.member_id == auth.member_id,
            )
            .with_for_update()
        )
        for row in affected.all():
            revision = row.revision + 1
            await conn.execute(
                claims.update()
                .where(
                    claims.c.practice_id == row.practice_id,
                    claims.c.payer_id == row.payer_id,
                    claims.c.claim_id == row.claim_id,
                )
                .values(revision=revision)
            )
            await _evaluate(conn, settings, ClaimSubmitted.model_validate(row.claim), revision)
        waiting = await conn.execute(
            select(scheduled)
            .where(
                scheduled.c.practice_id == auth.practice_id,
                scheduled.c.payer_id == auth.payer_id,
                scheduled.c.member_id == auth.member_id,
            )
            .with_for_update()
        )
        for row in waiting.all():
            revision = row.revision + 1
            await conn.execute(
                scheduled.update()
                .where(scheduled.c.practice_id == row.practice_id, scheduled.c.schedule_id == row.schedule_id)
                .values(revision=revision)
            )
            await _evaluate_lines(
                conn, settings, _schedule_subject(ProcedureScheduled.model_validate(row.schedule)), revision
            )
    return True
