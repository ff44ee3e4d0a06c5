"""Authorizations exported from payer portals (CSV), read into rows that become AuthRecorded events.

Every portal names its columns differently, so each field has aliases (docs/auths.md section 6 lists
them): "Auth #", "Tracking Number" and "UTN" are all the authorization number. Unknown columns are
ignored (and reported). Statuses have synonyms: "Affirmed", "Certified" -> approved; "Non-affirmed" ->
denied; "Pended", "In review" -> pending. Every bad cell is reported, each naming the line (header =
line 1), the column and what was expected and found; nothing is imported from a file with errors.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date
from decimal import Decimal
from pathlib import Path

from services.auths.domain.frequency import Side, normalize_level, normalize_side
from services.auths.domain.patients import PatientKey
from services.auths.domain.payer_rules import expand_codes
from shared.schemas import AuthRecorded, AuthStatus, Correlation, PersonRef, event_id_for, now_utc

MAX_ERRORS_LISTED = 20

COLUMN_ALIASES: Mapping[str, tuple[str, ...]] = {
    "auth_number": (
        "auth number",
        "authorization number",
        "auth no",
        "auth #",
        "authorization #",
        "auth id",
        "authorization id",
        "tracking number",
        "utn",
        "unique tracking number",
        "reference number",
        "ref #",
        "certification number",
        "cert number",
        "cert #",
    ),
    "payer_id": ("payer id", "payer", "payer code", "payor id", "payor"),
    "member_id": (
        "member id",
        "member number",
        "subscriber id",
        "insurance id",
        "policy number",
        "mbi",
        "medicare id",
        "beneficiary id",
    ),
    "patient_name": ("patient name", "patient", "member name", "beneficiary name"),
    "patient_last_name": ("last name", "patient last name", "member last name"),
    "patient_first_name": ("first name", "patient first name", "member first name"),
    "birth_date": ("dob", "date of birth", "birth date", "patient dob", "member dob", "birthdate"),
    "practice_id": ("practice id", "practice"),
    "provider_npi": (
        "provider npi",
        "npi",
        "rendering npi",
        "rendering provider npi",
        "servicing npi",
        "servicing provider npi",
    ),
    "codes": (
        "codes",
        "procedure codes",
        "procedure code",
        "procedures",
        "cpt",
        "cpt codes",
        "cpt code",
        "hcpcs",
        "cpt/hcpcs",
        "service codes",
    ),
    "levels": ("levels", "level", "spinal levels"),
    "sides": ("sides", "side", "laterality"),
    "units_authorized": (
        "units authorized",
        "authorized units",
        "units approved",
        "approved units",
        "units",
        "visits authorized",
    ),
    "units_used": ("units used", "used units", "units utilized", "visits used"),
    "valid_from": (
        "valid from",
        "from",
        "start date",
        "start",
        "effective date",
        "effective from",
        "auth start",
        "begin date",
        "from date",
    ),
    "valid_to": (
        "valid to",
        "to",
        "end date",
        "end",
        "expiration date",
        "expires",
        "effective to",
        "auth end",
        "through",
        "thru",
        "to date",
    ),
    "status": ("status", "auth status", "decision", "determination", "review status", "outcome"),
}
"""Canonical field -> the column headers that mean it. Headers compare ignoring case, spaces and
punctuation, with "#" read as "number": "Auth #", "AUTH NUMBER" and "auth_number" are one column."""

REQUIRED_FIELDS = ("auth_number", "payer_id", "member_id", "codes", "valid_from", "valid_to", "status")
"""payer_id may instead come from the import (`default_payer_id`), for a one-payer portal's export."""

STATUS_SYNONYMS: Mapping[AuthStatus, tuple[str, ...]] = {
    AuthStatus.APPROVED: (
        "approved",
        "affirmed",
        "provisionally affirmed",
        "provisional affirmation",
        "partially affirmed",
        "partially approved",
        "certified",
        "authorized",
        "authorised",
        "active",
    ),
    AuthStatus.DENIED: (
        "denied",
        "non-affirmed",
        "not affirmed",
        "non-certified",
        "not certified",
        "not authorized",
        "rejected",
        "declined",
        "adverse determination",
    ),
    AuthStatus.PENDING: (
        "pending",
        "pended",
        "in review",
        "under review",
        "in process",
        "in progress",
        "processing",
        "clinical review",
        "medical review",
        "pending review",
        "pended for information",
        "additional information requested",
    ),
    AuthStatus.REQUESTED: ("requested", "submitted", "received"),
    AuthStatus.EXPIRED: ("expired",),
    AuthStatus.CANCELLED: ("cancelled", "canceled", "withdrawn", "void", "voided", "rescinded"),
}


def header_key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower().replace("#", "number"))


_HEADER_TO_FIELD: Mapping[str, str] = {
    header_key(alias): name for name, aliases in COLUMN_ALIASES.items() for alias in (name, *aliases)
}
_STATUS: Mapping[str, AuthStatus] = {
    header_key(word): status for status, words in STATUS_SYNONYMS.items() for word in (status.value, *words)
}
_DATE_FORMATS = (
    re.compile(r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})$"),
    re.compile(r"^(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4})$"),
    re.compile(r"^(?P<m>\d{1,2})-(?P<d>\d{1,2})-(?P<y>\d{4})$"),
    re.compile(r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$"),
)
_UNITS = re.compile(r"^[0-9]{1,8}(\.[0-9]{1,2})?$")
_NPI = re.compile(r"^[0-9]{10}$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _./-]{0,79}$")
_PRACTICE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_LIST_SPLIT = re.compile(r"[,;/\s]+")
_DASH_SPACES = re.compile(r"\s*[-\u2013\u2014]\s*")


class PortalCsvError(ValueError):
    """A portal export that cannot be imported. `errors` holds every problem (the message lists at most
    MAX_ERRORS_LISTED), each naming the line, the column, what was expected and what was found."""

    def __init__(self, message: str, errors: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.errors: tuple[str, ...] = tuple(errors) or (message,)


@dataclass(frozen=True)
class PortalAuthRow:
    """One authorization from a portal export. `lines` are the file lines it came from (several when a
    portal writes one row per code)."""

    lines: tuple[int, ...]
    auth_number: str
    payer_id: str
    member_id: str
    procedure_codes: tuple[str, ...]
    valid_from: date
    valid_to: date
    status: AuthStatus
    status_text: str
    patient_last_name: str | None = None
    patient_first_name: str | None = None
    birth_date: date | None = None
    practice_id: str | None = None
    provider_npi: str | None = None
    levels: tuple[str, ...] = ()
    sides: tuple[Side, ...] = ()
    units_authorized: Decimal | None = None
    units_used: Decimal | None = None

    @property
    def patient(self) -> PatientKey:
        return PatientKey(self.member_id, self.birth_date, self.patient_last_name, self.patient_first_name)


@dataclass(frozen=True)
class PortalImport:
    rows: tuple[PortalAuthRow, ...]
    columns: Mapping[str, str]
    """Header as in the file -> the field it was read as."""
    ignored_columns: tuple[str, ...]


def load_portal_csv(
    path: Path, *, default_payer_id: str | None = None, practice_id: str | None = None
) -> PortalImport:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PortalCsvError(f"{path}: expected UTF-8 text, found a byte that is not ({exc.reason})") from exc
    except OSError as exc:
        raise PortalCsvError(f"{path}: cannot read the portal export ({exc.strerror or exc})") from exc
    return parse_portal_csv(
        text, source=path.name, default_payer_id=default_payer_id, practice_id=practice_id
    )


def parse_portal_csv(
    text: str,
    *,
    source: str = "portal export",
    default_payer_id: str | None = None,
    practice_id: str | None = None,
) -> PortalImport:
    """Read a portal export. `default_payer_id` fills a missing payer column or empty payer cells;
    `practice_id`, when given, is the practice the import is for: a row naming another practice is an
    error."""
    text = text.removeprefix("\ufeff")
    lines = text.splitlines(keepends=True)
    first = lines[0] if lines else ""
    delimiter = "," if "," in first else "\t" if "\t" in first else ";" if ";" in first else ","
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        header = [cell.strip() for cell in next(reader, [])]
    except csv.Error as exc:
        raise PortalCsvError(f"{source} line 1: cannot read the header ({exc})") from exc
    columns, ignored = _map_header(source, header, default_payer_id)

    errors: list[tuple[int, str]] = []
    rows: list[PortalAuthRow] = []
    next_line = reader.line_num + 1
    try:
        for record in reader:
            line, next_line = next_line, reader.line_num + 1
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != len(header):
                errors.append(
                    (
                        line,
                        f"{source} line {line}: expected {len(header)} fields like the header, found "
                        f"{len(record)} (quote a value that contains the delimiter {delimiter!r})",
                    )
                )
                continue
            cells = _Cells(source, line, header, columns, record, errors)
            row = _parse_row(cells, default_payer_id, practice_id)
            if row is not None:
                rows.append(row)
    except csv.Error as exc:
        errors.append((next_line, f"{source} line {next_line}: cannot read the row ({exc})"))

    merged = _merge(source, rows, errors)
    if errors:
        messages = [m for _, m in sorted(errors, key=lambda e: e[0])]
        shown = messages[:MAX_ERRORS_LISTED]
        if len(messages) > len(shown):
            shown.append(f"... and {len(messages) - len(shown)} more")
        noun = "problem" if len(messages) == 1 else "problems"
        raise PortalCsvError(
            f"{source}: portal export refused, {len(messages)} {noun}:\n"
            + "\n".join(f"  {m}" for m in shown),
            messages,
        )
    return PortalImport(
        tuple(merged), {header[i]: name for name, i in columns.items()}, tuple(header[i] for i in ignored)
    )


def _map_header(
    source: str, header: list[str], default_payer_id: str | None
) -> tuple[dict[str, int], list[int]]:
    if not any(header):
        raise PortalCsvError(f"{source} line 1: expected a header naming the columns, found an empty line")
    columns: dict[str, int] = {}
    ignored: list[int] = []
    problems = []
    for i, title in enumerate(header):
        name = _HEADER_TO_FIELD.get(header_key(title))
        if name is None:
            ignored.append(i)
        elif name in columns:
            problems.append(
                f"columns {columns[name] + 1} {header[columns[name]]!r} and {i + 1} {title!r} "
                f"both mean {name}"
            )
        else:
            columns[name] = i
    required = [f for f in REQUIRED_FIELDS if not (f == "payer_id" and default_payer_id)]
    missing = [f for f in required if f not in columns]
    for name in missing:
        aliases = ", ".join(repr(a) for a in COLUMN_ALIASES[name][:4])
        problems.append(f"no column for {name} (a header like {aliases})")
    if "patient_name" in columns and ({"patient_last_name", "patient_first_name"} & columns.keys()):
        problems.append("give the patient either as one name column or as last/first name columns, not both")
    if problems:
        messages = [f"{source} line 1, header: {p}" for p in problems]
        raise PortalCsvError(
            f"{source}: portal export refused:\n" + "\n".join(f"  {m}" for m in messages), messages
        )
    return columns, ignored


class _Cells:
    """A row's cells by field, and the error reporter for it."""

    def __init__(
        self,
        source: str,
        line: int,
        header: list[str],
        columns: Mapping[str, int],
        record: list[str],
        errors: list[tuple[int, str]],
    ) -> None:
        self.source, self.line, self.header, self.columns = source, line, header, columns
        self.record, self.errors, self.count = record, errors, 0

    def get(self, name: str) -> str:
        i = self.columns.get(name)
        return self.record[i].strip() if i is not None else ""

    def bad(self, name: str, wanted: str) -> None:
        i = self.columns[name]
        found = repr(self.record[i].strip()) if self.record[i].strip() else "an empty cell"
        self.count += 1
        self.errors.append(
            (
                self.line,
                f"{self.source} line {self.line}, column {i + 1} {self.header[i]!r} ({name}): "
                f"expected {wanted}, found {found}",
            )
        )


def _parse_row(c: _Cells, default_payer_id: str | None, practice_id: str | None) -> PortalAuthRow | None:
    auth_number = c.get("auth_number")
    if not _ID.match(auth_number):
        c.bad("auth_number", "the authorization or tracking number (UTN), letters and digits, at most 80")
    payer_id = c.get("payer_id") or (default_payer_id or "")
    if not _ID.match(payer_id):
        c.bad("payer_id", "the payer's id, like 12502")
    member_id = c.get("member_id")
    if not _ID.match(member_id):
        c.bad("member_id", "the patient's member id, like 1EG4-TE5-MK73")

    codes: list[str] = []
    cell = c.get("codes")
    for token in _LIST_SPLIT.split(_DASH_SPACES.sub("-", cell)) if cell else []:
        try:
            codes.extend(expand_codes(token))
        except ValueError as exc:
            c.bad("codes", f"procedure codes or ranges like '64490-64495; 64633' ({exc})")
            break
    else:
        if not codes:
            c.bad("codes", "at least one procedure code, like 64493 or 64490-64495")

    valid_from = _date(c.get("valid_from"))
    if valid_from is None:
        c.bad("valid_from", "a date like 2026-06-01 or 06/01/2026")
    valid_to = _date(c.get("valid_to"))
    if valid_to is None:
        c.bad("valid_to", "a date like 2026-08-31 or 08/31/2026")
    elif valid_from is not None and valid_to < valid_from:
        c.bad("valid_to", f"a date on or after valid_from {valid_from.isoformat()}")

    status_text = c.get("status")
    status = _STATUS.get(header_key(status_text))
    if status is None:
        c.bad(
            "status",
            "a status like approved, affirmed, certified, denied, non-affirmed, pending, pended, "
            "in review, requested, expired or cancelled",
        )

    last, first = _names(c)
    birth_date = None
    if c.get("birth_date"):
        birth_date = _date(c.get("birth_date"))
        if birth_date is None:
            c.bad("birth_date", "a date like 1956-03-14 or 03/14/1956 (four-digit year), or an empty cell")

    row_practice = c.get("practice_id") or None
    if row_practice is not None:
        if not _PRACTICE.match(row_practice):
            c.bad("practice_id", "a practice id (letters, digits, . _ -), or an empty cell")
        elif practice_id is not None and row_practice != practice_id:
            c.bad("practice_id", f"{practice_id!r} (this import is for that practice) or an empty cell")

    npi = c.get("provider_npi") or None
    if npi is not None and not _NPI.match(npi):
        c.bad("provider_npi", "a 10-digit NPI, or an empty cell")

    level_cell = _DASH_SPACES.sub("-", c.get("levels"))
    levels = tuple(normalize_level(v) for v in re.split(r"[,;\s]+", level_cell) if v)
    sides: list[Side] = []
    for token in (t for t in re.split(r"[,;/\s]+", c.get("sides")) if t):
        side = normalize_side(token)
        if side is None:
            c.bad("sides", "left, right or bilateral (also LT, RT, 50), or an empty cell")
            break
        sides.append(side)

    units: dict[str, Decimal | None] = {}
    for name in ("units_authorized", "units_used"):
        value = c.get(name)
        units[name] = Decimal(value) if _UNITS.match(value) else None
        if value and units[name] is None:
            c.bad(name, "a number of units like 2 or 1.5 (no minus sign), or an empty cell")

    if c.count or valid_from is None or valid_to is None or status is None:
        return None  # every way to get here recorded an error
    return PortalAuthRow(
        lines=(c.line,),
        auth_number=auth_number,
        payer_id=payer_id,
        member_id=member_id,
        procedure_codes=tuple(dict.fromkeys(codes)),
        valid_from=valid_from,
        valid_to=valid_to,
        status=status,
        status_text=status_text,
        patient_last_name=last,
        patient_first_name=first,
        birth_date=birth_date,
        practice_id=row_practice,
        provider_npi=npi,
        levels=tuple(dict.fromkeys(levels)),
        sides=tuple(dict.fromkeys(sides)),
        units_authorized=units["units_authorized"],
        units_used=units["units_used"],
    )


def _names(c: _Cells) -> tuple[str | None, str | None]:
    """`Last, First` or `First Last` from one column; or the last/first name columns."""
    if "patient_name" not in c.columns:
        return c.get("patient_last_name") or None, c.get("patient_first_name") or None
    full = c.get("patient_name")
    if not full:
        return None, None
    if "," in full:
        last, _, first = full.partition(",")
        return last.strip() or None, first.strip() or None
    words = full.split()
    if len(words) == 1:
        return words[0], None
    return " ".join(words[1:]), words[0]


def _date(text: str) -> date | None:
    for pattern in _DATE_FORMATS:
        found = pattern.match(text.strip())
        if found:
            try:
                return date(int(found["y"]), int(found["m"]), int(found["d"]))
            except ValueError:
                return None
    return None


_MERGED = frozenset({"lines", "procedure_codes", "levels", "sides"})


def _merge(source: str, rows: list[PortalAuthRow], errors: list[tuple[int, str]]) -> list[PortalAuthRow]:
    """Rows of one authorization (same payer and auth number) become one, their codes, levels and sides
    joined, when every other field agrees; otherwise the later row is an error."""
    by_key: dict[tuple[str, str], PortalAuthRow] = {}
    for row in rows:
        key = (row.payer_id, row.auth_number)
        seen = by_key.get(key)
        if seen is None:
            by_key[key] = row
            continue
        differ = [
            f.name
            for f in fields(PortalAuthRow)
            if f.name not in _MERGED
            and f.name != "status_text"
            and getattr(row, f.name) != getattr(seen, f.name)
        ]
        if differ:
            errors.append(
                (
                    row.lines[0],
                    f"{source} line {row.lines[0]}: authorization {row.auth_number} is also on line "
                    f"{seen.lines[0]} with a different {', '.join(differ)}; rows of one authorization must "
                    f"agree except codes, levels and sides",
                )
            )
            continue
        by_key[key] = replace(
            seen,
            lines=seen.lines + row.lines,
            procedure_codes=tuple(dict.fromkeys(seen.procedure_codes + row.procedure_codes)),
            levels=tuple(dict.fromkeys(seen.levels + row.levels)),
            sides=tuple(dict.fromkeys(seen.sides + row.sides)),
        )
    return list(by_key.values())


def to_event(row: PortalAuthRow, practice_id: str, *, file_id: str | None = None) -> AuthRecorded:
    """The AuthRecorded event for a row. Its event id comes from the practice, payer, auth number and
    everything the event says, so re-importing the same export is deduplicated by the auths service,
    while a changed status, date, code or unit count is a new event."""
    if row.practice_id is not None and row.practice_id != practice_id:
        raise ValueError(
            f"authorization {row.auth_number} belongs to practice {row.practice_id}, not {practice_id}"
        )
    units = "" if row.units_authorized is None else f"{row.units_authorized.normalize():f}"
    return AuthRecorded(
        event_id=event_id_for(
            "auths.record",
            practice_id,
            row.payer_id,
            row.auth_number,
            row.member_id,
            row.provider_npi or "",
            ",".join(row.procedure_codes),
            units,
            row.valid_from.isoformat(),
            row.valid_to.isoformat(),
            row.status.value,
        ),
        occurred_at=now_utc(),
        practice_id=practice_id,
        correlation=Correlation(file_id=file_id),
        auth_number=row.auth_number,
        payer_id=row.payer_id,
        member_id=row.member_id,
        provider_npi=row.provider_npi,
        procedure_codes=row.procedure_codes,
        units_authorized=row.units_authorized,
        units_used=row.units_used,
        patient=PersonRef(
            last_name=row.patient_last_name, first_name=row.patient_first_name, member_id=row.member_id
        ),
        patient_birth_date=row.birth_date,
        levels=row.levels,
        sides=tuple(str(s) for s in row.sides),
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        status=row.status,
    )
