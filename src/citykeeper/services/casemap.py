"""Reads for the console's map (工作台 · 案件地图): the open cases a member of staff may see.

Unlike the public map (``services.public``) nothing is rounded, hidden or limited by age: every
open case in the user's scope (``Case.objects.restrict(user, "view")``), at its stored position.

- ``cells``: zoomed out, the cases counted per square cell in the database, with the count per
  deadline state (one query, however many cases);
- ``points``: zoomed in, one row per case with what its marker and popup show (one query, at most
  ``POINT_LIMIT``, the most urgent first);
- ``grid_counts``: the open cases per unit grid (单元网格) for the choropleth (one query plus the
  grid outlines from the in-memory index);
- ``parse_within`` / ``within_q``: a polygon drawn on the map as a filter, exact, in SQL, so the
  queue pages can page and count with it like any other filter.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from dataclasses import dataclass

import shapely
from django.db import models
from django.db.models import Avg, Count, F, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import Floor, Mod

from citykeeper.domain.workflow import OPEN_STATES
from citykeeper.services import maplayers, queues
from citykeeper.store.models import Case

Box = tuple[float, float, float, float]

POINT_LIMIT = 3000
MAX_GRIDS = 3000
MAX_VERTICES = 100
MAX_WITHIN_CHARS = 6000
# Choropleth classes of the grid layer (1 … GRID_CLASSES; 0 for a grid without open cases).
GRID_CLASSES = 5

_POINT_FIELDS = (
    "number",
    "lon",
    "lat",
    "state",
    "address",
    "urgent",
    "category__minor_name",
    "stage_deadline_at",
    "stage_warn_at",
    "stage_overdue",
    "stage_warned",
    "stage_remaining_seconds",
)


@dataclass(frozen=True)
class Filters:
    """The map's filters, as on the queue pages: a category id and a deadline state."""

    category: int | None = None
    deadline: str | None = None

    @classmethod
    def from_params(cls, params) -> Filters:
        category = params.get("category", "")
        deadline = params.get("deadline", "")
        return cls(
            category=int(category) if category.isdigit() else None,
            deadline=deadline if deadline in queues.DEADLINE_STATES else None,
        )

    def as_params(self) -> dict[str, str]:
        chosen = {}
        if self.category is not None:
            chosen["category"] = str(self.category)
        if self.deadline:
            chosen["deadline"] = self.deadline
        return chosen


def open_cases(user, filters: Filters | None = None, now: dt.datetime | None = None) -> QuerySet[Case]:
    """The open cases ``user`` may see, narrowed by ``filters``."""
    cases = Case.objects.restrict(user, "view").filter(state__in=sorted(OPEN_STATES))
    filters = filters or Filters()
    if filters.category is not None:
        cases = cases.filter(category_id=filters.category)
    if filters.deadline:
        cases = cases.filter(queues.deadline_q(filters.deadline, now or _now()))
    return cases


def _now() -> dt.datetime:
    from django.utils import timezone

    return timezone.now()


def in_box(cases: QuerySet[Case], box: Box) -> QuerySet[Case]:
    min_lon, min_lat, max_lon, max_lat = box
    return cases.filter(lon__gte=min_lon, lon__lte=max_lon, lat__gte=min_lat, lat__lte=max_lat)


def count(user, box: Box, filters: Filters | None = None, *, now: dt.datetime) -> int:
    return in_box(open_cases(user, filters, now), box).count()


def cells(user, box: Box, *, cell: float, now: dt.datetime, filters: Filters | None = None) -> list[dict]:
    """The cases in ``box`` counted per square cell of ``cell`` degrees, in one query: the cell's
    mean position, the count and the count per deadline state (ok, warn, overdue, paused, none)."""
    states = {state: Count("id", filter=queues.deadline_q(state, now)) for state in queues.DEADLINE_STATES}
    rows = (
        in_box(open_cases(user, filters, now), box)
        .annotate(cx=Floor(F("lon") / cell), cy=Floor(F("lat") / cell))
        .values("cx", "cy")
        .annotate(n=Count("id"), x=Avg("lon"), y=Avg("lat"), **states)
        .order_by("cx", "cy")
    )
    found = []
    for row in rows:
        by_state = {state: row[state] for state in queues.DEADLINE_STATES if row[state]}
        rest = row["n"] - sum(by_state.values())
        if rest:
            by_state["none"] = rest
        found.append({"lon": row["x"], "lat": row["y"], "count": row["n"], "states": by_state})
    return found


def points(user, box: Box, *, now: dt.datetime, filters: Filters | None = None, limit: int = POINT_LIMIT):
    """The cases in ``box``, the most urgent first, at most ``limit`` (one query): each with its
    number, position, category, address, state, deadline and deadline state."""
    rows = list(
        in_box(open_cases(user, filters, now), box)
        .select_related("category")
        .only(*_POINT_FIELDS)
        .order_by(F("stage_deadline_at").asc(nulls_last=True), "id")[: limit + 1]
    )
    return rows[:limit], len(rows) > limit


def grid_class(n: int, most: int) -> int:
    """0 for no case, else 1 … GRID_CLASSES by the share of the busiest grid in view."""
    if n <= 0 or most <= 0:
        return 0
    return max(1, math.ceil(GRID_CLASSES * n / most))


def grid_counts(user, box: Box, *, now: dt.datetime, filters: Filters | None = None):
    """The unit grids meeting ``box`` with the number of the user's open cases in each (one query
    for the counts; outlines from ``maplayers``). None when more than ``MAX_GRIDS`` are in view."""
    outlines = maplayers.areas_in(box, "grid")
    if len(outlines) > MAX_GRIDS:
        return None
    codes = [o.code for o in outlines]
    numbers = dict(
        open_cases(user, filters, now)
        .filter(area__code__in=codes)
        .values_list("area__code")
        .annotate(n=Count("id"))
        .order_by()
    )
    most = max(numbers.values(), default=0)
    return [(o, numbers.get(o.code, 0), grid_class(numbers.get(o.code, 0), most)) for o in outlines]


# ------------------------------------------------------------------ a drawn polygon


def parse_within(raw: str) -> shapely.Polygon:
    """A polygon from ``"lon lat,lon lat,…"`` (WGS-84; closing the ring is optional). ValueError
    unless it has 3 to ``MAX_VERTICES`` vertices, valid coordinates and is a valid polygon."""
    if len(raw or "") > MAX_WITHIN_CHARS:
        raise ValueError("too long")
    parts = [p for p in (raw or "").strip().split(",") if p.strip()]
    if len(parts) > MAX_VERTICES + 1:
        raise ValueError(f"more than {MAX_VERTICES} vertices")
    vertices = []
    for part in parts:
        pair = part.split()
        if len(pair) != 2:
            raise ValueError("a vertex is 'lon lat'")
        lon, lat = float(pair[0]), float(pair[1])  # ValueError on text
        if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
            raise ValueError("a vertex is out of range")
        vertices.append((lon, lat))
    if len(vertices) > 1 and vertices[0] == vertices[-1]:
        vertices.pop()
    if len(vertices) > MAX_VERTICES:
        raise ValueError(f"more than {MAX_VERTICES} vertices")
    if len(set(vertices)) < 3:
        raise ValueError("fewer than 3 vertices")
    polygon = shapely.Polygon(vertices)
    if not polygon.is_valid or polygon.area <= 0:
        raise ValueError("not a valid polygon (its edges cross)")
    return polygon


def within_text(polygon: shapely.Polygon) -> str:
    """The canonical ``within`` value of a polygon (7 decimals, about 1 cm)."""
    return ",".join(f"{round(x, 7):g} {round(y, 7):g}" for x, y in polygon.exterior.coords[:-1])


def within_q(polygon: shapely.Polygon) -> tuple[Q, Mod]:
    """(a box filter on ``lon``/``lat``, an expression that is odd exactly for the points inside).

    The even-odd rule in SQL: a horizontal ray from the case eastwards crosses the polygon's
    edges an odd number of times when the case is inside, concave polygons included. An edge
    (x1, y1)–(x2, y2) is crossed when y1 <= lat < y2 (or the other way round; half-open, so a
    vertex counts once) and lon < x1 + (lat - y1)·(x2 - x1)/(y2 - y1). The box uses the
    (lon, lat) index; the sum is evaluated on the rows in the box only."""
    min_lon, min_lat, max_lon, max_lat = polygon.bounds
    box = Q(lon__gte=min_lon, lon__lte=max_lon, lat__gte=min_lat, lat__lte=max_lat)
    coords = polygon.exterior.coords
    terms = []
    for (x1, y1), (x2, y2) in itertools.pairwise(coords):
        if y1 == y2:
            continue
        slope = (x2 - x1) / (y2 - y1)
        edge = Q(lat__gte=min(y1, y2), lat__lt=max(y1, y2), lon__lt=Value(x1 - y1 * slope) + Value(slope) * F("lat"))
        terms.append(models.Case(When(edge, then=Value(1)), default=Value(0), output_field=IntegerField()))
    return box, Mod(_balanced_sum(terms), Value(2), output_field=IntegerField())


def _balanced_sum(terms: list):
    """a + b + c + … nested as a balanced tree: 100 terms chained one after another nest 100
    parentheses deep, past SQLite's parser stack; balanced, they nest 7 deep."""
    if len(terms) == 1:
        return terms[0]
    middle = len(terms) // 2
    return _balanced_sum(terms[:middle]) + _balanced_sum(terms[middle:])


def within(cases: QuerySet[Case], polygon: shapely.Polygon) -> QuerySet[Case]:
    """``cases`` inside ``polygon``."""
    box, parity = within_q(polygon)
    return cases.filter(box).alias(within_parity=parity).filter(within_parity=1)
