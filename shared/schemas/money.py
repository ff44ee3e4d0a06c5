"""How money reads in sentences billers see: $1,234.50, always two decimals."""

from __future__ import annotations

from decimal import Decimal


def dollars(amount: Decimal | int) -> str:
    value = Decimal(amount)
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}"
