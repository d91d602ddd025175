"""Topology checks, repairs and code generation for an area layer before import.

Layers are built in metres in the CGCS2000 Gauss-Krüger zone of 徐州 (CM 117E) and
converted to WGS84 lon/lat, as an import file would deliver them, so every constructed
overlap, gap or protrusion has a known area in m². The last tests run the checks on
the real 常州 district boundaries shipped in src/citykeeper/data/geo.
"""

from __future__ import annotations

import dataclasses
import re

import pytest
from shapely.geometry import LineString, Point, Polygon, box

from citykeeper.domain.errors import InvalidInput
from citykeeper.spatial import crs, grid, topology
from citykeeper.spatial.topology import AreaFeature, Problem, check_layer, fix_layer

EPSG = crs.utm_or_gk_crs_for(117.2)
_ORIGIN = crs.to_projected(Point(117.2, 34.26), EPSG)
# North-west corner of every test layer, on a 100 m multiple of the projection.
X0 = round(_ORIGIN.x, -2)
Y0 = round(_ORIGIN.y, -2)
CELL = 100.0

STREET = "320302001"
COMMUNITY = "320302001001"


def ll(geom_xy):
    """Metres in the test zone -> WGS84 lon/lat."""
    return crs.to_lonlat(geom_xy, EPSG)


def cell_xy(row: int, col: int, cell: float = CELL):
    """The lattice cell at row (0 = northernmost) and col (0 = westernmost), in metres."""
    return box(X0 + col * cell, Y0 - (row + 1) * cell, X0 + (col + 1) * cell, Y0 - row * cell)


def rect_xy(rows: int, cols: int, cell: float = CELL):
    return box(X0, Y0 - rows * cell, X0 + cols * cell, Y0)


def lattice(rows: int = 3, cols: int = 3, *, community: str = COMMUNITY, codes: bool = True) -> list[AreaFeature]:
    """rows x cols grid cells of 100 m, numbered (and coded) in reading order."""
    features = []
    for k in range(rows * cols):
        row, col = divmod(k, cols)
        code = f"{community}{k + 1:03d}" if codes else None
        features.append(AreaFeature(k + 1, code, "", "grid", community, ll(cell_xy(row, col))))
    return features


def community_parent(rows: int = 3, cols: int = 3) -> dict[str, object]:
    return {COMMUNITY: ll(rect_xy(rows, cols))}


def replace(features: list[AreaFeature], number: int, geom_xy) -> None:
    features[number - 1] = dataclasses.replace(features[number - 1], geometry=ll(geom_xy))


def of_kind(problems: list[Problem], kind: str) -> list[Problem]:
    return [p for p in problems if p.kind == kind]


def lonlat_of(x: float, y: float) -> tuple[float, float]:
    p = ll(Point(x, y))
    return p.x, p.y


def assert_near(location: tuple[float, float] | None, x: float, y: float, metres: float) -> None:
    """location (lon, lat) lies within `metres` of the projected point (x, y)."""
    assert location is not None
    p = crs.to_projected(Point(*location), EPSG)
    assert p.distance(Point(x, y)) <= metres, (location, p, (x, y))


# ------------------------------------------------------------------ a clean layer


def test_a_clean_three_by_three_lattice_has_no_problems():
    assert check_layer(lattice(), parents=community_parent()) == []


def test_a_hundred_by_hundred_lattice_of_ten_thousand_grids_has_no_problems():
    # 100 communities of 10 x 10 grids, each community a 1 km square of the street.
    features, parents = [], {}
    for block in range(100):
        b_row, b_col = divmod(block, 10)
        community = f"{STREET}{block + 1:03d}"
        parents[community] = ll(
            box(X0 + b_col * 1000, Y0 - (b_row + 1) * 1000, X0 + (b_col + 1) * 1000, Y0 - b_row * 1000)
        )
        for k in range(100):
            row, col = divmod(k, 10)
            geom = ll(cell_xy(b_row * 10 + row, b_col * 10 + col))
            features.append(AreaFeature(len(features) + 1, f"{community}{k + 1:03d}", "", "grid", None, geom))
    assert len(features) == 10_000
    assert check_layer(features, parents=parents) == []


def test_a_problem_reads_as_feature_number_code_and_reason():
    problem = Problem(12, "320302001001004", "overlaps feature 13 (320302001001005) by 35.2 m² near (117.1, 34.2)")
    assert str(problem) == (
        "feature 12 (320302001001004): overlaps feature 13 (320302001001005) by 35.2 m² near (117.1, 34.2)"
    )
    assert str(Problem(None, STREET, "gap of 3.0 m²")) == f"{STREET}: gap of 3.0 m²"


# ------------------------------------------------------------------------- codes


def test_generated_codes_follow_reading_order_north_row_first_west_to_east():
    features = lattice(codes=False)
    # Shuffle the file order so that the numbering cannot simply follow it.
    shuffled = [features[i] for i in (4, 8, 0, 6, 2, 7, 1, 5, 3)]
    fixes = topology.assign_codes(shuffled, level="grid")
    assert [f.code for f in features] == [f"{COMMUNITY}{k:03d}" for k in range(1, 10)]
    assert len(fixes) == 9
    assert {fx.number: fx.code for fx in fixes} == {f.number: f.code for f in features}
    assert check_layer(features, parents=community_parent()) == []


def test_generated_codes_follow_reading_order_with_a_missing_and_a_merged_cell():
    # Row 0: three cells; row 1: the west cell missing; row 2: one cell, then a double-width cell.
    cells = {
        "a": cell_xy(0, 0),
        "b": cell_xy(0, 1),
        "c": cell_xy(0, 2),
        "d": cell_xy(1, 1),
        "e": cell_xy(1, 2),
        "f": cell_xy(2, 0),
        "g": box(X0 + 100, Y0 - 300, X0 + 300, Y0 - 200),
    }
    names = ["g", "e", "a", "f", "c", "d", "b"]  # file order, deliberately not reading order
    features = [AreaFeature(n, None, name, "grid", COMMUNITY, ll(cells[name])) for n, name in enumerate(names, 1)]
    topology.assign_codes(features, level="grid")
    by_name = {f.name: f.code[-3:] for f in features}
    assert by_name == {"a": "001", "b": "002", "c": "003", "d": "004", "e": "005", "f": "006", "g": "007"}


def test_generated_codes_continue_after_the_highest_existing_sibling():
    features = lattice(codes=False)
    features[0].code = f"{COMMUNITY}007"  # a coded sibling in the file
    features[1].code = ""  # "" counts as missing
    fixes = topology.assign_codes(features, level="grid", existing_codes=[f"{COMMUNITY}012", "320302001002999"])
    # 012 in the tree is the highest sibling (002999 belongs to another community).
    assert [f.code[-3:] for f in features] == ["007", "013", "014", "015", "016", "017", "018", "019", "020"]
    assert len(fixes) == 8
    assert "sequence 13" in fixes[0].change


def test_code_generation_refuses_to_go_beyond_999_and_changes_nothing():
    features = lattice(codes=False)
    with pytest.raises(InvalidInput) as info:
        topology.assign_codes(features, level="grid", existing_codes=[f"{COMMUNITY}995"])
    problems = info.value.params["problems"]
    assert len(problems) == 1
    assert problems[0].code == COMMUNITY
    assert "996 to 1004" in problems[0].reason
    assert all(f.code is None for f in features)
    # 991 + 9 new = 999 exactly still fits.
    topology.assign_codes(features, level="grid", existing_codes=[f"{COMMUNITY}990"])
    assert features[-1].code == f"{COMMUNITY}999"


def test_district_codes_are_never_generated():
    with pytest.raises(InvalidInput):
        topology.assign_codes(lattice(codes=False), level="district")


def test_duplicate_codes_within_the_layer_name_every_feature_sharing_them():
    features = lattice()
    features[4].code = features[1].code
    features[8].code = features[1].code
    duplicates = of_kind(check_layer(features, parents=community_parent()), "duplicate_code")
    assert len(duplicates) == 1
    assert duplicates[0].number == 2
    assert duplicates[0].related == (5, 9)
    assert "used by 3 features: 2, 5, 9" in duplicates[0].reason


def test_codes_already_in_the_area_tree_are_reported():
    problems = check_layer(lattice(), parents=community_parent(), existing_codes={f"{COMMUNITY}003", "999"})
    assert [(p.number, p.kind) for p in problems] == [(3, "existing_code")]


def test_codes_of_wrong_length_non_digits_wrong_prefix_and_sequence_000_are_reported():
    features = lattice()
    features[0].code = "32030200100101"  # 14 digits
    features[1].code = "32030200100100A"
    features[2].code = "320302001002003"  # another community
    features[3].code = f"{COMMUNITY}000"
    features[4].code = None
    problems = check_layer(features, parents=community_parent())
    bad = {p.number: p.reason for p in problems if p.kind in ("bad_code", "wrong_prefix", "missing_code")}
    assert set(bad) == {1, 2, 3, 4, 5}
    assert "has 14 digits; a grid code has 15" in bad[1]
    assert "only the digits" in bad[2]
    assert f"does not start with {COMMUNITY}" in bad[3]
    assert "sequence 000" in bad[4]
    assert "has no code" in bad[5]
    # Wrong prefix is reported whether the parent comes from the file or from containment.
    features[2].parent_code = None
    problems = check_layer(features, parents=community_parent())
    assert any(p.number == 3 and p.kind == "wrong_prefix" and "containing it" in p.reason for p in problems)


def test_unknown_and_missing_parents_are_reported():
    features = lattice()
    features[0].parent_code = "320302001099"  # not in the tree
    far = box(X0 + 5000, Y0 - 100, X0 + 5100, Y0)
    features.append(AreaFeature(10, None, "", "grid", None, ll(far)))
    problems = check_layer(features, parents=community_parent())
    kinds = {(p.number, p.kind) for p in problems}
    assert (1, "unknown_parent") in kinds
    assert (10, "missing_parent") in kinds
    missing = next(p for p in problems if p.kind == "missing_parent")
    assert_near(missing.location, X0 + 5050, Y0 - 50, 60)


def test_parents_are_assigned_from_the_code_prefix_or_by_the_largest_overlap():
    # Two communities side by side; a grid straddling them, 70 % in the eastern one.
    west, east = f"{STREET}001", f"{STREET}002"
    parents = {west: ll(rect_xy(1, 3)), east: ll(box(X0 + 300, Y0 - 100, X0 + 600, Y0))}
    features = [
        AreaFeature(1, f"{east}004", "", "grid", None, ll(cell_xy(0, 0))),  # the code decides
        AreaFeature(2, None, "", "grid", None, ll(box(X0 + 270, Y0 - 100, X0 + 370, Y0))),
        AreaFeature(3, None, "", "grid", None, ll(box(X0 + 9000, Y0 - 100, X0 + 9100, Y0))),
    ]
    problems = topology.assign_parents(features, parents=parents)
    assert [f.parent_code for f in features] == [east, east, None]
    assert [(p.number, p.kind) for p in problems] == [(3, "missing_parent")]


def test_responsibility_grids_need_no_tiling_but_must_lie_inside_one_street_and_have_unique_codes():
    parents = {"320302": ll(rect_xy(10, 10)), STREET: ll(rect_xy(3, 3))}
    features = [
        AreaFeature(1, "巡查A", "巡查A组", "responsibility", None, ll(rect_xy(1, 2))),
        AreaFeature(2, "巡查A", "巡查B组", "responsibility", None, ll(box(X0, Y0 - 200, X0 + 100, Y0 - 100))),
        AreaFeature(3, "", "巡查C组", "responsibility", STREET, ll(box(X0 + 250, Y0 - 300, X0 + 310, Y0 - 200))),
    ]
    problems = check_layer(features, parents=parents)
    kinds = sorted((p.number, p.kind) for p in problems)
    # No gap reports although most of the street is uncovered.
    assert kinds == [(1, "duplicate_code"), (3, "missing_code"), (3, "outside_parent")]
    outside = of_kind(problems, "outside_parent")[0]
    assert outside.area_m2 == pytest.approx(10 * 100, rel=0.01)
    # The first two lie in the street and in its district equally: the smaller parent wins.
    topology.assign_parents(features, parents=parents)
    assert [f.parent_code for f in features[:2]] == [STREET, STREET]


# ---------------------------------------------------------------------- geometry


def test_a_bow_tie_is_reported_as_self_intersecting_at_its_crossing():
    features = lattice()
    x, y = X0 + 100, Y0 - 200  # cell 5's south-west corner
    bow_tie = Polygon([(x, y), (x + 100, y + 100), (x + 100, y), (x, y + 100)])
    replace(features, 5, bow_tie)
    problems = check_layer(features, parents=community_parent())
    invalid = of_kind(problems, "invalid_geometry")
    assert [p.number for p in invalid] == [5]
    assert "self-intersection" in invalid[0].reason
    assert_near(invalid[0].location, x + 50, y + 50, 0.2)  # 6 decimals ≈ 0.1 m
    lon, lat = invalid[0].location
    assert f"({lon:.6f}, {lat:.6f})" in invalid[0].reason


@pytest.mark.parametrize(
    ("ring", "words"),
    [
        ([(0, 0), (100, 0), (50, 50), (100, 100), (0, 100), (50, 50)], "ring self-intersection"),
        ([(0, 0), (100, 100), (0, 0), (0, 0)], "too few points"),
    ],
)
def test_other_invalid_rings_are_reported_with_the_geos_reason(ring, words):
    features = lattice()
    replace(features, 5, Polygon([(X0 + 100 + x, Y0 - 200 + y) for x, y in ring]))
    invalid = of_kind(check_layer(features, parents=community_parent()), "invalid_geometry")
    assert [p.number for p in invalid] == [5]
    assert words in invalid[0].reason


def test_empty_line_and_projected_geometries_are_reported():
    features = lattice()
    features[0].geometry = Polygon()
    features[1].geometry = ll(LineString([(X0 + 100, Y0), (X0 + 200, Y0 - 100)]))
    features[2].geometry = cell_xy(0, 2)  # metres, never converted to lon/lat
    problems = check_layer(features, parents=community_parent())
    kinds = {(p.number, p.kind) for p in problems}
    assert {(1, "empty_geometry"), (2, "not_polygonal"), (3, "not_lonlat")} <= kinds
    # The three cells they should have filled are a gap, found in the same pass.
    gaps = of_kind(problems, "gap")
    assert sum(p.area_m2 for p in gaps) == pytest.approx(3 * CELL * CELL, rel=0.01)


# ------------------------------------------------------------ overlaps and gaps


def test_an_overlap_is_reported_with_both_feature_numbers_its_area_and_a_point_inside_it():
    features = lattice()
    # Cell 5 (centre) pushed 7 m west into cell 4: 700 m².
    replace(features, 5, box(X0 + 93, Y0 - 200, X0 + 200, Y0 - 100))
    problems = check_layer(features, parents=community_parent())
    overlaps = of_kind(problems, "overlap")
    assert len(overlaps) == 1
    assert (overlaps[0].number, overlaps[0].related) == (4, (5,))
    assert overlaps[0].area_m2 == pytest.approx(700, rel=0.01)
    assert "overlaps feature 5" in overlaps[0].reason and "700.0 m²" in overlaps[0].reason
    assert_near(overlaps[0].location, X0 + 96.5, Y0 - 150, 51)
    x = crs.to_projected(Point(*overlaps[0].location), EPSG).x
    assert X0 + 93 <= x <= X0 + 100


def test_a_grid_inside_another_and_an_exact_duplicate_are_overlaps():
    features = lattice()
    features.append(
        AreaFeature(10, f"{COMMUNITY}010", "", "grid", COMMUNITY, ll(box(X0 + 20, Y0 - 80, X0 + 60, Y0 - 20)))
    )
    features.append(AreaFeature(11, f"{COMMUNITY}011", "", "grid", COMMUNITY, features[8].geometry))
    overlaps = of_kind(check_layer(features, parents=community_parent()), "overlap")
    found = {(p.number, p.related[0]): p.area_m2 for p in overlaps}
    assert found.keys() == {(1, 10), (9, 11)}
    assert found[(1, 10)] == pytest.approx(40 * 60, rel=0.01)
    assert found[(9, 11)] == pytest.approx(CELL * CELL, rel=0.01)


def test_overlaps_and_gaps_below_the_tolerance_are_not_reported():
    features = lattice()
    replace(features, 5, box(X0 + 99.99, Y0 - 200, X0 + 200, Y0 - 100))  # 1 m² overlap
    replace(features, 9, box(X0 + 200.005, Y0 - 300, X0 + 300, Y0 - 200))  # 0.5 m² gap
    parents = community_parent()
    assert check_layer(features, parents=parents, tolerance_m2=1.5) == []
    kinds = sorted(p.kind for p in check_layer(features, parents=parents, tolerance_m2=0.1))
    assert kinds == ["gap", "overlap"]


def test_a_missing_cell_is_reported_as_a_gap_of_its_area_unless_tiling_is_not_required():
    features = lattice()
    del features[4]
    gaps = of_kind(check_layer(features, parents=community_parent()), "gap")
    assert len(gaps) == 1
    assert gaps[0].number is None and gaps[0].code == COMMUNITY
    assert gaps[0].area_m2 == pytest.approx(CELL * CELL, rel=0.01)
    assert_near(gaps[0].location, X0 + 150, Y0 - 150, 50)
    assert "not covered by any of its 8 grids" in gaps[0].reason
    assert check_layer(features, parents=community_parent(), require_tiling=False) == []


def test_gap_reports_are_capped_at_twenty_per_parent_plus_a_count_of_the_rest():
    # 25 grids of a 5 x 5 community each shrunk by a 2 m x 2 m notch at their south-east corner.
    features = []
    for k in range(25):
        row, col = divmod(k, 5)
        cell = cell_xy(row, col)
        notch = box(cell.bounds[2] - 2, cell.bounds[1], cell.bounds[2], cell.bounds[1] + 2)
        geom = ll(cell.difference(notch))
        features.append(AreaFeature(k + 1, f"{COMMUNITY}{k + 1:03d}", "", "grid", COMMUNITY, geom))
    problems = check_layer(features, parents=community_parent(5, 5))
    gaps = of_kind(problems, "gap")
    assert len(gaps) == topology.MAX_GAPS_PER_PARENT
    assert all(p.area_m2 == pytest.approx(4.0, rel=0.01) for p in gaps)
    (rest,) = of_kind(problems, "gap_count")
    assert "5 more gaps" in rest.reason
    assert rest.area_m2 == pytest.approx(20.0, rel=0.01)


def test_a_child_ten_metres_outside_its_parent_is_reported():
    features = lattice()
    replace(features, 3, box(X0 + 200, Y0 - 100, X0 + 310, Y0))  # north-east cell, 10 m too far east
    problems = check_layer(features, parents=community_parent())
    (outside,) = of_kind(problems, "outside_parent")
    assert outside.number == 3
    assert outside.area_m2 == pytest.approx(10 * CELL, rel=0.01)
    assert "reaching 10.0 m beyond" in outside.reason
    x = crs.to_projected(Point(*outside.location), EPSG).x
    assert X0 + 300 <= x <= X0 + 310


# -------------------------------------------------------------------------- fix


def test_fix_repairs_a_two_square_metre_overlap_and_a_small_gap_and_reports_both():
    features = lattice()
    replace(features, 5, box(X0 + 99.98, Y0 - 200, X0 + 200, Y0 - 100))  # 2 m² over cell 4
    # The community bulges 0.2 m south under the east half of cell 7 and all of cell 8:
    # a 30 m² gap sharing 50 m of boundary with cell 7 and 100 m with cell 8.
    parents = {COMMUNITY: ll(rect_xy(3, 3).union(box(X0 + 50, Y0 - 300.2, X0 + 200, Y0 - 300)))}
    before = check_layer(features, parents=parents)
    assert sorted(p.kind for p in before) == ["gap", "overlap"]

    fixed, fixes = fix_layer(features, parents=parents)
    assert check_layer(fixed, parents=parents) == []
    assert [(fx.number, fx.kind) for fx in fixes] == [(5, "overlap_removed"), (8, "gap_filled")]
    assert fixes[0].area_m2 == pytest.approx(2.0, rel=0.01)
    assert fixes[1].area_m2 == pytest.approx(30.0, rel=0.01)
    assert "overlapping feature 4" in fixes[0].change
    assert "sharing 100.0 m of boundary" in fixes[1].change
    assert all(fx.location is not None for fx in fixes)
    # The later feature lost the overlap; the neighbour sharing the longer edge took the gap.
    assert topology.area_m2(fixed[4].geometry) == pytest.approx(CELL * CELL, rel=1e-5)
    assert topology.area_m2(fixed[6].geometry) == pytest.approx(CELL * CELL, rel=1e-5)
    assert topology.area_m2(fixed[7].geometry) == pytest.approx(CELL * CELL + 30.0, rel=1e-5)


def test_fix_leaves_a_500_square_metre_overlap_for_check_layer():
    features = lattice()
    replace(features, 5, box(X0 + 95, Y0 - 200, X0 + 200, Y0 - 100))  # 500 m²
    parents = community_parent()
    fixed, fixes = fix_layer(features, parents=parents)
    assert fixes == []
    assert [f.geometry for f in fixed] == [f.geometry for f in features]
    overlaps = of_kind(check_layer(fixed, parents=parents), "overlap")
    assert [(p.number, p.related) for p in overlaps] == [(4, (5,))]
    assert overlaps[0].area_m2 == pytest.approx(500, rel=0.01)


def test_fix_makes_a_small_self_intersection_valid_but_leaves_a_large_bow_tie():
    features = lattice()
    # Cell 5 with a twist at its north-east corner: the ring overshoots the corner and
    # crosses itself there, leaving a 2 m² loop outside the cell (over cell 3).
    x1, y1 = X0 + 200, Y0 - 100
    twisted = Polygon([(x1 - 100, y1 - 100), (x1, y1 - 100), (x1, y1 + 2), (x1 + 2, y1), (x1 - 100, y1)])
    assert not twisted.is_valid
    replace(features, 5, twisted)
    big_bow_tie = Polygon([(X0, Y0 - 100), (X0 + 100, Y0), (X0 + 100, Y0 - 100), (X0, Y0)])
    replace(features, 1, big_bow_tie)
    parents = community_parent()
    fixed, fixes = fix_layer(features, parents=parents, max_fix_m2=50)
    made_valid = of_kind(fixes, "made_valid")  # type: ignore[arg-type]
    assert [fx.number for fx in made_valid] == [5]
    assert re.search(
        r"made valid \(self-intersection at \(117\.\d{6}, 34\.\d{6}\)\): area [\d.]+ → [\d.]+ m²", made_valid[0].change
    )
    assert fixed[4].geometry.is_valid
    assert fixed[0].geometry is features[0].geometry
    invalid = of_kind(check_layer(fixed, parents=parents), "invalid_geometry")
    assert [p.number for p in invalid] == [1]


def test_fix_clips_a_small_part_outside_the_parent_but_not_a_large_one():
    features = lattice()
    replace(features, 3, box(X0 + 200, Y0 - 100, X0 + 300.3, Y0))  # 30 m² outside
    replace(features, 9, box(X0 + 200, Y0 - 300, X0 + 310, Y0 - 200))  # 1000 m² outside
    parents = community_parent()
    fixed, fixes = fix_layer(features, parents=parents)
    assert [(fx.number, fx.kind) for fx in fixes] == [(3, "clipped")]
    assert fixes[0].area_m2 == pytest.approx(30, rel=0.01)
    assert [(p.number, p.kind) for p in check_layer(fixed, parents=parents)] == [(9, "outside_parent")]


def test_fix_returns_new_features_and_leaves_its_input_alone():
    features = lattice()
    replace(features, 5, box(X0 + 99.98, Y0 - 200, X0 + 200, Y0 - 100))
    originals = [(f.code, f.geometry) for f in features]
    fixed, fixes = fix_layer(features, parents=community_parent())
    assert fixes
    assert all(a is not b for a, b in zip(fixed, features, strict=True))
    assert [(f.code, f.geometry) for f in features] == originals
    assert fixed[4].geometry is not features[4].geometry


# --------------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def changzhou():
    transform = crs.gcj02_to_wgs84
    districts = grid.load_geojson_features(
        grid.BUNDLED_GEO_DIR / "320400_changzhou_districts.geojson", transform=transform
    )
    ((city_props, city),) = grid.load_geojson_features(
        grid.BUNDLED_GEO_DIR / "320400_changzhou_city.geojson", transform=transform
    )
    features = [
        AreaFeature(n, props["adcode"], props["name"], "district", None, geom)
        for n, (props, geom) in enumerate(districts, start=1)
    ]
    return features, {city_props["adcode"]: city}


def test_the_real_changzhou_districts_tile_the_city_at_the_default_tolerance(changzhou):
    features, parents = changzhou
    assert len(features) == 6
    assert check_layer(features, parents=parents) == []
    # The parent of each district is found from its code: 320402 lies under 320400.
    copies = [dataclasses.replace(f) for f in features]
    assert topology.assign_parents(copies, parents=parents) == []
    assert {f.parent_code for f in copies} == {"320400"}


def test_the_real_changzhou_boundaries_only_have_numerical_slivers(changzhou):
    # With no tolerance at all, three slivers where district edges run a hair outside
    # the city outline show up, each below 5e-6 m² (gaps thinner than the millimetre
    # the gap polygons are snapped to are not counted). There are no overlaps. So these
    # boundaries need a tolerance of 1e-5 m²; the default 1 m² has five orders to spare.
    features, parents = changzhou
    problems = check_layer(features, parents=parents, tolerance_m2=0.0)
    assert problems
    assert {p.kind for p in problems} <= {"gap", "gap_count", "outside_parent"}
    assert max(p.area_m2 for p in problems) < 1e-5
    assert check_layer(features, parents=parents, tolerance_m2=1e-5) == []


def test_the_real_zhuhai_districts_leave_the_documented_islands_of_the_city_uncovered():
    # data/geo/SOURCES.md: Zhuhai's districts differ from its outline by 0.05 % of the area.
    transform = crs.gcj02_to_wgs84
    districts = grid.load_geojson_features(
        grid.BUNDLED_GEO_DIR / "440400_zhuhai_districts.geojson", transform=transform
    )
    ((_, city),) = grid.load_geojson_features(grid.BUNDLED_GEO_DIR / "440400_zhuhai_city.geojson", transform=transform)
    features = [
        AreaFeature(n, props["adcode"], props["name"], "district", None, geom)
        for n, (props, geom) in enumerate(districts, start=1)
    ]
    problems = check_layer(features, parents={"440400": city})
    assert {p.kind for p in problems} == {"gap"}
    uncovered = sum(p.area_m2 for p in problems)
    assert uncovered / topology.area_m2(city) == pytest.approx(0.0005, abs=0.0001)
