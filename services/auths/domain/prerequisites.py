"""What must be on file before an RFA or a spinal cord stimulator claim goes out (domain.md 3.2-3.7).

RFA (64633-64636): two diagnostic medial branch blocks at the same level and region, the second at least
14 days after the first, each with >= 80 % relief (facet LCD L38773); a repeat RFA at a site already
ablated needs >= 50 % improvement for >= 6 months after the earlier one instead. Permanent stimulator
(63655, or 63650 flagged permanent): a trial (63650) with >= 50 % relief (NCD 160.7, OPD PA). Both need
documented pain duration (>= 3 months), failed conservative care, and for stimulators a psychological
evaluation. Thresholds per payer in `services/auths/config/prerequisites.yaml`.

Missing documentation is its own finding, never reported as "insufficient relief": the biller's next
step differs (ask the practice for the note, versus hold a claim that will not be covered).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.auths.domain.frequency import Family, Session
from services.auths.domain.patients import PatientKey, match
from services.auths.domain.payer_rules import CONFIG_DIR, Selector, load_yaml_model

DEFAULT_PREREQUISITES_FILE = CONFIG_DIR / "prerequisites.yaml"

SCS_TRIAL_CODE = "63650"
SCS_PERMANENT_CODE = "63655"


class FindingKind(StrEnum):
    MISSING_DIAGNOSTIC_BLOCKS = "missing_diagnostic_blocks"
    BLOCK_INTERVAL_TOO_SHORT = "block_interval_too_short"
    BLOCK_RELIEF_NOT_DOCUMENTED = "block_relief_not_documented"
    INSUFFICIENT_BLOCK_RELIEF = "insufficient_block_relief"
    BLOCK_AT_OTHER_SITE = "block_at_other_site"
    REPEAT_RFA_RELIEF_NOT_DOCUMENTED = "repeat_rfa_relief_not_documented"
    INSUFFICIENT_REPEAT_RFA_RELIEF = "insufficient_repeat_rfa_relief"
    MISSING_SCS_TRIAL = "missing_scs_trial"
    TRIAL_RELIEF_NOT_DOCUMENTED = "trial_relief_not_documented"
    INSUFFICIENT_TRIAL_RELIEF = "insufficient_trial_relief"
    PAIN_DURATION_NOT_DOCUMENTED = "pain_duration_not_documented"
    PAIN_DURATION_TOO_SHORT = "pain_duration_too_short"
    CONSERVATIVE_CARE_NOT_DOCUMENTED = "conservative_care_not_documented"
    PSYCH_EVALUATION_NOT_DOCUMENTED = "psych_evaluation_not_documented"


NOT_DOCUMENTED = frozenset(
    {
        FindingKind.BLOCK_RELIEF_NOT_DOCUMENTED,
        FindingKind.REPEAT_RFA_RELIEF_NOT_DOCUMENTED,
        FindingKind.TRIAL_RELIEF_NOT_DOCUMENTED,
        FindingKind.PAIN_DURATION_NOT_DOCUMENTED,
        FindingKind.CONSERVATIVE_CARE_NOT_DOCUMENTED,
        FindingKind.PSYCH_EVALUATION_NOT_DOCUMENTED,
    }
)
"""Findings that ask for documentation (as opposed to a clinical criterion that is not met)."""


@dataclass(frozen=True)
class PrereqFinding:
    kind: FindingKind
    message: str
    dates: tuple[date, ...] = ()

    @property
    def missing_documentation(self) -> bool:
        return self.kind in NOT_DOCUMENTED


Percent = Decimal | int


@dataclass(frozen=True)
class Documentation:
    """What the practice's records say. Absent facts stay None/False and are findings of their own.

    `block_relief_percent` maps a diagnostic block's date of service to the relief it gave (percent);
    `scs_trial_date` records a trial known from records when no trial claim is on file."""

    block_relief_percent: Mapping[date, Percent] = field(default_factory=dict)
    block_interval_exception_documented: bool = False
    prior_rfa_improvement_percent: Percent | None = None
    prior_rfa_improvement_months: Percent | None = None
    pain_duration_months: Percent | None = None
    conservative_care_documented: bool = False
    scs_trial_date: date | None = None
    trial_relief_percent: Percent | None = None
    psych_evaluation_documented: bool = False


@dataclass(frozen=True)
class PrereqPolicy:
    """Thresholds; the defaults are Medicare's (facet LCD L38773, NCD 160.7 / OPD PA)."""

    name: str = "Medicare LCD defaults"
    block_relief_percent: Decimal = Decimal(80)
    blocks_required: int = 2
    min_days_between_blocks: int = 14
    repeat_rfa_improvement_percent: Decimal = Decimal(50)
    repeat_rfa_improvement_months: Decimal = Decimal(6)
    scs_trial_relief_percent: Decimal = Decimal(50)
    min_pain_months: Decimal = Decimal(3)
    require_conservative_care: bool = True
    require_psych_evaluation: bool = True


DEFAULT_POLICY = PrereqPolicy()


# ---------------------------------------------------------------- RFA


def check_rfa(
    line: Session,
    history: Sequence[Session],
    docs: Documentation | None,
    policy: PrereqPolicy = DEFAULT_POLICY,
) -> list[PrereqFinding]:
    """What is missing before the RFA session `line` can be billed; empty when nothing is.

    `history` is the patient's sessions at any practice (diagnostic facet blocks and earlier RFAs count;
    other families are ignored), matched to the line's patient by patients.match."""
    if line.family is not Family.RFA:
        raise ValueError(f"check_rfa needs an RFA session, got {line.family.value}")
    docs = docs or Documentation()
    earlier = _same_patient_before(line, history)
    prior_rfas = [s for s in earlier if s.family is Family.RFA and s.same_site(line)]
    findings = (
        _repeat_rfa(prior_rfas, docs, policy) if prior_rfas else _block_series(line, earlier, docs, policy)
    )
    return findings + _pain_and_care(docs, policy, "RFA")


def _same_patient_before(line: Session, history: Sequence[Session]) -> list[Session]:
    if line.patient is None:
        raise ValueError("cannot check a redacted session: it has no patient")
    patient = line.patient
    return sorted(
        (
            s
            for s in history
            if s.service_date < line.service_date
            and s.region == line.region
            and s.patient is not None
            and match(patient, s.patient).same
        ),
        key=lambda s: s.service_date,
    )


def _covers(block: Session, target: Session) -> bool:
    """The block tested every level and side the RFA treats (unknown levels or sides do not disqualify)."""
    levels_ok = not block.levels or not target.levels or set(target.levels) <= set(block.levels)
    sides_ok = (
        block.side is None or target.side is None or block.side == "bilateral" or block.side == target.side
    )
    return levels_ok and sides_ok


def _block_series(
    line: Session, earlier: Sequence[Session], docs: Documentation, policy: PrereqPolicy
) -> list[PrereqFinding]:
    blocks = [s for s in earlier if s.family is Family.DIAGNOSTIC_FACET]
    elsewhere = [s for s in blocks if not _covers(s, line)]
    usable = [s for s in blocks if _covers(s, line)]
    pct = _num(policy.block_relief_percent)
    gap = 0 if docs.block_interval_exception_documented else policy.min_days_between_blocks

    side_findings: list[PrereqFinding] = []
    qualifying: list[date] = []
    for day in sorted({s.service_date for s in usable}):
        relief = docs.block_relief_percent.get(day)
        if relief is None:
            side_findings.append(
                PrereqFinding(
                    FindingKind.BLOCK_RELIEF_NOT_DOCUMENTED,
                    f"diagnostic block on {day.isoformat()}: the relief it gave is not documented "
                    f"(record the percent relief of the index pain from the post-block assessment)",
                    (day,),
                )
            )
        elif Decimal(relief) < policy.block_relief_percent:
            side_findings.append(
                PrereqFinding(
                    FindingKind.INSUFFICIENT_BLOCK_RELIEF,
                    f"diagnostic block on {day.isoformat()}: {_num(Decimal(relief))}% relief documented, "
                    f"below the {pct}% a qualifying block needs",
                    (day,),
                )
            )
        else:
            qualifying.append(day)

    chain: list[date] = []
    for day in qualifying:
        if not chain or (day - chain[-1]).days >= gap:
            chain.append(day)
        elif len(chain) < policy.blocks_required:
            apart = (day - chain[-1]).days
            side_findings.append(
                PrereqFinding(
                    FindingKind.BLOCK_INTERVAL_TOO_SHORT,
                    f"diagnostic blocks on {chain[-1].isoformat()} and {day.isoformat()} are {apart} days "
                    f"apart; the confirmatory block must be at least {gap} days after the first "
                    f"({(chain[-1] + timedelta(days=gap)).isoformat()} or later)",
                    (chain[-1], day),
                )
            )
    if len(chain) >= policy.blocks_required:
        return []

    findings = [_missing_blocks(chain, policy, gap)]
    if elsewhere:
        where = ", ".join(f"{s.service_date.isoformat()} ({_site(s)})" for s in elsewhere)
        findings.append(
            PrereqFinding(
                FindingKind.BLOCK_AT_OTHER_SITE,
                f"diagnostic blocks at another level or side than the RFA ({_site(line)}) do not count: "
                f"{where}",
                tuple(s.service_date for s in elsewhere),
            )
        )
    return findings + side_findings


_COUNT_WORDS = ("no", "one", "two", "three", "four", "five")
_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth")


def _missing_blocks(chain: Sequence[date], policy: PrereqPolicy, gap: int) -> PrereqFinding:
    pct = _num(policy.block_relief_percent)
    need = policy.blocks_required
    have = len(chain)
    if have == 0:
        if need == 1:
            what = f"a diagnostic medial branch block with >= {pct}% relief is needed"
        else:
            what = (
                f"{need} diagnostic medial branch blocks at the same level, at least {gap} days apart, "
                f"each with >= {pct}% relief, are needed"
            )
        return PrereqFinding(
            FindingKind.MISSING_DIAGNOSTIC_BLOCKS, f"no qualifying diagnostic block on file; {what}"
        )
    count = _COUNT_WORDS[have] if have < len(_COUNT_WORDS) else str(have)
    plural = "s" if have > 1 else ""
    last = chain[-1].isoformat()
    if need - have == 1:
        nth = _ORDINALS[have] if have < len(_ORDINALS) else f"{have + 1}th"
        what = f"a {nth}, at least {gap} days after {last}, with >= {pct}% relief is needed"
    else:
        what = (
            f"{need - have} more, the next at least {gap} days after {last} and each at least {gap} days "
            f"after the one before, with >= {pct}% relief each, are needed"
        )
    return PrereqFinding(
        FindingKind.MISSING_DIAGNOSTIC_BLOCKS,
        f"{count} qualifying diagnostic block{plural} on file; {what}",
        tuple(chain),
    )


def _repeat_rfa(prior: Sequence[Session], docs: Documentation, policy: PrereqPolicy) -> list[PrereqFinding]:
    last = prior[-1].service_date
    pct, months = _num(policy.repeat_rfa_improvement_percent), _num(policy.repeat_rfa_improvement_months)
    wanted = f">= {pct}% improvement lasting >= {months} months"
    got_pct, got_months = docs.prior_rfa_improvement_percent, docs.prior_rfa_improvement_months
    if got_pct is None or got_months is None:
        return [
            PrereqFinding(
                FindingKind.REPEAT_RFA_RELIEF_NOT_DOCUMENTED,
                f"repeat RFA at the site ablated on {last.isoformat()}: the improvement after that RFA "
                f"(percent and how many months it lasted) is not documented; {wanted} is needed",
                (last,),
            )
        ]
    if Decimal(got_pct) < policy.repeat_rfa_improvement_percent or (
        Decimal(got_months) < policy.repeat_rfa_improvement_months
    ):
        return [
            PrereqFinding(
                FindingKind.INSUFFICIENT_REPEAT_RFA_RELIEF,
                f"repeat RFA at the site ablated on {last.isoformat()}: {_num(Decimal(got_pct))}% "
                f"improvement for {_num(Decimal(got_months))} months documented; {wanted} is needed",
                (last,),
            )
        ]
    return []


# ---------------------------------------------------------------- spinal cord stimulator


@dataclass(frozen=True)
class StimulatorLine:
    """A 63650 line (percutaneous electrodes: a trial unless flagged permanent) or a 63655 line (paddle
    electrode: always permanent)."""

    patient: PatientKey | None
    procedure_code: str
    service_date: date
    permanent: bool | None = None
    practice_id: str | None = None
    claim_id: str | None = None

    @property
    def is_permanent(self) -> bool:
        if self.permanent is not None:
            return self.permanent
        return self.procedure_code.strip().upper() == SCS_PERMANENT_CODE


def check_scs(
    line: StimulatorLine,
    history: Sequence[StimulatorLine],
    docs: Documentation | None,
    policy: PrereqPolicy = DEFAULT_POLICY,
) -> list[PrereqFinding]:
    """What is missing before a stimulator line can be billed: for a permanent implant, a trial with the
    payer's relief threshold; for trial and implant, pain duration, conservative care, psych evaluation."""
    code = line.procedure_code.strip().upper()
    if code not in (SCS_TRIAL_CODE, SCS_PERMANENT_CODE):
        raise ValueError(f"check_scs needs a 63650 or 63655 line, got {code}")
    if line.patient is None:
        raise ValueError("cannot check a line without a patient")
    docs = docs or Documentation()
    findings: list[PrereqFinding] = []
    if line.is_permanent:
        findings += _trial(line, line.patient, history, docs, policy)
    findings += _pain_and_care(docs, policy, "stimulator")
    if policy.require_psych_evaluation and not docs.psych_evaluation_documented:
        findings.append(
            PrereqFinding(
                FindingKind.PSYCH_EVALUATION_NOT_DOCUMENTED,
                "the psychological evaluation before stimulator placement is not documented",
            )
        )
    return findings


def _trial(
    line: StimulatorLine,
    patient: PatientKey,
    history: Sequence[StimulatorLine],
    docs: Documentation,
    policy: PrereqPolicy,
) -> list[PrereqFinding]:
    trials = sorted(
        h.service_date
        for h in history
        if h.procedure_code.strip().upper() == SCS_TRIAL_CODE
        and not h.is_permanent
        and h.service_date < line.service_date
        and h.patient is not None
        and match(patient, h.patient).same
    )
    if docs.scs_trial_date is not None and docs.scs_trial_date < line.service_date:
        trials.append(docs.scs_trial_date)
    pct = _num(policy.scs_trial_relief_percent)
    if not trials:
        return [
            PrereqFinding(
                FindingKind.MISSING_SCS_TRIAL,
                f"no stimulator trial (63650) on file before {line.service_date.isoformat()}; a permanent "
                f"implant needs a trial with >= {pct}% relief",
            )
        ]
    last = max(trials)
    if docs.trial_relief_percent is None:
        return [
            PrereqFinding(
                FindingKind.TRIAL_RELIEF_NOT_DOCUMENTED,
                f"stimulator trial on {last.isoformat()}: the relief it gave is not documented; >= {pct}% "
                f"reduction of pain (or of analgesic use) is needed",
                (last,),
            )
        ]
    if Decimal(docs.trial_relief_percent) < policy.scs_trial_relief_percent:
        return [
            PrereqFinding(
                FindingKind.INSUFFICIENT_TRIAL_RELIEF,
                f"stimulator trial on {last.isoformat()}: {_num(Decimal(docs.trial_relief_percent))}% relief "
                f"documented, below the {pct}% a permanent implant needs",
                (last,),
            )
        ]
    return []


# ---------------------------------------------------------------- both


def _pain_and_care(docs: Documentation, policy: PrereqPolicy, what: str) -> list[PrereqFinding]:
    findings = []
    months = _num(policy.min_pain_months)
    if docs.pain_duration_months is None:
        findings.append(
            PrereqFinding(
                FindingKind.PAIN_DURATION_NOT_DOCUMENTED,
                f"how long the pain has lasted is not documented; {what} needs >= {months} months",
            )
        )
    elif Decimal(docs.pain_duration_months) < policy.min_pain_months:
        findings.append(
            PrereqFinding(
                FindingKind.PAIN_DURATION_TOO_SHORT,
                f"pain documented for {_num(Decimal(docs.pain_duration_months))} months; {what} needs >= "
                f"{months} months",
            )
        )
    if policy.require_conservative_care and not docs.conservative_care_documented:
        findings.append(
            PrereqFinding(
                FindingKind.CONSERVATIVE_CARE_NOT_DOCUMENTED,
                f"failed conservative care (as tolerated) before {what} is not documented",
            )
        )
    return findings


def _site(s: Session) -> str:
    parts = [", ".join(s.levels) if s.levels else "levels not given"]
    if s.side:
        parts.append(s.side)
    return " ".join(parts)


def _num(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    return text


# ---------------------------------------------------------------- policy file


def _no_float(value: Any) -> Any:
    return str(value) if isinstance(value, float | int) and not isinstance(value, bool) else value


class PolicyOverride(BaseModel):
    """Any subset of the policy's thresholds, for the payers `when` selects."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    when: Selector = Selector()
    block_relief_percent: Decimal | None = Field(None, ge=0, le=100)
    blocks_required: int | None = Field(None, ge=1, le=5)
    min_days_between_blocks: int | None = Field(None, ge=0, le=365)
    repeat_rfa_improvement_percent: Decimal | None = Field(None, ge=0, le=100)
    repeat_rfa_improvement_months: Decimal | None = Field(None, ge=0, le=120)
    scs_trial_relief_percent: Decimal | None = Field(None, ge=0, le=100)
    min_pain_months: Decimal | None = Field(None, ge=0, le=120)
    require_conservative_care: bool | None = None
    require_psych_evaluation: bool | None = None

    @field_validator(
        "block_relief_percent",
        "repeat_rfa_improvement_percent",
        "repeat_rfa_improvement_months",
        "scs_trial_relief_percent",
        "min_pain_months",
        mode="before",
    )
    @classmethod
    def _exact(cls, value: Any) -> Any:
        return _no_float(value)

    def apply(self, policy: PrereqPolicy) -> PrereqPolicy:
        changes = {k: v for k, v in self.model_dump(exclude={"name", "when"}).items() if v is not None}
        return replace(policy, **changes)


class PrerequisitesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(ge=1, le=1)
    defaults: PolicyOverride
    overrides: tuple[PolicyOverride, ...] = ()

    @field_validator("overrides", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return () if value is None else value

    @field_validator("defaults")
    @classmethod
    def _defaults_for_everyone(cls, value: PolicyOverride) -> PolicyOverride:
        if value.when != Selector():
            raise ValueError("the defaults apply to every payer: move `when` to an override")
        return value


class PrerequisitePolicies:
    """The defaults, then every override that selects the payer, in file order."""

    def __init__(self, spec: PrerequisitesFile) -> None:
        self.spec = spec
        self.defaults = spec.defaults.apply(replace(DEFAULT_POLICY, name=spec.defaults.name))

    def policy_for(
        self, payer_id: str | None = None, payer_type: str | None = None, mac: str | None = None
    ) -> PrereqPolicy:
        policy = self.defaults
        for override in self.spec.overrides:
            if override.when.selects(payer_id, payer_type, mac):
                policy = replace(override.apply(policy), name=f"{policy.name} + {override.name}")
        return policy


def load_prerequisites(path: Path = DEFAULT_PREREQUISITES_FILE) -> PrerequisitePolicies:
    spec, _ = load_yaml_model(path, PrerequisitesFile, "prerequisites file")
    return PrerequisitePolicies(spec)


@lru_cache(maxsize=1)
def default_prerequisites() -> PrerequisitePolicies:
    return load_prerequisites(DEFAULT_PREREQUISITES_FILE)
