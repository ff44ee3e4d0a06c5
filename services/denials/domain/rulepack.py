"""The pain coding rule pack: modifier, unit and bundling errors caught before submission, and denials
explained after adjudication by the rule the line broke.

Rules are data: YAML files under `services/denials/config/rules/` (or another directory or file). Each
rule names its codes and modifiers, one condition kind implemented here and parameterised in YAML, a
severity (hold or warn), a plain-English message and fix, a citation, the CARCs it can explain, and
overrides by payer id, payer type and place of service. Where public sources disagree, a named policy
carries every choice, its default and why; rules that belong to one choice say so. The files are
validated when loaded: a mistake refuses the whole pack with the file, the line and the problem.

`scrub` checks one claim; `explain_denial` names the rule behind a denied line. NCCI PTP and MUE tables
(services/denials/domain/ncci.py) are attached to a pack with `RulePack.with_tables`.
"""

from __future__ import annotations

import string
from abc import abstractmethod
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from math import ceil
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Protocol

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from services.denials.domain.ncci import MueTable, PtpTable
from services.denials.domain.routing import PAYER_TYPES
from shared.runtime.yaml_config import YamlFileError, line_of, read_yaml_mapping, validation_problems
from shared.schemas import ClaimSubmitted, LineBrief, RemitServiceLine

if TYPE_CHECKING:
    from services.ingest.domain.claim837 import SubmittedClaim

DEFAULT_RULES_DIR = Path(__file__).resolve().parents[1] / "config" / "rules"

Severity = Literal["hold", "warn"]
PURPOSE_FLAGS = ("diagnostic", "therapeutic")
"""Claim flags that say why a facet or nerve-root injection was done; the 837P does not carry them."""

_MAX_LISTED_ERRORS = 25


class RulePackError(ValueError):
    """The rule pack is wrong; the message names every file, line and problem found."""


# ---------------------------------------------------------------- value types


def _code_text(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        text = str(value)
        if len(text) != 5:
            raise ValueError(
                f"{value} is not a 5-character code; quote codes that start with 0 (YAML reads 00100 as 64)"
            )
        return text
    return value.strip().upper() if isinstance(value, str) else value


def _modifier_text(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:02d}"
    return value.strip().upper() if isinstance(value, str) else value


def _carc_text(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value.strip().upper() if isinstance(value, str) else value


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str | int) and not isinstance(value, bool) else value


Code = Annotated[str, BeforeValidator(_code_text), StringConstraints(pattern=r"^[A-Z0-9]{5}$")]
Modifier = Annotated[str, BeforeValidator(_modifier_text), StringConstraints(pattern=r"^[A-Z0-9]{2}$")]
Carc = Annotated[str, BeforeValidator(_carc_text), StringConstraints(pattern=r"^[A-Z0-9]{1,5}$")]
Codes = Annotated[tuple[Code, ...], BeforeValidator(_one_or_many)]
Modifiers = Annotated[tuple[Modifier, ...], BeforeValidator(_one_or_many)]
PayerType = Literal["medicare", "medicare_advantage", "medicaid", "commercial", "workers_comp", "other"]


def _number(value: Decimal | int) -> str:
    return format(Decimal(value).normalize(), "f")


# ---------------------------------------------------------------- claims as the scrub sees them


class LineLike(Protocol):
    @property
    def line_number(self) -> int: ...
    @property
    def procedure_code(self) -> str: ...
    @property
    def modifiers(self) -> Sequence[str]: ...
    @property
    def units(self) -> Decimal | None: ...
    @property
    def service_date(self) -> date | None: ...
    @property
    def place_of_service(self) -> str | None: ...


class ClaimLike(Protocol):
    @property
    def claim_id(self) -> str: ...
    @property
    def payer_id(self) -> str | None: ...
    @property
    def place_of_service(self) -> str | None: ...
    @property
    def lines(self) -> Sequence[LineLike]: ...


@dataclass(frozen=True)
class ScrubLine:
    line_number: int
    procedure_code: str
    modifiers: tuple[str, ...] = ()
    units: Decimal | None = Decimal(1)
    service_date: date | None = None
    place_of_service: str | None = None
    """Set only when the line overrides the claim's place of service (837P SV105)."""

    @property
    def billed_units(self) -> Decimal:
        return Decimal(1) if self.units is None else self.units

    @property
    def side(self) -> str:
        """LT or RT when the line is one side only; "both" for 50 or no side."""
        left, right = "LT" in self.modifiers, "RT" in self.modifiers
        if left != right:
            return "LT" if left else "RT"
        return "both"


@dataclass(frozen=True)
class ScrubClaim:
    """A claim as the rules read it. `flags` carries what the 837P cannot, e.g. "diagnostic"."""

    claim_id: str
    payer_id: str | None
    place_of_service: str | None
    lines: tuple[ScrubLine, ...]
    flags: frozenset[str] = frozenset()

    def place_of(self, line: ScrubLine) -> str | None:
        return line.place_of_service or self.place_of_service

    @classmethod
    def of(cls, claim: ClaimLike, flags: Collection[str] = ()) -> ScrubClaim:
        """Any claim-shaped object; its own `flags`, when it has them, are kept."""
        if isinstance(claim, ScrubClaim) and not flags:
            return claim
        own = getattr(claim, "flags", ())
        return cls(
            claim_id=claim.claim_id,
            payer_id=claim.payer_id,
            place_of_service=claim.place_of_service,
            lines=tuple(_scrub_line(line) for line in claim.lines),
            flags=frozenset(own) | frozenset(flags),
        )

    @classmethod
    def from_claim_submitted(cls, event: ClaimSubmitted, flags: Collection[str] = ()) -> ScrubClaim:
        return cls(
            claim_id=event.claim_id,
            payer_id=event.payer_id,
            place_of_service=event.place_of_service,
            lines=tuple(
                ScrubLine(
                    line_number=line.line_number,
                    procedure_code=line.procedure_code.upper(),
                    modifiers=tuple(m.upper() for m in line.modifiers),
                    units=line.units,
                    service_date=line.service_date,
                )
                for line in event.lines
            ),
            flags=frozenset(flags),
        )

    @classmethod
    def from_submitted_claim(cls, claim: SubmittedClaim, flags: Collection[str] = ()) -> ScrubClaim:
        """From an 837P claim as `parse_837p` reads it, with each line's SV105 place of service."""
        return cls(
            claim_id=claim.claim_id,
            payer_id=claim.payer_id,
            place_of_service=claim.place_of_service,
            lines=tuple(
                ScrubLine(
                    line_number=line.line_number,
                    procedure_code=line.procedure_code.upper(),
                    modifiers=tuple(m.upper() for m in line.modifiers),
                    units=line.units,
                    service_date=line.service_date,
                    place_of_service=claim.line_places_of_service.get(line.line_number),
                )
                for line in claim.lines
            ),
            flags=frozenset(flags),
        )


def _scrub_line(line: LineLike) -> ScrubLine:
    if isinstance(line, ScrubLine):
        return line
    return ScrubLine(
        line_number=line.line_number,
        procedure_code=line.procedure_code.upper(),
        modifiers=tuple(m.upper() for m in line.modifiers),
        units=line.units,
        service_date=line.service_date,
        place_of_service=getattr(line, "place_of_service", None),
    )


def _adjudicated_line(line: LineLike | RemitServiceLine | LineBrief) -> ScrubLine:
    """A remittance line as it was billed: the submitted code and modifiers when the payer changed them."""
    submitted = getattr(line, "submitted_procedure_code", None)
    code = submitted or line.procedure_code
    modifiers = getattr(line, "submitted_modifiers", ()) if submitted else line.modifiers
    units = getattr(line, "units", None)
    if units is None:
        units = getattr(line, "units_billed", None)
    return ScrubLine(
        line_number=line.line_number,
        procedure_code=code.upper(),
        modifiers=tuple(m.upper() for m in modifiers),
        units=units,
        service_date=line.service_date,
        place_of_service=getattr(line, "place_of_service", None),
    )


@dataclass(frozen=True)
class PatientHistory:
    """What the drug-test pattern rule needs from before this claim. With `visit_dates`, "every visit"
    is checked visit by visit; without them, by how many definitive-test dates fall in the window."""

    definitive_test_dates: tuple[date, ...] = ()
    visit_dates: tuple[date, ...] = ()


# ---------------------------------------------------------------- findings


@dataclass(frozen=True)
class RuleFinding:
    rule_id: str
    severity: Severity
    line_numbers: tuple[int, ...]
    message: str
    fix: str
    citation: str
    title: str = ""

    @property
    def line_number(self) -> int | None:
        return self.line_numbers[0] if self.line_numbers else None

    @property
    def held(self) -> bool:
        return self.severity == "hold"

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "severity": self.severity,
            "line_numbers": list(self.line_numbers),
            "title": self.title,
            "message": self.message,
            "fix": self.fix,
            "citation": self.citation,
        }


@dataclass(frozen=True)
class Hit:
    """What a condition found: the lines at fault, the line the message is about and the template values.
    A condition may set its own severity or message for one shape of the problem."""

    lines: tuple[ScrubLine, ...]
    values: Mapping[str, str] = field(default_factory=dict)
    severity: Severity | None = None
    message: str | None = None
    fix: str | None = None

    @property
    def subject(self) -> ScrubLine:
        return self.lines[0]


@dataclass(frozen=True)
class Context:
    """Everything a condition reads: the claim, the rule's codes and modifiers, the payer and the tables."""

    claim: ScrubClaim
    codes: frozenset[str]
    modifiers: tuple[str, ...]
    payer_type: str
    history: PatientHistory | None
    ptp: PtpTable | None
    mue: MueTable | None

    @property
    def lines(self) -> tuple[ScrubLine, ...]:
        return self.claim.lines

    def in_codes(self, line: ScrubLine) -> bool:
        """An empty code list means every code."""
        return not self.codes or line.procedure_code in self.codes

    def has_rule_modifier(self, line: ScrubLine) -> bool:
        return any(m in line.modifiers for m in self.modifiers)


def _by_date(lines: Iterable[ScrubLine]) -> dict[date | None, list[ScrubLine]]:
    groups: dict[date | None, list[ScrubLine]] = defaultdict(list)
    for line in lines:
        groups[line.service_date].append(line)
    return groups


def _joined(items: Iterable[str], word: str = "or") -> str:
    items = list(dict.fromkeys(items))
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {word} {items[-1]}"


# ---------------------------------------------------------------- condition kinds

CodesUse = Literal["required", "optional", "derived", "unused"]
ModifiersUse = Literal["required", "optional", "unused"]

COMMON_PLACEHOLDERS = frozenset(
    {"code", "line", "date", "units", "modifiers", "payer_type", "place_of_service", "rule_id"}
)


class Condition(BaseModel):
    """Base of the condition kinds. Each declares how it uses the rule's `codes` and `modifiers`, the
    template placeholders it fills, and finds the lines at fault."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    CODES: ClassVar[CodesUse] = "required"
    MODIFIERS: ClassVar[ModifiersUse] = "unused"
    PLACEHOLDERS: ClassVar[frozenset[str]] = frozenset()
    TEMPLATE_PARAMS: ClassVar[tuple[str, ...]] = ()

    def named_codes(self) -> tuple[str, ...]:
        """Codes the condition itself names (for kinds whose codes are derived)."""
        return ()

    @abstractmethod
    def evaluate(self, ctx: Context) -> Iterator[Hit]:
        """The hits of this condition on one claim; every concrete kind defines it."""


class ModifierConflict(Condition):
    """A line carries one of the rule's modifiers together with one of `conflicts_with`."""

    kind: Literal["modifier_conflict"]
    conflicts_with: Modifiers = Field(min_length=1)

    CODES: ClassVar[CodesUse] = "optional"
    MODIFIERS: ClassVar[ModifiersUse] = "required"
    PLACEHOLDERS: ClassVar[frozenset[str]] = frozenset({"modifier", "conflict"})

    def evaluate(self, ctx: Context) -> Iterator[Hit]:
        for line in ctx.lines:
            present = [m for m in ctx.modifiers if m in line.modifiers]
            conflicts = [m for m in self.conflicts_with if m in line.modifiers]
            if ctx.in_codes(line) and present and conflicts:
                yield Hit((line,), {"modifier": present[0], "conflict": _joined(conflicts, "and")})


class ModifierForbidden(Condition):
    """A line of one of the rule's codes carries one of the rule's modifiers."""

    kind: Literal["modifier_forbidden"]

    MODIFIERS: ClassVar[ModifiersUse] = "required"
    PLACEHOLDERS: ClassVar[frozenset[str]] = frozenset({"modifier"})

    def evaluate(self, ctx: Context) -> Iterator[Hit]:
        for line in ctx.lines:
            present = [m for m in ctx.modifiers if m in line.modifiers]
            if ctx.in_codes(line) and present:
                yield Hit((line,), {"modifier": present[0]})


class AddonWithoutPrimary(Condition):
    """An add-on code billed on a date without any of its primary codes on that date."""

    kind: Literal["addon_without_primary"]
    primaries: dict[Code, Codes] = Field(min_length=1)

    CODES: ClassVar[CodesUse] = "derived"
    PLACEHOLDERS: ClassVar[frozenset[str]] = frozenset({"primary"})

    def named_codes(self) -> tuple[str, ...]:
        return tuple(self.primaries)

    def evaluate(self, ctx: Context) -> Iterator[Hit]:
        for lines in _by_date(ctx.lines).values():
            billed = {line.procedure_code for line in lines}
            for line in lines:
                needed = self.primaries.get(line.procedure_code)
                if needed and not billed.intersection(needed):
                    yield Hit((line,), {"primary": _joined(needed)})


class MaxUnits(Condition):
    """More units than `max` of the rule's codes: on one line (`per: line`), or added up over every line
    of any of the codes on the same date (`per: date`). With modifiers, only lines carrying one count."""

    kind: Literal["max_units"]
    max: Decimal = Field(ge=0)
    per: Literal["line", "date"] = "line"

    MODIFIERS: ClassVar[ModifiersUse] = "optional"
    PLACEHOLDERS: ClassVar[frozenset[str]] = frozenset({"max", "billed_codes"})

    @field_validator("max", mode="before")
    @classmethod
    def _no_float(cls, value: Any) -> Any:
        return str(value) if isinstance(value, float) else value

    def evaluate(self, ctx: Context) -> Iterator[Hit]:
        counted = [
            line
            for line in ctx.lines
            if ctx.in_codes(line) and (not ctx.modifiers or ctx.has_rule_modifier(line))
        ]
        groups = [[line] for line in counted] if self.per == "line" else list(_by_date(counted).values())
        for lines in groups:
            total = sum((line.billed_units for line in lines), Decimal(0))
            if total > self.max:
                yield Hit(
                    tuple(lines),
                    {
                        "max": _number(self.max),
                        "units": _number(total),
                        "billed_codes": _joined((line.procedure_code for line in lines), "and"),
                    },
                )


class MaxLevelsPerSession(Condition):
    """More spinal levels in one session (one date) than `max_levels`, counted per family of codes.

    Each family maps its codes to the level their first unit stands for (64493: 1, 64494: 2, 64495: 3).
    A line reaches `first level + units - 1`; lines of one code and one side (LT, RT, or both) add up
    their units first, so LT and RT lines of the same level are the same level. The lines reaching past
    the cap are the ones at fault."""

    kind: Literal["max_levels_per_session"]
    max_levels: int = Field(ge=1)
    families: dict[str, dict[Code, int]] = Field(min_length=1)

    CODES: ClassVar[CodesUse] = "derived"
    PLACEHOLDERS: ClassVar[frozenset[str]] = frozenset({"levels", "max", "family"})

    @field_validator("families")
    @classmethod
    def _levels_from_one(cls, value: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
        for name, codes in value.items():
            if not codes:
                raise ValueError(f"family {name!r} names no codes")
            if any(level < 1 for level in codes.values()):
                raise ValueError(f"family {name!r}: first levels count from 1")
        return value

    def named_codes(self) -> tuple[str, ...]:
        return tuple(code for codes in self.families.values() for code in codes)

    def evaluate(self, ctx: Context) -> Iterator[Hit]:
        for lines in _by_date(ctx.lines).values():
            for family, first_levels in self.families.items():
                grouped: dict[tuple[str, str], list[ScrubLine]] = defaultdict(list)
                for line in lines:
                    if line.procedure_code in first_levels:
                        grouped[(line.procedure_code, line.side)].append(line)
                reach = {
                    key: first_levels[key[0]] + ceil(sum((ln.billed_units for ln in group), Decimal(0))) - 1
                    for key, group in grouped.items()
                }
                levels = max(reach.values(), default=0)
                if levels <= self.max_levels:
                    continue
                beyond = sorted(
                    (ln for key, group in grouped.items() if reach[key] > self.max_levels for ln in group),
                    key=lambda ln: ln.line_number,
                )
                yield Hit(
                    tuple(beyond),
                    {"levels": str(levels), "max": str(self.max_levels), "family": family},
                )


class BundledImaging(Condition):
    """An imaging guidance code (the rule's codes) billed on the date of a code whose descriptor already
    includes the guidance (`included_in`)."""

    kind: Literal["bundled_imaging"]
    included_in: Codes = Field(min_length=1)

    PLACEHOLDERS: ClassVar[frozenset[str]] = frozenset({"with_code"})

    def evaluate(self, ctx: Context) -> Iterator[Hit]:
        for lines in _by_date(ctx.lines).values():
            hosts = [line for line in lines if line.procedure_code in self.included_in]
            if not hosts:
                continue
            for line in lines:
                if ctx.in_codes(line):
                    yield Hit((line,), {"with_code": hosts[0].procedure_code})


_PREFERENCE_MESSAGE = (
    "{code} carries {modifier} beside {with_code}; this payer prefers {preferred} for a distinct service."
)
_PREFERENCE_FIX = "Use {preferred} instead of {modifier} on {code} when the documentation supports it."


class SameDayPairNeedsModifier(Condition):
    """A line of the rule's codes on the same date as one of `with_codes` without one of the rule's
    modifiers (the distinct-service modifiers the payer accepts). With `preferred`, a line that has an
    accepted modifier but not a preferred one gets `preference_severity` and the preference message."""

    kind: Literal["same_day_pair_needs_modifier"]
    with_codes: Codes = Field(min_length=1)
    preferred: Modifiers = ()
    preference_severity: Severity = "warn"
    preference_message: str = _PREFERENCE_MESSAGE
    preference_fix: str = _PREFERENCE_FIX

    MODIFIERS: ClassVar[ModifiersUse] = "required"
    PLACEHOLDERS: ClassVar[frozenset[str]] = frozenset({"with_code", "accepted", "preferred", "modifier"})
    TEMPLATE_PARAMS: ClassVar[tuple[str, ...]] = ("preference_message", "preference_fix")

    def evaluate(self, ctx: Context) -> Iterator[Hit]:
        preferred = self.preferred or ctx.modifiers
        for lines in _by_date(ctx.lines).values():
            partners = [line for line in lines if line.procedure_code in self.with_codes]
            if not partners:
                continue
            for line in lines:
                if not ctx.in_codes(line) or line.procedure_code in self.with_codes:
                    continue
                accepted = [m for m in ctx.modifiers if m in line.modifiers]
                values = {
                    "with_code": partners[0].procedure_code,
                    "accepted": _joined(ctx.modifiers),
                    "preferred": _joined(preferred),
                    "modifier": accepted[0] if accepted else "",
                }
                if not accepted:
                    yield Hit((line,), values)
                elif self.preferred and not any(m in line.modifiers for m in self.preferred):
                    yield Hit(
                        (line,),
                        values,
                        severity=self.preference_severity,
                        message=self.preference_message,
                        fix=self.preference_fix,
                    )


class RequiresModifierForPayerType(Condition):
    """For the listed payer types, a line of the rule's codes lacks every one of the rule's modifiers.

    With `claim_flag`, the rule looks only at claims whose purpose is known to be that flag
    (`claim_flag_state: set`) or at claims whose purpose is not given at all (`claim_flag_state: unknown`:
    neither "diagnostic" nor "therapeutic" is set)."""

    kind: Literal["requires_modifier_for_payer_type"]
    payer_types: Annotated[tuple[PayerType, ...], BeforeValidator(_one_or_many)] = Field(min_length=1)
    claim_flag: Literal["diagnostic", "therapeutic"] | None = None
    claim_flag_state: Literal["set", "unknown"] = "set"

    MODIFIERS: ClassVar[ModifiersUse] = "required"
    PLACEHOLDERS: ClassVar[frozenset[str]] = frozenset({"modifier"})

    def _purpose_matches(self, flags: frozenset[str]) -> bool:
        if self.claim_flag is None:
            return True
        if self.claim_flag_state == "set":
            return self.claim_flag in flags
        return not flags.intersection(PURPOSE_FLAGS)

    def evaluate(self, ctx: Context) -> Iterator[Hit]:
        if ctx.payer_type not in self.payer_types or not self._purpose_matches(ctx.claim.flags):
            return
        for line in ctx.lines:
            if ctx.in_codes(line) and not ctx.has_rule_modifier(line):
                yield Hit((line,), {"modifier": _joined(ctx.modifiers)})


class DrugTestPattern(Condition):
    """A definitive drug test (the rule's codes) on a date when the patient's history shows definitive
    tests on at least `min_prior_dates` dates in the `lookback_days` before it (and, when the history
    lists visits, on every visit in that window): testing by routine rather than by individual order."""

    kind: Literal["drug_test_pattern"]
    lookback_days: int = Field(ge=1, le=730)
    min_prior_dates: int = Field(ge=1)

    PLACEHOLDERS: ClassVar[frozenset[str]] = frozenset({"prior", "lookback_days", "since"})

    def evaluate(self, ctx: Context) -> Iterator[Hit]:
        history = ctx.history
        if history is None or not history.definitive_test_dates:
            return
        tested = set(history.definitive_test_dates)
        for day, lines in _by_date(ctx.lines).items():
            tests = [line for line in lines if ctx.in_codes(line)]
            if day is None or not tests:
                continue
            start = day - timedelta(days=self.lookback_days)
            prior = sorted(d for d in tested if start <= d < day)
            visits = {v for v in history.visit_dates if start <= v < day}
            if len(prior) < self.min_prior_dates or visits - tested:
                continue
            yield Hit(
                tuple(tests),
                {
                    "prior": str(len(prior)),
                    "lookback_days": str(self.lookback_days),
                    "since": prior[0].isoformat(),
                },
            )


class PtpPair(Condition):
    """Two codes billed on one date form an NCCI PTP pair in force on that date (from the loaded CMS
    table). Indicator 1: the column-2 line needs one of the rule's modifiers (the bypass modifiers);
    indicator 0: no modifier helps and the not-bypassable message is used; indicator 9: nothing.
    The rule's codes, when given, limit the check to column-2 codes among them."""

    kind: Literal["ptp_pair"]
    not_bypassable_message: str = Field(min_length=1)
    not_bypassable_fix: str = Field(min_length=1)

    CODES: ClassVar[CodesUse] = "optional"
    MODIFIERS: ClassVar[ModifiersUse] = "required"
    PLACEHOLDERS: ClassVar[frozenset[str]] = frozenset(
        {"column1", "column2", "indicator", "rationale", "with_code", "bypass"}
    )
    TEMPLATE_PARAMS: ClassVar[tuple[str, ...]] = ("not_bypassable_message", "not_bypassable_fix")

    def evaluate(self, ctx: Context) -> Iterator[Hit]:
        if ctx.ptp is None:
            return
        for day, lines in _by_date(ctx.lines).items():
            seen: set[tuple[int, str]] = set()
            for second in lines:
                if not ctx.in_codes(second):
                    continue
                for first in lines:
                    key = (second.line_number, first.procedure_code)
                    if first.procedure_code == second.procedure_code or key in seen:
                        continue
                    edit = ctx.ptp.edit_for(first.procedure_code, second.procedure_code, day)
                    if edit is None or not edit.applies:
                        continue
                    seen.add(key)
                    values = {
                        "column1": edit.column1,
                        "column2": edit.column2,
                        "with_code": edit.column1,
                        "indicator": edit.modifier_indicator,
                        "rationale": edit.rationale or "no rationale given",
                        "bypass": _joined(ctx.modifiers),
                    }
                    if not edit.bypassable:
                        yield Hit(
                            (second,),
                            values,
                            message=self.not_bypassable_message,
                            fix=self.not_bypassable_fix,
                        )
                    elif not ctx.has_rule_modifier(second):
                        yield Hit((second,), values)


class MueLimit(Condition):
    """Units above the code's MUE value in the loaded CMS table: per line for MAI 1, added up over the
    date for MAI 2 and 3. `severity_by_mai` sets the severity of each indicator (else the rule's)."""

    kind: Literal["mue_limit"]
    severity_by_mai: dict[Literal[1, 2, 3], Severity] = Field(default_factory=dict)

    CODES: ClassVar[CodesUse] = "optional"
    PLACEHOLDERS: ClassVar[frozenset[str]] = frozenset({"mue", "mai", "mai_text", "rationale"})

    def evaluate(self, ctx: Context) -> Iterator[Hit]:
        if ctx.mue is None:
            return
        groups: dict[tuple[date | None, str], list[ScrubLine]] = defaultdict(list)
        for line in ctx.lines:
            edit = ctx.mue.get(line.procedure_code)
            if edit is None or not ctx.in_codes(line):
                continue
            if edit.per_date_of_service:
                groups[(line.service_date, line.procedure_code)].append(line)
            else:
                groups[(None, f"{line.procedure_code}#{line.line_number}")].append(line)
        for lines in groups.values():
            edit = ctx.mue.get(lines[0].procedure_code)
            assert edit is not None
            total = sum((line.billed_units for line in lines), Decimal(0))
            if total > edit.value:
                yield Hit(
                    tuple(lines),
                    {
                        "mue": str(edit.value),
                        "mai": str(edit.adjudication),
                        "mai_text": edit.adjudication_text or f"MAI {edit.adjudication}",
                        "rationale": edit.rationale or "no rationale given",
                        "units": _number(total),
                    },
                    severity=self.severity_by_mai.get(edit.adjudication),
                )


AnyCondition = Annotated[
    ModifierConflict
    | ModifierForbidden
    | AddonWithoutPrimary
    | MaxUnits
    | MaxLevelsPerSession
    | BundledImaging
    | SameDayPairNeedsModifier
    | RequiresModifierForPayerType
    | DrugTestPattern
    | PtpPair
    | MueLimit,
    Field(discriminator="kind"),
]
CONDITION_KINDS: dict[str, type[Condition]] = {
    "modifier_conflict": ModifierConflict,
    "modifier_forbidden": ModifierForbidden,
    "addon_without_primary": AddonWithoutPrimary,
    "max_units": MaxUnits,
    "max_levels_per_session": MaxLevelsPerSession,
    "bundled_imaging": BundledImaging,
    "same_day_pair_needs_modifier": SameDayPairNeedsModifier,
    "requires_modifier_for_payer_type": RequiresModifierForPayerType,
    "drug_test_pattern": DrugTestPattern,
    "ptp_pair": PtpPair,
    "mue_limit": MueLimit,
}
_CONDITION: TypeAdapter[Condition] = TypeAdapter(AnyCondition)


# ---------------------------------------------------------------- the YAML model


class When(BaseModel):
    """Where an override applies; every key given must match (one value or a list each)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    payer_id: tuple[str, ...] = ()
    payer_type: tuple[PayerType, ...] = ()
    place_of_service: tuple[Annotated[str, StringConstraints(pattern=r"^[0-9]{2}$")], ...] = ()

    @field_validator("payer_id", "payer_type", "place_of_service", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        value = _one_or_many(value)
        if isinstance(value, list):
            return [f"{v:02d}" if isinstance(v, int) and not isinstance(v, bool) else v for v in value]
        return value

    @model_validator(mode="after")
    def _says_where(self) -> When:
        if not (self.payer_id or self.payer_type or self.place_of_service):
            raise ValueError("name at least one of payer_id, payer_type, place_of_service")
        return self

    def matches(self, setting: Setting) -> bool:
        return (
            (not self.payer_id or (setting.payer_id or "") in self.payer_id)
            and (not self.payer_type or setting.payer_type in self.payer_type)
            and (not self.place_of_service or (setting.place_of_service or "") in self.place_of_service)
        )


class Override(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    when: When
    enabled: bool | None = None
    severity: Severity | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    message: str | None = Field(None, min_length=1)
    fix: str | None = Field(None, min_length=1)
    citation: str | None = Field(None, min_length=1)


class RuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$")
    title: str = Field(min_length=1)
    codes: Codes = ()
    modifiers: Modifiers = ()
    condition: AnyCondition
    severity: Severity
    message: str = Field(min_length=1)
    fix: str = Field(min_length=1)
    citation: str = Field(min_length=1)
    explains: Annotated[tuple[Carc, ...], BeforeValidator(_one_or_many)] = ()
    enabled: bool = True
    policy: dict[str, str] = Field(default_factory=dict, description="policy name to the choice it needs")
    overrides: tuple[Override, ...] = ()


class PolicySpec(BaseModel):
    """A question public sources answer differently: its choices, the pack's default and why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    question: str = Field(min_length=1)
    choices: dict[str, str] = Field(min_length=2, description="choice name to what it means and who wants it")
    default: str
    why: str = Field(min_length=1)
    by_payer_type: dict[PayerType, str] = Field(default_factory=dict)
    by_payer_id: dict[str, str] = Field(default_factory=dict)

    @field_validator("by_payer_id", mode="before")
    @classmethod
    def _payer_ids_as_text(cls, value: Any) -> Any:
        return {str(k): v for k, v in value.items()} if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _known_choices(self) -> PolicySpec:
        if self.default not in self.choices:
            raise ValueError(f"default {self.default!r} is not one of the choices {', '.join(self.choices)}")
        for where, mapping in (("by_payer_type", self.by_payer_type), ("by_payer_id", self.by_payer_id)):
            for key, choice in mapping.items():
                if choice not in self.choices:
                    raise ValueError(
                        f"{where}.{key}: {choice!r} is not one of the choices {', '.join(self.choices)}"
                    )
        return self

    def choice_for(self, payer_id: str | None, payer_type: str) -> str:
        if payer_id and payer_id in self.by_payer_id:
            return self.by_payer_id[payer_id]
        for kind, choice in self.by_payer_type.items():
            if kind == payer_type:
                return choice
        return self.default


class RuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(ge=1, le=1)
    policies: dict[str, PolicySpec] = Field(default_factory=dict)
    rules: tuple[RuleSpec, ...] = ()


# ---------------------------------------------------------------- the loaded pack


@dataclass(frozen=True)
class Setting:
    payer_id: str | None
    payer_type: str
    place_of_service: str | None


@dataclass(frozen=True)
class Resolved:
    """A rule as it applies in one setting, after its overrides."""

    condition: Condition
    severity: Severity
    message: str
    fix: str
    citation: str


@dataclass(frozen=True)
class Rule:
    spec: RuleSpec
    source: Path
    line: int

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def codes(self) -> tuple[str, ...]:
        """The codes the rule concerns, written or derived from its condition."""
        return self.spec.codes or self.spec.condition.named_codes()

    def resolve(self, setting: Setting) -> Resolved | None:
        """None when the rule is off in this setting."""
        spec = self.spec
        enabled, severity = spec.enabled, spec.severity
        message, fix, citation = spec.message, spec.fix, spec.citation
        params: dict[str, Any] = {}
        for override in spec.overrides:
            if not override.when.matches(setting):
                continue
            enabled = enabled if override.enabled is None else override.enabled
            severity = override.severity or severity
            message, fix = override.message or message, override.fix or fix
            citation = override.citation or citation
            params.update(override.params)
        if not enabled:
            return None
        condition: Condition = spec.condition
        if params:
            condition = _CONDITION.validate_python({**condition.model_dump(), **params})
        return Resolved(condition, severity, message, fix, citation)


@dataclass(frozen=True)
class RulePack:
    rules: tuple[Rule, ...]
    policies: Mapping[str, PolicySpec] = field(default_factory=dict)
    sources: tuple[Path, ...] = ()
    ptp: PtpTable | None = None
    mue: MueTable | None = None
    _resolved: dict[tuple[str, Setting], Resolved | None] = field(
        default_factory=dict, compare=False, repr=False
    )

    def with_tables(self, *, ptp: PtpTable | None = None, mue: MueTable | None = None) -> RulePack:
        """The same rules checked against NCCI tables (a table not given stays as it was)."""
        return replace(
            self,
            ptp=self.ptp if ptp is None else ptp,
            mue=self.mue if mue is None else mue,
            _resolved={},
        )

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    def policy_choice(self, name: str, payer_id: str | None, payer_type: str) -> str:
        return self.policies[name].choice_for(payer_id, payer_type)

    def policy_allows(self, rule: Rule, setting: Setting) -> bool:
        return all(
            self.policy_choice(name, setting.payer_id, setting.payer_type) == choice
            for name, choice in rule.spec.policy.items()
        )

    def resolve(self, rule: Rule, setting: Setting) -> Resolved | None:
        key = (rule.id, setting)
        if key not in self._resolved:
            self._resolved[key] = rule.resolve(setting)
        return self._resolved[key]


# ---------------------------------------------------------------- scrub and explain


def _history(history: PatientHistory | Iterable[date] | None) -> PatientHistory | None:
    if history is None or isinstance(history, PatientHistory):
        return history
    return PatientHistory(definitive_test_dates=tuple(history))


def _values(hit: Hit, rule: Rule, setting: Setting) -> dict[str, str]:
    line = hit.subject
    common = {
        "rule_id": rule.id,
        "code": line.procedure_code,
        "line": str(line.line_number),
        "date": line.service_date.isoformat() if line.service_date else "the date of service",
        "units": _number(line.billed_units),
        "modifiers": "-".join(line.modifiers) or "no modifier",
        "payer_type": setting.payer_type.replace("_", " "),
        "place_of_service": setting.place_of_service or "(not given)",
    }
    return {**common, **hit.values}


def _findings(
    rule: Rule,
    pack: RulePack,
    claim: ScrubClaim,
    payer_type: str,
    history: PatientHistory | None,
    *,
    follow_policy: bool = True,
) -> Iterator[RuleFinding]:
    """The rule's findings on the claim. Overrides by place of service are resolved per line: the rule
    runs once per place of service on the claim and keeps the findings about lines billed there."""
    places = sorted({claim.place_of(line) or "" for line in claim.lines})
    for place in places:
        setting = Setting(claim.payer_id, payer_type, place or None)
        if follow_policy and not pack.policy_allows(rule, setting):
            continue
        resolved = pack.resolve(rule, setting)
        if resolved is None:
            continue
        ctx = Context(
            claim=claim,
            codes=frozenset(rule.spec.codes),
            modifiers=rule.spec.modifiers,
            payer_type=payer_type,
            history=history,
            ptp=pack.ptp,
            mue=pack.mue,
        )
        for hit in resolved.condition.evaluate(ctx):
            if len(places) > 1 and (claim.place_of(hit.subject) or "") != place:
                continue
            values = _values(hit, rule, setting)
            yield RuleFinding(
                rule_id=rule.id,
                severity=hit.severity or resolved.severity,
                line_numbers=tuple(line.line_number for line in hit.lines),
                message=(hit.message or resolved.message).format_map(values),
                fix=(hit.fix or resolved.fix).format_map(values),
                citation=resolved.citation,
                title=rule.spec.title,
            )


def _payer_type(payer_type: str) -> str:
    if payer_type not in PAYER_TYPES:
        raise ValueError(f"unknown payer type {payer_type!r}; use one of {', '.join(PAYER_TYPES)}")
    return payer_type


def scrub(
    claim: ClaimLike,
    pack: RulePack,
    *,
    payer_type: str,
    history: PatientHistory | Iterable[date] | None = None,
) -> list[RuleFinding]:
    """Every hold and warning the pack finds on one claim, by line then in pack order.

    `history` is the patient's earlier definitive drug-test dates (a list of dates or a PatientHistory);
    without it the drug-test pattern rule stays silent."""
    scrub_claim = ScrubClaim.of(claim)
    known = _history(history)
    findings = [
        finding
        for rule in pack.rules
        for finding in _findings(rule, pack, scrub_claim, _payer_type(payer_type), known)
    ]
    return sorted(findings, key=lambda f: f.line_numbers[0] if f.line_numbers else 0)


def _policy_note(rule: Rule, pack: RulePack, setting: Setting) -> str:
    notes = []
    for name, choice in rule.spec.policy.items():
        if pack.policy_choice(name, setting.payer_id, setting.payer_type) != choice:
            payer = setting.payer_id or "this payer"
            notes.append(
                f"The pack does not yet record {payer} as wanting {choice!r} for {name}: add it under "
                f"policies.{name}.by_payer_id so the next claim is held before submission."
            )
    return " ".join(notes)


def explain_denial(
    carcs: Iterable[str],
    line: LineLike | RemitServiceLine | LineBrief,
    siblings: Iterable[LineLike | RemitServiceLine | LineBrief],
    pack: RulePack,
    payer_type: str,
    *,
    payer_id: str | None = None,
    place_of_service: str | None = None,
    flags: Collection[str] = (),
    claim_id: str = "",
) -> RuleFinding | None:
    """The rule a denied line broke, when one applies: the first rule (in pack order) that explains one
    of the line's CARCs and finds this line at fault among its siblings (the claim's other lines; the
    line itself may be among them). A rule that belongs to a policy choice the payer is not recorded
    with still explains: the denial is the evidence, and the fix says to record the payer's policy."""
    denied = _adjudicated_line(line)
    others = [_adjudicated_line(s) for s in siblings]
    lines = sorted(
        [denied, *(s for s in others if s.line_number != denied.line_number)], key=lambda s: s.line_number
    )
    claim = ScrubClaim(claim_id, payer_id, place_of_service, tuple(lines), frozenset(flags))
    wanted = {_carc_text(c) for c in carcs}
    kind = _payer_type(payer_type)
    for rule in pack.rules:
        if not wanted.intersection(rule.spec.explains):
            continue
        for finding in _findings(rule, pack, claim, kind, None, follow_policy=False):
            if denied.line_number not in finding.line_numbers:
                continue
            note = _policy_note(rule, pack, Setting(payer_id, kind, claim.place_of(denied)))
            return replace(finding, fix=f"{finding.fix} {note}") if note else finding
    return None


# ---------------------------------------------------------------- loading with line numbers


@dataclass
class _Errors:
    messages: list[str] = field(default_factory=list)

    def add(
        self, path: Path, node: yaml.Node, loc: Sequence[str | int], problem: str, data: Any = None
    ) -> None:
        self.messages.append(f"{path} line {line_of(node, loc)}: {_readable(loc, data)}: {problem}")


def _readable(loc: Sequence[str | int], data: Any) -> str:
    """`rule PAIN-MOD-001: condition.conflicts_with` rather than `rules.0.condition.modifier_conflict...`."""
    parts = [str(p) for p in loc if p != "[key]"]
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        entries = data.get("rules") if isinstance(data, dict) else None
        entry = entries[loc[1]] if isinstance(entries, list) and loc[1] < len(entries) else None
        rule_id = entry.get("id") if isinstance(entry, dict) else None
        rest = parts[2:]
        if len(rest) >= 2 and rest[0] == "condition" and rest[1] in CONDITION_KINDS:
            del rest[1]
        name = f"rule {rule_id}" if rule_id else f"rules[{loc[1]}]"
        return f"{name}: {'.'.join(rest)}" if rest else name
    return ".".join(parts) or "(top)"


def _placeholders(template: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise ValueError(
            f"not a valid message template ({exc}); write a literal brace as {{{{ or }}}}"
        ) from exc


def _check_template(template: str, allowed: frozenset[str]) -> str | None:
    try:
        used = _placeholders(template)
    except ValueError as exc:
        return str(exc)
    unknown = sorted(used - allowed)
    if unknown:
        return f"unknown placeholder {{{unknown[0]}}}; this condition fills " + ", ".join(
            f"{{{name}}}" for name in sorted(allowed)
        )
    return None


def _rule_issues(spec: RuleSpec) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """What pydantic cannot see: codes and modifiers the kind needs, templates, merged override params."""
    condition = spec.condition
    kind = type(condition)
    if kind.CODES == "required" and not spec.codes:
        yield ("codes",), f"a {condition.kind} rule needs the codes it looks at"
    if kind.CODES == "derived" and spec.codes:
        yield ("codes",), f"a {condition.kind} rule takes its codes from its condition; leave codes out"
    if kind.MODIFIERS == "required" and not spec.modifiers:
        yield ("modifiers",), f"a {condition.kind} rule needs its modifiers"
    if kind.MODIFIERS == "unused" and spec.modifiers:
        yield ("modifiers",), f"a {condition.kind} rule does not use modifiers"
    allowed = COMMON_PLACEHOLDERS | kind.PLACEHOLDERS
    templates: list[tuple[tuple[str | int, ...], str]] = [(("message",), spec.message), (("fix",), spec.fix)]
    templates += [(("condition", name), getattr(condition, name)) for name in kind.TEMPLATE_PARAMS]
    for index, override in enumerate(spec.overrides):
        for name in ("message", "fix"):
            text = getattr(override, name)
            if text is not None:
                templates.append((("overrides", index, name), text))
        if override.params:
            try:
                merged = _CONDITION.validate_python({**condition.model_dump(), **override.params})
            except ValidationError as exc:
                for error in exc.errors():
                    where = [p for p in error["loc"] if str(p) not in CONDITION_KINDS]
                    yield (
                        ("overrides", index, "params", *where),
                        error["msg"].removeprefix("Value error, "),
                    )
                continue
            if merged.kind != condition.kind:
                yield ("overrides", index, "params", "kind"), "an override cannot change the condition kind"
            templates += [
                (("overrides", index, "params", name), getattr(merged, name))
                for name in kind.TEMPLATE_PARAMS
                if name in override.params
            ]
    for loc, template in templates:
        problem = _check_template(template, allowed)
        if problem:
            yield loc, problem


@dataclass(frozen=True)
class _Loaded:
    path: Path
    node: yaml.Node
    data: Any
    content: RuleFile


def _read(path: Path, errors: _Errors) -> _Loaded | None:
    try:
        data, node = read_yaml_mapping(path, "the rule file", "a mapping with version, policies and rules")
    except YamlFileError as exc:
        errors.messages.append(str(exc))
        return None
    try:
        content = RuleFile.model_validate(data)
    except ValidationError as exc:
        for loc, problem in validation_problems(exc):
            errors.add(path, node, loc, problem, data)
        return None
    before = len(errors.messages)
    for index, spec in enumerate(content.rules):
        for loc, problem in _rule_issues(spec):
            errors.add(path, node, ("rules", index, *loc), problem, data)
    return None if len(errors.messages) > before else _Loaded(path, node, data, content)


def _rule_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
    return [path]


def load_rulepack(
    path: Path = DEFAULT_RULES_DIR, *, ptp: PtpTable | None = None, mue: MueTable | None = None
) -> RulePack:
    """Every rule file of a directory (in file-name order) or one file, validated as a whole: rule ids
    unique, policies declared once and every policy a rule names declared with that choice."""
    files = _rule_files(path)
    if not files:
        raise RulePackError(f"{path}: no rule files (*.yaml) in the directory")
    errors = _Errors()
    loaded = [item for item in (_read(file, errors) for file in files) if item is not None]
    rules: list[Rule] = []
    placed: list[tuple[_Loaded, int, RuleSpec]] = []
    policies: dict[str, PolicySpec] = {}
    first_seen: dict[str, str] = {}
    for item in loaded:
        for name, policy in item.content.policies.items():
            where = f"{item.path} line {line_of(item.node, ('policies', name))}"
            if name in first_seen:
                errors.messages.append(
                    f"{where}: policy {name} is declared again (first at {first_seen[name]})"
                )
            first_seen.setdefault(name, where)
            policies.setdefault(name, policy)
        for index, spec in enumerate(item.content.rules):
            line = line_of(item.node, ("rules", index))
            where = f"{item.path} line {line}"
            if spec.id in first_seen:
                errors.messages.append(
                    f"{where}: rule id {spec.id} appears again (first at {first_seen[spec.id]})"
                )
            first_seen.setdefault(spec.id, where)
            rules.append(Rule(spec, item.path, line))
            placed.append((item, index, spec))
    for item, index, spec in placed:
        for name, choice in spec.policy.items():
            loc = ("rules", index, "policy", name)
            if name not in policies:
                errors.add(
                    item.path, item.node, loc, f"policy {name!r} is not declared in any rule file", item.data
                )
            elif choice not in policies[name].choices:
                known = ", ".join(policies[name].choices)
                errors.add(
                    item.path,
                    item.node,
                    loc,
                    f"{choice!r} is not a choice of policy {name} ({known})",
                    item.data,
                )
    if errors.messages:
        listed = errors.messages[:_MAX_LISTED_ERRORS]
        more = len(errors.messages) - len(listed)
        tail = f"\n  ... and {more} more" if more > 0 else ""
        raise RulePackError("the rule pack is not valid:\n  " + "\n  ".join(listed) + tail)
    return RulePack(tuple(rules), policies, tuple(files), ptp, mue)
