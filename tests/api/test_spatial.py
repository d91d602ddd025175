"""Locating and the routing preview over HTTP; reporting a case by its position."""

from __future__ import annotations

from citykeeper.spatial import crs
from citykeeper.store.models import Case, RoutingRule
from tests.factories import make_component, map_city


def test_locate_answers_the_areas_of_a_point_and_the_nearby_components(api, city, people):
    map_city(city)
    make_component(city)
    body = api(people.operator).get("/locate", {"lon": 117.1799, "lat": 34.2599, "category": "01002"}).json()
    assert body["grid"] == {"code": "320302001001001", "name": "320302001001001", "level": "grid"}
    assert body["district"]["name"] == "鼓楼区" and body["responsibility"] is None
    assert [c["code"] for c in body["components"]] == ["32030201002000001"]


def test_locate_converts_a_baidu_point(api, city, people):
    map_city(city)
    lon, lat = crs.wgs84_to_bd09(117.185, 34.255)
    body = api(people.operator).get("/locate", {"lon": lon, "lat": lat, "crs": "bd09"}).json()
    assert body["grid"]["code"] == "320302001001002" and abs(body["lon"] - 117.185) < 1e-5


def test_a_point_outside_the_city_is_a_422_naming_the_nearest_district(api, city, people):
    map_city(city)
    response = api(people.operator).get("/locate", {"lon": 117.5, "lat": 34.255})
    body = response.json()
    assert response.status_code == 422 and body["code"] == "outside_city" and "鼓楼区" in body["detail"]


def test_swapped_or_unknown_crs_input_is_refused_with_the_field(api, city, people):
    map_city(city)
    client = api(people.operator)
    body = client.get("/locate", {"lon": 117.18, "lat": 34.25, "crs": "gps"}).json()
    assert body["code"] == "invalid" and body["field"] == "crs"
    body = client.get("/locate", {"lon": 34.255, "lat": 117.175}).json()
    assert body["code"] in ("invalid", "outside_city") and body["field"] in ("lon", "lat", "location")


def test_a_case_reported_with_a_position_only_lands_in_the_grid_there(api, city, people):
    map_city(city)
    gcj = crs.wgs84_to_gcj02(117.185, 34.255)
    response = api(people.inspector).post(
        "/cases", {"category": city.category.pk, "lon": gcj[0], "lat": gcj[1], "crs": "gcj02", "description": "井盖"}
    )
    assert response.status_code == 201, response.json()
    case = Case.objects.get(number=response.json()["number"])
    assert case.area.code == "320302001001002" and abs(case.lon - 117.185) < 1e-5


def test_the_routing_preview_answers_the_unit_and_the_rule(api, city, people):
    map_city(city)
    rule = RoutingRule.objects.create(kind="area_category", area=city.district, category=city.category, unit=city.unit)
    client = api(people.dispatcher)
    body = client.get("/routing/preview", {"category": city.category.pk, "lon": 117.185, "lat": 34.255}).json()
    assert body["unit"] == {"code": city.unit.code, "name": city.unit.name}
    assert (body["step"], body["rule"], body["grid"]) == ("area_category", rule.pk, "320302001001002")
    body = client.get("/routing/preview", {"category": city.category.pk, "grid": city.other_grid.code}).json()
    assert body["unit"] is None and body["step"] == "triage"
    body = client.get("/routing/preview", {"category": city.category.pk}).json()
    assert body["code"] == "invalid" and body["field"] == "grid"


def _gazetteer(city):
    from shapely.geometry import LineString, mapping

    from citykeeper.store.models import GazetteerEntry

    for name, line in (
        ("中山北路", LineString([(117.18, 34.251), (117.18, 34.259)])),
        ("黄河路", LineString([(117.171, 34.255), (117.189, 34.255)])),
    ):
        GazetteerEntry.objects.create(
            kind="road", name=name, geometry=mapping(line), lon=line.centroid.x, lat=line.centroid.y
        )


def test_a_point_is_described_the_way_a_case_sheet_writes_it(api, city, people):
    map_city(city)
    _gazetteer(city)
    body = api(people.operator).get("/address", {"lon": 117.1803, "lat": 34.2553}).json()
    assert body["kind"] == "intersection" and body["text"].startswith("鼓楼区 中山北路与黄河路交叉口")
    assert body["bearing"] == "东北" and body["grid"]["code"] == "320302001001002"


def test_an_address_text_is_found_with_its_grid(api, city, people):
    map_city(city)
    _gazetteer(city)
    client = api(people.operator)
    found = client.get("/geocode", {"q": "黄河路与中山北路路口"}).json()
    assert found[0]["kind"] == "intersection" and found[0]["grid"] in ("320302001001001", "320302001001002")
    assert client.get("/geocode", {"q": "火星路"}).json() == []


def test_a_case_reported_by_position_gets_its_address_written(api, city, people):
    map_city(city)
    _gazetteer(city)
    response = api(people.inspector).post("/cases", {"category": city.category.pk, "lon": 117.1803, "lat": 34.2553})
    assert response.status_code == 201
    assert response.json()["address"].startswith("鼓楼区 中山北路与黄河路交叉口")


def test_possible_duplicates_are_offered_before_saving_without_who_reported(api, city, people):
    map_city(city)
    first = api(people.inspector).post("/cases", {"category": city.category.pk, "lon": 117.175, "lat": 34.255}).json()
    body = api(people.citizen).get("/duplicates", {"category": city.category.pk, "lon": 117.1752, "lat": 34.255}).json()
    assert [d["number"] for d in body] == [first["number"]]
    assert body[0]["same_category"] and 15 < body[0]["distance_m"] < 25 and "reporter" not in body[0]
