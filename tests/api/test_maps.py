"""Map layers: areas simplified by zoom, points or counts per grid, ETags and 304."""

from __future__ import annotations

from citykeeper.services import cases as svc
from tests.factories import MONDAY_9AM, make_component, map_city, report_case

BOX = "117.16,34.24,117.20,34.27"


def test_grids_come_as_geojson_from_zoom_15_and_communities_below(api, city, people):
    map_city(city)
    client = api(people.operator)
    grids = client.get("/map/areas", {"bbox": BOX, "zoom": 16}).json()
    assert {f["properties"]["code"] for f in grids["features"]} == {"320302001001001", "320302001001002"}
    assert grids["features"][0]["geometry"]["type"] == "Polygon"
    communities = client.get("/map/areas", {"bbox": BOX, "zoom": 14}).json()
    assert [f["properties"]["level"] for f in communities["features"]] == ["community"]
    districts = client.get("/map/areas", {"bbox": BOX, "zoom": 9}).json()
    assert [f["properties"]["name"] for f in districts["features"]] == ["鼓楼区"]


def test_an_unchanged_layer_answers_304_to_its_etag_and_a_change_gives_a_new_one(api, city, people):
    map_city(city)
    client = api(people.operator)
    first = client.get("/map/areas", {"bbox": BOX, "zoom": 16})
    etag = first["ETag"]
    assert first["Cache-Control"].startswith("private, max-age=")
    again = client.get("/map/areas", {"bbox": BOX, "zoom": 16}, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again.content == b""
    make_component(city)  # base data changed
    changed = client.get("/map/areas", {"bbox": BOX, "zoom": 16}, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag


def test_components_are_points_when_zoomed_in_and_counts_per_grid_further_out(api, city, people):
    map_city(city)
    make_component(city)
    make_component(city, code="32030201002000002")
    client = api(people.operator)
    points = client.get("/map/components", {"bbox": BOX, "zoom": 18}).json()["features"]
    assert sorted(f["properties"]["code"] for f in points) == ["32030201002000001", "32030201002000002"]
    counts = client.get("/map/components", {"bbox": BOX, "zoom": 12}).json()["features"]
    assert [(f["properties"]["grid"], f["properties"]["count"]) for f in counts] == [("320302001001001", 2)]


def test_the_case_layer_shows_only_the_cases_the_user_may_see_and_changes_its_etag_with_them(api, city, people):
    map_city(city)
    mine = report_case(city, people)
    report_case(city, people, grid=city.other_grid)  # the other district: not the operator's
    client = api(people.operator)
    first = client.get("/map/cases", {"bbox": "117.0,34.0,117.5,34.5", "zoom": 15})
    assert [f["properties"]["number"] for f in first.json()["features"]] == [mine.number]
    svc.accept(mine.number, actor=people.operator, version=1, at=MONDAY_9AM)
    again = client.get("/map/cases", {"bbox": "117.0,34.0,117.5,34.5", "zoom": 15}, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 200 and again.json()["features"][0]["properties"]["state"] == "accepted"


def test_a_malformed_box_is_refused_naming_the_field(api, city, people):
    body = api(people.operator).get("/map/areas", {"bbox": "117.2,34.3,117.1", "zoom": 15}).json()
    assert body["code"] == "validation_error" and "bbox" in str(body)
