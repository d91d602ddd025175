"""Locating (地理编码) and routing (确权) for API clients: where is this point, and which
unit would get a case here."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from citykeeper.api.v1.errors import ErrorOut
from citykeeper.domain.errors import InvalidInput
from citykeeper.services import locating, routing
from citykeeper.spatial.index import Place
from citykeeper.store.models import Area, Category, Component

router = Router(tags=["locating"])
_ERRORS = {401: ErrorOut, 404: ErrorOut, 422: ErrorOut}
CRS_HELP = (
    "CRS of lon/lat: wgs84 (GPS), cgcs2000, gcj02 (AMap, Tencent), bd09 (Baidu) or EPSG:4513–4554 (Gauss-Krüger)."
)


class PlaceOut(Schema):
    code: str
    name: str
    level: str


class NearbyOut(Schema):
    code: str
    category: str
    distance_m: float
    lon: float
    lat: float


class LocationOut(Schema):
    lon: float = Field(..., description="WGS84 longitude of the point (after conversion).")
    lat: float = Field(..., description="WGS84 latitude of the point (after conversion).")
    grid: PlaceOut | None
    community: PlaceOut | None
    street: PlaceOut | None
    district: PlaceOut | None
    responsibility: PlaceOut | None
    components: list[NearbyOut]


class LocateQuery(Schema):
    lon: float = Field(..., description="Longitude (or easting for a Gauss-Krüger CRS).")
    lat: float = Field(..., description="Latitude (or northing for a Gauss-Krüger CRS).")
    crs: str = Field("wgs84", description=CRS_HELP)
    category: str | None = Field(None, description="Minor code of a component category to find nearby.")
    radius: float = Field(50.0, gt=0, le=1000, description="Search radius for components, metres.")
    limit: int = Field(5, ge=1, le=50)


def _place(place: Place | None) -> dict | None:
    return None if place is None else {"code": place.code, "name": place.name, "level": place.level}


@router.get("/locate", response={200: LocationOut, **_ERRORS}, summary="Locate a point")
def locate(request: HttpRequest, query: Query[LocateQuery]):
    """The unit grid, community, street office, district and responsibility grid of a point, and
    the nearest components of a category. A point outside the city answers 422 `outside_city`
    naming the nearest district and the distance."""
    found = locating.locate(
        query.lon, query.lat, crs=query.crs, category=query.category, radius_m=query.radius, limit=query.limit
    )
    where = found.location
    return {
        "lon": where.lon,
        "lat": where.lat,
        "grid": _place(where.grid),
        "community": _place(where.community),
        "street": _place(where.street),
        "district": _place(where.district),
        "responsibility": _place(where.responsibility),
        "components": [_nearby(c) for c in found.components],
    }


def _nearby(c) -> dict:
    return {"code": c.code, "category": c.category, "distance_m": round(c.distance_m, 1), "lon": c.lon, "lat": c.lat}


class RoutingQuery(Schema):
    category: int = Field(..., description="Category id.")
    grid: str | None = Field(None, description="Unit grid code; or give lon/lat.")
    lon: float | None = None
    lat: float | None = None
    crs: str = Field("wgs84", description=CRS_HELP)
    component: str | None = Field(None, description="Code of the component the case is about.")


class UnitRef(Schema):
    code: str
    name: str


class RoutingOut(Schema):
    unit: UnitRef | None = Field(..., description="The proposed unit; null: the case would wait in triage.")
    step: Literal["component_maintainer", "component_owner", "area_category", "category_default", "triage"]
    rule: int | None = Field(..., description="Id of the routing rule that chose the unit, if a rule did.")
    explanation: str
    grid: str


@router.get("/routing/preview", response={200: RoutingOut, **_ERRORS}, summary="Which unit would get this case?")
def routing_preview(request: HttpRequest, query: Query[RoutingQuery]):
    """确权预览: the unit routing would propose for a case of this category at this place (or about
    this component), and the step or rule that chose it."""
    category = Category.objects.filter(pk=query.category).first()
    if category is None:
        raise InvalidInput(f"No category with id {query.category}.", field="category")
    component = None
    if query.component:
        component = Component.objects.filter(code=query.component).select_related("grid").first()
        if component is None:
            raise InvalidInput(f"No component with code {query.component}.", field="component")
    if query.grid:
        grid = Area.objects.filter(code=query.grid, level="grid").first()
        if grid is None:
            raise InvalidInput(f"No unit grid with code {query.grid}.", field="grid")
    elif query.lon is not None and query.lat is not None:
        grid = locating.grid_for(*locating.to_wgs84(query.lon, query.lat, query.crs))
    elif component is not None:
        grid = component.grid
    else:
        raise InvalidInput("Give the unit grid (grid), a point (lon and lat) or a component.", field="grid")
    answer = routing.preview(category=category, area=grid, component=component)
    return {
        "unit": {"code": answer.unit.code, "name": answer.unit.name} if answer.unit else None,
        "step": answer.step.value,
        "rule": answer.rule.pk if answer.rule else None,
        "explanation": answer.explanation,
        "grid": grid.code,
    }


class AddressQuery(Schema):
    lon: float
    lat: float
    crs: str = Field("wgs84", description=CRS_HELP)


class AddressOut(Schema):
    text: str = Field(
        ..., description='How a case sheet writes the place, e.g. "云龙区 彭城路与淮海东路交叉口东北约30米".'
    )
    kind: Literal["intersection", "doorplate", "poi", "road", "none"]
    reference: str
    bearing: str
    distance_m: float
    grid: PlaceOut | None
    district: PlaceOut | None


@router.get("/address", response={200: AddressOut, **_ERRORS}, summary="Describe a point as an address")
def address(request: HttpRequest, query: Query[AddressQuery]):
    """逆地理编码: the position in words, from the gazetteer (nearest intersection, doorplate,
    landmark or road side), with the unit grid and district."""
    location, described = locating.describe(query.lon, query.lat, crs=query.crs)
    return {
        "text": described.text,
        "kind": described.kind,
        "reference": described.reference,
        "bearing": described.bearing,
        "distance_m": round(described.distance_m, 1),
        "grid": _place(location.grid),
        "district": _place(location.district),
    }


class GeocodeQuery(Schema):
    q: str = Field(..., max_length=256, description="Address text: an intersection, a doorplate, a landmark or a road.")
    limit: int = Field(5, ge=1, le=20)


class CandidateOut(Schema):
    lon: float
    lat: float
    text: str
    kind: str
    score: float
    grid: str | None


@router.get("/geocode", response={200: list[CandidateOut], **_ERRORS}, summary="Find the point of an address")
def geocode(request: HttpRequest, query: Query[GeocodeQuery]):
    """地理编码: candidate points for an address text, best first, each with its unit grid. Text
    that matches nothing answers an empty list."""
    found = locating.geocode(query.q, limit=query.limit)
    grids = locating.locate_many([c.lon for c in found], [c.lat for c in found]) if found else []
    return [
        {"lon": c.lon, "lat": c.lat, "text": c.text, "kind": c.kind, "score": round(c.score, 3), "grid": g}
        for c, g in zip(found, grids, strict=True)
    ]


class DuplicatesQuery(Schema):
    category: int = Field(..., description="Category id of the new report.")
    lon: float
    lat: float
    crs: str = Field("wgs84", description=CRS_HELP)
    limit: int = Field(5, ge=1, le=20)


class DuplicateOut(Schema):
    number: str
    state: str
    category: str
    same_category: bool
    distance_m: float
    reported_at: str
    address: str


@router.get("/duplicates", response={200: list[DuplicateOut], **_ERRORS}, summary="Possible duplicates of a report")
def duplicates(request: HttpRequest, query: Query[DuplicatesQuery]):
    """疑似重复: open cases of the same (then a related) category near this point, reported within
    the category's window (default 50 m and 72 hours), nearest first. Offered to reporters and
    operators before they save; only the case number, category, state, distance, time and address
    are shown, never who reported it."""
    from django.utils import timezone

    from citykeeper.services import duplicates as duplicate_service

    category = Category.objects.filter(pk=query.category).first()
    if category is None:
        raise InvalidInput(f"No category with id {query.category}.", field="category")
    lon, lat = locating.to_wgs84(query.lon, query.lat, query.crs)
    found = duplicate_service.suggest(category, lon, lat, at=timezone.now(), limit=query.limit)
    return [
        {
            "number": s.case.number,
            "state": s.case.state,
            "category": s.case.category.minor_name,
            "same_category": s.same_category,
            "distance_m": round(s.distance_m, 1),
            "reported_at": timezone.localtime(s.case.reported_at).isoformat(timespec="seconds"),
            "address": s.case.address,
        }
        for s in found
    ]


class DuplicateRateQuery(Schema):
    start: dt.date = Field(..., description="First day (local), inclusive.")
    end: dt.date = Field(..., description="Last day (local), inclusive.")


class SourceRateOut(Schema):
    source: str
    reports: int
    merged: int
    rate: float


class DuplicateRateOut(Schema):
    start: dt.date
    end: dt.date
    reports: int
    merged: int
    rate: float
    folded_device_events: int
    by_source: list[SourceRateOut]


@router.get("/duplicates/rate", response={200: DuplicateRateOut, **_ERRORS}, summary="Duplicate rate of a period")
def duplicate_rate(request: HttpRequest, query: Query[DuplicateRateQuery]):
    """重复率: of the cases reported in the period within your scope, how many were merged into
    another case as duplicates, per channel; and how many camera/sensor events were folded into a
    pending case instead of opening a new one."""
    from django.utils import timezone

    from citykeeper.services import duplicates as duplicate_service
    from citykeeper.store.models import Case

    if query.end < query.start:
        raise InvalidInput("end is before start.", field="end")
    if (query.end - query.start).days > 366:
        raise InvalidInput("A period may be at most 366 days.", field="end")
    zone = timezone.get_current_timezone()
    start = dt.datetime.combine(query.start, dt.time(), zone)
    end = dt.datetime.combine(query.end + dt.timedelta(days=1), dt.time(), zone)
    found = duplicate_service.duplicate_rate(Case.objects.restrict(request.auth, "view"), start=start, end=end)
    return {
        "start": query.start,
        "end": query.end,
        "reports": found.reports,
        "merged": found.merged,
        "rate": round(found.rate, 4),
        "folded_device_events": found.folded_device_events,
        "by_source": [
            {"source": source, "reports": r, "merged": m, "rate": round(m / r, 4) if r else 0.0}
            for source, (r, m) in found.by_source.items()
        ],
    }
