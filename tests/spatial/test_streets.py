"""The synthetic lattice street network and street-furniture placement.

The main region is the demo's 3 km core of 云龙区 (a square in Gauss-Krüger metres
around 117.215E 34.26N, see demo/city.py). Every geometric check is made in metres in
the Gauss-Krüger zone the generator works in.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pytest
import shapely
from shapely.geometry import Point

from citykeeper.domain.errors import InvalidInput
from citykeeper.spatial import crs, grid
from citykeeper.spatial.address import Gazetteer, Road
from citykeeper.spatial.streets import DOORPLATE_OFFSET_M, generate_street_network, points_along

YUNLONG_ROADS = ("淮海东路", "建国东路", "和平路", "民主南路", "解放南路", "子房路", "大马路", "户部山路")
CENTRE = (117.215, 34.26)
SPACING = 300.0
STEP = 20.0
EPSG = crs.utm_or_gk_crs_for(CENTRE[0])
TOL = 1e-3  # metres: what survives the lon/lat round trip of a coordinate


@pytest.fixture(scope="module")
def region():
    return grid.square_around(*CENTRE, 3000.0)


@pytest.fixture(scope="module")
def network(region):
    return generate_street_network(region, road_names=YUNLONG_ROADS, seed=7)


def xy(lon: float, lat: float) -> tuple[float, float]:
    p = crs.to_projected(Point(lon, lat), EPSG)
    return p.x, p.y


def road_axis(road: Road) -> tuple[str, float]:
    """('ew', y) or ('ns', x) of a road lying on one lattice line."""
    coords = shapely.get_coordinates(crs.to_projected(road.geometry, EPSG))
    if np.ptp(coords[:, 1]) < TOL:
        return "ew", float(coords[0, 1])
    assert np.ptp(coords[:, 0]) < TOL, road.name
    return "ns", float(coords[0, 0])


def test_roads_run_along_lattice_lines_every_spacing(network):
    axes = [road_axis(r) for r in network.roads]
    for _, c in axes:
        assert abs(c / SPACING - round(c / SPACING)) * SPACING < TOL
    ew = sorted(c for d, c in axes if d == "ew")
    ns = sorted(c for d, c in axes if d == "ns")
    # A 3 km square holds 10 lattice lines each way (none on its edges here).
    assert len(ew) == len(ns) == 10
    assert np.allclose(np.diff(ew), SPACING, atol=TOL)
    assert np.allclose(np.diff(ns), SPACING, atol=TOL)


def test_road_lines_also_follow_the_100_m_unit_grid_cell_borders(network):
    for road in network.roads:
        _, c = road_axis(road)
        assert abs(c / 100.0 - round(c / 100.0)) * 100.0 < TOL


def test_road_names_are_distinct_and_the_given_names_go_by_direction(network):
    names = [r.name for r in network.roads]
    assert len(set(names)) == len(names)
    assert set(YUNLONG_ROADS) <= set(names)
    direction = {r.name: road_axis(r)[0] for r in network.roads}
    assert direction["淮海东路"] == direction["建国东路"] == "ew"
    assert direction["民主南路"] == direction["解放南路"] == "ns"
    # The rest are grid-city names: 经 for north-south, 纬 for east-west.
    for name in set(names) - set(YUNLONG_ROADS):
        assert name[0] == ("经" if direction[name] == "ns" else "纬"), name


def test_ring_road_parts_and_one_character_stems_are_read_for_their_direction(region):
    names = ("二环西路", "二环北路", "湖北路", "矿山路")
    net = generate_street_network(region, road_names=names, seed=2)
    direction = {r.name: road_axis(r)[0] for r in net.roads}
    assert (direction["二环西路"], direction["二环北路"]) == ("ns", "ew")
    # 湖北路 and 矿山路 carry no direction: one fills each side.
    assert {direction["湖北路"], direction["矿山路"]} == {"ns", "ew"}


def test_given_names_go_to_the_roads_nearest_the_centre(network):
    cx, cy = xy(*CENTRE)
    for road in network.roads:
        d, c = road_axis(road)
        offset = abs(c - (cy if d == "ew" else cx))
        if road.name in YUNLONG_ROADS:
            assert offset < 2 * SPACING, road.name
        else:
            assert offset > SPACING, road.name


def test_everything_lies_inside_the_region(network, region):
    tolerant = region.buffer(1e-7)  # ~1 cm: road ends lie on the outline
    assert all(tolerant.covers(r.geometry) for r in network.roads)
    assert all(region.contains(Point(d.lon, d.lat)) for d in network.doorplates)
    assert all(region.contains(Point(p.lon, p.lat)) for p in network.pois)


def plates_by_road_and_side(network) -> dict[tuple[str, int], list[tuple[int, float, float]]]:
    """(road, parity) -> [(number, position along, signed offset from the centre line)]."""
    axes = {r.name: road_axis(r) for r in network.roads}
    sides: dict[tuple[str, int], list[tuple[int, float, float]]] = defaultdict(list)
    for plate in network.doorplates:
        d, c = axes[plate.road]
        x, y = xy(plate.lon, plate.lat)
        along, offset = (x, y - c) if d == "ew" else (y, x - c)
        sides[(plate.road, int(plate.number) % 2)].append((int(plate.number), along, offset))
    return sides


def test_odd_numbers_are_on_the_left_and_even_on_the_right_8_m_from_the_centre_line(network):
    axes = {r.name: road_axis(r) for r in network.roads}
    for (road, parity), plates in plates_by_road_and_side(network).items():
        # Left of travel: north of an eastbound road (+y), west of a northbound one (-x).
        left = 1.0 if axes[road][0] == "ew" else -1.0
        expected = left * DOORPLATE_OFFSET_M if parity == 1 else -left * DOORPLATE_OFFSET_M
        assert all(abs(offset - expected) < TOL for _, _, offset in plates), (road, parity)


def test_each_side_is_numbered_without_gaps_from_the_west_or_south_end_every_step(network):
    sides = plates_by_road_and_side(network)
    assert len(sides) == 2 * len(network.roads)
    for (road, parity), plates in sides.items():
        plates.sort()
        numbers = [n for n, _, _ in plates]
        assert numbers == list(range(2 - parity, 2 * len(plates) + 1, 2)), (road, parity)
        along = np.array([a for _, a, _ in plates])
        assert np.allclose(np.diff(along), STEP, atol=TOL), (road, parity)


def test_doorplates_keep_clear_of_crossing_carriageways(network):
    for plates in plates_by_road_and_side(network).values():
        for _, along, _ in plates:
            to_crossing = abs(along - round(along / SPACING) * SPACING)
            assert to_crossing > DOORPLATE_OFFSET_M


def test_pois_are_distinct_and_sit_one_per_block_inside_the_blocks(network):
    names = [p.name for p in network.pois]
    assert len(set(names)) == len(names)
    # By default one per four blocks: the square is not aligned with the lattice, so
    # 9 x 9 of its cells lie wholly inside.
    assert len(network.pois) == 81 // 4
    assert {p.kind for p in network.pois} <= {"小区", "学校", "医院", "公园", "广场", "商场", "地铁站"}
    blocks = set()
    for poi in network.pois:
        x, y = xy(poi.lon, poi.lat)
        block = (math.floor(x / SPACING), math.floor(y / SPACING))
        assert block not in blocks
        blocks.add(block)
        # Within a quarter spacing of the block centre, so never on a road.
        assert abs(x - (block[0] + 0.5) * SPACING) <= SPACING / 4 + TOL
        assert abs(y - (block[1] + 0.5) * SPACING) <= SPACING / 4 + TOL


def test_given_poi_names_are_used_first_then_generated_ones(region):
    given = [("彭城广场", "广场"), ("云龙公园南门", "公园")]
    net = generate_street_network(region, road_names=YUNLONG_ROADS, seed=1, poi_names=given, poi_count=5)
    assert [(p.name, p.kind) for p in net.pois][:2] == given
    assert len(net.pois) == 5
    assert len({p.name for p in net.pois}) == 5


def test_the_same_seed_gives_the_same_network_and_another_seed_another(region, network):
    again = generate_street_network(region, road_names=YUNLONG_ROADS, seed=7)
    assert again == network
    other = generate_street_network(region, road_names=YUNLONG_ROADS, seed=8)
    assert other.pois != network.pois
    # The lattice itself does not depend on the seed.
    assert [r.geometry for r in other.roads] == [r.geometry for r in network.roads]


def test_a_concave_region_gives_roads_in_pieces_numbered_across_the_gap(region):
    # Cut a 700 m wide notch out of the square's middle from the south edge.
    square_xy = crs.to_projected(region, EPSG)
    cx, cy = xy(*CENTRE)
    notch = shapely.box(cx - 350, cy - 2000, cx + 350, cy + 100)
    concave = crs.to_lonlat(square_xy.difference(notch), EPSG)
    net = generate_street_network(concave, road_names=YUNLONG_ROADS, seed=3)
    split = [r for r in net.roads if r.geometry.geom_type == "MultiLineString"]
    assert split, "east-west roads south of the notch's top come in two pieces"
    sides = plates_by_road_and_side(net)
    for road in split:
        plates = sorted(sides[(road.name, 1)])
        assert [n for n, _, _ in plates] == list(range(1, 2 * len(plates), 2))
        gaps = np.diff([a for _, a, _ in plates])
        assert gaps.max() > 700  # numbering goes on across the notch
    tolerant = concave.buffer(1e-7)
    assert all(tolerant.covers(r.geometry) for r in net.roads)


def test_fill_names_can_be_prefixed_to_keep_several_districts_apart(region):
    net = generate_street_network(region, road_names=(), seed=1, fill_prefix="云龙")
    assert all(r.name.startswith(("云龙经", "云龙纬")) for r in net.roads)
    assert "云龙经十路" in {r.name for r in net.roads}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"road_names": ("淮海东路", "淮海东路")}, "road_names"),
        ({"road_names": ("",)}, "road_names"),
        ({"spacing_m": 0.0}, "spacing_m"),
        ({"spacing_m": math.nan}, "spacing_m"),
        ({"doorplate_step_m": -1.0}, "doorplate_step_m"),
        ({"poi_count": 10_000}, "poi_count"),
    ],
)
def test_bad_arguments_are_refused(region, kwargs, field):
    args = {"road_names": YUNLONG_ROADS, "seed": 1} | kwargs
    with pytest.raises(InvalidInput) as info:
        generate_street_network(region, **args)
    assert info.value.field == field


def test_the_network_feeds_a_gazetteer_with_a_crossing_at_every_lattice_node(network):
    g = Gazetteer.build(network.roads, network.doorplates, network.pois)
    assert len(g.intersections) == 10 * 10
    d = g.describe(*CENTRE, district="云龙区")
    assert d.kind in ("intersection", "doorplate", "poi", "road")
    assert g.geocode(d.text)


# -------------------------------------------------------------------- points_along


def test_points_along_without_jitter_are_exactly_one_step_apart_on_the_centre_line(network):
    road = next(r for r in network.roads if r.name == "淮海东路")
    points = points_along([road], 25.0, 0.0, seed=1, jitter=0.0)
    line_xy = crs.to_projected(road.geometry, EPSG)
    coords = np.array([xy(lon, lat) for _, lon, lat in points])
    assert all(name == "淮海东路" for name, _, _ in points)
    assert len(points) == math.floor(line_xy.length / 25.0)
    assert np.allclose(np.hypot(*np.diff(coords, axis=0).T), 25.0, atol=TOL)
    assert np.allclose(shapely.distance(line_xy, shapely.points(coords)), 0.0, atol=TOL)
    # Centred: equal margins at both ends.
    ends = shapely.line_locate_point(line_xy, shapely.points(coords[[0, -1]]))
    assert ends[0] == pytest.approx(line_xy.length - ends[1], abs=TOL)


def test_points_along_with_jitter_keep_their_offset_and_roughly_their_spacing(network):
    points = points_along(network.roads, 30.0, 4.0, seed=5)
    by_road: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for name, lon, lat in points:
        by_road[name].append(xy(lon, lat))
    assert set(by_road) == {r.name for r in network.roads}
    for road in network.roads:
        line_xy = crs.to_projected(road.geometry, EPSG)
        coords = np.array(by_road[road.name])
        offsets = shapely.distance(line_xy, shapely.points(coords))
        assert offsets.min() >= 4.0 * 0.9 - TOL
        assert offsets.max() <= 4.0 * 1.1 + TOL
        along = np.sort(shapely.line_locate_point(line_xy, shapely.points(coords)))
        gaps = np.diff(along)
        # Each point moves at most a quarter step, so neighbours stay 0.5..1.5 steps apart.
        assert gaps.min() >= 15.0 - TOL
        assert gaps.max() <= 45.0 + TOL
        assert gaps.mean() == pytest.approx(30.0, rel=0.05)
    # Both sides of the road get points.
    axes = {r.name: road_axis(r) for r in network.roads}
    sides = {np.sign(xy(lon, lat)[1] - axes[name][1]) for name, lon, lat in points if axes[name][0] == "ew"}
    assert sides == {-1.0, 1.0}


def test_points_along_are_deterministic_per_seed(network):
    assert points_along(network.roads, 50.0, 2.0, 3) == points_along(network.roads, 50.0, 2.0, 3)
    assert points_along(network.roads, 50.0, 2.0, 3) != points_along(network.roads, 50.0, 2.0, 4)


def test_points_along_scale_to_a_hundred_thousand_points(network):
    points = points_along(network.roads, 0.5, 1.5, seed=2)
    assert len(points) >= 100_000


def test_points_along_refuse_a_non_positive_step(network):
    with pytest.raises(InvalidInput):
        points_along(network.roads, 0.0)
    assert points_along([], 10.0) == []
