"""Coordinate conversions against published reference implementations.

Expected numbers were produced once, outside the project, in a throw-away virtualenv
with the PyPI packages ``prcoords`` 1.0.2 (CC0/GPL, Artoria2e5/PRCoords) and
``coordTransform`` 0.2.1 (wandergis/coordTransform_py), then hard-coded here; neither
package is a dependency. For the forward directions (WGS84->GCJ-02, GCJ-02->BD-09,
WGS84->BD-09) both packages return bit-identical values. For the inverse directions
the reference is prcoords' iterative ``gcj_wgs_bored`` / ``bd_gcj_bored`` /
``bd_wgs_bored`` with its tolerance ``PRC_EPS`` tightened to 1e-14; feeding each
expected value back through prcoords' forward function reproduced the input exactly.
(eviltransform 0.1.1 on PyPI agrees to ~1e-7 degrees: it uses 6378137 instead of
6378245 as the GCJ semi-major axis.)
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from pyproj import CRS
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box

from citykeeper.domain.errors import InvalidInput
from citykeeper.spatial import crs

# Inputs: Tiananmen (the usual example), Xuzhou, Shanghai, Guangzhou, Urumqi.
POINTS = [
    (116.397128, 39.916527),
    (117.18, 34.26),
    (121.4737, 31.2304),
    (113.2644, 23.1291),
    (87.6168, 43.8256),
]

# (input lon, lat) -> expected (lon, lat); see the module docstring for provenance.
WGS84_TO_GCJ02 = {
    POINTS[0]: (116.40337249402477, 39.91793074924595),
    POINTS[1]: (117.1857815609648, 34.25878630979026),
    POINTS[2]: (121.47822305927693, 31.22845773757727),
    POINTS[3]: (113.26972959210308, 23.126423339922844),
    POINTS[4]: (87.61964994946926, 43.82680539311119),
}
GCJ02_TO_BD09 = {
    POINTS[0]: (116.40349519827029, 39.922867311092325),
    POINTS[1]: (117.1866027794727, 34.265648459845835),
    POINTS[2]: (121.48023740342614, 31.236334819793708),
    POINTS[3]: (113.27083292703821, 23.13532860729331),
    POINTS[4]: (87.62323360789793, 43.83177625779309),
}
WGS84_TO_BD09 = {
    POINTS[0]: (116.40973933698186, 39.92426929401509),
    POINTS[1]: (117.19238088254964, 34.264451094503364),
    POINTS[2]: (121.484781468503, 31.234310593689997),
    POINTS[3]: (113.27615075157122, 23.13271125723948),
    POINTS[4]: (87.62609977081571, 43.83294979479328),
}
GCJ02_TO_WGS84 = {
    POINTS[0]: (116.39088606732639, 39.91512559822379),
    POINTS[1]: (117.17420806602375, 34.26120237587324),
    POINTS[2]: (121.4691622633295, 31.232329239037504),
    POINTS[3]: (113.25907324077701, 23.131777979746097),
    POINTS[4]: (87.61395281940622, 43.82439603947834),
}
BD09_TO_GCJ02 = {
    POINTS[0]: (116.39074359043207, 39.91022135012585),
    POINTS[1]: (117.1733977003283, 34.25432908244959),
    POINTS[2]: (121.46719518103357, 31.22434191375537),
    POINTS[3]: (113.25794631856812, 23.12296640702637),
    POINTS[4]: (87.61039726827886, 43.8193675686037),
}
BD09_TO_WGS84 = {
    POINTS[0]: (116.3845069563501, 39.90882419378328),
    POINTS[1]: (117.1675946063164, 34.25552131895806),
    POINTS[2]: (121.46263818317848, 31.226257415434805),
    POINTS[3]: (113.25262212763872, 23.125648333513265),
    POINTS[4]: (87.60755493612102, 43.81816365792591),
}

# 1e-9 degrees is ~0.1 mm: only floating-point evaluation order may differ.
EXACT = 1e-9


def _close(actual: tuple[float, float], expected: tuple[float, float], tol: float) -> bool:
    return abs(actual[0] - expected[0]) <= tol and abs(actual[1] - expected[1]) <= tol


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    # Haversine on the mean Earth radius: plenty for a few-hundred-metre offset.
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371008.8 * math.asin(math.sqrt(h))


@pytest.mark.parametrize(
    ("fn", "table"),
    [
        (crs.wgs84_to_gcj02, WGS84_TO_GCJ02),
        (crs.gcj02_to_bd09, GCJ02_TO_BD09),
        (crs.wgs84_to_bd09, WGS84_TO_BD09),
        (crs.gcj02_to_wgs84, GCJ02_TO_WGS84),
        (crs.bd09_to_gcj02, BD09_TO_GCJ02),
        (crs.bd09_to_wgs84, BD09_TO_WGS84),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_matches_reference_implementations(fn, table):
    for point, expected in table.items():
        actual = fn(*point)
        assert _close(actual, expected, EXACT), (fn.__name__, point, actual, expected)
        assert all(type(v) is float for v in actual)


def _china_sample() -> list[tuple[float, float]]:
    # A deterministic spread over the whole box where GCJ-02 applies.
    rng = np.random.default_rng(20240601)
    lons = rng.uniform(73.0, 135.0, 300)
    lats = rng.uniform(18.0, 53.0, 300)
    return list(zip(lons.tolist(), lats.tolist(), strict=True))


def test_gcj_round_trips_are_exact():
    for lon, lat in _china_sample():
        there = crs.wgs84_to_gcj02(lon, lat)
        back = crs.gcj02_to_wgs84(*there)
        assert _close(back, (lon, lat), 1e-7)
        # The inverse is iterated, not the one-step approximation: forward(inverse(p))
        # reproduces p to far below a centimetre (1e-9 degrees is ~0.1 mm).
        assert _close(crs.wgs84_to_gcj02(*crs.gcj02_to_wgs84(lon, lat)), (lon, lat), EXACT)


def test_bd_round_trips_are_exact():
    for lon, lat in _china_sample():
        assert _close(crs.bd09_to_gcj02(*crs.gcj02_to_bd09(lon, lat)), (lon, lat), EXACT)
        assert _close(crs.bd09_to_wgs84(*crs.wgs84_to_bd09(lon, lat)), (lon, lat), EXACT)
        assert _close(crs.gcj02_to_bd09(*crs.bd09_to_gcj02(lon, lat)), (lon, lat), EXACT)


def test_one_step_inverse_would_not_be_good_enough():
    # Guards the reason the inverse iterates: the textbook one-step inverse
    # (gcj - (forward(gcj) - gcj)) misses by decimetres to metres.
    lon, lat = WGS84_TO_GCJ02[POINTS[1]]
    f_lon, f_lat = crs.wgs84_to_gcj02(lon, lat)
    one_step = (2 * lon - f_lon, 2 * lat - f_lat)
    assert _metres(one_step, POINTS[1]) > 0.05
    assert _metres(crs.gcj02_to_wgs84(lon, lat), POINTS[1]) < 0.001


def test_xuzhou_shift_is_about_550_m_mostly_east():
    wgs = (117.18, 34.26)
    gcj = crs.wgs84_to_gcj02(*wgs)
    assert 540 < _metres(wgs, gcj) < 560
    assert gcj[0] > wgs[0]  # eastward
    assert abs(gcj[0] - wgs[0]) * math.cos(math.radians(34.26)) > abs(gcj[1] - wgs[1])


@pytest.mark.parametrize(
    "point",
    [(139.6917, 35.6895), (-0.1276, 51.5072), (151.2093, -33.8688), (-74.006, 40.7128), (117.18, 60.0)],
    ids=["tokyo", "london", "sydney", "new-york", "north-of-box"],
)
def test_outside_china_gcj02_is_wgs84(point):
    assert not crs.in_china(*point)
    assert crs.wgs84_to_gcj02(*point) == point
    assert crs.gcj02_to_wgs84(*point) == point
    # Baidu's offset is applied everywhere; the WGS84 leg is the identity here.
    assert crs.wgs84_to_bd09(*point) == crs.gcj02_to_bd09(*point)
    assert _close(crs.bd09_to_wgs84(*crs.wgs84_to_bd09(*point)), point, EXACT)


def test_china_box_edges():
    assert crs.in_china(117.18, 34.26)
    assert crs.in_china(72.004, 0.8293)
    assert crs.in_china(137.8347, 55.8271)
    assert not crs.in_china(72.003, 30.0)
    assert not crs.in_china(100.0, 55.83)


def _per_vertex(lon: float, lat: float) -> tuple[float, float]:
    # Not one of the module's functions, so transform_geometry takes the per-vertex path.
    return crs.wgs84_to_gcj02(lon, lat)


def test_transform_geometry_converts_every_vertex_vectorised_and_generic():
    shell = [(117.15, 34.25), (117.21, 34.25), (117.21, 34.29), (117.15, 34.29)]
    hole = [(117.17, 34.26), (117.18, 34.26), (117.18, 34.27)]
    poly = Polygon(shell, [hole])
    multi = MultiPolygon([poly, box(117.3, 34.3, 117.31, 34.31)])
    for geom in (Point(117.18, 34.26), LineString(shell), poly, multi):
        fast = crs.transform_geometry(geom, crs.wgs84_to_gcj02)
        slow = crs.transform_geometry(geom, _per_vertex)
        assert fast.geom_type == geom.geom_type
        src = shapely.get_coordinates(geom)
        expected = np.array([crs.wgs84_to_gcj02(x, y) for x, y in src])
        np.testing.assert_allclose(shapely.get_coordinates(fast), expected, rtol=0, atol=EXACT)
        np.testing.assert_allclose(shapely.get_coordinates(slow), expected, rtol=0, atol=EXACT)
    back = crs.transform_geometry(crs.transform_geometry(poly, crs.wgs84_to_gcj02), crs.gcj02_to_wgs84)
    np.testing.assert_allclose(shapely.get_coordinates(back), shapely.get_coordinates(poly), atol=EXACT)
    assert len(back.interiors) == 1


def test_transform_geometry_accepts_arrays_of_geometries():
    geoms = np.array([Point(117.18, 34.26), box(117.1, 34.2, 117.2, 34.3)])
    out = crs.transform_geometry(geoms, crs.wgs84_to_bd09)
    assert isinstance(out, np.ndarray) and len(out) == 2
    assert _close((out[0].x, out[0].y), WGS84_TO_BD09[POINTS[1]], EXACT)


@pytest.mark.parametrize(
    ("lon", "epsg", "cm"),
    [
        (117.18, 4548, 117),  # Xuzhou
        (116.397, 4548, 117),  # Beijing: the CM 117E zone spans 115.5..118.5
        (75.0, 4534, 75),
        (73.6, 4534, 75),
        (135.0, 4554, 135),
        (118.49, 4548, 117),
        (118.5, 4549, 120),  # a zone edge goes east
        (121.47, 4549, 120),  # Shanghai
        (113.26, 4547, 114),  # Guangzhou
    ],
)
def test_gauss_kruger_zone_codes(lon, epsg, cm):
    assert crs.gk_central_meridian(lon) == cm
    assert crs.utm_or_gk_crs_for(lon) == epsg
    assert CRS.from_epsg(epsg).name == f"CGCS2000 / 3-degree Gauss-Kruger CM {cm}E"


def test_gauss_kruger_table_matches_pyproj():
    for cm, epsg in crs.GK_CM_EPSG.items():
        crs_obj = CRS.from_epsg(epsg)
        assert crs_obj.name == f"CGCS2000 / 3-degree Gauss-Kruger CM {cm}E"
        params = {p.name: p.value for p in crs_obj.coordinate_operation.params}
        assert params["Longitude of natural origin"] == cm
        assert params["False easting"] == 500000.0


@pytest.mark.parametrize("lon", [73.4, 136.5, 0.0, -117.18])
def test_gauss_kruger_refuses_longitudes_outside_china(lon):
    with pytest.raises(InvalidInput) as err:
        crs.utm_or_gk_crs_for(lon)
    assert err.value.field == "lon"


def _degree_lengths(lat: float) -> tuple[float, float]:
    """Metres per degree of longitude and latitude on the CGCS2000 ellipsoid (≈ GRS80)."""
    a = 6378137.0
    f = 1 / 298.257222101
    e2 = 2 * f - f * f
    phi = math.radians(lat)
    w = 1 - e2 * math.sin(phi) ** 2
    meridian_radius = a * (1 - e2) / w**1.5
    normal_radius = a / math.sqrt(w)
    return normal_radius * math.cos(phi) * math.pi / 180, meridian_radius * math.pi / 180


def test_area_and_length_of_a_small_square_near_xuzhou():
    square = box(117.18, 34.26, 117.19, 34.27)
    per_lon, per_lat = _degree_lengths(34.265)
    width, height = 0.01 * per_lon, 0.01 * per_lat
    assert 919 < width < 923 and 1107 < height < 1111  # ≈ 0.92 km x 1.11 km
    assert crs.area_m2(square) == pytest.approx(width * height, rel=1e-4)
    assert crs.length_m(square) == pytest.approx(2 * (width + height), rel=1e-4)
    assert crs.length_m(LineString([(117.18, 34.26), (117.18, 34.27)])) == pytest.approx(height, rel=1e-4)


def test_area_of_empty_and_non_areal_geometries():
    assert crs.area_m2(Polygon()) == 0.0
    assert crs.length_m(Polygon()) == 0.0
    assert crs.area_m2(LineString([(117.18, 34.26), (117.19, 34.26)])) == 0.0
    assert crs.length_m(Point(117.18, 34.26)) == 0.0


def test_projection_round_trip():
    geom = box(117.1, 34.2, 117.3, 34.35)
    xy = crs.to_projected(geom, 4548)
    # Near CM 117E the projected x is close to the 500 km false easting.
    assert 480_000 < xy.bounds[0] < 520_000
    back = crs.to_lonlat(xy, 4548)
    np.testing.assert_allclose(shapely.get_coordinates(back), shapely.get_coordinates(geom), atol=1e-9)
