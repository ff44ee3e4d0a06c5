"""`claimline summary`: what an 835 holds, at a glance, without the stack.

Before a large remittance file is ingested (or when a payer's file looks wrong), an operator wants
the totals: per transaction set the payer, trace number, payment and whether it balances; for the
file the claims and lines, billed, allowed and paid, the lines paid nothing, the provider-level
adjustments, and the adjustments by reason with their meaning.

A well-formed file is read into tables by the compiled reader (`read_835_tables`): no Python object
per line, so a million-line file takes seconds. Anything it cannot vouch for (a file with problems,
an unusual envelope) is read with `parse_835_file`, item by item, which also counts the problems;
both give the same totals (tests/unit/test_summary.py compares them on every kind of file).
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from services.ingest.domain import remit835
from services.ingest.domain.remit835 import (
    ProviderAdjustment,
    RemitLine,
    RemittanceRead,
    parse_835_file,
    read_835_tables,
)
from services.ingest.domain.x12 import Problem

MICRO = Decimal(1).scaleb(-6)
ZERO = Decimal(0)


@dataclass
class ReasonTotal:
    group: str
    reason: str
    adjustments: int = 0
    amount: Decimal = ZERO


@dataclass
class TransactionSummary:
    ordinal: int
    trace_number: str | None
    payer_name: str | None
    payer_id: str | None
    payee_name: str | None
    payee_npi: str | None
    payment_amount: Decimal
    payment_date: date | None
    balanced: bool
    claims: int
    lines: int


@dataclass
class RemitSummary:
    file: str
    read_by: str  # "tables" (the compiled reader) or "items" (parse_835_file)
    transactions: list[TransactionSummary] = field(default_factory=list)
    claims: int = 0
    lines: int = 0
    lines_on_hold: int = 0
    charge: Decimal = ZERO
    allowed: Decimal = ZERO
    paid: Decimal = ZERO
    patient_responsibility: Decimal = ZERO
    lines_paid_nothing: int = 0
    charge_paid_nothing: Decimal = ZERO
    provider_adjustments: int = 0
    provider_adjustment_total: Decimal = ZERO
    reasons: dict[tuple[str, str], ReasonTotal] = field(default_factory=dict)
    problems: int = 0

    def add_reason(self, group: str, reason: str, amount: Decimal) -> None:
        total = self.reasons.get((group, reason))
        if total is None:
            total = self.reasons[(group, reason)] = ReasonTotal(group, reason)
        total.adjustments += 1
        total.amount += amount

    def top_reasons(self, n: int | None = None) -> list[ReasonTotal]:
        ranked = sorted(self.reasons.values(), key=lambda r: (-abs(r.amount), r.group, r.reason))
        return ranked if n is None else ranked[:n]


def _transaction(context: Any, claims: int, lines: int) -> TransactionSummary:
    return TransactionSummary(
        ordinal=context.transaction_ordinal,
        trace_number=context.trace_number,
        payer_name=context.payer_name,
        payer_id=context.payer_id,
        payee_name=context.payee_name,
        payee_npi=context.payee_npi,
        payment_amount=context.payment_amount,
        payment_date=context.payment_date,
        balanced=context.imbalance is None,
        claims=claims,
        lines=lines,
    )


def summarize_835(path: Path) -> RemitSummary:
    """The totals of one 835 file: from its tables when the compiled reader vouches for it, else
    from the items of `parse_835_file`."""
    tables = read_835_tables(path)
    if tables is not None:
        try:
            return _tidy(_from_tables(path, tables))
        except remit835.NATIVE.Unsupported:  # type: ignore[union-attr]  # a claim it cannot vouch for
            pass
    return summarize_835_items(path)


CENTS = Decimal("0.01")


def _cents(amount: Decimal) -> Decimal:
    """Dollars and cents when that is exact (12.5 and 12.500000 both become 12.50), else as it is, so
    both readers print the same figures."""
    cents = amount.quantize(CENTS)
    return cents if cents == amount else amount.normalize()


def _tidy(s: RemitSummary) -> RemitSummary:
    for name in ("charge", "allowed", "paid", "patient_responsibility", "charge_paid_nothing"):
        setattr(s, name, _cents(getattr(s, name)))
    s.provider_adjustment_total = _cents(s.provider_adjustment_total)
    for reason in s.reasons.values():
        reason.amount = _cents(reason.amount)
    for t in s.transactions:
        t.payment_amount = _cents(t.payment_amount)
    return s


def _i64(raw: bytes) -> array[int]:
    """A column's little-endian 64-bit integers (money at 6 decimals, indexes) as an array."""
    values = array("q")
    values.frombytes(raw)
    if sys.byteorder == "big":
        values.byteswap()
    return values


def _ints(table: Any, name: str) -> array[int]:
    return _i64(table.buffers(name)[1])


def _money(table: Any, name: str) -> tuple[array[int], bytes]:
    _, raw, is_set = table.buffers(name)
    return _i64(raw), is_set


def _from_tables(path: Path, tables: remit835.RemitTables) -> RemitSummary:
    s = RemitSummary(file=str(path), read_by="tables")
    micros = {"charge": 0, "allowed": 0, "paid": 0, "patient": 0, "nothing": 0, "plb": 0}
    reasons: dict[tuple[str, str], list[int]] = {}
    held_transactions = {o for o, c in tables.contexts.items() if c.imbalance is not None}
    for batch in tables.batches:
        services, claims = batch.services, batch.claims
        charge, _ = _money(services, "charge")
        paid, _ = _money(services, "paid")
        allowed, _ = _money(services, "allowed")
        micros["charge"] += sum(charge)
        micros["paid"] += sum(paid)
        micros["allowed"] += sum(allowed)  # an absent value is 0
        micros["patient"] += sum(_money(claims, "patient_responsibility")[0])
        s.lines += services.num_rows
        s.claims += claims.num_rows
        _, line_off = _money(services, "imbalance_found")
        _, claim_off = _money(claims, "imbalance_found")
        claim_of = _ints(services, "claim")
        transaction_of = _ints(services, "transaction")
        for i in range(services.num_rows):
            if paid[i] == 0 and charge[i] > 0:
                s.lines_paid_nothing += 1
                micros["nothing"] += charge[i]
            if line_off[i] or claim_off[claim_of[i]] or transaction_of[i] in held_transactions:
                s.lines_on_hold += 1
        adjustments = batch.adjustments
        amounts, _ = _money(adjustments, "amount")
        for key, amount in zip(
            zip(adjustments.column("group"), adjustments.column("reason"), strict=True), amounts, strict=True
        ):
            total = reasons.get(key)
            if total is None:
                reasons[key] = [1, amount]
            else:
                total[0] += 1
                total[1] += amount
        plb, _ = _money(batch.provider_adjustments, "amount")
        s.provider_adjustments += batch.provider_adjustments.num_rows
        micros["plb"] += sum(plb)
        done = batch.transactions
        for ordinal, n_claims, n_lines in zip(
            done.column("transaction"), done.column("claims"), done.column("lines"), strict=True
        ):
            s.transactions.append(_transaction(tables.contexts[ordinal], n_claims, n_lines))
    s.charge = Decimal(micros["charge"]) * MICRO
    s.paid = Decimal(micros["paid"]) * MICRO
    s.allowed = Decimal(micros["allowed"]) * MICRO
    s.patient_responsibility = Decimal(micros["patient"]) * MICRO
    s.charge_paid_nothing = Decimal(micros["nothing"]) * MICRO
    s.provider_adjustment_total = Decimal(micros["plb"]) * MICRO
    s.reasons = {
        key: ReasonTotal(key[0], key[1], count, Decimal(amount) * MICRO)
        for key, (count, amount) in reasons.items()
    }
    return s


def summarize_835_items(path: Path) -> RemitSummary:
    """The same totals from the items of `parse_835_file` (any file, problems counted)."""
    s = RemitSummary(file=str(path), read_by="items")
    seen_claims: set[tuple[int, int]] = set()
    for item in parse_835_file(path):
        if isinstance(item, RemitLine):
            line, claim = item.line, item.claim
            s.lines += 1
            s.charge += line.charge
            s.paid += line.paid
            s.allowed += line.allowed or ZERO
            if item.posting == "hold":
                s.lines_on_hold += 1
            if line.paid == 0 and line.charge > 0:
                s.lines_paid_nothing += 1
                s.charge_paid_nothing += line.charge
            for a in line.adjustments:
                s.add_reason(a.group, a.reason, a.amount)
            key = (item.remittance.transaction_ordinal, item.claim_ordinal)
            if key not in seen_claims:
                seen_claims.add(key)
                s.claims += 1
                s.patient_responsibility += claim.patient_responsibility or ZERO
                for a in claim.adjustments:
                    s.add_reason(a.group, a.reason, a.amount)
        elif isinstance(item, ProviderAdjustment):
            s.provider_adjustments += 1
            s.provider_adjustment_total += item.amount
        elif isinstance(item, RemittanceRead):
            s.transactions.append(_transaction(item.remittance, item.claims, item.lines))
        elif isinstance(item, Problem):
            s.problems += 1
    return _tidy(s)


# ---------------------------------------------------------------- printing


def _usd(amount: Decimal) -> str:
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


def describe(
    summary: RemitSummary, meaning: dict[str, str], reasons: int = 10, transactions: int = 20
) -> Iterator[str]:
    s = summary
    held = sum(1 for t in s.transactions if not t.balanced)
    yield f"{s.file}  (read as {s.read_by}; {s.problems} problem(s))"
    yield f"  transaction sets: {len(s.transactions)} ({held} not balanced: their lines are held)"
    for t in s.transactions[:transactions]:
        state = "balanced" if t.balanced else "NOT BALANCED"
        yield (
            f"    #{t.ordinal} trace {t.trace_number or '-'}"
            f"  payer {t.payer_name or '-'} ({t.payer_id or '-'})"
            f"  payee {t.payee_name or '-'} NPI {t.payee_npi or '-'}  payment {_usd(t.payment_amount)}"
            f" on {t.payment_date or '-'}  {t.claims} claims, {t.lines} lines, {state}"
        )
    if len(s.transactions) > transactions:
        yield f"    ... {len(s.transactions) - transactions} more (--json lists every one)"
    yield f"  claims {s.claims:,}; service lines {s.lines:,} ({s.lines_on_hold:,} held for balancing)"
    yield (
        f"  billed {_usd(s.charge)}; allowed {_usd(s.allowed)}; paid {_usd(s.paid)}; "
        f"patient responsibility {_usd(s.patient_responsibility)}"
    )
    yield f"  lines paid nothing: {s.lines_paid_nothing:,} ({_usd(s.charge_paid_nothing)} billed)"
    plb = _usd(s.provider_adjustment_total)
    yield f"  provider-level adjustments (PLB): {s.provider_adjustments:,}, total {plb}"
    top = s.top_reasons(reasons)
    if top:
        yield f"  adjustments by reason (top {len(top)} by amount):"
        for r in top:
            text = meaning.get(r.reason, "no meaning on file for this code")
            yield f"    {r.group}-{r.reason:<5} {r.adjustments:>9,}  {_usd(r.amount):>16}  {text}"


def as_json(summary: RemitSummary) -> dict[str, Any]:
    data = asdict(summary)
    data["reasons"] = [asdict(r) for r in summary.top_reasons()]
    return data
