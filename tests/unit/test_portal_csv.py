"""Portal CSV exports: column aliases, code ranges, status synonyms, merging, errors with line and column."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.auths.domain.patients import PatientKey
from services.auths.domain.portal_csv import (
    COLUMN_ALIASES,
    PortalCsvError,
    header_key,
    load_portal_csv,
    parse_portal_csv,
    to_event,
)
from shared.schemas import AuthRecorded, AuthStatus, event_id_for

# An export as a commercial portal writes it: its own headers, a column we do not use, US dates.
MARY = 'W88120455,"O\'Neil-Smith Jr, Mary",03/14/1956'
AVAILITY = "\n".join(
    [
        "Auth #,Payer ID,Member ID,Patient Name,DOB,Rendering NPI,CPT Codes,Levels,Side,Units Approved,"
        "Units Used,Start Date,End Date,Status,Reviewer",
        f'A2606-114,60054,{MARY},1215049283,64490-64492; 64633,"C5-6, C6-7",Bilateral,2,1,'
        "06/01/2026,08/31/2026,Certified,R. Iyer",
        f"A2606-115,60054,{MARY},1215049283,64483,L5-S1,LT,1,,06/01/2026,08/31/2026,Pended,R. Iyer",
        "",
        f"A2606-099,60054,{MARY},,62323,,,1,0,2026-05-01,2026-05-31,Not Certified,R. Iyer",
        "",
    ]
)


def test_happy_path_reads_aliases_ranges_statuses_and_ignores_unknown_columns():
    imported = parse_portal_csv(AVAILITY, source="availity.csv", practice_id="spine-east")

    assert imported.ignored_columns == ("Reviewer",)
    assert imported.columns["Auth #"] == "auth_number"
    assert imported.columns["Units Approved"] == "units_authorized"
    first, second, third = imported.rows
    assert first.auth_number == "A2606-114"
    assert first.payer_id == "60054"
    assert first.procedure_codes == ("64490", "64491", "64492", "64633")
    assert first.levels == ("C5-C6", "C6-C7")
    assert first.sides == ("bilateral",)
    assert first.units_authorized == Decimal(2)
    assert first.units_used == Decimal(1)
    assert (first.valid_from, first.valid_to) == (date(2026, 6, 1), date(2026, 8, 31))
    assert first.status is AuthStatus.APPROVED
    assert first.status_text == "Certified"
    assert first.provider_npi == "1215049283"
    assert first.patient == PatientKey("W88120455", date(1956, 3, 14), "O'Neil-Smith Jr", "Mary")
    assert first.lines == (2,)
    assert second.status is AuthStatus.PENDING
    assert second.sides == ("left",)
    assert second.units_used is None
    assert third.status is AuthStatus.DENIED
    assert third.provider_npi is None
    assert third.lines == (5,)


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("approved", AuthStatus.APPROVED),
        ("Affirmed", AuthStatus.APPROVED),
        ("Provisionally Affirmed", AuthStatus.APPROVED),
        ("CERTIFIED", AuthStatus.APPROVED),
        ("Non-Affirmed", AuthStatus.DENIED),
        ("non affirmed", AuthStatus.DENIED),
        ("Denied", AuthStatus.DENIED),
        ("Pended", AuthStatus.PENDING),
        ("In Review", AuthStatus.PENDING),
        ("Submitted", AuthStatus.REQUESTED),
        ("Expired", AuthStatus.EXPIRED),
        ("Withdrawn", AuthStatus.CANCELLED),
        ("Canceled", AuthStatus.CANCELLED),
    ],
)
def test_status_synonyms(text, status):
    csv_text = (
        f"UTN,Member ID,Codes,From,To,Decision\nJF0001234567,1EG4TE5MK73,64483,2026-02-02,2026-05-02,{text}\n"
    )

    row = parse_portal_csv(csv_text, default_payer_id="NORIDIAN-JF").rows[0]

    assert row.status is status


def test_wiser_export_with_utn_and_the_payer_from_the_import():
    header = ["Unique Tracking Number", "MBI", "Beneficiary Name", "Procedure Code", "Effective Date"]
    row = ["JH26A000981", "1EG4-TE5-MK73", "Mary O'Neil-Smith", "62323", "2026-02-02"]
    text = "\t".join([*header, "Expiration Date", "Decision"]) + "\n"
    text += "\t".join([*row, "2026-05-02", "Provisionally affirmed"]) + "\n"

    auth = parse_portal_csv(text, default_payer_id="04412").rows[0]

    assert auth.auth_number == "JH26A000981"
    assert auth.payer_id == "04412"
    assert auth.member_id == "1EG4-TE5-MK73"
    assert (auth.patient_first_name, auth.patient_last_name) == ("Mary", "O'Neil-Smith")
    assert auth.status is AuthStatus.APPROVED


def test_one_row_per_code_is_merged_into_one_authorization():
    text = (
        "Authorization Number,Payer,Member ID,CPT,Level,Side,Units,Valid From,Valid To,Status\n"
        "PA-7781,87726,XGH447120,64635,L4-5,RT,1,2026-07-01,2026-09-30,Approved\n"
        "PA-7781,87726,XGH447120,64636,L5-S1,RT,1,2026-07-01,2026-09-30,Approved\n"
    )

    (row,) = parse_portal_csv(text).rows

    assert row.procedure_codes == ("64635", "64636")
    assert row.levels == ("L4-L5", "L5-S1")
    assert row.sides == ("right",)
    assert row.lines == (2, 3)


def test_to_event_builds_an_auth_recorded_event_with_a_content_derived_id():
    row = parse_portal_csv(AVAILITY, practice_id="spine-east").rows[0]

    event = to_event(row, "spine-east", file_id="f-1")

    assert isinstance(event, AuthRecorded)
    assert event.practice_id == "spine-east"
    assert event.auth_number == "A2606-114"
    assert event.member_id == "W88120455"
    assert event.procedure_codes == ("64490", "64491", "64492", "64633")
    assert event.units_authorized == Decimal(2)
    assert event.status is AuthStatus.APPROVED
    assert event.occurred_at.tzinfo is not None
    assert event.correlation.file_id == "f-1"
    assert event.event_id == event_id_for(
        "auths.record",
        "spine-east",
        "60054",
        "A2606-114",
        "W88120455",
        "1215049283",
        "64490,64491,64492,64633",
        "2",
        "2026-06-01",
        "2026-08-31",
        "approved",
    )
    again = to_event(parse_portal_csv(AVAILITY).rows[0], "spine-east")
    assert again.event_id == event.event_id  # re-importing the same export is deduplicated
    approved_later = to_event(parse_portal_csv(AVAILITY.replace("Pended", "Approved")).rows[1], "spine-east")
    pending = to_event(parse_portal_csv(AVAILITY).rows[1], "spine-east")
    assert approved_later.event_id != pending.event_id  # a status change is a new event


def test_to_event_refuses_a_row_of_another_practice():
    text = (
        "Auth #,Payer ID,Member ID,Practice,Codes,From,To,Status\n"
        "A1,60054,W1,valley-pain,64493,2026-01-02,2026-02-02,approved\n"
    )
    row = parse_portal_csv(text).rows[0]

    with pytest.raises(ValueError, match="belongs to practice valley-pain"):
        to_event(row, "spine-east")


def test_load_from_a_file_with_a_byte_order_mark(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(b"\xef\xbb\xbf" + AVAILITY.encode("utf-8"))

    assert len(load_portal_csv(path).rows) == 3


# ---------------------------------------------------------------- errors


def test_bad_cells_are_all_reported_with_line_and_column():
    text = (
        "Auth #,Payer ID,Member ID,CPT Codes,Start Date,End Date,Status\n"
        "A1,60054,W1,64493,2026-13-01,2026-08-31,Approved\n"
        "A2,60054,W1,64495-64490,2026-06-01,2026-08-31,Approved\n"
        "A3,60054,W1,64493,2026-06-01,2026-05-31,Maybe\n"
    )

    with pytest.raises(PortalCsvError) as caught:
        parse_portal_csv(text, source="export.csv")

    errors = caught.value.errors
    assert errors[0] == (
        "export.csv line 2, column 5 'Start Date' (valid_from): expected a date like 2026-06-01 or "
        "06/01/2026, found '2026-13-01'"
    )
    assert errors[1].startswith("export.csv line 3, column 4 'CPT Codes' (codes):")
    assert "backwards" in errors[1]
    assert errors[2].startswith(
        "export.csv line 4, column 6 'End Date' (valid_to): expected a date on or after"
    )
    assert errors[3].startswith(
        "export.csv line 4, column 7 'Status' (status): expected a status like approved"
    )
    assert "found 'Maybe'" in errors[3]
    assert len(errors) == 4
    assert "4 problems" in str(caught.value)


def test_missing_required_columns_are_named_on_line_1():
    with pytest.raises(PortalCsvError) as caught:
        parse_portal_csv("Auth #,Member ID,Status\nA1,W1,approved\n", source="x.csv")

    message = str(caught.value)
    assert "x.csv line 1, header: no column for payer_id" in message
    assert "no column for codes" in message
    assert "no column for valid_from" in message


def test_two_columns_meaning_the_same_field_are_refused():
    with pytest.raises(PortalCsvError, match="both mean auth_number"):
        parse_portal_csv("Auth #,UTN,Payer,Member ID,Codes,From,To,Status\n")


def test_conflicting_rows_of_one_authorization_are_refused():
    text = (
        "Auth #,Payer ID,Member ID,Codes,From,To,Status\n"
        "A1,60054,W1,64493,2026-06-01,2026-08-31,Approved\n"
        "A1,60054,W1,64494,2026-06-01,2026-09-30,Approved\n"
    )
    with pytest.raises(
        PortalCsvError, match=r"line 3: authorization A1 is also on line 2 with a different valid_to"
    ):
        parse_portal_csv(text)


def test_a_row_of_another_practice_is_refused_when_importing_for_one():
    text = (
        "Auth #,Payer ID,Member ID,Practice ID,Codes,From,To,Status\n"
        "A1,60054,W1,valley-pain,64493,2026-01-02,2026-02-02,approved\n"
    )

    with pytest.raises(
        PortalCsvError, match=r"line 2, column 4 'Practice ID' \(practice_id\): expected 'spine-east'"
    ):
        parse_portal_csv(text, practice_id="spine-east")


@pytest.mark.parametrize(
    ("cells", "column"),
    [
        ("A1,60054,W1,64493,2026-06-01,2026-08-31,Approved,123", "provider_npi"),
        ("A1,60054,W1,6449,2026-06-01,2026-08-31,Approved,", "codes"),
        ("A1,60054,W1,,2026-06-01,2026-08-31,Approved,", "codes"),
        (",60054,W1,64493,2026-06-01,2026-08-31,Approved,", "auth_number"),
        ("A1,60054,,64493,2026-06-01,2026-08-31,Approved,", "member_id"),
        ("A1,60054,W1,64493,06/01/26,2026-08-31,Approved,", "valid_from"),
    ],
)
def test_each_bad_cell_names_its_column(cells, column):
    text = "Auth #,Payer ID,Member ID,Codes,From,To,Status,NPI\n" + cells + "\n"

    with pytest.raises(PortalCsvError) as caught:
        parse_portal_csv(text)

    assert caught.value.errors[0].startswith("portal export line 2, column")
    assert f"({column})" in caught.value.errors[0]


def test_a_row_with_the_wrong_number_of_fields():
    with pytest.raises(PortalCsvError, match="line 2: expected 7 fields like the header, found 8"):
        parse_portal_csv(
            "Auth #,Payer ID,Member ID,Codes,From,To,Status\n"
            "A1,60054,W1,64493,64494,2026-06-01,2026-08-31,Approved\n"
        )


def test_an_empty_file():
    with pytest.raises(PortalCsvError, match="line 1: expected a header"):
        parse_portal_csv("")


def test_no_alias_means_two_fields():
    seen: dict[str, str] = {}
    for name, aliases in COLUMN_ALIASES.items():
        for alias in (name, *aliases):
            assert seen.setdefault(header_key(alias), name) == name, alias
