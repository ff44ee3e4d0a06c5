"""structlog JSON logs. Patient data never reaches them: a processor redacts it by key, at any depth."""

from __future__ import annotations

import dataclasses
import hashlib
import json
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


MAX_CORRELATION_BYTES = 1024 * 1024
"""Bodies above this size (raw X12 files) are not read for correlation ids."""


def claim_ref(practice_id: str, claim_key: str) -> str:
    """A claim's id in logs. The provider's claim id is often the patient's account number, so logs
    carry this digest of it instead; to find one claim's log lines, compute its digest."""
    return hashlib.sha256(f"{practice_id}|{claim_key}".encode()).hexdigest()[:16]


def _text(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def correlation_fields(body: bytes | None) -> dict[str, str]:
    """The envelope's correlation ids of an event, for the log context of its handling.

    Only these leave the message: event id and type, practice, file id (a sha256) and the digest of
    the claim key. Anything else in the body, patient data above all, is never read into the logs.
    A body that is not a JSON event (a raw file, bad bytes) gives no fields.
    """
    if not body or len(body) > MAX_CORRELATION_BYTES or body[:1] != b"{":
        return {}
    try:
        event = json.loads(body)
    except ValueError:
        return {}
    if not isinstance(event, dict):
        return {}
    fields = {
        "event_id": _text(event.get("event_id"), 64),
        "event_type": _text(event.get("event_type"), 100),
        "practice_id": _text(event.get("practice_id"), 64),
    }
    correlation = event.get("correlation")
    if isinstance(correlation, dict):
        fields["file_id"] = _text(correlation.get("file_id"), 128)
        claim_key = _text(correlation.get("claim_key"), 1000)
        if claim_key is not None:
            fields["claim_ref"] = claim_ref(fields["practice_id"] or "", claim_key)
    return {k: v for k, v in fields.items() if v is not None}


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
