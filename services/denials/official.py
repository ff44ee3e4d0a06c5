"""The official X12 CARC and RARC lists, imported from a CSV the customer supplies.

The lists are copyrighted by X12 and are never shipped with claimline. A billing company that licenses
them exports a CSV and imports it (`claimline codes import carc FILE.csv`); the official wording and the
start and stop dates then appear beside our plain-English meaning, and a code used on a remittance
after its stop date is flagged.

Columns (header names are matched without regard to case, spaces or underscores):
`code` (required), `description` (required; also read from `official description` or `text`),
`start date` (or `effective date`), `stop date` (or `deactivation date`, `end date`); dates as
YYYY-MM-DD or MM/DD/YYYY.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.denials.adapters.orm import official_codes

KINDS = ("carc", "rarc")
ALIASES = {
    "code": ("code", "carc", "rarc", "reasoncode", "remarkcode"),
    "description": ("description", "officialdescription", "text", "codedescription"),
    "start_date": ("startdate", "effectivedate", "start"),
    "stop_date": ("stopdate", "deactivationdate", "enddate", "stop"),
}
CODE_PATTERNS = {
    "carc": re.compile(r"^([0-9]{1,3}|[A-Z][0-9]{1,2})$"),
    "rarc": re.compile(r"^[A-Z]{1,2}[0-9]{1,5}$"),
}


class OfficialListError(ValueError):
    pass


@dataclass(frozen=True)
class OfficialCode:
    kind: str
    code: str
    description: str
    start_date: date | None
    stop_date: date | None

    def retired_on(self, day: date) -> bool:
        return self.stop_date is not None and day > self.stop_date


def _norm(name: str) -> str:
    return re.sub(r"[^a-z]", "", name.lower())


def _date(raw: str) -> date | None:
    raw = raw.strip()
    if not raw:
        return None
    for fmt in ("%Y-%m-%d", "%m/%d/%Y"):
        try:
            return datetime.strptime(raw, fmt).date()
        except ValueError:
            continue
    raise ValueError(raw)


def read_official_csv(path: Path, kind: str) -> list[OfficialCode]:
    if kind not in KINDS:
        raise OfficialListError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise OfficialListError(f"{path}: cannot read: {exc.strerror}") from exc
    with handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise OfficialListError(f"{path}: the file is empty")
        columns: dict[str, int] = {}
        for index, name in enumerate(header):
            for field, aliases in ALIASES.items():
                if _norm(name) in aliases and field not in columns:
                    columns[field] = index
        missing = [f for f in ("code", "description") if f not in columns]
        if missing:
            raise OfficialListError(
                f"{path} line 1: no column for {', '.join(missing)} (found {', '.join(header)})"
            )
        rows: list[OfficialCode] = []
        errors: list[str] = []
        for line_number, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue

            def cell(field: str, row: list[str] = row) -> str:
                i = columns.get(field)
                return row[i].strip() if i is not None and i < len(row) else ""

            code = cell("code").upper()
            if not CODE_PATTERNS[kind].match(code):
                errors.append(f"{path} line {line_number}, column code: {code!r} is not a {kind.upper()}")
                continue
            try:
                start, stop = _date(cell("start_date")), _date(cell("stop_date"))
            except ValueError as exc:
                errors.append(f"{path} line {line_number}: date {exc} is not YYYY-MM-DD or MM/DD/YYYY")
                continue
            if not cell("description"):
                errors.append(f"{path} line {line_number}, column description: empty")
                continue
            rows.append(OfficialCode(kind, code, cell("description"), start, stop))
        if errors:
            raise OfficialListError("\n".join(errors[:20]))
    return rows


async def import_official(engine: AsyncEngine, kind: str, codes: list[OfficialCode], source: str) -> int:
    """Replace the stored official list of one kind with `codes` (one transaction)."""
    async with engine.begin() as conn:
        await conn.execute(delete(official_codes).where(official_codes.c.kind == kind))
        if codes:
            await conn.execute(
                official_codes.insert(),
                [
                    {
                        "kind": c.kind,
                        "code": c.code,
                        "description": c.description,
                        "start_date": c.start_date,
                        "stop_date": c.stop_date,
                        "source": source,
                    }
                    for c in codes
                ],
            )
    return len(codes)


async def load_official(engine: AsyncEngine) -> dict[tuple[str, str], OfficialCode]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(official_codes))
        return {
            (r.kind, r.code): OfficialCode(r.kind, r.code, r.description, r.start_date, r.stop_date)
            for r in rows
        }
