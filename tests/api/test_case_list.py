"""Reporting cases and finding them again: filters, ordering, paging, scope."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from citykeeper.services import cases as svc
from citykeeper.services.cases import MoveInput
from citykeeper.store.models import Case, CaseEvent
from tests.factories import MONDAY_9AM, local, report_case


def numbers(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [row["number"] for row in response.json()["results"]]


def test_an_inspector_reports_a_case_and_gets_its_detail(api, city, people):
    response = api(people.inspector).post(
        "/cases",
        {
            "category": city.category.pk,
            "area": city.grid.code,
            "lon": 117.18,
            "lat": 34.26,
            "description": "井盖破损",
            "address": "中山北路 12 号",
            "urgent": True,
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["state"] == "reported" and body["version"] == 1
    assert body["source"] == "inspector"  # the inspector's own channel by default
    assert body["area"] == {"code": city.grid.code, "name": city.grid.name, "level": "grid"}
    assert body["category"]["minor_code"] == "01002"
    assert (body["lon"], body["lat"], body["urgent"]) == (117.18, 34.26, True)
    assert body["clock"]["stage"] == "accept" and body["clock"]["limit_seconds"] == 15 * 60
    assert [e["kind"] for e in body["timeline"]] == ["report"]
    case = Case.objects.get(number=body["number"])
    assert case.reporter == people.inspector and case.address == "中山北路 12 号"


def test_a_citizen_report_defaults_to_the_citizen_channel(api, city, people):
    response = api(people.citizen).post("/cases", {"category": city.category.pk, "area": city.grid.code})
    assert response.status_code == 201
    assert response.json()["source"] == "citizen"
    assert response.json()["allowed_actions"] == []


def test_a_retry_with_the_same_idempotency_key_returns_the_first_case(api, city, people):
    client = api(people.inspector)
    body = {"category": city.category.pk, "area": city.grid.code, "idempotency_key": "phone-42-0001"}
    first = client.post("/cases", body)
    second = client.post("/cases", body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["number"] == second.json()["number"]
    assert Case.objects.count() == 1
    other = api(people.citizen).post("/cases", body)
    assert other.status_code == 409 and other.json()["field"] == "idempotency_key"
    assert Case.objects.count() == 1


def test_a_replayed_idempotency_key_with_a_different_report_is_refused_and_stores_nothing(api, city, people):
    client = api(people.inspector)
    body = {"category": city.category.pk, "area": city.grid.code, "idempotency_key": "phone-42-0002"}
    first = client.post("/cases", {**body, "description": "井盖破损"}).json()
    changed = client.post("/cases", {**body, "description": "路灯不亮"})
    assert changed.status_code == 409 and changed.json()["code"] == "idempotency_conflict"
    assert first["number"] in changed.json()["detail"] and "different report" in changed.json()["detail"]
    assert Case.objects.count() == 1 and Case.objects.get().description == "井盖破损"


@pytest.fixture
def spread(city, people):
    """Five cases across both districts, sources, times and states."""
    a = report_case(city, people, at=MONDAY_9AM, description="井盖破损 东侧", address="中山北路")
    b = report_case(city, people, at=MONDAY_9AM + dt.timedelta(hours=1), source="citizen", description="垃圾")
    c = report_case(
        city,
        people,
        at=MONDAY_9AM + dt.timedelta(hours=2),
        grid=city.other_grid,
        actor=people.city_operator,
        source="hotline",
        description="路灯不亮",
    )
    d = report_case(city, people, at=MONDAY_9AM + dt.timedelta(hours=3), description="井盖缺失")
    t = MONDAY_9AM + dt.timedelta(hours=3, minutes=5)
    d = svc.accept(d.number, actor=people.operator, version=d.version, at=t)
    d = svc.file(d.number, actor=people.shift_lead, version=d.version, at=t, data=MoveInput(condition=city.condition))
    d = svc.dispatch(d.number, actor=people.dispatcher, version=d.version, at=t, data=MoveInput(unit=city.unit))
    e = report_case(city, people, at=local(2026, 11, 25, 9, 0), description="护栏损坏")
    Case.objects.filter(pk=e.pk).update(stage_overdue=True)
    return {"a": a.number, "b": b.number, "c": c.number, "d": d.number, "e": e.number}


def test_the_list_shows_only_cases_in_the_callers_scope_newest_first(api, people, spread):
    s = spread
    assert numbers(api(people.operator).get("/cases")) == [s["e"], s["d"], s["b"], s["a"]]
    assert numbers(api(people.outside_operator).get("/cases")) == [s["c"]]
    assert len(numbers(api(people.city_operator).get("/cases"))) == 5
    assert numbers(api(people.handler).get("/cases")) == [s["d"]]
    assert numbers(api(people.other_handler).get("/cases")) == []
    assert numbers(api(people.citizen).get("/cases")) == [s["b"]]


def test_the_list_filters_by_state_as_a_comma_list(api, people, spread):
    client = api(people.city_operator)
    assert numbers(client.get("/cases", {"state": "dispatched"})) == [spread["d"]]
    assert set(numbers(client.get("/cases", {"state": "dispatched, reported"}))) == set(spread.values())
    assert numbers(client.get("/cases", {"state": "closed"})) == []


def test_the_list_filters_by_category_area_subtree_and_unit(api, city, people, spread):
    client = api(people.city_operator)
    assert len(numbers(client.get("/cases", {"category": city.category.pk}))) == 5
    assert numbers(client.get("/cases", {"category": city.category.pk + 999})) == []
    assert numbers(client.get("/cases", {"area": city.other_district.code})) == [spread["c"]]
    assert numbers(client.get("/cases", {"area": "320303001"})) == [spread["c"]]  # the street inside it
    assert len(numbers(client.get("/cases", {"area": city.city.code}))) == 5
    assert numbers(client.get("/cases", {"unit": city.unit.code})) == [spread["d"]]
    unknown = client.get("/cases", {"area": "999999"})
    assert unknown.status_code == 422 and unknown.json()["field"] == "area"


def test_the_list_filters_by_source_overdue_text_and_report_time(api, people, spread):
    client = api(people.city_operator)
    assert numbers(client.get("/cases", {"source": "citizen"})) == [spread["b"]]
    assert numbers(client.get("/cases", {"source": "hotline"})) == [spread["c"]]
    assert numbers(client.get("/cases", {"overdue": "true"})) == [spread["e"]]
    assert len(numbers(client.get("/cases", {"overdue": "false"}))) == 4
    assert set(numbers(client.get("/cases", {"q": "井盖"}))) == {spread["a"], spread["d"]}
    assert numbers(client.get("/cases", {"q": "中山北路"})) == [spread["a"]]
    assert numbers(client.get("/cases", {"q": spread["c"]})) == [spread["c"]]
    window = {"reported_after": "2026-11-23T10:00:00+08:00", "reported_before": "2026-11-23T12:00"}
    assert numbers(client.get("/cases", window)) == [spread["c"], spread["b"]]


def test_the_list_orders_by_report_time_or_deadline(api, people, spread):
    client = api(people.city_operator)
    oldest_first = numbers(client.get("/cases", {"ordering": "reported_at"}))
    assert oldest_first == [spread[k] for k in "abcde"]
    by_deadline = numbers(client.get("/cases", {"ordering": "stage_deadline_at"}))
    # The dispatched case's disposal deadline (4 working hours) is after the accept
    # deadlines of the Monday reports but before Wednesday's report.
    assert by_deadline == [spread["a"], spread["b"], spread["c"], spread["d"], spread["e"]]
    wrong = client.get("/cases", {"ordering": "number"})
    assert wrong.status_code == 422 and wrong.json()["field"] == "ordering"


def test_the_list_pages_with_count_page_and_page_size(api, people, spread):
    client = api(people.city_operator)
    first = client.get("/cases", {"page_size": 2, "ordering": "reported_at"}).json()
    second = client.get("/cases", {"page_size": 2, "page": 2, "ordering": "reported_at"}).json()
    third = client.get("/cases", {"page_size": 2, "page": 3, "ordering": "reported_at"}).json()
    beyond = client.get("/cases", {"page_size": 2, "page": 9}).json()
    assert (first["count"], first["page"], first["page_size"]) == (5, 1, 2)
    pages = [r["number"] for p in (first, second, third) for r in p["results"]]
    assert pages == [spread[k] for k in "abcde"]
    assert beyond["results"] == [] and beyond["count"] == 5
    too_big = client.get("/cases", {"page_size": 201})
    assert too_big.status_code == 422 and too_big.json()["field"] == "page_size"


def test_the_list_costs_the_same_few_queries_for_sixty_cases_as_for_one(
    api, city, people, django_assert_max_num_queries
):
    client = api(people.city_operator)
    report_case(city, people)
    with CaptureQueriesContext(connection) as one:
        assert client.get("/cases").status_code == 200
    for i in range(59):
        report_case(city, people, at=MONDAY_9AM + dt.timedelta(minutes=i), grid=city.other_grid if i % 2 else None)
    Case.objects.update(unit=city.unit)
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = client.get("/cases", {"page_size": 200})
    assert response.json()["count"] == 60 and len(response.json()["results"]) == 60
    assert all(r["unit"]["code"] == city.unit.code for r in response.json()["results"])
    assert len(one.captured_queries) <= 6
    assert CaseEvent.objects.count() == 60
