"""Auths service layer: keep the authorization ledger; re-check claim lines whenever either side changes."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.auths.adapters.orm import authorizations, claims, outbox, processed_events
from services.auths.domain.checks import Auth, LineToCheck, check_line
from shared.runtime.db import enqueue, first_time, outbox_row
from shared.runtime.settings import Settings
from shared.schemas import (
    AuthChecked,
    AuthRecorded,
    AuthStatus,
    ClaimSubmitted,
    Correlation,
    event_id_for,
    now_utc,
)
from shared.schemas import topics as t


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
        )
        for r in rows
    ]


async def _evaluate(conn: AsyncConnection, settings: Settings, claim: ClaimSubmitted, revision: int) -> None:
    auths = await _auths_for(conn, claim.practice_id, claim.payer_id, claim.patient.member_id)
    rows = []
    for line in claim.lines:
        verdict = check_line(
            LineToCheck(
                line.procedure_code,
                line.units,
                line.service_date,
                claim.rendering_npi,
                claim.prior_auth_number,
            ),
            auths,
        )
        check = AuthChecked(
            event_id=event_id_for(
                "auths.check",
                claim.practice_id,
                claim.payer_id,
                claim.claim_id,
                str(line.line_number),
                str(revision),
            ),
            occurred_at=now_utc(),
            practice_id=claim.practice_id,
            correlation=Correlation(file_id=claim.file_id, claim_key=claim.claim_id),
            claim_id=claim.claim_id,
            payer_id=claim.payer_id,
            line_number=line.line_number,
            procedure_code=line.procedure_code,
            service_date=line.service_date,
            rendering_npi=claim.rendering_npi,
            charge=line.charge,
            result=verdict.result,
            auth_number=verdict.auth_number,
            reason=verdict.reason,
            revision=revision,
        )
        rows.append(outbox_row(settings.topic(t.AUTHS_CHECKS), check))
    await enqueue(conn, outbox, rows)


async def handle_claim(engine: AsyncEngine, settings: Settings, claim: ClaimSubmitted) -> bool:
    async with engine.begin() as conn:
        if not await first_time(conn, processed_events, "auths.claims", claim.event_id):
            return False
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
            "valid_from": auth.valid_from,
            "valid_to": auth.valid_to,
            "status": auth.status.value,
        }
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
    return True
