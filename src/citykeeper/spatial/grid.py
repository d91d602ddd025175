"""Synthetic street / community / unit-grid hierarchy for a demo district.

Real administrative data stops at the district (区县) level: no street (街道) or
community (社区) boundaries are openly available (see data/geo/SOURCES.md). A demo of a
数字城管 platform still needs the full 区 > 街道 > 社区 > 单元网格 tree, so this module
*generates* one from a real district polygon:

* streets: the district (optionally clipped to an urban core) cut into parts of
  equal area by recursive straight cuts in metres;
* communities: each street cut the same way;
* unit grids: each community covered by square cells of a city-wide lattice in the
  CGCS2000 Gauss-Krüger projection, clipped to the community, slivers merged into a
  neighbour.

Everything is computed in the Gauss-Krüger zone of the district (metres, so "equal
area" and "100 m cell" mean what they say) and converted back to WGS84 lon/lat once,
in one vectorised call, at the end. Codes follow the 数字城管 convention of
district code (6) + street (3) + community (3) + grid (3) = 15 digits, numbered in
reading order: rows north to south, west to east within a row.

The result is clearly synthetic and meant for demos and tests; the spatial issue
will replace the splitting strategy, not this module's output types.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry

from citykeeper.domain.errors import InvalidInput
from citykeeper.spatial import crs

__all__ = [
    "BUNDLED_GEO_DIR",
    "LEVEL_COMMUNITY",
    "LEVEL_GRID",
    "LEVEL_STREET",
    "GeneratedArea",
    "GeneratedDistrict",
    "generate_hierarchy",
    "load_geojson_features",
    "square_around",
]

LEVEL_STREET = "street"
LEVEL_COMMUNITY = "community"
LEVEL_GRID = "grid"

# Real boundary files shipped with the package (GCJ-02 lon/lat; see SOURCES.md there).
BUNDLED_GEO_DIR = Path(__file__).resolve().parent.parent / "data" / "geo"

# A clipped cell smaller than this share of a full cell is not worth a patrol unit
# of its own: it is merged into the neighbour it shares the longest edge with.
SLIVER_FRACTION = 0.05
# Each level's sequence number has three digits.
MAX_SEQUENCE = 999
# Lattice cells examined per community before clipping; far above any sensible
# input (999 grids), it only stops an absurdly small grid_cell_m from exhausting memory.
_MAX_LATTICE_CELLS = 1_000_000
# Equal-area cuts are searched by bisection until the part is within this share of
# its target area: far tighter than "roughly equal", and ~20 cheap clips per cut.
_CUT_AREA_TOLERANCE = 1e-6
_CUT_MAX_ITER = 80
# Coverage a community's grids must keep when isolated slivers are dropped.
_MIN_GRID_COVERAGE = 0.99


@dataclass(slots=True)
class GeneratedArea:
    """One generated street, community or unit grid.

    geometry is WGS84 lon/lat; area_m2 is measured in the district's Gauss-Krüger zone.
    Grids have no name of their own: their name is their code.
    """

    code: str
    name: str
    level: str
    geometry: BaseGeometry
    children: list[GeneratedArea]
    area_m2: float

    @property
    def grid_count(self) -> int:
        if self.level == LEVEL_GRID:
            return 1
        return sum(child.grid_count for child in self.children)

    def walk(self) -> Iterator[GeneratedArea]:
        """This area and all its descendants, parents before children, in code order."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(slots=True)
class GeneratedDistrict:
    """The generated tree under one district.

    region is the WGS84 part of the district that was subdivided (the district, or
    district ∩ clip_to); epsg is the Gauss-Krüger CRS all areas were measured in.
    """

    code: str
    streets: list[GeneratedArea]
    name: str
    region: BaseGeometry
    area_m2: float
    epsg: int

    @property
    def grid_count(self) -> int:
        return sum(street.grid_count for street in self.streets)

    def walk(self) -> Iterator[GeneratedArea]:
        """Every street, community and grid, parents before children, in code order."""
        for street in self.streets:
            yield from street.walk()


# ------------------------------------------------------------------------- loading


def load_geojson_features(
    path: str | os.PathLike[str],
    *,
    transform: Callable[[float, float], tuple[float, float]] | None = None,
) -> list[tuple[dict[str, Any], BaseGeometry]]:
    """(properties, geometry) for each feature of a GeoJSON file.

    Accepts a FeatureCollection, a single Feature or a bare geometry (properties {}).
    Features without a geometry are skipped: there is nothing to place. transform, e.g.
    crs.gcj02_to_wgs84, is applied to every coordinate (our boundary files are GCJ-02).
    """
    with open(path, encoding="utf-8") as fh:
        doc = json.load(fh)
    if not isinstance(doc, dict) or "type" not in doc:
        raise InvalidInput(f"{path} is not a GeoJSON object.", field="path")
    if doc["type"] == "FeatureCollection":
        features = doc.get("features") or []
    elif doc["type"] == "Feature":
        features = [doc]
    else:
        features = [{"type": "Feature", "properties": {}, "geometry": doc}]
    result: list[tuple[dict[str, Any], BaseGeometry]] = []
    for feature in features:
        if not feature.get("geometry"):
            continue
        geom = shape(feature["geometry"])
        if transform is not None:
            geom = crs.transform_geometry(geom, transform)
        result.append((dict(feature.get("properties") or {}), geom))
    return result


def square_around(lon: float, lat: float, side_m: float) -> Polygon:
    """A WGS84 square of side_m metres (in Gauss-Krüger) centred on (lon, lat).

    Meant as generate_hierarchy's clip_to, to grid only an urban core of a district.
    """
    if not side_m > 0:
        raise InvalidInput("The square's side must be positive.", field="side_m")
    epsg = crs.utm_or_gk_crs_for(lon)
    centre = crs.to_projected(shapely.Point(lon, lat), epsg)
    half = side_m / 2.0
    square = shapely.box(centre.x - half, centre.y - half, centre.x + half, centre.y + half)
    # Densify so the edges stay straight in metres after the curved lon/lat mapping.
    return crs.to_lonlat(shapely.segmentize(square, side_m / 16.0), epsg)


# ----------------------------------------------------------------------- geometry


def _polygonal(geom: BaseGeometry) -> Polygon | MultiPolygon:
    """The areal part of geom as a valid Polygon/MultiPolygon (possibly empty).

    Overlays can return collections with stray lines or points along cut edges, and
    converted input can be marginally invalid; neither belongs in an area layer.
    """
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    parts = shapely.get_parts(shapely.get_parts(geom))
    polys = [p for p in parts if isinstance(p, Polygon) and not p.is_empty and p.area > 0]
    if not polys:
        return Polygon()
    if len(polys) == 1:
        return polys[0]
    return MultiPolygon(polys)


def _split_equal_area(geom: BaseGeometry, parts: int) -> list[BaseGeometry]:
    """Cut geom into `parts` pieces of equal area with straight axis-parallel cuts.

    Recursive bisection: the piece is cut across its longer side (keeps pieces
    compact) at the position found by bisection where the first side holds
    floor(parts/2)/parts of the area; each side is then cut again. Both sides of a
    cut are intersections with complementary half-planes, so they share the cut edge
    exactly and neither overlap nor leave gaps.
    """
    if parts == 1:
        return [geom]
    first_parts = parts // 2
    total = geom.area
    target = total * first_parts / parts
    minx, miny, maxx, maxy = geom.bounds
    pad = 1.0 + max(maxx - minx, maxy - miny)
    vertical = (maxx - minx) >= (maxy - miny)

    def first_rect(cut: float) -> tuple[float, float, float, float]:
        # West of a vertical cut, south of a horizontal one.
        if vertical:
            return (minx - pad, miny - pad, cut, maxy + pad)
        return (minx - pad, miny - pad, maxx + pad, cut)

    def second_rect(cut: float) -> tuple[float, float, float, float]:
        if vertical:
            return (cut, miny - pad, maxx + pad, maxy + pad)
        return (minx - pad, cut, maxx + pad, maxy + pad)

    lo, hi = (minx, maxx) if vertical else (miny, maxy)
    cut = (lo + hi) / 2.0
    for _ in range(_CUT_MAX_ITER):
        cut = (lo + hi) / 2.0
        # clip_by_rect is a fast clip whose output may be slightly invalid, which does
        # not matter for its area; the kept pieces below use a proper intersection.
        area = shapely.clip_by_rect(geom, *first_rect(cut)).area
        if abs(area - target) <= _CUT_AREA_TOLERANCE * total:
            break
        if area < target:
            lo = cut
        else:
            hi = cut
    first = _polygonal(shapely.intersection(geom, shapely.box(*first_rect(cut))))
    second = _polygonal(shapely.intersection(geom, shapely.box(*second_rect(cut))))
    return _split_equal_area(first, first_parts) + _split_equal_area(second, parts - first_parts)


def _reading_order(geoms: Sequence[BaseGeometry]) -> list[int]:
    """Indices of geoms in reading order of their centroids: rows north to south,
    west to east within a row.

    Irregular pieces have no lattice rows, so a row is formed by centroids lying
    within half a typical piece height (sqrt of the median area) below the row's
    first (northernmost) centroid.
    """
    if not geoms:
        return []
    arr = np.asarray(geoms, dtype=object)
    centroids = shapely.centroid(arr)
    xs = shapely.get_x(centroids)
    ys = shapely.get_y(centroids)
    band = 0.5 * math.sqrt(float(np.median(shapely.area(arr))))
    rows: list[list[int]] = []
    row_top = math.inf
    for i in sorted(range(len(arr)), key=lambda j: (-ys[j], xs[j])):
        if not rows or row_top - ys[i] > band:
            rows.append([])
            row_top = ys[i]
        rows[-1].append(i)
    return [i for row in rows for i in sorted(row, key=lambda j: xs[j])]


def _unit_grids(community: BaseGeometry, cell: float) -> list[BaseGeometry]:
    """Cover a (projected) community with square cells, clipped, slivers merged,
    returned in reading order (lattice rows north to south, columns west to east)."""
    minx, miny, maxx, maxy = community.bounds
    # Anchor the lattice at multiples of the cell size in the projection, not at the
    # community's corner, so cells of neighbouring communities line up city-wide.
    x0 = math.floor(minx / cell) * cell
    y_top = math.ceil(maxy / cell) * cell
    n_cols = max(1, math.ceil((maxx - x0) / cell))
    n_rows = max(1, math.ceil((y_top - miny) / cell))
    if n_cols * n_rows > _MAX_LATTICE_CELLS:
        raise InvalidInput(
            f"A {cell} m grid needs {n_cols * n_rows} cells for one community; use larger cells.",
            field="grid_cell_m",
        )
    rows, cols = np.divmod(np.arange(n_rows * n_cols), n_cols)  # row 0 is the northernmost
    xmin = x0 + cols * cell
    ymax = y_top - rows * cell
    boxes = shapely.box(xmin, ymax - cell, xmin + cell, ymax)

    shapely.prepare(community)
    touching = shapely.intersects(community, boxes)
    boxes, rows, cols = boxes[touching], rows[touching], cols[touching]
    # Cells wholly inside need no overlay; only the boundary ring is clipped.
    inside = shapely.contains_properly(community, boxes)
    clipped = boxes.copy()
    clipped[~inside] = shapely.intersection(boxes[~inside], community)

    # One clipped cell can fall apart into several pieces where the community's
    # outline wiggles through it; each piece is judged on its own.
    pieces, owner = shapely.get_parts(clipped, return_index=True)
    areal = (shapely.get_type_id(pieces) == shapely.GeometryType.POLYGON) & (shapely.area(pieces) > 0)
    pieces, owner = pieces[areal], owner[areal]
    piece_rows, piece_cols = rows[owner], cols[owner]
    is_sliver = shapely.area(pieces) < SLIVER_FRACTION * cell * cell

    if is_sliver.all():
        # A community smaller than a twentieth of a cell: it is one grid.
        return [_polygonal(community)]

    kept = list(np.flatnonzero(~is_sliver))
    geoms: dict[int, BaseGeometry] = {int(i): pieces[i] for i in kept}
    absorbed: dict[int, list[BaseGeometry]] = {int(i): [] for i in kept}
    pending = [int(i) for i in np.flatnonzero(is_sliver)]
    # A sliver may touch only other slivers (a thin spike of the community through
    # several cells); once those are merged it touches their new owner, so repeat.
    for _ in range(4):
        if not pending:
            break
        tree = shapely.STRtree([geoms[k] for k in kept])
        still: list[int] = []
        merged_any = False
        for s in pending:
            sliver = pieces[s]
            candidates = tree.query(sliver, predicate="intersects")
            if candidates.size == 0:
                still.append(s)
                continue
            owners = [kept[c] for c in candidates]
            shared = shapely.length(
                shapely.intersection(shapely.boundary(sliver), shapely.boundary(np.asarray([geoms[o] for o in owners])))
            )
            best = int(np.argmax(shared))
            if shared[best] <= 0:
                still.append(s)
                continue
            absorbed[owners[best]].append(sliver)
            merged_any = True
        for owner_id, extra in absorbed.items():
            if extra:
                geoms[owner_id] = _polygonal(shapely.union_all([geoms[owner_id], *extra]))
                extra.clear()
        pending = still
        if not merged_any:
            break

    # Slivers touching no kept piece (tiny islands) are dropped, unless that would
    # lose more than 1 % of the community, in which case they become grids themselves.
    if pending:
        lost = float(np.sum(shapely.area(pieces[pending])))
        if lost > (1.0 - _MIN_GRID_COVERAGE) * community.area:
            for s in pending:
                kept.append(s)
                geoms[s] = pieces[s]

    order = sorted(kept, key=lambda k: (piece_rows[k], piece_cols[k], shapely.centroid(geoms[k]).x))
    return [geoms[k] for k in order]


# ------------------------------------------------------------------------ hierarchy


def _short_district_name(name: str) -> str:
    # "鼓楼区" -> "鼓楼"; a one-character stem ("沛县" -> "沛") reads badly, keep those whole.
    if len(name) > 2 and name[-1] in "区县市旗":
        return name[:-1]
    return name


def _validate(
    district_code: str,
    street_count: int,
    communities_per_street: int,
    grid_cell_m: float,
    street_names: Sequence[str] | None,
) -> None:
    if not (len(district_code) == 6 and district_code.isascii() and district_code.isdigit()):
        raise InvalidInput("The district code must be 6 digits.", field="district_code")
    for field_name, value in (
        ("street_count", street_count),
        ("communities_per_street", communities_per_street),
    ):
        if not (isinstance(value, int) and 1 <= value <= MAX_SEQUENCE):
            raise InvalidInput(f"{field_name} must be an integer from 1 to {MAX_SEQUENCE}.", field=field_name)
    if not (math.isfinite(grid_cell_m) and grid_cell_m > 0):
        raise InvalidInput("The grid cell size must be a positive number of metres.", field="grid_cell_m")
    if street_names is not None:
        if len(street_names) != street_count:
            raise InvalidInput(
                f"{len(street_names)} street names given for {street_count} streets.", field="street_names"
            )
        if any(not n.strip() for n in street_names) or len(set(street_names)) != len(street_names):
            raise InvalidInput("Street names must be non-empty and distinct.", field="street_names")


def generate_hierarchy(
    district_geom_wgs84: BaseGeometry,
    *,
    district_code: str,
    street_count: int,
    communities_per_street: int,
    grid_cell_m: float = 100.0,
    clip_to: BaseGeometry | None = None,
    district_name: str | None = None,
    street_names: Sequence[str] | None = None,
) -> GeneratedDistrict:
    """Generate a synthetic street > community > unit-grid tree inside a district.

    district_geom_wgs84 and clip_to are WGS84 lon/lat. With clip_to only
    district ∩ clip_to is subdivided (large suburban districts: the demo grids only an
    urban core). street_names, if given, name the streets in code order; otherwise
    streets are "<district short name>街道NN" and communities "<street>第N社区" (the
    data is synthetic and its names say nothing real). Grids are named by their code.

    Raises InvalidInput for a bad code or count, an empty region, or a cell size that
    would need more than 999 grids in one community.
    """
    _validate(district_code, street_count, communities_per_street, grid_cell_m, street_names)
    if not isinstance(district_geom_wgs84, BaseGeometry) or district_geom_wgs84.is_empty:
        raise InvalidInput("The district geometry is empty.", field="district_geom_wgs84")
    region = _polygonal(district_geom_wgs84)
    if clip_to is not None:
        region = _polygonal(shapely.intersection(region, _polygonal(clip_to)))
    if region.is_empty:
        raise InvalidInput("The district and clip_to do not overlap.", field="clip_to")

    min_lon, _, max_lon, _ = region.bounds
    epsg = crs.utm_or_gk_crs_for((min_lon + max_lon) / 2.0)
    # The district's edges are straight in lon/lat; with a vertex every ~50 m they stay
    # where they are through the projection, so the generated streets end exactly on the
    # stored district boundary and an import of them finds no slivers along it.
    region_xy = crs.to_projected(shapely.segmentize(region, 0.0005), epsg)

    # All levels are built in metres first; (level, code, name, parent index, geometry)
    # rows are converted to lon/lat together at the end, in one vectorised call.
    rows: list[tuple[str, str, str, int, BaseGeometry]] = []
    short = _short_district_name(district_name or district_code)

    streets_xy = _split_equal_area(region_xy, street_count)
    for s_seq, s_idx in enumerate(_reading_order(streets_xy), start=1):
        street_xy = streets_xy[s_idx]
        street_code = f"{district_code}{s_seq:03d}"
        street_name = street_names[s_seq - 1] if street_names is not None else f"{short}街道{s_seq:02d}"
        street_row = len(rows)
        rows.append((LEVEL_STREET, street_code, street_name, -1, street_xy))

        communities_xy = _split_equal_area(street_xy, communities_per_street)
        for c_seq, c_idx in enumerate(_reading_order(communities_xy), start=1):
            community_xy = communities_xy[c_idx]
            community_code = f"{street_code}{c_seq:03d}"
            community_row = len(rows)
            rows.append((LEVEL_COMMUNITY, community_code, f"{street_name}第{c_seq}社区", street_row, community_xy))

            grids_xy = _unit_grids(community_xy, grid_cell_m)
            if len(grids_xy) > MAX_SEQUENCE:
                raise InvalidInput(
                    f"Community {community_code} would need {len(grids_xy)} unit grids of "
                    f"{grid_cell_m} m; at most {MAX_SEQUENCE} fit in a 3-digit code. Use larger "
                    f"cells or more communities.",
                    field="grid_cell_m",
                )
            for g_seq, grid_xy in enumerate(grids_xy, start=1):
                grid_code = f"{community_code}{g_seq:03d}"
                rows.append((LEVEL_GRID, grid_code, grid_code, community_row, grid_xy))

    geoms_xy = np.asarray([row[4] for row in rows], dtype=object)
    areas = shapely.area(geoms_xy)
    # A straight cut in metres is a slight curve in lon/lat: a 2 km street edge drawn as
    # one chord would leave its communities' corners 2 cm outside it. Vertices every
    # cell length keep every level on the same line.
    geoms_ll = crs.to_lonlat(shapely.segmentize(geoms_xy, grid_cell_m), epsg)

    nodes: list[GeneratedArea] = []
    streets: list[GeneratedArea] = []
    for i, (level, code, name, parent, _) in enumerate(rows):
        node = GeneratedArea(
            code=code, name=name, level=level, geometry=geoms_ll[i], children=[], area_m2=float(areas[i])
        )
        nodes.append(node)
        if parent < 0:
            streets.append(node)
        else:
            nodes[parent].children.append(node)

    return GeneratedDistrict(
        code=district_code,
        streets=streets,
        name=district_name or district_code,
        region=region,
        area_m2=float(region_xy.area),
        epsg=epsg,
    )
