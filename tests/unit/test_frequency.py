"""Frequency tracker: sessions per patient, region and family over a rolling window, across practices."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from services.auths.domain.frequency import (
    Caps,
    Family,
    Limit,
    Region,
    ServiceLine,
    Session,
    classify,
    default_frequency_caps,
    evaluate,
    load_frequency_caps,
    normalize_level,
    normalize_side,
    sessions_from_lines,
)
from services.auths.domain.patients import PatientKey
from services.auths.domain.payer_rules import ConfigError

# One woman treated at two practices of the billing company; each spells her differently.
AT_EAST = PatientKey(
    member_id="1EG4-TE5-MK73", birth_date=date(1956, 3, 14), last_name="O'Neil-Smith Jr", first_name="Mary"
)
AT_VALLEY = PatientKey(
    member_id="1eg4te5mk73", birth_date=date(1956, 3, 14), last_name="ONEIL SMITH", first_name="MARY"
)
SOMEONE_ELSE = PatientKey(
    member_id="7XK2-PL9-QA41", birth_date=date(1961, 9, 2), last_name="Okafor", first_name="James"
)

EAST, VALLEY = "spine-east", "valley-pain"
L, C = Region.LUMBAR_SACRAL, Region.CERVICAL_THORACIC
THERAPEUTIC = Family.THERAPEUTIC_FACET

MEDICARE = default_frequency_caps().caps_for(payer_id="15202", payer_type="medicare", mac="J15")


def session(
    patient: PatientKey,
    practice: str,
    claim: str,
    dos: date,
    family: Family = THERAPEUTIC,
    region: Region | None = L,
    levels: tuple[str, ...] = (),
) -> Session:
    return Session(patient, practice, claim, dos, family, region, levels)


def four_lumbar_therapeutic_sessions() -> list[Session]:
    """Three at spine-east, one at valley-pain, all within the 12 months before 2026-09-02."""
    return [
        session(AT_EAST, EAST, "E-1001", date(2025, 10, 1)),
        session(AT_EAST, EAST, "E-1002", date(2025, 12, 3)),
        session(AT_VALLEY, VALLEY, "V-2001", date(2026, 2, 4)),
        session(AT_EAST, EAST, "E-1003", date(2026, 5, 6)),
    ]


def test_fifth_therapeutic_facet_session_across_two_practices_is_over_the_cap():
    new = session(AT_VALLEY, VALLEY, "V-2002", date(2026, 9, 2))

    verdict = evaluate(new, four_lumbar_therapeutic_sessions(), MEDICARE)

    assert verdict.over_cap is True
    assert verdict.count_in_window == 4
    assert verdict.cap == 4
    assert verdict.window_end == date(2026, 9, 2)
    assert verdict.window_start == date(2025, 9, 3)
    assert [s.claim_id for s in verdict.counted] == ["E-1001", "E-1002", "V-2001", "E-1003"]
    assert {s.practice_id for s in verdict.counted} == {EAST, VALLEY}
    assert "Over the cap" in verdict.message
    assert "3 of them at another practice" in verdict.message
    assert "L38773" in verdict.message


def test_fourth_session_is_within_the_cap():
    history = four_lumbar_therapeutic_sessions()[:3]

    verdict = evaluate(session(AT_VALLEY, VALLEY, "V-2002", date(2026, 9, 2)), history, MEDICARE)

    assert verdict.over_cap is False
    assert verdict.count_in_window == 3
    assert "session 4 of 4 allowed" in verdict.message


def test_verdict_redacted_for_the_second_practice_keeps_the_count_and_hides_the_first_practices_claims():
    new = session(AT_VALLEY, VALLEY, "V-2002", date(2026, 9, 2))
    verdict = evaluate(new, four_lumbar_therapeutic_sessions(), MEDICARE)

    seen = verdict.redacted_for({VALLEY})

    assert seen.over_cap is True
    assert seen.count_in_window == 4
    assert len(seen.counted) == 4
    assert [s.service_date for s in seen.counted] == [s.service_date for s in verdict.counted]
    east = [s for s in seen.counted if s.redacted]
    assert len(east) == 3
    assert all(s.claim_id is None and s.practice_id is None and s.patient is None for s in east)
    own = [s for s in seen.counted if not s.redacted]
    assert [(s.practice_id, s.claim_id) for s in own] == [(VALLEY, "V-2001")]
    shown = repr(seen)
    for hidden in ("E-1001", "E-1002", "E-1003", EAST, "O'Neil-Smith"):
        assert hidden not in shown


def test_a_supervisor_sees_everything():
    verdict = evaluate(
        session(AT_VALLEY, VALLEY, "V-2002", date(2026, 9, 2)), four_lumbar_therapeutic_sessions(), MEDICARE
    )

    assert verdict.redacted_for(None) == verdict
    assert not any(s.redacted for s in verdict.redacted_for({EAST, VALLEY}).counted)


def test_sessions_outside_the_rolling_12_months_do_not_count():
    new_dos = date(2026, 9, 2)
    history = [
        *four_lumbar_therapeutic_sessions(),
        session(AT_EAST, EAST, "E-0900", new_dos - timedelta(days=365)),  # a year ago to the day: outside
        session(AT_EAST, EAST, "E-0800", date(2024, 11, 20)),
    ]
    history[0] = session(AT_EAST, EAST, "E-1001", new_dos - timedelta(days=364))  # first day of the window

    verdict = evaluate(session(AT_VALLEY, VALLEY, "V-2002", new_dos), history, MEDICARE)

    assert verdict.count_in_window == 4
    assert "E-0900" not in [s.claim_id for s in verdict.counted]
    assert verdict.counted[0].claim_id == "E-1001"


def test_sessions_after_the_new_date_of_service_are_not_in_its_window():
    history = [*four_lumbar_therapeutic_sessions()[:3], session(AT_EAST, EAST, "E-1009", date(2026, 10, 1))]

    verdict = evaluate(session(AT_VALLEY, VALLEY, "V-2002", date(2026, 9, 2)), history, MEDICARE)

    assert verdict.count_in_window == 3


def test_cervical_and_lumbar_are_counted_separately():
    new_cervical = session(AT_VALLEY, VALLEY, "V-2002", date(2026, 9, 2), region=C)

    verdict = evaluate(new_cervical, four_lumbar_therapeutic_sessions(), MEDICARE)

    assert verdict.over_cap is False
    assert verdict.count_in_window == 0
    assert "cervical/thoracic" in verdict.message


def test_diagnostic_and_therapeutic_facet_sessions_are_counted_separately():
    new = session(AT_VALLEY, VALLEY, "V-2002", date(2026, 9, 2), family=Family.DIAGNOSTIC_FACET)

    assert evaluate(new, four_lumbar_therapeutic_sessions(), MEDICARE).count_in_window == 0


def test_another_patients_sessions_do_not_count():
    history = [
        session(SOMEONE_ELSE, EAST, f"E-3{i}", date(2026, 1, 5) + timedelta(days=30 * i)) for i in range(5)
    ]

    verdict = evaluate(session(AT_VALLEY, VALLEY, "V-2002", date(2026, 9, 2)), history, MEDICARE)

    assert verdict.count_in_window == 0


def test_the_session_itself_and_duplicates_are_not_counted_twice():
    new = session(AT_VALLEY, VALLEY, "V-2002", date(2026, 9, 2))
    history = [*four_lumbar_therapeutic_sessions()[:3], new, four_lumbar_therapeutic_sessions()[0]]

    verdict = evaluate(new, history, MEDICARE)

    assert verdict.count_in_window == 3


def test_third_rfa_in_a_region_within_12_months_is_over_the_cap_of_two():
    history = [
        session(AT_EAST, EAST, "E-1", date(2026, 1, 12), family=Family.RFA),
        session(AT_EAST, EAST, "E-2", date(2026, 2, 9), family=Family.RFA),
    ]

    verdict = evaluate(session(AT_EAST, EAST, "E-3", date(2026, 8, 3), family=Family.RFA), history, MEDICARE)

    assert verdict.over_cap is True
    assert verdict.cap == 2


def test_fifth_lumbar_epidural_is_over_and_a_cervical_one_is_not():
    kind_region = classify("64483")
    assert kind_region is not None
    kind, region = kind_region
    history = [
        session(
            AT_EAST, EAST, f"E-{i}", date(2026, 1, 6) + timedelta(days=40 * i), family=kind, region=region
        )
        for i in range(4)
    ]
    lumbar = session(AT_VALLEY, VALLEY, "V-9", date(2026, 8, 20), family=Family.EPIDURAL, region=L)
    cervical = session(AT_VALLEY, VALLEY, "V-9", date(2026, 8, 20), family=Family.EPIDURAL, region=C)

    assert evaluate(lumbar, history, MEDICARE).over_cap is True
    assert evaluate(cervical, history, MEDICARE).over_cap is False


def test_second_diagnostic_block_10_days_after_the_first_violates_the_14_day_interval():
    first = session(AT_EAST, EAST, "E-1", date(2026, 6, 2), family=Family.DIAGNOSTIC_FACET, levels=("L4-L5",))
    second = session(
        AT_EAST, EAST, "E-2", date(2026, 6, 12), family=Family.DIAGNOSTIC_FACET, levels=("L4-5",)
    )

    verdict = evaluate(second, [first], MEDICARE)

    assert verdict.over_cap is False
    assert verdict.interval_violation is not None
    assert verdict.interval_violation.days_apart == 10
    assert verdict.interval_violation.minimum_days == 14
    assert verdict.interval_violation.other_date == date(2026, 6, 2)
    assert "at least 14 days" in verdict.message


def test_interval_is_per_site_and_15_days_is_enough():
    first = session(AT_EAST, EAST, "E-1", date(2026, 6, 2), family=Family.DIAGNOSTIC_FACET, levels=("L4-L5",))
    other_level = session(
        AT_EAST, EAST, "E-2", date(2026, 6, 12), family=Family.DIAGNOSTIC_FACET, levels=("L2-L3",)
    )
    later = session(
        AT_EAST, EAST, "E-3", date(2026, 6, 17), family=Family.DIAGNOSTIC_FACET, levels=("L4-L5",)
    )

    assert evaluate(other_level, [first], MEDICARE).interval_violation is None
    assert evaluate(later, [first], MEDICARE).interval_violation is None


def test_second_definitive_drug_test_the_same_day_at_another_practice_is_over():
    family, region = Family.DEFINITIVE_DRUG_TEST, None
    east = session(AT_EAST, EAST, "E-UDT", date(2026, 4, 7), family=family, region=region)
    same_day = session(AT_VALLEY, VALLEY, "V-UDT", date(2026, 4, 7), family=family, region=region)
    next_day = session(AT_VALLEY, VALLEY, "V-UDT2", date(2026, 4, 8), family=family, region=region)

    assert evaluate(same_day, [east], MEDICARE).over_cap is True
    assert evaluate(next_day, [east], MEDICARE).over_cap is False


def test_trigger_points_are_counted_but_have_no_cap():
    history = [
        session(
            AT_EAST, EAST, f"E-{i}", date(2026, 1, 5) + timedelta(days=14 * i), Family.TRIGGER_POINT, None
        )
        for i in range(10)
    ]
    verdict = evaluate(
        session(AT_EAST, EAST, "E-99", date(2026, 6, 1), Family.TRIGGER_POINT, None), history, MEDICARE
    )

    assert verdict.over_cap is False
    assert verdict.cap is None
    assert verdict.count_in_window == 10


def test_a_redacted_session_cannot_be_evaluated():
    with pytest.raises(ValueError, match="redacted"):
        evaluate(Session(None, None, None, date(2026, 1, 1), THERAPEUTIC, L, redacted=True), [], MEDICARE)


# ---------------------------------------------------------------- codes and sessions


@pytest.mark.parametrize(
    ("code", "diagnostic", "expected"),
    [
        ("64490", True, (Family.DIAGNOSTIC_FACET, C)),
        ("64492", False, (Family.THERAPEUTIC_FACET, C)),
        ("64493", True, (Family.DIAGNOSTIC_FACET, L)),
        ("64495", False, (Family.THERAPEUTIC_FACET, L)),
        ("64633", None, (Family.RFA, C)),
        ("64634", None, (Family.RFA, C)),
        ("64635", None, (Family.RFA, L)),
        ("64636", None, (Family.RFA, L)),
        ("62321", None, (Family.EPIDURAL, C)),
        ("62323", None, (Family.EPIDURAL, L)),
        ("64479", None, (Family.EPIDURAL, C)),
        ("64480", None, (Family.EPIDURAL, C)),
        ("64483", None, (Family.EPIDURAL, L)),
        ("64484", None, (Family.EPIDURAL, L)),
        ("20552", None, (Family.TRIGGER_POINT, None)),
        ("20553", None, (Family.TRIGGER_POINT, None)),
        ("G0480", None, (Family.DEFINITIVE_DRUG_TEST, None)),
        ("g0483", None, (Family.DEFINITIVE_DRUG_TEST, None)),
        ("99213", None, None),
    ],
)
def test_codes_map_to_family_and_region(code, diagnostic, expected):
    assert classify(code, diagnostic=diagnostic) == expected


def test_a_facet_code_needs_the_diagnostic_flag():
    with pytest.raises(ValueError, match="diagnostic or therapeutic"):
        classify("64493")


def test_a_claims_lines_become_one_session_per_date_family_and_region():
    lines = [
        ServiceLine("64493", date(2026, 6, 2), diagnostic=True, levels=("L4-5",), side="left"),
        ServiceLine("64494", date(2026, 6, 2), diagnostic=True, levels=("L5-S1",), side="left"),
        ServiceLine("64483", date(2026, 6, 2)),
        ServiceLine("99213", date(2026, 6, 2)),
    ]

    sessions = sessions_from_lines(AT_EAST, EAST, "E-7", lines)

    assert [(s.family, s.region) for s in sessions] == [(Family.DIAGNOSTIC_FACET, L), (Family.EPIDURAL, L)]
    assert sessions[0].levels == ("L4-L5", "L5-S1")
    assert sessions[0].side == "left"
    assert sessions[0].claim_id == "E-7"


def test_levels_and_sides_normalize():
    assert normalize_level("l4-5") == "L4-L5"
    assert normalize_level("L5 / S1") == "L5-S1"
    assert normalize_level("c7") == "C7"
    assert [normalize_side(s) for s in ("LT", "right", "50", "Bilateral", "up")] == [
        "left",
        "right",
        "bilateral",
        "bilateral",
        None,
    ]


# ---------------------------------------------------------------- the caps file


def test_shipped_caps_are_the_lcd_defaults():
    caps = MEDICARE

    assert caps.limit(Family.DIAGNOSTIC_FACET) == Limit(4, 365, 14, "facet LCD L38773")
    assert caps.limit(Family.THERAPEUTIC_FACET).sessions == 4
    assert caps.limit(Family.RFA).sessions == 2
    assert caps.limit(Family.EPIDURAL).sessions == 4
    assert caps.limit(Family.EPIDURAL).min_interval_days is None
    assert caps.limit(Family.DEFINITIVE_DRUG_TEST) == Limit(1, 1, None, "UDT articles A56915/A56818")


def test_overrides_apply_per_payer_and_mac_in_file_order(tmp_path):
    path = tmp_path / "caps.yaml"
    path.write_text(
        "version: 1\n"
        "defaults:\n"
        "  name: LCD\n"
        "  caps:\n"
        "    epidural: {sessions: 4}\n"
        "    rfa: {sessions: 2}\n"
        "overrides:\n"
        "  - name: eviCore spine\n"
        "    when: {payer_id: ['60054']}\n"
        "    caps:\n"
        "      epidural: {sessions: 3, window_days: 183, min_interval_days: 14}\n"
        "  - name: Novitas\n"
        "    when: {payer_type: medicare, mac: [JH, JL]}\n"
        "    caps:\n"
        "      rfa: {sessions: 3}\n",
        encoding="utf-8",
    )
    caps = load_frequency_caps(path)

    commercial = caps.caps_for(payer_id="60054", payer_type="commercial")
    assert commercial.limit(Family.EPIDURAL) == Limit(3, 183, 14, "eviCore spine")
    assert commercial.limit(Family.RFA).sessions == 2
    assert caps.caps_for(payer_type="medicare", mac="jh").limit(Family.RFA).sessions == 3
    assert caps.caps_for(payer_type="medicare", mac="J15").limit(Family.RFA).sessions == 2
    assert caps.caps_for().limit(Family.TRIGGER_POINT) == Limit(None)


def test_a_tighter_window_from_an_override_changes_what_counts():
    caps = Caps({Family.EPIDURAL: Limit(3, 183, 14, "eviCore spine")})
    history = [
        session(AT_EAST, EAST, "E-1", date(2026, 1, 5), Family.EPIDURAL),
        session(AT_EAST, EAST, "E-2", date(2026, 4, 6), Family.EPIDURAL),
        session(AT_EAST, EAST, "E-3", date(2026, 6, 1), Family.EPIDURAL),
    ]

    verdict = evaluate(session(AT_EAST, EAST, "E-4", date(2026, 7, 20), Family.EPIDURAL), history, caps)

    assert verdict.count_in_window == 2  # 2026-01-05 is outside the 183 days
    assert verdict.over_cap is False


@pytest.mark.parametrize(
    ("body", "line_no", "words"),
    [
        ("version: 1\ndefaults:\n  name: x\n  caps:\n    facet: {sessions: 4}\n", 5, "facet"),
        (
            "version: 1\ndefaults:\n  name: x\n  caps:\n    rfa: {sessions: 0}\n",
            5,
            "greater than or equal to 1",
        ),
        (
            "version: 1\ndefaults:\n  name: x\n  when: {payer_type: medicare}\n  caps: {}\n",
            3,
            "move `when` to an override",
        ),
        (
            "version: 1\ndefaults:\n  name: x\n  caps: {}\n"
            "overrides:\n  - name: y\n    caps: {rfa: {limit: 2}}\n",
            7,
            "limit",
        ),
    ],
)
def test_caps_file_errors_name_the_line(tmp_path, body, line_no, words):
    path = tmp_path / "caps.yaml"
    path.write_text(body, encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        load_frequency_caps(path)

    assert f"{path} line {line_no}" in str(caught.value)
    assert words in str(caught.value)


def test_missing_caps_file_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_frequency_caps(Path(tmp_path / "none.yaml"))
