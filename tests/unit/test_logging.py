"""Patient data never reaches the logs: redact_patient_data replaces it by key at any depth."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import structlog

from shared.runtime.logging import REDACTED, configure_logging, get_logger, redact_patient_data
from shared.schemas import PersonRef, RemitClaim


@pytest.fixture(autouse=True)
def _restore_structlog() -> Iterator[None]:
    yield
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()


def redact(**event: object) -> dict[str, Any]:
    return dict(redact_patient_data(None, "info", dict(event)))


def test_redacted_marker():
    assert REDACTED == "[redacted]"


@pytest.mark.parametrize(
    "key",
    [
        "patient_name",
        "first_name",
        "last_name",
        "member_id",
        "subscriber_id",
        "birth_date",
        "date_of_birth",
        "dob",
        "patient_birth_date",
        "ssn",
        "patient",
        "Patient_Name",
        "MEMBER_ID",
    ],
)
def test_patient_keys_are_redacted_at_top_level(key):
    assert redact(**{key: "JANE DOE 1950-02-03"}) == {key: REDACTED}


def test_other_keys_are_untouched():
    event = {
        "event": "file ingested",
        "file_id": "f-1",
        "lines": 12,
        "claim_id": "PCN-1",
        "amount": "12.50",
        "payer_id": "12502",
        "npi": "1215049283",
    }

    assert redact(**event) == event


def test_patient_keys_nested_in_dicts_are_redacted():
    out = redact(
        claim={
            "claim_id": "PCN-1",
            "patient": {"last_name": "DOE"},
            "subscriber": {"member_id": "MBR1", "first_name": "JOHN"},
            "detail": {"dob": "1950-02-03", "npi": "1215049283"},
        }
    )

    assert out == {
        "claim": {
            "claim_id": "PCN-1",
            "patient": REDACTED,
            "subscriber": REDACTED,
            "detail": {"dob": REDACTED, "npi": "1215049283"},
        }
    }


def test_patient_keys_inside_lists_and_tuples_are_redacted():
    out = redact(claims=[{"claim_id": "A", "member_id": "MBR1"}, ({"birth_date": "1950-02-03", "n": 1},)])

    assert out == {"claims": [{"claim_id": "A", "member_id": REDACTED}, [{"birth_date": REDACTED, "n": 1}]]}


def test_patient_values_of_any_type_are_redacted_and_other_values_keep_their_type():
    out = redact(dob=None, member_id=12345, lines=3, ok=True, missing=None)

    assert out == {"dob": REDACTED, "member_id": REDACTED, "lines": 3, "ok": True, "missing": None}


def test_configured_logger_writes_json_to_stderr_without_patient_data(capsys):
    configure_logging("denials", level="INFO", fmt="json")
    log = get_logger("test")

    log.info(
        "claim read",
        claim_id="PCN-77",
        patient_name="ZELDA QUINTANILLA",
        member_id="1EG4TE5MK72",
        birth_date="1948-07-19",
        claims=[{"patient": {"first_name": "ZELDA"}, "dob": "1948-07-19", "line": 1}],
    )

    captured = capsys.readouterr()
    assert captured.out == ""
    record = json.loads(captured.err.strip().splitlines()[-1])
    assert record["event"] == "claim read"
    assert record["level"] == "info"
    assert record["service"] == "denials"
    assert record["claim_id"] == "PCN-77"
    assert record["member_id"] == REDACTED
    assert record["claims"] == [{"patient": REDACTED, "dob": REDACTED, "line": 1}]
    assert "timestamp" in record
    for secret in ("ZELDA", "QUINTANILLA", "1EG4TE5MK72", "1948-07-19"):
        assert secret not in captured.err


def test_configured_level_filters_lower_levels(capsys):
    configure_logging("ingest", level="WARNING")
    log = get_logger()

    log.info("not shown", member_id="MBR1")
    log.warning("shown", member_id="MBR1")

    lines = capsys.readouterr().err.strip().splitlines()
    assert [json.loads(x)["event"] for x in lines] == ["shown"]
    assert "MBR1" not in lines[0]


def test_bound_context_is_redacted_too(capsys):
    configure_logging("queues")
    structlog.contextvars.bind_contextvars(patient_last_name="QUINTANILLA")

    get_logger().info("working")

    err = capsys.readouterr().err
    assert "QUINTANILLA" not in err
    assert json.loads(err.strip().splitlines()[-1])["patient_last_name"] == REDACTED


def test_patient_data_inside_a_logged_contract_is_redacted(capsys):
    configure_logging("denials")
    claim = RemitClaim(
        patient_control_number="PCN-1",
        status_code="1",
        charge=Decimal("10"),
        paid=Decimal("10"),
        patient=PersonRef(last_name="QUINTANILLA", member_id="1EG4TE5MK72"),
    )

    get_logger().info("claim read", claim=claim)

    err = capsys.readouterr().err
    assert "QUINTANILLA" not in err
    assert "1EG4TE5MK72" not in err
