"""Event contracts: frozen, no unknown fields, money only as Decimal, deterministic ids and keys."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from shared.schemas import (
    Adjustment,
    AuthRecorded,
    AuthStatus,
    Correlation,
    IngestRejection,
    RemitClaim,
    RemitContext,
    RemitLineReceived,
    RemitServiceLine,
    event_id_for,
    topics,
)

OCCURRED = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)


def remit_event(**overrides: object) -> RemitLineReceived:
    fields: dict[str, object] = {
        "event_id": event_id_for("remit.line", "file-1", "0001", "C1", "1"),
        "occurred_at": OCCURRED,
        "practice_id": "desert-pain",
        "correlation": Correlation(file_id="file-1", claim_key="C1"),
        "file_id": "file-1",
        "remittance": RemitContext(
            transaction_control="0001", payment_amount=Decimal("1234.56"), payment_date=date(2026, 10, 20)
        ),
        "claim": RemitClaim(
            patient_control_number="C1", status_code="1", charge=Decimal("2000.00"), paid=Decimal("1234.56")
        ),
        "line": RemitServiceLine(
            line_number=1,
            procedure_code="64493",
            modifiers=("50",),
            charge=Decimal("2000.00"),
            paid=Decimal("1234.56"),
            allowed=Decimal("1543.20"),
            adjustments=(
                Adjustment(group="CO", reason="45", amount=Decimal("456.80")),
                Adjustment(group="PR", reason="2", amount=Decimal("308.64")),
            ),
            remarks=("N115",),
        ),
    }
    fields.update(overrides)
    return RemitLineReceived(**fields)


# ---------------------------------------------------------------- frozen and closed


def test_events_are_frozen():
    event = remit_event()

    with pytest.raises(ValidationError):
        event.practice_id = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        event.line.paid = Decimal("0")  # type: ignore[misc]
    assert event.practice_id == "desert-pain"


def test_extra_fields_are_forbidden():
    with pytest.raises(ValidationError) as info:
        remit_event(surprise="x")

    assert info.value.errors()[0]["type"] == "extra_forbidden"


def test_extra_fields_are_forbidden_in_nested_models_and_json():
    payload = remit_event().model_dump(mode="json")
    payload["line"]["color"] = "red"

    with pytest.raises(ValidationError) as info:
        RemitLineReceived.model_validate(payload)

    assert info.value.errors()[0]["loc"] == ("line", "color")


# ---------------------------------------------------------------- money


def test_money_refuses_a_python_float():
    with pytest.raises(ValidationError, match="never a float"):
        Adjustment(group="CO", reason="45", amount=12.5)


def test_money_refuses_a_json_number_with_a_fraction():
    with pytest.raises(ValidationError, match="never a float"):
        Adjustment.model_validate_json('{"group": "CO", "reason": "45", "amount": 12.5}')


def test_money_refuses_a_float_in_an_optional_field():
    with pytest.raises(ValidationError):
        Adjustment(group="CO", reason="45", amount=Decimal("1"), quantity=1.0)


@pytest.mark.parametrize("value", [Decimal("12.50"), "12.50", "-0.01", Decimal("0")])
def test_money_takes_decimal_and_decimal_strings(value):
    adjustment = Adjustment(group="CO", reason="45", amount=value)

    assert isinstance(adjustment.amount, Decimal)
    assert adjustment.amount == Decimal(str(value))


def test_money_from_a_json_string_keeps_its_exact_digits():
    adjustment = Adjustment.model_validate_json('{"group": "CO", "reason": "45", "amount": "0.10"}')

    assert adjustment.amount == Decimal("0.10")
    assert str(adjustment.amount) == "0.10"


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", Decimal("NaN"), "abc"])
def test_money_must_be_a_finite_number(value):
    with pytest.raises(ValidationError):
        Adjustment(group="CO", reason="45", amount=value)


# ---------------------------------------------------------------- identity


def test_event_id_for_is_deterministic():
    assert event_id_for("remit.line", "file-1", "C1", "1") == event_id_for("remit.line", "file-1", "C1", "1")
    assert event_id_for("remit.line", "file-1").version == 5


@pytest.mark.parametrize(
    "other",
    [
        ("remit.line", "file-1", "C1", "2"),
        ("remit.line", "file-2", "C1", "1"),
        ("denials.decision", "file-1", "C1", "1"),
        ("remit.line", "file-1", "C1"),
        ("remit.line", "file-1C1", "1"),
    ],
)
def test_event_id_for_differs_by_identity(other):
    assert event_id_for("remit.line", "file-1", "C1", "1") != event_id_for(*other)


def test_partition_key_is_practice_and_claim_key():
    assert remit_event().partition_key == b"desert-pain|C1"


def test_partition_key_falls_back_to_the_event_id():
    event = remit_event(correlation=Correlation())

    assert event.partition_key == f"desert-pain|{event.event_id}".encode()


# ---------------------------------------------------------------- type and version pins


def test_wrong_event_type_fails_validation():
    with pytest.raises(ValidationError) as info:
        remit_event(event_type="denials.decision")

    assert info.value.errors()[0]["loc"] == ("event_type",)


def test_unsupported_schema_version_fails_validation():
    with pytest.raises(ValidationError) as info:
        remit_event(schema_version=2)

    assert info.value.errors()[0]["loc"] == ("schema_version",)


def test_json_of_another_type_does_not_validate_as_this_one():
    payload = remit_event().model_dump_json()

    with pytest.raises(ValidationError):
        IngestRejection.model_validate_json(payload)


def test_defaults_pin_type_and_version():
    event = remit_event()

    assert event.event_type == "remit.line"
    assert event.schema_version == 1


def test_naive_occurred_at_is_refused():
    with pytest.raises(ValidationError):
        remit_event(occurred_at=datetime(2026, 10, 20, 12, 0))


def test_practice_id_pattern():
    with pytest.raises(ValidationError):
        remit_event(practice_id="bad practice|id")


# ---------------------------------------------------------------- JSON round trip


def test_json_round_trip_keeps_decimals_exactly():
    event = remit_event()

    back = RemitLineReceived.model_validate_json(event.model_dump_json())

    assert back == event
    assert str(back.line.charge) == "2000.00"
    assert str(back.line.allowed) == "1543.20"
    assert str(back.line.adjustments[0].amount) == "456.80"
    assert str(back.remittance.payment_amount) == "1234.56"


def test_money_is_serialized_as_a_string_in_json():
    payload = remit_event().model_dump(mode="json")

    assert payload["line"]["charge"] == "2000.00"
    assert payload["line"]["adjustments"][1]["amount"] == "308.64"


def test_auth_record_round_trip():
    record = AuthRecorded(
        event_id=event_id_for("auths.record", "PA-1"),
        occurred_at=OCCURRED,
        practice_id="desert-pain",
        auth_number="PA-1",
        payer_id="12502",
        member_id="MBR1",
        provider_npi="1215049283",
        procedure_codes=("64493",),
        units_authorized=Decimal("2"),
        valid_from=date(2026, 9, 1),
        valid_to=date(2026, 11, 30),
        status=AuthStatus.APPROVED,
    )

    back = AuthRecorded.model_validate_json(record.model_dump_json())

    assert back == record
    assert back.status is AuthStatus.APPROVED
    assert isinstance(back.event_id, uuid.UUID)


def test_dead_letter_topic_name():
    assert topics.dead_letter(topics.REMIT_LINES) == "remit.lines.v1.dlq"
    assert topics.REMIT_LINES in topics.ALL
