"""Map layers as GeoJSON by bounding box and zoom, for the console's and the portal's maps.

- ``/map/areas``: districts, streets, communities or unit grids, by zoom, with geometry
  simplified to about half a screen pixel;
- ``/map/components`` and ``/map/cases``: points when zoomed in and not too many,
  otherwise one point per unit grid with a ``count`` (so a city-wide view stays small).

Every answer has an ETag and ``Cache-Control: private, max-age=…``; a request with a
matching ``If-None-Match`` gets 304 and no body. Area and component layers change with
the base data version, the case layer with its cases.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

import shapely
from django.db.models import Avg, Count, Max
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema
from pydantic import Field, field_validator

from citykeeper.api.v1.errors import ErrorOut
from citykeeper.domain.errors import InvalidInput
from citykeeper.domain.workflow import OPEN_STATES
from citykeeper.services import basedata, maplayers
from citykeeper.store.models import Case, Component

router = Router(tags=["map layers"])
_ERRORS = {401: ErrorOut, 422: ErrorOut}
MAX_POINTS = 5000
POINTS_FROM_ZOOM = {"components": 17, "cases": 14}
BASE_MAX_AGE = 300
CASES_MAX_AGE = 15


class Box(Schema):
    bbox: str = Field(..., description="minlon,minlat,maxlon,maxlat (WGS84)", examples=["117.17,34.27,117.21,34.30"])
    zoom: int = Field(..., ge=0, le=22, description="Web map zoom level.")

    @field_validator("bbox")
    @classmethod
    def _four_numbers(cls, value: str) -> str:
        parts = value.split(",")
        try:
            numbers = [float(p) for p in parts]
        except ValueError:
            raise ValueError("bbox must be four numbers: minlon,minlat,maxlon,maxlat") from None
        if len(numbers) != 4:
            raise ValueError("bbox must be four numbers: minlon,minlat,maxlon,maxlat")
        min_lon, min_lat, max_lon, max_lat = numbers
        if not (-180 <= min_lon < max_lon <= 180 and -90 <= min_lat < max_lat <= 90):
            raise ValueError("bbox must have min < max, longitudes within ±180 and latitudes within ±90")
        return value

    def box(self) -> tuple[float, float, float, float]:
        a, b, c, d = (float(p) for p in self.bbox.split(","))
        return a, b, c, d


class AreasQuery(Box):
    level: Literal["district", "street", "community", "grid"] | None = Field(
        None, description="Default: by zoom (districts below 12, streets 12–13, communities 14, grids from 15)."
    )


class PointsQuery(Box):
    category: str | None = Field(None, description="Minor code of a category.")


class CasesQuery(PointsQuery):
    status: Literal["open", "all"] = "open"


def _cached(request: HttpRequest, key: str, max_age: int, build) -> HttpResponse:
    etag = f'"{hashlib.sha256(key.encode()).hexdigest()[:32]}"'
    if etag in request.headers.get("If-None-Match", ""):
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(
            json.dumps(build(), ensure_ascii=False, separators=(",", ":")), content_type="application/geo+json"
        )
    response["ETag"] = etag
    response["Cache-Control"] = f"private, max-age={max_age}"
    response["Vary"] = "Authorization, Cookie"
    return response


@router.get("/map/areas", summary="Areas in a box", response={200: dict, **_ERRORS})
def map_areas(request: HttpRequest, query: Query[AreasQuery]):
    """Boundaries of the areas of one level that meet the box, simplified for the zoom."""
    level = query.level or maplayers.level_for_zoom(query.zoom)
    key = f"areas|{basedata.current_version()}|{level}|{query.bbox}|{query.zoom}"

    def build():
        found = maplayers.areas_in(query.box(), level)
        if len(found) > MAX_POINTS:
            raise InvalidInput(
                f"{len(found)} {level} areas in this box; zoom in or choose a coarser level.", field="bbox"
            )
        return maplayers.feature_collection(found, level=level, zoom=query.zoom)

    return _cached(request, key, BASE_MAX_AGE, build)


def _counts_per_grid(qs, grid_field: str) -> list[dict]:
    """One point per unit grid, at the mean position of what it counts."""
    rows = (
        qs.exclude(lon=None).values(grid_field).annotate(n=Count("id"), x=Avg("lon"), y=Avg("lat")).order_by(grid_field)
    )
    return [maplayers.feature(shapely.Point(r["x"], r["y"]), {"grid": r[grid_field], "count": r["n"]}) for r in rows]


def _in_box(qs, box):
    min_lon, min_lat, max_lon, max_lat = box
    return qs.filter(lon__gte=min_lon, lon__lte=max_lon, lat__gte=min_lat, lat__lte=max_lat)


@router.get("/map/components", summary="Components in a box", response={200: dict, **_ERRORS})
def map_components(request: HttpRequest, query: Query[PointsQuery]):
    """Components as points from zoom 17 (at most 5,000); further out, counts per unit grid."""
    key = f"components|{basedata.current_version()}|{query.bbox}|{query.zoom}|{query.category}"

    def build():
        qs = _in_box(Component.objects.all(), query.box())
        if query.category:
            qs = qs.filter(category__minor_code=query.category)
        if query.zoom >= POINTS_FROM_ZOOM["components"]:
            rows = list(qs.values_list("code", "name", "category__minor_code", "state", "lon", "lat")[: MAX_POINTS + 1])
            if len(rows) <= MAX_POINTS:
                return {
                    "type": "FeatureCollection",
                    "features": [
                        maplayers.feature(shapely.Point(lon, lat), {"code": c, "name": n, "category": cat, "state": st})
                        for c, n, cat, st, lon, lat in rows
                    ],
                }
        return {"type": "FeatureCollection", "features": _counts_per_grid(qs, "grid__code")}

    return _cached(request, key, BASE_MAX_AGE, build)


@router.get("/map/cases", summary="Cases in a box", response={200: dict, **_ERRORS})
def map_cases(request: HttpRequest, query: Query[CasesQuery]):
    """The cases you may see, as points from zoom 14 (at most 5,000), otherwise counts per unit grid."""
    qs = _in_box(Case.objects.restrict(request.auth, "view"), query.box())
    if query.status == "open":
        qs = qs.filter(state__in=[s.value for s in OPEN_STATES])
    if query.category:
        qs = qs.filter(category__minor_code=query.category)
    stamp = qs.aggregate(n=Count("id"), last=Max("updated_at"), version=Max("version"))
    key = f"cases|{request.auth.pk}|{stamp}|{query.bbox}|{query.zoom}|{query.status}|{query.category}"

    def build():
        if query.zoom >= POINTS_FROM_ZOOM["cases"] and stamp["n"] <= MAX_POINTS:
            rows = qs.values_list("number", "state", "category__minor_name", "urgent", "stage_overdue", "lon", "lat")
            return {
                "type": "FeatureCollection",
                "features": [
                    maplayers.feature(
                        shapely.Point(lon, lat),
                        {"number": num, "state": st, "category": cat, "urgent": urgent, "overdue": overdue},
                    )
                    for num, st, cat, urgent, overdue, lon, lat in rows.order_by("-reported_at")
                    if lon is not None and lat is not None
                ],
            }
        return {"type": "FeatureCollection", "features": _counts_per_grid(qs, "area__code")}

    return _cached(request, key, CASES_MAX_AGE, build)
