"""In-memory spatial indexes behind ``locate(lon, lat)``.

Two indexes, both built once from plain Python / numpy / Shapely data (the Django side
reads the base data from the database, builds them, and rebuilds them when it changes)
and then only read, so one instance can be shared by threads:

* :class:`AreaIndex` — point → unit grid (单元网格) and, through the parent chain,
  community (社区), street office (街道) and district (区); plus the responsibility grid
  (责任网格, a patrol group of grids that need not cover the whole city).
* :class:`ComponentIndex` — point → nearest components (部件: manhole covers, street
  lamps …) of a category within a radius.

Rules
-----
**Edges and corners.** Every area is a *closed* polygon: a point on its boundary belongs
to it. A point on the shared edge or corner of several grids therefore lies in all of
them, and the index picks the one with the **smallest code**. Points strictly inside a
grid belong to that grid. The same rule (smallest code among the closed polygons
containing the point) decides the responsibility grid and, where no grid applies, the
district. :meth:`AreaIndex.locate_many` evaluates exactly the same GEOS predicate as
:meth:`AreaIndex.locate`, so both agree on every point, edges and corners included.

**Inside a district but in no grid** (a district, park or lake without generated
grids, or a gap between grids): ``locate`` returns a :class:`Location` whose ``grid``,
``community`` and ``street`` are ``None`` and whose ``district`` is the district
containing the point. Only a point in no grid *and* no district is outside the city and
raises :class:`OutsideCity`, which names the nearest district and its distance. A point
in a grid is always in the city, even if the grid pokes slightly out of its district's
outline; its district is then the grid's ancestor, not a geometric lookup.

**Distances** are in metres on the WGS84 ellipsoid:

* components are projected once, at build time, in one vectorised pyproj call, to the
  CGCS2000 3-degree Gauss-Krüger zone of their centre (``crs.utm_or_gk_crs_for``); the
  planar distance is divided by the Gauss-Krüger point scale factor
  ``k = 1 + x²/2R² + x⁴/24R⁴`` (x = distance from the central meridian), which leaves
  an error of at most ~0.001 % against the geodesic for distances up to several km
  anywhere in the zone (measured: 8e-6 at the zone edge, 1e-6 near Xuzhou; without
  the correction it would be up to 0.03 % at the zone edge);
* the distance to the nearest district (for :class:`OutsideCity`) is found in the same
  projection and then measured exactly as the geodesic (``pyproj.Geod``) from the point
  to the nearest point of the district's outline. Far from the zone (more than
  6 degrees of longitude away, e.g. a GPS fix at (0, 0)) the projection is meaningless,
  so the geodesic distance to the nearest outline vertex is used instead.

Performance (see ``locate_bench``, 2-core machine): on 100,000 grids and 1,000,000
components a single ``locate`` takes ~20 µs (median), ``locate_many`` handles several
hundred thousand points per second, and both builds together take under 2 seconds.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj import Geod, Transformer
from shapely.geometry.base import BaseGeometry

from citykeeper.domain.errors import InvalidInput
from citykeeper.spatial import crs
from citykeeper.spatial.grid import LEVEL_COMMUNITY, LEVEL_GRID, LEVEL_STREET

__all__ = [
    "LEVELS",
    "LEVEL_COMMUNITY",
    "LEVEL_DISTRICT",
    "LEVEL_GRID",
    "LEVEL_RESPONSIBILITY",
    "LEVEL_STREET",
    "MAX_RADIUS_M",
    "AreaIndex",
    "ComponentIndex",
    "Location",
    "NearbyComponent",
    "OutsideCity",
    "Place",
    "gk_scale_factor",
]

LEVEL_DISTRICT = "district"
LEVEL_RESPONSIBILITY = "responsibility"
LEVELS = (LEVEL_DISTRICT, LEVEL_STREET, LEVEL_COMMUNITY, LEVEL_GRID, LEVEL_RESPONSIBILITY)

# A radius search wider than this is not a "nearby" question; it also bounds the
# work one API call can ask for.
MAX_RADIUS_M = 10_000.0

# WGS84 ellipsoid for exact geodesic distances.
_GEOD = Geod(ellps="WGS84")
# Mean Earth radius for the Gauss-Krüger scale factor; using it instead of the local
# radii of curvature changes k - 1 by < 0.5 %, i.e. k by < 2e-6 anywhere in a zone.
_EARTH_R = 6_371_000.0
# False easting of the CGCS2000 "CM nnnE" Gauss-Krüger CRSs (no zone prefix).
_GK_FALSE_EASTING = 500_000.0
# Beyond this many degrees of longitude from the central meridian a transverse Mercator
# projection stops being a usable metric approximation.
_MAX_PROJECTED_DLON = 6.0
# locate_many creates one shapely Point per input point; chunks bound that memory.
_LOCATE_CHUNK = 65_536
# Component bucket size in metres: ~the default search radius, so a default search
# reads 2x2 to 3x3 buckets.
_CELL_M = 50.0

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


# ----------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Place:
    """One area of the tree: ``level`` is one of :data:`LEVELS`
    ("district", "street", "community", "grid", "responsibility")."""

    code: str
    name: str
    level: str


@dataclass(frozen=True, slots=True)
class Location:
    """Where a WGS84 point lies.

    ``grid`` (and with it ``community`` and ``street``) is ``None`` when the point is
    inside a district but in none of its unit grids; ``district`` is ``None`` only if
    the point's grid has no district ancestor in the data. ``responsibility`` is
    ``None`` where no responsibility grid covers the point.
    """

    lon: float
    lat: float
    grid: Place | None
    community: Place | None
    street: Place | None
    district: Place | None
    responsibility: Place | None


@dataclass(frozen=True, slots=True)
class NearbyComponent:
    """A component (部件) near a point; ``distance_m`` is geodesic metres (see module doc)."""

    code: str
    category: str
    distance_m: float
    lon: float
    lat: float


class OutsideCity(InvalidInput):
    """The point is in no unit grid and no district.

    ``nearest`` is the nearest district (``None`` if the index holds no districts at
    all) and ``distance_m`` the geodesic distance to its outline in metres.
    """

    code = "outside_city"

    def __init__(self, lon: float, lat: float, nearest: Place | None, distance_m: float) -> None:
        where = f"({lon:.6f}, {lat:.6f}) is outside the city"
        if nearest is None:
            message = f"{where}: no districts are loaded."
        else:
            away = _format_distance(distance_m)
            message = f"{where}: the nearest district is {nearest.name} ({nearest.code}), {away} away."
        super().__init__(
            message,
            field="location",
            lon=lon,
            lat=lat,
            nearest=nearest.code if nearest else None,
            distance_m=distance_m,
        )
        self.lon = lon
        self.lat = lat
        self.nearest = nearest
        self.distance_m = distance_m


def _format_distance(distance_m: float) -> str:
    if distance_m >= 1000.0:
        return f"{distance_m / 1000.0:.1f} km"
    return f"{distance_m:.0f} m"


# ---------------------------------------------------------------------- helpers


def gk_scale_factor(easting: float | FloatArray) -> float | FloatArray:
    """Point scale factor of a CGCS2000 Gauss-Krüger "CM" CRS (k0 = 1, false easting
    500 km) at the given easting: planar distance / true distance, to < 1e-7."""
    u = (easting - _GK_FALSE_EASTING) / _EARTH_R
    u2 = u * u
    return 1.0 + u2 / 2.0 + u2 * u2 / 24.0


def _checked_point(lon: object, lat: object) -> tuple[float, float]:
    try:
        x = float(lon)  # type: ignore[arg-type]
        y = float(lat)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidInput("Longitude and latitude must be numbers.", field="location") from None
    if not (math.isfinite(x) and math.isfinite(y) and -180.0 <= x <= 180.0 and -90.0 <= y <= 90.0):
        raise InvalidInput(f"({lon}, {lat}) is not a WGS84 longitude/latitude (-180..180, -90..90).", field="location")
    return x, y


def _coordinate_arrays(lons: ArrayLike, lats: ArrayLike, what: str) -> tuple[FloatArray, FloatArray]:
    try:
        x = np.asarray(lons, dtype=np.float64)
        y = np.asarray(lats, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInput(f"{what}: longitudes and latitudes must be numbers.", field="location") from None
    if x.shape != y.shape:
        raise InvalidInput(
            f"{what}: {x.shape} longitudes but {y.shape} latitudes; the shapes must match.", field="location"
        )
    return x, y


def _first_hit(tree: shapely.STRtree, point: BaseGeometry) -> int:
    """Position of the smallest-position tree geometry whose closed area contains
    point (tree geometries are stored in code order), or -1."""
    hits = tree.query(point, predicate="intersects")
    if hits.size == 0:
        return -1
    return int(hits.min()) if hits.size > 1 else int(hits[0])


def _polygonal_array(items: Sequence[tuple[str, BaseGeometry]], what: str) -> tuple[list[str], np.ndarray]:
    """Codes and geometries sorted by code, validated (polygonal, non-empty, unique codes);
    invalid polygons are repaired with make_valid so the predicates are well defined."""
    pairs = sorted(((str(code), geom) for code, geom in items), key=lambda p: p[0])
    codes = [code for code, _ in pairs]
    if len(set(codes)) != len(codes):
        dupes = sorted(code for code, count in Counter(codes).items() if count > 1)
        raise InvalidInput(f"Duplicate {what} codes: {', '.join(dupes[:5])}.", field=what)
    geoms = np.empty(len(pairs), dtype=object)
    geoms[:] = [geom for _, geom in pairs]
    if len(pairs) == 0:
        return codes, geoms
    is_geom = np.fromiter((isinstance(g, BaseGeometry) for g in geoms), dtype=bool, count=len(geoms))
    if not is_geom.all():
        bad = [codes[i] for i in np.flatnonzero(~is_geom)[:5]]
        raise InvalidInput(f"{what} areas without a geometry: {', '.join(bad)}.", field=what)
    type_ids = shapely.get_type_id(geoms)
    areal = np.isin(type_ids, [shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON])
    bad_mask = ~areal | shapely.is_empty(geoms)
    if bad_mask.any():
        bad = [codes[i] for i in np.flatnonzero(bad_mask)[:5]]
        raise InvalidInput(f"{what} areas must be non-empty polygons: {', '.join(bad)}.", field=what)
    invalid = ~shapely.is_valid(geoms)
    if invalid.any():
        geoms[invalid] = shapely.make_valid(geoms[invalid])
    return codes, geoms


def _places_for(codes: Sequence[str], places: Mapping[str, Place], level: str, what: str) -> list[Place]:
    missing = [c for c in codes if c not in places]
    if missing:
        examples = ", ".join(missing[:5])
        raise InvalidInput(f"No place given for {len(missing)} {what} codes, e.g. {examples}.", field=what)
    result = [places[c] for c in codes]
    wrong = [p.code for p in result if p.level != level]
    if wrong:
        raise InvalidInput(f"{what} places must have level {level!r}: {', '.join(wrong[:5])}.", field=what)
    return result


# -------------------------------------------------------------------- area index


class AreaIndex:
    """Point → unit grid, community, street, district and responsibility grid.

    Build with :meth:`build`; the instance is immutable afterwards. Grids are held in
    code order, so a grid's *position* (what :meth:`locate_many` returns) is its rank
    among the grid codes.
    """

    __slots__ = (
        "_chains",
        "_cm",
        "_district_geoms",
        "_district_places",
        "_district_tree",
        "_district_tree_xy",
        "_district_xy",
        "_grid_codes",
        "_grid_tree",
        "_resp_places",
        "_resp_tree",
        "_to_ll",
        "_to_xy",
    )

    def __init__(self) -> None:  # use AreaIndex.build
        self._grid_codes: list[str] = []
        self._chains: list[tuple[Place, Place | None, Place | None, Place | None]] = []
        self._grid_tree = shapely.STRtree([])
        self._district_places: list[Place] = []
        self._district_geoms = np.empty(0, dtype=object)
        self._district_tree = shapely.STRtree([])
        self._district_xy = np.empty(0, dtype=object)
        self._district_tree_xy = shapely.STRtree([])
        self._resp_places: list[Place] = []
        self._resp_tree = shapely.STRtree([])
        self._cm = 0.0
        self._to_xy: Transformer | None = None
        self._to_ll: Transformer | None = None

    @classmethod
    def build(
        cls,
        grids: Sequence[tuple[str, BaseGeometry]],
        places: Mapping[str, Place],
        parents: Mapping[str, str],
        districts: Sequence[tuple[str, BaseGeometry]],
        responsibility: Sequence[tuple[str, BaseGeometry]] = (),
    ) -> AreaIndex:
        """Build the index.

        grids: (grid code, WGS84 polygon) for every unit grid; places: code → Place for
        every grid, community, street, district and responsibility grid; parents: child
        code → parent code (grid → community → street → district; a missing level is
        simply skipped); districts and responsibility: (code, WGS84 polygon).

        Raises InvalidInput for duplicate codes, missing places, places of the wrong
        level, or geometries that are not non-empty polygons. Invalid polygons are
        repaired with ``shapely.make_valid``.
        """
        self = cls()
        grid_codes, grid_geoms = _polygonal_array(grids, "grid")
        grid_places = _places_for(grid_codes, places, LEVEL_GRID, "grid")
        district_codes, district_geoms = _polygonal_array(districts, "district")
        self._district_places = _places_for(district_codes, places, LEVEL_DISTRICT, "district")
        resp_codes, resp_geoms = _polygonal_array(responsibility, "responsibility")
        self._resp_places = _places_for(resp_codes, places, LEVEL_RESPONSIBILITY, "responsibility")

        self._grid_codes = grid_codes
        self._chains = _ancestor_chains(grid_places, places, parents)
        self._grid_tree = shapely.STRtree(grid_geoms)
        self._district_geoms = district_geoms
        self._district_tree = shapely.STRtree(district_geoms)
        self._resp_tree = shapely.STRtree(resp_geoms)

        # Distances to districts are measured in the Gauss-Krüger zone of the city.
        extent = district_geoms if len(district_geoms) else grid_geoms
        if len(extent):
            min_lon, _, max_lon, _ = shapely.total_bounds(extent)
            centre = (min_lon + max_lon) / 2.0
            epsg = crs.utm_or_gk_crs_for(centre)
            self._cm = float(crs.gk_central_meridian(centre))
            self._to_xy = Transformer.from_crs(4326, epsg, always_xy=True)
            self._to_ll = Transformer.from_crs(epsg, 4326, always_xy=True)
            self._district_xy = crs.to_projected(district_geoms, epsg)
            self._district_tree_xy = shapely.STRtree(self._district_xy)
        return self

    @property
    def size(self) -> int:
        """Number of unit grids."""
        return len(self._grid_codes)

    def grids_in(
        self, min_lon: float, min_lat: float, max_lon: float, max_lat: float
    ) -> list[tuple[str, BaseGeometry]]:
        """(code, polygon) of the unit grids whose boxes meet a lon/lat box, in code order
        (for map views)."""
        hits = self._grid_tree.query(shapely.box(min_lon, min_lat, max_lon, max_lat), predicate="intersects")
        geoms = self._grid_tree.geometries
        return [(self._grid_codes[i], geoms[i]) for i in sorted(int(h) for h in hits)]

    def locate(self, lon: float, lat: float) -> Location:
        """The grid, community, street, district and responsibility grid at a WGS84 point.

        Raises OutsideCity if the point is in no grid and no district, InvalidInput if
        (lon, lat) is not a finite WGS84 coordinate. See the module doc for edges.
        """
        lon, lat = _checked_point(lon, lat)
        point = shapely.Point(lon, lat)
        pos = _first_hit(self._grid_tree, point)
        if pos >= 0:
            grid, community, street, district = self._chains[pos]
            if district is None:
                district = self._district_at(point)
        else:
            grid = community = street = None
            district = self._district_at(point)
            if district is None:
                nearest, distance = self._nearest_district(lon, lat)
                raise OutsideCity(lon, lat, nearest, distance)
        r = _first_hit(self._resp_tree, point)
        responsibility = self._resp_places[r] if r >= 0 else None
        return Location(lon, lat, grid, community, street, district, responsibility)

    def locate_many(self, lons: ArrayLike, lats: ArrayLike) -> IntArray:
        """Grid positions (see :meth:`grid_codes`) of many points, vectorised; -1 for a
        point in no grid (outside the city, in a district without grids, or a
        non-finite coordinate). Same shape as the input; agrees with :meth:`locate`."""
        x, y = _coordinate_arrays(lons, lats, "locate_many")
        shape = x.shape
        x, y = x.ravel(), y.ravel()
        out = np.full(x.size, np.iinfo(np.intp).max, dtype=np.intp)
        for start in range(0, x.size, _LOCATE_CHUNK):
            stop = min(start + _LOCATE_CHUNK, x.size)
            points = shapely.points(x[start:stop], y[start:stop])
            point_idx, grid_idx = self._grid_tree.query(points, predicate="intersects")
            # Smallest position (= smallest code) per point, as in locate.
            np.minimum.at(out, point_idx + start, grid_idx)
        out[out == np.iinfo(np.intp).max] = -1
        return out.reshape(shape)

    def grid_codes(self, positions: ArrayLike) -> list[str | None]:
        """Grid codes of positions returned by :meth:`locate_many` (None for -1)."""
        codes = self._grid_codes
        return [codes[p] if p >= 0 else None for p in np.asarray(positions, dtype=np.intp).ravel().tolist()]

    def nearest_district(self, lon: float, lat: float) -> tuple[Place, float]:
        """The district nearest to a WGS84 point and the geodesic distance in metres to
        its outline (0.0 inside it; ties go to the smallest code).

        Raises InvalidInput if the index holds no districts.
        """
        lon, lat = _checked_point(lon, lat)
        inside = self._district_at(shapely.Point(lon, lat))
        if inside is not None:
            return inside, 0.0
        nearest, distance = self._nearest_district(lon, lat)
        if nearest is None:
            raise InvalidInput("No districts are loaded.", field="districts")
        return nearest, distance

    # -- internals

    def _district_at(self, point: BaseGeometry) -> Place | None:
        d = _first_hit(self._district_tree, point)
        return self._district_places[d] if d >= 0 else None

    def _nearest_district(self, lon: float, lat: float) -> tuple[Place | None, float]:
        if not self._district_places or self._to_xy is None or self._to_ll is None:
            return None, math.inf
        if abs(lon - self._cm) <= _MAX_PROJECTED_DLON:
            x, y = self._to_xy.transform(lon, lat)
            if math.isfinite(x) and math.isfinite(y):
                point = shapely.Point(x, y)
                idx, dist = self._district_tree_xy.query_nearest(point, return_distance=True, all_matches=True)
                best = int(idx[0]) if idx.size == 1 else int(idx[dist == dist.min()].min())
                # The nearest point of the outline, measured exactly as a geodesic.
                (_, (nx, ny)) = shapely.get_coordinates(shapely.shortest_line(point, self._district_xy[best]))
                nlon, nlat = self._to_ll.transform(nx, ny)
                _, _, distance = _GEOD.inv(lon, lat, nlon, nlat)
                return self._district_places[best], float(distance)
        # Far away: geodesic distance to the nearest outline vertex of each district.
        coords, owner = shapely.get_coordinates(self._district_geoms, return_index=True)
        _, _, dist = _GEOD.inv(np.full(len(coords), lon), np.full(len(coords), lat), coords[:, 0], coords[:, 1])
        per_district = np.full(len(self._district_places), np.inf)
        np.minimum.at(per_district, owner, dist)
        best = int(np.argmin(per_district))
        return self._district_places[best], float(per_district[best])


def _ancestor_chains(
    grid_places: Sequence[Place], places: Mapping[str, Place], parents: Mapping[str, str]
) -> list[tuple[Place, Place | None, Place | None, Place | None]]:
    """(grid, community, street, district) for each grid, walking the parent links.

    The first ancestor of each level wins; cycles and over-long chains stop the walk.
    Chains above a grid are shared by many grids, so they are memoised per parent.
    """
    memo: dict[str, tuple[Place | None, Place | None, Place | None]] = {}

    def above(code: str) -> tuple[Place | None, Place | None, Place | None]:
        cached = memo.get(code)
        if cached is not None:
            return cached
        found: dict[str, Place] = {}
        seen: set[str] = set()
        current: str | None = code
        while current is not None and current not in seen and len(seen) < 32:
            seen.add(current)
            place = places.get(current)
            if place is not None:
                found.setdefault(place.level, place)
            current = parents.get(current)
        result = (found.get(LEVEL_COMMUNITY), found.get(LEVEL_STREET), found.get(LEVEL_DISTRICT))
        memo[code] = result
        return result

    chains: list[tuple[Place, Place | None, Place | None, Place | None]] = []
    for grid in grid_places:
        parent = parents.get(grid.code)
        community, street, district = above(parent) if parent is not None else (None, None, None)
        chains.append((grid, community, street, district))
    return chains


# ---------------------------------------------------------------- component index


class ComponentIndex:
    """Components as points; the nearest ones of a category within a radius.

    Components are projected once to the Gauss-Krüger zone of their centre and bucketed
    into 50 m square cells: the points are sorted by cell id (column-major), so the
    cells of one column of the search square form one contiguous run found with two
    binary searches. This keeps the index to a few flat numpy arrays (~60 bytes a
    component, sharing the caller's code strings) instead of a million Shapely points
    and a tree over them (~300 bytes a component, measured).
    """

    __slots__ = (
        "_cat_names",
        "_cat_of",
        "_cats",
        "_codes",
        "_keys",
        "_lats",
        "_lons",
        "_nx",
        "_ny",
        "_order",
        "_to_xy",
        "_x0",
        "_xs",
        "_y0",
        "_ys",
    )

    def __init__(self) -> None:  # use ComponentIndex.build
        self._codes: list[str] = []
        self._cat_names: list[str] = []
        self._cat_of: dict[str, int] = {}
        empty_f = np.empty(0, dtype=np.float64)
        self._xs, self._ys, self._lons, self._lats = empty_f, empty_f, empty_f, empty_f
        self._cats = np.empty(0, dtype=np.int32)
        self._order = np.empty(0, dtype=np.int64)
        self._keys = np.empty(0, dtype=np.int64)
        self._x0 = self._y0 = 0.0
        self._nx = self._ny = 0
        self._to_xy: Transformer | None = None

    @classmethod
    def build(cls, codes: Sequence[str], categories: Sequence[str], lons: ArrayLike, lats: ArrayLike) -> ComponentIndex:
        """Build from parallel sequences: component code, category code, WGS84 lon, lat.

        Line and polygon components are passed as one representative point by the
        caller. Raises InvalidInput if the lengths differ or a coordinate is not a
        finite WGS84 value.
        """
        self = cls()
        lon_arr, lat_arr = _coordinate_arrays(lons, lats, "components")
        lon_arr, lat_arr = lon_arr.ravel(), lat_arr.ravel()
        n = lon_arr.size
        if len(codes) != n or len(categories) != n:
            raise InvalidInput(
                f"components: {len(codes)} codes, {len(categories)} categories and {n} coordinates; "
                "the lengths must match.",
                field="components",
            )
        bad = ~(np.isfinite(lon_arr) & np.isfinite(lat_arr) & (np.abs(lon_arr) <= 180) & (np.abs(lat_arr) <= 90))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InvalidInput(
                f"Component {codes[i]} has no valid WGS84 position ({lon_arr[i]}, {lat_arr[i]}).", field="components"
            )
        self._codes = list(codes)
        if n == 0:
            return self

        cat_of: dict[str, int] = {}
        cats = np.fromiter((cat_of.setdefault(c, len(cat_of)) for c in categories), dtype=np.int32, count=n)
        self._cat_of = cat_of
        self._cat_names = list(cat_of)

        centre = (float(lon_arr.min()) + float(lon_arr.max())) / 2.0
        self._to_xy = Transformer.from_crs(4326, crs.utm_or_gk_crs_for(centre), always_xy=True)
        xs, ys = self._to_xy.transform(lon_arr, lat_arr)
        self._x0, self._y0 = float(xs.min()), float(ys.min())
        ix = ((xs - self._x0) // _CELL_M).astype(np.int64)
        iy = ((ys - self._y0) // _CELL_M).astype(np.int64)
        self._nx, self._ny = int(ix.max()) + 1, int(iy.max()) + 1
        keys = ix * self._ny + iy
        order = np.argsort(keys, kind="stable")
        self._order = order
        self._keys = keys[order]
        self._xs, self._ys = xs[order], ys[order]
        self._lons, self._lats = lon_arr[order], lat_arr[order]
        self._cats = cats[order]
        return self

    @property
    def size(self) -> int:
        """Number of components."""
        return len(self._codes)

    @property
    def categories(self) -> list[str]:
        """Category codes present, in first-seen order."""
        return list(self._cat_names)

    def nearest(
        self,
        lon: float,
        lat: float,
        *,
        category: str | None = None,
        radius_m: float = 50.0,
        limit: int = 5,
    ) -> list[NearbyComponent]:
        """Up to ``limit`` components within ``radius_m`` metres (inclusive) of a WGS84
        point, nearest first (ties in input order); ``category`` None means any.

        Raises InvalidInput for a bad coordinate, a radius outside (0, MAX_RADIUS_M] or a
        limit below 1. An unknown category simply has no components.
        """
        lon, lat = _checked_point(lon, lat)
        if not (math.isfinite(radius_m) and 0.0 < radius_m <= MAX_RADIUS_M):
            raise InvalidInput(f"The radius must be more than 0 and at most {MAX_RADIUS_M:.0f} m.", field="radius_m")
        if not (isinstance(limit, int) and limit >= 1):
            raise InvalidInput("The limit must be a positive integer.", field="limit")
        if self._to_xy is None:
            return []
        cat = -1
        if category is not None:
            cat = self._cat_of.get(category, -2)
            if cat == -2:
                return []
        x, y = self._to_xy.transform(lon, lat)
        if not (math.isfinite(x) and math.isfinite(y)):
            return []
        k = float(gk_scale_factor(x))
        # Planar search radius: true radius times the largest scale factor in reach.
        reach = radius_m * float(gk_scale_factor(_GK_FALSE_EASTING + abs(x - _GK_FALSE_EASTING) + radius_m))
        ix0 = max(0, math.floor((x - reach - self._x0) / _CELL_M))
        ix1 = min(self._nx - 1, math.floor((x + reach - self._x0) / _CELL_M))
        iy0 = max(0, math.floor((y - reach - self._y0) / _CELL_M))
        iy1 = min(self._ny - 1, math.floor((y + reach - self._y0) / _CELL_M))
        if ix0 > ix1 or iy0 > iy1:
            return []
        starts = np.arange(ix0, ix1 + 1, dtype=np.int64) * self._ny + iy0
        lo = np.searchsorted(self._keys, starts, side="left")
        hi = np.searchsorted(self._keys, starts + (iy1 - iy0 + 1), side="left")
        counts = hi - lo
        total = int(counts.sum())
        if total == 0:
            return []
        if counts.size == 1:
            idx = np.arange(int(lo[0]), int(hi[0]))
        else:
            # Concatenated ranges lo[i]..hi[i] without a Python loop.
            offsets = np.repeat(lo - (np.cumsum(counts) - counts), counts)
            idx = offsets + np.arange(total)
        if cat >= 0:
            idx = idx[self._cats[idx] == cat]
        dist = np.hypot(self._xs[idx] - x, self._ys[idx] - y) / k
        keep = dist <= radius_m
        idx, dist = idx[keep], dist[keep]
        # Stable: equal distances keep input order (the order array is a stable sort).
        best = np.lexsort((self._order[idx], dist))[:limit]
        codes, names = self._codes, self._cat_names
        return [
            NearbyComponent(
                code=codes[int(self._order[i])],
                category=names[int(self._cats[i])],
                distance_m=float(d),
                lon=float(self._lons[i]),
                lat=float(self._lats[i]),
            )
            for i, d in zip(idx[best].tolist(), dist[best].tolist(), strict=True)
        ]
