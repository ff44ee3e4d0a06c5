"""NCCI PTP and MUE importers: small files written here in the CMS layouts (title and copyright lines, a
header split over rows, tab or comma delimited, a ZIP as downloaded) read into tables; rows that do not
read are named by file and line."""

from __future__ import annotations

import zipfile
from datetime import date
from pathlib import Path

import pytest

from services.denials.domain.ncci import NcciFileError, load_mue, load_ptp, parse_ptp

COPYRIGHT = "CPT codes, descriptions and other data only are copyright 2025 American Medical Association."
PTP_HEADER = (
    "Column 1\tColumn 2\t*=in existence prior to 1996\tEffective Date\tDeletion Date *=no data\t"
    "Modifier 0=not allowed 1=allowed 9=not applicable\tPTP Edit Rationale"
)


def tsv(*rows: tuple[str, ...] | str) -> str:
    return "\r\n".join(r if isinstance(r, str) else "\t".join(r) for r in rows) + "\r\n"


PTP_ROWS = (
    ("64635", "64493", "", "20210101", "*", "1", "Standards of medical / surgical practice"),
    ("64483", "62323", "", "20170101", "*", "0", "Mutually exclusive procedures"),
    ("64490", "77003", "*", "19960101", "", "0", "Misuse of column two code with column one code"),
    ("64633", "64490", "", "20210101", "20260101", "1", "Standards of medical / surgical practice"),
    ("64493", "20552", "", "20200101", "20200101", "9", "Deleted the day it took effect"),
)


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


# ---------------------------------------------------------------- PTP


def test_a_tab_delimited_ptp_file_with_a_title_line_reads_every_edit(tmp_path: Path):
    table = load_ptp(write(tmp_path, "ccipra-v323r0-f1.txt", tsv(COPYRIGHT, "", PTP_HEADER, *PTP_ROWS)))
    assert len(table) == 5
    edit = table.edit_for("64635", "64493", date(2026, 9, 14))
    assert edit is not None
    assert (edit.modifier_indicator, edit.bypassable, edit.applies) == ("1", True, True)
    assert (edit.effective, edit.deletion, edit.line) == (date(2021, 1, 1), None, 4)
    assert edit.rationale == "Standards of medical / surgical practice"
    never = table.edit_for("64483", "62323", date(2026, 9, 14))
    assert never is not None and not never.bypassable
    assert table.edit_for("64490", "77003", date(2026, 9, 14)) is not None  # blank deletion: in force
    assert table.edit_for("62323", "64483", date(2026, 9, 14)) is None  # pairs are ordered


def test_the_practitioner_header_split_over_four_rows_is_merged_by_column(tmp_path: Path):
    header_block = (
        ("Column 1", "Column 2", "*=in existence", "Effective", "Deletion", "Modifier", "PTP Edit Rationale"),
        ("", "", "prior to 1996", "Date", "Date", "0=not allowed", ""),
        ("", "", "", "", "*=no data", "1=allowed", ""),
        ("", "", "", "", "", "9=not applicable", ""),
    )
    text = tsv(COPYRIGHT, "Column1/Column2 Edits", *header_block, *PTP_ROWS)
    table = load_ptp(write(tmp_path, "ccipra.txt", text, "latin-1"))
    assert len(table) == 5
    edit = table.edit_for("64633", "64490", date(2025, 12, 31))
    assert edit is not None and edit.line == 10


def test_a_comma_delimited_file_with_columns_in_another_order_and_case_reads(tmp_path: Path):
    text = (
        '"CPT only copyright 2025 American Medical Association. All rights reserved."\n'
        "PTP EDIT RATIONALE,COLUMN 2,COLUMN 1,MODIFIER 0=NOT ALLOWED 1=ALLOWED 9=NOT APPLICABLE,"
        '"Effective Date","Deletion Date *=no data"\n'
        '"Standards of medical, surgical practice",64493,64635,1,20210101,*\n'
    )
    table = load_ptp(write(tmp_path, "ptp.csv", text))
    edit = table.edit_for("64635", "64493", date(2026, 1, 5))
    assert edit is not None
    assert edit.rationale == "Standards of medical, surgical practice"


def test_an_edit_is_in_force_from_its_effective_date_until_the_day_before_its_deletion(tmp_path: Path):
    table = load_ptp(write(tmp_path, "ptp.txt", tsv(PTP_HEADER, *PTP_ROWS)))
    assert table.edit_for("64633", "64490", date(2025, 12, 31)) is not None
    assert table.edit_for("64633", "64490", date(2026, 1, 1)) is None
    assert table.edit_for("64635", "64493", date(2020, 12, 31)) is None
    assert table.edit_for("64633", "64490", None) is None  # deleted: without a date it does not count
    assert table.edit_for("64635", "64493", None) is not None
    deleted = table.edit_for("64493", "20552", date(2019, 12, 31))
    assert deleted is None


def test_indicator_9_edits_load_but_do_not_apply():
    edits, problems = parse_ptp(tsv(PTP_HEADER, ("64493", "20552", "", "20200101", "*", "9", "n/a")))
    assert problems == []
    assert [(e.column2, e.applies, e.bypassable) for e in edits] == [("20552", False, False)]


def test_rows_that_do_not_read_are_named_by_file_and_line(tmp_path: Path):
    bad = tsv(
        COPYRIGHT,
        PTP_HEADER,
        PTP_ROWS[0],
        ("6463", "64493", "", "20210101", "*", "1", "short code"),
        ("64635", "64494", "", "2021-01-01", "*", "1", "dashed date"),
        ("64635", "64495", "", "20210101", "20211331", "1", "no such month"),
        ("64635", "64492", "", "20210101", "*", "2", "unknown indicator"),
        ("64635", "64491"),
        "",
        PTP_ROWS[1],
    )
    path = write(tmp_path, "ptp.txt", bad)
    with pytest.raises(NcciFileError) as caught:
        load_ptp(path)
    message = str(caught.value)
    assert f"{path} line 4: column-1 code '6463' is not a 5-character HCPCS/CPT code" in message
    assert f"{path} line 5: effective date '2021-01-01' is not a CCYYMMDD date" in message
    assert f"{path} line 6: deletion date '20211331' is not a CCYYMMDD date or *" in message
    assert f"{path} line 7: modifier indicator '2' is not 0, 1 or 9" in message
    assert f"{path} line 8: effective date '(empty)' is not a CCYYMMDD date" in message
    lenient = load_ptp(path, strict=False)
    assert len(lenient) == 2
    assert [p.line for p in lenient.problems] == [4, 5, 6, 7, 8]


def test_a_file_without_the_ptp_header_is_refused(tmp_path: Path):
    path = write(tmp_path, "notes.txt", tsv("Column 1\tColumn 2\tComment", ("64635", "64493", "hello")))
    with pytest.raises(
        NcciFileError, match=r"notes.txt: not an NCCI PTP file: no header naming Column 1, Column 2"
    ):
        load_ptp(path)
    with pytest.raises(NcciFileError, match="cannot read the file"):
        load_ptp(tmp_path / "missing.txt")


def test_the_zip_as_downloaded_and_several_files_are_read_together(tmp_path: Path):
    archive = tmp_path / "medicare-ncci-2026q4-practitioner-ptp-edits.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("ccipra-v323r0-f1.txt", tsv(COPYRIGHT, PTP_HEADER, *PTP_ROWS[:2]))
        z.writestr("ccipra-v323r0-f2.txt", tsv(COPYRIGHT, PTP_HEADER, *PTP_ROWS[2:]))
        z.writestr("readme.pdf", b"%PDF")
    table = load_ptp(archive)
    assert len(table) == 5
    assert table.sources == (f"{archive}!ccipra-v323r0-f1.txt", f"{archive}!ccipra-v323r0-f2.txt")
    extra = write(tmp_path, "more.txt", tsv(PTP_HEADER, ("64483", "64484", "", "20200101", "*", "0", "x")))
    assert len(load_ptp([archive, extra])) == 6


def test_a_bad_row_inside_a_zip_is_named_by_archive_member_and_line(tmp_path: Path):
    archive = tmp_path / "ptp.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("f1.txt", tsv(PTP_HEADER, ("64635", "64493", "", "20210101", "*", "7", "bad")))
    with pytest.raises(
        NcciFileError, match=r"ptp.zip!f1.txt line 2: modifier indicator '7' is not 0, 1 or 9"
    ):
        load_ptp(archive)


def test_only_pairs_touching_the_codes_asked_for_are_kept(tmp_path: Path):
    table = load_ptp(write(tmp_path, "ptp.txt", tsv(PTP_HEADER, *PTP_ROWS)), codes={"62323"})
    assert list(table.edits) == [("64483", "62323")]


# ---------------------------------------------------------------- MUE


MUE_CSV = (
    '"CPT codes, descriptions and other data only are copyright 2025 American Medical Association.\n'
    'All Rights Reserved. Applicable FARS/HHSARS apply."\n'
    '"HCPCS/\n'
    'CPT Code",Practitioner Services MUE Values,MUE Adjudication Indicator,MUE Rationale\n'
    "20552,1,2 Date of Service Edit: Policy,Code Descriptor / CPT Instruction\n"
    "64493,1,2 Date of Service Edit: Policy,CMS Policy\n"
    "J1030,4,1 Line Edit,Clinical: Data\n"
    "80305,1,3 Date of Service Edit: Clinical,Clinical: Data\n"
)


def test_the_practitioner_mue_csv_with_its_copyright_cell_reads(tmp_path: Path):
    table = load_mue(write(tmp_path, "mue.csv", MUE_CSV))
    assert len(table) == 4
    facet = table.get("64493")
    assert facet is not None
    assert (facet.value, facet.adjudication, facet.adjudication_text, facet.rationale, facet.line) == (
        1,
        2,
        "Date of Service Edit: Policy",
        "CMS Policy",
        6,
    )
    assert facet.per_date_of_service
    steroid = table.get("J1030")
    assert steroid is not None and steroid.adjudication == 1 and not steroid.per_date_of_service
    assert table.get("99213") is None


def test_a_tab_delimited_outpatient_mue_file_with_bare_indicators_reads(tmp_path: Path):
    text = tsv(
        "HCPCS/CPT Code\tOutpatient Hospital Services MUE Values\tMUE Adjudication Indicator\tMUE Rationale",
        ("62323", "1", "2", "Anatomic Consideration"),
    )
    edit = load_mue(write(tmp_path, "mue.txt", text)).get("62323")
    assert edit is not None and (edit.value, edit.adjudication) == (1, 2)


def test_mue_rows_that_do_not_read_are_named_by_line(tmp_path: Path):
    text = (
        MUE_CSV
        + "64494,one,2 Date of Service Edit: Policy,CMS Policy\n"
        + "6449,1,2,x\n64495,1,4 Other,x\n64493,2,1,again\n"
    )
    path = write(tmp_path, "mue.csv", text)
    with pytest.raises(NcciFileError) as caught:
        load_mue(path)
    message = str(caught.value)
    assert f"{path} line 9: MUE value 'one' is not a whole number of units" in message
    assert f"{path} line 10: code '6449' is not a 5-character HCPCS/CPT code" in message
    assert f"{path} line 11: MUE adjudication indicator '4 Other' is not 1, 2 or 3" in message
    assert f"{path} line 12: code 64493 appears again (first at {path} line 6)" in message
    assert len(load_mue(path, strict=False)) == 4


def test_a_file_without_the_mue_header_is_refused(tmp_path: Path):
    with pytest.raises(
        NcciFileError, match="not an NCCI MUE file: no header naming HCPCS/CPT Code, MUE Values"
    ):
        load_mue(write(tmp_path, "mue.csv", "code,units\n64493,1\n"))
