"""The console's case map: who may open it, what its data endpoints return (scoped, filtered,
points or counts per cell, grids with their counts) in a fixed number of queries, and the
polygon drawn on it filtering a queue page exactly (a concave polygon, bad values ignored)."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from citykeeper.store.models import Case
from citykeeper.web.console import map as console_map
from tests.factories import map_city, report_case

BOX = "117.16,34.24,117.20,34.27"
QUERY_BUDGET = 6

# A U open to the north over the test grids: its notch (117.175–117.185 E, north of 34.253 N) is
# inside the polygon's box but outside the polygon.
U_SHAPE = [
    (117.170, 34.250),
    (117.190, 34.250),
    (117.190, 34.260),
    (117.185, 34.260),
    (117.185, 34.253),
    (117.175, 34.253),
    (117.175, 34.260),
    (117.170, 34.260),
]
LEFT_ARM = (117.172, 34.258)
BOTTOM = (117.180, 34.251)
NOTCH = (117.180, 34.258)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def report(city, people, at=None, lon=117.18, lat=34.255, **kw) -> Case:
    case = report_case(city, people, at=at or timezone.now() - dt.timedelta(minutes=5), **kw)
    Case.objects.filter(pk=case.pk).update(lon=lon, lat=lat)
    return case


def circle(n: int) -> list[tuple[float, float]]:
    """A polygon of ``n`` vertices round 117.18 E, 34.255 N (about 900 m by 900 m)."""
    return [
        (
            round(117.18 + 0.009 * math.cos(2 * math.pi * i / n), 6),
            round(34.255 + 0.008 * math.sin(2 * math.pi * i / n), 6),
        )
        for i in range(n)
    ]


def within(points) -> str:
    return ",".join(f"{x} {y}" for x, y in points)


def features(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return json.loads(response.content)["features"]


def numbers_on(response) -> list[str]:
    return re.findall(r'<tr data-number="([^"]+)"[ >]', response.content.decode())


@pytest.fixture
def mapped(city):
    return map_city(city)


# ---------------------------------------------------------------- the page


def test_the_map_asks_for_a_login_and_is_for_console_staff_only(city, people):
    assert Client().get("/console/map/")["Location"].startswith("/login/?next=/console/map/")
    for persona in ("citizen", "inspector"):
        response = client_for(getattr(people, persona)).get("/console/map/")
        assert response.status_code == 403 and "工作台只对受理员" in response.content.decode()
        assert client_for(getattr(people, persona)).get("/console/map/cases.json", {"bbox": BOX}).status_code == 403
    assert Client().get("/console/map/cases.json", {"bbox": BOX, "zoom": "16"}).status_code == 401
    assert Client().get("/console/map/grids.json", {"bbox": BOX, "zoom": "16"}).status_code == 401


def test_the_page_carries_the_base_map_the_filters_and_the_users_queues(mapped, people, settings):
    settings.CITYKEEPER = {**settings.CITYKEEPER, "BASEMAP": "amap"}
    response = client_for(people.operator).get("/console/map/", {"deadline": "overdue", "category": "x"})
    body = response.content.decode()
    assert response.status_code == 200 and "案件地图" in body and "leaflet.js" in body
    config = json.loads(re.search(r'<script id="ck-basemap" type="application/json">(.*?)</script>', body).group(1))
    assert config["provider"] == "amap" and config["crs"] == "gcj02"
    assert "citykeeper/basemap.js" in body and "citykeeper/console/map.js" in body
    assert 'data-bounds="[117.17, 34.25, 117.19, 34.26]"' in body and 'data-areas="/map/areas.json"' in body
    assert '<option value="overdue" selected>' in body  # the filter chosen; a bad category is dropped
    assert 'value="/console/queues/reported/"' in body and 'value="/console/queues/filed/"' not in body
    assert "在队列中查看" in body


def test_a_misconfigured_base_map_is_said_on_the_page(mapped, people, settings):
    settings.CITYKEEPER = {**settings.CITYKEEPER, "BASEMAP": "tianditu", "BASEMAP_KEY": ""}
    body = client_for(people.operator).get("/console/map/").content.decode()
    config = json.loads(re.search(r'<script id="ck-basemap" type="application/json">(.*?)</script>', body).group(1))
    assert config["provider"] == "none" and "CITYKEEPER_BASEMAP_KEY" in config["error"]


# ---------------------------------------------------------------- the data


def test_zoomed_in_the_open_cases_are_points_with_their_deadline_state_and_a_link(mapped, people):
    now = timezone.now()
    fresh = report(mapped, people, lon=117.175, lat=34.255, address="中山北路109号")
    late = report(mapped, people, lon=117.185, lat=34.255)
    Case.objects.filter(pk=late.pk).update(stage_deadline_at=now - dt.timedelta(hours=1), stage_overdue=True)
    closed = report(mapped, people, lon=117.18, lat=34.256)
    Case.objects.filter(pk=closed.pk).update(state="closed")
    found = features(client_for(people.operator).get("/console/map/cases.json", {"bbox": BOX, "zoom": "16"}))
    by_number = {f["properties"]["number"]: f for f in found}
    assert set(by_number) == {fresh.number, late.number}  # open cases only
    first = by_number[fresh.number]
    assert first["geometry"]["coordinates"] == [117.175, 34.255]
    p = first["properties"]
    assert (p["category"], p["address"], p["state"], p["sla"]) == ("污水井盖", "中山北路109号", "待受理", "ok")
    assert p["url"] == f"/console/cases/{fresh.number}/" and p["deadline"] and p["sla_text"].startswith("正常 · 剩")
    assert by_number[late.number]["properties"]["sla"] == "overdue"
    # The most urgent first.
    assert found[0]["properties"]["number"] == late.number


def test_an_operator_of_one_district_never_sees_another_districts_cases(mapped, people):
    mine = report(mapped, people)
    theirs = report(mapped, people, grid=mapped.other_grid)  # 云龙区, at the same spot
    for zoom in ("16", "10"):
        seen = features(client_for(people.operator).get("/console/map/cases.json", {"bbox": BOX, "zoom": zoom}))
        assert [f["properties"]["number"] for f in seen] == [mine.number]
        seen = features(client_for(people.outside_operator).get("/console/map/cases.json", {"bbox": BOX, "zoom": zoom}))
        assert [f["properties"]["number"] for f in seen] == [theirs.number]
    grids = features(client_for(people.outside_operator).get("/console/map/grids.json", {"bbox": BOX, "zoom": "15"}))
    assert sum(f["properties"]["count"] for f in grids) == 0  # the case in view is not theirs to count
    leader = features(client_for(people.leader).get("/console/map/cases.json", {"bbox": BOX, "zoom": "16"}))
    assert {f["properties"]["number"] for f in leader} == {mine.number, theirs.number}


def test_the_filters_narrow_the_points(mapped, people):
    now = timezone.now()
    ok = report(mapped, people)
    late = report(mapped, people)
    Case.objects.filter(pk=late.pk).update(stage_deadline_at=now - dt.timedelta(minutes=1))
    client = client_for(people.operator)

    def shown(**params):
        return {f["properties"]["number"] for f in features(client.get("/console/map/cases.json", params))}

    assert shown(bbox=BOX, zoom="16") == {ok.number, late.number}
    assert shown(bbox=BOX, zoom="16", deadline="overdue") == {late.number}
    assert shown(bbox=BOX, zoom="16", deadline="ok") == {ok.number}
    assert shown(bbox=BOX, zoom="16", category=str(mapped.category.pk + 1)) == set()
    assert shown(bbox="117.181,34.24,117.2,34.27", zoom="16") == set()  # outside the visible box


def test_zoomed_out_over_many_cases_they_are_counted_per_cell_in_the_database(mapped, people, monkeypatch):
    monkeypatch.setattr(console_map, "POINTS_WHEN_FEWER", 3)
    west = [report(mapped, people, lon=117.171, lat=34.251) for _ in range(3)]
    east = [report(mapped, people, lon=117.189, lat=34.259) for _ in range(2)]
    Case.objects.filter(pk=east[0].pk).update(stage_deadline_at=timezone.now() - dt.timedelta(minutes=1))
    response = client_for(people.operator).get("/console/map/cases.json", {"bbox": BOX, "zoom": "13"})
    body = json.loads(response.content)
    assert body["clustered"] is True and body["total"] == len(west + east)
    cells = sorted((f["properties"]["count"], f["properties"]["worst"]) for f in body["features"])
    assert cells == [(2, "overdue"), (3, "ok")]
    # Few cases stay points even zoomed out.
    monkeypatch.setattr(console_map, "POINTS_WHEN_FEWER", 500)
    again = json.loads(client_for(people.operator).get("/console/map/cases.json", {"bbox": BOX, "zoom": "13"}).content)
    assert again["clustered"] is False and len(again["features"]) == 5


def test_the_grid_layer_counts_open_cases_per_unit_grid_in_classes(mapped, people):
    for _ in range(4):
        report(mapped, people)  # in the west grid (the factory's)
    found = features(client_for(people.operator).get("/console/map/grids.json", {"bbox": BOX, "zoom": "15"}))
    by_code = {f["properties"]["code"]: f["properties"] for f in found}
    assert by_code["320302001001001"]["count"] == 4 and by_code["320302001001001"]["class"] == 5
    assert by_code["320302001001002"]["count"] == 0 and by_code["320302001001002"]["class"] == 0
    assert all(f["geometry"]["type"] == "Polygon" for f in found)
    far = json.loads(client_for(people.operator).get("/console/map/grids.json", {"bbox": BOX, "zoom": "9"}).content)
    assert far["features"] == [] and far["zoomIn"] is True


@pytest.mark.parametrize(
    "params",
    [{}, {"bbox": "1,2,3"}, {"bbox": BOX}, {"bbox": BOX, "zoom": "x"}, {"bbox": BOX, "zoom": "23"}],
)
def test_a_bad_box_or_zoom_is_a_400_in_chinese(mapped, people, params):
    for url in ("/console/map/cases.json", "/console/map/grids.json"):
        response = client_for(people.operator).get(url, params)
        assert response.status_code == 400 and re.search(r"[\u4e00-\u9fff]", response.json()["detail"])


def _queries(user, url, params) -> int:
    client = client_for(user)
    client.get(url, params)  # warm the per-process caches
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize(
    ("url", "params"),
    [
        ("/console/map/", {}),
        ("/console/map/cases.json", {"bbox": BOX, "zoom": "16"}),
        ("/console/map/cases.json", {"bbox": BOX, "zoom": "12"}),
        ("/console/map/grids.json", {"bbox": BOX, "zoom": "15"}),
    ],
)
def test_each_map_request_answers_in_a_fixed_small_number_of_queries(mapped, people, monkeypatch, url, params):
    monkeypatch.setattr(console_map, "POINTS_WHEN_FEWER", 4)  # zoom 12: counts per cell from 5 cases on
    for _ in range(3):
        report(mapped, people)
    few = _queries(people.operator, url, params)
    for i in range(9):
        report(mapped, people, lon=117.171 + i * 0.002, lat=34.251 + i * 0.001)
    many = _queries(people.operator, url, params)
    assert few == many <= QUERY_BUDGET, (few, many)


# ---------------------------------------------------------------- the polygon on the queue


def test_a_drawn_polygon_keeps_only_the_cases_inside_it_concave_or_not(mapped, people):
    inside = [report(mapped, people, lon=x, lat=y) for x, y in (LEFT_ARM, BOTTOM)]
    notch = report(mapped, people, lon=NOTCH[0], lat=NOTCH[1])
    away = report(mapped, people, lon=117.21, lat=34.255)
    client = client_for(people.operator)
    assert sorted(numbers_on(client.get("/console/queues/reported/"))) == sorted(
        c.number for c in [*inside, notch, away]
    )
    response = client.get("/console/queues/reported/", {"within": within(U_SHAPE)})
    assert sorted(numbers_on(response)) == sorted(c.number for c in inside)
    # The filter stays on for live refresh and the other sort order (and paging, same query string).
    page = response.content.decode()
    live = re.search(r'hx-get="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(live).query)["within"] == [within(U_SHAPE)]
    assert sorted(numbers_on(client.get(live))) == sorted(c.number for c in inside)
    # Combined with the other filters.
    assert numbers_on(client.get("/console/queues/reported/", {"within": within(U_SHAPE), "q": notch.number})) == []


def test_the_polygon_may_be_closed_and_is_kept_in_a_canonical_form(mapped, people):
    case = report(mapped, people, lon=LEFT_ARM[0], lat=LEFT_ARM[1])
    closed = within([*U_SHAPE, U_SHAPE[0]]).replace(" ", "  ")
    response = client_for(people.operator).get("/console/queues/reported/", {"within": closed})
    assert numbers_on(response) == [case.number]
    live = re.search(r'hx-get="([^"]+)"', response.content.decode()).group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(live).query)["within"] == [within(U_SHAPE)]


@pytest.mark.parametrize(
    "bad",
    [
        "abc",
        "117.17 34.25",
        "117.17 34.25,117.19 34.25",  # two vertices
        "117.17 34.25,117.19 34.25,117.18",  # half a vertex
        "117.17 34.25,117.19 34.26,117.19 34.25,117.17 34.26",  # a bow tie: its edges cross
        "117.17 34.25,117.18 34.25,117.19 34.25",  # a line, no area
        "217.17 34.25,117.19 34.25,117.19 34.26",  # longitude out of range
        "117.17 94.25,117.19 34.25,117.19 34.26",
        "nan 34.25,117.19 34.25,117.19 34.26",
        "inf 34.25,117.19 34.25,117.19 34.26",
        within(circle(101)),  # a valid polygon, but more than 100 vertices
        "1 1," * 3000,
    ],
)
def test_an_unusable_polygon_is_ignored(mapped, people, bad):
    inside = report(mapped, people, lon=LEFT_ARM[0], lat=LEFT_ARM[1])
    notch = report(mapped, people, lon=NOTCH[0], lat=NOTCH[1])
    response = client_for(people.operator).get("/console/queues/reported/", {"within": bad})
    assert response.status_code == 200
    assert sorted(numbers_on(response)) == sorted([inside.number, notch.number])
    assert "within=" not in re.search(r'hx-get="([^"]+)"', response.content.decode()).group(1)


def test_a_hundred_vertices_are_enough(mapped, people):
    case = report(mapped, people, lon=117.18, lat=34.255)
    report(mapped, people, lon=117.171, lat=34.2505)  # in the box of the circle, not in the circle
    response = client_for(people.operator).get("/console/queues/reported/", {"within": within(circle(100))})
    assert numbers_on(response) == [case.number]


def test_the_portal_and_the_handset_app_use_the_same_base_map(mapped, people, settings):
    import html

    settings.CITYKEEPER = {**settings.CITYKEEPER, "BASEMAP": "amap"}
    console = client_for(people.operator).get("/console/map/").content.decode()
    config = json.loads(re.search(r'<script id="ck-basemap" type="application/json">(.*?)</script>', console).group(1))
    assert config["provider"] == "amap"
    for url in ("/map/", "/report/"):
        body = Client().get(url).content.decode()
        assert json.loads(html.unescape(re.search(r'data-basemap="([^"]*)"', body).group(1))) == config
        assert body.index("citykeeper/basemap.js") < body.index("citykeeper/portal/basemap.js")
    handset = client_for(people.inspector).get("/m/").content.decode()
    data = json.loads(re.search(r'<script id="ck-data" type="application/json">(.*?)</script>', handset, re.S).group(1))
    assert data["basemap"] == config and "citykeeper/basemap.js" in handset
    assert "citykeeper/basemap.js" in Client().get("/m/sw.js").content.decode()  # kept for offline use
