"""Payer auth rules: OPD PA, WISeR and payer-policy defaults from the shipped auth_rules.yaml; its loader."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from services.auths.domain.checks import LineToCheck
from services.auths.domain.payer_rules import (
    AuthRules,
    AuthRulesFile,
    ClaimContext,
    ConfigError,
    default_auth_rules,
    expand_codes,
    load_auth_rules,
    requirement,
)
from shared.schemas import SubmittedLine

WISER_STATES = ("AZ", "WA", "TX", "OK", "NJ", "OH")


def line(code: str, dos: date | None) -> LineToCheck:
    return LineToCheck(
        procedure_code=code, units=Decimal(1), service_date=dos, rendering_npi=None, prior_auth_number=None
    )


def medicare(pos: str | None, state: str | None = "KY") -> ClaimContext:
    return ClaimContext(payer_id="15202", place_of_service=pos, state=state, payer_type="medicare")


# ---------------------------------------------------------------- OPD prior authorization


@pytest.mark.parametrize("pos", ["22", "19"])
@pytest.mark.parametrize("code", ["64490", "64491", "64493", "64494", "64633", "64634", "64635", "64636"])
def test_medicare_facet_and_rfa_in_hospital_outpatient_need_opd_pa(code, pos):
    req = requirement(line(code, date(2026, 3, 10)), medicare(pos))

    assert req.required is True
    assert req.program == "OPD PA"
    assert code in req.reason


def test_lumbar_facet_block_in_the_office_needs_no_opd_pa():
    req = requirement(line("64493", date(2026, 3, 10)), medicare("11"))

    assert req.required is False
    assert req.program is None


def test_facet_in_an_asc_needs_no_opd_pa():
    assert requirement(line("64493", date(2026, 3, 10)), medicare("24")).required is False


def test_opd_pa_for_facets_starts_on_2023_07_01():
    assert requirement(line("64493", date(2023, 6, 30)), medicare("22")).required is False
    assert requirement(line("64493", date(2023, 7, 1)), medicare("22")).program == "OPD PA"


@pytest.mark.parametrize("code", ["64492", "64495"])
def test_third_level_facet_codes_are_off_the_opd_pa_list(code):
    req = requirement(line(code, date(2026, 3, 10)), medicare("22"))

    assert req.required is False
    assert req.program is None
    assert "never covered" in (req.rule or "")


def test_scs_trial_63650_in_hospital_outpatient_needs_opd_pa_since_2021_07_01():
    req = requirement(line("63650", date(2021, 7, 1)), medicare("22"))

    assert req.required is True
    assert req.program == "OPD PA"
    assert requirement(line("63650", date(2021, 6, 30)), medicare("22")).required is False


def test_only_63650_of_the_stimulator_codes_is_on_the_opd_pa_list():
    # 63655 in Kentucky (not a WISeR state) in the hospital outpatient department.
    assert requirement(line("63655", date(2026, 3, 10)), medicare("22")).required is False


# ---------------------------------------------------------------- WISeR


def test_transforaminal_esi_in_arizona_original_medicare_from_2026_01_15_needs_wiser_pa():
    req = requirement(line("64483", date(2026, 1, 15)), medicare("11", "AZ"))

    assert req.required is True
    assert req.program == "WISeR"
    assert "UTN" in req.reason
    assert "pre-payment review" in req.reason


def test_the_same_esi_the_day_before_wiser_starts_needs_no_pa():
    req = requirement(line("64483", date(2026, 1, 14)), medicare("11", "AZ"))

    assert req.required is False
    assert req.program is None


def test_wiser_ends_after_2031():
    assert requirement(line("64483", date(2031, 12, 31)), medicare("11", "AZ")).program == "WISeR"
    assert requirement(line("64483", date(2032, 1, 1)), medicare("11", "AZ")).required is False


def test_the_same_esi_in_a_state_outside_wiser_needs_no_pa():
    assert requirement(line("64483", date(2026, 3, 2)), medicare("11", "NV")).required is False


def test_medicare_advantage_in_a_wiser_state_is_not_under_wiser():
    ctx = ClaimContext("87726", place_of_service="11", state="AZ", payer_type="medicare_advantage")

    req = requirement(line("64483", date(2026, 3, 2)), ctx)

    assert req.program != "WISeR"
    assert req.required is False


@pytest.mark.parametrize("state", WISER_STATES)
def test_every_wiser_state_is_covered(state):
    assert requirement(line("62323", date(2026, 2, 2)), medicare("11", state)).program == "WISeR"


@pytest.mark.parametrize(
    "code",
    [
        "62321",
        "62323",
        "64479",
        "64480",
        "64483",
        "64484",
        "63655",
        "64605",
        "64610",
        "22510",
        "22513",
        "22515",
        "22554",
    ],
)
def test_wiser_pain_codes(code):
    assert requirement(line(code, date(2026, 2, 2)), medicare("24", "NJ")).program == "WISeR"


@pytest.mark.parametrize("code", ["64490", "64493", "64633", "64635"])
def test_facet_injections_and_rfa_in_the_office_are_not_under_wiser(code):
    assert requirement(line(code, date(2026, 2, 2)), medicare("11", "TX")).required is False


def test_63650_is_not_in_the_wiser_list():
    assert requirement(line("63650", date(2026, 2, 2)), medicare("11", "TX")).required is False


def test_wiser_leaves_out_inpatient_and_emergency_settings():
    assert requirement(line("64483", date(2026, 2, 2)), medicare("21", "OH")).required is False
    assert requirement(line("64483", date(2026, 2, 2)), medicare("23", "OH")).required is False


def test_a_missing_state_does_not_exempt_a_wiser_code():
    req = requirement(line("64483", date(2026, 2, 2)), medicare("11", None))

    assert req.required is True
    assert req.program == "WISeR"
    assert "state not known" in req.reason


def test_a_submitted_837_line_can_be_checked_directly():
    submitted = SubmittedLine(
        line_number=1,
        procedure_code="64484",
        units=Decimal(1),
        charge=Decimal("310.00"),
        service_date=date(2026, 5, 4),
    )
    assert requirement(submitted, medicare("11", "WA")).program == "WISeR"


# ---------------------------------------------------------------- commercial and Medicaid defaults


@pytest.mark.parametrize("payer_type", ["commercial", "medicaid"])
@pytest.mark.parametrize("code", ["64493", "64495", "64636", "62323", "64483", "63650", "63655"])
def test_commercial_and_medicaid_default_to_auth_for_interventional_families(payer_type, code):
    ctx = ClaimContext("60054", place_of_service="11", state="KY", payer_type=payer_type)

    req = requirement(line(code, date(2026, 3, 10)), ctx)

    assert req.required is True
    assert req.program == "payer policy"


def test_commercial_office_visit_needs_no_auth():
    ctx = ClaimContext("60054", place_of_service="11", state="KY", payer_type="commercial")

    req = requirement(line("99213", date(2026, 3, 10)), ctx)

    assert req.required is False
    assert "commercial" in req.reason


def test_unknown_payer_type_says_how_to_fix_it():
    req = requirement(line("64493", date(2026, 3, 10)), ClaimContext("99999", place_of_service="11"))

    assert req.required is False
    assert "payer_types" in req.reason


# ---------------------------------------------------------------- custom rules and the loader


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "auth_rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_payer_id_maps_to_a_payer_type_and_payer_specific_rules_come_first(tmp_path):
    rules = load_auth_rules(
        write(
            tmp_path,
            "version: 1\n"
            "payer_types: {87726: medicare_advantage}\n"
            "families: {facet: ['64490-64495']}\n"
            "rules:\n"
            "  - name: UHC MA facet policy\n"
            "    program: payer policy\n"
            "    when: {payer_id: '87726', codes: [facet]}\n"
            "  - name: MA plans otherwise exempt\n"
            "    required: false\n"
            "    when: {payer_type: medicare_advantage}\n",
        )
    )
    assert rules.requirement(line("64494", date(2026, 3, 1)), ClaimContext("87726")).program == "payer policy"
    assert rules.payer_type(ClaimContext("87726")) == "medicare_advantage"
    assert rules.requirement(line("64633", date(2026, 3, 1)), ClaimContext("87726")).required is False


def test_the_shipped_file_loads():
    rules = default_auth_rules()

    assert rules.spec.version == 1
    assert "wiser" in rules.spec.families


@pytest.mark.parametrize(
    ("body", "line_no", "words"),
    [
        (
            "version: 1\nrules:\n  - name: x\n    program: payer policy\n    when:\n      codes: [facets]\n",
            6,
            "unknown code family 'facets'",
        ),
        (
            "version: 1\nrules:\n  - name: x\n    program: payer policy\n    when: {state: [AZ, ZZ]}\n",
            5,
            "'ZZ'",
        ),
        ("version: 1\nrules:\n  - name: needs a program\n    when: {payer_type: commercial}\n", 3, "program"),
        (
            "version: 1\nrules:\n  - name: x\n    program: payer policy\n    when:\n"
            "      codes: ['64495-64490']\n",
            6,
            "backwards",
        ),
        (
            "version: 1\nrules:\n  - name: x\n    program: payer policy\n"
            "    when: {payer_type: medicare_b}\n",
            5,
            "payer type",
        ),
        ("version: 1\nrules:\n  - name: x\n    program: OPD-PA\n", 4, "OPD PA"),
        ("version: 1\nrules:\n  - name: x\n    program: payer policy\n   when: {}\n", 5, "not valid YAML"),
    ],
)
def test_loader_errors_name_the_file_and_line(tmp_path, body, line_no, words):
    path = write(tmp_path, body)

    with pytest.raises(ConfigError) as caught:
        load_auth_rules(path)

    message = str(caught.value)
    assert str(path) in message
    assert f"line {line_no}" in message
    assert words in message


def test_rules_built_in_code_are_checked_too():
    spec = AuthRulesFile.model_validate(
        {"version": 1, "rules": [{"name": "x", "program": "payer policy", "when": {"codes": ["esi"]}}]}
    )
    with pytest.raises(ConfigError, match="unknown code family 'esi'"):
        AuthRules(spec)


# ---------------------------------------------------------------- code ranges


def test_code_ranges_expand_inclusively():
    assert expand_codes("64490-64495") == ("64490", "64491", "64492", "64493", "64494", "64495")
    assert expand_codes(" g0480 \u2013 G0483 ") == ("G0480", "G0481", "G0482", "G0483")
    assert expand_codes("0213T-0215T") == ("0213T", "0214T", "0215T")
    assert expand_codes("64493") == ("64493",)


@pytest.mark.parametrize("token", ["6449", "64495-64490", "64490-74495", "G0480-64495", "64490-"])
def test_bad_codes_and_ranges_are_refused(token):
    with pytest.raises(ValueError, match=r"."):
        expand_codes(token)
