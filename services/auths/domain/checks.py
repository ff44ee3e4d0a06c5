"""Is the authorization on a claim line valid for that procedure, provider, date and unit count?"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from shared.schemas import AuthCheckResult, AuthStatus

# Interventional pain codes that commonly need prior authorization (facet blocks and RFA, epidurals,
# neurostimulator trial and implant). Payer-specific rules replace this default in the auths issue.
DEFAULT_AUTH_REQUIRED = frozenset(
    {
        "64490",
        "64491",
        "64492",
        "64493",
        "64494",
        "64495",
        "64633",
        "64634",
        "64635",
        "64636",
        "62321",
        "62323",
        "64479",
        "64480",
        "64483",
        "64484",
        "63650",
        "63655",
    }
)


@dataclass(frozen=True)
class Auth:
    auth_number: str
    provider_npi: str | None
    procedure_codes: tuple[str, ...]
    units_authorized: Decimal | None
    valid_from: date
    valid_to: date
    status: AuthStatus
    units_used: Decimal | None = None

    @property
    def units_left(self) -> Decimal | None:
        if self.units_authorized is None:
            return None
        return self.units_authorized - (self.units_used or Decimal(0))


@dataclass(frozen=True)
class LineToCheck:
    procedure_code: str
    units: Decimal
    service_date: date | None
    rendering_npi: str | None
    prior_auth_number: str | None


@dataclass(frozen=True)
class Verdict:
    result: AuthCheckResult
    auth_number: str | None
    reason: str


def _rank(auth: Auth, dos: date | None) -> tuple[bool, bool, int]:
    """Best auth first: approved, then one whose dates cover the service date, then the latest ending."""
    covers = dos is None or auth.valid_from <= dos <= auth.valid_to
    return (auth.status is not AuthStatus.APPROVED, not covers, -auth.valid_to.toordinal())


def check_line(
    line: LineToCheck, auths: list[Auth], required: frozenset[str] = DEFAULT_AUTH_REQUIRED
) -> Verdict:
    code = line.procedure_code
    if code not in required:
        return Verdict(
            AuthCheckResult.NOT_REQUIRED, None, f"{code} needs no prior authorization for this payer."
        )
    pool = [a for a in auths if a.auth_number == line.prior_auth_number] if line.prior_auth_number else auths
    pool = pool or auths
    if not pool:
        named = (
            f" (claim names {line.prior_auth_number}, which is not on file)" if line.prior_auth_number else ""
        )
        return Verdict(
            AuthCheckResult.MISSING, None, f"{code} needs prior authorization and none is on file{named}."
        )
    covering = [a for a in pool if code in a.procedure_codes] or pool
    auth = min(covering, key=lambda a: _rank(a, line.service_date))
    n = auth.auth_number
    if auth.status in (AuthStatus.REQUESTED, AuthStatus.PENDING):
        return Verdict(
            AuthCheckResult.PENDING,
            n,
            f"Authorization {n} for {code} is {auth.status.value}; hold the claim.",
        )
    if auth.status is AuthStatus.DENIED:
        return Verdict(AuthCheckResult.DENIED, n, f"Authorization {n} for {code} was denied.")
    if auth.status is AuthStatus.CANCELLED:
        return Verdict(
            AuthCheckResult.MISSING, n, f"Authorization {n} for {code} was cancelled; none other on file."
        )
    if code not in auth.procedure_codes:
        return Verdict(
            AuthCheckResult.DIFFERENT_PROCEDURE,
            n,
            f"Authorization {n} covers {', '.join(auth.procedure_codes)}, not {code}.",
        )
    if auth.provider_npi and line.rendering_npi and auth.provider_npi != line.rendering_npi:
        return Verdict(
            AuthCheckResult.DIFFERENT_PROVIDER,
            n,
            f"Authorization {n} was issued to another rendering provider.",
        )
    dos = line.service_date
    if auth.status is AuthStatus.EXPIRED or (dos is not None and dos > auth.valid_to):
        return Verdict(
            AuthCheckResult.EXPIRED, n, f"Authorization {n} expired on {auth.valid_to.isoformat()}."
        )
    if dos is not None and dos < auth.valid_from:
        return Verdict(
            AuthCheckResult.NOT_YET_VALID,
            n,
            f"Authorization {n} is valid only from {auth.valid_from.isoformat()}.",
        )
    left = auth.units_left
    if left is not None and line.units > left:
        used = f" ({auth.units_used} already used)" if auth.units_used else ""
        return Verdict(
            AuthCheckResult.UNITS_EXHAUSTED,
            n,
            f"{line.units} units billed; authorization {n} allows {auth.units_authorized}{used}.",
        )
    return Verdict(AuthCheckResult.VALID, n, f"Authorization {n} is valid for {code} on this date.")
