"""Schemes, composite scores, grades and rankings, every number worked out by hand."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from fractions import Fraction

import pytest

from citykeeper.domain.errors import InvalidInput
from citykeeper.domain.evaluation.counters import Subject
from citykeeper.domain.evaluation.scoring import (
    DEFAULT_SCHEMES,
    SAMPLING_WEIGHTS,
    UNIT_DISPATCHED_BANDS,
    Band,
    Item,
    Method,
    MinVolume,
    PeerKey,
    Scheme,
    compare,
    grade,
    score,
    with_sampling,
)

REGION_1, REGION_2 = DEFAULT_SCHEMES["region-1"], DEFAULT_SCHEMES["region-2"]
UNIT = DEFAULT_SCHEMES["unit"]
STREET_VENDING = 17


def weights(scheme: Scheme) -> dict[str, int]:
    return {i.indicator: int(i.weight) for i in scheme.items}


def test_the_default_schemes_are_the_standards_weights_and_all_valid():
    for scheme in DEFAULT_SCHEMES.values():
        assert scheme.validate() is scheme
    # region: the source's 10/20/30/10 adds to 70 %; 按期结案率 is read as 40 %
    assert (
        weights(REGION_1)
        == weights(REGION_2)
        == {
            "public_report_rate": 10,
            "filed": 20,
            "closure_rate": 30,
            "on_time_closure_rate": 40,
        }
    )
    assert weights(UNIT) == {"dispatched": 10, "closure_rate": 30, "on_time_disposal_rate": 30, "rework_rate": 30}
    assert list(weights(DEFAULT_SCHEMES["inspector"]).values()) == [40, 20, 20, 20]
    assert list(weights(DEFAULT_SCHEMES["operator"]).values()) == [25, 40, 35]
    assert list(weights(DEFAULT_SCHEMES["shift_lead"]).values()) == [25, 40, 35]
    assert list(weights(DEFAULT_SCHEMES["dispatcher"]).values()) == [20, 40, 40]


# -- the recommended version with 抽查 ----------------------------------------------------------


def test_the_recommended_next_version_takes_five_points_from_each_standard_rate_for_the_sampling_rates():
    unit = with_sampling(UNIT)
    assert unit.version == 2 and unit.validate() is unit
    assert weights(unit) == {
        "dispatched": 10,
        "closure_rate": 25,
        "on_time_disposal_rate": 25,
        "rework_rate": 25,
        "sample_pass_rate": 15,
    }
    # The volume band keeps its table, everything but the items stays.
    assert unit.items[0].bands == UNIT_DISPATCHED_BANDS and unit.items[-1].method is Method.RATE
    assert (unit.min_volume, unit.peer_key, unit.grades) == (UNIT.min_volume, UNIT.peer_key, UNIT.grades)
    for code in ("inspector", "contractor"):
        scheme = with_sampling(DEFAULT_SCHEMES[code])
        assert weights(scheme) == {
            "valid_report_rate": 35,
            "missed_report_rate": 15,
            "verify_on_time_rate": 15,
            "check_on_time_rate": 15,
            "sample_miss_rate": 10,
            "false_check_rate": 10,
        }
        assert [i.method for i in scheme.items[-2:]] == [Method.BAD_RATE, Method.BAD_RATE]
        assert scheme.subject is DEFAULT_SCHEMES[code].subject
    assert set(SAMPLING_WEIGHTS) == {"unit", "inspector", "contractor"}


def test_an_inspector_whose_passed_checks_were_found_untrue_loses_points_as_worked_out_by_hand():
    month = {
        "reported": 20,
        "valid_report": 18,
        "missed": 1,
        "filed": 10,
        "verify_due": 4,
        "verified_on_time": 3,
        "check_due": 5,
        "checked_on_time": 5,
        "sample_grids": 2,
        "sample_grids_missed": 1,
        "sample_checked": 4,
        "sample_checked_failed": 1,
    }
    # Standard (v1): 有效上报率 90 × 40 % = 36; 漏报率 1/10 → 90 × 20 % = 18; 按时核实率 75 × 20 % = 15;
    # 按时核查率 100 × 20 % = 20.  Σ = 89.00.
    # With 抽查 (v2): 90 × 35 % = 31.5; 90 × 15 % = 13.5; 75 × 15 % = 11.25; 100 × 15 % = 15;
    # 抽查漏报率 1/2 → 50 × 10 % = 5; 核查失实率 1/4 → 75 × 10 % = 7.5.  Σ = 83.75.
    inspector = DEFAULT_SCHEMES["inspector"]
    before = score(inspector, {"i": month}, {"i": "全市"}).subjects["i"]
    after = score(with_sampling(inspector), {"i": month}, {"i": "全市"}).subjects["i"]
    assert (before.composite, after.composite, after.grade) == (Decimal("89.00"), Decimal("83.75"), "B")


def test_the_sampling_version_is_refused_for_other_schemes_again_or_over_weights_changed_by_hand():
    with pytest.raises(InvalidInput) as refused:
        with_sampling(REGION_1)
    assert refused.value.field == "scheme"
    with pytest.raises(InvalidInput) as refused:
        with_sampling(with_sampling(UNIT))
    assert (refused.value.field, refused.value.params["reason"]) == ("scheme", "sampled")
    # Weights moved by hand, or an item dropped: the evaluator's choices are not overwritten.
    moved = (replace(UNIT.items[0], weight=Decimal(20)), *UNIT.items[1:3], replace(UNIT.items[3], weight=Decimal(20)))
    dropped = (*UNIT.items[1:3], replace(UNIT.items[3], weight=Decimal(40)))
    for items in (moved, dropped):
        with pytest.raises(InvalidInput) as refused:
            with_sampling(replace(UNIT, version=3, items=items).validate())
        assert refused.value.field == "items"


# -- regions --------------------------------------------------------------------------------


GRID_MONTH = {"filed": 3, "missed": 1, "close_due": 10, "closed": 9, "closed_on_time": 8}


def test_a_grid_in_a_class_one_area_is_scored_on_the_class_one_volume_table():
    r = score(REGION_1, {"g1": GRID_MONTH}, {"g1": "一类"}, grids={"g1": 1}).subjects["g1"]
    # 监督举报率 1/3 → (1 − 1/3) × 100 = 66.67 × 10 % = 6.6667
    # 立案数 3 → 一类 band 3–4 → 75 × 20 % = 15
    # 结案率 9/10 → 90 × 30 % = 27
    # 按期结案率 8/10 → 80 × 40 % = 32
    # 综合 = 80.6667 → 80.67 → B
    assert [i.score for i in r.items] == [Fraction(200, 3), 75, 90, 80]
    assert [i.points for i in r.items] == [Fraction(20, 3), 15, 27, 32]
    assert (r.composite, r.grade) == (Decimal("80.67"), "B")


def test_the_same_grid_in_a_class_two_area_gets_more_points_for_its_three_cases():
    r = score(REGION_2, {"g1": GRID_MONTH}, {"g1": "二类"}, grids={"g1": 1}).subjects["g1"]
    # 立案数 3 → 二类 band 1–3 → 90 × 20 % = 18; 6.6667 + 18 + 27 + 32 = 83.6667
    assert r.items[1].score == 90
    assert r.composite == Decimal("83.67")


def test_a_streets_volume_is_scored_per_unit_grid():
    street = {"filed": 12, "close_due": 10, "closed": 10, "closed_on_time": 10}
    r = score(REGION_1, {"s": street}, {"s": "一类"}, grids={"s": 5}).subjects["s"]
    # 12 cases / 5 grids = 2.4 a grid: past the 1–2 band's low, not yet 3 → 90
    assert (r.items[1].value, r.items[1].score) == (Fraction(12, 5), 90)
    r = score(REGION_1, {"s": {**street, "filed": 15}}, {"s": "一类"}, grids={"s": 5}).subjects["s"]
    assert r.items[1].score == 75  # 3 a grid


def test_a_grid_with_no_cases_gets_full_volume_points_and_its_rates_weight_spread():
    r = score(REGION_1, {"quiet": {}}, {"quiet": "一类"}, grids={"quiet": 1}).subjects["quiet"]
    # 立案数 0 → 100; every rate has nothing due, so the volume item carries the whole weight
    assert r.items[1].effective_weight == 100
    assert (r.composite, r.grade, r.ranked) == (Decimal("100.00"), "A", True)


# -- units, weights spread, multipliers -----------------------------------------------------


UNIT_MONTH = {
    "dispatched": 60,
    "dispose_due": 10,
    "disposed_on_time": 7,
    "close_due": 8,
    "closed": 6,
    "rework": 2,
}


def test_a_units_composite_is_the_weighted_sum_of_its_scores():
    r = score(UNIT, {"u": UNIT_MONTH}, {"u": "专业部门"}).subjects["u"]
    # 立案(派遣)数 60 → band 51–100 → 90 × 10 % = 9
    # 结案率 6/8 = 75 % → 75 × 30 % = 22.5
    # 按期处置率 7/10 = 70 % → 70 × 30 % = 21
    # 返工率 2/8 = 25 % → (1 − 0.25) × 100 = 75 × 30 % = 22.5
    # 综合 = 75.00 → B (75 is B's threshold)
    assert [i.points for i in r.items] == [9, Fraction(45, 2), 21, Fraction(45, 2)]
    assert (r.composite, r.grade) == (Decimal("75.00"), "B")


def test_an_item_with_nothing_due_passes_its_weight_to_the_others_in_proportion():
    month = {"dispatched": 10, "close_due": 10, "closed": 8, "rework": 1}  # no disposal due
    r = score(UNIT, {"u": month}, {"u": "g"}).subjects["u"]
    # 按期处置率 has no value: 30 % of weight left, the other 70 % scaled to 100 %
    # (100 × 10 + 80 × 30 + 90 × 30) / 70 = 6,100 / 70 = 87.142857… → 87.14
    on_time_disposal = r.items[2]
    assert (on_time_disposal.score, on_time_disposal.points) == (None, None)
    assert [i.effective_weight for i in r.items] == [Fraction(100, 7), Fraction(300, 7), None, Fraction(300, 7)]
    assert r.composite == Decimal("87.14")


def test_a_subject_with_no_scored_value_at_all_has_no_composite_and_no_rank():
    lead = DEFAULT_SCHEMES["shift_lead"]
    r = score(lead, {"l": {}}).subjects["l"]
    assert (r.composite, r.grade, r.ranked, r.rank) == (None, None, False, None)
    assert "nothing was due" in r.reason


def test_key_problem_multipliers_of_the_scheme_weigh_the_closure_rates():
    scheme = replace(UNIT, multipliers=((STREET_VENDING, Decimal(3)),))
    month = {
        ("dispatched", 0): 10,
        ("dispose_due", 0): 10,
        ("disposed_on_time", 0): 10,
        ("close_due", 0): 6,
        ("closed", 0): 6,
        ("close_due", STREET_VENDING): 2,
    }
    r = score(scheme, {"u": month}, {"u": "g"}).subjects["u"]
    # 结案率 = (6 + 0×3) / (6 + 2×3) = 50 % → 50 × 30 % = 15
    # without multipliers it would be 6 / 8 = 75 %
    # 100 × 10 % + 15 + 100 × 30 % + (1 − 0) × 100 × 30 % = 10 + 15 + 30 + 30 = 85
    assert r.indicators["closure_rate"].value == Fraction(1, 2)
    assert r.composite == Decimal("85.00")
    plain = score(UNIT, {"u": month}, {"u": "g"}).subjects["u"]
    assert plain.composite == Decimal("92.50")  # 10 + 22.5 + 30 + 30


def test_a_rework_rate_above_one_scores_zero_not_below():
    month = {"dispatched": 1, "close_due": 1, "closed": 1, "rework": 3, "dispose_due": 1, "disposed_on_time": 1}
    r = score(UNIT, {"u": month}, {"u": "g"}).subjects["u"]
    assert r.items[3].score == 0  # (1 − 3) × 100 clamped to 0


# -- grades ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("composite", "letter"),
    [
        ("100", "A"),
        ("90", "A"),
        ("89.99", "B"),
        ("75", "B"),
        ("74.99", "C"),
        ("60", "C"),
        ("59.99", "D"),
        ("40", "D"),
        ("39.99", "E"),
        ("0", "E"),
    ],
)
def test_grades_start_at_their_thresholds(composite, letter):
    assert grade(UNIT, Decimal(composite)) == letter


ONLY_FILING = Scheme(
    code="lead-filing",
    version=1,
    subject=Subject.SHIFT_LEAD,
    label="按时立案",
    items=(Item("filing_on_time_rate", Decimal(100), Method.RATE),),
    weighted_rates=(),
)


def test_the_grade_is_read_off_the_printed_composite():
    # 17,999 / 20,000 = 89.995 % → printed 90.00 → A
    r = score(ONLY_FILING, {"l": {"filed": 20_000, "filed_on_time": 17_999}}).subjects["l"]
    assert (r.composite, r.grade) == (Decimal("90.00"), "A")
    # 17,998 / 20,000 = 89.99 % → B
    r = score(ONLY_FILING, {"l": {"filed": 20_000, "filed_on_time": 17_998}}).subjects["l"]
    assert (r.composite, r.grade) == (Decimal("89.99"), "B")


# -- ranking --------------------------------------------------------------------------------


def lead_month(on_time: int) -> dict[str, int]:
    return {"filed": 100, "filed_on_time": on_time}  # composite = on_time %


def test_each_peer_group_is_ranked_on_its_own():
    subjects = {"a1": lead_month(90), "a2": lead_month(80), "b1": lead_month(70), "b2": lead_month(95)}
    groups = {"a1": "A", "a2": "A", "b1": "B", "b2": "B"}
    res = score(replace(ONLY_FILING, peer_key=PeerKey.DISTRICT), subjects, groups).subjects
    assert {sid: (r.rank, r.group_size) for sid, r in res.items()} == {
        "a1": (1, 2),
        "a2": (2, 2),
        "b2": (1, 2),
        "b1": (2, 2),
    }


def test_equal_composites_share_a_rank_and_the_next_rank_is_skipped():
    subjects = {"x": lead_month(90), "y": lead_month(90), "z": lead_month(85)}
    res = score(ONLY_FILING, subjects).subjects
    assert [(sid, r.rank) for sid, r in res.items()] == [("x", 1), ("y", 1), ("z", 3)]
    assert res["z"].group_size == 3


def test_a_subject_under_the_minimum_volume_is_listed_and_graded_but_not_ranked():
    scheme = replace(ONLY_FILING, min_volume=MinVolume("filed", 50))
    small = {"filed": 10, "filed_on_time": 10}  # 100 % of only 10 cases
    res = score(scheme, {"big": lead_month(80), "small": small}).subjects
    assert (res["small"].composite, res["small"].grade) == (Decimal("100.00"), "A")
    assert (res["small"].ranked, res["small"].rank) == (False, None)
    assert "below the minimum of 50" in res["small"].reason
    assert (res["big"].rank, res["big"].group_size) == (1, 1)


def test_the_results_name_the_scheme_they_were_scored_with():
    res = score(ONLY_FILING, {"l": lead_month(1)})
    assert (res.scheme_code, res.scheme_version, res.fingerprint) == ("lead-filing", 1, ONLY_FILING.fingerprint())


# -- 同比 / 环比 ----------------------------------------------------------------------------


def test_compare_gives_the_change_of_composite_rank_and_every_indicator():
    before = score(ONLY_FILING, {"x": lead_month(80), "y": lead_month(90)})
    after = score(ONLY_FILING, {"x": lead_month(95), "y": lead_month(90), "new": lead_month(50)})
    d = compare(after, before)
    assert d["x"].composite == Decimal("15.00")  # 95 − 80
    assert d["x"].rank_change == 1  # from 2nd to 1st
    assert d["y"].rank_change == -1
    assert (d["x"].grade_before, d["x"].grade_after) == ("B", "A")
    change = d["x"].indicators["filing_on_time_rate"]
    assert change.difference == Fraction(15, 100)  # 15 percentage points
    assert change.growth == Fraction(15, 80)  # +18.75 %
    assert d["x"].indicators["filed"].difference == 0
    assert d["new"].composite is None and d["new"].indicators == {}
    assert d["x"].same_scheme


def test_compare_says_when_the_scheme_changed_between_the_periods():
    before = score(ONLY_FILING, {"x": lead_month(80)})
    after = score(replace(ONLY_FILING, version=2), {"x": lead_month(80)})
    assert not compare(after, before)["x"].same_scheme


# -- fingerprints ---------------------------------------------------------------------------


def test_the_fingerprint_ignores_how_a_scheme_was_written_but_not_what_it_says():
    a = replace(UNIT, multipliers=((3, Decimal(2)), (STREET_VENDING, Decimal(5))))
    b = replace(UNIT, multipliers=((STREET_VENDING, Decimal("5.0")), (3, Decimal(2))))
    assert a.fingerprint() == b.fingerprint()
    assert len(a.fingerprint()) == 64
    c = replace(a, multipliers=((3, Decimal(3)), (STREET_VENDING, Decimal(5))))
    assert c.fingerprint() != a.fingerprint()
    assert replace(UNIT, version=2).fingerprint() != UNIT.fingerprint()


def test_a_scheme_survives_a_round_trip_through_its_json():
    for scheme in DEFAULT_SCHEMES.values():
        again = Scheme.from_dict(scheme.as_dict())
        assert again == scheme
        assert again.fingerprint() == scheme.fingerprint()


# -- refusals -------------------------------------------------------------------------------


def _items(*items: Item) -> Scheme:
    return replace(ONLY_FILING, items=items)


RATE = Method.RATE


def refused(scheme: Scheme) -> str | None:
    with pytest.raises(InvalidInput) as caught:
        scheme.validate()
    return caught.value.field


def test_weights_that_do_not_add_up_to_exactly_100_are_refused():
    scheme = _items(
        Item("filing_on_time_rate", Decimal(25), RATE),
        Item("accurate_filing_rate", Decimal(40), RATE),
        Item("closing_on_time_rate", Decimal("34.99"), RATE),
    )
    assert refused(scheme) == "weights"


def test_an_unknown_indicator_is_refused():
    assert refused(_items(Item("happiness_rate", Decimal(100), RATE))) == "items[0].indicator"


def test_an_indicator_that_does_not_apply_to_the_subject_kind_is_refused():
    assert refused(_items(Item("closure_rate", Decimal(100), RATE))) == "items[0].indicator"


def test_the_scoring_method_must_fit_the_indicator():
    assert refused(_items(Item("filed", Decimal(100), RATE))) == "items[0].method"
    assert refused(_items(Item("filing_on_time_rate", Decimal(100), Method.BANDS, (Band(0, None, Decimal(1)),)))) == (
        "items[0].method"
    )


def test_an_indicator_scored_twice_or_with_a_weight_of_zero_is_refused():
    twice = _items(Item("filing_on_time_rate", Decimal(50), RATE), Item("filing_on_time_rate", Decimal(50), RATE))
    assert refused(twice) == "items[1].indicator"
    zero = _items(Item("filing_on_time_rate", Decimal(100), RATE), Item("accurate_filing_rate", Decimal(0), RATE))
    assert refused(zero) == "items[1].weight"


def bands_scheme(*bands: Band) -> Scheme:
    return _items(Item("filed", Decimal(100), Method.BANDS, bands))


def B(lo, hi, pts=50):
    return Band(lo, hi, Decimal(pts))


@pytest.mark.parametrize(
    "bands",
    [
        (B(1, None),),  # does not start at 0
        (B(0, 2), B(4, None)),  # gap: 3
        (B(0, 2), B(2, None)),  # overlap: 2
        (B(0, 2), B(3, 9)),  # nothing from 10 on
        (B(0, None), B(1, None)),  # open band before the last
        (B(0, 3), B(4, 2), B(3, None)),  # ends before it starts
        (B(0, None, 101),),  # more than 100 points
        (),
    ],
)
def test_bands_must_cover_zero_to_infinity_without_gaps_or_overlaps(bands):
    assert refused(bands_scheme(*bands)) == "items[0].bands"


def test_bands_that_cover_everything_are_accepted_and_read_from_their_low_end():
    scheme = bands_scheme(B(0, 9, 0), B(10, 19, 60), B(20, None, 100))
    assert scheme.validate() is scheme
    res = score(scheme, {"a": {"filed": 9}, "b": {"filed": 10}, "c": {"filed": 10_000}}).subjects
    assert [res[s].composite for s in "abc"] == [Decimal("0.00"), Decimal("60.00"), Decimal("100.00")]


def test_a_multiplier_below_one_is_refused():
    assert refused(replace(UNIT, multipliers=((STREET_VENDING, Decimal("0.9")),))) == "multipliers"
    assert refused(replace(UNIT, multipliers=((0, Decimal(2)),))) == "multipliers"  # 0 is "no key problem"


def test_grade_thresholds_must_descend_and_end_at_zero():
    assert refused(replace(UNIT, grades=(("A", Decimal(90)), ("B", Decimal(95)), ("E", Decimal(0))))) == "grades"
    assert refused(replace(UNIT, grades=(("A", Decimal(90)), ("B", Decimal(90)), ("E", Decimal(0))))) == "grades"
    assert refused(replace(UNIT, grades=(("A", Decimal(90)), ("B", Decimal(40))))) == "grades"


def test_the_minimum_volume_must_be_a_count_of_the_subject():
    assert refused(replace(UNIT, min_volume=MinVolume("closure_rate", 5))) == "min_volume"
    assert refused(replace(UNIT, min_volume=MinVolume("accepted", 5))) == "min_volume"  # not a unit's counter
    assert refused(replace(UNIT, min_volume=MinVolume("close_due", -1))) == "min_volume"


def test_a_version_below_one_or_an_unknown_subject_or_peer_key_is_refused():
    assert refused(replace(UNIT, version=0)) == "version"
    assert refused(replace(UNIT, subject="department")) == "subject"
    assert refused(replace(UNIT, peer_key="street")) == "peer_key"


def test_a_badly_formed_stored_scheme_is_refused():
    data = UNIT.as_dict()
    del data["items"]
    with pytest.raises(InvalidInput) as caught:
        Scheme.from_dict(data)
    assert caught.value.field == "scheme"


def test_scoring_refuses_subjects_without_a_peer_group_or_groups_of_unknown_subjects():
    with pytest.raises(InvalidInput) as caught:
        score(UNIT, {"u1": UNIT_MONTH, "u2": UNIT_MONTH}, {"u1": "g"})
    assert caught.value.field == "groups"
    with pytest.raises(InvalidInput) as caught:
        score(UNIT, {"u1": UNIT_MONTH}, {"u1": "g", "ghost": "g"})
    assert caught.value.field == "groups"


def test_region_scoring_refuses_a_region_without_its_grid_count():
    with pytest.raises(InvalidInput) as caught:
        score(REGION_1, {"s": GRID_MONTH}, {"s": "一类"})
    assert caught.value.field == "grids"
    with pytest.raises(InvalidInput) as caught:
        score(REGION_1, {"s": GRID_MONTH}, {"s": "一类"}, grids={"s": 0})
    assert caught.value.field == "grids"


def test_scoring_refuses_unknown_counters():
    with pytest.raises(InvalidInput) as caught:
        score(UNIT, {"u": {"closures": 3}}, {"u": "g"})
    assert caught.value.field == "counters"


def test_a_period_with_nothing_due_is_not_compared_as_a_composite():
    unit = DEFAULT_SCHEMES["unit"]
    quiet = score(unit, {"u": {}}, {"u": "专业部门"})  # nothing dispatched: only the band scores (100)
    busy = score(
        unit,
        {"u": {"dispatched": 5, "close_due": 5, "closed": 4, "dispose_due": 5, "disposed_on_time": 4}},
        {"u": "专业部门"},
    )
    assert quiet.subjects["u"].composite == Decimal("100.00")
    # 10 + 30 × 80 % + 30 × 80 % + 30 = 88.00, but against a month with nothing due there is no change.
    d = compare(busy, quiet)["u"]
    assert busy.subjects["u"].composite == Decimal("88.00")
    assert (d.composite, d.rank_change, d.grade_before) == (None, None, None)
    assert d.indicators["dispatched"].difference == 5
    assert compare(busy, busy)["u"].composite == Decimal("0.00")


def test_why_a_subject_is_not_ranked_is_given_as_data_too():
    from citykeeper.domain.evaluation.scoring import NotRanked

    few = score(UNIT, {"u": {"dispatched": 3, "close_due": 3, "closed": 3}}, {"u": "专业部门"}).subjects["u"]
    assert few.not_ranked == NotRanked("below_minimum", "close_due", 3, 5) and not few.ranked
    nothing = score(ONLY_FILING, {"x": {}}).subjects["x"]
    assert nothing.not_ranked == NotRanked("nothing_due") and nothing.composite is None
    ranked = score(UNIT, {"u": {"dispatched": 6, "close_due": 6, "closed": 6}}, {"u": "专业部门"}).subjects["u"]
    assert ranked.not_ranked is None and ranked.ranked
