"""Routing rules: the operators' file decides queues and appeal windows, and a broken file is refused
with the line and the problem."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from services.denials.domain.routing import DEFAULT_ROUTING_FILE, Finding, RoutingError, load_routing

SHIPPED = load_routing()


def finding(
    category: str, amount: str = "100", payer_type: str = "medicare", practice: str = "p1"
) -> Finding:
    return Finding(category, "12502", payer_type, practice, ("50",), ("CO",), Decimal(amount))


@pytest.mark.parametrize(
    ("category", "queue"),
    [
        ("authorization", "authorization"),
        ("frequency", "frequency_medical_necessity"),
        ("medical_necessity", "frequency_medical_necessity"),
        ("coding_modifiers", "coding_modifiers"),
        ("bundling", "bundling"),
        ("eligibility_cob", "eligibility_cob"),
        ("timely_filing", "timely_filing"),
        ("duplicate", "duplicate"),
        ("documentation_requested", "documentation_requested"),
        ("patient_responsibility", "patient_balance"),
        ("underpayment", "underpayment"),
        ("payer_error", "payer_error"),
        ("something_new", "review"),
    ],
)
def test_the_shipped_rules_send_each_category_to_its_queue(category: str, queue: str):
    assert SHIPPED.route(finding(category))[0] == queue


def test_the_first_matching_rule_wins_so_large_medical_necessity_denials_go_to_senior_review():
    assert SHIPPED.route(finding("medical_necessity", "5000"))[0] == "senior_review"
    assert SHIPPED.route(finding("medical_necessity", "4999.99"))[0] == "frequency_medical_necessity"


def test_appeal_deadlines_follow_the_payer_type():
    paid_on = date(2026, 10, 20)
    assert SHIPPED.deadline(paid_on, SHIPPED.payer_type(None, "MB")) == date(
        2027, 2, 17
    )  # Medicare: 120 days
    assert SHIPPED.deadline(paid_on, SHIPPED.payer_type(None, "16")) == date(2026, 12, 19)  # MA: 60 days
    assert SHIPPED.deadline(paid_on, SHIPPED.payer_type(None, "CI")) == date(2027, 4, 18)  # commercial: 180
    assert SHIPPED.payer_type(None, None) == "other"
    assert SHIPPED.deadline(paid_on, "other") == date(2027, 2, 17)  # the default


def test_practice_and_payer_conditions_narrow_a_rule(tmp_path: Path):
    path = tmp_path / "routing.yaml"
    path.write_text(
        "version: 1\n"
        "appeal_days: {default: 120}\n"
        "rules:\n"
        "  - name: desert spine authorizations go to their own team\n"
        "    when: {category: authorization, practice_id: desert-spine, payer_type: medicare}\n"
        "    queue: desert_auth\n"
        "  - name: everything else\n"
        "    queue: general\n"
    )
    config = load_routing(path)
    assert config.route(finding("authorization", practice="desert-spine")) == (
        "desert_auth",
        "desert spine authorizations go to their own team",
    )
    assert config.route(finding("authorization", practice="lakeside"))[0] == "general"
    assert (
        config.route(finding("authorization", practice="desert-spine", payer_type="commercial"))[0]
        == "general"
    )


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        (
            "version: 1\nappeal_days: {default: 120}\nrules:\n  - name: a\n    queue: Bad Queue\n",
            5,
            "rules.0.queue",
        ),
        (
            "version: 1\nappeal_days: {default: 120}\nrules:\n  - name: a\n    when: {payer_type: martian}\n"
            "    queue: q\n",
            5,
            "unknown payer type 'martian'",
        ),
        (
            "version: 1\nappeal_days:\n  medicare: 120\nrules:\n  - {name: a, queue: q}\n",
            3,
            "needs a 'default' entry",
        ),
        (
            "version: 1\nappeal_days: {default: 120}\nrules:\n  - name: a\n    queue: q\n    colour: red\n",
            6,
            "rules.0.colour",
        ),
        ("version: 1\nappeal_days: {default: 120}\nrules: [\n", 4, "not valid YAML"),
    ],
)
def test_a_malformed_routing_file_is_refused_with_the_line_and_the_problem(
    tmp_path: Path, text: str, line: int, problem: str
):
    path = tmp_path / "routing.yaml"
    path.write_text(text)
    with pytest.raises(RoutingError) as refused:
        load_routing(path)
    message = str(refused.value)
    assert f"{path} line {line}" in message
    assert problem in message


def test_a_missing_routing_file_says_which_file(tmp_path: Path):
    with pytest.raises(RoutingError, match="cannot read the routing file"):
        load_routing(tmp_path / "nope.yaml")


def test_the_shipped_file_is_the_default():
    assert DEFAULT_ROUTING_FILE.name == "routing.yaml"
    assert SHIPPED.default_queue == "review"
