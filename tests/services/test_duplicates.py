"""Possible duplicates: same category first, then related ones, within radius and window."""

from __future__ import annotations

import datetime as dt

from citykeeper.services import cases as svc
from citykeeper.services.duplicates import suggest
from citykeeper.store.models import Category
from tests.factories import MONDAY_9AM, report_case


def near(case, lon=117.18, lat=34.26):
    case.lon, case.lat = lon, lat
    case.save(update_fields=["lon", "lat"])
    return case


def test_an_open_case_of_the_same_category_nearby_is_offered_with_its_distance(city, people):
    first = near(report_case(city, people), 117.18, 34.26)
    found = suggest(city.category, 117.1803, 34.2601, at=MONDAY_9AM + dt.timedelta(hours=1))
    assert [s.case.number for s in found] == [first.number]
    assert 25 < found[0].distance_m < 35 and found[0].same_category


def test_far_old_or_finished_cases_are_not_offered(city, people):
    near(report_case(city, people), 117.185, 34.26)  # ~460 m away
    old = near(report_case(city, people, at=MONDAY_9AM - dt.timedelta(days=5)))
    done = near(report_case(city, people))
    svc.reject(done.number, actor=people.operator, version=1, at=MONDAY_9AM, data=svc.MoveInput(reason="重复"))
    assert suggest(city.category, 117.18, 34.26, at=MONDAY_9AM + dt.timedelta(hours=1)) == []
    assert old.reported_at < MONDAY_9AM - dt.timedelta(hours=72)


def test_a_related_category_comes_after_the_same_one_and_the_radius_is_per_category(city, people):
    rain = Category.objects.create(
        kind="component", major_code="01", major_name="市政公用设施", minor_code="01003", minor_name="雨水井盖"
    )
    same = near(report_case(city, people), 117.1802, 34.26)
    related = near(report_case(city, people, category=rain), 117.18, 34.26)
    found = suggest(city.category, 117.18, 34.26, at=MONDAY_9AM + dt.timedelta(hours=1))
    assert [(s.case.number, s.same_category) for s in found] == [(same.number, True), (related.number, False)]
    city.category.duplicate_radius_m = 10
    city.category.save()
    assert [s.case.number for s in suggest(city.category, 117.18, 34.26, at=MONDAY_9AM)] == [related.number]
