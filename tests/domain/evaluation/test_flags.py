"""Anti-gaming flags: each detector flags the outlier with its numbers and cases, stays
quiet below its minimum count and for a subject at the city's baseline. Worked by hand."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from citykeeper.domain.evaluation.counters import Subject
from citykeeper.domain.evaluation.flags import (
    DETECTORS,
    Disposal,
    Kind,
    PatrolReport,
    Report,
    UnitEvent,
    Voiding,
    distance_m,
    extensions_concentrated,
    last_minute_disposal,
    reports_off_patrol_area,
    share_z,
    two_proportion_z,
    voided_then_rereported,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)
HOUR = 3600
LIMIT = 4 * HOUR  # a 4-hour disposal limit: its last 10 % starts at 3.6 h = 12,960 s


def disposals(unit_id: int, *, late: int, early: int, prefix: str = "") -> list[Disposal]:
    """``late`` disposals at 3.8 h of 4 h (95 %, on time) and ``early`` ones at 1 h."""
    prefix = prefix or f"U{unit_id}-"
    return [Disposal(unit_id, f"{prefix}L{i:02}", int(3.8 * HOUR), LIMIT, True) for i in range(late)] + [
        Disposal(unit_id, f"{prefix}E{i:02}", HOUR, LIMIT, True) for i in range(early)
    ]


# ---------------------------------------------------------------- the arithmetic


def test_the_two_proportion_z_is_the_pooled_formula():
    # p1 = 12/25 = 0.48, p2 = 8/100 = 0.08, pooled = 20/125 = 0.16
    # z = 0.40 / √(0.16 × 0.84 × (1/25 + 1/100)) = 0.40 / √0.00672 = 0.40 / 0.08198 = 4.879
    assert two_proportion_z(12, 25, 8, 100) == pytest.approx(4.879, abs=1e-3)
    assert two_proportion_z(5, 10, 0, 0) is None  # nothing to compare with
    assert two_proportion_z(0, 10, 0, 30) is None  # p̂ = 0: no variance


def test_the_share_z_is_the_binomial_normal_approximation():
    # 5 of 6 extensions where 1/3 is expected: z = (5 − 2) / √(6 × 1/3 × 2/3) = 3 / 1.1547 = 2.598
    assert share_z(5, 6, 1 / 3) == pytest.approx(2.598, abs=1e-3)
    assert share_z(5, 5, 1.0) is None


def test_distances_are_great_circle_metres():
    # 0.001° of latitude is 111.2 m anywhere; 0.001° of longitude at 34.26° N is 111.2 × cos 34.26° = 91.9 m
    assert distance_m(117.18, 34.26, 117.18, 34.261) == pytest.approx(111.2, abs=0.1)
    assert distance_m(117.18, 34.26, 117.181, 34.26) == pytest.approx(91.9, abs=0.1)


def test_every_detector_explains_itself_in_chinese_with_its_parameters():
    assert set(DETECTORS) == set(Kind)
    for detector in DETECTORS.values():
        text = detector.explanation_zh.format(
            measure=0.5, baseline=0.1, ratio=5.0, count=10, total=20, z=3.0, **detector.params
        )
        assert "{" not in text and detector.definition


# ---------------------------------------------------------------- 1. last-minute disposals


def test_a_unit_disposing_at_the_last_minute_far_more_than_the_city_is_flagged():
    # Unit 1: 12 of 25 disposals in the last 10 % = 48 %. Units 2 and 3: 4 of 50 each.
    # City: 20 of 125 = 16 %, ratio 48 / 16 = 3.0; z (unit 1 against the rest, 8 of 100) = 4.88.
    rows = disposals(1, late=12, early=13) + disposals(2, late=4, early=46) + disposals(3, late=4, early=46)
    [flag] = last_minute_disposal(rows)
    assert (flag.kind, flag.subject_kind, flag.subject_id) == ("last_minute_disposal", "unit", 1)
    assert flag.measure == pytest.approx(0.48)
    assert flag.baseline == pytest.approx(0.16)
    assert flag.ratio == pytest.approx(3.0)
    assert (flag.count, flag.threshold) == (12, 2.0)
    assert flag.cases == tuple(f"U1-L{i:02}" for i in range(12))
    assert flag.explanation_zh == "近 10% 时限内处置占比 48%，全市 16%（3.0 倍），共 12 件（处置 25 件，z = 4.9）"


def test_only_on_time_disposals_in_the_last_tenth_of_the_limit_count_as_last_minute():
    at_90 = Disposal(1, "AT90", int(0.9 * LIMIT), LIMIT, True)  # exactly at 90 %: counts
    below = Disposal(1, "AT89", int(0.89 * LIMIT), LIMIT, True)  # 89 %: does not
    late = Disposal(1, "LATE", LIMIT + HOUR, LIMIT, False)  # overdue: not "just in time"
    no_limit = Disposal(1, "NOLIMIT", 100, 0, True)
    rows = [at_90] * 10 + [below, late, no_limit] + disposals(2, late=0, early=200)
    [flag] = last_minute_disposal(rows)
    assert flag.count == 10 and set(flag.cases) == {"AT90"}
    assert flag.measure == pytest.approx(10 / 13)


def test_fewer_than_ten_last_minute_disposals_never_flag():
    # 9 of 9 (100 %) against 0 of 100: a huge ratio, but 9 < 10.
    assert last_minute_disposal(disposals(1, late=9, early=0) + disposals(2, late=0, early=100)) == []


def test_a_unit_at_the_citys_share_is_not_flagged():
    # Every unit disposes 20 % at the last minute: each at ratio 1.
    rows = disposals(1, late=20, early=80) + disposals(2, late=10, early=40) + disposals(3, late=30, early=120)
    assert last_minute_disposal(rows) == []


def test_the_z_test_stops_a_difference_chance_explains():
    # With the minimum lowered to 2: unit 1 has 2 of 2, unit 2 1 of 4. City 3 of 6 = 50 %, ratio 2.0,
    # but z = (1 − 0.25) / √(0.5 × 0.5 × (1/2 + 1/4)) = 0.75 / 0.433 = 1.73 < 2.33.
    lowered = dataclasses.replace(DETECTORS[Kind.LAST_MINUTE_DISPOSAL], min_count=2)
    rows = disposals(1, late=2, early=0) + disposals(2, late=1, early=3)
    assert last_minute_disposal(rows, lowered) == []
    # Without the test, the same figures flag: the gate is the z-test alone.
    assert len(last_minute_disposal(rows, dataclasses.replace(lowered, min_z=None))) == 1


# ---------------------------------------------------------------- 2. reports off the patrol area


def patrol(inspector_id: int, *, off: int, inside: int) -> list[PatrolReport]:
    return [PatrolReport(inspector_id, f"I{inspector_id}-OFF{i}", 450.0, False) for i in range(off)] + [
        PatrolReport(inspector_id, f"I{inspector_id}-IN{i}", 0.0, True) for i in range(inside)
    ]


def test_an_inspector_reporting_outside_the_patrol_area_is_flagged():
    # Inspector 7: 6 of 20 reports 450 m outside = 30 % ≥ 20 %, 6 ≥ 5. Inspector 8: 0 of 40.
    # City: 6 of 60 = 10 %, ratio 3.0.
    [flag] = reports_off_patrol_area(patrol(7, off=6, inside=14) + patrol(8, off=0, inside=40))
    assert (flag.kind, flag.subject_kind, flag.subject_id) == ("reports_off_patrol_area", "inspector", 7)
    assert (flag.measure, flag.baseline, flag.ratio, flag.count, flag.threshold) == pytest.approx(
        (0.3, 0.1, 3.0, 6, 0.2)
    )
    assert flag.cases == tuple(f"I7-OFF{i}" for i in range(6))
    assert flag.explanation_zh == "上报点位在巡查区域外（超出 200 米）占比 30%，全市 10%，共 6 件（上报 20 件）"


def test_a_report_near_the_edge_is_inside_and_the_tree_decides_without_a_distance():
    reports = [
        PatrolReport(7, "EDGE", 150.0, False),  # 150 m out: within GPS and street-width tolerance
        PatrolReport(7, "NODIST-OUT", None, False),  # no boundary or point: the area tree says outside
        PatrolReport(7, "NODIST-IN", None, True),
    ] + [PatrolReport(7, f"FAR{i}", 201.0, True) for i in range(4)]  # 201 m: outside, whatever the tree says
    [flag] = reports_off_patrol_area(reports)
    assert set(flag.cases) == {"NODIST-OUT", "FAR0", "FAR1", "FAR2", "FAR3"}
    assert flag.measure == pytest.approx(5 / 7)


def test_fewer_than_five_reports_outside_or_a_share_below_a_fifth_never_flag():
    assert reports_off_patrol_area(patrol(7, off=4, inside=0)) == []  # 100 %, but only 4
    assert reports_off_patrol_area(patrol(7, off=5, inside=21)) == []  # 5 of 26 = 19 %


def test_an_inspector_at_the_citys_share_below_the_threshold_is_not_flagged():
    # Everyone 10 % off: ratio 1 and below 20 %.
    assert reports_off_patrol_area(patrol(7, off=5, inside=45) + patrol(8, off=10, inside=90)) == []


# ---------------------------------------------------------------- 3. voided, then reported again

# 0.0001° is ~11 m at 34° N: points 0.0003° apart are ~33 m (pairs), 0.001° ~111 m (not).
LON, LAT = 117.18, 34.26


def voiding(case: str, at: datetime, *, dlat: float = 0.0, category: str = "01002") -> Voiding:
    return Voiding(case, at, category, LON, LAT + dlat)


def report(case: str, at: datetime, *, inspector: int | None = 7, grid: int = 100, dlat=0.0, category="01002"):
    return Report(case, at, category, LON, LAT + dlat, inspector, grid)


def three_pairs() -> tuple[list[Voiding], list[Report]]:
    voids = [voiding(f"V{i}", MONDAY + timedelta(days=i), dlat=0.01 * i) for i in range(3)]
    again = [report(f"N{i}", MONDAY + timedelta(days=i, hours=5), dlat=0.01 * i + 0.0003) for i in range(3)]
    return voids, again


def test_an_inspector_and_a_grid_with_three_voided_cases_reported_again_are_flagged():
    # 3 pairs (each ~33 m and 5 h apart); inspector 7 made 3 + 7 = 10 reports, inspector 8 made 20 and no pair.
    # Inspector 7: 3 of 10 = 30 %; city (inspector reports): 3 of 30 = 10 %. Grid 100 holds all 30: 10 %.
    voids, again = three_pairs()
    others = [report(f"O{i}", MONDAY + timedelta(hours=i), dlat=0.05) for i in range(7)]
    others += [report(f"P{i}", MONDAY + timedelta(hours=i), inspector=8, dlat=0.05) for i in range(20)]
    flags = voided_then_rereported(voids, again + others)
    assert [(f.subject_kind, f.subject_id) for f in flags] == [("grid", 100), ("inspector", 7)]
    grid, inspector = flags
    assert inspector.cases == ("V0", "N0", "V1", "N1", "V2", "N2")  # voided, then its new report
    assert (inspector.count, inspector.measure, inspector.baseline, inspector.threshold) == pytest.approx(
        (3, 0.3, 0.1, 3)
    )
    assert inspector.explanation_zh == "作废后 7 天内在 50 米内重报同类问题 3 对，占上报 30%，全市 10%（上报 10 件）"
    assert (grid.count, grid.measure, grid.baseline) == pytest.approx((3, 0.1, 0.1))


def test_a_pair_needs_the_same_category_within_fifty_metres_and_seven_days_after_the_void():
    voids = [voiding(f"V{i}", MONDAY) for i in range(6)]
    reports = [
        report("BEFORE", MONDAY - timedelta(hours=1)),  # reported before the void: a duplicate, not a re-report
        report("OTHERKIND", MONDAY + timedelta(hours=1), category="02001"),
        report("FAR", MONDAY + timedelta(hours=1), dlat=0.001),  # 111 m
        report("LATE", MONDAY + timedelta(days=7, minutes=1)),
        report("NEAR", MONDAY + timedelta(hours=2), dlat=0.0004),  # 44 m, 2 h: pairs
        report("EDGE", MONDAY + timedelta(days=7)),  # at 7 days exactly: pairs
    ]
    any_pair = dataclasses.replace(
        DETECTORS[Kind.VOIDED_THEN_REREPORTED], min_count=1, threshold=1, subject_kinds=(Subject.INSPECTOR,)
    )
    [flag] = voided_then_rereported(voids, reports, any_pair)
    assert flag.cases == ("V0", "NEAR", "V1", "EDGE")  # each report pairs once


def test_two_pairs_never_flag_and_a_citizens_re_report_credits_no_inspector():
    voids, again = three_pairs()
    citizen = Report(again[2].case, again[2].at, "01002", again[2].lon, again[2].lat, None, 100)
    flags = voided_then_rereported(voids, [*again[:2], citizen])
    assert [(f.subject_kind, f.subject_id, f.count) for f in flags] == [("grid", 100, 3)]


def test_nobody_is_flagged_when_nothing_voided_was_reported_again():
    voids = [voiding(f"V{i}", MONDAY) for i in range(5)]
    reports = [report(f"R{i}", MONDAY + timedelta(hours=1), dlat=0.01) for i in range(10)]
    assert voided_then_rereported(voids, reports) == []


# ---------------------------------------------------------------- 4. extensions on one unit


def unit_events(unit_id: int, n: int, prefix: str) -> list[UnitEvent]:
    return [UnitEvent(unit_id, f"{prefix}{unit_id}-{i:02}") for i in range(n)]


def test_a_unit_with_most_extensions_for_few_dispatches_is_flagged():
    # Unit 1: 20 of 100 dispatches (20 %), 6 of 8 extensions (75 %): ratio 3.75.
    # z = (6 − 8 × 0.2) / √(8 × 0.2 × 0.8) = 4.4 / 1.131 = 3.89.
    dispatches = unit_events(1, 20, "D") + unit_events(2, 80, "D")
    extensions = unit_events(1, 6, "X") + unit_events(2, 2, "X")
    [flag] = extensions_concentrated(dispatches, extensions)
    assert (flag.kind, flag.subject_kind, flag.subject_id) == ("extensions_concentrated", "unit", 1)
    assert (flag.measure, flag.baseline, flag.ratio, flag.count, flag.threshold) == pytest.approx(
        (0.75, 0.2, 3.75, 6, 2.0)
    )
    assert flag.cases == tuple(f"X1-{i:02}" for i in range(6))
    assert flag.explanation_zh == "延期占全市 75%，派遣仅占 20%（3.8 倍），共延期 6 件（全市 8 件，z = 3.9）"


def test_fewer_than_five_extensions_never_flag():
    dispatches = unit_events(1, 10, "D") + unit_events(2, 90, "D")
    assert extensions_concentrated(dispatches, unit_events(1, 4, "X")) == []  # 100 % of 4, at 10 % of dispatches


def test_a_unit_extended_in_proportion_to_its_dispatches_is_not_flagged():
    dispatches = unit_events(1, 30, "D") + unit_events(2, 70, "D")
    extensions = unit_events(1, 6, "X") + unit_events(2, 14, "X")  # 30 % and 30 %
    assert extensions_concentrated(dispatches, extensions) == []


def test_a_concentration_chance_explains_or_a_unit_without_dispatches_is_not_flagged():
    # 5 of 5 extensions at 49 % of the dispatches: ratio 2.04 but z = √5 × √(0.51/0.49) = 2.28 < 2.33.
    dispatches = unit_events(1, 49, "D") + unit_events(2, 51, "D")
    assert extensions_concentrated(dispatches, unit_events(1, 5, "X")) == []
    # Unit 3 had no dispatch in the period: there is no share to compare with.
    assert extensions_concentrated(dispatches, unit_events(3, 9, "X")) == []
