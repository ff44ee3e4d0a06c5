"""structlog JSON logs. Patient data never reaches them: a processor redacts it by key, at any depth."""

from __future__ import annotations

import dataclasses
import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog
from pydantic import BaseModel

REDACTED = "[redacted]"

PATIENT_KEYS = frozenset(
    {
        "patient",
        "patient_name",
        "patient_first_name",
        "patient_last_name",
        "first_name",
        "last_name",
        "name_first",
        "name_last",
        "middle_name",
        "member_id",
        "subscriber_id",
        "subscriber",
        "insured",
        "insured_name",
        "birth_date",
        "date_of_birth",
        "dob",
        "patient_birth_date",
        "ssn",
        "address",
        "phone",
    }
)


def _redact(value: Any) -> Any:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, Mapping):
        return {k: (REDACTED if str(k).lower() in PATIENT_KEYS else _redact(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v) for v in value]
    return value


def redact_patient_data(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> Mapping[str, Any]:
    """structlog processor: replaces every value whose key names patient data, nested dicts included."""
    return {k: (REDACTED if k.lower() in PATIENT_KEYS else _redact(v)) for k, v in event_dict.items()}


def configure_logging(service: str, level: str = "INFO", fmt: str = "json") -> None:
    renderer: Any = structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_patient_data,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.bind_contextvars(service=service)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
