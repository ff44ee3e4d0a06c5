"""Expected allowed amounts from a payer fee schedule, and whether a paid line falls short of them.

Pure domain code: the only I/O is `load_fee_schedule`, which reads a fee schedule CSV (format in
docs/fee-schedules.md). Money is Decimal from end to end and every amount a biller sees is rounded to
the cent, half up. Each expected amount carries the steps that produced it, in plain English, so a
biller can check the arithmetic against the contract before disputing a payment.

Conventions follow the CMS Medicare physician fee schedule (see docs/fee-schedules.md): bilateral
procedures with modifier 50 are allowed at 150% of the single fee, and among procedures subject to the
multiple-procedure reduction on one date the highest-priced is allowed in full and every other at 50%;
add-on codes are never reduced.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

from shared.schemas.money import dollars

BILATERAL_PERCENT = Decimal("150")
"""Modifier 50 on a code with no fee of its own for 50: this percentage of the single (one-side) fee."""

FIRST_PROCEDURE_PERCENT = Decimal("100")
"""Multiple-procedure reduction: the highest-priced procedure of the date keeps its full fee."""

SECOND_AND_LATER_PERCENT = Decimal("50")
"""Multiple-procedure reduction: every procedure after the highest-priced one (and every unit after the
first of the same line) is allowed at this percentage."""

FEE_SCHEDULE_COLUMNS = (
    "payer_id",
    "plan",
    "procedure_code",
    "modifier",
    "allowed",
    "effective_from",
    "effective_to",
    "add_on",
    "multiple_procedure",
)
"""The header a fee schedule CSV must carry: exactly these names, in any order."""

MAX_ERRORS_LISTED = 20
"""A refused fee schedule lists at most this many problems; the count of the rest is given."""

BILATERAL = "50"
SIDES = frozenset({"LT", "RT"})
CENT = Decimal("0.01")
HUNDRED = Decimal("100")
ONE = Decimal("1")
ZERO = Decimal("0")

_AMOUNT = re.compile(r"^[0-9]+(\.[0-9]{1,4})?$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_CODE = re.compile(r"^[A-Z0-9]{5}$")
_MODIFIER = re.compile(r"^[A-Z0-9]{2}$")
_YES = frozenset({"yes", "y", "true", "1"})
_NO = frozenset({"no", "n", "false", "0"})
_ORDINALS = ("First", "Second", "Third", "Fourth", "Fifth", "Sixth", "Seventh", "Eighth", "Ninth", "Tenth")


class FeeScheduleError(ValueError):
    """A fee schedule that cannot be used. `errors` holds every problem found (the message lists at
    most MAX_ERRORS_LISTED of them), each naming the file, line, column, what was expected and found."""

    def __init__(self, message: str, errors: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.errors: tuple[str, ...] = tuple(errors)


# ---------------------------------------------------------------- rows and lines


@dataclass(frozen=True)
class FeeRow:
    """One fee: what the payer allows per unit of a code (with an optional modifier) over a period.

    `plan` None applies to every plan of the payer; `modifier` None applies whatever the modifiers;
    `effective_to` None means open-ended (both ends are inclusive). `add_on` codes are exempt from the
    multiple-procedure reduction; `multiple_procedure` says whether the code takes part in it.
    `source_line` is where the row was read, for messages; it takes no part in equality.
    """

    payer_id: str
    plan: str | None
    procedure_code: str
    modifier: str | None
    allowed: Decimal
    effective_from: date
    effective_to: date | None
    add_on: bool
    multiple_procedure: bool
    source_line: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.allowed, Decimal) or not self.allowed.is_finite() or self.allowed < 0:
            raise ValueError(f"allowed must be a finite Decimal of zero or more, not {self.allowed!r}")
        if self.effective_to is not None and self.effective_to < self.effective_from:
            raise ValueError(
                f"effective_to {self.effective_to} is before effective_from {self.effective_from}"
            )
        if self.add_on and self.multiple_procedure:
            raise ValueError(
                f"{self.procedure_code}: an add-on code is exempt from multiple-procedure reduction"
            )

    @property
    def key(self) -> tuple[str, str | None, str, str | None]:
        return (self.payer_id, self.plan, self.procedure_code, self.modifier)

    @property
    def code_label(self) -> str:
        return f"{self.procedure_code}-{self.modifier}" if self.modifier else self.procedure_code

    def covers(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)

    def period(self) -> str:
        if self.effective_to is None:
            return f"effective from {self.effective_from.isoformat()}"
        return f"effective {self.effective_from.isoformat()} to {self.effective_to.isoformat()}"


@dataclass(frozen=True)
class PricedLine:
    """A service line as far as pricing needs it. `units` and `charge` are Decimal, never float."""

    line_number: int
    procedure_code: str
    modifiers: tuple[str, ...]
    units: Decimal
    service_date: date | None
    charge: Decimal

    def __post_init__(self) -> None:
        for name in ("units", "charge"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
                raise ValueError(f"line {self.line_number}: {name} must be a finite Decimal of zero or more")

    @property
    def label(self) -> str:
        return "-".join((self.procedure_code, *self.modifiers))


@dataclass(frozen=True)
class Expected:
    """What the payer should allow for a line, and how that was worked out.

    `amount` is final (cents, half up). `before_reduction` is the amount before the multiple-procedure
    reduction and the charge cap, so `amount <= before_reduction` always holds.
    """

    line_number: int
    amount: Decimal
    before_reduction: Decimal
    steps: tuple[str, ...]
    fee: FeeRow


@dataclass(frozen=True)
class Underpayment:
    """A line allowed below its expected amount by more than the tolerance."""

    expected: Decimal
    received: Decimal
    amount_at_risk: Decimal
    tolerance: Decimal
    explanation: str


@dataclass(frozen=True)
class _Base:
    """A line priced up to (not including) the multiple-procedure reduction."""

    line: PricedLine
    fee: FeeRow
    per_procedure: Decimal  # fee of one procedure, bilateral-adjusted: what ranking compares
    procedures: Decimal  # how many procedures the line stands for: its units, or 1 for a bilateral line
    before_reduction: Decimal
    steps: tuple[str, ...]


# ---------------------------------------------------------------- the schedule


class FeeSchedule:
    """Fees by payer, plan, code, modifier and period. Overlapping periods for one key are refused."""

    def __init__(self, rows: Iterable[FeeRow], *, source: str = "fee schedule") -> None:
        self._rows = tuple(rows)
        problems = [message for _, message in _overlaps(self._rows, source)]
        if problems:
            raise FeeScheduleError(_summary(source, problems), problems)
        index: dict[tuple[str, str | None, str, str | None], list[FeeRow]] = {}
        for row in self._rows:
            index.setdefault(row.key, []).append(row)
        for rows_of_key in index.values():
            rows_of_key.sort(key=lambda r: r.effective_from)
        self._index = index

    @property
    def rows(self) -> tuple[FeeRow, ...]:
        return self._rows

    def __len__(self) -> int:
        return len(self._rows)

    def lookup(
        self,
        payer_id: str,
        plan: str | None,
        procedure_code: str,
        modifiers: Sequence[str],
        service_date: date | None,
    ) -> FeeRow | None:
        """The fee for a code: the plan's own rows before the payer's all-plans rows; within those, a row
        for one of the line's modifiers (in the line's order) before the row without a modifier; the row
        effective on the service date, or the latest one when there is no date."""
        code = procedure_code.strip().upper()
        wanted: list[str | None] = []
        for modifier in modifiers:
            cleaned = modifier.strip().upper()
            if cleaned and cleaned not in wanted:
                wanted.append(cleaned)
        wanted.append(None)
        plans: list[str | None] = [plan.strip(), None] if plan and plan.strip() else [None]
        for plan_key in plans:
            for modifier_key in wanted:
                row = _effective(self._index.get((payer_id, plan_key, code, modifier_key), []), service_date)
                if row is not None:
                    return row
        return None

    def expected_allowed(
        self, line: PricedLine, siblings: Sequence[PricedLine], payer_id: str, plan: str | None
    ) -> Expected | None:
        """What the payer should allow for `line`, given the other lines of the claim (`siblings`; the
        line itself may be among them). None when the schedule has no fee for the code."""
        base = self._base(line, payer_id, plan)
        if base is None:
            return None
        steps = list(base.steps)
        amount = self._reduce(base, siblings, payer_id, plan, steps)
        if line.charge < amount:
            amount = _cents(line.charge)
            steps.append(
                f"Billed charge {dollars(line.charge)} is lower: payers allow the lower of the charge and "
                f"the fee, so {dollars(amount)}"
            )
        steps.append(f"Expected allowed for line {line.line_number} ({line.label}): {dollars(amount)}")
        return Expected(
            line_number=line.line_number,
            amount=amount,
            before_reduction=base.before_reduction,
            steps=tuple(steps),
            fee=base.fee,
        )

    # ------------------------------------------------------------ internals

    def _base(self, line: PricedLine, payer_id: str, plan: str | None) -> _Base | None:
        modifiers = tuple(m.strip().upper() for m in line.modifiers if m.strip())
        sides = sorted(SIDES.intersection(modifiers))
        conflict = BILATERAL in modifiers and bool(sides)
        if conflict:  # 50 with LT/RT: price the safer reading, one side, and say why
            modifiers = tuple(m for m in modifiers if m != BILATERAL)
        fee = self.lookup(payer_id, plan, line.procedure_code, modifiers, line.service_date)
        if fee is None:
            return None

        scope = f"plan {fee.plan}" if fee.plan else "all plans"
        if fee.plan is None and plan and plan.strip():
            scope += f"; plan {plan.strip()} has no fee of its own for this code"
        when = fee.period()
        if line.service_date is None:
            when += "; the line has no service date, so the latest fee is used"
        steps = [
            f"Fee schedule for {fee.code_label} (payer {fee.payer_id}, {scope}, {when}): "
            f"{_usd(fee.allowed)} per unit"
        ]

        if BILATERAL in modifiers:
            if fee.modifier == BILATERAL:
                per_procedure = fee.allowed
                steps.append(
                    f"Modifier 50 (bilateral): the schedule has its own 50 fee, used as it is = "
                    f"{dollars(_cents(per_procedure))}"
                )
            else:
                per_procedure = _cents(fee.allowed * BILATERAL_PERCENT / HUNDRED)
                share = _pct(BILATERAL_PERCENT)
                steps.append(f"Modifier 50 (bilateral): {share} of the fee = {dollars(per_procedure)}")
            if line.units != ONE:
                steps.append(
                    f"A bilateral line counts once, so its {_num(line.units)} billed units do not multiply"
                )
            procedures = ONE
        else:
            per_procedure = fee.allowed
            procedures = line.units
            if conflict:
                steps.append(
                    f"Modifiers 50 and {'/'.join(sides)} contradict each other: priced as one side; "
                    "correct the modifiers"
                )
            elif sides:
                steps.append(
                    f"Modifier {'/'.join(sides)} (one side): priced as one side, no bilateral increase"
                )
        before = _cents(per_procedure * procedures)
        if BILATERAL not in modifiers:
            unit_word = "unit" if procedures == ONE else "units"
            steps.append(f"{_num(procedures)} {unit_word} at {_usd(per_procedure)} = {dollars(before)}")
        return _Base(line, fee, per_procedure, procedures, before, tuple(steps))

    def _reduce(
        self,
        base: _Base,
        siblings: Sequence[PricedLine],
        payer_id: str,
        plan: str | None,
        steps: list[str],
    ) -> Decimal:
        fee, line = base.fee, base.line
        if fee.add_on:
            steps.append(f"Add-on code {fee.procedure_code}: exempt from multiple-procedure reduction")
            return base.before_reduction
        if not fee.multiple_procedure:
            steps.append(f"Code {fee.procedure_code} is not subject to multiple-procedure reduction")
            return base.before_reduction

        ranked = [base]
        seen = {line.line_number}
        for other in siblings:
            if other.line_number in seen or other.service_date != line.service_date:
                continue
            seen.add(other.line_number)
            other_base = self._base(other, payer_id, plan)
            if other_base is not None and other_base.fee.multiple_procedure and not other_base.fee.add_on:
                ranked.append(other_base)
        ranked.sort(key=lambda b: (-b.per_procedure, b.line.line_number))
        rank = next(i for i, b in enumerate(ranked) if b.line.line_number == line.line_number) + 1
        day = line.service_date.isoformat() if line.service_date else "the same day (no service date)"

        if rank > 1:
            first = ranked[0].line
            amount = _cents(base.before_reduction * SECOND_AND_LATER_PERCENT / HUNDRED)
            steps.append(
                f"{_ordinal(rank)} procedure on {day} (line {first.line_number}, {first.label}, is first): "
                f"multiple-procedure reduction to {_pct(SECOND_AND_LATER_PERCENT)} = {dollars(amount)}"
            )
            return amount

        if len(ranked) == 1:
            lead = f"Only procedure subject to multiple-procedure reduction on {day}"
        else:
            lead = (
                f"Highest-priced of {len(ranked)} procedures subject to multiple-procedure reduction on {day}"
            )
        if base.procedures <= ONE:
            steps.append(f"{lead}: {_pct(FIRST_PROCEDURE_PERCENT)} = {dollars(base.before_reduction)}")
            return base.before_reduction
        # Further units of the same code are further procedures of the same session.
        rest = base.procedures - ONE
        amount = _cents(
            base.per_procedure * FIRST_PROCEDURE_PERCENT / HUNDRED
            + base.per_procedure * rest * SECOND_AND_LATER_PERCENT / HUNDRED
        )
        steps.append(
            f"{lead}: first unit at {_pct(FIRST_PROCEDURE_PERCENT)}, the other {_num(rest)} at "
            f"{_pct(SECOND_AND_LATER_PERCENT)} = {dollars(amount)}"
        )
        return amount


# ---------------------------------------------------------------- underpayment


def underpayment(
    paid: Decimal,
    patient_share: Decimal,
    expected: Expected,
    tolerance_amount: Decimal,
    tolerance_percent: Decimal,
) -> Underpayment | None:
    """The shortfall when what the payer allowed (paid + patient share on the remittance) is below the
    expected amount by more than the tolerance: the larger of `tolerance_amount` and `tolerance_percent`
    of the expected amount. None when the line is paid within tolerance (or above)."""
    if tolerance_amount < 0 or tolerance_percent < 0:
        raise ValueError("tolerance amount and percent must be zero or more")
    received = paid + patient_share
    tolerance = max(_cents(tolerance_amount), _cents(expected.amount * tolerance_percent / HUNDRED))
    shortfall = expected.amount - received
    if shortfall <= tolerance:
        return None
    at_risk = _cents(shortfall)
    explanation = (
        f"The payer allowed {dollars(received)} (paid {dollars(paid)} + patient share "
        f"{dollars(patient_share)}) against an expected {dollars(expected.amount)}, "
        f"{dollars(at_risk)} short, more than the {dollars(tolerance)} tolerance "
        f"(the larger of {dollars(tolerance_amount)} and {_pct(tolerance_percent)} of expected)."
    )
    return Underpayment(
        expected=expected.amount,
        received=received,
        amount_at_risk=at_risk,
        tolerance=tolerance,
        explanation=explanation,
    )


# ---------------------------------------------------------------- CSV loader


def load_fee_schedule(path: Path) -> FeeSchedule:
    """Read a fee schedule CSV (docs/fee-schedules.md). Every bad row is reported, not just the first:
    FeeScheduleError names the file, the line (header = line 1), the column, and what was expected and
    found, listing at most MAX_ERRORS_LISTED problems."""
    name = path.name
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FeeScheduleError(
            f"{path}: expected UTF-8 text, found a byte that is not ({exc.reason})"
        ) from exc
    except OSError as exc:
        raise FeeScheduleError(f"{path}: cannot read the fee schedule ({exc.strerror or exc})") from exc

    reader = csv.reader(text.splitlines(keepends=True))
    try:
        header = next(reader)
    except StopIteration:
        header = []
    except csv.Error as exc:
        raise FeeScheduleError(f"{name} line 1: cannot read the header ({exc})") from exc
    columns = [cell.strip() for cell in header]
    _check_header(name, columns)

    errors: list[tuple[int, str]] = []
    rows: list[FeeRow] = []
    next_line = reader.line_num + 1
    try:
        for record in reader:
            line_number, next_line = next_line, reader.line_num + 1
            if not any(cell.strip() for cell in record):
                continue  # blank line
            if len(record) != len(columns):
                errors.append(
                    (
                        line_number,
                        f"{name} line {line_number}: expected {len(columns)} comma-separated fields, found "
                        f"{len(record)} (quote a value that contains a comma)",
                    )
                )
                continue
            row = _parse_row(name, line_number, dict(zip(columns, record, strict=True)), errors)
            if row is not None:
                rows.append(row)
    except csv.Error as exc:
        errors.append((next_line, f"{name} line {next_line}: cannot read the row ({exc})"))

    errors.extend(_overlaps(rows, name))
    if errors:
        messages = [message for _, message in sorted(errors, key=lambda e: e[0])]
        raise FeeScheduleError(_summary(str(path), messages), messages)
    return FeeSchedule(rows, source=name)


def _check_header(name: str, columns: list[str]) -> None:
    expected = ",".join(FEE_SCHEDULE_COLUMNS)
    if not columns:
        raise FeeScheduleError(f"{name} line 1: expected the header {expected}, found an empty file")
    problems = []
    unknown = [c for c in columns if c not in FEE_SCHEDULE_COLUMNS]
    missing = [c for c in FEE_SCHEDULE_COLUMNS if c not in columns]
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if unknown:
        problems.append("unknown column(s) " + ", ".join(repr(c) for c in unknown))
    if missing:
        problems.append("missing column(s) " + ", ".join(missing))
    if repeated:
        problems.append("repeated column(s) " + ", ".join(repeated))
    if problems:
        message = (
            f"{name} line 1, header: expected exactly the columns {expected} (any order), found "
            f"{','.join(columns)!r}: {'; '.join(problems)}"
        )
        raise FeeScheduleError(message, [message])


def _parse_row(name: str, line: int, cells: dict[str, str], errors: list[tuple[int, str]]) -> FeeRow | None:
    before = len(errors)

    def bad(column: str, wanted: str) -> None:
        found = _found(cells[column])
        errors.append((line, f"{name} line {line}, column {column}: expected {wanted}, found {found}"))

    payer_id = cells["payer_id"].strip()
    if not payer_id:
        bad("payer_id", "the payer's id, like 12502")
    plan = cells["plan"].strip() or None

    code = cells["procedure_code"].strip().upper()
    if not _CODE.match(code):
        bad("procedure_code", "a 5-character CPT or HCPCS code like 64493")

    modifier = cells["modifier"].strip().upper() or None
    if modifier is not None and not _MODIFIER.match(modifier):
        bad("modifier", "a 2-character modifier like 50 or LT, or an empty cell")

    allowed = _amount(cells["allowed"])
    if allowed is None:
        bad("allowed", "a decimal amount like 412.18 (digits, at most 4 decimals, no $ or commas)")

    effective_from = _date(cells["effective_from"])
    if effective_from is None:
        bad("effective_from", "a date like 2026-01-01 (YYYY-MM-DD)")
    effective_to: date | None = None
    if cells["effective_to"].strip():
        effective_to = _date(cells["effective_to"])
        if effective_to is None:
            bad("effective_to", "a date like 2026-12-31 (YYYY-MM-DD), or an empty cell for open-ended")
        elif effective_from is not None and effective_to < effective_from:
            bad("effective_to", f"a date on or after effective_from {effective_from.isoformat()}")

    add_on = _flag(cells["add_on"])
    if add_on is None:
        bad("add_on", "yes or no")
    multiple_procedure = _flag(cells["multiple_procedure"])
    if multiple_procedure is None:
        bad("multiple_procedure", "yes or no")
    elif add_on and multiple_procedure:
        bad("multiple_procedure", "no for an add-on code (add-on codes are exempt from the reduction)")

    if len(errors) > before:
        return None
    # Both were parsed, or an error was recorded and we returned above.
    assert allowed is not None
    assert effective_from is not None
    return FeeRow(
        payer_id=payer_id,
        plan=plan,
        procedure_code=code,
        modifier=modifier,
        allowed=allowed,
        effective_from=effective_from,
        effective_to=effective_to,
        add_on=bool(add_on),
        multiple_procedure=bool(multiple_procedure),
        source_line=line,
    )


def _overlaps(rows: Sequence[FeeRow], source: str) -> list[tuple[int, str]]:
    """One problem per row whose period overlaps an earlier row of the same payer, plan, code and modifier."""
    by_key: dict[tuple[str, str | None, str, str | None], list[FeeRow]] = {}
    for row in rows:
        by_key.setdefault(row.key, []).append(row)
    problems = []
    for group in by_key.values():
        group.sort(key=lambda r: (r.effective_from, r.source_line or 0))
        reach = group[0]  # the earlier row whose period ends latest
        for row in group[1:]:
            if reach.effective_to is None or row.effective_from <= reach.effective_to:
                where = f"{source} line {row.source_line}" if row.source_line else source
                other = f"line {reach.source_line}" if reach.source_line else "another row"
                scope = f"plan {row.plan}" if row.plan else "all plans"
                problems.append(
                    (
                        row.source_line or 0,
                        f"{where}, column effective_from: expected a period that does not overlap {other} "
                        f"(payer {row.payer_id}, {scope}, {row.code_label}, {_span(reach)}), "
                        f"found {_span(row)}",
                    )
                )
            ends = reach.effective_to
            if ends is not None and (row.effective_to is None or row.effective_to > ends):
                reach = row
    return sorted(problems, key=lambda p: p[0])


def _summary(source: str, errors: Sequence[str]) -> str:
    shown = list(errors[:MAX_ERRORS_LISTED])
    more = len(errors) - len(shown)
    if more:
        shown.append(f"... and {more} more")
    noun = "problem" if len(errors) == 1 else "problems"
    return f"{source}: fee schedule refused, {len(errors)} {noun}:\n" + "\n".join(f"  {e}" for e in shown)


# ---------------------------------------------------------------- small helpers


def _effective(rows: Sequence[FeeRow], day: date | None) -> FeeRow | None:
    if not rows:
        return None
    if day is None:
        return max(rows, key=lambda r: r.effective_from)
    return next((r for r in rows if r.covers(day)), None)


def _amount(text: str) -> Decimal | None:
    cleaned = text.strip()
    if not _AMOUNT.match(cleaned):
        return None
    try:
        return Decimal(cleaned)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        return None


def _date(text: str) -> date | None:
    cleaned = text.strip()
    if not _DATE.match(cleaned):
        return None
    try:
        return date.fromisoformat(cleaned)
    except ValueError:
        return None


def _flag(text: str) -> bool | None:
    cleaned = text.strip().lower()
    if cleaned in _YES:
        return True
    if cleaned in _NO:
        return False
    return None


def _found(text: str) -> str:
    return repr(text) if text.strip() else "an empty cell"


def _span(row: FeeRow) -> str:
    end = row.effective_to.isoformat() if row.effective_to else "open-ended"
    return f"{row.effective_from.isoformat()} to {end}"


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _usd(amount: Decimal) -> str:
    """A fee as dollars: two decimals, or more when the schedule gives a fraction of a cent."""
    if amount == _cents(amount):
        return dollars(amount)
    return f"${amount.normalize():,f}"


def _num(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    return text


def _pct(value: Decimal) -> str:
    return f"{_num(value)}%"


def _ordinal(rank: int) -> str:
    return _ORDINALS[rank - 1] if rank <= len(_ORDINALS) else f"{rank}th"
