"""The pain coding rule pack: every rule holds or warns on a claim that breaks it and stays silent on a
near-identical claim that does not; overrides by payer type, payer id and place of service change what
is held; denials are explained by the rule they broke; a broken rule file is refused with file and line."""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import get_args

import pytest

from services.denials.domain.ncci import (
    AdjudicationIndicator,
    ModifierIndicator,
    MueEdit,
    MueTable,
    PtpEdit,
    PtpTable,
)
from services.denials.domain.routing import PAYER_TYPES
from services.denials.domain.rulepack import (
    DEFAULT_RULES_DIR,
    PatientHistory,
    PayerType,
    RuleFinding,
    RulePack,
    RulePackError,
    ScrubClaim,
    ScrubLine,
    explain_denial,
    load_rulepack,
    scrub,
)
from shared.schemas import ClaimSubmitted, LineBrief, PersonRef, RemitServiceLine, SubmittedLine

D = Decimal
DOS = date(2026, 9, 14)
MEDICARE_JF = "04412"
COMMERCIAL = "87726"

PACK = load_rulepack()


def ln(
    n: int, code: str, *modifiers: str, units: str = "1", day: date = DOS, place: str | None = None
) -> ScrubLine:
    return ScrubLine(n, code, modifiers, D(units), day, place)


def claim_of(
    *lines: ScrubLine, place: str = "11", payer: str = MEDICARE_JF, flags: tuple[str, ...] = ()
) -> ScrubClaim:
    return ScrubClaim("PCN1", payer, place, lines, frozenset(flags))


def of_rule(findings: list[RuleFinding], rule_id: str) -> list[RuleFinding]:
    return [f for f in findings if f.rule_id == rule_id]


def fired(
    rule_id: str,
    claim: ScrubClaim,
    payer_type: str = "medicare",
    pack: RulePack = PACK,
    history: PatientHistory | None = None,
) -> list[tuple[str, tuple[int, ...]]]:
    return [
        (f.severity, f.line_numbers)
        for f in of_rule(scrub(claim, pack, payer_type=payer_type, history=history), rule_id)
    ]


# ---------------------------------------------------------------- NCCI tables built in the test


def ptp_edit(
    column1: str, column2: str, indicator: ModifierIndicator, deletion: date | None = None
) -> PtpEdit:
    return PtpEdit(
        column1, column2, date(2020, 1, 1), deletion, indicator, "Misuse of column two code", "t", 1
    )


def ptp_table(*edits: PtpEdit) -> PtpTable:
    return PtpTable({(e.column1, e.column2): (e,) for e in edits})


def mue_table(*rows: tuple[str, int, AdjudicationIndicator]) -> MueTable:
    return MueTable(
        {
            code: MueEdit(code, value, mai, "Date of Service Edit: Policy", "Code Descriptor", "t", 1)
            for code, value, mai in rows
        }
    )


NCCI_PACK = PACK.with_tables(
    ptp=ptp_table(
        ptp_edit("64635", "64493", "1"),
        ptp_edit("64483", "62323", "0"),
        ptp_edit("64490", "64493", "9"),
        ptp_edit("64633", "64490", "1", deletion=date(2026, 1, 1)),
    ),
    mue=mue_table(("64493", 1, 2), ("J1030", 4, 1)),
)


# ---------------------------------------------------------------- one breaking and one clean claim per rule


@dataclass(frozen=True)
class Case:
    rule_id: str
    breaks: ScrubClaim
    expected: list[tuple[str, tuple[int, ...]]]
    clean: ScrubClaim
    payer_type: str = "medicare"
    pack: RulePack = PACK
    history: PatientHistory | None = None


CASES = [
    Case(
        "PAIN-MOD-001",
        claim_of(ln(1, "64493", "50", "LT")),
        [("hold", (1,))],
        claim_of(ln(1, "64493", "50")),
    ),
    Case(
        "PAIN-MOD-002",
        claim_of(ln(1, "62323", "50"), ln(2, "20553", "50")),
        [("hold", (1,)), ("hold", (2,))],
        claim_of(ln(1, "62323"), ln(2, "20553")),
    ),
    Case(
        "PAIN-MOD-003",
        claim_of(ln(1, "64493"), ln(2, "64494", "51")),
        [("warn", (2,))],
        claim_of(ln(1, "64493"), ln(2, "64494")),
    ),
    Case(
        "PAIN-BIL-001",
        claim_of(ln(1, "64483", "50"), place="24"),
        [("hold", (1,))],
        claim_of(ln(1, "64483", "RT"), ln(2, "64483", "LT"), place="24"),
    ),
    Case(
        "PAIN-ADD-001",
        claim_of(ln(1, "64490"), ln(2, "64494")),
        [("hold", (2,))],
        claim_of(ln(1, "64493"), ln(2, "64494")),
    ),
    Case(
        "PAIN-LVL-001",
        claim_of(ln(1, "64493", "50"), ln(2, "64494", "50"), ln(3, "64495", "50")),
        [("hold", (3,))],
        claim_of(ln(1, "64493", "50"), ln(2, "64494", "50")),
    ),
    Case(
        "PAIN-LVL-002",
        claim_of(ln(1, "64483"), ln(2, "64484", units="2")),
        [("hold", (2,))],
        claim_of(ln(1, "64483"), ln(2, "64484")),
    ),
    Case(
        "PAIN-UNIT-001",
        claim_of(ln(1, "20552"), ln(2, "20553")),
        [("hold", (1, 2))],
        claim_of(ln(1, "20553")),
    ),
    Case(
        "PAIN-UNIT-002",
        claim_of(ln(1, "62323", units="2")),
        [("hold", (1,))],
        claim_of(ln(1, "62323")),
    ),
    Case(
        "PAIN-UNIT-003",
        claim_of(ln(1, "64483", "50", units="2")),
        [("hold", (1,))],
        claim_of(ln(1, "64483", "50")),
    ),
    Case(
        "PAIN-IMG-001",
        claim_of(ln(1, "62323"), ln(2, "77003")),
        [("hold", (2,))],
        claim_of(ln(1, "62322"), ln(2, "77003")),
    ),
    Case(
        "PAIN-PAIR-001",
        claim_of(ln(1, "64493"), ln(2, "20552")),
        [("hold", (2,))],
        claim_of(ln(1, "64493"), ln(2, "20552", "XS")),
    ),
    Case(
        "PAIN-KX-001",
        claim_of(ln(1, "64493"), flags=("diagnostic",)),
        [("hold", (1,))],
        claim_of(ln(1, "64493", "KX"), flags=("diagnostic",)),
    ),
    Case(
        "PAIN-KX-002",
        claim_of(ln(1, "64490")),
        [("warn", (1,))],
        claim_of(ln(1, "64490"), flags=("therapeutic",)),
    ),
    Case(
        "PAIN-KX-003",
        claim_of(ln(1, "64483"), flags=("diagnostic",)),
        [("hold", (1,))],
        claim_of(ln(1, "64483", "KX"), flags=("diagnostic",)),
    ),
    Case(
        "PAIN-UDT-001",
        claim_of(ln(1, "80305"), ln(2, "80307")),
        [("hold", (1, 2))],
        claim_of(ln(1, "80305"), ln(2, "80307", day=DOS + timedelta(days=7))),
    ),
    Case(
        "PAIN-UDT-002",
        claim_of(ln(1, "G0481", units="2")),
        [("hold", (1,))],
        claim_of(ln(1, "G0481")),
    ),
    Case(
        "PAIN-UDT-003",
        claim_of(ln(1, "80307"), ln(2, "G0481")),
        [("warn", (2,))],
        claim_of(ln(1, "80307"), ln(2, "G0481", day=DOS + timedelta(days=60))),
        history=PatientHistory(definitive_test_dates=(date(2026, 6, 1), date(2026, 7, 6), date(2026, 8, 10))),
    ),
    Case(
        "NCCI-PTP-001",
        claim_of(ln(1, "64635"), ln(2, "64493")),
        [("hold", (2,))],
        claim_of(ln(1, "64635"), ln(2, "64493", "XS")),
        pack=NCCI_PACK,
    ),
    Case(
        "NCCI-MUE-001",
        claim_of(ln(1, "64493", "RT"), ln(2, "64493", "LT")),
        [("hold", (1, 2))],
        claim_of(ln(1, "64493", "50")),
        pack=NCCI_PACK,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.rule_id for c in CASES])
def test_each_rule_fires_on_the_claim_that_breaks_it_and_not_on_its_near_twin(case: Case):
    assert fired(case.rule_id, case.breaks, case.payer_type, case.pack, case.history) == case.expected
    assert fired(case.rule_id, case.clean, case.payer_type, case.pack, case.history) == []


def test_every_shipped_rule_has_a_breaking_case_and_a_citation():
    assert {c.rule_id for c in CASES} | {"PAIN-BIL-002"} == {r.id for r in PACK.rules}
    for rule in PACK.rules:
        assert rule.codes or rule.spec.condition.kind in ("modifier_conflict", "ptp_pair", "mue_limit")
        assert rule.spec.citation and rule.spec.fix and rule.spec.message


# ---------------------------------------------------------------- the ASC and the office


def asc_or_office(place: str) -> ScrubClaim:
    """Bilateral two-level lumbar facet block with a trigger point injection on the same date."""
    return claim_of(ln(1, "64493", "50"), ln(2, "64494", "50"), ln(3, "20552"), place=place)


def test_in_the_office_only_the_trigger_point_is_held():
    findings = scrub(asc_or_office("11"), PACK, payer_type="medicare")
    held = [(f.line_numbers, f.rule_id, f.message) for f in findings if f.held]
    assert held == [
        (
            (3,),
            "PAIN-PAIR-001",
            "Line 3 bills trigger point injection 20552 on 2026-09-14 with 64493 and no distinct-service "
            "modifier; the payer bundles it into 64493.",
        )
    ]
    assert [f.fix for f in findings if f.held] == [
        "If the trigger points were at a separate site from the spinal injection and documented so, add "
        "XS or XU to 20552; otherwise remove the 20552 line."
    ]
    warned = [(f.line_numbers, f.rule_id) for f in findings if not f.held]
    assert warned == [((1,), "PAIN-KX-002"), ((2,), "PAIN-KX-002")]


def test_in_the_asc_both_bilateral_facet_lines_and_the_trigger_point_are_held():
    findings = scrub(asc_or_office("24"), PACK, payer_type="medicare")
    held = [(f.line_numbers, f.rule_id, f.message) for f in findings if f.held]
    assert held == [
        (
            (1,),
            "PAIN-BIL-001",
            "Line 1 bills 64493 with modifier 50 at place of service 24 (ASC); the ASC convention is one "
            "line per side.",
        ),
        (
            (2,),
            "PAIN-BIL-001",
            "Line 2 bills 64494 with modifier 50 at place of service 24 (ASC); the ASC convention is one "
            "line per side.",
        ),
        (
            (3,),
            "PAIN-PAIR-001",
            "Line 3 bills trigger point injection 20552 on 2026-09-14 with 64493 and no distinct-service "
            "modifier; the payer bundles it into 64493.",
        ),
    ]
    assert of_rule(findings, "PAIN-BIL-001")[0].fix == (
        "Replace the line with two lines of 64493: one with RT and one with LT, 1 unit each, without 50."
    )


def test_the_asc_claim_rebilled_as_side_lines_with_xs_holds_nothing():
    fixed = claim_of(
        ln(1, "64493", "RT"),
        ln(2, "64493", "LT"),
        ln(3, "64494", "RT"),
        ln(4, "64494", "LT"),
        ln(5, "20552", "XS"),
        place="24",
        flags=("therapeutic",),
    )
    assert scrub(fixed, PACK, payer_type="medicare") == []


def test_a_line_billed_at_another_place_of_service_follows_its_own_place():
    mixed = claim_of(ln(1, "64493", "50"), ln(2, "64483", "50", place="24"), flags=("therapeutic",))
    assert fired("PAIN-BIL-001", mixed) == [("hold", (2,))]


# ---------------------------------------------------------------- overrides and policies


def test_the_distinct_service_modifier_preference_follows_the_payer_type():
    with_59 = claim_of(ln(1, "64493"), ln(2, "20552", "59"))
    with_xs = claim_of(ln(1, "64493"), ln(2, "20552", "XS"))
    assert fired("PAIN-PAIR-001", with_59, "medicare") == [("warn", (2,))]
    assert fired("PAIN-PAIR-001", with_xs, "medicare") == []
    assert fired("PAIN-PAIR-001", with_59, "commercial") == []
    assert fired("PAIN-PAIR-001", with_xs, "commercial") == [("warn", (2,))]
    [preference] = of_rule(scrub(with_xs, PACK, payer_type="commercial"), "PAIN-PAIR-001")
    assert preference.message.startswith("Line 2 shows the trigger point injection as distinct with XS;")
    assert "prefers 59" in preference.message


def test_bilateral_units_are_held_for_medicare_and_only_warned_for_commercial():
    two_units = claim_of(ln(1, "64493", "50", units="2"))
    assert fired("PAIN-UNIT-003", two_units, "medicare") == [("hold", (1,))]
    [warning] = of_rule(scrub(two_units, PACK, payer_type="commercial"), "PAIN-UNIT-003")
    assert warning.severity == "warn"
    assert "some other payers want 2 units" in warning.message


def test_kx_is_a_medicare_rule():
    diagnostic = claim_of(ln(1, "64493"), flags=("diagnostic",))
    assert fired("PAIN-KX-001", diagnostic, "medicare") == [("hold", (1,))]
    assert fired("PAIN-KX-001", diagnostic, "commercial") == []
    assert fired("PAIN-KX-002", claim_of(ln(1, "64493"), flags=("diagnostic",))) == []


def test_levels_count_sides_once_and_sessions_by_date():
    both_sides = claim_of(
        ln(1, "64493", "RT"), ln(2, "64493", "LT"), ln(3, "64494", "RT"), ln(4, "64494", "LT")
    )
    assert fired("PAIN-LVL-001", both_sides) == []
    two_sessions = claim_of(ln(1, "64493"), ln(2, "64494"), ln(3, "64493", day=DOS + timedelta(days=14)))
    assert fired("PAIN-LVL-001", two_sessions) == []
    regions_apart = claim_of(ln(1, "64490"), ln(2, "64491"), ln(3, "64493"), ln(4, "64494"))
    assert fired("PAIN-LVL-001", regions_apart) == []
    [finding] = of_rule(
        scrub(claim_of(ln(1, "64493"), ln(2, "64494"), ln(3, "64495")), PACK, payer_type="medicare"),
        "PAIN-LVL-001",
    )
    assert finding.message.startswith("The lumbar/sacral facet session on 2026-09-14 reaches 3 levels;")


def test_an_addon_needs_its_primary_on_the_same_date():
    apart = claim_of(ln(1, "64483"), ln(2, "64484", day=DOS + timedelta(days=1)))
    [finding] = of_rule(scrub(apart, PACK, payer_type="medicare"), "PAIN-ADD-001")
    assert finding.line_numbers == (2,)
    assert "without its primary code 64483 on that date" in finding.message


def test_the_drug_test_pattern_needs_history_and_every_visit_tested():
    today = claim_of(ln(1, "G0481"))
    three_prior = [date(2026, 6, 1), date(2026, 7, 6), date(2026, 8, 10)]
    assert fired("PAIN-UDT-003", today) == []
    assert fired("PAIN-UDT-003", today, history=PatientHistory(tuple(three_prior[1:]))) == []
    [finding] = of_rule(scrub(today, PACK, payer_type="medicare", history=three_prior), "PAIN-UDT-003")
    assert finding.message.startswith(
        "Definitive drug test G0481 on 2026-09-14 follows definitive tests on 3"
    )
    untested_visit = PatientHistory(tuple(three_prior), visit_dates=(*three_prior, date(2026, 8, 24)))
    assert fired("PAIN-UDT-003", today, history=untested_visit) == []
    every_visit = PatientHistory(tuple(three_prior), visit_dates=tuple(three_prior))
    assert fired("PAIN-UDT-003", today, history=every_visit) == [("warn", (1,))]


def test_ptp_indicator_0_cannot_be_bypassed_and_9_or_deleted_edits_do_nothing():
    not_bypassable = claim_of(ln(1, "64483"), ln(2, "62323", "XS"))
    [finding] = of_rule(scrub(not_bypassable, NCCI_PACK, payer_type="medicare"), "NCCI-PTP-001")
    assert finding.line_numbers == (2,)
    assert "modifier indicator 0" in finding.message
    assert "whatever the modifier" in finding.message
    assert fired("NCCI-PTP-001", claim_of(ln(1, "64490"), ln(2, "64493")), pack=NCCI_PACK) == []
    assert fired("NCCI-PTP-001", claim_of(ln(1, "64633"), ln(2, "64490")), pack=NCCI_PACK) == []
    column2_first = claim_of(ln(1, "64493"), ln(2, "64635"))
    assert fired("NCCI-PTP-001", column2_first, pack=NCCI_PACK) == [("hold", (1,))]
    assert fired("NCCI-PTP-001", claim_of(ln(1, "64635"), ln(2, "64493")), pack=PACK) == []  # no table


def test_mue_line_edits_count_each_line_and_warn():
    assert fired("NCCI-MUE-001", claim_of(ln(1, "J1030", units="5")), pack=NCCI_PACK) == [("warn", (1,))]
    assert (
        fired("NCCI-MUE-001", claim_of(ln(1, "J1030", units="3"), ln(2, "J1030", units="3")), pack=NCCI_PACK)
        == []
    )


def copy_pack(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES_DIR, target)
    return target


def record_per_side_payer(rules: Path, payer_id: str) -> RulePack:
    policies = rules / "00-policies.yaml"
    policies.write_text(
        policies.read_text().replace("by_payer_id: {}", f'by_payer_id: {{"{payer_id}": per_side_lines}}')
    )
    return load_rulepack(rules)


def test_a_payer_recorded_with_per_side_lines_gets_50_on_facet_addons_held(tmp_path: Path):
    pack = record_per_side_payer(copy_pack(tmp_path), COMMERCIAL)
    with_50 = claim_of(ln(1, "64493", "50"), ln(2, "64494", "50"), payer=COMMERCIAL)
    per_side = claim_of(ln(1, "64493", "50"), ln(2, "64494", "RT"), ln(3, "64494", "LT"), payer=COMMERCIAL)
    assert fired("PAIN-BIL-002", with_50, "commercial", pack) == [("hold", (2,))]
    assert fired("PAIN-BIL-002", per_side, "commercial", pack) == []
    assert fired("PAIN-BIL-002", with_50, "commercial", PACK) == []  # the default: modifier 50 accepted
    assert pack.policy_choice("facet_addon_bilateral", MEDICARE_JF, "medicare") == "modifier_50"


def test_an_override_can_turn_a_rule_off_for_one_payer_id(tmp_path: Path):
    rules = copy_pack(tmp_path)
    modifiers = rules / "10-modifiers.yaml"
    modifiers.write_text(
        modifiers.read_text().replace(
            '      - when: {place_of_service: "24"}\n        enabled: true\n',
            '      - when: {place_of_service: "24"}\n        enabled: true\n'
            f'      - when: {{payer_id: "{MEDICARE_JF}"}}\n        enabled: false\n',
        )
    )
    pack = load_rulepack(rules)
    asc = asc_or_office("24")
    assert fired("PAIN-BIL-001", asc, pack=pack) == []
    assert fired("PAIN-BIL-001", ScrubClaim("PCN2", "11111", "24", asc.lines), pack=pack) == [
        ("hold", (1,)),
        ("hold", (2,)),
    ]


def test_the_pack_knows_the_same_payer_types_as_routing():
    assert set(get_args(PayerType)) == set(PAYER_TYPES)


def test_an_unknown_payer_type_is_refused():
    with pytest.raises(ValueError, match="unknown payer type 'medicar'"):
        scrub(asc_or_office("11"), PACK, payer_type="medicar")


# ---------------------------------------------------------------- claims from the event and the 837P reader


def test_a_claim_submitted_event_is_scrubbed_with_its_place_of_service():
    event = ClaimSubmitted(
        event_id=uuid.uuid4(),
        occurred_at=datetime(2026, 9, 15, tzinfo=UTC),
        practice_id="desert-pain",
        claim_id="PCN9",
        billing_npi="1538267114",
        payer_id=MEDICARE_JF,
        patient=PersonRef(last_name="RIVERA"),
        place_of_service="24",
        lines=(
            SubmittedLine(
                line_number=1,
                procedure_code="64493",
                modifiers=("50",),
                units=D(1),
                charge=D(900),
                service_date=DOS,
            ),
            SubmittedLine(
                line_number=2,
                procedure_code="64494",
                modifiers=("50",),
                units=D(1),
                charge=D(500),
                service_date=DOS,
            ),
        ),
    )
    claim = ScrubClaim.from_claim_submitted(event, flags=("therapeutic",))
    assert [(f.rule_id, f.line_numbers) for f in scrub(claim, PACK, payer_type="medicare")] == [
        ("PAIN-BIL-001", (1,)),
        ("PAIN-BIL-001", (2,)),
    ]


# ---------------------------------------------------------------- explaining denials


def brief(n: int, code: str, *modifiers: str, units: str = "1") -> LineBrief:
    return LineBrief(
        line_number=n,
        procedure_code=code,
        modifiers=modifiers,
        units=D(units),
        charge=D(500),
        paid=D(0),
        service_date=DOS,
    )


def remit(n: int, code: str, *modifiers: str) -> RemitServiceLine:
    return RemitServiceLine(
        line_number=n,
        procedure_code=code,
        modifiers=modifiers,
        charge=D(500),
        paid=D(0),
        units_billed=D(1),
        service_date=DOS,
    )


def test_carc_4_on_modifier_50_on_a_facet_addon_is_explained_and_says_to_record_the_payer():
    siblings = [brief(1, "64493", "50"), brief(2, "64494", "50")]
    finding = explain_denial(
        ["4"], remit(2, "64494", "50"), siblings, PACK, "commercial", payer_id=COMMERCIAL
    )
    assert finding is not None
    assert (finding.rule_id, finding.line_numbers) == ("PAIN-BIL-002", (2,))
    assert f"does not yet record {COMMERCIAL} as wanting 'per_side_lines'" in finding.fix


def test_carc_4_for_a_payer_already_recorded_needs_no_note(tmp_path: Path):
    pack = record_per_side_payer(copy_pack(tmp_path), COMMERCIAL)
    siblings = [brief(1, "64493", "50"), brief(2, "64494", "50")]
    finding = explain_denial(
        ["4"], remit(2, "64494", "50"), siblings, pack, "commercial", payer_id=COMMERCIAL
    )
    assert finding is not None
    assert finding.fix.startswith("Bill 64494 on two lines, RT and LT")
    assert "does not yet record" not in finding.fix


def test_carc_97_on_fluoroscopy_beside_an_interlaminar_epidural_is_bundled_imaging():
    siblings = [brief(1, "62323"), brief(2, "77003")]
    finding = explain_denial(["97"], remit(2, "77003"), siblings, PACK, "medicare")
    assert finding is not None
    assert finding.rule_id == "PAIN-IMG-001"
    assert "beside 62323" in finding.message


@pytest.mark.parametrize("carc", ["119", "151"])
def test_a_frequency_denial_on_a_third_facet_level_is_the_level_cap(carc: str):
    siblings = [brief(1, "64493"), brief(2, "64494"), brief(3, "64495")]
    finding = explain_denial([carc], remit(3, "64495"), siblings, PACK, "medicare")
    assert finding is not None
    assert finding.rule_id == "PAIN-LVL-001"
    assert explain_denial([carc], remit(1, "64493"), siblings, PACK, "medicare") is None


@pytest.mark.parametrize("carc", ["236", "97"])
def test_a_bundling_denial_of_a_ptp_column_2_code_is_the_ncci_pair(carc: str):
    siblings = [brief(1, "64635"), brief(2, "64493")]
    finding = explain_denial([carc], remit(2, "64493"), siblings, NCCI_PACK, "medicare")
    assert finding is not None
    assert (finding.rule_id, finding.line_numbers) == ("NCCI-PTP-001", (2,))
    assert "add one of 59, XE, XP, XS or XU to 64493" in finding.fix


def test_a_denial_no_rule_explains_gives_none():
    siblings = [brief(1, "62323"), brief(2, "77003")]
    assert explain_denial(["45"], remit(2, "77003"), siblings, PACK, "medicare") is None
    assert explain_denial(["97"], remit(1, "62323"), siblings, PACK, "medicare") is None


def test_a_line_the_payer_recoded_is_explained_as_it_was_billed():
    line = RemitServiceLine(
        line_number=2,
        procedure_code="64494",
        submitted_procedure_code="64494",
        submitted_modifiers=("50",),
        charge=D(500),
        paid=D(0),
        service_date=DOS,
    )
    finding = explain_denial(["4"], line, [brief(1, "64493", "50")], PACK, "commercial", payer_id=COMMERCIAL)
    assert finding is not None
    assert finding.rule_id == "PAIN-BIL-002"


# ---------------------------------------------------------------- malformed rule files


GOOD_RULE = """\
version: 1
rules:
  - id: TEST-MOD-001
    title: a test rule
    codes: ["62323"]
    modifiers: ["50"]
    condition:
      kind: modifier_forbidden
    severity: hold
    message: "{code} with {modifier}"
    fix: remove it
    citation: a test
"""


def refused(tmp_path: Path, text: str, name: str = "rules.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(RulePackError) as caught:
        load_rulepack(path)
    return str(caught.value)


def test_the_good_test_rule_loads(tmp_path: Path):
    path = tmp_path / "rules.yaml"
    path.write_text(GOOD_RULE)
    pack = load_rulepack(path)
    [finding] = scrub(claim_of(ln(1, "62323", "50")), pack, payer_type="medicare")
    assert finding.message == "62323 with 50"


@pytest.mark.parametrize(
    ("change", "where", "problem"),
    [
        (
            ("      kind: modifier_forbidden", "      kind: modifier_banned"),
            8,
            "does not match any of the expected tags",
        ),
        (
            ('    codes: ["62323"]', '    codes: ["6232"]'),
            5,
            "rule TEST-MOD-001: codes.0: String should match pattern",
        ),
        (('    codes: ["62323"]', "    codes: [00100]"), 5, "quote codes that start with 0"),
        (
            ('    message: "{code} with {modifier}"', '    message: "{code} with {modifer}"'),
            10,
            "unknown placeholder {modifer}",
        ),
        (("    severity: hold", "    severity: block"), 9, "Input should be 'hold' or 'warn'"),
        (("    fix: remove it\n", ""), 3, "rule TEST-MOD-001: fix: Field required"),
        (('    modifiers: ["50"]\n', ""), 3, "a modifier_forbidden rule needs its modifiers"),
        (
            ("    citation: a test", "    citation: a test\n    sevrity: warn"),
            13,
            "sevrity: Extra inputs are not permitted",
        ),
        (("version: 1", "version: 2"), 1, "version: Input should be less than or equal to 1"),
        (
            (
                "      kind: modifier_forbidden",
                "      kind: modifier_forbidden\n    policy: {nope: yes_please}",
            ),
            9,
            "policy 'nope' is not declared",
        ),
    ],
)
def test_a_malformed_rule_is_refused_with_file_line_and_problem(
    tmp_path: Path, change: tuple[str, str], where: int, problem: str
):
    assert change[0] in GOOD_RULE
    message = refused(tmp_path, GOOD_RULE.replace(*change))
    assert f"{tmp_path / 'rules.yaml'} line {where}: " in message
    assert problem in message


OVERRIDES = """\
    overrides:
      - when: {payer_type: medicare}
        severity: warn
      - when: {payer_type: commercial}
        severity: warn
      - when: {place_of_service: "24"}
        params: {preferred: ["59"]}
"""


@pytest.mark.parametrize(
    ("change", "where", "problem"),
    [
        (
            ("{payer_type: commercial}", "{payer_type: comercial}"),
            16,
            "rule TEST-MOD-001: overrides.1.when.payer_type.0: Input should be 'medicare'",
        ),
        (
            ("{payer_type: commercial}", "{}"),
            16,
            "rule TEST-MOD-001: overrides.1.when: name at least one of payer_id",
        ),
        (
            ('params: {preferred: ["59"]}', "params: {max: 2}"),
            19,
            "rule TEST-MOD-001: overrides.2.params.max: Extra inputs are not permitted",
        ),
        (
            ("severity: warn\n      - when: {place", 'message: "{nope}"\n      - when: {place'),
            17,
            "rule TEST-MOD-001: overrides.1.message: unknown placeholder {nope}",
        ),
    ],
)
def test_a_bad_override_is_refused_at_its_own_line(
    tmp_path: Path, change: tuple[str, str], where: int, problem: str
):
    text = GOOD_RULE + OVERRIDES
    assert change[0] in text
    message = refused(tmp_path, text.replace(*change))
    assert f"{tmp_path / 'rules.yaml'} line {where}: {problem}" in message


def test_override_params_are_checked_against_the_condition(tmp_path: Path):
    text = GOOD_RULE.replace(
        "kind: modifier_forbidden", "kind: modifier_conflict\n      conflicts_with: [LT]"
    )
    text += "    overrides:\n      - when: {payer_type: commercial}\n        params: {conflicts_with: []}\n"
    message = refused(tmp_path, text)
    assert (
        f"{tmp_path / 'rules.yaml'} line 16: rule TEST-MOD-001: overrides.0.params.conflicts_with:" in message
    )
    assert "at least 1 item" in message


def test_not_yaml_is_refused_with_its_line(tmp_path: Path):
    message = refused(tmp_path, GOOD_RULE.replace("    fix: remove it", "    fix: remove: it"))
    assert (
        f"{tmp_path / 'rules.yaml'} line 11: not valid YAML: mapping values are not allowed here" in message
    )


def test_a_rule_id_used_twice_names_both_files(tmp_path: Path):
    (tmp_path / "a.yaml").write_text(GOOD_RULE)
    (tmp_path / "b.yaml").write_text("# the same rule again\n" + GOOD_RULE)
    with pytest.raises(RulePackError) as caught:
        load_rulepack(tmp_path)
    assert (
        f"{tmp_path / 'b.yaml'} line 4: rule id TEST-MOD-001 appears again "
        f"(first at {tmp_path / 'a.yaml'} line 3)" in str(caught.value)
    )


def test_a_policy_default_must_be_one_of_its_choices(tmp_path: Path):
    rules = copy_pack(tmp_path)
    policies = rules / "00-policies.yaml"
    policies.write_text(policies.read_text().replace("default: modifier_50", "default: modifier_51"))
    with pytest.raises(RulePackError) as caught:
        load_rulepack(rules)
    assert (
        f"{policies} line 9: policies.facet_addon_bilateral: default 'modifier_51' is not one of the choices"
        in str(caught.value)
    )


def test_an_empty_rule_directory_is_refused(tmp_path: Path):
    with pytest.raises(RulePackError, match="no rule files"):
        load_rulepack(tmp_path)
