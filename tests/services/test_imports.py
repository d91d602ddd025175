"""Importing area layers: all or nothing, generated codes, every problem named."""

from __future__ import annotations

import json

import pytest
from shapely.geometry import box, mapping

from citykeeper.services import basedata
from citykeeper.services.imports import ImportRefused, import_areas
from citykeeper.spatial.readers import ReadError
from citykeeper.store.models import Area

WEST = box(117.20, 34.25, 117.21, 34.26)
EAST = box(117.21, 34.25, 117.22, 34.26)


def geojson(tmp_path, *features, name="streets.geojson"):
    path = tmp_path / name
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [{"type": "Feature", "properties": props, "geometry": mapping(g)} for props, g in features],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    return path


def test_streets_without_codes_get_them_west_to_east_and_land_under_their_district(quanshan, tmp_path):
    path = geojson(tmp_path, ({"name": "东街道"}, EAST), ({"name": "西街道"}, WEST))
    before = basedata.current_version()
    report = import_areas(path, level="street", crs="wgs84")
    assert (report.created, report.generated_codes) == (2, 2)
    streets = {a.name: a for a in Area.objects.filter(parent=quanshan)}
    assert streets["西街道"].code == "320311001" and streets["东街道"].code == "320311002"
    assert streets["西街道"].path == "320300/320311/320311001" and 900_000 < streets["西街道"].area_m2 < 1_100_000
    assert basedata.current_version() > before


def test_an_overlap_and_a_street_outside_its_district_refuse_the_whole_file(quanshan, tmp_path):
    path = geojson(
        tmp_path,
        ({"name": "西街道"}, WEST),
        ({"name": "东街道"}, box(117.209, 34.25, 117.22, 34.26)),  # overlaps the west street by ~100 m
        ({"name": "越界街道"}, box(117.22, 34.25, 117.23, 34.26)),  # east of the district
    )
    with pytest.raises(ImportRefused) as refused:
        import_areas(path, level="street", crs="wgs84", require_tiling=False)
    text = "\n".join(refused.value.problems)
    assert "feature 2" in text and "overlap" in text
    assert "feature 3" in text
    assert not Area.objects.filter(parent=quanshan).exists()


def test_a_gap_is_a_problem_when_the_streets_must_tile_the_district(quanshan, tmp_path):
    path = geojson(tmp_path, ({"name": "西街道"}, WEST))
    with pytest.raises(ImportRefused, match=r"gap|not covered") as refused:
        import_areas(path, level="street", crs="wgs84")
    assert "320311" in "\n".join(refused.value.problems)
    assert import_areas(path, level="street", crs="wgs84", require_tiling=False).created == 1


def test_a_parent_that_has_streets_takes_no_more_from_another_file(quanshan, tmp_path):
    import_areas(geojson(tmp_path, ({"name": "西街道"}, WEST), ({"name": "东街道"}, EAST)), level="street", crs="wgs84")
    again = geojson(tmp_path, ({"name": "新街道"}, WEST), name="more.geojson")
    with pytest.raises(ImportRefused, match="already has street areas"):
        import_areas(again, level="street", crs="wgs84", require_tiling=False)


def test_a_file_without_a_declared_crs_is_refused_before_anything_is_checked(quanshan, tmp_path):
    with pytest.raises(ReadError, match="no coordinate system is declared"):
        import_areas(geojson(tmp_path, ({"name": "西街道"}, WEST)), level="street")
    assert not Area.objects.filter(parent=quanshan).exists()


def test_a_dry_run_checks_everything_and_writes_nothing(quanshan, tmp_path):
    path = geojson(tmp_path, ({"name": "西街道"}, WEST), ({"name": "东街道"}, EAST))
    report = import_areas(path, level="street", crs="wgs84", dry_run=True)
    assert report.dry_run and report.created == 0 and report.generated_codes == 2
    assert not Area.objects.filter(parent=quanshan).exists()


# ---------------------------------------------------------------- components

COMPONENT_HEADER = "GLBJBSM,GLBJMC,XLDM,GLBJZT,YHDWDM,CSRQ,lon,lat,井深\n"


def components_csv(tmp_path, *rows):
    path = tmp_path / "components.csv"
    path.write_text(COMPONENT_HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def test_components_are_imported_into_their_grids_with_generated_codes_and_a_first_version(city, tmp_path):
    from citykeeper.services.imports import import_components
    from citykeeper.store.models import Component, ComponentVersion
    from tests.factories import map_city

    map_city(city)
    path = components_csv(
        tmp_path,
        f"32030201002000007,污水井盖,01002,完好,{city.unit.code},20260301,117.1750,34.2550,3.5",
        ",污水井盖,01002,破损,,2026-03-02,117.1850,34.2550,",
    )
    before = basedata.current_version()
    report = import_components(path, crs="wgs84")
    assert (report.created, report.generated_codes) == (2, 1)
    given = Component.objects.get(code="32030201002000007")
    assert (given.grid.code, given.state, given.maintainer_unit, given.attributes) == (
        "320302001001001",
        "intact",
        city.unit,
        {"井深": "3.5"},
    )
    generated = Component.objects.exclude(pk=given.pk).get()
    assert generated.code == "32030201002000008" and generated.grid.code == "320302001001002"
    assert generated.state == "damaged" and generated.surveyed_on.isoformat() == "2026-03-02"
    assert ComponentVersion.objects.filter(version=1, via="import components.csv").count() == 2
    assert basedata.current_version() > before


def test_a_components_file_with_problems_names_each_row_and_writes_nothing(city, tmp_path):
    from citykeeper.services.imports import import_components
    from citykeeper.store.models import Component
    from tests.factories import make_component, map_city

    map_city(city)
    make_component(city)  # 32030201002000001 is taken
    path = components_csv(
        tmp_path,
        "32030201002000001,污水井盖,01002,完好,,20260301,117.175,34.255,",  # row 2: code taken
        ",不明部件,99999,完好,,20260301,117.175,34.255,",  # row 3: unknown category
        ",污水井盖,01002,完好,NO-SUCH-UNIT,20260301,117.175,34.255,",  # row 4: unknown unit
        ",污水井盖,01002,坏了,,20260301,117.175,34.255,",  # row 5: unknown state
        ",污水井盖,01002,完好,,,117.175,34.255,",  # row 6: no survey date
        ",污水井盖,01002,完好,,20260301,117.5,34.255,",  # row 7: outside the city
    )
    with pytest.raises(ImportRefused) as refused:
        import_components(path, crs="wgs84")
    problems = refused.value.problems
    expected = {
        2: "already in use",
        3: "unknown component category '99999'",
        4: "unknown maintainer unit code 'NO-SUCH-UNIT'",
        5: "state '坏了'",
        6: "survey date",
        7: "outside the city",
    }
    for row, words in expected.items():
        assert any(p.startswith(f"components.csv row {row}: ") and words in p for p in problems), (row, problems)
    assert Component.objects.count() == 1


# ---------------------------------------------------------------- gazetteer


def test_roads_and_doorplates_are_imported_and_describe_positions(city, tmp_path):
    from shapely.geometry import LineString, Point

    from citykeeper.services import locating
    from citykeeper.services.imports import import_gazetteer
    from tests.factories import map_city

    map_city(city)
    roads = geojson(
        tmp_path,
        ({"name": "中山北路"}, LineString([(117.18, 34.251), (117.18, 34.259)])),
        ({"name": "黄河路"}, LineString([(117.171, 34.255), (117.189, 34.255)])),
        name="roads.geojson",
    )
    plates = geojson(tmp_path, ({"name": "中山北路", "number": "109"}, Point(117.1799, 34.2570)), name="plates.geojson")
    assert import_gazetteer(roads, kind="road", crs="wgs84").created == 2
    assert import_gazetteer(plates, kind="doorplate", crs="wgs84").created == 1
    _, described = locating.describe(117.1803, 34.2553)
    assert described.text.startswith("鼓楼区 ") and "中山北路与黄河路交叉口" in described.text
    assert locating.describe(117.1799, 34.2570)[1].text == "鼓楼区 中山北路109号附近"
    best = locating.geocode("中山北路与黄河路交叉口")[0]
    assert abs(best.lon - 117.18) < 1e-5 and abs(best.lat - 34.255) < 1e-5


def test_a_gazetteer_file_with_problems_writes_nothing(city, tmp_path):
    from shapely.geometry import Point

    from citykeeper.services.imports import import_gazetteer
    from citykeeper.store.models import GazetteerEntry
    from tests.factories import map_city

    map_city(city)
    plates = geojson(
        tmp_path,
        ({"name": "中山北路", "number": "1"}, Point(117.175, 34.255)),
        ({"name": "中山北路", "number": "1"}, Point(117.176, 34.255)),  # the same doorplate again
        ({"name": "中山北路"}, Point(117.177, 34.255)),  # no number
        ({"name": "海边路", "number": "9"}, Point(117.9, 34.0)),  # outside the city
        name="plates.geojson",
    )
    with pytest.raises(ImportRefused) as refused:
        import_gazetteer(plates, kind="doorplate", crs="wgs84")
    text = "\n".join(refused.value.problems)
    assert "feature 2: 中山北路1号 is already" in text
    assert "feature 3: the doorplate number is missing" in text
    assert "feature 4: " in text and "outside the city" in text
    assert not GazetteerEntry.objects.exists()


def test_responsibility_grids_land_in_the_street_that_holds_them_and_locate_finds_them(city, tmp_path):
    from citykeeper.services import locating
    from citykeeper.store.models import ResponsibilityGrid
    from tests.factories import map_city

    map_city(city)
    path = geojson(
        tmp_path,
        ({"code": "ZR-GL-01", "name": "鼓楼一号责任网格"}, box(117.17, 34.25, 117.18, 34.26)),
        name="beats.geojson",
    )
    assert import_areas(path, level="responsibility", crs="wgs84").created == 1
    beat = ResponsibilityGrid.objects.get(code="ZR-GL-01")
    assert beat.area.level in ("street", "district") and beat.area.path.startswith("320300/320302")
    assert locating.locate(117.175, 34.255).location.responsibility.code == "ZR-GL-01"
    assert locating.locate(117.185, 34.255).location.responsibility is None
