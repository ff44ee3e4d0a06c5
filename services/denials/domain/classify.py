"""Line classification: what an adjudicated line means and whether, where and how urgently to work it.

Every line is classified, paid ones too (the ERA review shows them all): paid in full, paid with a
contractual adjustment, patient responsibility, denied, partially denied, reversed, underpaid, or
needs review (unknown codes, unbalanced remittances). The queue comes from the routing rules, the
deadline from the payer type's appeal window, the priority from dollars at risk and days left.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from services.denials.domain.catalog import Catalog, CodeEntry
from services.denials.domain.routing import Finding, RoutingConfig, load_routing
from shared.schemas import Adjustment, LineCategory, RemitLineReceived, TranslatedCode
from shared.schemas.money import dollars

REVERSAL_STATUS = "22"
APPEAL_WINDOW_DAYS = 120  # Medicare redetermination: 120 days from the remittance date (the default)
# Catalog categories that are the expected cost of doing business, not a denial to work.
EXPECTED_CATEGORIES = frozenset({"contractual", "patient_responsibility"})
ZERO = Decimal("0")


@dataclass(frozen=True)
class Underpaid:
    """What pricing found: the payer allowed less than the fee schedule says, beyond the tolerance."""

    expected: Decimal
    received: Decimal
    amount_at_risk: Decimal
    explanation: str


Pricer = Callable[[RemitLineReceived], Underpaid | None]


class OfficialText:
    """The customer's licensed official code list, when imported: wording and stop dates."""

    def __init__(self, codes: Mapping[tuple[str, str], tuple[str, date | None]] | None = None):
        self.codes = dict(codes or {})

    def get(self, kind: str, code: str) -> tuple[str, date | None] | None:
        return self.codes.get((kind, code))


@dataclass(frozen=True)
class Classification:
    category: LineCategory
    queue: str | None
    needs_work: bool
    amount_at_risk: Decimal
    priority: int
    deadline: date | None
    codes: tuple[TranslatedCode, ...]
    summary: str
    reason_category: str | None = None
    rule: str | None = None


def _translated(
    kind: str, code: str, entry: CodeEntry | None, official: OfficialText, used_on: date
) -> TranslatedCode:
    return _translation(kind, code, entry, official.get(kind, code), used_on)


@functools.lru_cache(maxsize=8192)
def _translation(
    kind: str, code: str, entry: CodeEntry | None, text: tuple[str, date | None] | None, used_on: date
) -> TranslatedCode:
    """One code in plain English: a pure function of its arguments, and a frozen model, so the few
    thousand distinct ones a day are made once and shared by every line that carries them."""
    stop = text[1] if text else None
    return TranslatedCode(
        kind=kind,
        code=code,
        known=entry is not None,
        meaning=entry.meaning if entry else f"Unknown {kind.upper()} code {code!r}: review it by hand.",
        action=(entry.action if entry else "Look the code up in the official list and route by hand.")
        if kind != "rarc"
        else None,
        official=text[0] if text else None,
        stop_date=stop,
        used_after_stop=stop is not None and used_on > stop,
    )


def translate(
    catalog: Catalog,
    line: RemitLineReceived,
    official: OfficialText | None = None,
    used_on: date | None = None,
) -> tuple[TranslatedCode, ...]:
    """Every group code, CARC and RARC on the line (and its claim) once, in plain English."""
    official = official or OfficialText()
    used_on = used_on or line.remittance.payment_date or line.line.service_date or date.max
    # a translation depends only on its kind and code here, so the first of each (kind, code) is kept
    seen: dict[tuple[str, str], TranslatedCode] = {}
    for adj in (*line.claim.adjustments, *line.line.adjustments):
        for kind, code in (("group", adj.group), ("carc", adj.reason)):
            if (kind, code) not in seen:
                seen[kind, code] = _translated(kind, code, catalog.lookup(kind, code), official, used_on)
    for remark in (*line.line.remarks, *line.claim.remarks):
        if ("rarc", remark) not in seen:
            seen["rarc", remark] = _translated("rarc", remark, catalog.rarc(remark), official, used_on)
    return tuple(seen.values())


def _is_denial(catalog: Catalog, adj: Adjustment) -> bool:
    """An adjustment someone must work: an unknown reason under any group, or a known non-contractual
    reason outside patient responsibility."""
    entry = catalog.carc(adj.reason)
    if entry is None:
        return True
    if adj.group == "PR":
        return False
    return entry.category not in EXPECTED_CATEGORIES


def _category_of(catalog: Catalog, adj: Adjustment) -> str:
    entry = catalog.carc(adj.reason)
    if entry is None:
        return "review"
    return entry.category or "review"


def priority_for(amount_at_risk: Decimal, days_left: int | None) -> int:
    """0 to 100: up to 60 points for dollars (log scale, $5,000 scores full), 40 for deadline urgency."""
    dollars_score = 60 * math.log10(1 + float(max(amount_at_risk, ZERO))) / math.log10(1 + 5000)
    if days_left is None:
        urgency = 10
    elif days_left <= 14:
        urgency = 40
    elif days_left <= 30:
        urgency = 30
    elif days_left <= 60:
        urgency = 20
    else:
        urgency = 10
    return max(0, min(100, round(min(dollars_score, 60) + urgency)))


@dataclass(frozen=True)
class _Work:
    """The inputs routing, deadline and priority need for a line that must be worked."""

    kind: LineCategory
    reason_category: str
    amount: Decimal
    summary: str


def classify(
    catalog: Catalog,
    event: RemitLineReceived,
    today: date,
    routing: RoutingConfig | None = None,
    pricer: Pricer | None = None,
    official: OfficialText | None = None,
) -> Classification:
    routing = routing or load_routing()
    line, claim, remit = event.line, event.claim, event.remittance
    codes = translate(catalog, event, official)
    payer_type = routing.payer_type(remit.payer_id, claim.filing_indicator)
    deadline = routing.deadline(remit.payment_date or today, payer_type)
    days_left = (deadline - today).days
    retired = [c for c in codes if c.used_after_stop]

    def done(kind: LineCategory, summary: str, reason_category: str | None = None) -> Classification:
        return Classification(kind, None, False, ZERO, 0, None, codes, summary, reason_category)

    def work(w: _Work) -> Classification:
        finding = Finding(
            category=w.reason_category,
            payer_id=remit.payer_id,
            payer_type=payer_type,
            practice_id=event.practice_id,
            carcs=tuple(a.reason for a in line.adjustments),
            groups=tuple(a.group for a in line.adjustments),
            amount=w.amount,
        )
        queue, rule = routing.route(finding)
        summary = w.summary
        if retired:
            summary += (
                f" Note: {', '.join(c.kind.upper() + ' ' + c.code for c in retired)} was retired before this "
                "remittance; ask the payer to reprocess with a current code."
            )
        return Classification(
            w.kind,
            queue,
            True,
            w.amount,
            priority_for(w.amount, days_left),
            deadline,
            codes,
            summary,
            w.reason_category,
            rule,
        )

    if event.posting == "hold":
        imbalance = line.imbalance or claim.imbalance or remit.imbalance
        gap = abs(imbalance.difference) if imbalance else abs(line.charge - line.paid)
        detail = (
            f"at the {imbalance.level} level ({imbalance.rule}): expected {dollars(imbalance.expected)}, "
            f"found {dollars(imbalance.found)}, off by {dollars(imbalance.difference)}"
            if imbalance
            else "at some level"
        )
        return work(
            _Work(
                LineCategory.NEEDS_REVIEW,
                "balancing_exception",
                gap,
                f"Not auto-posted: the remittance does not balance {detail}. "
                "Reconcile it with the payer before posting.",
            )
        )

    if claim.status_code == REVERSAL_STATUS:
        control = (
            f" (payer claim {claim.payer_claim_control_number})" if claim.payer_claim_control_number else ""
        )
        return done(
            LineCategory.REVERSED,
            f"Reversal of the earlier payment for {line.procedure_code}{control}: "
            f"{dollars(abs(line.paid))} taken back. The corrected claim that follows it carries the new "
            "payment; if none follows, the money is recouped and must be worked.",
        )

    adjustments = line.adjustments
    denials = [a for a in adjustments if _is_denial(catalog, a)]
    patient = [a for a in adjustments if a.group == "PR" and not _is_denial(catalog, a)]
    at_risk = max(ZERO, sum((a.amount for a in denials), ZERO))
    corrected = (
        " This corrects a claim reversed earlier in the same remittance." if claim.follows_reversal else ""
    )

    if denials:
        first = denials[0]
        entry = catalog.carc(first.reason)
        if entry is None:
            return work(
                _Work(
                    LineCategory.NEEDS_REVIEW,
                    "review",
                    at_risk,
                    f"Needs review ({first.group}-{first.reason}, {dollars(at_risk)} at risk): the payer "
                    f"used a reason code claimline does not know ({first.reason}). Look it up in the "
                    "official list and route it by hand.",
                )
            )
        kind = LineCategory.DENIED if line.paid == ZERO else LineCategory.PARTIALLY_DENIED
        verb = "Denied" if kind is LineCategory.DENIED else "Partly denied"
        remarks = [c for c in codes if c.kind == "rarc" and c.known]
        because = f" The payer adds: {remarks[0].meaning.rstrip('.')} ({remarks[0].code})." if remarks else ""
        return work(
            _Work(
                kind,
                _category_of(catalog, first),
                at_risk,
                f"{verb} ({first.group}-{first.reason}, {dollars(at_risk)} at risk): "
                f"{entry.meaning.rstrip('.')}.{because} Next: {entry.action}{corrected}",
            )
        )

    if pricer is not None and line.paid > ZERO:
        underpaid = pricer(event)
        if underpaid is not None:
            return work(
                _Work(
                    LineCategory.UNDERPAID,
                    "underpayment",
                    underpaid.amount_at_risk,
                    f"Underpaid by {dollars(underpaid.amount_at_risk)}: the payer allowed "
                    f"{dollars(underpaid.received)} where the fee schedule gives "
                    f"{dollars(underpaid.expected)}. {underpaid.explanation}{corrected}",
                )
            )

    if patient:
        owed = sum((a.amount for a in patient), ZERO)
        paid = "Nothing paid" if line.paid == ZERO else f"Paid {dollars(line.paid)}"
        return done(
            LineCategory.PATIENT_RESPONSIBILITY,
            f"{paid}; {dollars(owed)} is the patient's share (deductible, coinsurance or copay): "
            f"bill the patient or the secondary payer.{corrected}",
            "patient_responsibility",
        )
    if adjustments:
        return done(
            LineCategory.PAID_CONTRACTUAL,
            f"Paid {dollars(line.paid)} of {dollars(line.charge)}; the rest is a contractual "
            f"adjustment.{corrected}",
            "contractual",
        )
    if line.paid == line.charge:
        return done(LineCategory.PAID_IN_FULL, f"Paid in full: {dollars(line.paid)}.{corrected}")
    gap = line.charge - line.paid
    return work(
        _Work(
            LineCategory.NEEDS_REVIEW,
            "review",
            abs(gap),
            f"Paid {dollars(line.paid)} of {dollars(line.charge)} with no adjustment that explains the "
            f"{dollars(gap)} difference: the remittance does not balance at this line; review it.",
        )
    )
