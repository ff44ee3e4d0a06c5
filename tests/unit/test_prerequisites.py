"""Prerequisites: diagnostic blocks before RFA, repeat RFA, and the trial before a permanent stimulator."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from services.auths.domain.frequency import Family, Region, Session
from services.auths.domain.patients import PatientKey
from services.auths.domain.payer_rules import ConfigError
from services.auths.domain.prerequisites import (
    DEFAULT_POLICY,
    Documentation,
    FindingKind,
    PrereqPolicy,
    StimulatorLine,
    check_rfa,
    check_scs,
    default_prerequisites,
    load_prerequisites,
)

PATIENT = PatientKey(
    member_id="1EG4-TE5-MK73", birth_date=date(1956, 3, 14), last_name="O'Neil-Smith", first_name="Mary"
)
SAME_AT_OTHER_PRACTICE = PatientKey(
    member_id="W88120455", birth_date=date(1956, 3, 14), last_name="ONEIL SMITH", first_name="M"
)
OTHER_PATIENT = PatientKey(
    member_id="7XK2-PL9-QA41", birth_date=date(1961, 9, 2), last_name="Okafor", first_name="James"
)
L, C = Region.LUMBAR_SACRAL, Region.CERVICAL_THORACIC
FIRST, RFA_DOS = date(2026, 6, 2), date(2026, 7, 20)


def block(
    dos: date, patient: PatientKey = PATIENT, region: Region = L, levels=("L4-L5", "L5-S1"), side=None
) -> Session:
    return Session(patient, "spine-east", f"E-{dos:%m%d}", dos, Family.DIAGNOSTIC_FACET, region, levels, side)


def rfa(dos: date = RFA_DOS, region: Region = L, levels=("L4-L5", "L5-S1"), side=None) -> Session:
    return Session(PATIENT, "spine-east", "E-RFA", dos, Family.RFA, region, levels, side)


def docs(**relief: int) -> Documentation:
    """Complete documentation except block relief: `docs(d0602=90)` means 90 % after the 2026-06-02 block."""
    return Documentation(
        block_relief_percent={date(2026, int(k[1:3]), int(k[3:5])): Decimal(v) for k, v in relief.items()},
        pain_duration_months=Decimal(14),
        conservative_care_documented=True,
    )


def kinds(findings) -> list[FindingKind]:
    return [f.kind for f in findings]


# ---------------------------------------------------------------- the diagnostic block series


def test_rfa_with_one_positive_diagnostic_block_is_held_with_what_is_missing():
    findings = check_rfa(rfa(), [block(FIRST)], docs(d0602=90))

    assert kinds(findings) == [FindingKind.MISSING_DIAGNOSTIC_BLOCKS]
    assert findings[0].message == (
        "one qualifying diagnostic block on file; a second, at least 14 days after 2026-06-02, with >= 80% "
        "relief is needed"
    )
    assert findings[0].dates == (FIRST,)


def test_rfa_with_two_qualifying_blocks_15_days_apart_passes():
    findings = check_rfa(rfa(), [block(FIRST), block(date(2026, 6, 17))], docs(d0602=90, d0617=85))

    assert findings == []


def test_exactly_14_days_apart_is_enough():
    assert check_rfa(rfa(), [block(FIRST), block(date(2026, 6, 16))], docs(d0602=90, d0616=80)) == []


def test_two_qualifying_blocks_10_days_apart_are_held_for_the_interval():
    findings = check_rfa(rfa(), [block(FIRST), block(date(2026, 6, 12))], docs(d0602=90, d0612=95))

    interval = [f for f in findings if f.kind is FindingKind.BLOCK_INTERVAL_TOO_SHORT]
    assert len(interval) == 1
    assert "10 days apart" in interval[0].message
    assert "2026-06-16 or later" in interval[0].message
    assert FindingKind.MISSING_DIAGNOSTIC_BLOCKS in kinds(findings)


def test_a_documented_exception_to_the_interval_lets_10_days_pass():
    documentation = replace(docs(d0602=90, d0612=95), block_interval_exception_documented=True)

    assert check_rfa(rfa(), [block(FIRST), block(date(2026, 6, 12))], documentation) == []


def test_a_block_with_60_percent_relief_does_not_qualify():
    findings = check_rfa(rfa(), [block(FIRST), block(date(2026, 6, 17))], docs(d0602=90, d0617=60))

    assert kinds(findings) == [FindingKind.MISSING_DIAGNOSTIC_BLOCKS, FindingKind.INSUFFICIENT_BLOCK_RELIEF]
    insufficient = findings[1]
    assert (
        insufficient.message
        == "diagnostic block on 2026-06-17: 60% relief documented, below the 80% a qualifying block needs"
    )
    assert insufficient.missing_documentation is False


def test_missing_relief_documentation_is_its_own_finding():
    findings = check_rfa(rfa(), [block(FIRST), block(date(2026, 6, 17))], docs(d0602=90))

    assert FindingKind.BLOCK_RELIEF_NOT_DOCUMENTED in kinds(findings)
    assert FindingKind.INSUFFICIENT_BLOCK_RELIEF not in kinds(findings)
    not_documented = next(f for f in findings if f.kind is FindingKind.BLOCK_RELIEF_NOT_DOCUMENTED)
    assert not_documented.dates == (date(2026, 6, 17),)
    assert not_documented.missing_documentation is True


def test_no_documentation_at_all_is_reported_as_missing_documentation_not_as_failed_criteria():
    findings = check_rfa(rfa(), [block(FIRST), block(date(2026, 6, 17))], None)

    assert kinds(findings) == [
        FindingKind.MISSING_DIAGNOSTIC_BLOCKS,
        FindingKind.BLOCK_RELIEF_NOT_DOCUMENTED,
        FindingKind.BLOCK_RELIEF_NOT_DOCUMENTED,
        FindingKind.PAIN_DURATION_NOT_DOCUMENTED,
        FindingKind.CONSERVATIVE_CARE_NOT_DOCUMENTED,
    ]
    assert all(f.missing_documentation for f in findings[1:])


def test_no_blocks_at_all():
    findings = check_rfa(rfa(), [], docs())

    assert findings[0].message.startswith(
        "no qualifying diagnostic block on file; 2 diagnostic medial branch blocks"
    )


def test_blocks_at_another_practice_count_for_the_same_patient():
    findings = check_rfa(
        rfa(),
        [block(FIRST), block(date(2026, 6, 17), patient=SAME_AT_OTHER_PRACTICE)],
        docs(d0602=90, d0617=85),
    )
    assert findings == []


def test_another_patients_blocks_do_not_count():
    findings = check_rfa(
        rfa(), [block(FIRST), block(date(2026, 6, 17), patient=OTHER_PATIENT)], docs(d0602=90, d0617=85)
    )

    assert kinds(findings) == [FindingKind.MISSING_DIAGNOSTIC_BLOCKS]


def test_blocks_in_the_other_region_do_not_count():
    findings = check_rfa(rfa(), [block(FIRST), block(date(2026, 6, 17), region=C)], docs(d0602=90, d0617=85))

    assert kinds(findings) == [FindingKind.MISSING_DIAGNOSTIC_BLOCKS]


def test_blocks_at_other_levels_or_the_other_side_do_not_count_and_say_so():
    history = [block(FIRST), block(date(2026, 6, 17), levels=("L2-L3",))]

    findings = check_rfa(rfa(), history, docs(d0602=90, d0617=85))

    assert kinds(findings) == [FindingKind.MISSING_DIAGNOSTIC_BLOCKS, FindingKind.BLOCK_AT_OTHER_SITE]
    assert "2026-06-17 (L2-L3)" in findings[1].message

    left_blocks = [block(FIRST, side="left"), block(date(2026, 6, 17), side="left")]
    assert check_rfa(rfa(side="left"), left_blocks, docs(d0602=90, d0617=85)) == []
    assert FindingKind.BLOCK_AT_OTHER_SITE in kinds(
        check_rfa(rfa(side="right"), left_blocks, docs(d0602=90, d0617=85))
    )


def test_a_block_on_or_after_the_rfa_date_does_not_count():
    findings = check_rfa(rfa(), [block(FIRST), block(RFA_DOS)], docs(d0602=90, d0720=90))

    assert kinds(findings) == [FindingKind.MISSING_DIAGNOSTIC_BLOCKS]


def test_payer_policy_thresholds_apply():
    lenient = replace(DEFAULT_POLICY, block_relief_percent=Decimal(50), blocks_required=1)

    assert check_rfa(rfa(), [block(FIRST)], docs(d0602=60), lenient) == []
    one_needed = check_rfa(rfa(), [], docs(), lenient)
    assert one_needed[0].message == (
        "no qualifying diagnostic block on file; a diagnostic medial branch block with >= 50% relief is "
        "needed"
    )


def test_check_rfa_refuses_another_family():
    with pytest.raises(ValueError, match="RFA session"):
        check_rfa(block(FIRST), [], docs())


# ---------------------------------------------------------------- repeat RFA


def test_repeat_rfa_needs_documented_lasting_improvement_not_new_blocks():
    earlier = rfa(date(2025, 9, 8))
    later = rfa(date(2026, 7, 20))

    good = replace(docs(), prior_rfa_improvement_percent=Decimal(70), prior_rfa_improvement_months=Decimal(8))
    assert check_rfa(later, [earlier], good) == []

    short = replace(good, prior_rfa_improvement_months=Decimal(4))
    assert kinds(check_rfa(later, [earlier], short)) == [FindingKind.INSUFFICIENT_REPEAT_RFA_RELIEF]

    missing = check_rfa(later, [earlier], docs())
    assert kinds(missing) == [FindingKind.REPEAT_RFA_RELIEF_NOT_DOCUMENTED]
    assert "2025-09-08" in missing[0].message


def test_an_rfa_in_the_other_region_is_not_a_repeat():
    cervical_rfa = rfa(date(2025, 9, 8), region=C, levels=("C4-C5",))

    findings = check_rfa(
        rfa(), [cervical_rfa, block(FIRST), block(date(2026, 6, 17))], docs(d0602=90, d0617=85)
    )

    assert findings == []


# ---------------------------------------------------------------- pain duration and conservative care


def test_pain_duration_and_conservative_care():
    two_blocks = [block(FIRST), block(date(2026, 6, 17))]
    base = docs(d0602=90, d0617=85)

    short = check_rfa(rfa(), two_blocks, replace(base, pain_duration_months=Decimal(2)))
    assert kinds(short) == [FindingKind.PAIN_DURATION_TOO_SHORT]
    assert "needs >= 3 months" in short[0].message

    assert kinds(check_rfa(rfa(), two_blocks, replace(base, pain_duration_months=None))) == [
        FindingKind.PAIN_DURATION_NOT_DOCUMENTED
    ]
    assert kinds(check_rfa(rfa(), two_blocks, replace(base, conservative_care_documented=False))) == [
        FindingKind.CONSERVATIVE_CARE_NOT_DOCUMENTED
    ]
    assert check_rfa(rfa(), two_blocks, replace(base, pain_duration_months=Decimal(3))) == []


# ---------------------------------------------------------------- spinal cord stimulator

TRIAL = StimulatorLine(PATIENT, "63650", date(2026, 3, 9))
IMPLANT = StimulatorLine(PATIENT, "63655", date(2026, 4, 20))
SCS_DOCS = Documentation(
    pain_duration_months=24,
    conservative_care_documented=True,
    psych_evaluation_documented=True,
    trial_relief_percent=60,
)


def test_permanent_implant_after_a_successful_trial_passes():
    assert check_scs(IMPLANT, [TRIAL], SCS_DOCS) == []


def test_permanent_implant_without_a_trial_is_held():
    findings = check_scs(IMPLANT, [], SCS_DOCS)

    assert kinds(findings) == [FindingKind.MISSING_SCS_TRIAL]
    assert ">= 50% relief" in findings[0].message


def test_trial_with_40_percent_relief_is_not_enough():
    findings = check_scs(IMPLANT, [TRIAL], replace(SCS_DOCS, trial_relief_percent=40))

    assert kinds(findings) == [FindingKind.INSUFFICIENT_TRIAL_RELIEF]


def test_trial_relief_not_documented_is_its_own_finding():
    findings = check_scs(IMPLANT, [TRIAL], replace(SCS_DOCS, trial_relief_percent=None))

    assert kinds(findings) == [FindingKind.TRIAL_RELIEF_NOT_DOCUMENTED]
    assert findings[0].missing_documentation is True


def test_a_trial_known_from_records_counts_when_no_trial_claim_is_on_file():
    assert check_scs(IMPLANT, [], replace(SCS_DOCS, scs_trial_date=date(2026, 3, 2))) == []


def test_payer_trial_threshold_applies():
    strict = replace(DEFAULT_POLICY, scs_trial_relief_percent=Decimal(70))

    assert kinds(check_scs(IMPLANT, [TRIAL], SCS_DOCS, strict)) == [FindingKind.INSUFFICIENT_TRIAL_RELIEF]


def test_a_permanent_63650_needs_a_trial_and_another_patients_trial_does_not_count():
    permanent_leads = StimulatorLine(PATIENT, "63650", date(2026, 4, 20), permanent=True)
    someone_elses_trial = StimulatorLine(OTHER_PATIENT, "63650", date(2026, 3, 9))

    assert kinds(check_scs(permanent_leads, [someone_elses_trial], SCS_DOCS)) == [
        FindingKind.MISSING_SCS_TRIAL
    ]
    assert check_scs(permanent_leads, [TRIAL], SCS_DOCS) == []


def test_the_trial_itself_needs_pain_duration_conservative_care_and_psych_evaluation():
    findings = check_scs(TRIAL, [], Documentation())

    assert kinds(findings) == [
        FindingKind.PAIN_DURATION_NOT_DOCUMENTED,
        FindingKind.CONSERVATIVE_CARE_NOT_DOCUMENTED,
        FindingKind.PSYCH_EVALUATION_NOT_DOCUMENTED,
    ]


def test_check_scs_refuses_other_codes():
    with pytest.raises(ValueError, match="63650 or 63655"):
        check_scs(StimulatorLine(PATIENT, "63685", date(2026, 4, 20)), [], SCS_DOCS)


# ---------------------------------------------------------------- the policy file


def test_shipped_policy_file_is_the_lcd_defaults():
    assert default_prerequisites().policy_for(payer_type="medicare") == DEFAULT_POLICY
    lcd = PrereqPolicy(
        block_relief_percent=Decimal(80),
        blocks_required=2,
        min_days_between_blocks=14,
        scs_trial_relief_percent=Decimal(50),
        min_pain_months=Decimal(3),
    )
    assert lcd == DEFAULT_POLICY


def test_overrides_change_only_what_they_name(tmp_path):
    path = tmp_path / "prereq.yaml"
    path.write_text(
        "version: 1\n"
        "defaults: {name: LCD, block_relief_percent: 80}\n"
        "overrides:\n"
        "  - name: Aetna\n"
        "    when: {payer_id: '60054'}\n"
        "    block_relief_percent: 50\n"
        "    scs_trial_relief_percent: 62.5\n",
        encoding="utf-8",
    )
    policies = load_prerequisites(path)

    aetna = policies.policy_for(payer_id="60054", payer_type="commercial")
    assert aetna.block_relief_percent == Decimal(50)
    assert aetna.scs_trial_relief_percent == Decimal("62.5")
    assert aetna.min_days_between_blocks == 14
    assert policies.policy_for(payer_id="87726").block_relief_percent == Decimal(80)


def test_policy_file_errors_name_the_line(tmp_path):
    path = tmp_path / "prereq.yaml"
    path.write_text(
        "version: 1\ndefaults: {name: LCD}\noverrides:\n  - name: x\n    block_relief_percent: 180\n",
        encoding="utf-8",
    )

    with pytest.raises(ConfigError) as caught:
        load_prerequisites(path)

    assert f"{path} line 5: overrides.0.block_relief_percent" in str(caught.value)
