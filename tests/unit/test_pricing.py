"""Expected allowed from a fee schedule, underpayment detection and the fee schedule CSV loader.

The amounts are invented for the tests (the project ships no real fee schedules); the scenarios are
real interventional pain billing: bilateral facet blocks, one-sided transforaminal ESIs with
fluoroscopy, trigger points beside a facet block, plan contracts and a new year's fees.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.denials.domain.pricing import (
    FEE_SCHEDULE_COLUMNS,
    MAX_ERRORS_LISTED,
    Expected,
    FeeRow,
    FeeSchedule,
    FeeScheduleError,
    PricedLine,
    load_fee_schedule,
    underpayment,
)

D = Decimal
PAYER = "12502"
DOS = date(2026, 9, 14)
HEADER = ",".join(FEE_SCHEDULE_COLUMNS)


def fee(
    code: str,
    allowed: str,
    *,
    modifier: str | None = None,
    plan: str | None = None,
    start: date = date(2026, 1, 1),
    end: date | None = None,
    add_on: bool = False,
    mpr: bool = True,
) -> FeeRow:
    return FeeRow(
        payer_id=PAYER,
        plan=plan,
        procedure_code=code,
        modifier=modifier,
        allowed=D(allowed),
        effective_from=start,
        effective_to=end,
        add_on=add_on,
        multiple_procedure=mpr and not add_on,
    )


def line(
    number: int,
    code: str,
    *modifiers: str,
    units: str = "1",
    day: date | None = DOS,
    charge: str = "2500.00",
) -> PricedLine:
    return PricedLine(
        line_number=number,
        procedure_code=code,
        modifiers=modifiers,
        units=D(units),
        service_date=day,
        charge=D(charge),
    )


PAIN_FEES = (
    fee("64493", "412.18"),  # lumbar facet, first level
    fee("64494", "205.40", add_on=True),  # lumbar facet, second level
    fee("64483", "398.55"),  # lumbar/sacral TFESI, single level
    fee("64484", "180.20", add_on=True),  # lumbar/sacral TFESI, each additional level
    fee("77003", "95.10", mpr=False),  # fluoroscopic guidance for spine injection
    fee("20552", "88.40"),  # trigger points, 1 or 2 muscles
    fee("62323", "500.00"),  # interlaminar lumbar ESI with imaging
    fee("J3301", "1.734", mpr=False),  # triamcinolone per 10 mg
)
SCHEDULE = FeeSchedule(PAIN_FEES)


def price(target: PricedLine, *claim: PricedLine, plan: str | None = None) -> Expected:
    expected = SCHEDULE.expected_allowed(target, claim, PAYER, plan)
    assert expected is not None
    return expected


# ---------------------------------------------------------------- bilateral, add-ons, sides


def test_bilateral_two_level_lumbar_facet_prices_150_percent_and_add_on_is_not_reduced() -> None:
    first = line(1, "64493", "50")
    second = line(2, "64494", "50")

    primary = price(first, first, second)
    add_on = price(second, first, second)

    assert primary.amount == D("618.27")  # 412.18 x 150%
    assert add_on.amount == D("308.10")  # 205.40 x 150%, no reduction although it is the second line
    assert "Modifier 50 (bilateral): 150% of the fee = $618.27" in primary.steps
    assert "Add-on code 64494: exempt from multiple-procedure reduction" in add_on.steps
    assert primary.steps[0].startswith("Fee schedule for 64493 (payer 12502, all plans")
    assert primary.steps[0].endswith(": $412.18 per unit")
    assert primary.steps[-1] == "Expected allowed for line 1 (64493-50): $618.27"


def test_bilateral_line_counts_once_whatever_its_units() -> None:
    two_units = line(1, "64493", "50", units="2")

    expected = price(two_units)

    assert expected.amount == D("618.27")
    assert any("counts once" in step for step in expected.steps)


def test_own_modifier_50_fee_wins_over_150_percent() -> None:
    schedule = FeeSchedule((*PAIN_FEES, fee("64493", "650.00", modifier="50")))

    expected = schedule.expected_allowed(line(1, "64493", "50"), (), PAYER, None)

    assert expected is not None
    assert expected.amount == D("650.00")
    assert expected.fee.modifier == "50"


def test_one_sided_tfesi_with_add_on_and_fluoroscopy_is_paid_in_full() -> None:
    tfesi = line(1, "64483", "LT")
    extra_level = line(2, "64484", "LT")
    fluoro = line(3, "77003")
    claim = (tfesi, extra_level, fluoro)

    amounts = [price(item, *claim).amount for item in claim]

    # LT is one side (no 150%); 64484 is an add-on; 77003 takes no part in the reduction.
    assert amounts == [D("398.55"), D("180.20"), D("95.10")]
    assert "Code 77003 is not subject to multiple-procedure reduction" in price(fluoro, *claim).steps
    assert any("Modifier LT (one side)" in step for step in price(tfesi, *claim).steps)


def test_fifty_with_a_side_modifier_is_priced_as_one_side() -> None:
    expected = price(line(1, "64483", "50", "RT"))

    assert expected.amount == D("398.55")
    assert any("contradict" in step for step in expected.steps)


def test_units_multiply_and_fractions_of_a_cent_round_half_up() -> None:
    drug = line(4, "J3301", units="4")  # 40 mg triamcinolone

    expected = price(drug)

    assert expected.amount == D("6.94")  # 4 x 1.734 = 6.936
    assert expected.steps[0].endswith("$1.734 per unit")
    assert "4 units at $1.734 = $6.94" in expected.steps


# ---------------------------------------------------------------- multiple-procedure reduction


def test_trigger_point_beside_facet_is_second_procedure_at_50_percent() -> None:
    trigger = line(1, "20552")  # listed first, but cheaper: ranking is by fee, not by line order
    facet = line(2, "64493", "RT")

    assert price(facet, trigger, facet).amount == D("412.18")
    reduced = price(trigger, trigger, facet)
    assert reduced.amount == D("44.20")  # 88.40 x 50%
    assert reduced.before_reduction == D("88.40")
    assert (
        "Second procedure on 2026-09-14 (line 2, 64493-RT, is first): "
        "multiple-procedure reduction to 50% = $44.20" in reduced.steps
    )


def test_trigger_point_on_another_date_is_not_reduced() -> None:
    trigger = line(1, "20552", day=date(2026, 9, 21))
    facet = line(2, "64493")

    assert price(trigger, trigger, facet).amount == D("88.40")


def test_ranking_uses_the_bilateral_adjusted_fee() -> None:
    facet = line(1, "64493", "50")  # 412.18 alone, 618.27 bilateral
    epidural = line(2, "62323")  # 500.00: above the single facet fee, below the bilateral one

    assert price(facet, facet, epidural).amount == D("618.27")
    assert price(epidural, facet, epidural).amount == D("250.00")


def test_equal_fees_rank_by_line_number() -> None:
    right = line(1, "64493", "RT")
    left = line(2, "64493", "LT")

    assert price(right, left, right).amount == D("412.18")
    assert price(left, left, right).amount == D("206.09")  # 206.09 = 412.18 x 50%


def test_exempt_lines_take_no_part_in_ranking() -> None:
    trigger = line(1, "20552")  # 88.40
    fluoro = line(2, "77003")  # 95.10 but not subject to the reduction
    add_on = line(3, "64494")  # 205.40 but an add-on

    assert price(trigger, trigger, fluoro, add_on).amount == D("88.40")
    assert "Only procedure subject to multiple-procedure reduction on 2026-09-14: 100% = $88.40" in (
        price(trigger, trigger, fluoro, add_on).steps
    )


def test_line_without_fee_takes_no_part_in_ranking() -> None:
    unpriced = line(1, "64635")  # lumbar RFA: not on this schedule
    trigger = line(2, "20552")

    assert price(trigger, unpriced, trigger).amount == D("88.40")


def test_further_units_of_the_ranked_first_line_are_reduced() -> None:
    two_levels = line(1, "64483", units="2")

    expected = price(two_levels)

    assert expected.amount == D("597.83")  # 398.55 + 398.55 x 50% = 597.825
    assert expected.before_reduction == D("797.10")


def test_charge_below_the_fee_caps_the_expected_amount() -> None:
    expected = price(line(1, "20552", charge="60.00"))

    assert expected.amount == D("60.00")
    assert any("lower of the charge and the fee" in step for step in expected.steps)


# ---------------------------------------------------------------- which fee


def test_plan_specific_fee_overrides_the_payer_wide_fee() -> None:
    schedule = FeeSchedule((*PAIN_FEES, fee("64493", "450.00", plan="PPO")))
    facet = line(1, "64493")

    ppo = schedule.expected_allowed(facet, (), PAYER, "PPO")
    hmo = schedule.expected_allowed(facet, (), PAYER, "HMO")
    unknown_plan = schedule.expected_allowed(facet, (), PAYER, None)

    assert ppo is not None and hmo is not None and unknown_plan is not None
    assert ppo.amount == D("450.00")
    assert "plan PPO" in ppo.steps[0]
    assert hmo.amount == D("412.18")
    assert "all plans; plan HMO has no fee of its own" in hmo.steps[0]
    assert unknown_plan.amount == D("412.18")


def test_plan_fee_comes_before_a_payer_wide_modifier_fee() -> None:
    schedule = FeeSchedule(
        (*PAIN_FEES, fee("64493", "650.00", modifier="50"), fee("64493", "450.00", plan="PPO"))
    )
    bilateral = line(1, "64493", "50")

    ppo = schedule.expected_allowed(bilateral, (), PAYER, "PPO")
    others = schedule.expected_allowed(bilateral, (), PAYER, "HMO")

    assert ppo is not None and others is not None
    assert ppo.amount == D("675.00")  # the plan's 450.00 x 150%
    assert others.amount == D("650.00")  # the payer's own 64493-50 fee


def test_fees_switch_on_the_effective_date() -> None:
    schedule = FeeSchedule(
        (
            fee("64493", "398.00", start=date(2025, 1, 1), end=date(2025, 12, 31)),
            fee("64493", "412.18", start=date(2026, 1, 1)),
        )
    )

    def amount(day: date | None) -> Decimal | None:
        expected = schedule.expected_allowed(line(1, "64493", day=day), (), PAYER, None)
        return None if expected is None else expected.amount

    assert amount(date(2025, 12, 31)) == D("398.00")
    assert amount(date(2026, 1, 1)) == D("412.18")
    assert amount(None) == D("412.18")  # no service date: the latest fee
    assert amount(date(2024, 12, 31)) is None  # before any fee


def test_code_without_fee_is_none() -> None:
    assert SCHEDULE.expected_allowed(line(1, "64635"), (), PAYER, None) is None
    assert SCHEDULE.expected_allowed(line(1, "64493"), (), "99999", None) is None


def test_overlapping_rows_are_refused_by_the_schedule() -> None:
    with pytest.raises(FeeScheduleError, match="does not overlap"):
        FeeSchedule((fee("64493", "412.18"), fee("64493", "420.00", start=date(2026, 7, 1))))


# ---------------------------------------------------------------- underpayment


def test_underpayment_within_tolerance_is_none() -> None:
    expected = price(line(1, "64493", "50"))  # 618.27

    # 614.62 allowed: 3.65 short, below the 1% tolerance of 6.18
    assert underpayment(D("494.62"), D("120.00"), expected, D("5.00"), D("1")) is None
    # 10.00 short: below 2% of expected (12.37) although above the 1.00 amount
    assert underpayment(D("488.27"), D("120.00"), expected, D("1.00"), D("2")) is None
    # exactly the tolerance is not "more than" it
    assert underpayment(D("493.27"), D("120.00"), expected, D("5.00"), D("0")) is None
    # paid above the expected amount
    assert underpayment(D("700.00"), D("0"), expected, D("5.00"), D("1")) is None


def test_underpayment_beyond_tolerance_gives_the_amount_at_risk() -> None:
    expected = price(line(1, "64493", "50"))  # 618.27

    found = underpayment(D("480.00"), D("120.00"), expected, D("5.00"), D("1"))

    assert found is not None
    assert found.expected == D("618.27")
    assert found.received == D("600.00")
    assert found.amount_at_risk == D("18.27")
    assert found.tolerance == D("6.18")  # 1% of 618.27 beats 5.00
    assert found.explanation.startswith("The payer allowed $600.00 (paid $480.00 + patient share $120.00)")
    assert "$18.27 short" in found.explanation


def test_negative_tolerance_is_refused() -> None:
    expected = price(line(1, "20552"))
    with pytest.raises(ValueError, match="tolerance"):
        underpayment(D("0"), D("0"), expected, D("-1"), D("0"))


# ---------------------------------------------------------------- CSV loader


def write(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "fees.csv"
    path.write_text("\n".join((header, *rows)) + "\n", encoding="utf-8")
    return path


def refused(path: Path) -> FeeScheduleError:
    with pytest.raises(FeeScheduleError) as caught:
        load_fee_schedule(path)
    return caught.value


def test_valid_csv_round_trip(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "12502,,64493,,412.18,2026-01-01,,no,yes",
        "12502,,64494,,205.40,2026-01-01,,yes,no",
        '12502,"PPO, Gold",64493,,450.00,2026-01-01,2026-12-31,no,yes',
        "12502,,64493,50,650.00,2026-01-01,,no,yes",
        "12502,,77003,,95.10,2026-01-01,,No,No",
        "",
        "12502,,64493,,398.00,2025-01-01,2025-12-31,no,yes",
    )

    schedule = load_fee_schedule(path)

    assert len(schedule) == 6
    assert schedule.rows[2] == FeeRow(
        payer_id="12502",
        plan="PPO, Gold",
        procedure_code="64493",
        modifier=None,
        allowed=D("450.00"),
        effective_from=date(2026, 1, 1),
        effective_to=date(2026, 12, 31),
        add_on=False,
        multiple_procedure=True,
    )
    assert schedule.rows[2].source_line == 4
    assert schedule.rows[5].source_line == 8  # the blank line still counts
    assert type(schedule.rows[0].allowed) is Decimal
    add_on = schedule.expected_allowed(line(2, "64494", "50"), (), "12502", "PPO, Gold")
    assert add_on is not None
    assert add_on.amount == D("308.10")


def test_columns_may_come_in_any_order(tmp_path: Path) -> None:
    header = ",".join(reversed(FEE_SCHEDULE_COLUMNS))
    path = write(tmp_path, "yes,no,,2026-01-01,412.18,,64493,,12502", header=header)

    assert load_fee_schedule(path).rows[0].allowed == D("412.18")


def test_bad_decimal_names_line_and_column(tmp_path: Path) -> None:
    path = write(
        tmp_path, "12502,,64493,,412.18,2026-01-01,,no,yes", "12502,,20552,,4l2.18,2026-01-01,,no,yes"
    )

    error = refused(path)

    assert error.errors == (
        "fees.csv line 3, column allowed: expected a decimal amount like 412.18 "
        "(digits, at most 4 decimals, no $ or commas), found '4l2.18'",
    )
    assert str(path) in str(error)


@pytest.mark.parametrize("text", ["-412.18", "$412.18", "1,412.18", "412.18125", "NaN", "4E+2", ".50", ""])
def test_amounts_other_than_plain_decimals_are_refused(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, f'12502,,64493,,"{text}",2026-01-01,,no,yes')

    (problem,) = refused(path).errors

    assert problem.startswith("fees.csv line 2, column allowed: expected a decimal amount like 412.18")
    assert problem.endswith(f"found {text!r}" if text else "found an empty cell")


def test_bad_date_names_line_and_column(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "12502,,64493,,412.18,2026-01-01,,no,yes",
        "12502,,64494,,205.40,01/01/2026,,yes,no",
        "12502,,20552,,88.40,2026-01-01,2026-02-30,no,yes",
        "12502,,77003,,95.10,20260101,,no,no",  # ISO, but not the documented YYYY-MM-DD
    )

    error = refused(path)

    assert len(error.errors) == 3
    assert error.errors[0].startswith(
        "fees.csv line 3, column effective_from: expected a date like 2026-01-01"
    )
    assert error.errors[0].endswith("found '01/01/2026'")
    assert error.errors[1].startswith("fees.csv line 4, column effective_to:")
    assert error.errors[1].endswith("found '2026-02-30'")
    assert error.errors[2].startswith("fees.csv line 5, column effective_from:")


def test_unknown_column_set_is_refused_at_the_header(tmp_path: Path) -> None:
    header = HEADER.replace("allowed", "fee")
    path = write(tmp_path, "12502,,64493,,412.18,2026-01-01,,no,yes", header=header)

    message = str(refused(path))

    assert "fees.csv line 1, header" in message
    assert "unknown column(s) 'fee'" in message
    assert "missing column(s) allowed" in message


def test_duplicate_overlapping_key_names_both_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "12502,,64493,,412.18,2026-01-01,,no,yes",
        "12502,PPO,64493,,450.00,2026-01-01,,no,yes",  # other plan: no clash
        "12502,,64493,,398.00,2025-01-01,2025-12-31,no,yes",  # ends the day before: no clash
        "12502,,64493,,420.00,2026-07-01,2026-12-31,no,yes",
        "12502,PPO,20552,,88.40,2026-01-01,2026-06-30,no,yes",
        "12502,PPO,20552,,90.00,2026-06-30,,no,yes",  # both cover 2026-06-30
    )

    error = refused(path)

    assert len(error.errors) == 2
    assert error.errors[0].startswith(
        "fees.csv line 5, column effective_from: expected a period that does not overlap line 2"
    )
    assert error.errors[0].endswith("found 2026-07-01 to 2026-12-31")
    assert error.errors[1].startswith("fees.csv line 7, column effective_from:")
    assert "overlap line 6 (payer 12502, plan PPO, 20552, 2026-01-01 to 2026-06-30)" in error.errors[1]


def test_every_bad_row_is_reported_at_most_twenty_listed(tmp_path: Path) -> None:
    bad_rows = [f"12502,,6449{i % 10},,abc,2026-01-01,,no,yes" for i in range(25)]
    path = write(tmp_path, *bad_rows, "12502,,64493,,412.18,2026-01-01,,maybe,yes", "12502,,64493,,1.00")

    error = refused(path)

    assert len(error.errors) == 27
    assert error.errors[-2] == "fees.csv line 27, column add_on: expected yes or no, found 'maybe'"
    assert error.errors[-1].startswith("fees.csv line 28: expected 9 comma-separated fields, found 5")
    message = str(error)
    assert message.count("column allowed") == MAX_ERRORS_LISTED
    assert message.endswith("... and 7 more")


def test_add_on_subject_to_reduction_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "12502,,64494,,205.40,2026-01-01,,yes,yes")

    assert refused(path).errors[0].startswith("fees.csv line 2, column multiple_procedure: expected no")


# ---------------------------------------------------------------- property


CODES = ("64493", "64494", "64483", "77003", "20552", "62323")
money = st.decimals(min_value=D("0"), max_value=D("5000"), places=2)
lines = st.builds(
    PricedLine,
    line_number=st.integers(min_value=1, max_value=6),
    procedure_code=st.sampled_from((*CODES, "64635")),
    modifiers=st.sampled_from(((), ("50",), ("LT",), ("RT",), ("50", "LT"), ("KX",))),
    units=st.decimals(min_value=D("0"), max_value=D("4"), places=2),
    service_date=st.sampled_from((DOS, date(2026, 9, 21), None)),
    charge=money,
)


@settings(max_examples=300, deadline=None)
@given(fees=st.lists(money, min_size=len(CODES), max_size=len(CODES)), claim=st.lists(lines, max_size=6))
def test_expected_is_never_negative_and_reduction_never_raises_a_line(
    fees: list[Decimal], claim: list[PricedLine]
) -> None:
    flags = {"64494": (True, False), "77003": (False, False)}
    schedule = FeeSchedule(
        fee(
            code, f"{amount}", add_on=flags.get(code, (False, True))[0], mpr=flags.get(code, (False, True))[1]
        )
        for code, amount in zip(CODES, fees, strict=True)
    )
    for item in claim:
        expected = schedule.expected_allowed(item, claim, PAYER, None)
        alone = schedule.expected_allowed(item, (), PAYER, None)
        if item.procedure_code == "64635":
            assert expected is None
            continue
        assert expected is not None and alone is not None
        assert expected.amount >= 0
        assert expected.amount == expected.amount.quantize(D("0.01"))
        assert expected.amount <= expected.before_reduction
        assert expected.amount <= alone.amount
        ranked_with = [
            other
            for other in claim
            if other.line_number != item.line_number
            and other.service_date == item.service_date
            and other.procedure_code in {"64493", "64483", "20552", "62323"}
        ]
        if not ranked_with:  # nothing to be reduced against: the reduction leaves the line alone
            assert expected.amount == alone.amount
