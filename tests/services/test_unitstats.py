"""Units' standing (load now, disposals this month) and a unit's month, from hand-built
histories with explicit times."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext

from citykeeper.services import cases as case_service
from citykeeper.services.cases import MoveInput
from citykeeper.services.unitstats import UnitStanding, month_stats, unit_standing
from tests.factories import MONDAY_9AM, local, report_case

MINUTE = dt.timedelta(minutes=1)


def filed(city, people, at):
    case = report_case(city, people, at=at)
    case = case_service.accept(case.number, actor=people.operator, version=case.version, at=at + MINUTE)
    return case_service.file(
        case.number,
        actor=people.shift_lead,
        version=case.version,
        at=at + 2 * MINUTE,
        data=MoveInput(condition=city.condition),
    )


def dispatched(city, people, unit, at):
    case = filed(city, people, at)
    return case_service.dispatch(
        case.number, actor=people.dispatcher, version=case.version, at=at + 3 * MINUTE, data=MoveInput(unit=unit)
    )


def move(verb, case, actor, at, **data):
    return verb(case.number, actor=actor, version=case.version, at=at, data=MoveInput(**data))


def test_a_unit_with_nothing_stands_at_zero_and_no_rate(city, people):
    standing = unit_standing([city.unit.pk, 999_999], MONDAY_9AM)
    assert standing == {city.unit.pk: UnitStanding(), 999_999: UnitStanding()}
    assert standing[city.unit.pk].on_time_rate is None
    assert unit_standing([], MONDAY_9AM) == {}


def test_open_cases_count_at_their_unit_and_overdue_ones_by_the_stored_clock(city, people):
    on_time = dispatched(city, people, city.unit, MONDAY_9AM)
    late = dispatched(city, people, city.unit, MONDAY_9AM - dt.timedelta(days=10))
    dispatched(city, people, city.other_unit, MONDAY_9AM)
    waiting = move(
        case_service.request_extension,
        on_time,
        people.handler,
        MONDAY_9AM + 10 * MINUTE,
        reason="材料未到",
        extension_value=2,
        extension_unit="work_days",
    )
    filed(city, people, MONDAY_9AM)  # not dispatched: at no unit

    standing = unit_standing([city.unit.pk, city.other_unit.pk], MONDAY_9AM + dt.timedelta(hours=1))

    assert waiting.state == "extension_requested" and late.stage_deadline_at < MONDAY_9AM
    assert standing[city.unit.pk].open_count == 2
    assert standing[city.unit.pk].overdue_count == 1
    assert standing[city.other_unit.pk].open_count == 1
    assert standing[city.other_unit.pk].overdue_count == 0


def test_disposals_of_this_local_month_count_with_their_on_time_rate(city, people):
    # On time: disposed an hour after dispatch. Late: dispatched ten days before, disposed now.
    on_time = dispatched(city, people, city.unit, MONDAY_9AM)
    move(case_service.dispose, on_time, people.handler, MONDAY_9AM + dt.timedelta(hours=1), reason="已修复")
    late = dispatched(city, people, city.unit, MONDAY_9AM - dt.timedelta(days=10))
    move(case_service.dispose, late, people.handler, MONDAY_9AM + dt.timedelta(hours=2), reason="已修复")
    # Last month's disposal, late (the limit is 4 working hours), on 31 October at 23:30 local
    # time: still October in the city although it is 15:30 UTC.
    october = dispatched(city, people, city.unit, local(2026, 10, 30, 9, 0))
    move(case_service.dispose, october, people.handler, local(2026, 10, 31, 23, 30), reason="已修复")

    standing = unit_standing([city.unit.pk], MONDAY_9AM + dt.timedelta(hours=3))[city.unit.pk]

    assert (standing.disposed_count, standing.on_time_count) == (2, 1)
    assert standing.on_time_rate == 0.5
    assert standing.open_count == 0
    october_standing = unit_standing([city.unit.pk], local(2026, 10, 31, 23, 59))[city.unit.pk]
    assert (october_standing.disposed_count, october_standing.on_time_count) == (1, 0)


def test_a_disposal_stays_with_the_unit_that_did_it_after_the_case_moves_to_another(city, people):
    """Disposed by 鼓楼区市政所, failed the check, returned on rework and re-dispatched to
    云龙区环卫所: the first disposal is still the first unit's."""
    at = MONDAY_9AM
    case = dispatched(city, people, city.unit, at)
    case = move(case_service.dispose, case, people.handler, at + dt.timedelta(hours=1), reason="已修复")
    case = move(case_service.send_check, case, people.operator, at + dt.timedelta(hours=2), assignee=people.inspector)
    case = move(case_service.check_fail, case, people.inspector, at + dt.timedelta(hours=3), reason="仍有破损")
    case = move(case_service.rework, case, people.shift_lead, at + dt.timedelta(hours=4))
    case = move(case_service.request_return, case, people.handler, at + dt.timedelta(hours=5), reason="非本单位职责")
    case = move(case_service.approve_return, case, people.dispatcher, at + dt.timedelta(hours=6))
    case = move(case_service.dispatch, case, people.dispatcher, at + dt.timedelta(hours=7), unit=city.other_unit)
    case.refresh_from_db()
    assert case.unit_id == city.other_unit.pk

    standing = unit_standing([city.unit.pk, city.other_unit.pk], at + dt.timedelta(hours=8))

    assert (standing[city.unit.pk].disposed_count, standing[city.unit.pk].open_count) == (1, 0)
    assert (standing[city.other_unit.pk].disposed_count, standing[city.other_unit.pk].open_count) == (0, 1)


def test_the_standing_of_many_units_takes_as_many_queries_as_of_one(city, people):
    for unit, handler in ((city.unit, people.handler), (city.other_unit, people.other_handler)):
        case = dispatched(city, people, unit, MONDAY_9AM)
        move(case_service.dispose, case, handler, MONDAY_9AM + dt.timedelta(hours=1), reason="已修复")
    now = MONDAY_9AM + dt.timedelta(hours=2)
    with CaptureQueriesContext(connection) as one:
        unit_standing([city.unit.pk], now)
    with CaptureQueriesContext(connection) as two:
        standing = unit_standing([city.unit.pk, city.other_unit.pk], now)
    assert len(one) == len(two) <= 3
    assert standing[city.other_unit.pk].disposed_count == 1


def test_a_units_month_counts_each_kind_of_move_and_the_average_disposal_time(city, people):
    at = MONDAY_9AM
    first = dispatched(city, people, city.unit, at)  # 10 minutes from dispatch to disposal
    first = move(case_service.receive, first, people.handler, at + 5 * MINUTE)
    first = move(case_service.dispose, first, people.handler, at + 13 * MINUTE, reason="已修复")
    first = move(case_service.send_check, first, people.operator, at + 20 * MINUTE, assignee=people.inspector)
    first = move(case_service.check_fail, first, people.inspector, at + 30 * MINUTE, reason="仍有破损")
    first = move(case_service.rework, first, people.dispatcher, at + 40 * MINUTE)
    second = dispatched(city, people, city.unit, at)
    second = move(
        case_service.request_extension,
        second,
        people.handler,
        at + 10 * MINUTE,
        reason="需采购配件",
        extension_value=1,
        extension_unit="work_days",
    )
    second = move(case_service.approve_extension, second, people.dispatcher, at + 20 * MINUTE)
    second = move(case_service.request_suspension, second, people.handler, at + 30 * MINUTE, reason="等待施工许可")
    second = move(case_service.approve_suspension, second, people.dispatcher, at + 40 * MINUTE)
    third = dispatched(city, people, city.unit, at)
    third = move(case_service.request_return, third, people.handler, at + 10 * MINUTE, reason="非本单位职责")
    third = move(case_service.deny_return, third, people.dispatcher, at + 20 * MINUTE, reason="属于本单位")
    third = move(case_service.dispose, third, people.handler, at + 33 * MINUTE, reason="已修复")  # 30 minutes
    elsewhere = dispatched(city, people, city.other_unit, at)
    move(case_service.dispose, elsewhere, people.other_handler, at + 10 * MINUTE, reason="已清理")

    stats = month_stats(city.unit.pk, 2026, 11, at + dt.timedelta(hours=1))

    assert (stats.dispatched, stats.received, stats.disposed, stats.on_time) == (3, 1, 2, 2)
    assert stats.on_time_rate == 1.0
    assert (stats.returns_requested, stats.returns_approved) == (1, 0)
    assert (stats.extensions_requested, stats.extensions_approved) == (1, 1)
    assert (stats.suspensions_requested, stats.suspensions_approved) == (1, 1)
    assert stats.reworks == 1
    assert (stats.open_now, stats.overdue_now) == (2, 0)  # the reworked one and the suspended one
    assert stats.average_disposal_seconds == 20 * 60
    assert month_stats(city.unit.pk, 2026, 10, at).disposed == 0
    assert month_stats(city.unit.pk, 2026, 12, at).dispatched == 0


def test_a_month_takes_a_fixed_number_of_queries(city, people):
    dispatched(city, people, city.unit, MONDAY_9AM)
    with CaptureQueriesContext(connection) as queries:
        stats = month_stats(city.unit.pk, 2026, 11, MONDAY_9AM + dt.timedelta(hours=1))
    assert stats.dispatched == 1 and len(queries) <= 3
