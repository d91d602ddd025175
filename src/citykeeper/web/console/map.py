"""The console's map (案件地图): the open cases in the user's scope on a map.

- ``map/`` the page: a Leaflet map on the deployment's base map (``services.basemap``; the
  city's outlines always, tiles when configured), the filters of the queue pages (category,
  deadline state), and a polygon drawn by clicking that opens a queue filtered to it
  (``?within=lon lat,…``, see ``queues._apply_filters``);
- ``map/cases.json`` the cases in the visible box as GeoJSON: zoomed out (and many), counts per
  cell counted in the database; zoomed in, one point per case with its SLA state and popup text;
- ``map/grids.json`` the unit grids in the box with the number of open cases in each and a
  class 0–5 for the choropleth (the "heat" layer).

Every read is ``Case.objects.restrict(user, "view")`` (``services.casemap``); each endpoint
answers in a fixed number of queries whatever the number of cases.
"""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from citykeeper.services import basemap, casemap, maplayers, queues
from citykeeper.store.labels import choice_labels
from citykeeper.store.models import Case, Category
from citykeeper.store.models.codebook import Standard
from citykeeper.web.console.queues import DEADLINE_LABELS, badge
from citykeeper.web.portal import city_bounds, parse_box

# Below this zoom a box with more than POINTS_WHEN_FEWER cases is shown as counts per cell.
POINTS_FROM_ZOOM = 15
POINTS_WHEN_FEWER = 500
# A cell is about this many screen pixels wide (256-pixel tiles).
CELL_PX = 64
# The grid layer is drawn from this zoom (a whole city's grids are too many to read).
GRIDS_FROM_ZOOM = 12


def _forbidden(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "citykeeper/console/forbidden.html",
        {"message": _("工作台只对受理员、值班长、派遣员、处置单位和领导开放。")},
        status=403,
    )


def _is_staff(user) -> bool:
    return bool(queues.queues_for(user))


@login_required
def map_page(request: HttpRequest) -> HttpResponse:
    user = request.user
    mine = queues.queues_for(user)
    if not mine:
        return _forbidden(request)
    filters = casemap.Filters.from_params(request.GET)
    return render(
        request,
        "citykeeper/console/map.html",
        {
            "basemap": basemap.browser_config(),
            "bounds_json": json.dumps(city_bounds()),
            "areas_url": reverse("portal-map-areas"),
            "cases_url": reverse("console-map-cases"),
            "grids_url": reverse("console-map-grids"),
            "chosen": filters.as_params(),
            "categories": Category.objects.filter(active=True, standard__in=[Standard.GB_47678, Standard.LOCAL])
            .only("pk", "minor_code", "minor_name")
            .order_by("minor_code", "pk"),
            "deadline_choices": list(DEADLINE_LABELS.items()),
            "queues": [(q.label, reverse("console-queue", kwargs={"slug": q.slug})) for q in mine],
            "points_from_zoom": POINTS_FROM_ZOOM,
            "grids_from_zoom": GRIDS_FROM_ZOOM,
        },
    )


# ------------------------------------------------------------------ the data


def _box_and_zoom(request: HttpRequest):
    box = parse_box(request.GET.get("bbox"))  # ValueError with a Chinese message
    raw = request.GET.get("zoom", "")
    if not raw.isdigit() or not 0 <= int(raw) <= 22:
        raise ValueError(_("zoom 应为 0 到 22 之间的整数。"))
    return box, int(raw)


def _json(body: dict, status: int = 200) -> HttpResponse:
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        content_type="application/geo+json" if status == 200 else "application/json",
        status=status,
    )
    # Staff data, and it changes with every transition: never from a shared or stale cache.
    response["Cache-Control"] = "private, no-cache"
    return response


def _refuse(request: HttpRequest) -> HttpResponse | None:
    if not request.user.is_authenticated:
        return JsonResponse({"detail": _("请先登录。")}, status=401, json_dumps_params={"ensure_ascii": False})
    if not _is_staff(request.user):
        return JsonResponse(
            {"detail": _("工作台只对受理员、值班长、派遣员、处置单位和领导开放。")},
            status=403,
            json_dumps_params={"ensure_ascii": False},
        )
    return None


def _point(case, now, states: dict[str, str], case_url: str) -> dict:
    sla = badge(case, now)
    deadline = case.stage_deadline_at
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [case.lon, case.lat]},
        "properties": {
            "number": case.number,
            "category": case.category.minor_name,
            "address": case.address,
            "state": states.get(case.state, case.state),
            "sla": sla["state"] if sla else "none",
            "sla_text": f"{sla['label']} · {sla['text']}" if sla else _("不计时"),
            "deadline": timezone.localtime(deadline).strftime("%Y-%m-%d %H:%M") if deadline else "",
            "urgent": case.urgent,
            "url": case_url.replace("__number__", case.number),
        },
    }


def _worst(states: dict) -> str:
    return next((s for s in ("overdue", "warn", "ok", "paused") if states.get(s)), "none")


def map_cases(request: HttpRequest) -> HttpResponse:
    refused = _refuse(request)
    if refused:
        return refused
    try:
        box, zoom = _box_and_zoom(request)
    except ValueError as exc:
        return _json({"detail": str(exc), "field": "bbox"}, status=400)
    user, now = request.user, timezone.now()
    filters = casemap.Filters.from_params(request.GET)
    if zoom < POINTS_FROM_ZOOM:
        total = casemap.count(user, box, filters, now=now)
        if total > POINTS_WHEN_FEWER:
            cell = 360.0 / (256 * 2**zoom) * CELL_PX
            features = [
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [c["lon"], c["lat"]]},
                    "properties": {"count": c["count"], "states": c["states"], "worst": _worst(c["states"])},
                }
                for c in casemap.cells(user, box, cell=cell, now=now, filters=filters)
            ]
            return _json({"type": "FeatureCollection", "clustered": True, "total": total, "features": features})
    rows, truncated = casemap.points(user, box, now=now, filters=filters)
    # Looked up once, not per point: reverse() and get_state_display() cost a millisecond each.
    states = choice_labels(Case, "state")
    case_url = reverse("console-case", kwargs={"number": "__number__"})
    return _json(
        {
            "type": "FeatureCollection",
            "clustered": False,
            "total": len(rows),
            "truncated": truncated,
            "features": [_point(case, now, states, case_url) for case in rows],
        }
    )


def map_grids(request: HttpRequest) -> HttpResponse:
    refused = _refuse(request)
    if refused:
        return refused
    try:
        box, zoom = _box_and_zoom(request)
    except ValueError as exc:
        return _json({"detail": str(exc), "field": "bbox"}, status=400)
    if zoom < GRIDS_FROM_ZOOM:
        return _json({"type": "FeatureCollection", "features": [], "zoomIn": True})
    filters = casemap.Filters.from_params(request.GET)
    found = casemap.grid_counts(request.user, box, now=timezone.now(), filters=filters)
    if found is None:
        return _json({"type": "FeatureCollection", "features": [], "zoomIn": True})
    step = maplayers.tolerance(zoom)
    features = [
        maplayers.feature(
            outline.geometry.simplify(step, preserve_topology=True),
            {"code": outline.code, "count": n, "class": cls},
        )
        for outline, n, cls in found
    ]
    return _json({"type": "FeatureCollection", "features": features, "classes": casemap.GRID_CLASSES})


urlpatterns = [
    path("map/", map_page, name="console-map"),
    path("map/cases.json", map_cases, name="console-map-cases"),
    path("map/grids.json", map_grids, name="console-map-grids"),
]
