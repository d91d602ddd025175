"""Possible duplicates (疑似重复): open cases of the same or a related category reported
near the same place within the category's time window.

The same category counts fully; a related one (same kind and major class, e.g. another
kind of manhole cover) is offered after it. The operator decides and merges; each merge
is an event, so the duplicate rate comes from the event log.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from citykeeper.domain.workflow import OPEN_STATES
from citykeeper.store.models import Case, Category

_EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True)
class Suggestion:
    case: Case
    distance_m: float
    same_category: bool


def metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance (haversine): within 0.5 % of the ellipsoid at these ranges."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_M * math.asin(math.sqrt(a))


def suggest(
    category: Category,
    lon: float,
    lat: float,
    *,
    at: dt.datetime,
    exclude: Case | None = None,
    limit: int = 5,
) -> list[Suggestion]:
    """Open cases near (lon, lat) reported in the window before ``at``: the same category
    first, then related ones, each nearest first."""
    radius = category.duplicate_radius_m
    dlat = radius / 111_320.0
    dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
    candidates = (
        Case.objects.filter(
            state__in=[s.value for s in OPEN_STATES],
            reported_at__gte=at - dt.timedelta(hours=category.duplicate_window_hours),
            reported_at__lte=at,
            lon__gte=lon - dlon,
            lon__lte=lon + dlon,
            lat__gte=lat - dlat,
            lat__lte=lat + dlat,
            category__kind=category.kind,
            category__major_code=category.major_code,
        )
        .select_related("category")
        .order_by("-reported_at")[:200]
    )
    found = []
    for case in candidates:
        if exclude is not None and case.pk == exclude.pk:
            continue
        distance = metres(lon, lat, case.lon, case.lat)
        if distance <= radius:
            found.append(Suggestion(case, distance, case.category_id == category.pk))
    found.sort(key=lambda s: (not s.same_category, s.distance_m))
    return found[:limit]


@dataclass(frozen=True)
class DuplicateRate:
    reports: int  # cases reported in the period
    merged: int  # of those, merged into another case as duplicates
    folded_device_events: int  # camera/sensor events folded into a pending case instead of a new one
    by_source: dict[str, tuple[int, int]]  # source → (reports, merged)

    @property
    def rate(self) -> float:
        return self.merged / self.reports if self.reports else 0.0


def duplicate_rate(cases, *, start: dt.datetime, end: dt.datetime) -> DuplicateRate:
    """重复率 of the cases (a queryset, already scoped) reported in [start, end): how many were
    merged into another case. Read from the cases' states, which the merge events set."""
    from django.db.models import Count, Q

    from citykeeper.domain.workflow import State
    from citykeeper.store.models import DeviceEvent

    period = cases.filter(reported_at__gte=start, reported_at__lt=end)
    rows = period.values("source").annotate(reports=Count("id"), merged=Count("id", filter=Q(state=State.MERGED)))
    by_source = {r["source"]: (r["reports"], r["merged"]) for r in rows.order_by("source")}
    folded = DeviceEvent.objects.filter(received_at__gte=start, received_at__lt=end, new_case=False).count()
    return DuplicateRate(
        reports=sum(r for r, _ in by_source.values()),
        merged=sum(m for _, m in by_source.values()),
        folded_device_events=folded,
        by_source=by_source,
    )
