"""Line classification: what an adjudicated line means and whether, where and how urgently to work it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from services.denials.domain.catalog import Catalog
from shared.schemas import Adjustment, LineCategory, RemitLineReceived, TranslatedCode
from shared.schemas.money import dollars

REVERSAL_STATUS = "22"
DENIED_CLAIM_STATUS = "4"
APPEAL_WINDOW_DAYS = 120  # Medicare redetermination: 120 days from the remittance date
# Catalog categories that are the expected cost of doing business, not a denial to work.
EXPECTED_CATEGORIES = frozenset({"contractual", "patient_responsibility"})
ZERO = Decimal("0")


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


def translate(catalog: Catalog, line: RemitLineReceived) -> tuple[TranslatedCode, ...]:
    seen: list[TranslatedCode] = []
    for adj in (*line.claim.adjustments, *line.line.adjustments):
        for kind, code in (("group", adj.group), ("carc", adj.reason)):
            entry = catalog.lookup(kind, code)
            item = TranslatedCode(
                kind=kind,
                code=code,
                known=entry is not None,
                meaning=entry.meaning
                if entry
                else f"Unknown {kind.upper()} code {code!r}: review it by hand.",
                action=entry.action if entry else "Look the code up in the official list and route by hand.",
            )
            if item not in seen:
                seen.append(item)
    for remark in line.line.remarks:
        entry = catalog.rarc(remark)
        item = TranslatedCode(
            kind="rarc",
            code=remark,
            known=entry is not None,
            meaning=entry.meaning if entry else f"Unknown RARC code {remark!r}: review it by hand.",
        )
        if item not in seen:
            seen.append(item)
    return tuple(seen)


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
    if adj.group == "PR" and entry.category in EXPECTED_CATEGORIES | {"medical_necessity", "eligibility_cob"}:
        return "patient_responsibility"
    return entry.category or "review"


def priority_for(amount_at_risk: Decimal, days_left: int | None) -> int:
    """0 to 100: up to 60 points for dollars (log scale, $5,000 scores full), 40 for deadline urgency."""
    dollars = 60 * math.log10(1 + float(max(amount_at_risk, ZERO))) / math.log10(1 + 5000)
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
    return max(0, min(100, round(min(dollars, 60) + urgency)))


def classify(catalog: Catalog, event: RemitLineReceived, today: date) -> Classification:
    line, claim = event.line, event.claim
    codes = translate(catalog, event)
    adjustments = line.adjustments
    remit_date = event.remittance.payment_date or today
    deadline = remit_date + timedelta(days=APPEAL_WINDOW_DAYS)
    days_left = (deadline - today).days

    if event.posting == "hold":
        imbalance = line.imbalance or claim.imbalance or event.remittance.imbalance
        gap = abs(imbalance.difference) if imbalance else abs(line.charge - line.paid)
        detail = (
            f"at the {imbalance.level} level ({imbalance.rule}): expected {dollars(imbalance.expected)}, "
            f"found {dollars(imbalance.found)}, off by {dollars(imbalance.difference)}"
            if imbalance
            else "at some level"
        )
        return Classification(
            LineCategory.NEEDS_REVIEW,
            "balancing_exception",
            True,
            gap,
            priority_for(gap, days_left),
            deadline,
            codes,
            f"Not auto-posted: the remittance does not balance {detail}. "
            "Reconcile it with the payer before posting.",
        )

    if claim.status_code == REVERSAL_STATUS:
        return Classification(
            LineCategory.REVERSED,
            None,
            False,
            ZERO,
            0,
            None,
            codes,
            f"Reversal of an earlier payment for {line.procedure_code}: {abs(line.paid)} taken back; "
            "the corrected claim that follows carries the new payment.",
        )

    denials = [a for a in adjustments if _is_denial(catalog, a)]
    patient = [a for a in adjustments if a.group == "PR" and not _is_denial(catalog, a)]
    at_risk = max(ZERO, sum((a.amount for a in denials), ZERO))

    if denials:
        first = denials[0]
        category_name = _category_of(catalog, first)
        entry = catalog.carc(first.reason)
        known = entry is not None
        kind = LineCategory.DENIED if line.paid == ZERO else LineCategory.PARTIALLY_DENIED
        if not known:
            kind, category_name = LineCategory.NEEDS_REVIEW, "review"
        meaning = entry.meaning if entry else f"unknown reason code {first.reason}"
        action = entry.action if entry else "look the code up and route it by hand"
        verb = (
            "Denied"
            if kind is LineCategory.DENIED
            else ("Partly denied" if kind is LineCategory.PARTIALLY_DENIED else "Needs review")
        )
        summary = (
            f"{verb} ({first.group}-{first.reason}, {dollars(at_risk)} at risk): {meaning.rstrip('.')}. "
            f"Next: {action}"
        )
        return Classification(
            kind, category_name, True, at_risk, priority_for(at_risk, days_left), deadline, codes, summary
        )

    if patient and line.paid == ZERO:
        owed = sum((a.amount for a in patient), ZERO)
        return Classification(
            LineCategory.PATIENT_RESPONSIBILITY,
            None,
            False,
            ZERO,
            0,
            None,
            codes,
            f"Nothing paid; {dollars(owed)} is the patient's share (deductible, coinsurance or copay): "
            "bill the patient "
            "or the secondary payer.",
        )
    if patient:
        owed = sum((a.amount for a in patient), ZERO)
        return Classification(
            LineCategory.PATIENT_RESPONSIBILITY,
            None,
            False,
            ZERO,
            0,
            None,
            codes,
            f"Paid {dollars(line.paid)}; {dollars(owed)} is the patient's share: "
            "bill the patient or the secondary payer.",
        )
    if adjustments:
        return Classification(
            LineCategory.PAID_CONTRACTUAL,
            None,
            False,
            ZERO,
            0,
            None,
            codes,
            f"Paid {dollars(line.paid)} of {dollars(line.charge)}; the rest is a contractual adjustment.",
        )
    if line.paid == line.charge:
        return Classification(
            LineCategory.PAID_IN_FULL,
            None,
            False,
            ZERO,
            0,
            None,
            codes,
            f"Paid in full: {dollars(line.paid)}.",
        )
    gap = line.charge - line.paid
    return Classification(
        LineCategory.NEEDS_REVIEW,
        "review",
        True,
        abs(gap),
        priority_for(abs(gap), days_left),
        deadline,
        codes,
        f"Paid {dollars(line.paid)} of {dollars(line.charge)} with no adjustment that explains "
        f"the {dollars(gap)} difference: "
        "the remittance does not balance at this line; review it.",
    )
