"""Anti-gaming flags over a real history made with the case verbs: one unit gets the
extensions, one inspector reports outside the patrol area, one inspector's voided cases
are reported again; ``find_flags`` finds each, with its cases, and nothing else."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from citykeeper.domain.errors import InvalidInput
from citykeeper.domain.evaluation.flags import DETECTORS, Kind
from citykeeper.domain.workflow import Role
from citykeeper.services import cases as case_service
from citykeeper.services.cases import MoveInput
from citykeeper.services.flags import find_flags, period_bounds, subject_names
from citykeeper.store.models import Area
from tests.factories import MONDAY_9AM, local, make_user, map_city, report_case

MONDAY, FRIDAY = dt.date(2026, 11, 23), dt.date(2026, 11, 27)
SATURDAY_NOON = local(2026, 11, 28, 12, 0)
MINUTE = dt.timedelta(minutes=1)


def at_unit(city, people, unit, *, at, **kw):
    """A case reported at ``at`` (at 117.18 E, 34.26 N) and dispatched to ``unit`` a few seconds later."""
    case = report_case(city, people, at=at, **kw)
    steps = [
        (case_service.accept, people.operator, MoveInput()),
        (case_service.file, people.shift_lead, MoveInput(condition=city.condition)),
        (case_service.dispatch, people.dispatcher, MoveInput(unit=unit)),
    ]
    for i, (verb, actor, data) in enumerate(steps, start=1):
        case = verb(case.number, actor=actor, version=case.version, at=at + dt.timedelta(seconds=i), data=data)
    return case


def extended(city, people, *, at):
    case = at_unit(city, people, city.unit, at=at)
    case = case_service.request_extension(
        case.number,
        actor=people.handler,
        version=case.version,
        at=at + MINUTE,
        data=MoveInput(reason="需采购配件", extension_value=2, extension_unit="work_days"),
    )
    return case_service.approve_extension(
        case.number, actor=people.dispatcher, version=case.version, at=at + 2 * MINUTE
    )


def inspector_report(city, who, *, lon, lat, at, area=None):
    return case_service.report(
        actor=who, source="inspector", category=city.category, area=area or city.grid, at=at, lon=lon, lat=lat
    )


def voided(city, people, case, *, at):
    case = case_service.accept(case.number, actor=people.operator, version=case.version, at=at)
    return case_service.void(
        case.number, actor=people.shift_lead, version=case.version, at=at + MINUTE, data=MoveInput(reason="重复上报")
    )


def flagged_week(city, people) -> dict:
    """The week of Monday 23 November 2026 in the test city (west grid 117.17–117.18 E, east grid
    117.18–117.19 E, 34.25–34.26 N), with one flag of each kind but the last-minute disposals
    (the console and the bulletin tests use it too)."""
    map_city(city)
    east_grid = Area.objects.get(code="320302001001002")
    out = {}

    # 1. Extensions: the unit gets all 5, with 5 of the 15 dispatches (1/3): ratio 3.0,
    #    z = (5 − 5/3) / √(5 × 1/3 × 2/3) = 3.16.
    out["extended"] = [extended(city, people, at=MONDAY_9AM + i * 10 * MINUTE) for i in range(5)]
    for i in range(10):
        at_unit(city, people, city.other_unit, at=MONDAY_9AM + dt.timedelta(hours=1) + i * MINUTE)

    # 2. A patroller of the west grid: 5 reports ~740 m east of it, one 92 m east (within the
    #    200 m tolerance), one inside: 5 of 7 outside.
    patroller = make_user("patroller", Role.INSPECTOR, area=city.grid)
    tuesday = MONDAY_9AM + dt.timedelta(days=1)
    out["off"] = [
        inspector_report(city, patroller, lon=117.188, lat=34.255, area=east_grid, at=tuesday + i * MINUTE)
        for i in range(5)
    ]
    inspector_report(city, patroller, lon=117.181, lat=34.255, area=east_grid, at=tuesday + 10 * MINUTE)
    inspector_report(city, patroller, lon=117.175, lat=34.255, at=tuesday + 11 * MINUTE)

    # 3. The other inspector's 3 reports (222 m apart) are voided on Wednesday and reported again
    #    ~22 m away on Thursday.
    wednesday = MONDAY_9AM + dt.timedelta(days=2)
    out["pairs"] = []
    for i, lat in enumerate((34.251, 34.253, 34.257)):
        first = inspector_report(city, people.other_inspector, lon=117.175, lat=lat, at=wednesday + i * MINUTE)
        voided(city, people, first, at=wednesday + dt.timedelta(hours=1, minutes=i * 5))
        again = inspector_report(
            city, people.other_inspector, lon=117.175, lat=lat + 0.0002, at=wednesday + dt.timedelta(days=1, minutes=i)
        )
        out["pairs"] += [first.number, again.number]
    out["patroller"] = patroller
    return out


@pytest.fixture
def history(city, people):
    return flagged_week(city, people)


def test_the_week_flags_the_extended_unit_the_off_area_patroller_and_the_re_reports(
    city, people, history, django_assert_max_num_queries
):
    # Set-based: the units, the unit events, the reports, the voids, the patrollers, their areas.
    with django_assert_max_num_queries(6):
        flags = find_flags(MONDAY, FRIDAY, now=SATURDAY_NOON)
    assert [(f.kind, f.subject_kind, f.subject_id) for f in flags] == [
        ("reports_off_patrol_area", "inspector", history["patroller"].pk),
        ("voided_then_rereported", "grid", city.grid.pk),
        ("voided_then_rereported", "inspector", people.other_inspector.pk),
        ("extensions_concentrated", "unit", city.unit.pk),
    ]
    off, grid, inspector, extensions = flags

    # 5 of the patroller's 7 reports; everyone's inspector reports: 15 + 7 + 6 = 28, 5 outside.
    assert off.cases == tuple(sorted(c.number for c in history["off"]))
    assert (off.count, off.measure, off.baseline) == pytest.approx((5, 5 / 7, 5 / 28))

    # The voided case, then its new report; 3 of the other inspector's 6 reports.
    assert inspector.cases == tuple(history["pairs"])
    assert (inspector.count, inspector.measure) == pytest.approx((3, 0.5))
    assert grid.cases == tuple(history["pairs"]) and grid.count == 3

    assert extensions.cases == tuple(sorted(c.number for c in history["extended"]))
    assert (extensions.count, extensions.measure, extensions.baseline, extensions.ratio) == pytest.approx(
        (5, 1.0, 1 / 3, 3.0)
    )
    assert extensions.explanation_zh.startswith("延期占全市 100%，派遣仅占 33%（3.0 倍），共延期 5 件")


def test_chosen_detectors_run_alone_and_read_only_what_they_need(city, people, history, django_assert_max_num_queries):
    # The units and the unit events only.
    with django_assert_max_num_queries(2):
        units = find_flags(MONDAY, FRIDAY, now=SATURDAY_NOON, kinds=[Kind.EXTENSIONS_CONCENTRATED])
    assert [(f.kind, f.subject_id) for f in units] == [("extensions_concentrated", city.unit.pk)]
    # The reports and the voids only.
    with django_assert_max_num_queries(2):
        pairs = find_flags(MONDAY, FRIDAY, now=SATURDAY_NOON, kinds=[Kind.VOIDED_THEN_REREPORTED])
    assert [f.subject_kind for f in pairs] == ["grid", "inspector"]


def test_the_flagged_subjects_are_named_a_query_per_kind(city, people, history, django_assert_num_queries):
    flags = find_flags(MONDAY, FRIDAY, now=SATURDAY_NOON)
    with django_assert_num_queries(3):
        names = subject_names(flags)
    assert names == {
        ("inspector", history["patroller"].pk): "patroller",
        ("inspector", people.other_inspector.pk): "inspector2",
        ("grid", city.grid.pk): city.grid.name,
        ("unit", city.unit.pk): "鼓楼区市政所",
    }
    assert subject_names([]) == {}


def test_a_period_before_the_history_or_cut_by_now_finds_nothing(city, people, history):
    assert find_flags(dt.date(2026, 11, 16), dt.date(2026, 11, 22), now=SATURDAY_NOON) == []
    # Monday only, seen at Monday 11:00: the extensions (9:00–9:42) with a third of the dispatches
    # (the other unit's ten came at 10:00), but the pairs and the patroller are days away.
    kinds = [f.kind for f in find_flags(MONDAY, FRIDAY, now=local(2026, 11, 23, 11, 0))]
    assert kinds == ["extensions_concentrated"]
    assert find_flags(MONDAY, MONDAY, now=local(2026, 11, 23, 9, 30)) == []  # 3 extensions: below 5


def test_the_period_is_whole_local_days_cut_at_now():
    start, end = period_bounds(MONDAY, FRIDAY, SATURDAY_NOON)
    assert (start, end) == (local(2026, 11, 23, 0, 0), local(2026, 11, 28, 0, 0))
    assert period_bounds(MONDAY, FRIDAY, local(2026, 11, 25, 8, 0))[1] == local(2026, 11, 25, 8, 0)


def test_a_period_ending_before_it_starts_is_refused(db):
    with pytest.raises(InvalidInput):
        find_flags(FRIDAY, MONDAY, now=SATURDAY_NOON)


def test_last_minute_disposals_are_credited_to_the_unit_that_had_the_case(city, people):
    # With the minimum lowered to 2: the unit disposes 2 cases a minute before the deadline (of a
    # 4-hour limit: 99.6 %), the other unit 6 cases after 5 minutes. City 2 of 8 = 25 %, ratio 4;
    # z = (1 − 0) / √(0.25 × 0.75 × (1/2 + 1/6)) = 2.83.
    late = []
    for i in range(8):
        unit, handler = (city.unit, people.handler) if i < 2 else (city.other_unit, people.other_handler)
        case = at_unit(city, people, unit, at=MONDAY_9AM + i * MINUTE)
        at = case.stage_deadline_at - MINUTE if i < 2 else case.stage_started_at + 5 * MINUTE
        case_service.dispose(case.number, actor=handler, version=case.version, at=at, data=MoveInput(reason="已修复"))
        if i < 2:
            late.append(case.number)
    lowered = dataclasses.replace(DETECTORS[Kind.LAST_MINUTE_DISPOSAL], min_count=2)
    [flag] = [f for f in find_flags(MONDAY, FRIDAY, now=SATURDAY_NOON, detectors={lowered.kind: lowered})]
    assert (flag.kind, flag.subject_id, flag.cases) == ("last_minute_disposal", city.unit.pk, tuple(sorted(late)))
    assert (flag.measure, flag.baseline, flag.ratio) == pytest.approx((1.0, 0.25, 4.0))
    # At the default minimum of 10 the same history flags nothing.
    assert find_flags(MONDAY, FRIDAY, now=SATURDAY_NOON) == []


def test_an_extension_belongs_to_the_unit_that_had_the_case_then_not_the_one_that_has_it_now(city, people):
    # Extended at the other unit, then returned and re-dispatched to the unit; three more cases go
    # to the unit. The other unit: 1 of 5 dispatches (20 %) and the 1 extension: ratio 5.
    case = at_unit(city, people, city.other_unit, at=MONDAY_9AM)
    h, d = people.other_handler, people.dispatcher
    moves = [
        (case_service.request_extension, h, MoveInput(reason="缺料", extension_value=1, extension_unit="work_days")),
        (case_service.approve_extension, d, MoveInput()),
        (case_service.request_return, h, MoveInput(reason="非本单位职责")),
        (case_service.approve_return, d, MoveInput()),
        (case_service.dispatch, d, MoveInput(unit=city.unit)),
    ]
    for i, (verb, actor, data) in enumerate(moves, start=1):
        case = verb(case.number, actor=actor, version=case.version, at=MONDAY_9AM + i * MINUTE, data=data)
    assert case.unit_id == city.unit.pk
    for i in range(3):
        at_unit(city, people, city.unit, at=MONDAY_9AM + dt.timedelta(hours=1, minutes=i))
    any_extension = dataclasses.replace(DETECTORS[Kind.EXTENSIONS_CONCENTRATED], min_count=1, min_z=None)
    [flag] = find_flags(MONDAY, FRIDAY, now=SATURDAY_NOON, detectors={any_extension.kind: any_extension})
    assert (flag.subject_id, flag.cases) == (city.other_unit.pk, (case.number,))
    assert (flag.measure, flag.baseline, flag.ratio) == pytest.approx((1.0, 0.2, 5.0))
