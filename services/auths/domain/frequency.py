"""How many sessions of a kind a patient has had in a spinal region over a rolling window, across practices.

Medicare's facet and epidural LCDs cap sessions per spinal region per rolling 12 months, per beneficiary
(domain.md 3.2, 3.4, 3.7): a session billed by another practice counts too. A session is every procedure
of one family in one region on one date of service. Regions: cervical/thoracic and lumbar/sacral.

Caps come from `services/auths/config/frequency_caps.yaml` (LCD defaults, overridable per payer, payer
type and MAC; docs/auths.md section 3). `evaluate` counts the history that counts against a new session;
`FrequencyVerdict.redacted_for` hides other practices' claim ids, practice ids and patient details
while keeping the count and dates, so a biller can be told "4 on file" without another client's claims.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.auths.domain.patients import PatientKey, match
from services.auths.domain.payer_rules import CONFIG_DIR, Selector, load_yaml_model

DEFAULT_CAPS_FILE = CONFIG_DIR / "frequency_caps.yaml"
DEFAULT_WINDOW_DAYS = 365
"""'Rolling 12 months': the LCDs do not define the day count; 365 days ending on (and including) the new
date of service (domain.md 3.7). Configurable per family in the caps file."""


class Family(StrEnum):
    DIAGNOSTIC_FACET = "diagnostic_facet"
    THERAPEUTIC_FACET = "therapeutic_facet"
    RFA = "rfa"
    EPIDURAL = "epidural"
    TRIGGER_POINT = "trigger_point"
    DEFINITIVE_DRUG_TEST = "definitive_drug_test"


class Region(StrEnum):
    CERVICAL_THORACIC = "cervical_thoracic"
    LUMBAR_SACRAL = "lumbar_sacral"


Side = Literal["left", "right", "bilateral"]

FAMILY_LABELS: Mapping[Family, str] = {
    Family.DIAGNOSTIC_FACET: "diagnostic facet",
    Family.THERAPEUTIC_FACET: "therapeutic facet",
    Family.RFA: "facet radiofrequency ablation",
    Family.EPIDURAL: "epidural steroid injection",
    Family.TRIGGER_POINT: "trigger point injection",
    Family.DEFINITIVE_DRUG_TEST: "definitive drug test",
}
REGION_LABELS: Mapping[Region, str] = {
    Region.CERVICAL_THORACIC: "cervical/thoracic",
    Region.LUMBAR_SACRAL: "lumbar/sacral",
}

_C, _L = Region.CERVICAL_THORACIC, Region.LUMBAR_SACRAL
FACET_CODES: Mapping[str, Region] = {
    "64490": _C,
    "64491": _C,
    "64492": _C,
    "64493": _L,
    "64494": _L,
    "64495": _L,
}
"""Facet joint injection / medial branch block; diagnostic or therapeutic by the claim's flag."""
CODE_FAMILIES: Mapping[str, tuple[Family, Region | None]] = {
    "64633": (Family.RFA, _C),
    "64634": (Family.RFA, _C),
    "64635": (Family.RFA, _L),
    "64636": (Family.RFA, _L),
    "62321": (Family.EPIDURAL, _C),
    "62323": (Family.EPIDURAL, _L),
    "64479": (Family.EPIDURAL, _C),
    "64480": (Family.EPIDURAL, _C),
    "64483": (Family.EPIDURAL, _L),
    "64484": (Family.EPIDURAL, _L),
    "20552": (Family.TRIGGER_POINT, None),
    "20553": (Family.TRIGGER_POINT, None),
    "G0480": (Family.DEFINITIVE_DRUG_TEST, None),
    "G0481": (Family.DEFINITIVE_DRUG_TEST, None),
    "G0482": (Family.DEFINITIVE_DRUG_TEST, None),
    "G0483": (Family.DEFINITIVE_DRUG_TEST, None),
    "G0659": (Family.DEFINITIVE_DRUG_TEST, None),
}
"""Every other tracked code: family and region (None: not a spinal procedure). G0659 (definitive drug
testing, not drug-class specific) is in the same one-definitive-test-a-day rule as G0480-G0483
(domain.md 3.5)."""


def classify(code: str, *, diagnostic: bool | None = None) -> tuple[Family, Region | None] | None:
    """Family and region of a procedure code, or None when no frequency limit tracks it.

    Facet injection codes need the claim's flag: diagnostic (True) or therapeutic (False); ValueError
    without it."""
    code = code.strip().upper()
    if code in FACET_CODES:
        if diagnostic is None:
            raise ValueError(f"{code} is a facet injection: say whether it is diagnostic or therapeutic")
        return (Family.DIAGNOSTIC_FACET if diagnostic else Family.THERAPEUTIC_FACET), FACET_CODES[code]
    return CODE_FAMILIES.get(code)


# ---------------------------------------------------------------- sites (levels and sides)

_LEVEL = re.compile(r"^([CTLS])(\d{1,2})(?:[-/]([CTLS])?(\d{1,2}))?$")


def normalize_level(text: str) -> str:
    """`l4-5`, `L4/L5`, `L4 - L5` -> `L4-L5`; `l5-s1` -> `L5-S1`; `L4` -> `L4`; anything else in capitals."""
    squeezed = re.sub(r"\s+", "", text.upper())
    found = _LEVEL.match(squeezed)
    if not found:
        return squeezed
    first = f"{found.group(1)}{int(found.group(2))}"
    if found.group(4) is None:
        return first
    return f"{first}-{found.group(3) or found.group(1)}{int(found.group(4))}"


_SIDES: Mapping[str, Side] = {
    "LEFT": "left",
    "LT": "left",
    "L": "left",
    "RIGHT": "right",
    "RT": "right",
    "R": "right",
    "BILATERAL": "bilateral",
    "BILAT": "bilateral",
    "BOTH": "bilateral",
    "B": "bilateral",
    "50": "bilateral",
}


def normalize_side(text: str) -> Side | None:
    """`LT`, `left` -> left; `RT` -> right; `50`, `bilateral`, `B` -> bilateral; None if unrecognized."""
    return _SIDES.get(re.sub(r"[^A-Z0-9]", "", text.upper()))


def _sides_overlap(a: Side | None, b: Side | None) -> bool:
    return a is None or b is None or a == b or "bilateral" in (a, b)


def _levels_overlap(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    return not a or not b or bool(set(a) & set(b))


# ---------------------------------------------------------------- sessions


@dataclass(frozen=True)
class Session:
    """All procedures of one family in one region on one date of service, for one patient.

    `levels` are spinal levels (`L4-L5`) when known; `side` when known. `patient`, `practice_id` and
    `claim_id` are None only in a redacted copy (`redacted` True)."""

    patient: PatientKey | None
    practice_id: str | None
    claim_id: str | None
    service_date: date
    family: Family
    region: Region | None
    levels: tuple[str, ...] = ()
    side: Side | None = None
    redacted: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "levels", tuple(dict.fromkeys(normalize_level(v) for v in self.levels)))

    def same_site(self, other: Session) -> bool:
        """Same region and, where both say, an overlapping level and side."""
        return (
            self.region == other.region
            and _levels_overlap(self.levels, other.levels)
            and _sides_overlap(self.side, other.side)
        )


@dataclass(frozen=True)
class ServiceLine:
    """A claim line as the session builder needs it. `diagnostic` is the claim's flag for facet lines."""

    procedure_code: str
    service_date: date
    diagnostic: bool | None = None
    levels: tuple[str, ...] = ()
    side: Side | None = None


def sessions_from_lines(
    patient: PatientKey, practice_id: str, claim_id: str, lines: Iterable[ServiceLine]
) -> list[Session]:
    """One session per (date, family, region) of a claim's tracked lines; untracked codes are skipped.
    Levels are merged; the side is kept when every line agrees, else bilateral."""
    grouped: dict[tuple[date, Family, Region | None], list[ServiceLine]] = {}
    for line in lines:
        kind = classify(line.procedure_code, diagnostic=line.diagnostic)
        if kind is not None:
            grouped.setdefault((line.service_date, *kind), []).append(line)
    sessions = []
    for (day, family, region), group in grouped.items():
        sides = {ln.side for ln in group}
        side: Side | None = sides.pop() if len(sides) == 1 else ("bilateral" if None not in sides else None)
        levels = tuple(level for ln in group for level in ln.levels)
        sessions.append(Session(patient, practice_id, claim_id, day, family, region, levels, side))
    return sorted(sessions, key=lambda s: (s.service_date, s.family.value, s.region or ""))


# ---------------------------------------------------------------- caps


@dataclass(frozen=True)
class Limit:
    sessions: int | None
    """Most sessions in the window, the new one included; None: counted, never over."""
    window_days: int = DEFAULT_WINDOW_DAYS
    min_interval_days: int | None = None
    source: str = "no cap configured"


@dataclass(frozen=True)
class Caps:
    """The limits that apply to one payer (and MAC), by family."""

    limits: Mapping[Family, Limit] = field(default_factory=dict)

    def limit(self, family: Family) -> Limit:
        return self.limits.get(family, Limit(None))


class LimitSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sessions: int | None = Field(None, ge=1, le=365)
    window_days: int = Field(DEFAULT_WINDOW_DAYS, ge=1, le=3650)
    min_interval_days: int | None = Field(None, ge=1, le=3650)
    source: str | None = None


class CapsProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    when: Selector = Selector()
    caps: dict[Family, LimitSpec]


class FrequencyCapsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(ge=1, le=1)
    defaults: CapsProfile
    overrides: tuple[CapsProfile, ...] = ()

    @field_validator("overrides", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return () if value is None else value

    @field_validator("defaults")
    @classmethod
    def _defaults_for_everyone(cls, value: CapsProfile) -> CapsProfile:
        if value.when != Selector():
            raise ValueError("the defaults apply to every payer: move `when` to an override")
        return value


class FrequencyCaps:
    """The caps file: LCD defaults, then every override whose `when` selects the payer, in file order (a
    later override replaces an earlier one's limit for the families it names)."""

    def __init__(self, spec: FrequencyCapsFile) -> None:
        self.spec = spec

    def caps_for(
        self, payer_id: str | None = None, payer_type: str | None = None, mac: str | None = None
    ) -> Caps:
        limits: dict[Family, Limit] = {}
        for profile in (self.spec.defaults, *self.spec.overrides):
            if profile is self.spec.defaults or profile.when.selects(payer_id, payer_type, mac):
                for family, spec in profile.caps.items():
                    limits[family] = Limit(
                        spec.sessions, spec.window_days, spec.min_interval_days, spec.source or profile.name
                    )
        return Caps(limits)


def load_frequency_caps(path: Path = DEFAULT_CAPS_FILE) -> FrequencyCaps:
    spec, _ = load_yaml_model(path, FrequencyCapsFile, "frequency caps file")
    return FrequencyCaps(spec)


@lru_cache(maxsize=1)
def default_frequency_caps() -> FrequencyCaps:
    return load_frequency_caps(DEFAULT_CAPS_FILE)


# ---------------------------------------------------------------- verdicts


@dataclass(frozen=True)
class IntervalViolation:
    other_date: date
    days_apart: int
    minimum_days: int


@dataclass(frozen=True)
class FrequencyVerdict:
    over_cap: bool
    count_in_window: int
    """Sessions on file in the window, not counting the one evaluated."""
    cap: int | None
    window_start: date
    window_end: date
    counted: tuple[Session, ...]
    """The history that counts against the session, oldest first, each with its practice id."""
    interval_violation: IntervalViolation | None
    message: str
    family: Family
    region: Region | None
    source: str

    def redacted_for(self, practice_ids: set[str] | None) -> FrequencyVerdict:
        """A copy for a viewer who may see `practice_ids` (None: a supervisor, who sees everything).

        Counts, dates, family, region, levels and side stay; the claim id, practice id and patient details
        of a session of any other practice are removed. The message never names claims or practices."""
        if practice_ids is None:
            return self
        return replace(
            self,
            counted=tuple(
                s
                if s.practice_id is not None and s.practice_id in practice_ids
                else replace(s, patient=None, practice_id=None, claim_id=None, redacted=True)
                for s in self.counted
            ),
        )


def evaluate(session: Session, history: Sequence[Session], caps: Caps) -> FrequencyVerdict:
    """Whether `session` goes over its family's cap in its region, counting `history` (any practice's
    sessions: only the same patient's, same family and region, in the window ending on its date count)."""
    patient = session.patient
    if patient is None:
        raise ValueError("cannot evaluate a redacted session: it has no patient")
    limit = caps.limit(session.family)
    window_end = session.service_date
    window_start = window_end - timedelta(days=limit.window_days - 1)

    def identity(s: Session) -> tuple[str | None, str | None, date, Family, Region | None]:
        return (s.practice_id, s.claim_id, s.service_date, s.family, s.region)

    own = identity(session)
    relevant: list[Session] = []
    seen = {own}
    for other in history:
        key = identity(other)
        if other.family != session.family or other.region != session.region or key in seen:
            continue
        if other.patient is None or not match(patient, other.patient).same:
            continue
        seen.add(key)
        relevant.append(other)

    counted = tuple(
        sorted(
            (s for s in relevant if window_start <= s.service_date <= window_end),
            key=lambda s: (s.service_date, s.practice_id or "", s.claim_id or ""),
        )
    )
    count = len(counted)
    over = limit.sessions is not None and count + 1 > limit.sessions
    violation = _interval_violation(session, relevant, limit)
    return FrequencyVerdict(
        over_cap=over,
        count_in_window=count,
        cap=limit.sessions,
        window_start=window_start,
        window_end=window_end,
        counted=counted,
        interval_violation=violation,
        message=_message(session, counted, limit, over, violation, window_start, window_end),
        family=session.family,
        region=session.region,
        source=limit.source,
    )


def _interval_violation(
    session: Session, others: Sequence[Session], limit: Limit
) -> IntervalViolation | None:
    minimum = limit.min_interval_days
    if minimum is None:
        return None
    close = [
        (abs((session.service_date - s.service_date).days), s.service_date)
        for s in others
        if session.same_site(s) and abs((session.service_date - s.service_date).days) < minimum
    ]
    if not close:
        return None
    days, other_date = min(close)
    return IntervalViolation(other_date, days, minimum)


def _message(
    session: Session,
    counted: Sequence[Session],
    limit: Limit,
    over: bool,
    violation: IntervalViolation | None,
    start: date,
    end: date,
) -> str:
    kind = FAMILY_LABELS[session.family]
    where = f" in the {REGION_LABELS[session.region]} region" if session.region else ""
    window = f"the {limit.window_days} days {start.isoformat()} to {end.isoformat()}"
    nth = len(counted) + 1
    if limit.sessions is None:
        text = f"{kind.capitalize()} session {nth}{where} in {window}; no cap is configured ({limit.source})."
    elif over:
        text = (
            f"Over the cap: this would be {kind} session {nth}{where} in {window}; {limit.source} allows "
            f"{limit.sessions}."
        )
    else:
        allowed = f"{nth} of {limit.sessions} allowed"
        text = f"{kind.capitalize()} session {allowed}{where} in {window} ({limit.source})."
    if counted:
        elsewhere = sum(1 for s in counted if s.practice_id != session.practice_id)
        dates = ", ".join(s.service_date.isoformat() for s in counted)
        also = f"; {elsewhere} of them at another practice" if elsewhere else ""
        text += f" On file: {dates}{also}."
    if violation is not None:
        text += (
            f" Only {violation.days_apart} days from the session on {violation.other_date.isoformat()} "
            f"at the same site; at least {violation.minimum_days} days are required ({limit.source})."
        )
    return text
