"""The licensed X12 code lists: imported from CSV, shown beside our wording, retired codes flagged."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest

from services.denials.domain.catalog import load_catalog
from services.denials.domain.classify import OfficialText, classify, translate
from services.denials.official import OfficialListError, read_official_csv
from shared.schemas import (
    Adjustment,
    RemitClaim,
    RemitContext,
    RemitLineReceived,
    RemitServiceLine,
    event_id_for,
    now_utc,
)


def line_with(reason: str, paid_on: date) -> RemitLineReceived:
    return RemitLineReceived(
        event_id=event_id_for("remit.line", reason, paid_on.isoformat()),
        occurred_at=now_utc(),
        practice_id="p1",
        file_id="f" * 64,
        remittance=RemitContext(transaction_control="1", payment_amount=D(0), payment_date=paid_on),
        claim=RemitClaim(patient_control_number="C1", status_code="1", charge=D(100), paid=D(0)),
        line=RemitServiceLine(
            line_number=1,
            procedure_code="64493",
            charge=D(100),
            paid=D(0),
            adjustments=(Adjustment(group="CO", reason=reason, amount=D(100)),),
        ),
    )


def test_a_customer_csv_with_its_own_header_names_is_read(tmp_path: Path):
    path = tmp_path / "carc.csv"
    path.write_text(
        "Code,Description,Start Date,Stop Date\n"
        "97,Official wording for ninety-seven,01/01/1995,\n"
        "15,Official wording for fifteen,1995-01-01,2026-03-01\n"
        "\n"
    )
    codes = read_official_csv(path, "carc")

    assert [(c.code, c.stop_date) for c in codes] == [("97", None), ("15", date(2026, 3, 1))]
    assert codes[0].start_date == date(1995, 1, 1)


def test_a_bad_csv_is_refused_with_every_line_and_column(tmp_path: Path):
    path = tmp_path / "carc.csv"
    path.write_text("code,description,stop date\nN362,not a carc,\n97,,\n45,ok,2026-13-40\n")
    with pytest.raises(OfficialListError) as refused:
        read_official_csv(path, "carc")
    message = str(refused.value)
    assert f"{path} line 2, column code: 'N362' is not a CARC" in message
    assert f"{path} line 3, column description: empty" in message
    assert f"{path} line 4: date 2026-13-40" in message


def test_a_csv_without_a_code_column_is_refused_at_line_1(tmp_path: Path):
    path = tmp_path / "rarc.csv"
    path.write_text("remark,text\nN362,whatever\n")
    with pytest.raises(OfficialListError, match="line 1: no column for code"):
        read_official_csv(path, "rarc")


def test_official_wording_rides_beside_ours_and_a_retired_code_is_flagged():
    official = OfficialText(
        {
            ("carc", "15"): ("Official fifteen", date(2026, 3, 1)),
            ("carc", "97"): ("Official ninety-seven", None),
        }
    )
    after = translate(load_catalog(), line_with("15", date(2026, 10, 20)), official)
    before = translate(load_catalog(), line_with("15", date(2026, 2, 1)), official)

    fifteen_after = next(c for c in after if c.code == "15")
    assert fifteen_after.official == "Official fifteen"
    assert fifteen_after.used_after_stop is True
    assert next(c for c in before if c.code == "15").used_after_stop is False
    decision = classify(
        load_catalog(), line_with("15", date(2026, 10, 20)), date(2026, 10, 22), official=official
    )
    assert "retired" in decision.summary and "CARC 15" in decision.summary
