"""Reference data: the codebook, the area tree, units and the working calendar."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Prefetch, Q
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema

from citykeeper.api.v1.cases import aware
from citykeeper.api.v1.errors import ErrorOut
from citykeeper.api.v1.schemas import (
    AreaDetail,
    AreaPage,
    CalendarOut,
    CategoryDetail,
    CategoryPage,
    DeadlineOut,
    PageParams,
    UnitPage,
)
from citykeeper.domain.calendar import MINUTES_PER_DAY
from citykeeper.domain.clock import LimitUnit
from citykeeper.domain.errors import NotFound
from citykeeper.services.calendar import calendar_for, missing_years, working_calendar
from citykeeper.services.limits import to_limit
from citykeeper.store.models import Area, CalendarDay, CalendarYear, Category, FilingCondition, Unit
from citykeeper.store.models.codebook import Kind, Standard
from citykeeper.store.models.org import AreaLevel, UnitKind, UnitLevel

_ERRORS = {401: ErrorOut, 404: ErrorOut, 422: ErrorOut}


def paginate(qs, params: PageParams, serialize) -> dict[str, Any]:
    count = qs.count()
    start = (params.page - 1) * params.page_size
    return {
        "count": count,
        "page": params.page,
        "page_size": params.page_size,
        "results": [serialize(row) for row in qs[start : start + params.page_size]],
    }


# ---------------------------------------------------------------- codebook

codebook = Router(tags=["codebook"])


class CategoryFilters(PageParams):
    standard: str | None = Field(None, description=f"One of: {', '.join(Standard.values)}.")
    kind: Kind | None = None
    q: str | None = Field(None, max_length=100, description="Text in the codes or names.")
    active: bool | None = None


def _category(c: Category) -> dict[str, Any]:
    return {
        "id": c.pk,
        "standard": c.standard,
        "kind": c.kind,
        "major_code": c.major_code,
        "major_name": c.major_name,
        "minor_code": c.minor_code,
        "minor_name": c.minor_name,
        "emergency": c.emergency,
        "active": c.active,
    }


@codebook.get("/categories", response={200: CategoryPage, **_ERRORS}, summary="List categories")
def list_categories(request: HttpRequest, filters: Query[CategoryFilters]):
    """Components (部件) and events (事件) of the codebook."""
    qs = Category.objects.order_by("standard", "kind", "minor_code", "id")
    if filters.standard:
        qs = qs.filter(standard=filters.standard)
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    if filters.active is not None:
        qs = qs.filter(active=filters.active)
    if filters.q:
        q = filters.q.strip()
        qs = qs.filter(
            Q(minor_code__icontains=q)
            | Q(minor_name__icontains=q)
            | Q(major_code__icontains=q)
            | Q(major_name__icontains=q)
        )
    return paginate(qs, filters, _category)


@codebook.get("/categories/{category_id}", response={200: CategoryDetail, **_ERRORS}, summary="A category")
def get_category(request: HttpRequest, category_id: int):
    """A category with its filing conditions (立案条件): disposal limit, urgency, closing condition
    and per-area-class overrides."""
    category = (
        Category.objects.prefetch_related(
            Prefetch(
                "filing_conditions",
                queryset=FilingCondition.objects.select_related("closing_condition")
                .prefetch_related("area_limits")
                .order_by("seq"),
            ),
            "closing_conditions",
        )
        .filter(pk=category_id)
        .first()
    )
    if category is None:
        raise NotFound(f"No category with id {category_id}.", field="category_id")
    return {
        **_category(category),
        "code_status": category.code_status,
        "note": category.note,
        "filing_conditions": [
            {
                "id": fc.pk,
                "seq": fc.seq,
                "text": fc.text,
                "limit_value": fc.limit_value,
                "limit_unit": fc.limit_unit,
                "urgent": fc.urgent,
                "closing_condition": fc.closing_condition.text if fc.closing_condition_id else None,
                "area_limits": [
                    {"area_class": al.area_class, "limit_value": al.limit_value, "limit_unit": al.limit_unit}
                    for al in sorted(fc.area_limits.all(), key=lambda al: al.area_class)
                ],
            }
            for fc in category.filing_conditions.all()
        ],
        "closing_conditions": sorted(cc.text for cc in category.closing_conditions.all()),
    }


# ---------------------------------------------------------------- areas

areas = Router(tags=["areas"])


class AreaFilters(PageParams):
    level: AreaLevel | None = None
    parent: str | None = Field(None, description="Code of the parent area: its direct children.")


def _area(a: Area) -> dict[str, Any]:
    return {
        "code": a.code,
        "name": a.name,
        "level": a.level,
        "parent": a.parent.code if a.parent_id else None,
        "path": a.path,
        "area_class": a.area_class,
        "centroid_lon": a.centroid_lon,
        "centroid_lat": a.centroid_lat,
        "area_m2": a.area_m2,
        "synthetic": a.synthetic,
    }


@areas.get("", response={200: AreaPage, **_ERRORS}, summary="List areas")
def list_areas(request: HttpRequest, filters: Query[AreaFilters]):
    """The area tree (city → district → street → community → unit grid), in path order,
    without geometry."""
    qs = Area.objects.select_related("parent").defer("geometry", "parent__geometry").order_by("path")
    if filters.level:
        qs = qs.filter(level=filters.level)
    if filters.parent:
        qs = qs.filter(parent__code=filters.parent)
    return paginate(qs, filters, _area)


class AreaQuery(Schema):
    geometry: bool = Field(False, description="Include the GeoJSON boundary.")


@areas.get("/{code}", response={200: AreaDetail, **_ERRORS}, summary="An area")
def get_area(request: HttpRequest, code: str, options: Query[AreaQuery]):
    """One area with the codes of its children; the boundary only with ``?geometry=true``."""
    qs = Area.objects.select_related("parent").defer("parent__geometry")
    if not options.geometry:
        qs = qs.defer("geometry")
    area = qs.filter(code=code).first()
    if area is None:
        raise NotFound(f"No area with code {code}.", field="code")
    return {
        **_area(area),
        "children": list(area.children.order_by("code").values_list("code", flat=True)),
        "geometry": area.geometry if options.geometry else None,
    }


# ---------------------------------------------------------------- units

units = Router(tags=["units"])


class UnitFilters(PageParams):
    kind: UnitKind | None = None
    level: UnitLevel | None = None
    area: str | None = Field(None, description="Code of the unit's jurisdiction area.")
    active: bool | None = None
    q: str | None = Field(None, max_length=100, description="Text in the code or name.")


def _unit(u: Unit) -> dict[str, Any]:
    return {
        "code": u.code,
        "name": u.name,
        "kind": u.kind,
        "level": u.level,
        "evaluation_group": u.evaluation_group,
        "area": u.area.code if u.area_id else None,
        "parent": u.parent.code if u.parent_id else None,
        "active": u.active,
    }


@units.get("", response={200: UnitPage, **_ERRORS}, summary="List responsible units")
def list_units(request: HttpRequest, filters: Query[UnitFilters]):
    """Responsible units (处置单位): departments, street offices, companies."""
    qs = Unit.objects.select_related("area", "parent").defer("area__geometry").order_by("code")
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    if filters.level:
        qs = qs.filter(level=filters.level)
    if filters.area:
        qs = qs.filter(area__code=filters.area)
    if filters.active is not None:
        qs = qs.filter(active=filters.active)
    if filters.q:
        q = filters.q.strip()
        qs = qs.filter(Q(code__icontains=q) | Q(name__icontains=q))
    return paginate(qs, filters, _unit)


# ---------------------------------------------------------------- calendar

calendar = Router(tags=["calendar"])


def _hhmm(minute: int) -> str:
    return "24:00" if minute == MINUTES_PER_DAY else f"{minute // 60:02d}:{minute % 60:02d}"


def _missing_warning(missing: list[int]) -> str | None:
    if not missing:
        return None
    years = ", ".join(map(str, missing))
    return (
        f"The working calendar has no rows for {years}: enter their holidays and swapped workdays "
        f"before deadlines reach them."
    )


class CalendarQuery(Schema):
    year: int | None = Field(None, ge=1900, le=2200, description="Default: this year.")


@calendar.get("", response={200: CalendarOut, **_ERRORS}, summary="The working calendar of a year")
def get_calendar(request: HttpRequest, params: Query[CalendarQuery]):
    """The weekly work periods, the year's holidays and swapped workdays (调休), the years whose
    rows have been entered, and which of this year and next are missing (deadlines cannot reach
    a missing year: an administrator must enter it)."""
    today = timezone.localdate()
    year = params.year or today.year
    week = working_calendar().week
    known = list(CalendarYear.objects.order_by("year").values_list("year", flat=True))
    missing = missing_years(today)
    return {
        "year": year,
        "year_known": year in known,
        "week": [
            {"weekday": weekday, "start": _hhmm(p.start_minute), "end": _hhmm(p.end_minute)}
            for weekday, periods in enumerate(week.days)
            for p in periods
        ],
        "days": [
            {"day": d.day, "is_workday": d.is_workday, "name": d.name, "source": d.source}
            for d in CalendarDay.objects.filter(day__year=year).order_by("day")
        ],
        "known_years": known,
        "missing_years": missing,
        "warning": _missing_warning(missing),
    }


class DeadlineQuery(Schema):
    start: dt.datetime | None = Field(None, description="ISO date-time; naive means local time. Default: now.")
    value: float = Field(..., gt=0, description="How much time, e.g. 4.")
    unit: LimitUnit = Field(..., description="Unit of the time limit, e.g. work_hours.")


@calendar.get("/deadline", response={200: DeadlineOut, **_ERRORS}, summary="Preview a deadline")
def preview_deadline(request: HttpRequest, params: Query[DeadlineQuery]):
    """When a limit of ``value`` ``unit`` started at ``start`` runs out, on the working calendar
    (or round the clock for natural units). 422 ``calendar_year_missing`` when the count reaches
    a year without calendar rows."""
    start = aware(params.start) or timezone.now()
    limit = to_limit(params.value, params.unit)
    deadline = calendar_for(limit.around_the_clock).add(start, limit.duration)
    return {
        "start": timezone.localtime(start),
        "value": params.value,
        "unit": params.unit,
        "around_the_clock": limit.around_the_clock,
        "duration_seconds": int(limit.duration.total_seconds()),
        "deadline": deadline,
    }
