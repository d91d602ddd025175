"""Locating (地理编码) as served: the in-memory indexes built from the stored base data.

Each process holds one ``Indexes`` (areas and components). Before answering it
compares, at most every ``_CHECK_SECONDS``, the ``BaseDataVersion`` counter with the
version its indexes were built from, and rebuilds when base data changed anywhere,
so every web worker and the job worker see an import or an edit within seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import numpy as np
import shapely
from django.db.models import TextField
from django.db.models.functions import Cast

from citykeeper.domain.errors import InvalidInput
from citykeeper.services import basedata
from citykeeper.spatial.address import Candidate, Description, Doorplate, Gazetteer, Poi, Road
from citykeeper.spatial.index import AreaIndex, ComponentIndex, Location, NearbyComponent, Place
from citykeeper.spatial.readers import SourceCRS
from citykeeper.store.models import Area, Component, GazetteerEntry, ResponsibilityGrid

log = logging.getLogger(__name__)

_CHECK_SECONDS = 2.0
_lock = threading.Lock()
_state: dict[str, object] = {}


@dataclass(frozen=True)
class Indexes:
    version: int
    areas: AreaIndex
    components: ComponentIndex
    gazetteer: Gazetteer
    built_seconds: float


def _gazetteer() -> Gazetteer:
    """Roads, doorplates and landmarks as stored (one road may be stored in pieces)."""
    roads, doorplates, pois = [], [], []
    for kind, name, number, geometry, lon, lat, poi_kind in GazetteerEntry.objects.values_list(
        "kind", "name", "number", "geometry", "lon", "lat", "poi_kind"
    ).iterator(5000):
        if kind == "road":
            roads.append(Road(name, shapely.geometry.shape(geometry)))
        elif kind == "doorplate":
            doorplates.append(Doorplate(name, number, lon, lat))
        else:
            pois.append(Poi(name, poi_kind, lon, lat))
    return Gazetteer.build(roads, doorplates, pois)


def _geometries(queryset) -> tuple[list[str], np.ndarray]:
    """(codes, shapely geometries) of rows with a GeoJSON ``geometry``, parsed in one call."""
    rows = list(queryset.exclude(geometry=None).annotate(g=Cast("geometry", TextField())).values_list("code", "g"))
    codes = [code for code, _ in rows]
    geoms = shapely.from_geojson(np.asarray([text for _, text in rows], dtype=object)) if rows else np.empty(0)
    return codes, geoms


def build(version: int) -> Indexes:
    started = time.perf_counter()
    areas = list(Area.objects.values_list("code", "name", "level", "parent__code"))
    places = {code: Place(code, name, level) for code, name, level, _ in areas}
    parents = {code: parent for code, _, _, parent in areas if parent}
    grid_codes, grid_geoms = _geometries(Area.objects.filter(level="grid"))
    district_codes, district_geoms = _geometries(Area.objects.filter(level="district"))
    resp = list(ResponsibilityGrid.objects.values_list("code", "name"))
    places.update({code: Place(code, name, "responsibility") for code, name in resp})
    resp_codes, resp_geoms = _geometries(ResponsibilityGrid.objects.all())
    area_index = AreaIndex.build(
        list(zip(grid_codes, grid_geoms, strict=True)),
        places,
        parents,
        list(zip(district_codes, district_geoms, strict=True)),
        list(zip(resp_codes, resp_geoms, strict=True)),
    )
    rows = list(Component.objects.values_list("code", "category__minor_code", "lon", "lat"))
    component_index = ComponentIndex.build(
        [r[0] for r in rows],
        [r[1] for r in rows],
        np.fromiter((r[2] for r in rows), float, len(rows)),
        np.fromiter((r[3] for r in rows), float, len(rows)),
    )
    gazetteer = _gazetteer()
    seconds = time.perf_counter() - started
    log.info(
        "locating indexes built",
        extra={"version": version, "grids": len(grid_codes), "components": len(rows), "seconds": round(seconds, 2)},
    )
    return Indexes(version, area_index, component_index, gazetteer, seconds)


def indexes() -> Indexes:
    """This process's indexes, rebuilt if base data changed since they were built."""
    now = time.monotonic()
    with _lock:
        current = _state.get("indexes")
        fresh_enough = current is not None and now - _state["checked_at"] < _CHECK_SECONDS
        if fresh_enough and _state["local_changes"] == basedata.local_changes():
            return current
    version = basedata.current_version()
    with _lock:
        current = _state.get("indexes")
        if current is not None and current.version == version:
            _state.update(checked_at=now, local_changes=basedata.local_changes())
            return current
        fresh = build(version)
        _state.update(indexes=fresh, checked_at=now, local_changes=basedata.local_changes())
        return fresh


def invalidate() -> None:
    with _lock:
        _state.clear()


@dataclass(frozen=True)
class Located:
    location: Location
    components: list[NearbyComponent]


def to_wgs84(lon: float, lat: float, crs: str = "wgs84") -> tuple[float, float]:
    """A point given in ``crs`` (wgs84, cgcs2000, gcj02, bd09 or a Gauss-Krüger EPSG) as WGS84."""
    source = SourceCRS.parse(crs)
    if source.name in ("wgs84", "cgcs2000"):
        return float(lon), float(lat)
    point = source.to_wgs84(shapely.Point(lon, lat))
    return point.x, point.y


def locate(
    lon: float,
    lat: float,
    *,
    crs: str = "wgs84",
    category: str | None = None,
    radius_m: float = 50.0,
    limit: int = 5,
) -> Located:
    """Where a point lies and which components of ``category`` are near it.

    Raises ``OutsideCity`` (naming the nearest district) for a point outside every district.
    """
    try:
        lon, lat = float(lon), float(lat)
    except (TypeError, ValueError):
        raise InvalidInput("Longitude and latitude must be numbers.", field="lon") from None
    lon, lat = to_wgs84(lon, lat, crs)
    current = indexes()
    location = current.areas.locate(lon, lat)
    nearby = current.components.nearest(lon, lat, category=category, radius_m=radius_m, limit=limit)
    return Located(location, nearby)


def grid_for(lon: float, lat: float) -> Area:
    """The unit grid row a WGS84 point lies in; InvalidInput when it lies in none."""
    location = indexes().areas.locate(lon, lat)
    if location.grid is None:
        district = location.district.name if location.district else ""
        raise InvalidInput(f"({lon:.6f}, {lat:.6f}) is in {district} but in none of its unit grids.", field="location")
    return Area.objects.get(code=location.grid.code)


def locate_many(lons, lats) -> list[str | None]:
    """Grid codes of many WGS84 points (None outside every grid), for imports."""
    areas = indexes().areas
    return areas.grid_codes(areas.locate_many(lons, lats))


def describe(lon: float, lat: float, *, crs: str = "wgs84") -> tuple[Location, Description]:
    """Where a point is and how a case sheet writes it: "云龙区 彭城路与淮海东路交叉口东北约30米"."""
    lon, lat = to_wgs84(lon, lat, crs)
    current = indexes()
    location = current.areas.locate(lon, lat)
    district = location.district.name if location.district else ""
    return location, current.gazetteer.describe(lon, lat, district=district)


def geocode(text: str, *, limit: int = 5) -> list[Candidate]:
    """Candidate points for an address text (intersection, doorplate, landmark, road), best first."""
    if not text or not text.strip():
        raise InvalidInput("Give the address text to look up.", field="q")
    return indexes().gazetteer.geocode(text, limit=limit)
