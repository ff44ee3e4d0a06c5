"""Routing rules: which work queue a finding goes to, and how long the practice has to appeal it.

The rules are a YAML file operators edit: `services/denials/config/routing.yaml` by default, or the
file `CLAIMLINE_ROUTING_FILE` names. It is validated when the service starts: a mistake stops the
start with a message that names the file, the line and the problem, never a half-working service.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.runtime.yaml_config import YamlFileError, line_of, read_yaml_mapping, validation_problems

DEFAULT_ROUTING_FILE = Path(__file__).resolve().parents[1] / "config" / "routing.yaml"

PAYER_TYPES = ("medicare", "medicare_advantage", "medicaid", "commercial", "workers_comp", "other")


class RoutingError(ValueError):
    """The routing file is wrong; the message says where and why."""


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str | int) else value


class Match(BaseModel):
    """Conditions of a rule; every condition given must hold (an empty `when` matches everything)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    category: tuple[str, ...] = ()
    payer_id: tuple[str, ...] = ()
    payer_type: tuple[str, ...] = ()
    practice_id: tuple[str, ...] = ()
    carc: tuple[str, ...] = ()
    group: tuple[str, ...] = ()
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None

    @field_validator("category", "payer_id", "payer_type", "practice_id", "carc", "group", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        value = _as_list(value)
        if isinstance(value, list):
            return [str(v) for v in value]
        return value

    @field_validator("payer_type")
    @classmethod
    def _known_payer_type(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [v for v in value if v not in PAYER_TYPES]
        if unknown:
            raise ValueError(f"unknown payer type {unknown[0]!r}; use one of {', '.join(PAYER_TYPES)}")
        return value

    @field_validator("min_amount", "max_amount", mode="before")
    @classmethod
    def _no_float(cls, value: Any) -> Any:
        return str(value) if isinstance(value, float | int) else value


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    when: Match = Match()
    queue: str = Field(pattern=r"^[a-z][a-z0-9_]{1,39}$")


class Tolerance(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    amount: Decimal = Decimal("1.00")
    percent: Decimal = Decimal("2")

    @field_validator("amount", "percent", mode="before")
    @classmethod
    def _no_float(cls, value: Any) -> Any:
        return str(value) if isinstance(value, float | int) else value


class RoutingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(ge=1, le=1)
    appeal_days: dict[str, int] = Field(description="days to appeal after the remittance date, by payer type")
    filing_indicators: dict[str, str] = Field(default_factory=dict, description="CLP06 to payer type")
    payer_types: dict[str, str] = Field(default_factory=dict, description="payer id to payer type")
    underpayment_tolerance: Tolerance = Tolerance()
    rules: tuple[Rule, ...] = Field(min_length=1)
    default_queue: str = Field("review", pattern=r"^[a-z][a-z0-9_]{1,39}$")

    @field_validator("appeal_days")
    @classmethod
    def _appeal_days(cls, value: dict[str, int]) -> dict[str, int]:
        for payer_type, days in value.items():
            if payer_type != "default" and payer_type not in PAYER_TYPES:
                raise ValueError(f"unknown payer type {payer_type!r}")
            if not 1 <= days <= 730:
                raise ValueError(f"{payer_type}: appeal days must be between 1 and 730, got {days}")
        if "default" not in value:
            raise ValueError("needs a 'default' entry")
        return value

    @field_validator("filing_indicators", "payer_types")
    @classmethod
    def _payer_type_values(cls, value: dict[str, str]) -> dict[str, str]:
        for key, payer_type in value.items():
            if payer_type not in PAYER_TYPES:
                raise ValueError(
                    f"{key}: unknown payer type {payer_type!r}; use one of {', '.join(PAYER_TYPES)}"
                )
        return value

    # ------------------------------------------------------------ decisions

    def payer_type(self, payer_id: str | None, filing_indicator: str | None) -> str:
        if payer_id and payer_id in self.payer_types:
            return self.payer_types[payer_id]
        if filing_indicator and filing_indicator in self.filing_indicators:
            return self.filing_indicators[filing_indicator]
        return "other"

    def deadline(self, remittance_date: date, payer_type: str) -> date:
        days = self.appeal_days.get(payer_type, self.appeal_days["default"])
        return remittance_date + timedelta(days=days)

    def route(self, finding: Finding) -> tuple[str, str]:
        """The queue of the first rule that matches, and the rule's name."""
        for rule in self.rules:
            if _matches(rule.when, finding):
                return rule.queue, rule.name
        return self.default_queue, "default"


@dataclass(frozen=True)
class Finding:
    """What routing looks at."""

    category: str
    payer_id: str | None
    payer_type: str
    practice_id: str
    carcs: tuple[str, ...]
    groups: tuple[str, ...]
    amount: Decimal


def _matches(when: Match, f: Finding) -> bool:
    return (
        (not when.category or f.category in when.category)
        and (not when.payer_id or (f.payer_id or "") in when.payer_id)
        and (not when.payer_type or f.payer_type in when.payer_type)
        and (not when.practice_id or f.practice_id in when.practice_id)
        and (not when.carc or any(c in when.carc for c in f.carcs))
        and (not when.group or any(g in when.group for g in f.groups))
        and (when.min_amount is None or f.amount >= when.min_amount)
        and (when.max_amount is None or f.amount <= when.max_amount)
    )


# ---------------------------------------------------------------- loading with line numbers


def load_routing(path: Path = DEFAULT_ROUTING_FILE) -> RoutingConfig:
    try:
        data, node = read_yaml_mapping(
            path, "the routing file", "a mapping with version, appeal_days and rules"
        )
    except YamlFileError as exc:
        raise RoutingError(str(exc)) from exc
    try:
        return RoutingConfig.model_validate(data)
    except ValidationError as exc:
        messages = [
            f"{path} line {line_of(node, loc)}: {'.'.join(str(p) for p in loc) or '(top)'}: {msg}"
            for loc, msg in validation_problems(exc, limit=10)
        ]
        raise RoutingError("the routing file is not valid:\n  " + "\n  ".join(messages)) from None
