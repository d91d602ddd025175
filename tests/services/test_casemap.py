"""The staff map's reads: the polygon filter in SQL agrees with Shapely point by point, and the
counts per cell add up to the cases in the box."""

from __future__ import annotations

import math
import random

import pytest
import shapely
from django.utils import timezone

from citykeeper.services import casemap
from citykeeper.store.models import Case
from tests.factories import report_case

# A ten-pointed star with deep notches round 117.18 E, 34.255 N: concave at every other vertex.
STAR = [
    (
        round(117.18 + (0.01 if i % 2 == 0 else 0.003) * math.sin(math.pi * i / 5), 6),
        round(34.255 + (0.01 if i % 2 == 0 else 0.003) * math.cos(math.pi * i / 5), 6),
    )
    for i in range(10)
]


def test_the_polygon_filter_agrees_with_shapely_on_random_points(city, people):
    polygon = casemap.parse_within(",".join(f"{x} {y}" for x, y in STAR))
    cases = [report_case(city, people) for _ in range(10)]
    rng = random.Random(47678)
    west, south, east, north = polygon.bounds
    checked = inside_seen = 0
    for _ in range(12):
        expected = set()
        for case in cases:
            lon = rng.uniform(west - 0.002, east + 0.002)
            lat = rng.uniform(south - 0.002, north + 0.002)
            Case.objects.filter(pk=case.pk).update(lon=lon, lat=lat)
            if polygon.contains(shapely.Point(lon, lat)):
                expected.add(case.number)
        found = set(casemap.within(Case.objects.all(), polygon).values_list("number", flat=True))
        assert found == expected
        checked += len(cases)
        inside_seen += len(expected)
    assert checked == 120 and 0 < inside_seen < checked


@pytest.mark.parametrize(
    "raw", ["", "1 2,3 4", "a b,c d,e f", "0 0,1 1,1 0,0 1", "0 0,0 0,0 0,0 0", "0 0,1 0,1 1,0 1," * 30]
)
def test_parse_within_refuses_what_is_not_a_usable_polygon(raw):
    with pytest.raises(ValueError):
        casemap.parse_within(raw)


def test_cells_add_up_to_the_cases_in_the_box(city, people):
    now = timezone.now()
    for i, case in enumerate(report_case(city, people, at=now) for _ in range(6)):
        Case.objects.filter(pk=case.pk).update(lon=117.17 + 0.0101 * (i % 3), lat=34.25)
    box = (117.16, 34.24, 117.2, 34.27)
    cells = casemap.cells(people.leader, box, cell=0.01, now=now)
    assert sorted(c["count"] for c in cells) == [2, 2, 2]
    assert casemap.count(people.leader, box, now=now) == 6
    assert all(sum(c["states"].values()) == c["count"] for c in cells)
