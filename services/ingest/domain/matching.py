"""Which submitted 837P line an adjudicated 835 line pays.

First by the line item control number (REF*6R), which payers must echo when it was sent; otherwise by
the procedure code as submitted (SVC06 when the payer changed it, else SVC01), the service date and the
units; a code and date that fit exactly one submitted line match too. Each submitted line is paid by at
most one 835 line of the same claim in one remittance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from shared.schemas import LineMatch, RemitServiceLine

MatchedBy = Literal["line_control_number", "code_date_units", "code_date"]


@dataclass(frozen=True)
class SubmittedLineRow:
    line_number: int
    procedure_code: str
    modifiers: tuple[str, ...]
    units: Decimal
    charge: Decimal
    service_date: date | None
    line_control_number: str | None


def _matched(row: SubmittedLineRow, by: MatchedBy) -> LineMatch:
    return LineMatch(
        status="matched",
        by=by,
        submitted_line_number=row.line_number,
        submitted_procedure_code=row.procedure_code,
        submitted_modifiers=row.modifiers,
        submitted_units=row.units,
        submitted_charge=row.charge,
    )


def match_line(
    line: RemitServiceLine, submitted: Sequence[SubmittedLineRow] | None, used: set[int] | None = None
) -> LineMatch:
    """`submitted` is None when no 837P of this claim is on file; `used` collects line numbers taken."""
    if submitted is None:
        return LineMatch(status="claim_not_on_file")
    used = used if used is not None else set()
    free = [row for row in submitted if row.line_number not in used]
    if line.line_control_number:
        for row in free:
            if row.line_control_number == line.line_control_number:
                used.add(row.line_number)
                return _matched(row, "line_control_number")
    code = line.submitted_procedure_code or line.procedure_code
    same = [row for row in free if row.procedure_code == code and row.service_date == line.service_date]
    exact = [row for row in same if line.units_billed is None or row.units == line.units_billed]
    if exact:
        used.add(exact[0].line_number)
        return _matched(exact[0], "code_date_units")
    if len(same) == 1:
        used.add(same[0].line_number)
        return _matched(same[0], "code_date")
    return LineMatch(status="unmatched")
