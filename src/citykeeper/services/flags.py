"""Anti-gaming flags for a period: the event log read in a few set-based queries and fed
to the detectors of ``domain.evaluation.flags`` (which say what each flag means).

Read-only. The period is whole local days (``Asia/Shanghai``, the city's ``TIME_ZONE``)
from ``period_start`` to ``period_end`` inclusive, cut at ``now``. Queries, whatever the
size of the city:

1. unit events of the period (dispatches, disposals, approved extensions), each with the
   unit named by its case's latest dispatch at or before it (the event's unit then, not
   the case's unit now: see ``services.unitstats``), and the units' codes;
2. the period's reports;
3. the void events from the re-report window before the period to its end;
4. the inspectors with a patrol area, and the areas' boundaries.

A detector left out (``kinds``) reads nothing of its own. ``subject_names`` names the
flagged subjects (a query per subject kind) for the console and the bulletin.

A report's distance from its inspector's patrol area is measured in metres in the area's
CGCS2000 Gauss-Krüger zone (``spatial.crs``), 0 inside; without a boundary or a point,
the area tree decides (the case's area lies in the patrol area's subtree or not).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from functools import cached_property

import shapely
from django.db.models import OuterRef, Subquery
from django.db.models.fields.json import KeyTextTransform
from django.utils import timezone
from shapely.geometry import shape

from citykeeper.domain.errors import InvalidInput
from citykeeper.domain.evaluation import flags as detect
from citykeeper.domain.evaluation.counters import Subject
from citykeeper.domain.evaluation.flags import DETECTORS, Detector, Flag, Kind
from citykeeper.domain.workflow import Action, Role
from citykeeper.spatial import crs
from citykeeper.store.models import Area, Case, CaseEvent, Unit, User
from citykeeper.store.models.cases import Source

UNIT_EVENT_KINDS = (Action.DISPATCH.value, Action.DISPOSE.value, Action.APPROVE_EXTENSION.value)


def period_bounds(period_start: dt.date, period_end: dt.date, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The first instant of ``period_start`` and the first after ``period_end`` (local days),
    the latter no later than ``now``."""
    tz = timezone.get_default_timezone()
    start = timezone.make_aware(dt.datetime.combine(period_start, dt.time.min), tz)
    end = timezone.make_aware(dt.datetime.combine(period_end + dt.timedelta(days=1), dt.time.min), tz)
    return start, min(end, now)


def find_flags(
    period_start: dt.date,
    period_end: dt.date,
    *,
    now: dt.datetime,
    detectors: Mapping[Kind, Detector] | None = None,
    kinds: Iterable[Kind] | None = None,
) -> list[Flag]:
    """Every flag of the period, detector by detector (``DETECTORS`` order), each
    detector's by subject. ``detectors`` replaces some defaults (thresholds, minimums);
    ``kinds`` runs only those detectors, and reads only what they need (the ranking page
    asks for its subject's detectors alone)."""
    if period_end < period_start:
        raise InvalidInput("The period ends before it starts.", field="period_end")
    chosen = {**DETECTORS, **(detectors or {})}
    wanted = set(DETECTORS) if kinds is None else {Kind(k) for k in kinds}
    start, end = period_bounds(period_start, period_end, now)
    if end <= start:
        return []
    log = _Log(start, end, chosen)
    return [flag for kind in DETECTORS if kind in wanted for flag in RUN[kind](log, chosen[kind])]


class _Log:
    """The period's events, each read once and only when a detector asks for them."""

    def __init__(self, start: dt.datetime, end: dt.datetime, chosen: Mapping[Kind, Detector]) -> None:
        self.start, self.end, self.chosen = start, end, chosen

    @cached_property
    def unit_events(self):
        return _unit_events(self.start, self.end)

    @cached_property
    def reports(self) -> list[tuple]:
        return _reports(self.start, self.end)

    @cached_property
    def voids(self) -> list[detect.Voiding]:
        window = dt.timedelta(days=self.chosen[Kind.VOIDED_THEN_REREPORTED].params["window_days"])
        return _voids(self.start - window, self.end)


# Each detector with the events it reads.
RUN: dict[Kind, Callable[[_Log, Detector], list[Flag]]] = {
    Kind.LAST_MINUTE_DISPOSAL: lambda log, d: detect.last_minute_disposal(log.unit_events[1], d),
    Kind.REPORTS_OFF_PATROL_AREA: lambda log, d: detect.reports_off_patrol_area(_patrol_reports(log.reports), d),
    Kind.VOIDED_THEN_REREPORTED: lambda log, d: detect.voided_then_rereported(
        log.voids, [detect.Report(*r[:7]) for r in log.reports], d
    ),
    Kind.EXTENSIONS_CONCENTRATED: lambda log, d: detect.extensions_concentrated(
        log.unit_events[0], log.unit_events[2], d
    ),
}


def subject_names(flags: Iterable[Flag]) -> dict[tuple[str, int], str]:
    """(subject kind, id) → the subject's name (unit name, inspector's display name, grid
    name) for the flags' subjects: a query per kind present. A subject gone from the
    tables (or a unit the event log no longer names, id 0) has no entry."""
    ids: dict[str, set[int]] = defaultdict(set)
    for f in flags:
        ids[f.subject_kind].add(f.subject_id)
    names: dict[tuple[str, int], str] = {}
    for kind, wanted in ids.items():
        for pk, name in NAMES[kind](wanted):
            names[(kind, pk)] = name
    return names


def _people_names(ids: set[int]):
    for pk, display, username in User.objects.filter(pk__in=ids).values_list("pk", "display_name", "username"):
        yield pk, display or username


NAMES: dict[str, Callable[[set[int]], Iterable[tuple[int, str]]]] = {
    Subject.UNIT.value: lambda ids: Unit.objects.filter(pk__in=ids).values_list("pk", "name"),
    Subject.GRID.value: lambda ids: Area.objects.filter(pk__in=ids).values_list("pk", "name"),
    Subject.INSPECTOR.value: _people_names,
}


# ---------------------------------------------------------------- units


def _unit_at_event():
    """The unit code named by the latest dispatch of the event's case at or before it."""
    latest_dispatch = CaseEvent.objects.filter(
        case_id=OuterRef("case_id"), kind=Action.DISPATCH.value, seq__lte=OuterRef("seq")
    ).order_by("-seq")
    return Subquery(latest_dispatch.annotate(unit_code=KeyTextTransform("unit", "data")).values("unit_code")[:1])


def _unit_events(start: dt.datetime, end: dt.datetime):
    unit_ids = dict(Unit.objects.values_list("code", "pk"))
    rows = (
        CaseEvent.objects.filter(kind__in=UNIT_EVENT_KINDS, at__gte=start, at__lt=end)
        .annotate(unit_code=_unit_at_event())
        .order_by("at", "case_id", "seq")
        .values_list("kind", "case__number", "unit_code", "outcome")
    )
    dispatches, disposals, extensions = [], [], []
    for kind, number, code, outcome in rows:
        unit_id = unit_ids.get(code or "", 0)
        if kind == Action.DISPATCH:
            dispatches.append(detect.UnitEvent(unit_id, number))
        elif kind == Action.APPROVE_EXTENSION:
            extensions.append(detect.UnitEvent(unit_id, number))
        elif outcome and outcome.get("limit_seconds") is not None:
            disposals.append(
                detect.Disposal(
                    unit_id,
                    number,
                    int(outcome.get("used_seconds") or 0),
                    int(outcome["limit_seconds"]),
                    bool(outcome.get("on_time")),
                )
            )
    return dispatches, disposals, extensions


# ---------------------------------------------------------------- reports and voids

REPORT_FIELDS = (
    "number",
    "reported_at",
    "category__minor_code",
    "lon",
    "lat",
    "source",
    "area_id",
    "reporter_id",
    "area_path",
)


def _reports(start: dt.datetime, end: dt.datetime) -> list[tuple]:
    """The period's reports as (number, reported at, minor code, lon, lat, reporting
    inspector or None, area id, area path)."""
    rows = (
        Case.objects.filter(reported_at__gte=start, reported_at__lt=end)
        .order_by("reported_at", "number")
        .values_list(*REPORT_FIELDS)
    )
    return [
        (number, at, category, lon, lat, reporter if source == Source.INSPECTOR else None, area_id, path)
        for number, at, category, lon, lat, source, area_id, reporter, path in rows
    ]


def _voids(start: dt.datetime, end: dt.datetime) -> list[detect.Voiding]:
    rows = CaseEvent.objects.filter(kind=Action.VOID.value, at__gte=start, at__lt=end).values_list(
        "case__number", "at", "case__category__minor_code", "case__lon", "case__lat"
    )
    return [detect.Voiding(*row) for row in rows]


# ---------------------------------------------------------------- patrol areas


def _patrol_reports(reports: list[tuple]) -> list[detect.PatrolReport]:
    """The inspectors' reports, each placed against the reporter's patrol area."""
    patrol = dict(
        User.objects.filter(role_grants__role=Role.INSPECTOR.value, scope_area__isnull=False).values_list(
            "pk", "scope_area_id"
        )
    )
    mine = [r for r in reports if r[5] is not None and r[5] in patrol]
    if not mine:
        return []
    areas = {
        pk: (path, geometry)
        for pk, path, geometry in Area.objects.filter(pk__in=set(patrol.values())).values_list("pk", "path", "geometry")
    }
    by_area: dict[int, list[tuple]] = defaultdict(list)
    for r in mine:
        by_area[patrol[r[5]]].append(r)
    out = []
    for area_id, its_reports in by_area.items():
        path, geometry = areas[area_id]
        distances = _distances(geometry, [(r[3], r[4]) for r in its_reports])
        for r, distance in zip(its_reports, distances, strict=True):
            under = r[7] == path or r[7].startswith(path + "/")
            out.append(detect.PatrolReport(r[5], r[0], distance, under))
    return out


def _distances(geometry: dict | None, points: list[tuple[float | None, float | None]]) -> list[float | None]:
    """Metres from the area to each (lon, lat) point, 0 inside; None where either is missing
    or the area lies outside the Gauss-Krüger zones."""
    out: list[float | None] = [None] * len(points)
    if not geometry:
        return out
    area = shape(geometry)
    if area.is_empty:
        return out
    try:
        epsg = crs.utm_or_gk_crs_for(area.centroid.x)
    except InvalidInput:
        return out
    known = [i for i, (lon, lat) in enumerate(points) if lon is not None and lat is not None]
    if not known:
        return out
    projected_area = crs.to_projected(area, epsg)
    projected = crs.to_projected(shapely.points([points[i] for i in known]), epsg)
    for i, metres in zip(known, shapely.distance(projected, projected_area), strict=True):
        out[i] = float(metres)
    return out
