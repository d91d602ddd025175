"""Manual adjustments (人工调整) applied after scoring, worked out by hand on the unit of
docs/evaluation.md's worked example (75.00, B); the 抽查 indicators; the contractor scheme."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from fractions import Fraction

import pytest

from citykeeper.domain.errors import InvalidInput
from citykeeper.domain.evaluation.counters import Subject
from citykeeper.domain.evaluation.indicators import applicable, compute
from citykeeper.domain.evaluation.scoring import DEFAULT_SCHEMES, Adjustment, check_adjustment, score

UNIT = DEFAULT_SCHEMES["unit"]
# 派遣 60 → 90 × 10 % = 9; 结案率 6/8 → 75 × 30 % = 22.5; 按期处置率 7/10 → 21; 返工率 2/8 → 22.5: 75.00
WORKED = {"dispatched": 60, "dispose_due": 10, "disposed_on_time": 7, "close_due": 8, "closed": 6, "rework": 2}


def scored(*adjustments: Adjustment, sums=WORKED):
    return score(UNIT, {"u": sums}, {"u": "专业部门"}, adjustments={"u": adjustments}).subjects["u"]


def test_without_adjustments_the_worked_example_is_75_and_b():
    r = scored()
    assert (r.composite, r.grade, r.unadjusted, r.adjustments) == (Decimal("75.00"), "B", None, ())


def test_an_adjustment_of_the_composite_is_added_after_scoring_and_the_grade_follows():
    r = scored(Adjustment(1, Decimal("-2.5")))
    assert (r.composite, r.grade, r.unadjusted) == (Decimal("72.50"), "C", Decimal("75.00"))  # below 75: C
    assert r.adjustments[0].applied and r.adjustments[0].points == Decimal("-2.5")


def test_an_adjustment_of_one_item_changes_its_score_and_its_weighted_points():
    # 按期处置率 70 + 10 = 80 分 × 30 % = 24 instead of 21: 75 + 3 = 78.00
    r = scored(Adjustment(1, Decimal(10), "on_time_disposal_rate"))
    item = next(i for i in r.items if i.indicator == "on_time_disposal_rate")
    assert (item.score, item.points, item.adjustment) == (80, 24, 10)
    assert (r.composite, r.unadjusted) == (Decimal("78.00"), Decimal("75.00"))


def test_scores_and_composites_stay_between_0_and_100_after_adjusting():
    perfect = {"dispatched": 10, "dispose_due": 5, "disposed_on_time": 5, "close_due": 5, "closed": 5}
    r = scored(Adjustment(1, Decimal(5), "closure_rate"), Adjustment(2, Decimal(8)), sums=perfect)
    assert next(i.score for i in r.items if i.indicator == "closure_rate") == 100  # 100 + 5, kept at 100
    assert r.composite == Decimal("100.00") and r.grade == "A"  # 100 + 8, kept at 100
    worst = {"dispatched": 2000, "dispose_due": 5, "close_due": 5, "rework": 10}
    assert scored(Adjustment(1, Decimal(-10)), sums=worst).composite == Decimal("0.00")


def test_the_ranking_follows_the_adjusted_composites():
    other = {**WORKED, "closed": 7}  # 结案率 7/8 → 87.5 × 30 % = 26.25: 78.75
    results = score(
        UNIT,
        {"a": WORKED, "b": other},
        {"a": "专业部门", "b": "专业部门"},
        adjustments={"a": (Adjustment(1, Decimal(4)),)},
    )
    assert (results.subjects["a"].composite, results.subjects["b"].composite) == (Decimal("79.00"), Decimal("78.75"))
    assert (results.subjects["a"].rank, results.subjects["b"].rank) == (1, 2)


def test_an_adjustment_of_an_item_that_is_not_applicable_is_listed_but_not_applied():
    nothing_due = {"dispatched": 60, "close_due": 8, "closed": 6}  # 应处置数 0: 按期处置率 不适用
    r = scored(Adjustment(1, Decimal(5), "on_time_disposal_rate"), sums=nothing_due)
    assert r.adjustments[0].applied is False
    assert r.composite == scored(sums=nothing_due).composite


@pytest.mark.parametrize(
    "points, indicator, field",
    [
        ("0", "", "points"),
        ("10.01", "", "points"),
        ("-11", "", "points"),
        ("1.234", "", "points"),
        ("abc", "", "points"),
        ("NaN", "", "points"),
        ("2", "valid_report_rate", "indicator"),  # not scored by the unit scheme
    ],
)
def test_bad_adjustments_are_refused_naming_the_field(points, indicator, field):
    with pytest.raises(InvalidInput) as refused:
        check_adjustment(UNIT, points, indicator)
    assert refused.value.field == field


def test_ten_points_either_way_are_allowed():
    assert check_adjustment(UNIT, "-10", "") == Decimal(-10)
    assert check_adjustment(UNIT, " 2.50 ", "rework_rate") == Decimal("2.50")


# -- 抽查 indicators and the contractor scheme ---------------------------------------------------


def test_the_sampling_rates_are_shares_of_the_rechecked_items():
    unit = compute({"sample_cases": 8, "sample_passed": 6}, subject=Subject.UNIT)
    assert unit["sample_pass_rate"].value == Fraction(6, 8)  # 抽查合格率 75 %
    inspector = compute({"sample_grids": 4, "sample_grids_missed": 1, "sample_missed": 3}, subject=Subject.INSPECTOR)
    assert inspector["sample_miss_rate"].value == Fraction(1, 4)  # 抽查漏报率: 1 grid of 4
    assert inspector["sample_missed"].value == 3
    assert compute({}, subject=Subject.UNIT)["sample_pass_rate"].value is None  # nothing re-checked: 不适用
    # 核查失实率: of the 5 sampled cases whose 核查 the inspector passed, 2 were not fixed.
    checks = compute({"sample_checked": 5, "sample_checked_failed": 2}, subject=Subject.INSPECTOR)
    assert checks["false_check_rate"].value == Fraction(2, 5) and checks["sample_checked_failed"].value == 2
    assert compute({}, subject=Subject.CONTRACTOR)["false_check_rate"].value is None
    assert "false_check_rate" not in compute({"sample_checked": 1}, subject=Subject.UNIT)


def test_a_contractor_is_scored_on_its_inspectors_indicators_with_the_inspector_weights():
    contractor = DEFAULT_SCHEMES["contractor"]
    assert contractor.validate() is contractor and contractor.subject is Subject.CONTRACTOR
    assert contractor.items == DEFAULT_SCHEMES["inspector"].items
    assert {i.code for i in applicable(Subject.CONTRACTOR)} == {i.code for i in applicable(Subject.INSPECTOR)}
    with pytest.raises(InvalidInput) as refused:
        replace(
            contractor, items=(replace(contractor.items[0], indicator="closure_rate"), *contractor.items[1:])
        ).validate()
    assert refused.value.field == "items[0].indicator"
