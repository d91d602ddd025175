"""回访: closed cases from callers wait for a call-back; the answer goes on the case's record."""

from __future__ import annotations

from django.utils import timezone

from citykeeper.services import cases as svc
from tests.factories import report_case


def closed_hotline_case(city, people):
    at = timezone.now()
    case = report_case(city, people, source="hotline", at=at, reporter_phone="13900000000", reporter_name="李先生")
    steps = [
        (svc.send_verify, people.operator, svc.MoveInput(assignee=people.inspector)),
        (svc.verify, people.inspector, svc.MoveInput(found=True)),
        (svc.accept, people.operator, svc.MoveInput()),
        (svc.file, people.shift_lead, svc.MoveInput(condition=city.condition)),
        (svc.dispatch, people.dispatcher, svc.MoveInput(unit=city.unit)),
        (svc.dispose, people.handler, svc.MoveInput(reason="已更换井盖")),
        (svc.send_check, people.operator, svc.MoveInput(assignee=people.inspector)),
        (svc.check_pass, people.inspector, svc.MoveInput()),
        (svc.close, people.shift_lead, svc.MoveInput()),
    ]
    for verb, actor, data in steps:
        case = verb(case.number, actor=actor, version=case.version, at=at, data=data)
    return case


def test_a_closed_hotline_case_waits_for_its_call_back_until_one_is_recorded(api, city, people):
    case = closed_hotline_case(city, people)
    report_case(city, people)  # an inspector's case: nobody to call back
    client = api(people.operator)
    due = client.get("/cases/callbacks/due").json()
    assert [(d["number"], d["reporter_phone"]) for d in due] == [(case.number, "13900000000")]
    body = client.post(
        f"/cases/{case.number}/callback", {"version": case.version, "outcome": "satisfied", "remark": "已修好"}
    ).json()
    note = body["timeline"][-1]
    assert note["kind"] == "note" and note["data"]["callback"] == "satisfied" and note["reason"] == "回访：满意。已修好"
    assert client.get("/cases/callbacks/due").json() == []


def test_a_call_back_needs_a_closed_callers_case_and_a_known_outcome(api, city, people):
    open_case = report_case(city, people, source="hotline", reporter_phone="13900000000")
    client = api(people.operator)
    body = client.post(f"/cases/{open_case.number}/callback", {"version": 1, "outcome": "satisfied"}).json()
    assert body["code"] == "invalid" and "closed" in body["detail"]
    closed = closed_hotline_case(city, people)
    body = client.post(f"/cases/{closed.number}/callback", {"version": closed.version, "outcome": "happy"}).json()
    assert body["code"] == "validation_error"
    stale = client.post(f"/cases/{closed.number}/callback", {"version": 1, "outcome": "unreachable"})
    assert stale.status_code == 409 and closed.events.filter(kind="note").count() == 0
