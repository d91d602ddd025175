"""The console's case map in Chromium, offline (no tile server: the base map is the city's own
outlines): the operator sees the outlines and the case points, opens a case from its popup,
draws a polygon and gets the queue filtered to it. The browser's WGS-84 → GCJ-02 shift agrees
with the server's, and tiles that cannot be loaded give way to the outlines with a note."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.utils import timezone
from pyproj import Geod

from citykeeper.services.calendar import seed_calendar
from citykeeper.spatial.crs import gcj02_to_wgs84, wgs84_to_gcj02
from citykeeper.store.models import Case
from tests.factories import make_city, make_personas, map_city, report_case

STATIC = Path(__file__).resolve().parents[2] / "src" / "citykeeper" / "web" / "static" / "citykeeper"
SCREEN = {"width": 1366, "height": 768}
GEOD = Geod(ellps="WGS84")

INSIDE = (117.175, 34.255)
OUTSIDE = (117.185, 34.255)
# A square round INSIDE, drawn clockwise on the screen.
SQUARE = [(117.172, 34.258), (117.178, 34.258), (117.178, 34.252), (117.172, 34.252)]


def metres(a, b) -> float:
    return GEOD.inv(a[0], a[1], b[0], b[1])[2]


# ---------------------------------------------------------------- GCJ-02 in the browser

POINTS = [
    (117.18, 34.26),  # 徐州
    (116.397, 39.909),  # 北京
    (121.4737, 31.2304),  # 上海
    (87.6168, 43.8256),  # 乌鲁木齐
    (109.512, 18.252),  # 三亚
    (126.642, 45.757),  # 哈尔滨
]


def test_the_browser_shifts_wgs84_to_gcj02_as_the_server_does(page):
    page.set_content('<!DOCTYPE html><html><body><div id="m" style="width:400px;height:300px"></div></body></html>')
    page.add_script_tag(path=str(STATIC / "vendor" / "leaflet-1.9.4" / "leaflet.js"))
    page.add_script_tag(path=str(STATIC / "basemap.js"))
    for lon, lat in [*POINTS, (2.3522, 48.8566)]:  # Paris: outside China, unchanged both ways
        forward = page.evaluate("([x, y]) => CityKeeperBasemap.wgs84ToGcj02(x, y)", [lon, lat])
        expected = wgs84_to_gcj02(lon, lat)
        assert metres(forward, expected) < 0.5
        back = page.evaluate("([x, y]) => CityKeeperBasemap.gcj02ToWgs84(x, y)", list(expected))
        assert metres(back, gcj02_to_wgs84(*expected)) < 0.5 and metres(back, (lon, lat)) < 0.5
    # The shift is real (hundreds of metres), so agreeing to half a metre means something.
    assert metres(wgs84_to_gcj02(117.18, 34.26), (117.18, 34.26)) > 100
    # A map on GCJ-02 tiles projects a WGS-84 position where the server's GCJ-02 position falls in
    # Web Mercator, and a click there reads back as the WGS-84 position.
    for lon, lat in POINTS:
        x, y, back_lon, back_lat = page.evaluate(
            """([x, y]) => {
                const crs = CityKeeperBasemap.crsFor({ crs: "gcj02" });
                const p = crs.project(L.latLng(y, x));
                const q = crs.unproject(p);
                return [p.x, p.y, q.lng, q.lat];
            }""",
            [lon, lat],
        )
        g_lon, g_lat = wgs84_to_gcj02(lon, lat)
        expected = page.evaluate(
            "([x, y]) => { const p = L.Projection.SphericalMercator.project(L.latLng(y, x)); return [p.x, p.y]; }",
            [g_lon, g_lat],
        )
        assert abs(x - expected[0]) < 0.5 and abs(y - expected[1]) < 0.5  # metres of Web Mercator
        assert metres((back_lon, back_lat), (lon, lat)) < 0.5
    # WGS-84 tiles keep the ordinary Web Mercator.
    assert page.evaluate("CityKeeperBasemap.crsFor({ crs: 'wgs84' }) === L.CRS.EPSG3857")


# ---------------------------------------------------------------- the map view


@pytest.fixture
def map_world(transactional_db):
    city = map_city(make_city())
    seed_calendar([timezone.localdate().year, timezone.localdate().year + 1])
    people = make_personas(city)
    now = timezone.now()
    inside = report_case(city, people, at=now - dt.timedelta(minutes=5), description="井盖破损")
    outside = report_case(city, people, at=now - dt.timedelta(minutes=4), description="井盖缺失")
    theirs = report_case(city, people, at=now - dt.timedelta(minutes=3), grid=city.other_grid)
    Case.objects.filter(pk=inside.pk).update(lon=INSIDE[0], lat=INSIDE[1], address="中山北路109号")
    Case.objects.filter(pk=outside.pk).update(
        lon=OUTSIDE[0], lat=OUTSIDE[1], stage_deadline_at=now - dt.timedelta(hours=1), stage_overdue=True
    )
    Case.objects.filter(pk=theirs.pk).update(lon=117.18, lat=34.257)  # 云龙区's: never on this map
    return city, people, inside, outside, theirs


def _login(page, live_server, next_url):
    page.goto(f"{live_server.url}/login/?next={next_url}")
    page.fill("input[name=username]", "operator")
    page.fill("input[name=password]", "pw-operator")
    page.click("button[type=submit]")
    page.wait_for_url(f"**{next_url}")


def _screen(page, lon, lat):
    """The page position of a WGS-84 point on the case map."""
    box = page.locator("#case-map").bounding_box()
    x, y = page.evaluate(
        "([x, y]) => { const p = CityKeeperCaseMap.map.latLngToContainerPoint([y, x]); return [p.x, p.y]; }",
        [lon, lat],
    )
    return box["x"] + x, box["y"] + y


def test_the_operator_finds_a_case_on_the_map_and_draws_a_polygon_for_the_queue(live_server, page, map_world):
    _city, _people, inside, outside, theirs = map_world
    page.set_viewport_size(SCREEN)
    _login(page, live_server, "/console/map/")
    assert page.inner_text("h1") == "案件地图"
    # Offline: no tile layer, the outlines are the base map, and the cases are points.
    page.wait_for_selector("path.ck-outline")
    page.wait_for_selector(f"path.ck-case-{inside.number}")
    assert page.locator(".leaflet-tile").count() == 0 and page.locator(".ck-basemap-note").count() == 0
    assert page.locator("path.ck-case").count() == 2
    assert page.locator(f"path.ck-case-{theirs.number}").count() == 0
    assert "ck-case-overdue" in page.get_attribute(f"path.ck-case-{outside.number}", "class")
    assert page.locator(f"path.ck-case-{outside.number}").evaluate("el => getComputedStyle(el).fill") == (
        "rgb(207, 17, 36)"
    )
    assert "当前范围内的开放案件：2" in page.inner_text("#map-status")
    # The map fills the 1366×768 screen beside the panel, without scroll bars.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.evaluate("document.documentElement.scrollHeight <= window.innerHeight")
    assert page.locator("#case-map").bounding_box()["width"] > 900

    # A click on a point opens its popup; its link opens the case page.
    page.click(f"path.ck-case-{inside.number}")
    popup = page.locator(".ck-popup")
    popup.wait_for()
    assert inside.number in popup.inner_text() and "中山北路109号" in popup.inner_text()
    assert "污水井盖" in popup.inner_text() and "待受理" in popup.inner_text()
    popup.locator("a.ck-open-case").click()
    page.wait_for_url(f"**/console/cases/{inside.number}/")
    assert inside.number in page.content()

    # Back on the map: draw a square round one case, finished with a double-click.
    page.go_back()
    page.wait_for_selector(f"path.ck-case-{inside.number}")
    assert page.get_attribute("#draw-open", "aria-disabled") == "true"
    page.click("#draw-start")
    for lon, lat in SQUARE[:-1]:
        page.mouse.click(*_screen(page, lon, lat))
    assert "3 个顶点" in page.inner_text("#draw-status")
    page.mouse.dblclick(*_screen(page, *SQUARE[-1]))
    assert "共 4 个顶点" in page.inner_text("#draw-status")
    page.wait_for_selector("path.ck-within")
    assert page.get_attribute("#draw-open", "aria-disabled") == "false"
    # 清除 resets it; drawn again, finished with 完成 this time.
    page.click("#draw-clear")
    assert page.locator("path.ck-within").count() == 0 and page.get_attribute("#draw-open", "aria-disabled") == "true"
    page.click("#draw-start")
    for lon, lat in SQUARE:
        page.mouse.click(*_screen(page, lon, lat))
    page.click("#draw-finish")
    page.wait_for_selector("path.ck-within")
    page.click("#draw-open")
    page.wait_for_url("**/console/queues/reported/?**within=**")
    rows = page.locator("tbody tr")
    assert rows.count() == 1 and rows.first.get_attribute("data-number") == inside.number
    assert outside.number not in page.inner_text("main")


def test_the_grid_layer_and_the_filters(live_server, page, map_world):
    _city, _people, inside, outside, _theirs = map_world
    page.set_viewport_size(SCREEN)
    _login(page, live_server, "/console/map/")
    page.wait_for_selector(f"path.ck-case-{inside.number}")
    page.select_option("select[name=deadline]", "overdue")
    page.wait_for_function("document.querySelectorAll('path.ck-case').length === 1")
    assert page.locator(f"path.ck-case-{outside.number}").count() == 1
    assert "deadline=overdue" in page.url
    page.select_option("select[name=deadline]", "")
    page.wait_for_function("document.querySelectorAll('path.ck-case').length === 2")
    page.check("#layer-grids")
    page.wait_for_selector("path.ck-grid")
    # Both cases are in the west grid (the factory's); the east one holds none.
    assert page.locator("path.ck-grid-5").count() == 1 and page.locator("path.ck-grid-0").count() == 1


def test_tiles_that_cannot_be_loaded_give_way_to_the_outlines(live_server, page, map_world, settings):
    # A tile server that answers 404 for every tile (as a closed network's proxy would).
    settings.CITYKEEPER = {**settings.CITYKEEPER, "BASEMAP": "custom", "MAP_TILE_URL": "/no-tiles/{z}/{x}/{y}.png"}
    page.set_viewport_size(SCREEN)
    _login(page, live_server, "/console/map/")
    note = page.locator(".ck-basemap-note")
    note.wait_for()
    assert note.inner_text() == "底图无法加载，已切换为矢量底图"
    assert page.locator(".leaflet-tile-pane .leaflet-layer").count() == 0
    page.wait_for_selector("path.ck-outline")
    page.wait_for_selector("path.ck-case")


def test_a_misconfigured_base_map_is_said_on_the_map(live_server, page, map_world, settings):
    settings.CITYKEEPER = {**settings.CITYKEEPER, "BASEMAP": "tianditu", "BASEMAP_KEY": ""}
    page.set_viewport_size(SCREEN)
    _login(page, live_server, "/console/map/")
    note = page.locator(".ck-basemap-note")
    note.wait_for()
    assert (
        note.inner_text().startswith("底图配置有误，已使用矢量底图：") and "CITYKEEPER_BASEMAP_KEY" in note.inner_text()
    )
    page.wait_for_selector("path.ck-case")
