"""Locating from the stored base data, and every process seeing an edit."""

from __future__ import annotations

import pytest
from shapely.geometry import box, mapping

from citykeeper.services import locating
from citykeeper.spatial import crs
from citykeeper.spatial.index import OutsideCity
from citykeeper.store.models import Area, Category
from tests.factories import make_component, map_city


@pytest.fixture
def mapped_city(city):
    return map_city(city)


def test_a_point_is_located_to_its_grid_community_street_and_district(mapped_city):
    where = locating.locate(117.175, 34.255).location
    assert (where.grid.code, where.community.code, where.street.code, where.district.code) == (
        "320302001001001",
        "320302001001",
        "320302001",
        "320302",
    )
    assert locating.locate(117.185, 34.255).location.grid.code == "320302001001002"


def test_a_point_given_in_gcj02_is_converted_before_locating(mapped_city):
    gcj = crs.wgs84_to_gcj02(117.175, 34.255)
    assert locating.locate(*gcj, crs="gcj02").location.grid.code == "320302001001001"
    assert locating.locate(*gcj).location.grid.code != "320302001001001"  # ~500 m east: the other grid or outside


def test_a_point_outside_the_city_names_the_nearest_district(mapped_city):
    with pytest.raises(OutsideCity) as outside:
        locating.locate(117.30, 34.255)
    assert outside.value.nearest.code == "320302" and 9_000 < outside.value.distance_m < 11_000
    assert "鼓楼区" in outside.value.message


def test_nearby_components_of_a_category_come_with_their_distances(mapped_city):
    make_component(mapped_city)  # at (117.18, 34.26), the north-east corner of the west grid
    found = locating.locate(117.1801, 34.2599, category=mapped_city.category.minor_code, radius_m=50).components
    assert [c.code for c in found] == ["32030201002000001"] and 10 < found[0].distance_m < 20
    other = Category.objects.create(
        kind="component", major_code="01", major_name="x", minor_code="01009", minor_name="y"
    )
    assert locating.locate(117.1801, 34.2599, category=other.minor_code).components == []


def test_an_edit_made_by_another_process_is_seen_after_the_check_interval(mapped_city, monkeypatch):
    assert locating.locate(117.185, 34.255).location.grid.code == "320302001001002"
    # Another process moves the east grid's boundary away and bumps the stored version;
    # this process learns of it only from the counter (queryset updates send no signals).
    from django.db.models import F

    from citykeeper.store.models import BaseDataVersion

    Area.objects.filter(code="320302001001002").update(geometry=mapping(box(117.20, 34.25, 117.21, 34.26)))
    BaseDataVersion.objects.update(version=F("version") + 1)
    assert locating.locate(117.185, 34.255).location.grid.code == "320302001001002"  # still cached
    monkeypatch.setattr(locating, "_CHECK_SECONDS", 0)
    assert locating.locate(117.185, 34.255).location.grid is None  # rebuilt: the district has no grid there


def test_batch_locating_gives_the_grid_of_each_point(mapped_city):
    codes = locating.locate_many([117.175, 117.185, 117.5], [34.255, 34.255, 34.255])
    assert codes == ["320302001001001", "320302001001002", None]


def test_a_change_made_by_this_process_is_seen_at_once(mapped_city):
    assert locating.locate(117.185, 34.255).location.grid.code == "320302001001002"
    east = Area.objects.get(code="320302001001002")
    east.geometry = mapping(box(117.20, 34.25, 117.21, 34.26))
    east.save()  # the save signal bumps the version, in this process
    assert locating.locate(117.185, 34.255).location.grid is None
