"""Reading GeoJSON, Shapefile and CSV files into validated WGS84 features.

Every fixture file is written by the test itself into tmp_path: GeoJSON and CSV as
text, shapefiles with pyshp's Writer and a hand-written ESRI .prj (the WKT ArcGIS and
QGIS put next to CGCS2000 data). Expected positions come from crs.py's conversions
(tested against reference implementations in test_crs.py) and, for Gauss-Krüger,
from metres computed once with pyproj 3.7.2 and hard-coded below.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import shapefile
import shapely
from pyproj import CRS
from shapely.geometry import LineString, MultiPolygon, Point, Polygon

from citykeeper.domain.errors import InvalidInput
from citykeeper.spatial import crs
from citykeeper.spatial.readers import (
    GEOMETRY_KINDS,
    MAX_PROBLEMS,
    Feature,
    Problem,
    ReadError,
    SourceCRS,
    read_features,
)

WUXI_DISTRICTS = Path(__file__).resolve().parents[2] / "src/citykeeper/data/geo/320200_wuxi_districts.geojson"

# 徐州 (Xuzhou) centre, and the same place in CGCS2000 3-degree Gauss-Krüger metres:
# EPSG:4548 (CM 117E, no prefix) and EPSG:4527 (zone 39, prefixed), from pyproj 3.7.2
# Transformer.from_crs(4326, epsg, always_xy=True).transform(117.18, 34.26).
XUZHOU = (117.18, 34.26)
XUZHOU_GK_CM117 = (516578.43570290395, 3792516.5336716888)
XUZHOU_GK_ZONE39 = (39516578.435702905, 3792516.5336716888)

PRJ_WGS84 = (
    'GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],'
    'PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]'
)
PRJ_CGCS2000 = (
    'GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",DATUM["D_China_2000",'
    'SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]'
)


def prj_gk(name: str, false_easting: float, central_meridian: float) -> str:
    return (
        f'PROJCS["{name}",GEOGCS["GCS_China_Geodetic_Coordinate_System_2000",DATUM["D_China_2000",'
        'SPHEROID["CGCS2000",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],'
        'UNIT["Degree",0.0174532925199433]],PROJECTION["Gauss_Kruger"],'
        f'PARAMETER["False_Easting",{false_easting}],PARAMETER["False_Northing",0.0],'
        f'PARAMETER["Central_Meridian",{central_meridian}],PARAMETER["Scale_Factor",1.0],'
        'PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]'
    )


PRJ_XIAN80 = (
    'PROJCS["Xian_1980_3_Degree_GK_CM_117E",GEOGCS["GCS_Xian_1980",DATUM["D_Xian_1980",'
    'SPHEROID["Xian_1980",6378140.0,298.257]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],'
    'PROJECTION["Gauss_Kruger"],PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",0.0],'
    'PARAMETER["Central_Meridian",117.0],PARAMETER["Scale_Factor",1.0],PARAMETER["Latitude_Of_Origin",0.0],'
    'UNIT["Meter",1.0]]'
)


# ------------------------------------------------------------------------ helpers


def square(lon: float, lat: float, side: float = 0.001) -> list[list[float]]:
    return [[lon, lat], [lon + side, lat], [lon + side, lat + side], [lon, lat + side], [lon, lat]]


def write_geojson(tmp_path: Path, doc: object, name: str = "grids.geojson") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def collection(*geometries: dict | None, properties: list[dict] | None = None, **extra: object) -> dict:
    props = properties or [{"code": f"g{i + 1}"} for i in range(len(geometries))]
    features = [{"type": "Feature", "properties": p, "geometry": g} for p, g in zip(props, geometries, strict=True)]
    return {"type": "FeatureCollection", "features": features, **extra}


def point(lon: float, lat: float) -> dict:
    return {"type": "Point", "coordinates": [lon, lat]}


def write_shapefile(
    tmp_path: Path,
    name: str,
    shapes: list,
    *,
    shape_type: int = shapefile.POLYGON,
    fields: tuple[tuple[str, str, int], ...] = (("NAME", "C", 40),),
    records: list[list] | None = None,
    encoding: str = "utf-8",
    prj: str | None = None,
    cpg: str | None = None,
) -> Path:
    """A shapefile of the given geometries (pyshp shapes or coordinates lists)."""
    base = tmp_path / name
    with shapefile.Writer(base, shapeType=shape_type, encoding=encoding) as writer:
        for field_name, field_type, size in fields:
            writer.field(field_name, field_type, size)
        for i, geom in enumerate(shapes):
            if geom is None:
                writer.null()
            elif shape_type == shapefile.POLYGON:
                writer.poly(geom)
            elif shape_type == shapefile.POLYLINE:
                writer.line(geom)
            else:
                writer.point(*geom)
            writer.record(*(records[i] if records else [f"feature {i + 1}"]))
    if prj is not None:
        base.with_suffix(".prj").write_text(prj, encoding="ascii")
    if cpg is not None:
        base.with_suffix(".cpg").write_text(cpg, encoding="ascii")
    return base.with_suffix(".shp")


def write_csv(tmp_path: Path, text: str, name: str = "points.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def read_error(path: Path, **kwargs: object) -> ReadError:
    with pytest.raises(ReadError) as excinfo:
        read_features(path, **kwargs)
    return excinfo.value


def metres_between(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Distance in metres between two nearby lon/lat points (equirectangular, fine below 1 km)."""
    dx = (a[0] - b[0]) * 111_320.0 * math.cos(math.radians((a[1] + b[1]) / 2))
    dy = (a[1] - b[1]) * 110_574.0
    return math.hypot(dx, dy)


# -------------------------------------------------------------------- round trips


def test_a_geojson_feature_collection_reads_every_feature_with_its_properties_and_number(tmp_path):
    doc = collection(
        {"type": "Polygon", "coordinates": [square(117.18, 34.26)]},
        {"type": "LineString", "coordinates": [[117.18, 34.26], [117.19, 34.27]]},
        point(117.2, 34.3),
        properties=[{"code": "A", "名称": "鼓楼"}, {"code": "B", "n": 2}, {"code": "C", "flag": True}],
    )
    features, source_crs = read_features(write_geojson(tmp_path, doc), crs="wgs84")

    assert source_crs == SourceCRS("wgs84", None)
    assert [f.number for f in features] == [1, 2, 3]
    assert [f.properties for f in features] == [
        {"code": "A", "名称": "鼓楼"},
        {"code": "B", "n": 2},
        {"code": "C", "flag": True},
    ]
    assert features[0].geometry.equals(Polygon(square(117.18, 34.26)))
    assert features[1].geometry.equals(LineString([(117.18, 34.26), (117.19, 34.27)]))
    assert features[2].geometry.equals(Point(117.2, 34.3))
    assert all(isinstance(f, Feature) for f in features)


def test_a_single_geojson_feature_and_a_bare_geometry_are_read_as_one_feature(tmp_path):
    feature = {"type": "Feature", "properties": {"code": "X"}, "geometry": point(117.2, 34.3)}
    bare = {"type": "MultiPolygon", "coordinates": [[square(117.1, 34.2)], [square(117.3, 34.2)]]}

    (one,), _ = read_features(write_geojson(tmp_path, feature, "one.geojson"), crs="wgs84")
    (two,), _ = read_features(write_geojson(tmp_path, bare, "two.json"), crs="wgs84")

    assert one.properties == {"code": "X"} and one.geometry.equals(Point(117.2, 34.3))
    assert two.properties == {} and isinstance(two.geometry, MultiPolygon) and len(two.geometry.geoms) == 2


def test_a_polygon_with_a_hole_and_z_values_reads_as_a_2d_polygon_with_its_hole(tmp_path):
    outer = [[117.0, 34.0, 30.0], [117.1, 34.0, 30.0], [117.1, 34.1, 30.0], [117.0, 34.1, 30.0], [117.0, 34.0, 30.0]]
    hole = [[117.04, 34.04, 0], [117.06, 34.04, 0], [117.06, 34.06, 0], [117.04, 34.04, 0]]
    doc = collection({"type": "Polygon", "coordinates": [outer, hole]})

    (feature,), _ = read_features(write_geojson(tmp_path, doc), crs="wgs84")

    assert not feature.geometry.has_z
    assert len(feature.geometry.interiors) == 1
    assert feature.geometry.area == pytest.approx(0.1 * 0.1 - 0.02 * 0.02 / 2)


def test_a_shapefile_with_a_cgcs2000_prj_reads_without_a_crs_argument(tmp_path):
    path = write_shapefile(
        tmp_path,
        "grids",
        [[square(117.18, 34.26)], [square(117.19, 34.27)]],
        fields=(("CODE", "C", 15), ("AREA", "N", 10)),
        records=[["320302001001001", 1000], ["320302001001002", 2000]],
        prj=PRJ_CGCS2000,
    )

    features, source_crs = read_features(path, kinds={"polygon"})

    assert source_crs.name == "cgcs2000"
    assert [f.properties for f in features] == [
        {"CODE": "320302001001001", "AREA": 1000},
        {"CODE": "320302001001002", "AREA": 2000},
    ]
    # CGCS2000 lon/lat is taken as WGS84 unchanged (they differ by centimetres).
    assert features[0].geometry.equals(Polygon(square(117.18, 34.26)))
    assert features[1].geometry.equals(Polygon(square(117.19, 34.27)))


def test_a_shapefile_without_prj_is_converted_from_the_crs_the_caller_gives(tmp_path):
    path = write_shapefile(tmp_path, "roads", [[[[117.18, 34.26], [117.2, 34.28]]]], shape_type=shapefile.POLYLINE)

    (feature,), source_crs = read_features(path, crs="gcj02", kinds={"line"})

    assert source_crs.name == "gcj02"
    expected = crs.transform_geometry(LineString([(117.18, 34.26), (117.2, 34.28)]), crs.gcj02_to_wgs84)
    assert feature.geometry.equals_exact(expected, 1e-12)


def test_a_shapefile_of_multi_part_polygons_and_points_keeps_all_parts(tmp_path):
    polygons = write_shapefile(tmp_path, "parts", [[square(117.1, 34.2), square(117.3, 34.2)]])
    points = write_shapefile(tmp_path, "pts", [(117.18, 34.26), (117.19, 34.27)], shape_type=shapefile.POINT)

    (multi,), _ = read_features(polygons, crs="wgs84")
    pts, _ = read_features(points, crs="wgs84")

    assert isinstance(multi.geometry, MultiPolygon) and len(multi.geometry.geoms) == 2
    assert [p.geometry.coords[0] for p in pts] == [(117.18, 34.26), (117.19, 34.27)]


def test_shapefile_dates_become_iso_strings(tmp_path):
    path = write_shapefile(
        tmp_path,
        "dated",
        [(117.18, 34.26)],
        shape_type=shapefile.POINT,
        fields=(("BUILT", "D", 8),),
        records=[["20240315"]],
    )

    (feature,), _ = read_features(path, crs="wgs84")

    assert feature.properties == {"BUILT": "2024-03-15"}


def test_a_csv_with_a_wkt_column_reads_geometries_and_the_other_columns_as_stripped_strings(tmp_path):
    path = write_csv(
        tmp_path,
        "code, name ,wkt\n"
        f'A1, 鼓楼 ,"POLYGON(({117.18} {34.26}, {117.19} {34.26}, {117.19} {34.27}, {117.18} {34.26}))"\n'
        "A2,云龙,POINT(117.2 34.3)\n",
        name="grids.csv",
    )

    features, _ = read_features(path, crs="wgs84")

    assert [f.number for f in features] == [2, 3]  # spreadsheet rows: the header is row 1
    assert [f.properties for f in features] == [{"code": "A1", "name": "鼓楼"}, {"code": "A2", "name": "云龙"}]
    assert features[0].geometry.geom_type == "Polygon"
    assert features[1].geometry.equals(Point(117.2, 34.3))


def test_a_csv_with_lon_lat_columns_and_a_bom_reads_points(tmp_path):
    path = tmp_path / "points.csv"
    path.write_bytes("\ufeff名称,经度,纬度\n井盖1,117.18,34.26\n\n井盖2, 117.19 ,34.27\n".encode())

    features, _ = read_features(path, crs="wgs84", kinds={"point"})

    assert [f.number for f in features] == [2, 4]  # the blank row 3 is skipped but still counted
    assert [f.properties for f in features] == [{"名称": "井盖1"}, {"名称": "井盖2"}]
    assert [f.geometry.coords[0] for f in features] == [(117.18, 34.26), (117.19, 34.27)]


def test_csv_columns_can_be_named_explicitly(tmp_path):
    path = write_csv(tmp_path, "E,N,shape\n117.18,34.26,x\n")

    (feature,), _ = read_features(path, crs="wgs84", lon_column="e", lat_column="N")

    assert feature.geometry.equals(Point(117.18, 34.26))
    assert feature.properties == {"shape": "x"}


def test_a_gbk_encoded_dbf_without_cpg_has_its_chinese_names_decoded(tmp_path):
    path = write_shapefile(
        tmp_path,
        "社区",
        [[square(117.18, 34.26)]],
        fields=(("名称", "C", 40),),
        records=[["鼓楼区牌楼街道"]],
        encoding="gbk",
    )
    # Guard: the bytes really are GBK, not UTF-8.
    assert "鼓楼区牌楼街道".encode("gbk") in path.with_suffix(".dbf").read_bytes()

    (feature,), _ = read_features(path, crs="wgs84")

    assert feature.properties == {"名称": "鼓楼区牌楼街道"}


def test_a_cpg_file_names_the_dbf_encoding(tmp_path):
    gbk = write_shapefile(
        tmp_path, "a", [(117.18, 34.26)], shape_type=shapefile.POINT, records=[["铜山区"]], encoding="gbk", cpg="936"
    )
    utf8 = write_shapefile(tmp_path, "b", [(117.18, 34.26)], shape_type=shapefile.POINT, cpg="UTF-8")

    (a,), _ = read_features(gbk, crs="wgs84")
    (b,), _ = read_features(utf8, crs="wgs84")

    assert a.properties == {"NAME": "铜山区"}
    assert b.properties == {"NAME": "feature 1"}


def test_a_gbk_encoded_csv_is_decoded(tmp_path):
    path = write_csv(tmp_path, "名称,lng,lat\n徐州东站,117.28,34.23\n", encoding="gbk")

    (feature,), _ = read_features(path, crs="wgs84")

    assert feature.properties == {"名称": "徐州东站"}


def test_the_bundled_wuxi_districts_read_as_seven_polygons_inside_wuxi(tmp_path):
    features, source_crs = read_features(WUXI_DISTRICTS, crs="gcj02", kinds={"polygon"})

    assert source_crs.name == "gcj02"
    assert len(features) == 7
    assert {f.properties["name"] for f in features} >= {"梁溪区", "江阴市", "宜兴市"}
    for feature in features:
        assert feature.geometry.geom_type in ("Polygon", "MultiPolygon")
        centroid = feature.geometry.centroid
        assert 119.5 < centroid.x < 120.7 and 31.1 < centroid.y < 32.0


# ------------------------------------------------------------------ CRS conversion


def test_a_gcj02_point_in_xuzhou_moves_about_500_m_west_exactly_as_crs_converts_it(tmp_path):
    path = write_geojson(tmp_path, collection(point(*XUZHOU)))

    (feature,), _ = read_features(path, crs="GCJ02")

    lon, lat = feature.geometry.coords[0]
    assert (lon, lat) == pytest.approx(crs.gcj02_to_wgs84(*XUZHOU), abs=1e-12)
    west_m = (XUZHOU[0] - lon) * 111_320.0 * math.cos(math.radians(lat))
    assert 450 < west_m < 600


def test_a_bd09_point_is_converted_as_crs_converts_it(tmp_path):
    path = write_geojson(tmp_path, collection(point(*XUZHOU)))

    (feature,), _ = read_features(path, crs="bd09")

    assert feature.geometry.coords[0] == pytest.approx(crs.bd09_to_wgs84(*XUZHOU), abs=1e-12)
    assert metres_between(feature.geometry.coords[0], XUZHOU) > 500  # Baidu's offset is larger still


@pytest.mark.parametrize("declared", ["wgs84", "EPSG:4326", "cgcs2000", "epsg:4490"])
def test_wgs84_and_cgcs2000_lon_lat_are_kept_unchanged(tmp_path, declared):
    path = write_geojson(tmp_path, collection(point(*XUZHOU)))

    (feature,), _ = read_features(path, crs=declared)

    assert feature.geometry.coords[0] == XUZHOU


@pytest.mark.parametrize(
    ("declared", "metres"),
    [
        ("EPSG:4548", XUZHOU_GK_CM117),
        ("cgcs2000-gk3:117", XUZHOU_GK_CM117),
        ("EPSG:4527", XUZHOU_GK_ZONE39),
    ],
)
def test_a_gauss_kruger_point_comes_back_within_1_cm_of_its_known_lon_lat(tmp_path, declared, metres):
    path = write_csv(tmp_path, f"id,x,y\n1,{metres[0]!r},{metres[1]!r}\n")

    (feature,), source_crs = read_features(path, crs=declared)

    assert source_crs.epsg == int(source_crs.name.split(":")[1])
    assert metres_between(feature.geometry.coords[0], XUZHOU) < 0.01


@pytest.mark.parametrize(
    ("prj", "metres", "epsg"),
    [
        (prj_gk("CGCS2000_3_Degree_GK_CM_117E", 500000.0, 117.0), XUZHOU_GK_CM117, 4548),
        (prj_gk("CGCS2000_3_Degree_GK_Zone_39", 39500000.0, 117.0), XUZHOU_GK_ZONE39, 4527),
        # QGIS/GDAL-style WKT, which pyproj identifies as the 6-degree twin EPSG:4509.
        (CRS.from_epsg(4548).to_wkt("WKT1_GDAL"), XUZHOU_GK_CM117, 4548),
    ],
)
def test_a_gauss_kruger_prj_is_detected_and_converted(tmp_path, prj, metres, epsg):
    side = 100.0
    x, y = metres
    ring = [(x, y), (x, y + side), (x + side, y + side), (x + side, y), (x, y)]
    path = write_shapefile(tmp_path, "grids", [[ring]], prj=prj)

    (feature,), source_crs = read_features(path)

    assert source_crs == SourceCRS(f"EPSG:{epsg}", epsg)
    first = feature.geometry.exterior.coords[0]
    assert metres_between(first, XUZHOU) < 0.01
    assert crs.area_m2(feature.geometry) == pytest.approx(side * side, rel=1e-3)


def test_the_cgcs2000_gauss_kruger_epsg_codes_exist_in_pyproj_with_the_meridians_we_assume():
    for code in range(4513, 4555):
        source_crs = SourceCRS.parse(f"EPSG:{code}")
        projection = CRS.from_epsg(code)
        params = {p.name: p.value for p in projection.coordinate_operation.params}
        assert "CGCS2000 / 3-degree Gauss-Kruger" in projection.name
        assert params["Longitude of natural origin"] == source_crs.central_meridian
        prefix = source_crs.zone * 1_000_000 if source_crs.zone else 0
        assert params["False easting"] == prefix + 500_000


def test_source_crs_parse_accepts_the_documented_spellings():
    assert SourceCRS.parse(" WGS84 ") == SourceCRS("wgs84", None)
    assert SourceCRS.parse("urn:ogc:def:crs:EPSG::4490") == SourceCRS("cgcs2000", None)
    assert SourceCRS.parse("urn:ogc:def:crs:OGC:1.3:CRS84") == SourceCRS("wgs84", None)
    assert SourceCRS.parse("Gcj02") == SourceCRS("gcj02", None)
    assert SourceCRS.parse("BD09") == SourceCRS("bd09", None)
    assert SourceCRS.parse("CGCS2000-GK3:120") == SourceCRS("EPSG:4549", 4549)
    assert SourceCRS.parse("epsg:4513") == SourceCRS("EPSG:4513", 4513)
    assert SourceCRS.parse("EPSG:4554") == SourceCRS("EPSG:4554", 4554)


@pytest.mark.parametrize("text", ["mars", "EPSG:3857", "EPSG:4512x", "cgcs2000-gk3:118", "", "EPSG:2383"])
def test_source_crs_parse_refuses_anything_else_listing_the_accepted_values(text):
    with pytest.raises(InvalidInput) as excinfo:
        SourceCRS.parse(text)

    assert excinfo.value.field == "crs"
    assert "gcj02" in excinfo.value.message and "EPSG:4534" in excinfo.value.message


def test_the_geojson_crs_member_declares_the_crs(tmp_path):
    doc = collection(point(*XUZHOU), crs={"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4490"}})

    (feature,), source_crs = read_features(write_geojson(tmp_path, doc))

    assert source_crs.name == "cgcs2000"
    assert feature.geometry.coords[0] == XUZHOU


def test_an_ewkt_srid_prefix_declares_the_crs_of_a_csv(tmp_path):
    path = write_csv(tmp_path, f"id,geom\n1,SRID=4548;POINT({XUZHOU_GK_CM117[0]!r} {XUZHOU_GK_CM117[1]!r})\n")

    (feature,), source_crs = read_features(path)

    assert source_crs.name == "EPSG:4548"
    assert metres_between(feature.geometry.coords[0], XUZHOU) < 0.01


def test_a_multipoint_of_one_point_becomes_a_point(tmp_path):
    doc = collection({"type": "MultiPoint", "coordinates": [[117.18, 34.26]]})

    (feature,), _ = read_features(write_geojson(tmp_path, doc), crs="wgs84", kinds={"point"})

    assert feature.geometry.geom_type == "Point"


# ------------------------------------------------------------------------ refusals


def test_a_file_without_a_declared_crs_is_refused_with_the_accepted_values(tmp_path):
    error = read_error(write_geojson(tmp_path, collection(point(*XUZHOU))))

    (problem,) = error.problems
    assert problem.field == "crs" and error.field == "crs"
    assert str(problem).startswith("grids.geojson: no coordinate system is declared")
    for accepted in ("wgs84", "cgcs2000", "gcj02", "bd09", "EPSG:4513", "EPSG:4554", "cgcs2000-gk3:"):
        assert accepted in error.message
    assert "lon/lat degrees" in problem.reason  # the hint about what the numbers look like


def test_a_shapefile_without_prj_or_crs_argument_is_refused_with_a_zone_hint(tmp_path):
    x, y = XUZHOU_GK_ZONE39
    path = write_shapefile(tmp_path, "pts", [(x, y)], shape_type=shapefile.POINT)

    error = read_error(path)

    assert "no coordinate system is declared" in error.message
    assert "EPSG:4527" in error.message


def test_a_prj_that_disagrees_with_the_crs_argument_is_refused_naming_both(tmp_path):
    path = write_shapefile(tmp_path, "roads", [[square(117.18, 34.26)]], prj=PRJ_WGS84)

    error = read_error(path, crs="gcj02")

    (problem,) = error.problems
    assert problem.field == "crs"
    assert "roads.prj declares wgs84" in str(problem)
    assert "crs=gcj02" in str(problem)


def test_a_prj_in_cgcs2000_agrees_with_a_wgs84_argument(tmp_path):
    path = write_shapefile(tmp_path, "roads", [[square(117.18, 34.26)]], prj=PRJ_CGCS2000)

    (feature,), source_crs = read_features(path, crs="wgs84")

    assert source_crs.name == "cgcs2000"
    assert feature.geometry.equals(Polygon(square(117.18, 34.26)))


def test_a_geojson_crs_member_that_disagrees_with_the_argument_is_refused(tmp_path):
    doc = collection(point(*XUZHOU), crs={"type": "name", "properties": {"name": "EPSG:4326"}})

    error = read_error(write_geojson(tmp_path, doc), crs="bd09")

    assert 'the "crs" member of grids.geojson declares wgs84' in error.message
    assert "crs=bd09" in error.message


def test_a_prj_in_a_crs_that_cannot_be_converted_is_refused(tmp_path):
    path = write_shapefile(tmp_path, "old", [[square(117.18, 34.26)]], prj=PRJ_XIAN80)

    error = read_error(path)

    assert "old.prj declares" in error.message and "Xian 1980" in error.message
    assert "cannot convert" in error.message


def test_swapped_lat_lon_is_reported_for_the_feature_that_has_it(tmp_path):
    doc = collection(point(117.18, 34.26), point(34.26, 117.18))

    error = read_error(write_geojson(tmp_path, doc), crs="wgs84")

    (problem,) = error.problems
    assert problem.number == 2
    assert str(problem) == "grids.geojson feature 2: coordinates look swapped (lat, lon); put longitude first"


def test_projected_numbers_with_a_geographic_crs_are_said_to_look_projected(tmp_path):
    path = write_csv(tmp_path, "id,lon,lat\n1,117.18,34.26\n2,39516578.4,3792516.5\n3,516578.4,3792516.5\n")

    error = read_error(path, crs="wgs84")

    assert [p.number for p in error.problems] == [3, 4]
    assert "points.csv row 3: coordinate (39516578.4, 3792516.5) looks projected (metres)" in str(error.problems[0])
    assert "EPSG:4527" in error.problems[0].reason
    assert "cgcs2000-gk3:" in error.problems[1].reason


def test_an_easting_with_a_zone_prefix_under_a_no_prefix_crs_names_the_right_epsg(tmp_path):
    x, y = XUZHOU_GK_ZONE39
    path = write_csv(tmp_path, f"id,x,y\n1,{x!r},{y!r}\n")

    error = read_error(path, crs="EPSG:4548")

    (problem,) = error.problems
    assert problem.number == 2
    assert "carries the zone prefix 39" in problem.reason
    assert "declare EPSG:4527" in problem.reason


def test_an_easting_without_prefix_under_a_zone_crs_names_the_right_epsg(tmp_path):
    x, y = XUZHOU_GK_CM117
    path = write_csv(tmp_path, f"id,x,y\n1,{x!r},{y!r}\n")

    error = read_error(path, crs="EPSG:4527")

    assert "has no zone prefix" in error.problems[0].reason
    assert "EPSG:4548" in error.problems[0].reason


def test_an_easting_with_another_zones_prefix_is_refused(tmp_path):
    path = write_csv(tmp_path, f"id,x,y\n1,40516578.4,{XUZHOU_GK_ZONE39[1]!r}\n")

    error = read_error(path, crs="EPSG:4527")

    assert "zone prefix 40" in error.problems[0].reason and "EPSG:4528" in error.problems[0].reason


def test_northing_first_gauss_kruger_coordinates_are_said_to_be_swapped(tmp_path):
    x, y = XUZHOU_GK_CM117
    path = write_csv(tmp_path, f"id,x,y\n1,{y!r},{x!r}\n")

    error = read_error(path, crs="cgcs2000-gk3:117")

    assert "coordinates look swapped (northing, easting)" in error.problems[0].reason


def test_lon_lat_degrees_under_a_gauss_kruger_crs_are_said_to_be_degrees(tmp_path):
    error = read_error(write_geojson(tmp_path, collection(point(*XUZHOU))), crs="EPSG:4548")

    assert "looks like lon/lat degrees" in error.problems[0].reason


def test_a_point_outside_china_is_refused_but_the_sea_off_zhuhai_is_not(tmp_path):
    sydney = point(151.21, -33.87)
    off_zhuhai = point(113.75, 21.95)  # open sea south of 珠海: inside China's extent

    error = read_error(write_geojson(tmp_path, collection(off_zhuhai, sydney)), crs="wgs84")
    features, _ = read_features(write_geojson(tmp_path, collection(off_zhuhai), "sea.geojson"), crs="wgs84")

    (problem,) = error.problems
    assert problem.number == 2
    assert "coordinate (151.21, -33.87) is outside China" in str(problem)
    assert len(features) == 1


def test_a_shapefile_without_its_dbf_is_refused_naming_the_missing_file(tmp_path):
    path = write_shapefile(tmp_path, "roads", [[square(117.18, 34.26)]])
    path.with_suffix(".dbf").unlink()

    error = read_error(path, crs="wgs84")

    assert [str(p) for p in error.problems] == [
        "roads.shp: roads.dbf is missing next to roads.shp; upload all the files of the shapefile"
    ]


def test_a_shapefile_without_its_shx_is_refused_naming_the_missing_file(tmp_path):
    path = write_shapefile(tmp_path, "roads", [[square(117.18, 34.26)]])
    path.with_suffix(".shx").unlink()

    error = read_error(path, crs="wgs84")

    assert "roads.shx is missing next to roads.shp" in error.message


def test_malformed_json_is_refused_with_its_line_and_column(tmp_path):
    path = tmp_path / "broken.geojson"
    path.write_text('{"type": "FeatureCollection",\n "features": [\n  {"type": "Feature",, }\n ]}\n')

    error = read_error(path, crs="wgs84")

    assert "broken.geojson: is not valid JSON" in error.message
    assert "line 3, column 22" in error.message


def test_json_that_is_not_geojson_is_refused(tmp_path):
    error = read_error(write_geojson(tmp_path, {"type": "Topology", "objects": {}}), crs="wgs84")

    assert "is not GeoJSON" in error.message and "'Topology'" in error.message


def test_bad_wkt_is_refused_with_its_spreadsheet_row_and_the_parsers_reason(tmp_path):
    path = write_csv(tmp_path, 'id,wkt\n1,POINT(117.18 34.26)\n2,"POLYGON((117 34, 117.1 34"\n3,POINT(117.2 34.3)\n')

    error = read_error(path, crs="wgs84")

    (problem,) = error.problems
    assert problem.number == 3 and problem.field == "wkt"
    assert str(problem).startswith("points.csv row 3: wkt is not valid WKT: ParseException")


def test_a_non_numeric_longitude_is_refused_with_its_row(tmp_path):
    path = write_csv(tmp_path, "id,lon,lat\n1,117.18,34.26\n2,117.1x,34.26\n")

    error = read_error(path, crs="wgs84")

    assert [str(p) for p in error.problems] == ["points.csv row 3: lon is '117.1x', not a number"]


def test_a_geometry_of_the_wrong_kind_is_refused(tmp_path):
    doc = collection(
        {"type": "Polygon", "coordinates": [square(117.18, 34.26)]},
        {"type": "LineString", "coordinates": [[117.18, 34.26], [117.2, 34.28]]},
    )

    error = read_error(write_geojson(tmp_path, doc), crs="wgs84", kinds={"polygon"})

    assert [str(p) for p in error.problems] == [
        "grids.geojson feature 2: is a LineString, but only polygon geometries are accepted here"
    ]


def test_missing_and_empty_geometries_are_refused(tmp_path):
    doc = collection(point(*XUZHOU), None, {"type": "Polygon", "coordinates": []})

    error = read_error(write_geojson(tmp_path, doc), crs="wgs84")

    assert [(p.number, p.reason) for p in error.problems] == [(2, "has no geometry"), (3, "has an empty geometry")]


def test_malformed_geojson_geometries_are_refused_for_their_feature_with_the_reason(tmp_path):
    doc = collection(
        {"type": "Polygon", "coordinates": [square(117.18, 34.26)]},
        {"type": "Polygon", "coordinates": [[[117.1, 34.2], [117.2, 34.2]]]},
        {"type": "Point", "coordinates": ["117.1", 34.2]},
        {"type": "Circle", "coordinates": [117.1, 34.2]},
    )

    error = read_error(write_geojson(tmp_path, doc), crs="wgs84")

    assert [str(p) for p in error.problems] == [
        "grids.geojson feature 2: geometry is not valid GeoJSON: A linearring requires at least 4 coordinates.",
        "grids.geojson feature 3: geometry is not valid GeoJSON: "
        'a position must be 2 or 3 numbers, found ["117.1", 34.2]',
        "grids.geojson feature 4: geometry is not valid GeoJSON: unknown geometry type 'Circle'",
    ]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("empty.geojson", ""),
        ("empty.csv", ""),
        ("nothing.geojson", '{"type": "FeatureCollection", "features": []}'),
        ("header.csv", "id,wkt\n"),
    ],
)
def test_an_empty_file_is_refused(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")

    error = read_error(path, crs="wgs84")

    (problem,) = error.problems
    assert problem.file == name and problem.number is None
    assert problem.reason in ("the file is empty", "contains no features")


def test_an_empty_shapefile_is_refused(tmp_path):
    path = write_shapefile(tmp_path, "none", [], prj=PRJ_WGS84)

    error = read_error(path)

    assert error.message.endswith("none.shp: contains no features")


def test_a_csv_without_geometry_columns_names_its_columns_and_the_wanted_ones(tmp_path):
    path = write_csv(tmp_path, "编号,名称,地址\n1,a,b\n")

    error = read_error(path, crs="wgs84")

    (problem,) = error.problems
    assert "has no geometry column" in problem.reason
    assert "its columns are: 编号, 名称, 地址" in problem.reason
    for wanted in ("wkt", "几何", "lon", "经度", "lat", "纬度"):
        assert wanted in problem.reason


def test_a_named_csv_column_that_does_not_exist_is_refused(tmp_path):
    path = write_csv(tmp_path, "id,shape\n1,POINT(117 34)\n")

    error = read_error(path, crs="wgs84", wkt_column="the_geom")

    assert "has no column 'the_geom'; its columns are: id, shape" in error.message


def test_an_unquoted_wkt_that_splits_into_cells_gets_a_hint(tmp_path):
    path = write_csv(tmp_path, "id,wkt\n1,LINESTRING(117.1 34.2, 117.2 34.3)\n")

    error = read_error(path, crs="wgs84")

    assert "points.csv row 2: has 3 cells but the header has 2 (is the WKT quoted?)" == str(error.problems[0])


def test_a_missing_file_and_an_unknown_extension_are_refused(tmp_path):
    (tmp_path / "grids.kml").write_text("<kml/>")

    missing = read_error(tmp_path / "nope.geojson", crs="wgs84")
    unknown = read_error(tmp_path / "grids.kml", crs="wgs84")

    assert str(missing.problems[0]) == "nope.geojson: file not found"
    assert "grids.kml: unknown file type .kml" in unknown.message


def test_all_problems_are_collected_capped_at_200_and_counted(tmp_path):
    rows = "".join(f"{i},34.26,117.18\n" for i in range(250))
    path = write_csv(tmp_path, "id,lon,lat\n" + rows)

    error = read_error(path, crs="wgs84")

    assert len(error.problems) == MAX_PROBLEMS
    assert error.total == 250 and error.more == 50
    assert [p.number for p in error.problems[:3]] == [2, 3, 4]
    assert "(250 problems)" in error.message and "and 245 more" in error.message
    assert error.as_dict()["problem_count"] == 250


def test_good_and_bad_features_together_give_no_partial_result(tmp_path):
    doc = collection(point(*XUZHOU), point(34.26, 117.18), point(117.2, 34.3), point(500000, 3800000))

    error = read_error(write_geojson(tmp_path, doc), crs="gcj02")

    assert [p.number for p in error.problems] == [2, 4]


def test_problems_print_as_file_feature_or_row_and_reason():
    assert str(Problem("grids.shp", 12, "why")) == "grids.shp feature 12: why"
    assert str(Problem("points.CSV", 7, "why")) == "points.CSV row 7: why"
    assert str(Problem("grids.shp", None, "why")) == "grids.shp: why"


def test_bad_arguments_raise_invalid_input_not_read_error(tmp_path):
    path = write_geojson(tmp_path, collection(point(*XUZHOU)))

    with pytest.raises(InvalidInput) as bad_crs:
        read_features(path, crs="mars")
    with pytest.raises(InvalidInput) as bad_kind:
        read_features(path, crs="wgs84", kinds={"area"})

    assert not isinstance(bad_crs.value, ReadError) and bad_crs.value.field == "crs"
    assert bad_kind.value.field == "kinds"
    assert GEOMETRY_KINDS == ("point", "line", "polygon")


def test_ten_thousand_polygons_are_built_vectorised_and_all_converted(tmp_path):
    doc = collection(*({"type": "Polygon", "coordinates": [square(117 + i * 1e-4, 34.2)]} for i in range(10_000)))

    features, _ = read_features(write_geojson(tmp_path, doc), crs="gcj02")

    assert len(features) == 10_000
    expected = crs.transform_geometry(shapely.Point(117 + 9_999 * 1e-4, 34.2), crs.gcj02_to_wgs84)
    assert features[-1].geometry.exterior.coords[0] == pytest.approx(expected.coords[0], abs=1e-12)


def test_a_utf8_dbf_without_cpg_is_read_as_utf8(tmp_path):
    path = write_shapefile(tmp_path, "utf8", [(117.18, 34.26)], shape_type=shapefile.POINT, records=[["贾汪区"]])

    (feature,), _ = read_features(path, crs="wgs84")

    assert feature.properties == {"NAME": "贾汪区"}


def test_a_damaged_shp_is_refused_not_crashed_on(tmp_path):
    path = write_shapefile(tmp_path, "broken", [(117.18, 34.26)], shape_type=shapefile.POINT)
    path.write_bytes(path.read_bytes()[:110])  # cut inside the first record

    error = read_error(path, crs="wgs84")

    assert error.message.startswith("broken.shp could not be read (1 problem): broken.shp: is damaged")


def test_a_nan_coordinate_and_a_geometry_collection_are_refused(tmp_path):
    nan_path = write_csv(tmp_path, "id,lon,lat\n1,nan,34.26\n")
    collection_doc = collection({"type": "GeometryCollection", "geometries": [point(*XUZHOU)]})

    nan_error = read_error(nan_path, crs="wgs84")
    collection_error = read_error(write_geojson(tmp_path, collection_doc), crs="wgs84")

    assert "points.csv row 2: has a coordinate that is not a finite number" in nan_error.message
    assert "feature 1: is a GeometryCollection, which is not supported" in collection_error.message
