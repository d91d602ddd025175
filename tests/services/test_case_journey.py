"""A case's whole journey through the services, and the clock along the way."""

from __future__ import annotations

import datetime as dt
import itertools

from citykeeper.domain.chain import GENESIS
from citykeeper.services import cases as svc
from citykeeper.services.cases import MoveInput
from tests.factories import MONDAY_9AM, local, report_case


def test_an_inspector_report_travels_from_report_to_close(city, people):
    p = people
    case = report_case(city, p)
    assert case.state == "reported" and case.stage == "accept"
    assert case.stage_deadline_at == MONDAY_9AM + dt.timedelta(minutes=15)
    t = MONDAY_9AM
    case = svc.accept(case.number, actor=p.operator, version=case.version, at=t + dt.timedelta(minutes=5))
    case = svc.file(
        case.number,
        actor=p.shift_lead,
        version=case.version,
        at=t + dt.timedelta(minutes=10),
        data=MoveInput(condition=city.condition),
    )
    case = svc.dispatch(
        case.number,
        actor=p.dispatcher,
        version=case.version,
        at=t + dt.timedelta(minutes=20),
        data=MoveInput(unit=city.unit),
    )
    # 4 working hours from 09:20 Monday: 09:20-12:00 (2h40) + 13:30-14:50 (1h20)
    assert case.stage == "dispose"
    assert case.stage_deadline_at == local(2026, 11, 23, 14, 50)
    case = svc.dispose(
        case.number,
        actor=p.handler,
        version=case.version,
        at=local(2026, 11, 23, 14, 0),
        data=MoveInput(reason="已更换井盖"),
    )
    case = svc.send_check(
        case.number,
        actor=p.operator,
        version=case.version,
        at=local(2026, 11, 23, 14, 5),
        data=MoveInput(assignee=p.inspector),
    )
    case = svc.check_pass(case.number, actor=p.inspector, version=case.version, at=local(2026, 11, 23, 14, 30))
    case = svc.close(case.number, actor=p.shift_lead, version=case.version, at=local(2026, 11, 23, 14, 40))
    assert case.state == "closed" and case.stage == "" and case.next_deadline_at is None
    events = list(case.events.order_by("seq"))
    assert [e.kind for e in events] == [
        "report",
        "accept",
        "file",
        "dispatch",
        "dispose",
        "send_check",
        "check_pass",
        "close",
    ]
    assert events[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    dispose_event = events[4]
    assert dispose_event.outcome["stage"] == "dispose" and dispose_event.outcome["on_time"] is True
    assert dispose_event.actor_role == "unit_handler"
