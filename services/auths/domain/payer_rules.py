"""Does a claim line need prior authorization? Payer rules by payer, place of service, state, date and code.

The rules are a YAML file operators edit: `services/auths/config/auth_rules.yaml` (docs/auths.md). Like the
denials routing file it is validated when loaded: a mistake stops the load with a message that names the
file, the line and the problem, never a half-working rule set.

This module also holds what the other auths config files share: the YAML loader that reports line
numbers (`load_yaml_model`), the payer/MAC selector (`Selector`) and code-range expansion (`expand_codes`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shared.runtime.yaml_config import Loc, YamlFileError, line_of, read_yaml_mapping, validation_problems

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"
DEFAULT_AUTH_RULES_FILE = CONFIG_DIR / "auth_rules.yaml"

PAYER_TYPES = ("medicare", "medicare_advantage", "commercial", "medicaid", "workers_comp", "other")
"""`medicare` is Original (fee-for-service) Medicare; Medicare Advantage plans are `medicare_advantage`."""

Program = Literal["OPD PA", "WISeR", "payer policy"]
PROGRAMS: tuple[Program, ...] = ("OPD PA", "WISeR", "payer policy")

_STATE_CODES = (
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY "
    "NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY PR VI GU AS MP"
)
US_STATES = frozenset(_STATE_CODES.split())

MAX_RANGE = 200
"""Most codes one range like 64490-64495 may stand for (a typo like 64490-74495 is refused)."""

_CODE = re.compile(r"^[A-Z0-9]{5}$")
_CODE_PARTS = re.compile(r"^([A-Z]*)([0-9]+)([A-Z]*)$")
_FAMILY = re.compile(r"^[a-z][a-z_]*$")
_DASHES = str.maketrans({"\u2013": "-", "\u2014": "-", "\u2212": "-"})


# ---------------------------------------------------------------- shared: errors and YAML loading


class ConfigError(ValueError):
    """An auths config file that cannot be used. `errors` lists every problem, each naming file and line."""

    def __init__(self, message: str, errors: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.errors: tuple[str, ...] = tuple(errors) or (message,)


M = TypeVar("M", bound=BaseModel)


def config_error(path: Path, node: yaml.Node, what: str, problems: Sequence[tuple[Loc, str]]) -> ConfigError:
    """One ConfigError listing each problem as `file line N: dotted.path: message`."""
    messages = []
    for loc, msg in problems:
        readable = ".".join(str(p) for p in loc) or "(top)"
        messages.append(f"{path} line {line_of(node, loc)}: {readable}: {msg}")
    return ConfigError(f"the {what} is not valid:\n  " + "\n  ".join(messages), messages)


def load_yaml_model(path: Path, model: type[M], what: str) -> tuple[M, yaml.Node]:
    """Read `path`, validate it as `model`; errors name the file and the line. Returns the model and the
    YAML node tree (for a caller's own checks that also want line numbers)."""
    try:
        data, node = read_yaml_mapping(path, f"the {what}", "a mapping that starts with `version: 1`")
    except YamlFileError as exc:
        raise ConfigError(str(exc)) from exc
    try:
        return model.model_validate(data), node
    except ValidationError as exc:
        raise config_error(path, node, what, validation_problems(exc, limit=10)) from None


# ---------------------------------------------------------------- shared: codes and selectors


def expand_codes(token: str) -> tuple[str, ...]:
    """One procedure code or an inclusive range of them: `64493`, `64490-64495`, `G0480-G0483`, `0213T-0218T`.

    Raises ValueError saying what is wrong (not a 5-character code, ends that differ in shape, a reversed
    or too long range)."""
    text = token.strip().upper().translate(_DASHES)
    if "-" not in text:
        if not _CODE.match(text):
            raise ValueError(f"{token.strip()!r} is not a 5-character CPT/HCPCS code like 64493")
        return (text,)
    low, _, high = (part.strip() for part in text.partition("-"))
    if not _CODE.match(low) or not _CODE.match(high):
        raise ValueError(f"{token.strip()!r} is not a code range like 64490-64495")
    lo_parts, hi_parts = _CODE_PARTS.match(low), _CODE_PARTS.match(high)
    if (
        lo_parts is None
        or hi_parts is None
        or lo_parts.group(1) != hi_parts.group(1)
        or lo_parts.group(3) != hi_parts.group(3)
        or len(lo_parts.group(2)) != len(hi_parts.group(2))
    ):
        raise ValueError(
            f"{token.strip()!r}: both ends of a range must have the same shape, like G0480-G0483"
        )
    first, last = int(lo_parts.group(2)), int(hi_parts.group(2))
    if last < first:
        raise ValueError(f"{token.strip()!r}: the range runs backwards")
    if last - first + 1 > MAX_RANGE:
        raise ValueError(f"{token.strip()!r}: a range may stand for at most {MAX_RANGE} codes")
    prefix, suffix, width = lo_parts.group(1), lo_parts.group(3), len(lo_parts.group(2))
    return tuple(f"{prefix}{n:0{width}d}{suffix}" for n in range(first, last + 1))


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str | int) else value


def _strings(value: Any) -> Any:
    value = _as_list(value)
    if isinstance(value, list):
        return [str(v).strip() for v in value]
    return value


class Selector(BaseModel):
    """Which payers a config entry applies to; every condition given must hold (empty = all payers)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    payer_id: tuple[str, ...] = ()
    payer_type: tuple[str, ...] = ()
    mac: tuple[str, ...] = Field(default=(), description="MAC jurisdiction, e.g. J15, JH, JL, JF")

    @field_validator("payer_id", "payer_type", "mac", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return _strings(value)

    @field_validator("payer_type")
    @classmethod
    def _known_payer_type(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _check_payer_types(value)

    @field_validator("mac")
    @classmethod
    def _upper(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v.upper() for v in value)

    def selects(self, payer_id: str | None, payer_type: str | None, mac: str | None) -> bool:
        return (
            (not self.payer_id or (payer_id or "") in self.payer_id)
            and (not self.payer_type or (payer_type or "") in self.payer_type)
            and (not self.mac or (mac or "").upper() in self.mac)
        )


def _check_payer_types(value: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [v for v in value if v not in PAYER_TYPES]
    if unknown:
        raise ValueError(f"unknown payer type {unknown[0]!r}; use one of {', '.join(PAYER_TYPES)}")
    return value


# ---------------------------------------------------------------- the rules file


class When(BaseModel):
    """Conditions of an auth rule; every condition given must hold (an empty `when` matches every line)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    payer_id: tuple[str, ...] = ()
    payer_type: tuple[str, ...] = ()
    place_of_service: tuple[str, ...] = ()
    state: tuple[str, ...] = ()
    codes: tuple[str, ...] = Field(default=(), description="codes, ranges like 64490-64495, family names")
    exclude_codes: tuple[str, ...] = ()
    dos_from: date | None = None
    dos_through: date | None = None

    @field_validator(
        "payer_id", "payer_type", "place_of_service", "state", "codes", "exclude_codes", mode="before"
    )
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return _strings(value)

    @field_validator("payer_type")
    @classmethod
    def _known_payer_type(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _check_payer_types(value)

    @field_validator("place_of_service")
    @classmethod
    def _pos(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        out = tuple(_pos_code(v) for v in value)
        bad = [v for v in out if not re.fullmatch(r"[0-9]{2}", v)]
        if bad:
            raise ValueError(f"place of service {bad[0]!r} is not a 2-digit code like 11, 19, 22 or 24")
        return out

    @field_validator("state")
    @classmethod
    def _states(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        out = tuple(v.upper() for v in value)
        bad = [v for v in out if v not in US_STATES]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a 2-letter US state code like AZ or NJ")
        return out

    @model_validator(mode="after")
    def _dates_in_order(self) -> When:
        if self.dos_from and self.dos_through and self.dos_through < self.dos_from:
            raise ValueError(f"dos_through {self.dos_through} is before dos_from {self.dos_from}")
        return self


class RuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    when: When = When()
    required: bool = True
    program: Program | None = None
    note: str | None = Field(None, description="told to the biller with the requirement (what to do)")

    @model_validator(mode="after")
    def _program_iff_required(self) -> RuleSpec:
        if self.required and self.program is None:
            raise ValueError(
                f"a rule that requires authorization needs a program: one of {', '.join(PROGRAMS)}"
            )
        if not self.required and self.program is not None:
            raise ValueError("a rule that exempts (required: false) takes no program")
        return self


class AuthRulesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(ge=1, le=1)
    payer_types: dict[str, str] = Field(default_factory=dict, description="payer id to payer type")
    families: dict[str, tuple[str, ...]] = Field(default_factory=dict, description="name to codes/ranges")
    rules: tuple[RuleSpec, ...] = Field(min_length=1)

    @field_validator("payer_types", mode="before")
    @classmethod
    def _str_keys(cls, value: Any) -> Any:
        return {str(k): v for k, v in value.items()} if isinstance(value, dict) else value

    @field_validator("payer_types")
    @classmethod
    def _payer_type_values(cls, value: dict[str, str]) -> dict[str, str]:
        for payer_id, payer_type in value.items():
            if payer_type not in PAYER_TYPES:
                raise ValueError(
                    f"{payer_id}: unknown payer type {payer_type!r}; use one of {', '.join(PAYER_TYPES)}"
                )
        return value

    @field_validator("families", mode="before")
    @classmethod
    def _family_lists(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): _strings(v) for k, v in value.items()}
        return value


# ---------------------------------------------------------------- decisions


class LineLike(Protocol):
    """What a rule looks at on a line: shared.schemas.SubmittedLine and checks.LineToCheck both fit."""

    @property
    def procedure_code(self) -> str: ...

    @property
    def service_date(self) -> date | None: ...


@dataclass(frozen=True)
class ClaimContext:
    """The claim-level facts a rule looks at. `state` is where the service is rendered (WISeR applies by
    the state of the provider's MAC jurisdiction); `payer_type`, when not given, comes from the rules
    file's payer_types map by payer id (else `other`)."""

    payer_id: str
    place_of_service: str | None = None
    state: str | None = None
    payer_type: str | None = None


@dataclass(frozen=True)
class Requirement:
    required: bool
    program: Program | None
    reason: str
    rule: str | None = None


@dataclass(frozen=True)
class _Rule:
    spec: RuleSpec
    codes: frozenset[str] | None  # None: every code
    excluded: frozenset[str]


@dataclass(frozen=True)
class _Facts:
    payer_id: str
    payer_type: str
    pos: str | None
    state: str | None
    code: str
    dos: date | None


class AuthRules:
    """A validated rules file, ready to answer `requirement` (first matching rule decides)."""

    def __init__(self, spec: AuthRulesFile, *, source: str = "auth rules") -> None:
        problems = _code_problems(spec)
        if problems:
            messages = [f"{source}: {'.'.join(str(p) for p in loc)}: {msg}" for loc, msg in problems]
            raise ConfigError(f"the {source} is not valid:\n  " + "\n  ".join(messages), messages)
        self.spec = spec
        self.source = source
        families = {name: frozenset(_expand_all(tokens)) for name, tokens in spec.families.items()}
        self._rules = tuple(
            _Rule(
                rule,
                _resolve(rule.when.codes, families) if rule.when.codes else None,
                _resolve(rule.when.exclude_codes, families),
            )
            for rule in spec.rules
        )

    def payer_type(self, ctx: ClaimContext) -> str:
        return ctx.payer_type or self.spec.payer_types.get(ctx.payer_id, "other")

    def requirement(self, line: LineLike, ctx: ClaimContext) -> Requirement:
        facts = _Facts(
            payer_id=ctx.payer_id,
            payer_type=self.payer_type(ctx),
            pos=_pos_code(ctx.place_of_service) if ctx.place_of_service else None,
            state=ctx.state.strip().upper() if ctx.state else None,
            code=line.procedure_code.strip().upper(),
            dos=line.service_date,
        )
        for rule in self._rules:
            outcome, unknown = _match(rule, facts)
            if outcome is False:
                continue
            spec = rule.spec
            if outcome is None:
                if not spec.required:
                    continue  # never exempt a line on a guess
                return Requirement(
                    True,
                    spec.program,
                    f"{facts.code} may need prior authorization ({spec.program}): {spec.name}. "
                    f"Cannot rule it out: {' and '.join(unknown)} not known." + _note(spec),
                    spec.name,
                )
            if spec.required:
                return Requirement(
                    True,
                    spec.program,
                    f"{facts.code}{_on(facts.dos)} needs prior authorization ({spec.program}): {spec.name}."
                    + _note(spec),
                    spec.name,
                )
            return Requirement(
                False,
                None,
                f"{facts.code} needs no prior authorization: {spec.name}." + _note(spec),
                spec.name,
            )
        hint = (
            f" Payer {facts.payer_id} has no payer type: add it to payer_types in the rules file."
            if facts.payer_type == "other" and ctx.payer_type is None
            else ""
        )
        return Requirement(
            False,
            None,
            f"{facts.code} needs no prior authorization: no rule requires it for {facts.payer_type} "
            f"payer {facts.payer_id}{_where(facts)}.{hint}",
            None,
        )


def _on(dos: date | None) -> str:
    return f" on {dos.isoformat()}" if dos else ""


def _note(spec: RuleSpec) -> str:
    return f" {spec.note.strip()}" if spec.note else ""


def _where(f: _Facts) -> str:
    parts = []
    if f.pos:
        parts.append(f"POS {f.pos}")
    if f.state:
        parts.append(f.state)
    if f.dos:
        parts.append(f.dos.isoformat())
    return f" ({', '.join(parts)})" if parts else ""


def _match(rule: _Rule, f: _Facts) -> tuple[bool | None, list[str]]:
    """True, False, or None when it would match but a fact it needs is unknown (listed)."""
    w = rule.spec.when
    if w.payer_id and f.payer_id not in w.payer_id:
        return False, []
    if w.payer_type and f.payer_type not in w.payer_type:
        return False, []
    if rule.codes is not None and f.code not in rule.codes:
        return False, []
    if f.code in rule.excluded:
        return False, []
    unknown = []
    if w.place_of_service:
        if f.pos is None:
            unknown.append("place of service")
        elif f.pos not in w.place_of_service:
            return False, []
    if w.state:
        if f.state is None:
            unknown.append("state")
        elif f.state not in w.state:
            return False, []
    if w.dos_from or w.dos_through:
        if f.dos is None:
            unknown.append("date of service")
        elif (w.dos_from and f.dos < w.dos_from) or (w.dos_through and f.dos > w.dos_through):
            return False, []
    return (None, unknown) if unknown else (True, [])


def _pos_code(value: str) -> str:
    text = str(value).strip()
    return text.zfill(2) if text.isdigit() and len(text) < 2 else text


def _expand_all(tokens: Sequence[str]) -> list[str]:
    return [code for token in tokens for code in expand_codes(token)]


def _resolve(tokens: Sequence[str], families: dict[str, frozenset[str]]) -> frozenset[str]:
    out: set[str] = set()
    for token in tokens:
        out |= families[token] if _FAMILY.match(token) else set(expand_codes(token))
    return frozenset(out)


def _code_problems(spec: AuthRulesFile) -> list[tuple[Loc, str]]:
    """Codes, ranges and family names that cannot be resolved, each with where it is."""
    problems: list[tuple[Loc, str]] = []
    for name, tokens in spec.families.items():
        if not _FAMILY.match(name):
            problems.append((("families", name), f"family name {name!r} must be lowercase letters and _"))
        for i, token in enumerate(tokens):
            try:
                expand_codes(token)
            except ValueError as exc:
                problems.append((("families", name, i), str(exc)))
    for r, rule in enumerate(spec.rules):
        for field in ("codes", "exclude_codes"):
            for i, token in enumerate(getattr(rule.when, field)):
                loc: Loc = ("rules", r, "when", field, i)
                if _FAMILY.match(token):
                    if token not in spec.families:
                        known = ", ".join(sorted(spec.families)) or "none defined"
                        problems.append((loc, f"unknown code family {token!r} (families: {known})"))
                    continue
                try:
                    expand_codes(token)
                except ValueError as exc:
                    problems.append((loc, str(exc)))
    return problems


def load_auth_rules(path: Path = DEFAULT_AUTH_RULES_FILE) -> AuthRules:
    spec, node = load_yaml_model(path, AuthRulesFile, "auth rules file")
    problems = _code_problems(spec)
    if problems:
        raise config_error(path, node, "auth rules file", problems)
    return AuthRules(spec, source=path.name)


@lru_cache(maxsize=1)
def default_auth_rules() -> AuthRules:
    return load_auth_rules(DEFAULT_AUTH_RULES_FILE)


def requirement(line: LineLike, claim_context: ClaimContext, rules: AuthRules | None = None) -> Requirement:
    """Whether `line` needs prior authorization, under which program and why (shipped rules by default)."""
    return (rules or default_auth_rules()).requirement(line, claim_context)
