"""The CARCs pain billing meets most (domain reference, table 1.6): each pinned to its meaning, category,
next action and whether it is appealed or corrected."""

from __future__ import annotations

import pytest

from services.denials.domain.catalog import load_catalog

CATALOG = load_catalog()


@pytest.mark.parametrize(
    ("code", "category", "appealable", "meaning_says", "action_says"),
    [
        ("4", "coding_modifiers", "correctable", "modifier", "corrected claim"),
        ("5", "coding_modifiers", "correctable", "place of service", "place of service"),
        ("11", "medical_necessity", "yes", "diagnosis does not support", "lcd"),
        ("16", "documentation_requested", "correctable", "lacks information", "remark code"),
        ("18", "duplicate", "no", "duplicate", "original"),
        ("22", "eligibility_cob", "correctable", "another payer may be primary", "primary payer"),
        ("27", "eligibility_cob", "correctable", "after coverage ended", "eligibility"),
        ("29", "timely_filing", "yes", "timely filing", "timely submission"),
        ("45", "contractual", "no", "fee schedule", "underpayment"),
        ("50", "medical_necessity", "yes", "not medically necessary", "appeal"),
        ("96", "medical_necessity", "yes", "non-covered", "remark code"),
        ("97", "bundling", "correctable", "bundled", "ncci"),
        ("119", "frequency", "yes", "benefit maximum", "frequency"),
        ("151", "frequency", "yes", "this many", "12-month"),
        ("167", "medical_necessity", "yes", "diagnosis is not covered", "lcd"),
        ("181", "coding_modifiers", "correctable", "procedure code was not valid", "recode"),
        ("182", "coding_modifiers", "correctable", "modifier was not valid", "modifier"),
        ("197", "authorization", "yes", "prior authorization", "retro-authorization"),
        ("198", "authorization", "yes", "authorization was exceeded", "extension"),
        ("204", "eligibility_cob", "yes", "not covered under the patient", "benefits"),
        ("234", "bundling", "correctable", "not paid separately", "bundling"),
        ("236", "bundling", "correctable", "ncci", "modifier indicator"),
        ("252", "documentation_requested", "correctable", "documentation is required", "records"),
        ("288", "authorization", "correctable", "referral is absent", "referral"),
    ],
)
def test_pain_carc_meaning_category_and_action(code, category, appealable, meaning_says, action_says):
    entry = CATALOG.carc(code)

    assert entry is not None
    assert entry.category == category
    assert entry.appealable == appealable
    assert meaning_says in entry.meaning.lower()
    assert entry.action is not None and action_says in entry.action.lower()
