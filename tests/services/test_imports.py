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


@pytest.fixture
def quanshan(city):
    """A district with a boundary and no streets yet."""
    return Area.objects.create(
        code="320311",
        name="泉山区",
        level="district",
        parent=city.city,
        geometry=mapping(box(117.20, 34.25, 117.22, 34.26)),
    )


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
