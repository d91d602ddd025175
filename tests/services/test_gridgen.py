"""Generating and importing the area tree of real districts (无锡, 常州, 珠海 boundaries)."""

from __future__ import annotations

import pytest

from citykeeper.domain.errors import InvalidInput
from citykeeper.services.gridgen import generate_areas
from citykeeper.services.imports import ImportRefused, import_areas
from citykeeper.spatial.grid import BUNDLED_GEO_DIR
from citykeeper.store.models import Area


def import_city(prefix: str):
    import_areas(BUNDLED_GEO_DIR / f"{prefix}_city.geojson", level="city", crs="gcj02")
    import_areas(BUNDLED_GEO_DIR / f"{prefix}_districts.geojson", level="district", crs="gcj02")


def test_wuxi_and_changzhou_import_city_then_districts_from_the_real_boundaries(db):
    import_city("320200_wuxi")
    import_city("320400_changzhou")
    assert set(Area.objects.filter(level="district", parent__code="320200").values_list("code", flat=True)) == {
        "320205", "320206", "320211", "320213", "320214", "320281", "320282",
    }  # fmt: skip
    liangxi = Area.objects.get(code="320213")
    assert liangxi.path == "320200/320213" and liangxi.name == "梁溪区" and 60e6 < liangxi.area_m2 < 90e6
    assert Area.objects.filter(level="district", parent__code="320400").count() == 6


def test_zhuhai_islands_leave_a_gap_that_only_a_partial_import_accepts(db):
    import_areas(BUNDLED_GEO_DIR / "440400_zhuhai_city.geojson", level="city", crs="gcj02")
    districts = BUNDLED_GEO_DIR / "440400_zhuhai_districts.geojson"
    with pytest.raises(ImportRefused, match="gap of 10"):
        import_areas(districts, level="district", crs="gcj02")
    assert import_areas(districts, level="district", crs="gcj02", require_tiling=False).created == 3


def test_a_district_is_divided_into_coded_streets_communities_and_unit_grids(db):
    import_city("320400_changzhou")
    report = generate_areas("320404", streets=2, communities_per_street=2, cell_m=200, core=(119.95, 31.78, 2000))
    assert (report.streets, report.communities) == (2, 4) and report.grids > 50
    grids = Area.objects.filter(level="grid", path__startswith="320400/320404/")
    assert grids.count() == report.grids and all(g.synthetic and len(g.code) == 15 for g in grids)
    with pytest.raises(InvalidInput, match="already has street offices"):
        generate_areas("320404", streets=2, communities_per_street=2)


def test_a_generated_file_imports_level_by_level(db, tmp_path):
    import_city("320400_changzhou")
    out = tmp_path / "zhonglou.geojson"
    report = generate_areas(
        "320404", streets=2, communities_per_street=2, cell_m=200, core=(119.95, 31.78, 2000), out=out
    )
    assert not Area.objects.filter(parent__code="320404").exists()  # only written to the file
    for level in ("street", "community", "grid"):
        import_areas(out, level=level, crs="wgs84", require_tiling=False)
    assert Area.objects.filter(level="grid", path__startswith="320400/320404/").count() == report.grids


def test_too_many_grids_for_a_community_is_refused_with_the_way_out(db):
    import_city("320400_changzhou")
    with pytest.raises(InvalidInput, match="at most 999 fit in a 3-digit code"):
        generate_areas("320412", streets=1, communities_per_street=1)
    assert not Area.objects.filter(parent__code="320412").exists()
