"""The envelope every event carries, and the validated value types the contracts share."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

# A fixed namespace: event ids are uuid5(namespace, source identity), so a replay of the same source
# produces the same event id and every consumer can deduplicate by it.
EVENT_NAMESPACE = uuid.UUID("6c1f3a52-5a8e-4f0e-9a57-2f1f6f0f8b11")


def event_id_for(event_type: str, *identity: str) -> uuid.UUID:
    """Deterministic event id from the event type and the natural identity of its source."""
    return uuid.uuid5(EVENT_NAMESPACE, "\x1f".join((event_type, *identity)))


MONEY_LIMIT = Decimal(10) ** 12


def _not_float(value: object) -> object:
    if isinstance(value, float):
        raise ValueError("money must be a Decimal or a decimal string, never a float")
    return value


def _money(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("money must be a finite amount")
    if abs(value) >= MONEY_LIMIT:
        raise ValueError(f"money must be below {MONEY_LIMIT:,} in size")
    return value


Money = Annotated[Decimal, BeforeValidator(_not_float), AfterValidator(_money)]
"""An amount of US dollars. Always Decimal; floats are refused by strict validation."""

PracticeId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
ProcedureCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{1,48}$")]
Modifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{2}$")]
Carc = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{1,5}$")]
Rarc = Annotated[str, StringConstraints(pattern=r"^[A-Z]{1,2}[0-9]{1,5}$")]
Npi = Annotated[str, StringConstraints(pattern=r"^[0-9]{10}$")]

UNASSIGNED_PRACTICE = "unassigned"
"""Practice id of lines whose payee matches no registered practice; only supervisors see them."""


class Contract(BaseModel):
    """Base of every contract model: immutable, no unknown fields, Decimal never coerced from float."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Correlation(Contract):
    file_id: str | None = None
    claim_key: str | None = None


class Envelope(Contract):
    """Fields every event has. Subclasses pin `event_type` and `schema_version` with Literal types, so
    an event of another type or an unsupported version fails validation with a clear message."""

    event_id: uuid.UUID
    event_type: str
    schema_version: int = Field(ge=1)
    occurred_at: AwareDatetime
    practice_id: PracticeId
    correlation: Correlation = Correlation()

    @property
    def partition_key(self) -> bytes:
        """All events of one claim share a key, so they stay in order on one partition."""
        claim = self.correlation.claim_key or str(self.event_id)
        return f"{self.practice_id}|{claim}".encode()


def now_utc() -> datetime:
    from datetime import UTC

    return datetime.now(UTC)
