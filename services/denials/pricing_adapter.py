"""Fee schedules, when configured (`CLAIMLINE_FEE_SCHEDULE`), become the pricer classification uses.

The fee schedule is read when the service starts; a bad row stops the start with its line and column.
"""

from __future__ import annotations

from decimal import Decimal

from services.denials.domain.classify import Pricer, Underpaid
from services.denials.domain.pricing import FeeSchedule, PricedLine, load_fee_schedule, underpayment
from services.denials.domain.routing import RoutingConfig
from shared.runtime.settings import Settings
from shared.schemas import RemitLineReceived

ONE = Decimal(1)


def pricer_from(settings: Settings, routing: RoutingConfig) -> Pricer | None:
    if settings.fee_schedule is None:
        return None
    return make_pricer(load_fee_schedule(settings.fee_schedule), routing)


def make_pricer(fees: FeeSchedule, routing: RoutingConfig) -> Pricer:
    tolerance = routing.underpayment_tolerance

    def price(event: RemitLineReceived) -> Underpaid | None:
        line, claim = event.line, event.claim
        payer_id = event.remittance.payer_id
        if not payer_id:
            return None
        priced = PricedLine(
            line.line_number,
            line.submitted_procedure_code or line.procedure_code,
            line.submitted_modifiers or line.modifiers,
            line.units_billed or ONE,
            line.service_date,
            line.charge,
        )
        siblings = [
            PricedLine(b.line_number, b.procedure_code, b.modifiers, b.units or ONE, b.service_date, b.charge)
            for b in claim.lines
            if b.line_number != line.line_number
        ]
        expected = fees.expected_allowed(priced, siblings, payer_id, None)
        if expected is None:
            return None
        patient_share = sum((a.amount for a in line.adjustments if a.group == "PR"), Decimal(0))
        found = underpayment(line.paid, patient_share, expected, tolerance.amount, tolerance.percent)
        if found is None:
            return None
        return Underpaid(
            found.expected,
            found.received,
            found.amount_at_risk,
            " ".join((*expected.steps, found.explanation)),
        )

    return price
