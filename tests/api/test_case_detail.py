"""A case's detail: fields, clock, timeline, and the actions each persona may take."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from citykeeper.services import cases as svc
from citykeeper.services.calendar import working_calendar
from citykeeper.services.cases import MoveInput
from tests.factories import MONDAY_9AM, report_case


def dispatched_case(city, people):
    case = report_case(city, people)
    t = MONDAY_9AM + dt.timedelta(minutes=5)
    case = svc.accept(case.number, actor=people.operator, version=case.version, at=t)
    case = svc.file(
        case.number,
        actor=people.shift_lead,
        version=case.version,
        at=t,
        data=MoveInput(condition=city.condition, reason="立案"),
    )
    return svc.dispatch(
        case.number, actor=people.dispatcher, version=case.version, at=t, data=MoveInput(unit=city.unit)
    )


def test_the_detail_has_the_clock_names_and_the_timeline_in_order(api, city, people):
    case = dispatched_case(city, people)
    body = api(people.dispatcher).get(f"/cases/{case.number}").json()
    assert body["number"] == case.number and body["version"] == 4
    assert body["state"] == "dispatched" and body["state_label"] == "处置中"
    assert body["unit"] == {"code": city.unit.code, "name": "鼓楼区市政所"}
    assert body["condition"]["id"] == city.condition.pk and body["condition"]["limit_unit"] == "work_hours"
    assert body["category"]["minor_name"] == "污水井盖"
    assert body["area_class"] == "A"
    clock = body["clock"]
    assert clock["stage"] == "dispose" and clock["paused"] is False and clock["overdue"] is False
    assert clock["deadline_at"] == "2026-11-23T14:35:00+08:00"  # 4 working hours from 09:05
    assert clock["limit_seconds"] == 4 * 3600
    deadline = dt.datetime.fromisoformat(clock["deadline_at"])
    expected = working_calendar().between(timezone.now(), deadline).total_seconds()  # negative once past
    assert abs(clock["remaining_seconds"] - expected) <= 60
    timeline = body["timeline"]
    assert [e["kind"] for e in timeline] == ["report", "accept", "file", "dispatch"]
    assert [e["seq"] for e in timeline] == [1, 2, 3, 4]
    file_event = timeline[2]
    assert file_event["actor"] == "shiftlead" and file_event["actor_name"] == "shiftlead"
    assert file_event["role"] == "shift_lead"
    assert (file_event["from_state"], file_event["to_state"]) == ("accepted", "filed")
    assert file_event["reason"] == "立案" and file_event["data"] == {
        "condition": city.condition.pk,
        "proposed_unit": None,  # the test city has no routing rules: the case awaits triage
        "routing_step": "triage",
    }
    assert file_event["outcome"]["stage"] == "file" and file_event["outcome"]["on_time"] is True
    assert timeline[3]["stage"] == "dispose" and timeline[3]["stage_deadline_at"] == clock["deadline_at"]


def test_allowed_actions_follow_the_callers_roles_for_a_new_report(api, city, people):
    case = report_case(city, people, source="citizen")

    def allowed(user):
        response = api(user).get(f"/cases/{case.number}")
        assert response.status_code == 200
        return set(response.json()["allowed_actions"])

    assert allowed(people.operator) == {"accept", "reject", "send_verify", "merge", "note"}
    assert allowed(people.shift_lead) == {"accept", "reject", "urge", "merge", "note"}
    assert allowed(people.dispatcher) == {"note"}
    assert allowed(people.leader) == {"urge", "note"}
    assert allowed(people.citizen) == set()  # the reporter sees the case but acts on nothing


def test_a_handler_sees_its_units_case_with_its_actions_and_nothing_of_other_units(api, city, people):
    case = dispatched_case(city, people)
    own = api(people.handler).get(f"/cases/{case.number}")
    assert own.status_code == 200
    assert set(own.json()["allowed_actions"]) == {
        "receive",
        "dispose",
        "request_return",
        "request_extension",
        "request_suspension",
        "note",
    }
    assert api(people.other_handler).get(f"/cases/{case.number}").status_code == 404
    not_yet_dispatched = report_case(city, people)
    assert api(people.handler).get(f"/cases/{not_yet_dispatched.number}").status_code == 404


def test_an_inspector_sees_its_own_report_outside_its_area_but_may_not_act_on_it(api, city, people):
    case = report_case(city, people, grid=city.other_grid)
    response = api(people.inspector).get(f"/cases/{case.number}")
    assert response.status_code == 200
    assert response.json()["allowed_actions"] == []


def test_a_case_outside_the_callers_scope_answers_404_like_a_missing_one(api, city, people):
    case = report_case(city, people)
    hidden = api(people.outside_operator).get(f"/cases/{case.number}")
    missing = api(people.outside_operator).get("/cases/2099010100001")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["code"] == "not_found" and hidden.json()["field"] == "number"
    assert hidden.json()["detail"] == f"No case numbered {case.number}."
