"""check_line: one verdict per authorization problem, each from the smallest auth and line that cause it."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from services.auths.domain.checks import DEFAULT_AUTH_REQUIRED, Auth, LineToCheck, check_line
from shared.schemas import AuthCheckResult, AuthStatus

NPI = "1215049283"
OTHER_NPI = "1790773911"
DOS = date(2026, 9, 14)

AUTH = Auth(
    auth_number="PA-1001",
    provider_npi=NPI,
    procedure_codes=("64493", "64494"),
    units_authorized=Decimal("2"),
    valid_from=date(2026, 9, 1),
    valid_to=date(2026, 11, 30),
    status=AuthStatus.APPROVED,
)

LINE = LineToCheck(
    procedure_code="64493",
    units=Decimal("1"),
    service_date=DOS,
    rendering_npi=NPI,
    prior_auth_number="PA-1001",
)


def test_code_that_needs_no_auth_is_not_required():
    verdict = check_line(replace(LINE, procedure_code="99213", prior_auth_number=None), [])

    assert verdict.result is AuthCheckResult.NOT_REQUIRED
    assert verdict.auth_number is None
    assert "99213" in verdict.reason


def test_payer_specific_required_set_replaces_the_default():
    verdict = check_line(replace(LINE, procedure_code="99213"), [], required=frozenset({"99213"}))

    assert verdict.result is AuthCheckResult.MISSING
    assert "64493" in DEFAULT_AUTH_REQUIRED


def test_approved_auth_in_date_for_the_code_and_provider_is_valid():
    verdict = check_line(LINE, [AUTH])

    assert verdict.result is AuthCheckResult.VALID
    assert verdict.auth_number == "PA-1001"


def test_boundary_dates_are_inside_the_auth():
    assert check_line(replace(LINE, service_date=AUTH.valid_from), [AUTH]).result is AuthCheckResult.VALID
    assert check_line(replace(LINE, service_date=AUTH.valid_to), [AUTH]).result is AuthCheckResult.VALID


def test_no_auth_on_file_is_missing():
    verdict = check_line(replace(LINE, prior_auth_number=None), [])

    assert verdict.result is AuthCheckResult.MISSING
    assert verdict.auth_number is None


def test_missing_names_the_auth_number_the_claim_gave():
    verdict = check_line(LINE, [])

    assert verdict.result is AuthCheckResult.MISSING
    assert "PA-1001" in verdict.reason


@pytest.mark.parametrize("status", [AuthStatus.PENDING, AuthStatus.REQUESTED])
def test_pending_or_requested_auth_is_pending(status):
    verdict = check_line(LINE, [replace(AUTH, status=status)])

    assert verdict.result is AuthCheckResult.PENDING
    assert verdict.auth_number == "PA-1001"


def test_denied_auth_is_denied():
    verdict = check_line(LINE, [replace(AUTH, status=AuthStatus.DENIED)])

    assert verdict.result is AuthCheckResult.DENIED
    assert verdict.auth_number == "PA-1001"


def test_cancelled_auth_counts_as_missing():
    verdict = check_line(LINE, [replace(AUTH, status=AuthStatus.CANCELLED)])

    assert verdict.result is AuthCheckResult.MISSING
    assert verdict.auth_number == "PA-1001"


def test_service_after_valid_to_is_expired():
    verdict = check_line(replace(LINE, service_date=date(2026, 12, 1)), [AUTH])

    assert verdict.result is AuthCheckResult.EXPIRED
    assert "2026-11-30" in verdict.reason


def test_auth_with_status_expired_is_expired_even_in_its_dates():
    verdict = check_line(LINE, [replace(AUTH, status=AuthStatus.EXPIRED)])

    assert verdict.result is AuthCheckResult.EXPIRED


def test_service_before_valid_from_is_not_yet_valid():
    verdict = check_line(replace(LINE, service_date=date(2026, 8, 31)), [AUTH])

    assert verdict.result is AuthCheckResult.NOT_YET_VALID
    assert "2026-09-01" in verdict.reason


def test_auth_for_another_code_is_different_procedure():
    verdict = check_line(LINE, [replace(AUTH, procedure_codes=("64635",))])

    assert verdict.result is AuthCheckResult.DIFFERENT_PROCEDURE
    assert "64635" in verdict.reason


def test_auth_for_another_rendering_provider_is_different_provider():
    verdict = check_line(replace(LINE, rendering_npi=OTHER_NPI), [AUTH])

    assert verdict.result is AuthCheckResult.DIFFERENT_PROVIDER


def test_provider_is_not_compared_when_either_side_has_none():
    assert check_line(replace(LINE, rendering_npi=None), [AUTH]).result is AuthCheckResult.VALID
    assert check_line(LINE, [replace(AUTH, provider_npi=None)]).result is AuthCheckResult.VALID


def test_more_units_than_authorized_is_units_exhausted():
    verdict = check_line(replace(LINE, units=Decimal("3")), [AUTH])

    assert verdict.result is AuthCheckResult.UNITS_EXHAUSTED
    assert "3" in verdict.reason


def test_exactly_the_authorized_units_is_valid():
    assert check_line(replace(LINE, units=Decimal("2")), [AUTH]).result is AuthCheckResult.VALID


def test_auth_without_unit_limit_never_runs_out():
    auth = replace(AUTH, units_authorized=None)

    assert check_line(replace(LINE, units=Decimal("40")), [auth]).result is AuthCheckResult.VALID


def test_the_claims_prior_auth_number_picks_that_auth_among_several():
    approved_other = replace(AUTH, auth_number="PA-0900")
    denied_named = replace(AUTH, auth_number="PA-2002", status=AuthStatus.DENIED)
    auths = [approved_other, denied_named, replace(AUTH, auth_number="PA-3003", status=AuthStatus.PENDING)]

    named_denied = check_line(replace(LINE, prior_auth_number="PA-2002"), auths)
    named_pending = check_line(replace(LINE, prior_auth_number="PA-3003"), auths)
    named_approved = check_line(replace(LINE, prior_auth_number="PA-0900"), auths)

    assert (named_denied.result, named_denied.auth_number) == (AuthCheckResult.DENIED, "PA-2002")
    assert (named_pending.result, named_pending.auth_number) == (AuthCheckResult.PENDING, "PA-3003")
    assert (named_approved.result, named_approved.auth_number) == (AuthCheckResult.VALID, "PA-0900")


def test_without_a_named_auth_an_approved_one_is_preferred():
    auths = [replace(AUTH, auth_number="PA-D", status=AuthStatus.DENIED), replace(AUTH, auth_number="PA-A")]

    verdict = check_line(replace(LINE, prior_auth_number=None), auths)

    assert (verdict.result, verdict.auth_number) == (AuthCheckResult.VALID, "PA-A")


def test_an_auth_covering_the_code_is_preferred_to_one_that_does_not():
    rfa = replace(AUTH, auth_number="PA-RFA", procedure_codes=("64635",))

    verdict = check_line(replace(LINE, prior_auth_number=None), [rfa, AUTH])

    assert (verdict.result, verdict.auth_number) == (AuthCheckResult.VALID, "PA-1001")


def test_a_named_auth_not_on_file_falls_back_to_the_others():
    verdict = check_line(replace(LINE, prior_auth_number="PA-NOPE"), [AUTH])

    assert (verdict.result, verdict.auth_number) == (AuthCheckResult.VALID, "PA-1001")


def test_an_old_approval_does_not_hide_the_current_one():
    old = replace(AUTH, auth_number="PA-OLD", valid_from=date(2026, 1, 1), valid_to=date(2026, 6, 30))

    verdict = check_line(replace(LINE, prior_auth_number=None), [old, AUTH])

    assert (verdict.result, verdict.auth_number) == (AuthCheckResult.VALID, "PA-1001")


def test_units_already_used_count_against_the_authorization():
    partly_used = replace(AUTH, units_authorized=Decimal(4), units_used=Decimal(3))
    v = check_line(replace(LINE, units=Decimal(2)), [partly_used])

    assert v.result is AuthCheckResult.UNITS_EXHAUSTED
    assert "3 already used" in v.reason
    assert check_line(replace(LINE, units=Decimal(1)), [partly_used]).result is AuthCheckResult.VALID
