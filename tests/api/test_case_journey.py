"""A case's whole life through HTTP only, each step by the persona whose job it is."""

from __future__ import annotations

from citykeeper.store.models import Case


def test_a_case_walks_from_report_to_close_through_the_api(api, city, people):
    inspector, operator, shift_lead = api(people.inspector), api(people.operator), api(people.shift_lead)
    dispatcher, handler = api(people.dispatcher), api(people.handler)

    created = inspector.post(
        "/cases",
        {"category": city.category.pk, "area": city.grid.code, "description": "井盖破损", "lon": 117.18, "lat": 34.26},
    )
    assert created.status_code == 201
    number, version = created.json()["number"], created.json()["version"]

    def step(client, action, expected_state, **fields):
        nonlocal version
        response = client.act(number, action, version, **fields)
        assert response.status_code == 200, (action, response.json())
        body = response.json()
        assert body["state"] == expected_state
        assert body["version"] == version + 1
        assert body["timeline"][-1]["kind"] == action
        version = body["version"]
        return body

    step(operator, "accept", "accepted")
    step(shift_lead, "file", "filed", condition=city.condition.pk)
    body = step(dispatcher, "dispatch", "dispatched", unit=city.unit.code)
    assert body["unit"]["code"] == city.unit.code and body["clock"]["stage"] == "dispose"
    assert "dispose" in handler.get(f"/cases/{number}").json()["allowed_actions"]
    step(handler, "dispose", "disposed", reason="已更换井盖")
    body = step(operator, "send_check", "checking", assignee="inspector")
    assert body["assignee"] == {"username": "inspector", "name": "inspector"}
    step(inspector, "check_pass", "checked")
    body = step(shift_lead, "close", "closed")

    assert body["clock"]["stage"] is None and body["closed_at"] is not None
    assert [e["kind"] for e in body["timeline"]] == [
        "report",
        "accept",
        "file",
        "dispatch",
        "dispose",
        "send_check",
        "check_pass",
        "close",
    ]
    assert [e["role"] for e in body["timeline"]] == [
        "inspector",
        "operator",
        "shift_lead",
        "dispatcher",
        "unit_handler",
        "operator",
        "inspector",
        "shift_lead",
    ]
    assert all(e["outcome"]["on_time"] for e in body["timeline"][1:])
    assert Case.objects.get(number=number).state == "closed"
