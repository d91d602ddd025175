"""The locating indexes: point -> grid / community / street / district / responsibility
grid, and point -> nearest components.

Most tests use a small lattice city laid out directly in lon/lat with exactly shared
vertices, so points can be put *exactly* on edges and corners. Grid codes are
deliberately not in lattice order, and the grids are passed to build() shuffled, so
"smallest code wins" cannot pass by accident as "first listed wins".
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import shapely
from pyproj import Geod, Proj, Transformer
from shapely.geometry import box

from citykeeper.domain.errors import InvalidInput
from citykeeper.spatial import crs, grid, locate_bench
from citykeeper.spatial.index import (
    AreaIndex,
    ComponentIndex,
    Location,
    OutsideCity,
    Place,
    gk_scale_factor,
)

GEOD = Geod(ellps="WGS84")

# ------------------------------------------------------------------ lattice city
#
# 4 x 4 cells of 0.001 degrees (~92 m x 111 m) at 117.200E 34.260N, rows numbered from
# the north. Columns 0-1 are community ...001, columns 2-3 community ...002, both in
# street 320302001 of district 320302 (鼓楼区), whose outline is the block's outline.
# District 320303 (云龙区) lies east of it and has no grids. Responsibility grid R1
# covers the north-western 2 x 2 cells, R2 the south-eastern 2 x 2; the rest has none.

LON0, LAT0, STEP, N = 117.200, 34.260, 0.001, 4
VLON = LON0 + np.arange(N + 1) * STEP  # vertex longitudes, west to east
VLAT = LAT0 - np.arange(N + 1) * STEP  # vertex latitudes, north to south
GULOU = Place("320302", "鼓楼区", "district")
YUNLONG = Place("320303", "云龙区", "district")
STREET = Place("320302001", "鼓楼街道01", "street")
COMMUNITY_W = Place("320302001001", "西社区", "community")
COMMUNITY_E = Place("320302001002", "东社区", "community")
R1 = Place("R1", "责任网格1", "responsibility")
R2 = Place("R2", "责任网格2", "responsibility")


def cell(row: int, col: int) -> shapely.Polygon:
    return box(VLON[col], VLAT[row + 1], VLON[col + 1], VLAT[row])


def code_of(row: int, col: int) -> str:
    # Within each community the codes run south to north, east to west: the reverse of
    # the lattice order, so the smallest code is not the north-western cell.
    community = COMMUNITY_W if col < 2 else COMMUNITY_E
    seq = (N - 1 - row) * 2 + (1 - col % 2) + 1
    return f"{community.code}{seq:03d}"


def lattice_inputs():
    cells = [(r, c) for r in range(N) for c in range(N)]
    grids = [(code_of(r, c), cell(r, c)) for r, c in cells]
    random.Random(7).shuffle(grids)
    places = {p.code: p for p in (GULOU, YUNLONG, STREET, COMMUNITY_W, COMMUNITY_E, R1, R2)}
    parents = {STREET.code: GULOU.code, COMMUNITY_W.code: STREET.code, COMMUNITY_E.code: STREET.code}
    for code, _ in grids:
        places[code] = Place(code, code, "grid")
        parents[code] = COMMUNITY_W.code if code.startswith(COMMUNITY_W.code) else COMMUNITY_E.code
    districts = [
        (GULOU.code, box(VLON[0], VLAT[N], VLON[N], VLAT[0])),
        (YUNLONG.code, box(VLON[N], VLAT[N], VLON[N] + 4 * STEP, VLAT[0])),
    ]
    responsibility = [
        (R1.code, box(VLON[0], VLAT[2], VLON[2], VLAT[0])),
        (R2.code, box(VLON[2], VLAT[4], VLON[4], VLAT[2])),
    ]
    return grids, places, parents, districts, responsibility


@pytest.fixture(scope="module")
def lattice() -> AreaIndex:
    return AreaIndex.build(*lattice_inputs())


def grid_code(index: AreaIndex, lon: float, lat: float) -> str | None:
    """The grid code locate() gives, None for no grid or outside the city."""
    try:
        found = index.locate(lon, lat).grid
    except OutsideCity:
        return None
    return found.code if found else None


def many_code(index: AreaIndex, lon: float, lat: float) -> str | None:
    return index.grid_codes(index.locate_many([lon], [lat]))[0]


# ----------------------------------------------------------------- area index


def test_a_point_inside_a_grid_gets_its_grid_community_street_district_and_responsibility(lattice):
    lon, lat = VLON[0] + 0.3 * STEP, VLAT[0] - 0.6 * STEP  # north-western cell
    loc = lattice.locate(lon, lat)
    assert loc == Location(
        lon=lon,
        lat=lat,
        grid=Place(code_of(0, 0), code_of(0, 0), "grid"),
        community=COMMUNITY_W,
        street=STREET,
        district=GULOU,
        responsibility=R1,
    )
    south_east = lattice.locate(VLON[3] + 0.5 * STEP, VLAT[3] - 0.5 * STEP)
    assert south_east.grid.code == code_of(3, 3) == "320302001002001"
    assert (south_east.community, south_east.responsibility) == (COMMUNITY_E, R2)
    # Not every grid is in a responsibility grid.
    assert lattice.locate(VLON[3] + 0.5 * STEP, VLAT[0] - 0.5 * STEP).responsibility is None
    assert lattice.size == N * N


@pytest.mark.parametrize(
    ("west", "east", "row"),
    [
        ((0, 0), (0, 1), 0),  # inside community 西: the eastern cell has the smaller code
        ((2, 1), (2, 2), 2),  # across the community border: 西 < 东
    ],
)
def test_a_point_on_a_shared_edge_belongs_to_the_grid_with_the_smaller_code(lattice, west, east, row):
    lon, lat = VLON[east[1]], VLAT[row] - 0.37 * STEP
    assert shapely.intersects_xy(cell(*west), lon, lat) and shapely.intersects_xy(cell(*east), lon, lat)
    expected = min(code_of(*west), code_of(*east))
    assert grid_code(lattice, lon, lat) == expected
    assert many_code(lattice, lon, lat) == expected
    # Strictly on either side, each cell keeps its own points.
    assert grid_code(lattice, lon - 1e-9, lat) == code_of(*west)
    assert grid_code(lattice, lon + 1e-9, lat) == code_of(*east)


def test_a_point_on_a_horizontal_shared_edge_belongs_to_the_grid_with_the_smaller_code(lattice):
    lon, lat = VLON[1] + 0.5 * STEP, VLAT[2]
    expected = min(code_of(1, 1), code_of(2, 1))
    assert expected == code_of(2, 1)  # the southern cell, i.e. not the first in reading order
    assert grid_code(lattice, lon, lat) == many_code(lattice, lon, lat) == expected


def test_a_point_on_a_four_grid_corner_belongs_to_the_smallest_of_the_four_codes(lattice):
    lon, lat = VLON[2], VLAT[2]
    four = [(1, 1), (1, 2), (2, 1), (2, 2)]
    assert all(shapely.intersects_xy(cell(r, c), lon, lat) for r, c in four)
    expected = min(code_of(r, c) for r, c in four)
    assert expected == code_of(2, 1)
    loc = lattice.locate(lon, lat)
    assert loc.grid.code == expected and loc.community == COMMUNITY_W
    assert many_code(lattice, lon, lat) == expected
    # The corner is also shared by both responsibility grids: the smaller code wins.
    assert loc.responsibility == R1


def test_a_point_on_the_outer_boundary_belongs_to_the_one_grid_there(lattice):
    on_north_edge = (VLON[1] + 0.5 * STEP, VLAT[0])
    on_outer_corner = (VLON[N], VLAT[N])
    on_corner_of_two = (VLON[2], VLAT[N])
    cases = [(on_north_edge, code_of(0, 1)), (on_outer_corner, code_of(3, 3)), (on_corner_of_two, code_of(3, 1))]
    for (lon, lat), expected in cases:
        assert grid_code(lattice, lon, lat) == many_code(lattice, lon, lat) == expected
    # A hair outside the northern edge is outside the city.
    with pytest.raises(OutsideCity):
        lattice.locate(VLON[1] + 0.5 * STEP, VLAT[0] + 1e-9)


def test_a_point_inside_a_district_without_grids_has_the_district_but_no_grid(lattice):
    lon, lat = VLON[N] + 2 * STEP, VLAT[2]
    loc = lattice.locate(lon, lat)
    assert (loc.grid, loc.community, loc.street) == (None, None, None)
    assert loc.district == YUNLONG and loc.responsibility is None
    assert lattice.locate_many([lon], [lat]).tolist() == [-1]
    # On the border of the two districts the grid wins: a point in a grid is in the city.
    assert lattice.locate(VLON[N], VLAT[2] - 0.5 * STEP).district == GULOU


def test_locate_many_agrees_with_locate_on_2000_points_including_edges_and_corners(lattice):
    rng = np.random.default_rng(3)
    lon_lo, lon_hi = VLON[0] - 2 * STEP, VLON[N] + 5 * STEP  # beyond 云龙区 too
    lat_lo, lat_hi = VLAT[N] - 2 * STEP, VLAT[0] + 2 * STEP
    n = 500
    random_lon, random_lat = rng.uniform(lon_lo, lon_hi, n), rng.uniform(lat_lo, lat_hi, n)
    on_meridians = rng.choice(VLON, n), rng.uniform(lat_lo, lat_hi, n)
    on_parallels = rng.uniform(lon_lo, lon_hi, n), rng.choice(VLAT, n)
    on_vertices = rng.choice(VLON, n), rng.choice(VLAT, n)
    lons = np.concatenate([random_lon, on_meridians[0], on_parallels[0], on_vertices[0]])
    lats = np.concatenate([random_lat, on_meridians[1], on_parallels[1], on_vertices[1]])
    assert lons.size == 2000

    many = lattice.grid_codes(lattice.locate_many(lons, lats))
    single = [grid_code(lattice, lon, lat) for lon, lat in zip(lons.tolist(), lats.tolist(), strict=True)]
    assert many == single
    # Brute force: the smallest code among all closed cells holding the point.
    grids, *_ = lattice_inputs()
    brute = []
    shared = 0
    for lon, lat in zip(lons.tolist(), lats.tolist(), strict=True):
        holders = sorted(code for code, geom in grids if shapely.intersects_xy(geom, lon, lat))
        shared += len(holders) > 1
        brute.append(holders[0] if holders else None)
    assert many == brute
    # The sample really exercised edges and corners, and all three kinds of answer.
    assert shared > 300
    assert None in many and len({c for c in many if c}) == N * N


def test_locate_many_keeps_the_input_shape_and_gives_minus_one_for_nan(lattice):
    lons = np.array([[VLON[0] + 0.5 * STEP, math.nan], [VLON[0] - 1.0, VLON[3] + 0.5 * STEP]])
    lats = np.array([[VLAT[0] - 0.5 * STEP, VLAT[1]], [VLAT[0], VLAT[3] - 0.5 * STEP]])
    positions = lattice.locate_many(lons, lats)
    assert positions.shape == (2, 2)
    assert lattice.grid_codes(positions) == [code_of(0, 0), None, None, code_of(3, 3)]
    with pytest.raises(InvalidInput):
        lattice.locate_many([1.0, 2.0], [1.0])


def test_a_point_outside_every_district_raises_outside_city_naming_the_nearest_district():
    # Districts that are squares in Gauss-Krüger metres: 2.4 km due south of the centre
    # of 铜山区's southern edge, the nearest point of the city is that edge's midpoint.
    epsg = crs.utm_or_gk_crs_for(117.2)
    to_xy = Transformer.from_crs(4326, epsg, always_xy=True)
    to_ll = Transformer.from_crs(epsg, 4326, always_xy=True)
    tongshan = Place("320312", "铜山区", "district")
    gulou = Place("320302", "鼓楼区", "district")
    districts = [
        (tongshan.code, grid.square_around(117.20, 34.26, 2000.0)),
        (gulou.code, grid.square_around(117.20, 34.30, 2000.0)),
    ]
    index = AreaIndex.build([], {p.code: p for p in (tongshan, gulou)}, {}, districts)
    cx, cy = to_xy.transform(117.20, 34.26)
    lon, lat = to_ll.transform(cx, cy - 1000.0 - 2400.0)
    edge_lon, edge_lat = to_ll.transform(cx, cy - 1000.0)
    _, _, geodesic = GEOD.inv(lon, lat, edge_lon, edge_lat)

    with pytest.raises(OutsideCity) as caught:
        index.locate(lon, lat)
    error = caught.value
    assert isinstance(error, InvalidInput) and error.code == "outside_city"
    assert error.nearest == tongshan
    assert error.distance_m == pytest.approx(geodesic, rel=0.01)
    where = f"({lon:.6f}, {lat:.6f})"
    assert error.message == f"{where} is outside the city: the nearest district is 铜山区 (320312), 2.4 km away."
    assert error.as_dict()["code"] == "outside_city"
    assert index.nearest_district(lon, lat) == (tongshan, error.distance_m)
    assert index.nearest_district(117.20, 34.30) == (gulou, 0.0)


def test_a_gps_fix_at_zero_zero_is_outside_the_city_with_a_sane_distance(lattice):
    with pytest.raises(OutsideCity) as caught:
        lattice.locate(0.0, 0.0)
    # Far outside the projection zone the distance is the geodesic to the nearest vertex.
    _, _, expected = GEOD.inv(0.0, 0.0, VLON[0], VLAT[N])
    assert caught.value.nearest == GULOU
    assert caught.value.distance_m == pytest.approx(expected, rel=0.01)
    assert "km away" in caught.value.message


def test_coordinates_that_are_not_wgs84_are_invalid_input_not_outside_city(lattice):
    for lon, lat in [(math.nan, 34.0), (117.0, 95.0), (200.0, 34.0), ("east", 34.0)]:
        with pytest.raises(InvalidInput) as caught:
            lattice.locate(lon, lat)
        assert not isinstance(caught.value, OutsideCity)


def test_an_index_without_districts_says_so_when_a_point_is_outside():
    with pytest.raises(OutsideCity, match="no districts are loaded") as caught:
        AreaIndex.build([], {}, {}, []).locate(117.2, 34.26)
    assert caught.value.nearest is None


def test_build_refuses_duplicate_codes_missing_places_wrong_levels_and_non_polygons():
    grids, places, parents, districts, _ = lattice_inputs()
    with pytest.raises(InvalidInput, match="Duplicate grid"):
        AreaIndex.build([*grids, grids[0]], places, parents, districts)
    without = {k: v for k, v in places.items() if k != grids[0][0]}
    with pytest.raises(InvalidInput, match="No place given"):
        AreaIndex.build(grids, without, parents, districts)
    with pytest.raises(InvalidInput, match="level 'district'"):
        AreaIndex.build(grids, places, parents, [(STREET.code, districts[0][1])])
    with pytest.raises(InvalidInput, match="non-empty polygons"):
        AreaIndex.build([(grids[0][0], shapely.Point(117.2, 34.26))], places, parents, districts)


def test_a_self_intersecting_grid_is_repaired_not_rejected():
    x, y, s = 117.2, 34.2, 0.01
    bow_tie = shapely.Polygon([(x, y), (x + s, y + s), (x + s, y), (x, y + s), (x, y)])
    assert not bow_tie.is_valid
    g = Place("g1", "g1", "grid")
    d = Place("d1", "d1", "district")
    index = AreaIndex.build([("g1", bow_tie)], {"g1": g, "d1": d}, {"g1": "d1"}, [("d1", box(x, y, x + s, y + s))])
    # The bow tie's two triangles point at each other from the west and the east.
    assert index.locate(x + 0.2 * s, y + 0.5 * s).grid == g
    assert index.locate(x + 0.8 * s, y + 0.5 * s).grid == g
    assert index.locate(x + 0.5 * s, y + 0.2 * s).grid is None


# ------------------------------------------------------------ component index

CENTRE = (117.2, 34.26)
# (code, category, distance m, azimuth degrees) placed with the geodesic forward problem.
PLACED = [
    ("C01", "0101", 12.0, 30.0),
    ("C02", "0102", 3.0, 200.0),
    ("C03", "0101", 47.5, 95.0),
    ("C04", "0103", 25.0, 310.0),
    ("C05", "0101", 8.0, 170.0),
    ("C06", "0102", 50.5, 0.0),  # just outside 50 m
    ("C07", "0101", 120.0, 45.0),
    ("C08", "0103", 36.0, 250.0),
]


def placed_components(centre=CENTRE, placed=PLACED):
    lons, lats, _ = GEOD.fwd(
        [centre[0]] * len(placed), [centre[1]] * len(placed), [p[3] for p in placed], [p[2] for p in placed]
    )
    return [p[0] for p in placed], [p[1] for p in placed], lons, lats


@pytest.fixture(scope="module")
def components() -> ComponentIndex:
    codes, cats, lons, lats = placed_components()
    # Plenty of unrelated components around, so the buckets are not trivially small.
    rng = np.random.default_rng(5)
    far_lons = rng.uniform(116.9, 117.5, 5000)
    far_lats = rng.uniform(34.0, 34.5, 5000)
    keep = np.hypot((far_lons - CENTRE[0]) * 92_000, (far_lats - CENTRE[1]) * 111_000) > 500
    extra = int(keep.sum())
    return ComponentIndex.build(
        codes + [f"X{i}" for i in range(extra)],
        cats + ["0104"] * extra,
        np.concatenate([lons, far_lons[keep]]),
        np.concatenate([lats, far_lats[keep]]),
    )


def test_nearest_components_are_within_the_radius_nearest_first(components):
    found = components.nearest(*CENTRE, radius_m=50.0, limit=10)
    assert [c.code for c in found] == ["C02", "C05", "C01", "C04", "C08", "C03"]
    assert all(c.distance_m <= 50.0 for c in found)
    assert [c.distance_m for c in found] == sorted(c.distance_m for c in found)
    wider = components.nearest(*CENTRE, radius_m=51.0, limit=10)
    assert [c.code for c in wider][-1] == "C06"


def test_nearest_components_honour_category_and_limit(components):
    assert [c.code for c in components.nearest(*CENTRE, category="0101", radius_m=50.0)] == ["C05", "C01", "C03"]
    assert [c.code for c in components.nearest(*CENTRE, category="0101", radius_m=200.0, limit=4)] == [
        "C05",
        "C01",
        "C03",
        "C07",
    ]
    assert all(c.category == "0103" for c in components.nearest(*CENTRE, category="0103", radius_m=50.0))
    assert [c.code for c in components.nearest(*CENTRE, limit=2)] == ["C02", "C05"]
    assert components.nearest(*CENTRE, category="9999") == []
    assert components.nearest(120.0, 30.0, radius_m=10_000.0) == []


def test_nearest_component_distances_agree_with_the_geodesic(components):
    expected = {code: dist for code, _, dist, _ in PLACED}
    for c in components.nearest(*CENTRE, radius_m=200.0, limit=10):
        _, _, geodesic = GEOD.inv(CENTRE[0], CENTRE[1], c.lon, c.lat)
        assert c.distance_m == pytest.approx(geodesic, rel=0.005)
        assert c.distance_m == pytest.approx(expected[c.code], rel=1e-4)


def test_distances_near_the_edge_of_the_projection_zone_are_scale_corrected():
    # 1.45 degrees east of the central meridian (117E) the Gauss-Krüger scale is
    # ~1.00022; uncorrected planar distances would be 2.2e-4 too long.
    centre = (118.45, 34.3)
    codes, cats, lons, lats = placed_components(centre)
    index = ComponentIndex.build(codes, cats, lons, lats)
    found = index.nearest(*centre, radius_m=200.0, limit=10)
    assert len(found) == len(PLACED)
    for c in found:
        _, _, geodesic = GEOD.inv(centre[0], centre[1], c.lon, c.lat)
        assert c.distance_m == pytest.approx(geodesic, rel=5e-5)


def test_the_gauss_kruger_scale_factor_matches_proj():
    proj = Proj(4548)
    for lon in (117.0, 117.6, 118.4, 119.0):
        x, _ = proj(lon, 34.3)
        assert gk_scale_factor(x) == pytest.approx(proj.get_factors(lon, 34.3).meridional_scale, abs=1e-6)


def test_component_searches_refuse_bad_radius_limit_and_inputs(components):
    for kwargs in ({"radius_m": 0.0}, {"radius_m": -5.0}, {"radius_m": 20_000.0}, {"limit": 0}):
        with pytest.raises(InvalidInput):
            components.nearest(*CENTRE, **kwargs)
    with pytest.raises(InvalidInput):
        ComponentIndex.build(["a", "b"], ["x"], [117.0, 117.1], [34.0, 34.1])
    with pytest.raises(InvalidInput):
        ComponentIndex.build(["a"], ["x"], [math.nan], [34.0])
    empty = ComponentIndex.build([], [], [], [])
    assert empty.size == 0 and empty.nearest(*CENTRE) == []


# ------------------------------------------------- the real generated hierarchy


@pytest.fixture(scope="module")
def real_districts():
    path = grid.BUNDLED_GEO_DIR / "320300_xuzhou_districts.geojson"
    features = grid.load_geojson_features(path, transform=crs.gcj02_to_wgs84)
    return {props["adcode"]: (props, geom) for props, geom in features}


def test_every_generated_grid_of_gulou_locates_to_itself(real_districts):
    props, geom = real_districts["320302"]
    generated = grid.generate_hierarchy(
        geom,
        district_code="320302",
        district_name=props["name"],
        street_count=2,
        communities_per_street=2,
        clip_to=grid.square_around(117.18, 34.28, 2000.0),
    )
    places = {"320302": Place("320302", props["name"], "district")}
    parents: dict[str, str] = {}
    grids = []
    for area in generated.walk():
        places[area.code] = Place(area.code, area.name, area.level)
        parents[area.code] = area.code[:-3] if len(area.code) > 9 else "320302"
        if area.level == grid.LEVEL_GRID:
            grids.append((area.code, area.geometry))
    others = [(code, g) for code, (_, g) in real_districts.items() if code != "320302"]
    places |= {code: Place(code, p["name"], "district") for code, (p, _) in real_districts.items()}
    index = AreaIndex.build(grids, places, parents, [("320302", geom), *others])
    assert index.size == len(grids) > 100

    points = shapely.point_on_surface(np.asarray([g for _, g in grids], dtype=object))
    lons, lats = shapely.get_x(points), shapely.get_y(points)
    for (code, _), lon, lat in zip(grids, lons.tolist(), lats.tolist(), strict=True):
        loc = index.locate(lon, lat)
        assert loc.grid.code == code
        assert loc.community.code == code[:12] and loc.street.code == code[:9]
        assert loc.district.name == "鼓楼区"
    assert index.grid_codes(index.locate_many(lons, lats)) == [code for code, _ in grids]

    # Elsewhere in 鼓楼区 (outside the gridded core) and in 云龙区: a district, no grid.
    outside_core = shapely.point_on_surface(shapely.difference(geom, generated.region))
    loc = index.locate(outside_core.x, outside_core.y)
    assert loc.grid is None and loc.district.code == "320302"
    yunlong = shapely.point_on_surface(real_districts["320303"][1])
    assert index.locate(yunlong.x, yunlong.y).district.name == real_districts["320303"][0]["name"]


# ------------------------------------------------------------------ benchmark


def test_the_benchmark_at_a_tiny_size_reports_every_metric_and_agrees_with_brute_force():
    result = locate_bench.run(grids=400, components=2_000, points=1_000, seed=2)
    assert result["grids"] > 350 and result["components"] == 2_000 and result["districts"] == 4
    assert result["brute_agrees"] is True and result["brute_checked_corners"] == locate_bench.BRUTE_CORNERS
    timed = [
        "area_build_s",
        "component_build_s",
        "locate_median_us",
        "locate_p99_us",
        "locate_many_points_per_s",
        "nearest_median_us",
        "nearest_p99_us",
        "brute_locate_median_us",
        "brute_points_per_s",
        "brute_nearest_median_us",
        "area_tracemalloc_peak_mb",
        "component_tracemalloc_peak_mb",
    ]
    for key in timed:
        assert math.isfinite(result[key]) and result[key] > 0, key
    assert 0.8 < result["locate_many_in_grid_share"] < 0.95
    markdown = locate_bench.render_markdown(result)
    assert markdown.startswith("## Locating (spatial index)")
    assert "| metric | index | brute force | target | met? |" in markdown
    assert "`locate_many` throughput" in markdown and "≥ 200,000" in markdown


def test_the_synthetic_city_tiles_without_gaps_or_overlaps():
    city = locate_bench.synthetic_city(grids=900, components=10, points=10, seed=4)
    polygons = np.asarray([g for _, g in city.grids], dtype=object)
    areas = shapely.area(polygons)
    union = shapely.union_all(polygons)
    # Overlaps would make the union smaller than the sum; the park is the only hole.
    assert union.area == pytest.approx(areas.sum(), rel=1e-9)
    districts = shapely.union_all([g for _, g in city.districts])
    park = districts.area - union.area
    assert 0.005 * districts.area < park < 0.03 * districts.area
    assert len({code for code, _ in city.grids}) == len(city.grids)


def test_the_benchmark_command_prints_the_markdown(capsys):
    assert locate_bench.main(["--grids", "100", "--components", "500", "--points", "300"]) == 0
    assert capsys.readouterr().out.startswith("## Locating (spatial index)")


def test_grids_in_a_box_are_the_ones_it_touches_in_code_order():
    from shapely.geometry import box as square

    from citykeeper.spatial.index import AreaIndex, Place

    cells = {f"32030200100100{i}": square(117.0 + 0.01 * i, 34.0, 117.01 + 0.01 * i, 34.01) for i in range(1, 6)}
    places = {code: Place(code, code, "grid") for code in cells}
    places["320302"] = Place("320302", "鼓楼区", "district")
    index = AreaIndex.build(list(cells.items()), places, {}, [("320302", square(117.0, 34.0, 117.07, 34.01))])
    found = index.grids_in(117.025, 34.001, 117.035, 34.002)
    assert [code for code, _ in found] == ["320302001001002", "320302001001003"]
    assert found[0][1].equals(cells["320302001001002"])
