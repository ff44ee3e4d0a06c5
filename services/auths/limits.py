"""Frequency limits and prerequisite chains for a submitted claim, across every practice the billing
company serves, with the other practices' details hidden from the practice whose claim is held.

Sessions are kept in `auths.sessions`. The same patient is recognised at another practice by member id,
date of birth and normalised name (`domain/patients.py`); whether other practices count at all is the
billing company's setting `CLAIMLINE_CROSS_PRACTICE_MATCHING`.

Without a diagnostic/therapeutic flag on the claim (the 837P does not carry one) a facet injection
counts as therapeutic.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from services.auths.adapters.orm import claims, sessions
from services.auths.domain.frequency import (
    FACET_CODES,
    Family,
    FrequencyCaps,
    Region,
    ServiceLine,
    Session,
    evaluate,
    sessions_from_lines,
)
from services.auths.domain.patients import PatientKey, match
from services.auths.domain.prerequisites import (
    Documentation,
    PrereqPolicy,
    StimulatorLine,
    check_rfa,
    check_scs,
)
from shared.schemas import ClaimSubmitted, DocumentationFacts, LimitFinding, SessionSeen


def _patient(claim: ClaimSubmitted) -> PatientKey:
    return PatientKey.from_person(claim.patient, claim.patient_birth_date)


def _purpose(code: str, facts: DocumentationFacts | None) -> bool | None:
    if code not in FACET_CODES:
        return None
    return facts is not None and facts.facet_purpose == "diagnostic"


def documentation(facts: DocumentationFacts | None) -> Documentation | None:
    if facts is None:
        return None
    return Documentation(
        block_relief_percent=dict(facts.block_relief_percent),
        block_interval_exception_documented=facts.block_interval_exception_documented,
        prior_rfa_improvement_percent=facts.prior_rfa_improvement_percent,
        prior_rfa_improvement_months=facts.prior_rfa_improvement_months,
        pain_duration_months=facts.pain_duration_months,
        conservative_care_documented=facts.conservative_care_documented,
        scs_trial_date=facts.scs_trial_date,
        trial_relief_percent=facts.trial_relief_percent,
        psych_evaluation_documented=facts.psych_evaluation_documented,
    )


def claim_sessions(claim: ClaimSubmitted, facts: DocumentationFacts | None = None) -> list[Session]:
    """Facet injections count as therapeutic unless the claim is documented as a diagnostic block."""
    lines = [
        ServiceLine(line.procedure_code, line.service_date, diagnostic=_purpose(line.procedure_code, facts))
        for line in claim.lines
        if line.service_date is not None
    ]
    return sessions_from_lines(_patient(claim), claim.practice_id, claim.claim_id, lines)


async def history_of(conn: AsyncConnection, claim: ClaimSubmitted, cross_practice: bool) -> list[Session]:
    """Every session on file of the same patient (at any practice when cross-practice matching is on)."""
    patient = _patient(claim)
    if patient.birth_date is None:
        stmt = select(sessions).where(
            sessions.c.practice_id == claim.practice_id, sessions.c.member_id == (patient.member_id or "")
        )
    else:
        stmt = select(sessions).where(sessions.c.birth_date == patient.birth_date)
    if not cross_practice:
        stmt = stmt.where(sessions.c.practice_id == claim.practice_id)
    found = []
    for r in await conn.execute(stmt.where(sessions.c.claim_id != claim.claim_id)):
        other = PatientKey(r.member_id, r.birth_date, r.last_name, r.first_name)
        if not match(patient, other).same:
            continue
        found.append(
            Session(
                other,
                r.practice_id,
                r.claim_id,
                r.service_date,
                Family(r.family),
                Region(r.region) if r.region else None,
                tuple(r.levels),
            )
        )
    return found


SCS_CODES = frozenset({"63650", "63655"})


async def stimulator_history(
    conn: AsyncConnection, claim: ClaimSubmitted, cross_practice: bool
) -> list[StimulatorLine]:
    """Stimulator trials and implants on file for the same patient (same member id, then matched)."""
    member = claim.patient.member_id
    if not member:
        return []
    stmt = select(claims.c.claim).where(claims.c.member_id == member, claims.c.claim_id != claim.claim_id)
    if not cross_practice:
        stmt = stmt.where(claims.c.practice_id == claim.practice_id)
    patient = _patient(claim)
    found = []
    for (raw,) in (await conn.execute(stmt)).all():
        other = ClaimSubmitted.model_validate(raw)
        if not match(patient, _patient(other)).same:
            continue
        for line in other.lines:
            if line.procedure_code in SCS_CODES and line.service_date is not None:
                found.append(
                    StimulatorLine(
                        _patient(other),
                        line.procedure_code,
                        line.service_date,
                        practice_id=other.practice_id,
                        claim_id=other.claim_id,
                    )
                )
    return found


async def keep(conn: AsyncConnection, claim: ClaimSubmitted, found: list[Session]) -> None:
    patient = _patient(claim)
    for s in found:
        values = {
            "practice_id": claim.practice_id,
            "claim_id": claim.claim_id,
            "service_date": s.service_date,
            "family": s.family.value,
            "region": s.region.value if s.region else "",
            "levels": list(s.levels),
            "member_id": patient.member_id or "",
            "birth_date": patient.birth_date,
            "last_name": patient.last_name,
            "first_name": patient.first_name,
        }
        stmt = pg_insert(sessions).values(**values)
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[
                    sessions.c.practice_id,
                    sessions.c.claim_id,
                    sessions.c.service_date,
                    sessions.c.family,
                    sessions.c.region,
                ],
                set_={"levels": stmt.excluded.levels, "member_id": stmt.excluded.member_id},
            )
        )


def _seen(s: Session, own_practice: str) -> SessionSeen:
    return SessionSeen(
        service_date=s.service_date,
        family=s.family.value,
        region=s.region.value if s.region else None,
        at_this_practice=s.practice_id == own_practice,
        claim_id=s.claim_id if s.practice_id == own_practice else None,
        practice_id=s.practice_id if s.practice_id == own_practice else None,
    )


def _seen_all(s: Session, own_practice: str) -> SessionSeen:
    return SessionSeen(
        service_date=s.service_date,
        family=s.family.value,
        region=s.region.value if s.region else None,
        at_this_practice=s.practice_id == own_practice,
        claim_id=s.claim_id,
        practice_id=s.practice_id,
    )


def _lines_of(claim: ClaimSubmitted, s: Session, facts: DocumentationFacts | None) -> tuple[int, ...]:
    from services.auths.domain.frequency import classify

    numbers = []
    for line in claim.lines:
        if line.service_date != s.service_date:
            continue
        kind = classify(line.procedure_code, diagnostic=_purpose(line.procedure_code, facts))
        if kind is not None and kind[0] is s.family and kind[1] == s.region:
            numbers.append(line.line_number)
    return tuple(numbers)


def findings_for(
    claim: ClaimSubmitted,
    history: list[Session],
    caps: FrequencyCaps,
    payer_type: str | None,
    policy: PrereqPolicy,
    facts: DocumentationFacts | None = None,
    stimulators: Sequence[StimulatorLine] = (),
) -> list[LimitFinding]:
    found: list[LimitFinding] = []
    for line in claim.lines:
        if line.procedure_code not in SCS_CODES or line.service_date is None:
            continue
        implant = StimulatorLine(
            _patient(claim),
            line.procedure_code,
            line.service_date,
            practice_id=claim.practice_id,
            claim_id=claim.claim_id,
        )
        for prereq in check_scs(implant, stimulators, documentation(facts), policy):
            found.append(
                LimitFinding(
                    kind="prerequisite",
                    line_numbers=(line.line_number,),
                    family="spinal_cord_stimulator",
                    message=prereq.message,
                    missing_documentation=prereq.missing_documentation,
                    finding=prereq.kind.value,
                    dates=prereq.dates,
                )
            )
    for session in claim_sessions(claim, facts):
        verdict = evaluate(session, history, caps.caps_for(claim.payer_id, payer_type))
        if verdict.over_cap or verdict.interval_violation is not None:
            found.append(
                LimitFinding(
                    kind="frequency",
                    line_numbers=_lines_of(claim, session, facts),
                    family=session.family.value,
                    region=session.region.value if session.region else None,
                    message=verdict.redacted_for({claim.practice_id}).message,
                    count_in_window=verdict.count_in_window,
                    cap=verdict.cap,
                    window_start=verdict.window_start,
                    window_end=verdict.window_end,
                    counted=tuple(_seen(s, claim.practice_id) for s in verdict.counted),
                    supervisor_only_counted=tuple(_seen_all(s, claim.practice_id) for s in verdict.counted),
                    source=verdict.source,
                )
            )
        if session.family is Family.RFA:
            for prereq in check_rfa(session, history, documentation(facts), policy):
                found.append(
                    LimitFinding(
                        kind="prerequisite",
                        line_numbers=_lines_of(claim, session, facts),
                        family=session.family.value,
                        region=session.region.value if session.region else None,
                        message=prereq.message,
                        missing_documentation=prereq.missing_documentation,
                        finding=prereq.kind.value,
                        dates=prereq.dates,
                    )
                )
    return found
