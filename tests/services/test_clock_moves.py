"""What the lifecycle does to deadlines: extension, suspension, rework, urgent limits,
and the refusal to compute into a year without calendar rows."""

from __future__ import annotations

import pytest

from citykeeper.domain.errors import CalendarYearMissing
from citykeeper.services import cases as svc
from citykeeper.services.cases import MoveInput
from citykeeper.store.models import Case, CaseEvent
from tests.factories import local, report_case


def dispatched(city, people, *, at, condition=None):
    case = report_case(city, people, at=at)
    case = svc.accept(case.number, actor=people.operator, version=1, at=at)
    case = svc.file(
        case.number, actor=people.shift_lead, version=2, at=at, data=MoveInput(condition=condition or city.condition)
    )
    return svc.dispatch(case.number, actor=people.dispatcher, version=3, at=at, data=MoveInput(unit=city.unit))


def test_an_approved_extension_moves_the_disposal_deadline_by_the_requested_working_time(city, people):
    case = dispatched(city, people, at=local(2026, 11, 23, 9, 0))  # 4 work hours → 14:30
    assert case.stage_deadline_at == local(2026, 11, 23, 14, 30)
    case = svc.request_extension(
        case.number,
        actor=people.handler,
        version=case.version,
        at=local(2026, 11, 23, 10, 0),
        data=MoveInput(reason="需要定制井盖", extension_value=1, extension_unit="work_days"),
    )
    assert case.stage_deadline_at == local(2026, 11, 23, 14, 30)  # a request alone moves nothing
    case = svc.approve_extension(
        case.number, actor=people.dispatcher, version=case.version, at=local(2026, 11, 23, 10, 30)
    )
    # one working day = 7.5 working hours: 14:30 Mon + 7.5h → Tue 14:30
    assert case.stage_deadline_at == local(2026, 11, 24, 14, 30)
    assert case.state == "dispatched" and case.extension_count == 1


def test_suspension_stops_the_clock_and_resume_restarts_it_with_the_time_left(city, people):
    case = dispatched(city, people, at=local(2026, 11, 23, 9, 0))  # deadline Mon 14:30
    case = svc.request_suspension(
        case.number,
        actor=people.handler,
        version=case.version,
        at=local(2026, 11, 23, 10, 0),
        data=MoveInput(reason="需等待管线迁改"),
    )
    case = svc.approve_suspension(
        case.number, actor=people.dispatcher, version=case.version, at=local(2026, 11, 23, 11, 0)
    )
    assert case.state == "suspended" and case.next_deadline_at is None
    assert case.stage_remaining_seconds == 2 * 3600  # 11:00-12:00 and 13:30-14:30 were left
    case = svc.resume(case.number, actor=people.dispatcher, version=case.version, at=local(2026, 11, 30, 9, 0))
    assert case.state == "dispatched"
    assert case.stage_deadline_at == local(2026, 11, 30, 11, 0)


def test_rework_gives_the_unit_a_fresh_disposal_limit_and_counts_the_rework(city, people):
    case = dispatched(city, people, at=local(2026, 11, 23, 9, 0))
    steps = [
        (svc.dispose, people.handler, MoveInput(reason="已修复")),
        (svc.send_check, people.operator, MoveInput(assignee=people.inspector)),
        (svc.check_fail, people.inspector, MoveInput(reason="井盖仍松动")),
        (svc.rework, people.shift_lead, MoveInput()),
    ]
    at = local(2026, 11, 23, 10, 0)
    for verb, actor, data in steps:
        case = verb(case.number, actor=actor, version=case.version, at=at, data=data)
    assert case.state == "dispatched" and case.rework_count == 1
    assert case.stage_deadline_at == local(2026, 11, 23, 15, 30)  # 10:00 + 4 working hours


def test_an_urgent_condition_counts_round_the_clock(city, people):
    case = dispatched(city, people, at=local(2026, 11, 21, 22, 0), condition=city.urgent_condition)  # Saturday
    assert case.stage_deadline_at == local(2026, 11, 22, 0, 0)


def test_a_deadline_that_would_reach_an_unentered_year_is_refused_and_nothing_is_written(city, people):
    case = report_case(city, people, at=local(2026, 12, 31, 16, 0))
    case = svc.accept(case.number, actor=people.operator, version=1, at=local(2026, 12, 31, 16, 1))
    case = svc.file(
        case.number,
        actor=people.shift_lead,
        version=2,
        at=local(2026, 12, 31, 16, 2),
        data=MoveInput(condition=city.condition),
    )
    before = CaseEvent.objects.count()
    with pytest.raises(CalendarYearMissing) as err:  # 4 working hours from 16:03 runs into 2027
        svc.dispatch(
            case.number,
            actor=people.dispatcher,
            version=3,
            at=local(2026, 12, 31, 16, 3),
            data=MoveInput(unit=city.unit),
        )
    assert err.value.year == 2027 and err.value.field == "calendar"
    assert CaseEvent.objects.count() == before
    assert Case.objects.get(pk=case.pk).state == "filed"
