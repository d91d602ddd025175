"""Area outlines as GeoJSON for the maps: the console's layers (api/v1/maps.py) and the public
portal's base map (web/portal.py) draw the same areas the same way."""

from __future__ import annotations

import json
from dataclasses import dataclass

import shapely
import shapely.geometry

from citykeeper.services import locating
from citykeeper.store.models import Area

# Zoom from which each level is drawn (below the first: districts).
AREA_LEVEL_BY_ZOOM = ((15, "grid"), (14, "community"), (12, "street"), (0, "district"))


@dataclass(frozen=True)
class Outline:
    code: str
    name: str
    area_class: str
    geometry: object  # a Shapely geometry


def level_for_zoom(zoom: int) -> str:
    return next(level for z, level in AREA_LEVEL_BY_ZOOM if zoom >= z)


def tolerance(zoom: int) -> float:
    """Half a screen pixel in degrees of longitude at this zoom (256-pixel tiles)."""
    return 360.0 / (256 * 2**zoom) / 2


def areas_in(box: tuple[float, float, float, float], level: str) -> list[Outline]:
    """The areas of ``level`` that meet the box (minlon, minlat, maxlon, maxlat); unit grids come
    from the in-memory index, the coarser levels from their rows."""
    min_lon, min_lat, max_lon, max_lat = box
    if level == "grid":
        found = locating.indexes().areas.grids_in(min_lon, min_lat, max_lon, max_lat)
        classes = dict(Area.objects.filter(code__in=[c for c, _ in found]).values_list("code", "area_class"))
        return [Outline(code, code, classes.get(code, ""), geom) for code, geom in found]
    view = shapely.box(min_lon, min_lat, max_lon, max_lat)
    rows = Area.objects.filter(level=level).exclude(geometry=None).values_list("code", "name", "area_class", "geometry")
    outlines = []
    for code, name, area_class, geometry in rows:
        geom = shapely.geometry.shape(geometry)
        if geom.intersects(view):
            outlines.append(Outline(code, name, area_class, geom))
    return outlines


def feature(geometry, properties: dict) -> dict:
    return {"type": "Feature", "geometry": json.loads(shapely.to_geojson(geometry)), "properties": properties}


def feature_collection(outlines: list[Outline], *, level: str, zoom: int) -> dict:
    """The outlines simplified to half a screen pixel at ``zoom``."""
    step = tolerance(zoom)
    return {
        "type": "FeatureCollection",
        "features": [
            feature(
                shapely.simplify(o.geometry, step, preserve_topology=True),
                {"code": o.code, "name": o.name, "level": level, "area_class": o.area_class},
            )
            for o in outlines
        ],
    }
