"""Address descriptions and geocoding on a small hand-built network around 徐州.

The network is laid out in metres in the CGCS2000 Gauss-Krüger zone of Xuzhou (CM 117E)
around an origin at 117.2E 34.26N, converted to WGS84, and every check is made back in
metres. Local coordinates (x east, y north) of the layout:

* 淮海东路: east-west, y = 0, x -800..800
* 建国东路: east-west, y = 500, x -800..800
* 彭城路: north-south, x = 0, given as two Roads that meet on 淮海东路
* 中山北路: north-south, x = -500, zig-zagging across 建国东路 three times within 4 m
* 黄河南路: north-south, x = 400, y 0.5..800 (stops half a metre short of 淮海东路)
* 环城路: a U from (-700, 300) up to y = 700 and down to (700, 300): crosses 建国东路 twice
* doorplates on 中山北路 every 20 m from y = 100 to 400: odd 101, 103, … on the west
  (x = -508), even 102, 104, … on the east (x = -492); 111 is missing; 104-1 at y = 130
* POIs 云龙公园南门 (250, 250), 彭城广场 (-250, 250), 徐州市第一人民医院 (-250, -400)
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from shapely.geometry import LineString, MultiLineString, Point

from citykeeper.domain.errors import InvalidInput
from citykeeper.spatial import crs
from citykeeper.spatial.address import (
    BEARINGS,
    Doorplate,
    Gazetteer,
    Poi,
    Road,
    bearing_name,
    round_distance,
)

EPSG = crs.utm_or_gk_crs_for(117.2)
ORIGIN = crs.to_projected(Point(117.2, 34.26), EPSG)


def ll(x: float, y: float) -> tuple[float, float]:
    """WGS84 lon/lat of local metres (x east, y north of the origin)."""
    p = crs.to_lonlat(Point(ORIGIN.x + x, ORIGIN.y + y), EPSG)
    return p.x, p.y


def local(lon: float, lat: float) -> tuple[float, float]:
    p = crs.to_projected(Point(lon, lat), EPSG)
    return p.x - ORIGIN.x, p.y - ORIGIN.y


def line(*xy: tuple[float, float]) -> LineString:
    return LineString([ll(x, y) for x, y in xy])


def metres_between(lon: float, lat: float, x: float, y: float) -> float:
    px, py = local(lon, lat)
    return math.hypot(px - x, py - y)


ZIGZAG = [(-500, -800), (-500, 495), (-496, 505), (-504, 495), (-500, 505), (-500, 800)]
MISSING = "111"


def doorplates() -> list[Doorplate]:
    plates = []
    for k in range(16):
        y = 100 + 20 * k
        odd, even = str(101 + 2 * k), str(102 + 2 * k)
        if odd != MISSING:
            plates.append(Doorplate("中山北路", odd, *ll(-508, y)))
        plates.append(Doorplate("中山北路", even, *ll(-492, y)))
    plates.append(Doorplate("中山北路", "104-1", *ll(-492, 130)))
    return plates


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    roads = [
        Road("淮海东路", line((-800, 0), (800, 0))),
        Road("彭城路", line((0, -800), (0, 0))),
        Road("彭城路", line((0, 0), (0, 800))),
        Road("建国东路", line((-800, 500), (800, 500))),
        Road("中山北路", MultiLineString([line(*ZIGZAG[:3]), line(*ZIGZAG[2:])])),
        Road("黄河南路", line((400, 0.5), (400, 800))),
        Road("环城路", line((-700, 300), (-700, 700), (700, 700), (700, 300))),
    ]
    pois = [
        Poi("云龙公园南门", "公园", *ll(250, 250)),
        Poi("彭城广场", "广场", *ll(-250, 250)),
        Poi("徐州市第一人民医院", "医院", *ll(-250, -400)),
    ]
    return Gazetteer.build(roads, doorplates(), pois)


def describe_at(g: Gazetteer, x: float, y: float, district: str = ""):
    return g.describe(*ll(x, y), district=district)


# ------------------------------------------------------------------ intersections


def test_intersections_of_differently_named_roads_are_found_once_per_crossing(gazetteer):
    found = {}
    for ix in gazetteer.intersections:
        found.setdefault(frozenset(ix.roads), []).append(local(ix.lon, ix.lat))
    expected = {
        ("淮海东路", "彭城路"): [(0, 0)],
        ("淮海东路", "中山北路"): [(-500, 0)],
        ("淮海东路", "黄河南路"): [(400, 0.25)],  # bridged across the 0.5 m gap
        ("建国东路", "彭城路"): [(0, 500)],
        ("建国东路", "中山北路"): [(-500, 500)],  # three zig-zag crossings, one intersection
        ("建国东路", "黄河南路"): [(400, 500)],
        ("建国东路", "环城路"): [(-700, 500), (700, 500)],  # far apart: two intersections
        ("环城路", "彭城路"): [(0, 700)],
        ("环城路", "中山北路"): [(-500, 700)],
        ("环城路", "黄河南路"): [(400, 700)],
    }
    assert set(found) == {frozenset(k) for k in expected}
    for pair, points in expected.items():
        got = sorted(found[frozenset(pair)])
        assert len(got) == len(points), pair
        for (gx, gy), (ex, ey) in zip(got, sorted(points), strict=True):
            assert math.hypot(gx - ex, gy - ey) < 5.0, pair


def test_two_segments_of_one_road_do_not_intersect_each_other(gazetteer):
    assert all(a != b for a, b in (ix.roads for ix in gazetteer.intersections))


# ----------------------------------------------------------------------- describe

SECTOR_CASES = [(i, BEARINGS[i]) for i in range(8)]


@pytest.mark.parametrize(("sector", "bearing"), SECTOR_CASES)
@pytest.mark.parametrize("within", [-20.0, 0.0, 20.0])
def test_a_point_near_an_intersection_gets_the_bearing_of_its_sector(gazetteer, sector, bearing, within):
    angle = math.radians(sector * 45.0 + within)
    d = describe_at(gazetteer, 30 * math.sin(angle), 30 * math.cos(angle))
    assert d.kind == "intersection"
    assert d.bearing == bearing
    assert d.text.endswith(f"交叉口{bearing}约30米")
    assert d.reference in ("彭城路与淮海东路交叉口", "淮海东路与彭城路交叉口")
    assert d.distance_m == pytest.approx(30.0, abs=0.01)


def test_the_road_the_point_is_on_is_named_first(gazetteer):
    assert describe_at(gazetteer, 2, 40).text == "彭城路与淮海东路交叉口北约40米"
    assert describe_at(gazetteer, 40, -2).text == "淮海东路与彭城路交叉口东约40米"


@pytest.mark.parametrize(
    ("distance", "written"),
    [(3.0, None), (5.2, 5), (22.0, 20), (23.0, 25), (47.6, 50), (54.0, 50), (57.0, 60)],
)
def test_the_distance_is_rounded_to_5_m_below_50_m_and_to_10_m_above(gazetteer, distance, written):
    d = describe_at(gazetteer, distance * math.sin(math.radians(230)), distance * math.cos(math.radians(230)))
    if written is None:
        assert d.text in ("彭城路与淮海东路交叉口处", "淮海东路与彭城路交叉口处")
        assert d.bearing == ""
    else:
        assert d.text.endswith(f"西南约{written}米")


@pytest.mark.parametrize(
    ("metres", "written"),
    [(0.0, 0), (5.0, 0), (5.01, 5), (7.4, 5), (7.5, 10), (47.4, 45), (49.9, 50), (50.0, 50), (54.9, 50), (55.0, 60)],
)
def test_round_distance_follows_the_written_steps(metres, written):
    assert round_distance(metres) == written


def test_bearing_names_run_clockwise_from_north():
    assert [bearing_name(math.sin(math.radians(a)), math.cos(math.radians(a))) for a in range(0, 360, 45)] == list(
        BEARINGS
    )


def test_a_point_by_a_doorplate_is_near_that_number(gazetteer):
    d = describe_at(gazetteer, -505, 182)
    assert (d.kind, d.text, d.reference, d.bearing) == ("doorplate", "中山北路109号附近", "中山北路109号", "")


def test_a_point_further_from_a_doorplate_gets_bearing_and_distance(gazetteer):
    d = describe_at(gazetteer, -540, 180)
    assert (d.kind, d.text, d.bearing) == ("doorplate", "中山北路109号西约30米", "西")
    assert d.distance_m == pytest.approx(32.0, abs=0.01)


def test_a_point_near_a_landmark_is_described_from_it(gazetteer):
    d = describe_at(gazetteer, 200, 250)
    assert (d.kind, d.text, d.reference) == ("poi", "云龙公园南门西约50米", "云龙公园南门")
    assert describe_at(gazetteer, 251, 252).text == "云龙公园南门附近"


def test_a_point_beside_a_road_gets_the_side_and_the_distance_to_the_nearest_intersection(gazetteer):
    d = describe_at(gazetteer, 150, 20)
    assert (d.kind, d.text, d.reference, d.bearing) == ("road", "淮海东路北侧，距彭城路交叉口约150米", "淮海东路", "北")
    assert describe_at(gazetteer, 150, -80).text == "淮海东路南侧约80米，距彭城路交叉口约150米"
    assert describe_at(gazetteer, -440, -300).text == "中山北路东侧约60米，距淮海东路交叉口约300米"
    assert describe_at(gazetteer, -570, -300).text == "中山北路西侧约70米，距淮海东路交叉口约300米"


def test_a_point_on_the_carriageway_has_no_side(gazetteer):
    assert describe_at(gazetteer, 150, 2).text == "淮海东路，距彭城路交叉口约150米"


def test_a_road_without_an_intersection_within_500_m_has_no_intersection_clause():
    lone = Gazetteer.build([Road("湖滨路", line((3000, 3000), (4000, 3000)))])
    assert lone.describe(*ll(3500, 3020)).text == "湖滨路北侧"
    assert lone.intersections == ()


def test_the_district_is_prefixed_with_one_space(gazetteer):
    assert describe_at(gazetteer, -505, 182, district="鼓楼区").text == "鼓楼区 中山北路109号附近"


def test_a_point_far_from_everything_is_given_by_its_coordinates(gazetteer):
    lon, lat = ll(5000, 5000)
    d = gazetteer.describe(lon, lat, district="云龙区")
    assert d.kind == "none"
    assert d.text == f"云龙区 ({lon:.6f}, {lat:.6f})"
    assert (d.reference, d.bearing, d.distance_m) == ("", "", 0.0)


def test_an_empty_gazetteer_describes_by_coordinates():
    assert Gazetteer.build([]).describe(117.2, 34.26).text == "(117.200000, 34.260000)"


def test_non_finite_coordinates_are_refused(gazetteer):
    with pytest.raises(InvalidInput):
        gazetteer.describe(math.nan, 34.26)


def test_a_road_without_a_line_is_refused():
    with pytest.raises(InvalidInput):
        Gazetteer.build([Road("彭城路", Point(117.2, 34.26))])  # type: ignore[arg-type]


# ------------------------------------------------------------------------ geocode


def best(g: Gazetteer, text: str):
    found = g.geocode(text)
    assert found, text
    return found[0]


@pytest.mark.parametrize(
    "text",
    [
        "彭城路与淮海东路交叉口",
        "淮海东路与彭城路交叉口",
        "淮海东路和彭城路路口",
        "彭城路、淮海东路交叉口处",
        "彭城路 与 淮海东路 十字路口",
        "云龙区 彭城路与淮海东路交叉口",
        "徐州市云龙区彭城路与淮海东路交叉口",
    ],
)
def test_an_intersection_is_found_in_every_written_form(gazetteer, text):
    c = best(gazetteer, text)
    assert c.kind == "intersection"
    assert c.score == pytest.approx(0.95)
    assert metres_between(c.lon, c.lat, 0, 0) < 0.01


def test_a_bearing_and_distance_after_an_intersection_move_the_point(gazetteer):
    c = best(gazetteer, "云龙区 彭城路与淮海东路交叉口东北约30米")
    assert c.text == "彭城路与淮海东路交叉口东北约30米"
    assert metres_between(c.lon, c.lat, 30 / math.sqrt(2), 30 / math.sqrt(2)) < 0.01
    c = best(gazetteer, "淮海东路与彭城路交叉口南侧约 20 米")
    assert metres_between(c.lon, c.lat, 0, -20) < 0.01


def test_roads_crossing_twice_give_two_intersection_candidates(gazetteer):
    found = gazetteer.geocode("建国东路与环城路交叉口")
    assert sorted(round(local(c.lon, c.lat)[0]) for c in found) == [-700, 700]
    assert all(c.score == pytest.approx(0.85) for c in found)


@pytest.mark.parametrize(
    "text",
    [
        "中山北路109号",
        "中山北路１０９号",
        "云龙区　中山北路１０９号附近",
        "中山北路109#",
        "中山北路109號",
        "鼓楼区中山北路109号",
    ],
)
def test_a_doorplate_is_found_with_full_width_digits_and_number_variants(gazetteer, text):
    c = best(gazetteer, text)
    assert (c.kind, c.text, c.score) == ("doorplate", "中山北路109号", 0.95)
    assert metres_between(c.lon, c.lat, -508, 180) < 0.01


def test_a_doorplate_with_an_offset_moves_the_point(gazetteer):
    c = best(gazetteer, "中山北路109号西约30米")
    assert metres_between(c.lon, c.lat, -538, 180) < 0.01


def test_a_missing_number_is_interpolated_between_its_neighbours_on_the_same_side(gazetteer):
    c = best(gazetteer, f"中山北路{MISSING}号")
    assert c.kind == "doorplate"
    assert c.score == pytest.approx(0.7)
    # Between 109 (y = 180) and 113 (y = 220) on the odd (west) side, not next to 112.
    assert metres_between(c.lon, c.lat, -508, 200) < 0.01


def test_sub_numbers_are_found_exactly_or_by_their_main_number(gazetteer):
    c = best(gazetteer, "中山北路104之1号")
    assert (c.text, c.score) == ("中山北路104-1号", 0.95)
    assert metres_between(c.lon, c.lat, -492, 130) < 0.01
    c = best(gazetteer, "中山北路104-3号")
    assert c.score == pytest.approx(0.85)
    assert metres_between(c.lon, c.lat, -492, 120) < 0.01


def test_a_number_beyond_the_numbered_range_falls_back_to_the_nearest_number(gazetteer):
    c = best(gazetteer, "中山北路400号")
    assert c.score == pytest.approx(0.4)
    assert metres_between(c.lon, c.lat, -492, 400) < 0.01  # 132, the highest even number


def test_a_landmark_is_found_by_its_name_with_an_offset(gazetteer):
    c = best(gazetteer, "泉山区 云龙公园南门西约50米")
    assert (c.kind, c.text) == ("poi", "云龙公园南门西约50米")
    assert metres_between(c.lon, c.lat, 200, 250) < 0.01


def test_a_landmark_whose_name_starts_with_a_city_is_still_found(gazetteer):
    c = best(gazetteer, "徐州市第一人民医院")
    assert (c.kind, c.score) == ("poi", 0.9)
    assert metres_between(c.lon, c.lat, -250, -400) < 0.01


def test_part_of_a_landmark_name_finds_it_with_a_lower_score(gazetteer):
    c = best(gazetteer, "云龙公园")
    assert c.text == "云龙公园南门"
    assert 0 < c.score < 0.6


def test_a_road_name_alone_gives_the_middle_of_the_road_with_a_low_score(gazetteer):
    c = best(gazetteer, "淮海东路")
    assert (c.kind, c.score) == ("road", 0.3)
    assert metres_between(c.lon, c.lat, 0, 0) < 0.01


def test_a_road_side_description_is_found_on_both_sides_of_the_intersection(gazetteer):
    found = gazetteer.geocode("淮海东路北侧，距彭城路交叉口约150米")
    points = sorted(local(c.lon, c.lat) for c in found if c.kind == "road")
    assert len(points) == 2
    assert math.hypot(points[0][0] + 150, points[0][1] - 15) < 0.01
    assert math.hypot(points[1][0] - 150, points[1][1] - 15) < 0.01


def test_coordinates_are_read_back(gazetteer):
    c = best(gazetteer, "云龙区 (117.200000, 34.260000)")
    assert (c.kind, c.lon, c.lat, c.score) == ("coordinate", 117.2, 34.26, 1.0)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "火星路与月亮街交叉口",
        "彭城大道与淮海东路交叉口",
        "彭城街",
        "淮海东路与彭城路交叉口旁边的那棵树",
        "人民广场",
    ],
)
def test_unknown_text_gives_no_candidates(gazetteer, text):
    assert gazetteer.geocode(text) == []


def test_the_number_of_candidates_is_limited(gazetteer):
    assert len(gazetteer.geocode("建国东路与环城路交叉口", limit=1)) == 1
    assert gazetteer.geocode("建国东路与环城路交叉口", limit=0) == []


# --------------------------------------------------------------------- round trip

SECTOR_SPREAD = 2 * math.sin(math.pi / 16)  # chord of half a 45-degree sector, per metre


def round_trip_tolerance(distance: float, bearing: str) -> float:
    """What the text can carry: at the reference, the distance itself; otherwise the
    rounding step's half plus the sideways spread of a 45-degree sector."""
    if not bearing:
        return max(10.0, distance + 0.01)
    step = 5.0 if distance < 50 else 10.0
    return max(10.0, SECTOR_SPREAD * distance + step / 2 + 0.01)


def sample_points(g: Gazetteer, seed: int) -> list[tuple[float, float]]:
    """Points around every kind of reference, plus uniform ones over the network."""
    rng = np.random.default_rng(seed)
    refs = [(local(i.lon, i.lat), 60.0) for i in g.intersections]
    refs += [(local(d.lon, d.lat), 40.0) for d in g.doorplates]
    refs += [(local(p.lon, p.lat), 150.0) for p in g.pois]
    points = []
    for _ in range(150):
        (x, y), radius = refs[rng.integers(len(refs))]
        r, a = radius * math.sqrt(rng.uniform()), rng.uniform(0, 2 * math.pi)
        points.append((x + r * math.sin(a), y + r * math.cos(a)))
    points += [tuple(xy) for xy in rng.uniform(-900, 900, size=(100, 2))]
    return points


@pytest.mark.parametrize("seed", [1, 2])
def test_describe_then_geocode_lands_within_what_the_text_can_say(gazetteer, seed):
    kinds: dict[str, int] = {}
    for x, y in sample_points(gazetteer, seed):
        d = describe_at(gazetteer, x, y, district="云龙区")
        kinds[d.kind] = kinds.get(d.kind, 0) + 1
        if d.kind not in ("intersection", "doorplate", "poi"):
            continue
        found = gazetteer.geocode(d.text)
        assert found and found[0].kind == d.kind, d.text
        # Roads crossing twice (建国东路 and 环城路) make the text ambiguous: every
        # equally good reading is returned, and one of them must be right.
        top = [c for c in found if c.score == found[0].score]
        error = min(metres_between(c.lon, c.lat, x, y) for c in top)
        assert error <= round_trip_tolerance(d.distance_m, d.bearing), (d.text, error)
    # The sample really exercised every kind of reference.
    assert min(kinds.get(k, 0) for k in ("intersection", "doorplate", "poi", "road")) >= 10, kinds


def test_a_road_side_description_round_trips_to_within_its_rounding(gazetteer):
    for x, y in [(150, 20), (150, -80), (-440, -300), (-570, -300), (230, 470), (150, 2)]:
        d = describe_at(gazetteer, x, y)
        assert d.kind == "road"
        # A side without a number is read as 15 m out (the middle of 5..30 m); a
        # written number or no side is good to its rounding, and so is the distance along.
        perpendicular = 15.0 if "侧" in d.text and "侧约" not in d.text else 5.0
        errors = [metres_between(c.lon, c.lat, x, y) for c in gazetteer.geocode(d.text) if c.kind == "road"]
        assert min(errors) <= perpendicular + 5.0 + 0.01, (d.text, errors)


def test_the_gazetteer_measures_in_the_gauss_kruger_zone_of_its_data(gazetteer):
    assert gazetteer.epsg == EPSG
