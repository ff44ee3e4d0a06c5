"""NCCI procedure-to-procedure (PTP) edits and medically unlikely edits (MUE) from the CMS quarterly files.

CMS publishes both every quarter as ZIP archives of delimited text (and Excel). The project ships none of
them: an operator downloads the current quarter and points the scrub at it. What the readers accept:

- PTP: tab- or comma-delimited text. Title and copyright lines come first, then a header naming
  `Column 1`, `Column 2`, `*=in existence prior to 1996`, `Effective Date`, `Deletion Date *=no data`,
  `Modifier 0=not allowed 1=allowed 9=not applicable` and `PTP Edit Rationale`. The practitioner file
  splits that header over several physical rows (one word group per row); the rows are merged column by
  column until every needed column is named. Dates are CCYYMMDD; a deletion date of `*` or blank means
  the edit is still in force.
- MUE: comma- or tab-delimited text. A copyright block, then a header naming `HCPCS/CPT Code`,
  `Practitioner Services MUE Values` (or the outpatient hospital / DME wording), `MUE Adjudication
  Indicator` and `MUE Rationale`. The adjudication indicator cell is a digit followed by its meaning,
  e.g. `2 Date of Service Edit: Policy`.

Headers are recognised by their normalised text (case, punctuation and line breaks ignored), so a column
order change or a slightly different wording still reads. A row that does not read is named by file and
line; by default the whole import is refused, because a half-loaded edit table hides bundling errors.
A `.zip` as downloaded from CMS is read member by member (its `.txt` and `.csv` files).
"""

from __future__ import annotations

import csv
import io
import re
import sys
import zipfile
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from itertools import chain, islice
from pathlib import Path
from typing import Literal

PTP_BYPASS_MODIFIERS = ("59", "XE", "XP", "XS", "XU")
"""NCCI-associated modifiers that bypass a PTP edit whose modifier indicator is 1, on the column-2 code."""

ModifierIndicator = Literal["0", "1", "9"]
AdjudicationIndicator = Literal[1, 2, 3]

_CODE = re.compile(r"^(?=.*[0-9])[A-Z0-9]{5}$")
_HEADER_SCAN_RECORDS = 60
_MAX_HEADER_ROWS = 6
_MAX_LISTED_PROBLEMS = 10


class NcciFileError(ValueError):
    """An NCCI file cannot be used; the message names the file, the line and the problem."""


@dataclass(frozen=True)
class RowProblem:
    source: str
    line: int
    problem: str

    def __str__(self) -> str:
        return f"{self.source} line {self.line}: {self.problem}"


@dataclass(frozen=True, slots=True)
class PtpEdit:
    """One column-1/column-2 pair. The column-2 code is the one denied when both are billed on a date."""

    column1: str
    column2: str
    effective: date
    deletion: date | None
    modifier_indicator: ModifierIndicator
    rationale: str
    source: str
    line: int

    def in_force_on(self, service_date: date | None) -> bool:
        """In force from the effective date up to the day before the deletion date. Without a date of
        service only an edit that was never deleted counts."""
        if service_date is None:
            return self.deletion is None
        return self.effective <= service_date and (self.deletion is None or service_date < self.deletion)

    @property
    def applies(self) -> bool:
        """Indicator 9: the edit does not apply (deleted or not applicable)."""
        return self.modifier_indicator != "9"

    @property
    def bypassable(self) -> bool:
        """Indicator 1: a distinct service may be shown with 59/XE/XP/XS/XU on the column-2 code."""
        return self.modifier_indicator == "1"


@dataclass(frozen=True, slots=True)
class MueEdit:
    code: str
    value: int
    adjudication: AdjudicationIndicator
    adjudication_text: str
    rationale: str
    source: str
    line: int

    @property
    def per_date_of_service(self) -> bool:
        """MAI 2 and 3 count every line of the code on the date; MAI 1 counts each line on its own."""
        return self.adjudication != 1


@dataclass(frozen=True)
class PtpTable:
    edits: Mapping[tuple[str, str], tuple[PtpEdit, ...]]
    sources: tuple[str, ...] = ()
    problems: tuple[RowProblem, ...] = ()

    def __len__(self) -> int:
        return sum(len(rows) for rows in self.edits.values())

    def edit_for(self, column1: str, column2: str, service_date: date | None) -> PtpEdit | None:
        """The edit of this ordered pair in force on the date, if any (indicator 9 included)."""
        for edit in self.edits.get((column1, column2), ()):
            if edit.in_force_on(service_date):
                return edit
        return None


@dataclass(frozen=True)
class MueTable:
    edits: Mapping[str, MueEdit]
    sources: tuple[str, ...] = ()
    problems: tuple[RowProblem, ...] = ()

    def __len__(self) -> int:
        return len(self.edits)

    def get(self, code: str) -> MueEdit | None:
        return self.edits.get(code)


# ---------------------------------------------------------------- reading delimited text


@dataclass(frozen=True)
class _Record:
    line: int
    cells: tuple[str, ...]

    @property
    def blank(self) -> bool:
        return not any(self.cells)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # CMS text files carry a latin-1 copyright sign


def _delimiter(text: str) -> str:
    head = text[:20000]
    return "\t" if head.count("\t") >= head.count(",") and "\t" in head else ","


def _records(text: str) -> Iterator[_Record]:
    """Records with the physical line they start on (a quoted cell may span lines)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    start = 1
    for row in reader:
        yield _Record(start, tuple(cell.strip() for cell in row))
        start = reader.line_num + 1


def _normalised(header: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", header.lower()).split())


def _sources(paths: Path | Iterable[Path]) -> Iterator[tuple[str, str]]:
    """(name, text) of each file; a ZIP gives each of its .txt and .csv members."""
    for path in [paths] if isinstance(paths, Path) else list(paths):
        try:
            if path.suffix.lower() == ".zip":
                with zipfile.ZipFile(path) as archive:
                    members = [m for m in archive.namelist() if m.lower().endswith((".txt", ".csv"))]
                    if not members:
                        raise NcciFileError(f"{path}: the archive holds no .txt or .csv edit file")
                    for member in sorted(members):
                        yield f"{path}!{member}", _decode(archive.read(member))
            else:
                yield str(path), _decode(path.read_bytes())
        except OSError as exc:
            raise NcciFileError(f"{path}: cannot read the file: {exc.strerror or exc}") from exc
        except zipfile.BadZipFile as exc:
            raise NcciFileError(f"{path}: not a readable ZIP archive: {exc}") from exc


# ---------------------------------------------------------------- header recognition


_PTP_REQUIRED = ("column1", "column2", "effective", "deletion", "modifier")
_PTP_NAMES = {
    "column1": "Column 1",
    "column2": "Column 2",
    "effective": "Effective Date",
    "deletion": "Deletion Date",
    "modifier": "Modifier 0=not allowed 1=allowed 9=not applicable",
}


def _ptp_field(header: str) -> str | None:
    text = _normalised(header)
    if not text:
        return None
    if "1996" in text or "in existence" in text:
        return "prior_1996"
    if "rationale" in text:
        return "rationale"
    if text.startswith("deletion") or "deletion date" in text:
        return "deletion"
    if text.startswith("effective") or "effective date" in text:
        return "effective"
    if text.startswith("modifier") or "modifier indicator" in text:
        return "modifier"
    if re.match(r"^(column|col) ?(1|one)\b", text) or text.startswith("comprehensive"):
        return "column1"
    if re.match(r"^(column|col) ?(2|two)\b", text) or text.startswith("component"):
        return "column2"
    return None


_MUE_REQUIRED = ("code", "value", "adjudication")
_MUE_NAMES = {
    "code": "HCPCS/CPT Code",
    "value": "MUE Values",
    "adjudication": "MUE Adjudication Indicator",
}


def _mue_field(header: str) -> str | None:
    text = _normalised(header)
    if not text:
        return None
    if "rationale" in text:
        return "rationale"
    if "adjudication" in text or text in ("mai", "mue indicator"):
        return "adjudication"
    if "mue value" in text or text in ("mue", "value", "mue units"):
        return "value"
    if "hcpcs" in text or "cpt" in text or text == "code":
        return "code"
    return None


@dataclass(frozen=True)
class _Header:
    columns: Mapping[str, int]
    last_line: int


def _merged(rows: Sequence[_Record]) -> list[str]:
    width = max(len(r.cells) for r in rows)
    return [" ".join(r.cells[i] for r in rows if i < len(r.cells) and r.cells[i]) for i in range(width)]


def _recognise(
    cells: Sequence[str], recognise: Callable[[str], str | None], required: Sequence[str]
) -> dict[str, int] | None:
    columns: dict[str, int] = {}
    for index, cell in enumerate(cells):
        name = recognise(cell)
        if name is not None and name not in columns:
            columns[name] = index
    return columns if all(name in columns for name in required) else None


@dataclass(frozen=True)
class _Layout:
    """What tells one kind of NCCI file from another: its header names and what a data row looks like."""

    what: str
    recognise: Callable[[str], str | None]
    required: tuple[str, ...]
    names: Mapping[str, str]
    looks_like_data: Callable[[_Record], bool]


def _find_header(records: Sequence[_Record], source: str, layout: _Layout) -> tuple[_Header, int]:
    """The header, merged from up to six rows right above the first data row, and where data starts."""
    scan = [r for r in records if not r.blank]
    first_data = next((i for i, r in enumerate(scan) if layout.looks_like_data(r)), len(scan))
    for depth in range(1, min(_MAX_HEADER_ROWS, first_data) + 1):
        block = scan[first_data - depth : first_data]
        columns = _recognise(_merged(block), layout.recognise, layout.required)
        if columns is not None:
            last_line = block[-1].line
            start = next((i for i, r in enumerate(records) if r.line > last_line), len(records))
            return _Header(columns, last_line), start
    wanted = ", ".join(layout.names[name] for name in layout.required)
    raise NcciFileError(
        f"{source}: not an NCCI {layout.what} file: no header naming {wanted} "
        f"in the first {_HEADER_SCAN_RECORDS} lines"
    )


def _data_records(text: str, source: str, layout: _Layout) -> tuple[_Header, Iterator[_Record]]:
    """The header and the records after it, read as they are needed (CMS files run to 700,000 rows)."""
    records = _records(text)
    head = list(islice(records, _HEADER_SCAN_RECORDS))
    header, start = _find_header(head, source, layout)
    return header, chain(head[start:], records)


def _cell(record: _Record, header: _Header, name: str) -> str:
    index = header.columns.get(name)
    if index is None or index >= len(record.cells):
        return ""
    return record.cells[index]


@lru_cache(maxsize=8192)
def _ccyymmdd(raw: str) -> date | None:
    if len(raw) != 8 or not raw.isdigit():
        return None
    try:
        return date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
    except ValueError:
        return None


def _refuse(problems: Sequence[RowProblem], what: str) -> None:
    listed = "\n  ".join(str(p) for p in problems[:_MAX_LISTED_PROBLEMS])
    more = len(problems) - _MAX_LISTED_PROBLEMS
    tail = f"\n  ... and {more} more" if more > 0 else ""
    raise NcciFileError(f"the {what} file has rows that do not read:\n  {listed}{tail}")


# ---------------------------------------------------------------- PTP


def _is_code(cell: str) -> bool:
    return bool(_CODE.match(cell.upper()))


def _looks_like_ptp_row(record: _Record) -> bool:
    """Two HCPCS/CPT codes in any columns; no header cell is a code (codes always hold a digit)."""
    return sum(_is_code(cell) for cell in record.cells) >= 2


_PTP_LAYOUT = _Layout("PTP", _ptp_field, _PTP_REQUIRED, _PTP_NAMES, _looks_like_ptp_row)


def _ptp_edit(record: _Record, header: _Header, source: str) -> PtpEdit:
    column1 = _cell(record, header, "column1").upper()
    column2 = _cell(record, header, "column2").upper()
    for name, code in (("column-1", column1), ("column-2", column2)):
        if not _CODE.match(code):
            raise ValueError(f"{name} code {code or '(empty)'!r} is not a 5-character HCPCS/CPT code")
    raw_effective = _cell(record, header, "effective")
    effective = _ccyymmdd(raw_effective)
    if effective is None:
        raise ValueError(f"effective date {raw_effective or '(empty)'!r} is not a CCYYMMDD date")
    raw_deletion = _cell(record, header, "deletion")
    deletion = None if raw_deletion in ("", "*") else _ccyymmdd(raw_deletion)
    if raw_deletion not in ("", "*") and deletion is None:
        raise ValueError(f"deletion date {raw_deletion!r} is not a CCYYMMDD date or *")
    indicator = _cell(record, header, "modifier")
    if indicator not in ("0", "1", "9"):
        raise ValueError(f"modifier indicator {indicator or '(empty)'!r} is not 0, 1 or 9")
    return PtpEdit(
        column1=sys.intern(column1),
        column2=sys.intern(column2),
        effective=effective,
        deletion=deletion,
        modifier_indicator=indicator,  # type: ignore[arg-type]  # checked just above
        rationale=sys.intern(_cell(record, header, "rationale")),
        source=source,
        line=record.line,
    )


def _touches(record: _Record, header: _Header, codes: Collection[str]) -> bool:
    return (
        _cell(record, header, "column1").upper() in codes or _cell(record, header, "column2").upper() in codes
    )


def parse_ptp(
    text: str, source: str = "<ptp>", *, codes: Collection[str] | None = None
) -> tuple[list[PtpEdit], list[RowProblem]]:
    """Edits and row problems of one PTP text. With `codes`, only pairs touching one of them are kept (and
    only their rows are checked): the way to load a 700,000-row table for the codes of a few claims."""
    header, records = _data_records(text, source, _PTP_LAYOUT)
    edits: list[PtpEdit] = []
    problems: list[RowProblem] = []
    for record in records:
        if record.blank or (codes is not None and not _touches(record, header, codes)):
            continue
        try:
            edits.append(_ptp_edit(record, header, source))
        except ValueError as exc:
            problems.append(RowProblem(source, record.line, str(exc)))
    return edits, problems


def load_ptp(
    paths: Path | Iterable[Path], *, strict: bool = True, codes: Collection[str] | None = None
) -> PtpTable:
    """Read one or more PTP files (CMS splits the practitioner table over several). `strict` refuses the
    import when a row does not read; otherwise the rows are skipped and kept in `problems`."""
    index: dict[tuple[str, str], list[PtpEdit]] = defaultdict(list)
    problems: list[RowProblem] = []
    names: list[str] = []
    for name, text in _sources(paths):
        names.append(name)
        edits, bad = parse_ptp(text, name, codes=codes)
        problems.extend(bad)
        for edit in edits:
            index[(edit.column1, edit.column2)].append(edit)
    if strict and problems:
        _refuse(problems, "PTP")
    newest_first = {
        pair: tuple(sorted(rows, key=lambda e: e.effective, reverse=True)) for pair, rows in index.items()
    }
    return PtpTable(newest_first, tuple(names), tuple(problems))


# ---------------------------------------------------------------- MUE


def _looks_like_mue_row(record: _Record) -> bool:
    """A code and a whole number of units in any columns."""
    codes = [i for i, cell in enumerate(record.cells) if _is_code(cell)]
    return bool(codes) and any(cell.isdigit() for i, cell in enumerate(record.cells) if i != codes[0])


_MUE_LAYOUT = _Layout("MUE", _mue_field, _MUE_REQUIRED, _MUE_NAMES, _looks_like_mue_row)


def _mue_edit(record: _Record, header: _Header, source: str) -> MueEdit:
    code = _cell(record, header, "code").upper()
    if not _CODE.match(code):
        raise ValueError(f"code {code or '(empty)'!r} is not a 5-character HCPCS/CPT code")
    raw_value = _cell(record, header, "value")
    if not raw_value.isdigit():
        raise ValueError(f"MUE value {raw_value or '(empty)'!r} is not a whole number of units")
    raw_mai = _cell(record, header, "adjudication")
    digit = raw_mai[:1]
    if digit not in ("1", "2", "3") or (len(raw_mai) > 1 and raw_mai[1].isdigit()):
        raise ValueError(f"MUE adjudication indicator {raw_mai or '(empty)'!r} is not 1, 2 or 3")
    mai: AdjudicationIndicator = 1 if digit == "1" else 2 if digit == "2" else 3
    return MueEdit(
        code=code,
        value=int(raw_value),
        adjudication=mai,
        adjudication_text=raw_mai[1:].strip(" -:"),
        rationale=_cell(record, header, "rationale"),
        source=source,
        line=record.line,
    )


def parse_mue(text: str, source: str = "<mue>") -> tuple[list[MueEdit], list[RowProblem]]:
    header, records = _data_records(text, source, _MUE_LAYOUT)
    edits: list[MueEdit] = []
    problems: list[RowProblem] = []
    for record in records:
        if record.blank:
            continue
        try:
            edits.append(_mue_edit(record, header, source))
        except ValueError as exc:
            problems.append(RowProblem(source, record.line, str(exc)))
    return edits, problems


def load_mue(paths: Path | Iterable[Path], *, strict: bool = True) -> MueTable:
    """Read one or more MUE files of one setting (practitioner, outpatient hospital or DME). A code that
    appears twice is a problem: two settings were mixed or the file is damaged."""
    edits: dict[str, MueEdit] = {}
    problems: list[RowProblem] = []
    names: list[str] = []
    for name, text in _sources(paths):
        names.append(name)
        rows, bad = parse_mue(text, name)
        problems.extend(bad)
        for edit in rows:
            first = edits.get(edit.code)
            if first is not None:
                problems.append(
                    RowProblem(
                        name,
                        edit.line,
                        f"code {edit.code} appears again (first at {first.source} line {first.line})",
                    )
                )
                continue
            edits[edit.code] = edit
    if strict and problems:
        _refuse(problems, "MUE")
    return MueTable(edits, tuple(names), tuple(problems))
