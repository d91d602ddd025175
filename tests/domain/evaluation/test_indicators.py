"""Indicators: every count, rate and average from counter sums, worked out by hand."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from citykeeper.domain.errors import InvalidInput
from citykeeper.domain.evaluation.counters import BY_NAME, Subject
from citykeeper.domain.evaluation.indicators import (
    BY_CODE,
    INDICATORS,
    Kind,
    applicable,
    compute,
    indicator,
    round_half_up,
)

# A unit (责任单位) in one month.
UNIT_MONTH = {
    "dispatched": 10,
    "dispose_due": 10,
    "disposed": 9,
    "disposed_on_time": 7,
    "close_due": 8,
    "closed": 6,
    "closed_on_time": 4,
    "rework": 2,
    "returned": 1,
    "extended": 2,
    "suspended": 0,
    "handling_seconds": 108_000,  # 30 hours over the 6 closed cases
}


def test_every_indicator_is_built_from_counters_credited_to_each_subject_it_applies_to():
    # 漏报 is a fact about a grid; for an inspector the services pass the sums of the grids the
    # inspector patrols, which is why this one pair is the exception.
    exceptions = {("missed_report_rate", Subject.INSPECTOR)}
    for ind in INDICATORS:
        assert ind.subjects, ind.code
        for subject in ind.subjects:
            for name in (*ind.numerator, *ind.denominator):
                credited = subject in BY_NAME[name].subjects
                assert credited or (ind.code, subject) in exceptions, (ind.code, subject, name)


def test_every_counter_but_the_handling_time_is_also_a_count_indicator():
    counts = {i.code for i in INDICATORS if i.kind is Kind.COUNT}
    assert counts == set(BY_NAME) - {"handling_seconds"}
    assert BY_CODE["filed"].label == "立案数"


def test_a_units_rates_are_its_counter_ratios():
    v = compute(UNIT_MONTH, subject=Subject.UNIT)
    assert v["closure_rate"].value == Fraction(6, 8)  # 结案率 = 6 / 8 = 75 %
    assert v["on_time_closure_rate"].value == Fraction(4, 8)  # 按期结案率 = 4 / 8 = 50 %
    assert v["disposal_rate"].value == Fraction(9, 10)  # 处置率 = 9 / 10 = 90 %
    assert v["on_time_disposal_rate"].value == Fraction(7, 10)  # 按期处置率 = 7 / 10 = 70 %
    assert v["rework_rate"].value == Fraction(2, 8)  # 返工率 = 2 / 8 = 25 %
    assert v["return_rate"].value == Fraction(1, 10)  # 回退率 = 1 / 10
    assert v["extension_rate"].value == Fraction(2, 10)  # 延期率 = 2 / 10
    assert v["suspension_rate"].value == 0  # 0 / 10: nothing suspended is 0 %, a real value
    assert v["average_handling_hours"].value == 5  # 108,000 s / 6 cases / 3,600 = 5 hours
    assert v["closed"].value == 6
    assert v["closure_rate"].display() == Decimal("75.00")
    assert v["average_handling_hours"].display(1) == Decimal("5.0")


def test_a_rate_with_nothing_due_is_not_applicable_rather_than_zero_or_full():
    v = compute({"dispatched": 3}, subject=Subject.UNIT)
    assert v["closure_rate"].value is None
    assert v["closure_rate"].display() is None
    assert v["rework_rate"].value is None
    assert v["average_handling_hours"].value is None
    assert v["return_rate"].value == 0  # 0 of 3 dispatches returned


def test_a_subject_gets_only_the_indicators_that_apply_to_it():
    v = compute({"reported": 20, "valid_report": 18}, subject=Subject.INSPECTOR)
    assert "closure_rate" not in v
    assert v["valid_report_rate"].value == Fraction(18, 20)  # 有效上报率 = 18 / 20 = 90 %
    assert set(v) == {i.code for i in applicable(Subject.INSPECTOR)}


def test_each_post_rate_follows_the_standards_formula():
    inspector = compute(
        {"verify_due": 40, "verified_on_time": 38, "check_due": 50, "checked_on_time": 45, "missed": 3, "filed": 60},
        subject=Subject.INSPECTOR,
    )
    assert inspector["verify_on_time_rate"].value == Fraction(38, 40)  # 按时核实率 95 %
    assert inspector["check_on_time_rate"].value == Fraction(45, 50)  # 按时核查率 90 %
    assert inspector["missed_report_rate"].value == Fraction(3, 60)  # 漏报率 5 %
    operator = compute(
        {"verify_sent_due": 80, "verify_sent_on_time": 72, "check_sent_due": 90, "check_sent_on_time": 90},
        subject=Subject.OPERATOR,
    )
    assert operator["verify_sent_on_time_rate"].value == Fraction(72, 80)  # 核实按时派发率 90 %
    assert operator["check_sent_on_time_rate"].value == 1  # 核查按时派发率 100 %
    lead = compute(
        {"filed": 200, "filed_on_time": 190, "filed_accurately": 196, "closed": 150, "close_stage_on_time": 147},
        subject=Subject.SHIFT_LEAD,
    )
    assert lead["filing_on_time_rate"].value == Fraction(190, 200)  # 按时立案率 95 %
    assert lead["accurate_filing_rate"].value == Fraction(196, 200)  # 准确立案率 98 %
    assert lead["closing_on_time_rate"].value == Fraction(147, 150)  # 按时结案率 98 %
    dispatcher = compute(
        {"dispatched": 300, "dispatched_on_time": 285, "dispatched_accurately": 291}, subject=Subject.DISPATCHER
    )
    assert dispatcher["dispatch_on_time_rate"].value == Fraction(285, 300)  # 按时派遣率 95 %
    assert dispatcher["accurate_dispatch_rate"].value == Fraction(291, 300)  # 准确派遣率 97 %
    grid = compute({"filed": 8, "missed": 2}, subject=Subject.GRID)
    # 监督举报率 and 漏报率 are the same quantity under the region's and the post's names.
    assert grid["public_report_rate"].value == grid["missed_report_rate"].value == Fraction(2, 8)


STREET_VENDING = 17  # a key problem's category id


def test_key_problems_count_several_times_in_the_closure_rates_only():
    sums = {
        ("close_due", 0): 6,
        ("closed", 0): 5,
        ("closed_on_time", 0): 4,
        ("close_due", STREET_VENDING): 2,
        ("closed", STREET_VENDING): 1,
        ("closed_on_time", STREET_VENDING): 0,
        ("dispose_due", 0): 4,
        ("dispose_due", STREET_VENDING): 4,
        ("disposed", STREET_VENDING): 2,
    }
    plain = compute(sums, subject=Subject.UNIT)
    assert plain["closure_rate"].value == Fraction(6, 8)  # (5 + 1) / (6 + 2)
    weighted = compute(sums, subject=Subject.UNIT, multipliers={STREET_VENDING: 3})
    # 结案率 = (5 + 1×3) / (6 + 2×3) = 8 / 12 = 66.67 %
    assert weighted["closure_rate"].value == Fraction(8, 12)
    assert weighted["closure_rate"].display() == Decimal("66.67")
    assert weighted["closure_rate"].weighted
    # 按期结案率 = (4 + 0×3) / 12 = 33.33 %
    assert weighted["on_time_closure_rate"].value == Fraction(4, 12)
    # 处置率 is not named, so plain: 2 / (4 + 4)
    assert weighted["disposal_rate"].value == Fraction(2, 8)
    assert not weighted["disposal_rate"].weighted
    # counts are never multiplied
    assert weighted["closed"].value == 6


def test_a_scheme_may_name_other_rates_for_the_multipliers():
    sums = {("dispose_due", 0): 4, ("dispose_due", STREET_VENDING): 4, ("disposed", STREET_VENDING): 2}
    v = compute(sums, subject=Subject.UNIT, multipliers={STREET_VENDING: 2}, weighted=["disposal_rate"])
    assert v["disposal_rate"].value == Fraction(2 * 2, 4 + 4 * 2)  # 4 / 12


def test_fractional_multipliers_are_exact():
    sums = {("close_due", 0): 1, ("close_due", 5): 2, ("closed", 5): 2}
    v = compute(sums, subject=Subject.UNIT, multipliers={5: Decimal("1.5")})
    assert v["closure_rate"].value == Fraction(3, 4)  # 2×1.5 / (1 + 2×1.5)


def test_a_multiplier_below_one_is_refused():
    with pytest.raises(InvalidInput) as caught:
        compute({"closed": 1}, multipliers={STREET_VENDING: Decimal("0.5")})
    assert caught.value.field == "multipliers"


def test_unknown_counters_and_bad_values_are_refused():
    for sums in ({"closures": 1}, {"closed": -1}, {"closed": 1.5}, {("closed", -3): 1}):
        with pytest.raises(InvalidInput) as caught:
            compute(sums)
        assert caught.value.field == "counters", sums


def test_an_unknown_indicator_is_refused_by_name():
    with pytest.raises(InvalidInput) as caught:
        indicator("happiness_rate")
    assert caught.value.field == "indicator"
    with pytest.raises(InvalidInput) as caught:
        compute({"closed": 1}, weighted=["closed"])  # a count cannot be weighted
    assert caught.value.field == "weighted_rates"


def test_rounding_is_half_up_and_exact():
    assert round_half_up(Fraction(2, 3)) == Decimal("0.67")
    assert round_half_up(Fraction(89995, 1000)) == Decimal("90.00")
    assert round_half_up(Fraction(89994999, 1000000)) == Decimal("89.99")
    assert round_half_up(Fraction(-1, 8)) == Decimal("-0.13")
    assert round_half_up(Fraction(1, 8), 0) == Decimal("0")
