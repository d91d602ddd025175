"""Every kind of refusal answers the one error shape, with the right status, and writes nothing."""

from __future__ import annotations

import contextlib

import pytest

from citykeeper.store.models import Case
from tests.api.conftest import row_counts
from tests.factories import report_case


@contextlib.contextmanager
def nothing_written():
    before = row_counts()
    versions = dict(Case.objects.values_list("number", "version"))
    yield
    assert row_counts() == before
    assert dict(Case.objects.values_list("number", "version")) == versions


def assert_error(response, status, code, field=None):
    body = response.json()
    assert response.status_code == status, body
    assert body["code"] == code
    assert isinstance(body["detail"], str) and body["detail"]
    assert "field" in body
    if field is not None:
        assert body["field"] == field
    return body


@pytest.fixture
def case(city, people):
    return report_case(city, people)


def test_a_move_the_state_does_not_have_is_409_illegal_move(api, people, case):
    with nothing_written():
        body = assert_error(
            api(people.dispatcher).act(case.number, "dispatch", case.version), 409, "illegal_move", "action"
        )
    assert "'dispatch' is not possible for a case in state 'reported'" in body["detail"]


def test_a_role_that_may_not_take_the_move_is_403(api, people, case):
    with nothing_written():
        body = assert_error(api(people.dispatcher).act(case.number, "accept", case.version), 403, "not_permitted")
    assert "allowed roles: operator, shift_lead" in body["detail"]


def test_acting_on_a_case_of_another_district_is_refused_and_writes_nothing(api, people, case):
    with nothing_written():
        response = api(people.outside_operator).act(case.number, "accept", case.version)
    assert response.status_code in (403, 404)
    assert_error(response, 404, "not_found", "number")


def test_a_visible_case_outside_the_acting_scope_is_403(api, city, people):
    case = report_case(city, people, source="citizen")
    with nothing_written():
        assert_error(api(people.citizen).act(case.number, "note", case.version, reason="补充"), 403, "not_permitted")


def test_a_stale_version_is_409_with_the_current_version(api, people, case):
    client = api(people.operator)
    assert client.act(case.number, "accept", case.version).status_code == 200
    with nothing_written():
        body = assert_error(
            client.act(case.number, "reject", case.version, reason="重复"), 409, "stale_version", "version"
        )
    assert body["current_version"] == case.version + 1


def test_malformed_json_is_400_with_the_parsers_reason(api, people, case):
    with nothing_written():
        response = api(people.operator).raw_post(f"/cases/{case.number}/actions/accept", '{"version": 1,')
    body = assert_error(response, 400, "malformed_json")
    assert body["detail"].startswith("The request body is not valid JSON: ")
    assert "line 1" in body["detail"]


def test_a_missing_version_is_422_naming_version(api, people, case):
    with nothing_written():
        body = assert_error(
            api(people.operator).post(f"/cases/{case.number}/actions/accept", {}), 422, "validation_error", "version"
        )
    assert body["errors"] == [{"field": "version", "message": "Field required", "type": "missing"}]
    assert "version" in body["detail"]


def test_a_wrongly_typed_field_is_422_naming_it(api, people, case):
    response = api(people.operator).post(f"/cases/{case.number}/actions/accept", {"version": "one"})
    body = assert_error(response, 422, "validation_error", "version")
    assert body["errors"][0]["type"] == "int_parsing"


def test_an_unknown_field_is_422_naming_it(api, people, case):
    response = api(people.operator).post(f"/cases/{case.number}/actions/accept", {"version": 1, "verison": 1})
    assert_error(response, 422, "validation_error", "verison")


def test_an_empty_body_is_422(api, people, case):
    with nothing_written():
        response = api(people.operator).raw_post(f"/cases/{case.number}/actions/accept", "")
    assert_error(response, 422, "validation_error", "body")


def test_an_unknown_action_is_422_naming_action(api, people, case):
    body = assert_error(
        api(people.operator).act(case.number, "teleport", case.version), 422, "validation_error", "action"
    )
    assert "accept" in body["detail"]


def test_an_unknown_category_is_422_naming_category(api, city, people, case):
    with nothing_written():
        assert_error(
            api(people.inspector).post("/cases", {"category": 999999, "area": city.grid.code}),
            422,
            "invalid",
            "category",
        )
    with nothing_written():
        response = api(people.operator).act(case.number, "accept", case.version, category=999999)
    assert_error(response, 422, "invalid", "category")


def test_unknown_unit_condition_assignee_and_target_are_422_naming_each(api, city, people, case):
    operator = api(people.operator)
    for field, value in [
        ("unit", "U-NOPE"),
        ("condition", 999999),
        ("assignee", "nobody"),
        ("target", "2099010100001"),
    ]:
        with nothing_written():
            response = operator.act(case.number, "accept", case.version, **{field: value})
        assert_error(response, 422, "invalid", field)


def test_a_merge_target_in_another_district_is_as_unknown_as_a_missing_one(api, city, people, case):
    elsewhere = report_case(city, people, grid=city.other_grid, actor=people.city_operator, source="hotline")
    with nothing_written():
        response = api(people.operator).act(case.number, "merge", case.version, target=elsewhere.number)
    assert_error(response, 422, "invalid", "target")


def test_a_guard_refusal_names_its_field_and_writes_nothing(api, city, people, case):
    client = api(people.operator)
    assert client.act(case.number, "accept", case.version).status_code == 200
    with nothing_written():
        response = api(people.shift_lead).act(case.number, "file", case.version + 1)  # no filing condition
    assert_error(response, 422, "invalid", "condition")
    with nothing_written():
        response = client.act(case.number, "reject", case.version + 1)
    assert_error(response, 409, "illegal_move")


def test_a_missing_reason_is_422_naming_reason(api, people, case):
    with nothing_written():
        assert_error(api(people.operator).act(case.number, "reject", case.version), 422, "invalid", "reason")


def test_an_unknown_case_number_is_404(api, people):
    assert_error(api(people.operator).act("2099010100001", "accept", 1), 404, "not_found", "number")
    assert_error(api(people.operator).get("/cases/2099010100001"), 404, "not_found", "number")


def test_reporting_needs_a_place_inside_the_city_or_a_known_area(api, city, people):
    client = api(people.inspector)
    with nothing_written():
        body = assert_error(client.post("/cases", {"category": city.category.pk}), 422, "invalid", "lon")
        assert "lon and lat" in body["detail"]
        body = assert_error(
            client.post("/cases", {"category": city.category.pk, "lon": 117.1, "lat": 34.2}),
            422,
            "outside_city",
            "location",
        )
        assert "outside the city" in body["detail"]
        assert_error(
            client.post("/cases", {"category": city.category.pk, "lon": 117.1, "lat": 34.2, "crs": "gps"}),
            422,
            "validation_error",
            "crs",
        )
        assert_error(client.post("/cases", {"category": city.category.pk, "area": "000"}), 422, "invalid", "area")
        assert_error(
            client.post("/cases", {"category": city.category.pk, "area": city.grid.code, "lon": 117.1}),
            422,
            "validation_error",
        )
        assert_error(
            client.post("/cases", {"category": city.category.pk, "area": city.grid.code, "lat": 91, "lon": 0}),
            422,
            "validation_error",
            "lat",
        )
        assert_error(client.post("/cases", {"area": city.grid.code}), 422, "validation_error", "category")


def test_a_source_the_role_may_not_use_is_403(api, city, people):
    with nothing_written():
        response = api(people.operator).post(
            "/cases", {"category": city.category.pk, "area": city.grid.code, "source": "inspector"}
        )
    assert_error(response, 403, "not_permitted", "source")


def test_an_unknown_path_under_the_api_answers_json_404(anonymous):
    assert_error(anonymous.get("/no/such/thing"), 404, "not_found")
