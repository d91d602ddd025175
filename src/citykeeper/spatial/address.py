"""Address descriptions (地址描述): describe a lon/lat the way a case sheet does, and back.

Chinese case sheets locate a problem in words: "云龙区 彭城路与淮海东路交叉口东北约30米",
"鼓楼区 中山北路128号附近", "泉山区 云龙公园南门西约50米", "鼓楼区 黄河南路东侧，距民主北路
交叉口约120米". CJ/T 215 (方位描述) and GB/T 37149 prefer a doorplate (门牌) address, then a
landmark (标志物) with bearing and distance; for street problems the intersection (交叉口)
is the classic reference. A :class:`Gazetteer` holds roads (centre lines), doorplates and
POIs, computes the intersections of differently named roads, and turns a point into a
:class:`Description` (``describe``) and a text into ranked :class:`Candidate` points
(``geocode``).

Everything metric happens in the CGCS2000 3-degree Gauss-Krüger zone of the gazetteer
(:func:`crs.utm_or_gk_crs_for` of its centre), never in degrees. Bearings are grid
bearings in that projection (within ~0.2 degrees of true north near the central meridian,
far below the 45-degree sectors).

Description rules (a product decision; the first rule that applies wins)
--------------------------------------------------------------------------
1. **Intersection** within 60 m: ``"A与B交叉口"`` where A is the road nearer to the point
   (the road the problem is on), then the bearing and distance.
2. **Doorplate** within 40 m: ``"X路N号附近"`` up to 15 m from the plate, beyond that
   ``"X路N号" + bearing + distance``.
3. **POI** within 150 m: ``"云龙公园南门" + bearing + distance``.
4. **Road** within 200 m: ``"X路" + side`` (``东侧/西侧/南侧/北侧``: the side of the road, from
   the road's direction at the nearest point; no side within 5 m of the centre line, i.e.
   on the carriageway), ``"约N米"`` after the side when the point is more than 30 m from the
   centre line, then ``"，距A交叉口约M米"`` with M measured *along the road* to the nearest
   intersection of that road within 500 m (``"，近A交叉口"`` when M rounds to 0).
5. **None**: the coordinates, ``"(117.200000, 34.260000)"`` (6 decimals, WGS84).

Bearing and distance: the bearing is FROM the reference TO the point in 8 sectors of 45
degrees centred on 北/东北/东/东南/南/西南/西/西北; the distance is written ``"约N米"`` with
Arabic digits and no space, rounded to 5 m below 50 m and to 10 m from 50 m (half up).
Within 5 m of an intersection or POI the point is *at* the reference: no bearing and no
distance, ``"A与B交叉口处"`` and ``"云龙公园附近"``. A district, when given, is prefixed
with one space: ``"云龙区 彭城路与淮海东路交叉口东北约30米"``. ``Description.distance_m`` is
the exact (unrounded) distance to the reference (for a road: to its centre line).

Geocoding rules
---------------
Text is normalised first (NFKC: full-width digits, letters, spaces and punctuation become
ASCII; whitespace removed; ``號`` and ``#`` after a number read as ``号``; ``128之2`` as
``128-2``), and up to three leading ``省/市/区/县`` units such as ``"徐州市云龙区"`` are
tried both kept and stripped (so "徐州市第一人民医院" is still a name). Names are
matched exactly: ``"彭城路"`` never matches ``"彭城大道"``, ``"彭城街"`` or ``"彭城巷"``.
Recognised forms, with their scores (0..1, best first):

* ``"A与B交叉口"`` (also ``和``, ``、``, ``及``, ``/``, ``路口``, ``十字路口``, ``交口``),
  order of A and B free: the intersection, 0.95; with ``"东北约30米"`` the point offset by
  30 m to the north-east, 0.9 (doorplates and POIs take such an offset too, and also
  lose 0.05 for it). When A and B cross more than once every crossing is a
  candidate and each loses 0.1 (``describe`` still names such a pair: the text is then
  ambiguous, and ``geocode`` returns every reading). A bearing without a distance
  (``"交叉口西南角"``) keeps the reference point and also loses 0.05.
* ``"X路N号"`` / ``"X路N-M号"`` (``附近`` and an offset allowed): the doorplate, 0.95
  (0.85 when only the main number N exists). A missing number is interpolated between
  the nearest lower and higher numbers on that road of the same parity (the same side
  of the road), 0.7; of any parity, 0.6; beyond the numbered range the nearest number,
  0.4.
* A POI name (``附近`` and an offset allowed): exact, 0.9; only when nothing else reads,
  a POI whose name contains the text (offset split off) or is contained in it, 0.6 times
  the share of the longer name that matches.
* ``"X路东侧[约N米]，距A交叉口约M米"``: M metres along X from its crossing with A in
  both directions (the text does not say which), offset N m to the named side (15 m,
  the middle of the unnumbered 5..30 m band, without a number), 0.5 each (0.6 when only
  one direction stays on the road). ``"X路东侧"`` alone: the middle of the road, 0.3.
* A road name alone: the point halfway along the road, 0.3.
* ``"(lon, lat)"``: that point, 1.0.

Unknown text gives an empty list, not an error. The round trip
``geocode(describe(p).text)[0]`` lands within the precision the text carries: the
distance rounding plus the sector width (a 45-degree sector leaves up to
``2 d sin(11.25°) ≈ 0.39 d`` across the bearing), or within the 15 m ``附近`` radius.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import LineString, MultiLineString, Point
from shapely.geometry.base import BaseGeometry

from citykeeper.domain.errors import InvalidInput
from citykeeper.spatial import crs

__all__ = [
    "AT_REFERENCE_M",
    "BEARINGS",
    "DOORPLATE_NEAR_M",
    "DOORPLATE_RADIUS_M",
    "INTERSECTION_DEDUPE_M",
    "INTERSECTION_RADIUS_M",
    "POI_RADIUS_M",
    "ROAD_INTERSECTION_RADIUS_M",
    "ROAD_OFFSET_TEXT_M",
    "ROAD_RADIUS_M",
    "Candidate",
    "Description",
    "Doorplate",
    "Gazetteer",
    "Intersection",
    "Poi",
    "Road",
    "bearing_name",
    "round_distance",
]

INTERSECTION_RADIUS_M = 60.0
DOORPLATE_RADIUS_M = 40.0
DOORPLATE_NEAR_M = 15.0
POI_RADIUS_M = 150.0
ROAD_RADIUS_M = 200.0
ROAD_INTERSECTION_RADIUS_M = 500.0
# Closer than this the point is at the reference (and on a road: on the carriageway).
AT_REFERENCE_M = 5.0
# A road description names the distance from the centre line beyond this.
ROAD_OFFSET_TEXT_M = 30.0
# Crossing points of the same two roads closer than this are one intersection.
INTERSECTION_DEDUPE_M = 15.0
# Roads ending this close to another (digitising gaps at T-junctions) still meet it.
_SNAP_M = 1.0
# Geocoding "X路东侧" without a distance puts the point this far from the centre line.
_DEFAULT_SIDE_OFFSET_M = 15.0

# Sector i is centred on i * 45 degrees clockwise from grid north.
BEARINGS = ("北", "东北", "东", "东南", "南", "西南", "西", "西北")
_SIDES = ("北", "东", "南", "西")  # four sectors of 90 degrees, for road sides

FloatArray = NDArray[np.float64]

SCORE_COORDINATE = 1.0
SCORE_INTERSECTION = 0.95
SCORE_DOORPLATE = 0.95
SCORE_DOORPLATE_MAIN = 0.85
SCORE_DOORPLATE_SAME_PARITY = 0.7
SCORE_DOORPLATE_ANY_PARITY = 0.6
SCORE_DOORPLATE_NEAREST = 0.4
SCORE_POI = 0.9
SCORE_POI_PARTIAL = 0.6
SCORE_ROAD_SIDE = 0.5
SCORE_ROAD = 0.3
# Lost by a candidate whose text also gives an offset (the offset is approximate).
_OFFSET_PENALTY = 0.05
# Lost by each of several equally good candidates for one text.
_AMBIGUITY_PENALTY = 0.1


# --------------------------------------------------------------------------- types


@dataclass(frozen=True)
class Road:
    """A named road centre line (WGS84). Several Roads may share a name (segments)."""

    name: str
    geometry: LineString | MultiLineString


@dataclass(frozen=True)
class Doorplate:
    """A doorplate (门牌): road name and number such as "128" or "128-2", WGS84 position."""

    road: str
    number: str
    lon: float
    lat: float


@dataclass(frozen=True)
class Poi:
    """A landmark (标志物); kind is 公园/学校/医院/商场/小区/广场/地铁站…"""

    name: str
    kind: str
    lon: float
    lat: float


@dataclass(frozen=True)
class Intersection:
    """Where two differently named roads meet (computed by Gazetteer.build)."""

    roads: tuple[str, str]
    lon: float
    lat: float


@dataclass(frozen=True)
class Description:
    """text is what a case sheet shows; kind is intersection/doorplate/poi/road/none.

    reference is the named place the text starts from (for a road, the road); bearing is
    the 8-sector direction from it written in the text (for a road, the side 东/南/西/北),
    "" when none is written; distance_m is the exact distance to the reference (for a
    road, to its centre line), 0.0 for "none".
    """

    text: str
    kind: str
    reference: str
    bearing: str
    distance_m: float


@dataclass(frozen=True)
class Candidate:
    """One reading of a geocoded text: a WGS84 point, its canonical text, 0..1 score."""

    lon: float
    lat: float
    text: str
    kind: str
    score: float


# ------------------------------------------------------------------------- helpers


def bearing_name(dx: float, dy: float) -> str:
    """The 8-sector bearing (北, 东北, …) of the vector (dx east, dy north) in metres."""
    angle = math.degrees(math.atan2(dx, dy)) % 360.0
    return BEARINGS[int(((angle + 22.5) % 360.0) // 45.0)]


def _side_name(dx: float, dy: float) -> str:
    angle = math.degrees(math.atan2(dx, dy)) % 360.0
    return _SIDES[int(((angle + 45.0) % 360.0) // 90.0)]


def _unit(bearing: str) -> tuple[float, float]:
    theta = math.radians(45.0 * BEARINGS.index(bearing))
    return math.sin(theta), math.cos(theta)


def round_distance(distance_m: float) -> int:
    """The distance as written: 0 within 5 m (at the reference), else to 5 m below 50 m
    and to 10 m from 50 m, half up."""
    if distance_m <= AT_REFERENCE_M:
        return 0
    step = 5 if distance_m < 50.0 else 10
    return math.floor(distance_m / step + 0.5) * step


def _offset_text(bearing: str, distance_m: float) -> str:
    return f"{bearing}约{round_distance(distance_m)}米"


_NUMBER_JOINERS = re.compile(r"(?<=\d)[之~～–—―−](?=\d)")
_HASH_AFTER_NUMBER = re.compile(r"(?<=\d)#")
_WHITESPACE = re.compile(r"\s+")


def _normalise(text: str) -> str:
    s = unicodedata.normalize("NFKC", text)
    s = _WHITESPACE.sub("", s)
    s = s.replace("號", "号")
    s = _HASH_AFTER_NUMBER.sub("号", s)
    return _NUMBER_JOINERS.sub("-", s)


# One leading administrative unit: "江苏省", "徐州市", "云龙区", "沛县", "新疆维吾尔自治区".
_ADMIN_UNIT = re.compile(r"^[\u4e00-\u9fff]{1,9}?(?:自治区|省|市|区|县|旗)")
_MAX_ADMIN_UNITS = 3
_COORDINATES = re.compile(r"^\(?(-?\d{1,3}(?:\.\d+)?),(-?\d{1,2}(?:\.\d+)?)\)?$")
_SEPARATORS = ("与", "和", "、", "及", "/", "&", "跟")
_CROSSING_WORDS = ("十字路口", "丁字路口", "交叉路口", "交叉口", "路口", "交口")
_NUMBER = r"\d+(?:\.\d+)?"
_OFFSET = re.compile(
    r"^(?:处|附近|旁边|旁|门口)?"
    r"(?:(?P<bearing>东北|东南|西北|西南|东|南|西|北)(?:侧|方向|方|面|边|角)?)?"
    rf"(?:大约|约)?(?:(?P<distance>{_NUMBER})(?:米|m|公尺))?"
    r"(?:处|附近|左右)?$",
    re.IGNORECASE,
)
_DOORPLATE_TAIL = re.compile(r"^(?P<main>\d+)(?:-(?P<sub>\d+))?号(?P<rest>.*)$")
_ROAD_SIDE_TAIL = re.compile(
    r"^(?:(?P<side>东|西|南|北)侧)?"
    rf"(?:(?:大约|约)(?P<offset>{_NUMBER})(?:米|m))?"
    r"[,;]?"
    rf"(?:距离?(?P<other>.+?)(?:交叉口|路口)(?:大约|约)?(?P<along>{_NUMBER})(?:米|m)"
    r"|近(?P<near>.+?)(?:交叉口|路口))?"
    r"(?:附近)?$",
    re.IGNORECASE,
)
_PLATE_NUMBER = re.compile(r"^(\d+)(?:-(\d+))?$")


def _parse_offset(tail: str) -> tuple[str, float] | None:
    """(bearing, distance) of an offset tail, ("", 0.0) for none; None if not one."""
    m = _OFFSET.match(tail)
    if m is None:
        return None
    bearing = m.group("bearing") or ""
    distance = float(m.group("distance")) if m.group("distance") else 0.0
    if not bearing:
        # "约30米" without a direction says nothing about where: stay at the reference.
        distance = 0.0
    return bearing, distance


def _prefixes(text: str, names: Sequence[str]) -> Iterable[str]:
    """Known names that text starts with, longest first (names sorted so)."""
    return (n for n in names if text.startswith(n))


def _parts(geom: BaseGeometry) -> list[LineString]:
    return [p for p in shapely.get_parts(geom) if isinstance(p, LineString) and not p.is_empty]


# ----------------------------------------------------------------------- gazetteer


class Gazetteer:
    """Roads, doorplates, POIs and their intersections, indexed in metres.

    Build with :meth:`build`. Read-only once built: describe and geocode only query it.
    """

    def __init__(
        self,
        roads: Sequence[Road],
        doorplates: Sequence[Doorplate],
        pois: Sequence[Poi],
    ) -> None:
        self.roads = tuple(roads)
        self.doorplates = tuple(doorplates)
        self.pois = tuple(pois)
        self._validate()
        self.epsg = self._choose_epsg()

        # Roads merged by name, in order of first appearance.
        self._names: list[str] = []
        lines_by_name: dict[str, list[LineString]] = {}
        for road in self.roads:
            if road.name not in lines_by_name:
                self._names.append(road.name)
                lines_by_name[road.name] = []
            lines_by_name[road.name].extend(_parts(road.geometry))
        self._name_index = {name: i for i, name in enumerate(self._names)}
        merged_ll = [shapely.line_merge(MultiLineString(lines_by_name[n])) for n in self._names]
        self._road_xy: list[BaseGeometry] = (
            list(crs.to_projected(np.asarray(merged_ll, dtype=object), self.epsg)) if merged_ll else []
        )
        self._road_tree = shapely.STRtree(self._road_xy)
        part_geoms: list[LineString] = []
        part_names: list[int] = []
        for i, geom in enumerate(self._road_xy):
            for part in _parts(geom):
                part_geoms.append(part)
                part_names.append(i)
        self._part_xy = np.asarray(part_geoms, dtype=object)
        self._part_name = np.asarray(part_names, dtype=np.int64)
        self._part_tree = shapely.STRtree(self._part_xy)

        self._build_intersections()
        self._build_doorplates()
        self._build_pois()
        # Lookup lists, longest name first so the longest known prefix wins.
        self._norm_roads = {_normalise(n): n for n in self._names}
        self._road_keys = sorted(self._norm_roads, key=len, reverse=True)
        self._norm_pois: dict[str, list[int]] = {}
        for i, poi in enumerate(self.pois):
            self._norm_pois.setdefault(_normalise(poi.name), []).append(i)
        self._poi_keys = sorted(self._norm_pois, key=len, reverse=True)

    @classmethod
    def build(cls, roads: Sequence[Road], doorplates: Sequence[Doorplate] = (), pois: Sequence[Poi] = ()) -> Gazetteer:
        """Index roads (WGS84 centre lines), doorplates and POIs.

        Intersections are computed between differently named roads (roads ending within
        1 m of another count as meeting it); crossing points of the same two roads within
        15 m of each other are one intersection. Raises InvalidInput for an empty name,
        a non-linear road geometry or a non-finite coordinate.
        """
        return cls(roads, doorplates, pois)

    # ------------------------------------------------------------------ building

    def _validate(self) -> None:
        for road in self.roads:
            if not road.name.strip():
                raise InvalidInput("A road needs a name.", field="roads")
            geom = road.geometry
            if not isinstance(geom, LineString | MultiLineString) or geom.is_empty:
                raise InvalidInput(f"Road {road.name} needs a non-empty line geometry.", field="roads")
        for field_name, items in (("doorplates", self.doorplates), ("pois", self.pois)):
            for item in items:
                if not (math.isfinite(item.lon) and math.isfinite(item.lat)):
                    raise InvalidInput(f"{item} has a non-finite coordinate.", field=field_name)
        for poi in self.pois:
            if not poi.name.strip():
                raise InvalidInput("A POI needs a name.", field="pois")

    def _choose_epsg(self) -> int | None:
        lons = [x for r in self.roads for x in (r.geometry.bounds[0], r.geometry.bounds[2])]
        lons += [d.lon for d in self.doorplates] + [p.lon for p in self.pois]
        if not lons:
            return None
        return crs.utm_or_gk_crs_for((min(lons) + max(lons)) / 2.0)

    def _project(self, lon: Sequence[float] | FloatArray, lat: Sequence[float] | FloatArray) -> FloatArray:
        lon_a = np.asarray(lon, dtype=np.float64)
        if lon_a.size == 0 or self.epsg is None:
            return np.empty((0, 2))
        points = crs.to_projected(shapely.points(lon_a, np.asarray(lat, dtype=np.float64)), self.epsg)
        return shapely.get_coordinates(points)

    def _unproject(self, xy: FloatArray) -> FloatArray:
        if len(xy) == 0 or self.epsg is None:
            return np.empty((0, 2))
        return shapely.get_coordinates(crs.to_lonlat(shapely.points(xy), self.epsg))

    def _build_intersections(self) -> None:
        geoms = np.asarray(self._road_xy, dtype=object)
        found: dict[tuple[int, int], list[tuple[float, float]]] = {}
        if len(geoms) > 1:
            left, right = self._road_tree.query(geoms, predicate="dwithin", distance=_SNAP_M)
            keep = left < right
            left, right = left[keep], right[keep]
            crossings = shapely.intersection(geoms[left], geoms[right])
            for a, b, crossing in zip(left, right, crossings, strict=True):
                points: list[tuple[float, float]] = []
                for part in shapely.get_parts(crossing):
                    if isinstance(part, Point):
                        points.append((part.x, part.y))
                    elif isinstance(part, LineString):
                        # A shared stretch: the roads meet where they join and part.
                        points.extend(tuple(c) for c in shapely.get_coordinates(part.boundary))
                if not points:
                    # No exact contact: a road stopping just short of the other.
                    gap = shapely.shortest_line(geoms[a], geoms[b])
                    points.append(tuple(np.mean(shapely.get_coordinates(gap), axis=0)))
                found[(int(a), int(b))] = points

        xy: list[tuple[float, float]] = []
        pairs: list[tuple[int, int]] = []
        for pair in sorted(found):
            kept: list[tuple[float, float]] = []
            for p in sorted(found[pair]):
                if all(math.dist(p, q) >= INTERSECTION_DEDUPE_M for q in kept):
                    kept.append(p)
            for p in sorted(kept, key=lambda q: (q[0], q[1])):
                xy.append(p)
                pairs.append(pair)
        self._ix_xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        self._ix_pairs = pairs
        ll = self._unproject(self._ix_xy)
        self.intersections = tuple(
            Intersection((self._names[a], self._names[b]), float(lon), float(lat))
            for (a, b), (lon, lat) in zip(pairs, ll, strict=True)
        )
        self._ix_tree = shapely.STRtree(shapely.points(self._ix_xy)) if xy else None
        self._ix_by_pair: dict[frozenset[int], list[int]] = {}
        for i, (a, b) in enumerate(pairs):
            self._ix_by_pair.setdefault(frozenset((a, b)), []).append(i)
        # For each road part, the intersections on it and their position along it.
        self._ix_on_part: dict[int, list[tuple[int, float]]] = {}
        for i, (a, b) in enumerate(pairs):
            point = Point(self._ix_xy[i])
            for part in self._part_tree.query(point, predicate="dwithin", distance=_SNAP_M):
                if self._part_name[part] in (a, b):
                    along = float(shapely.line_locate_point(self._part_xy[part], point))
                    self._ix_on_part.setdefault(int(part), []).append((i, along))

    def _build_doorplates(self) -> None:
        self._dp_xy = self._project([d.lon for d in self.doorplates], [d.lat for d in self.doorplates])
        self._dp_tree = shapely.STRtree(shapely.points(self._dp_xy)) if len(self._dp_xy) else None
        # road (normalised) -> [(main number or -1, sub number or -1, normalised number, index)]
        self._dp_by_road: dict[str, list[tuple[int, int, str, int]]] = {}
        for i, plate in enumerate(self.doorplates):
            number = _normalise(plate.number).removesuffix("号")
            m = _PLATE_NUMBER.match(number)
            main = int(m.group(1)) if m else -1
            sub = int(m.group(2)) if m and m.group(2) else -1
            self._dp_by_road.setdefault(_normalise(plate.road), []).append((main, sub, number, i))

    def _build_pois(self) -> None:
        self._poi_xy = self._project([p.lon for p in self.pois], [p.lat for p in self.pois])
        self._poi_tree = shapely.STRtree(shapely.points(self._poi_xy)) if len(self._poi_xy) else None

    # ------------------------------------------------------------------ describe

    @staticmethod
    def _nearest(tree: shapely.STRtree | None, point: Point, max_distance: float) -> tuple[int, float] | None:
        if tree is None:
            return None
        idx, dist = tree.query_nearest(point, max_distance=max_distance, return_distance=True, all_matches=True)
        if idx.size == 0:
            return None
        best = float(dist.min())
        # Equidistant ties go to the lowest index, so the answer does not depend on the tree.
        return int(idx[dist <= best + 1e-9].min()), best

    def describe(self, lon: float, lat: float, *, district: str = "") -> Description:
        """Describe a WGS84 point by the rules in the module docstring."""
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise InvalidInput("The point needs finite coordinates.", field="lon")
        prefix = f"{district.strip()} " if district.strip() else ""
        if self.epsg is None:
            return self._none(lon, lat, prefix)
        x, y = self._project([lon], [lat])[0]
        point = Point(x, y)
        for attempt in (self._describe_intersection, self._describe_doorplate, self._describe_poi, self._describe_road):
            found = attempt(point)
            if found is not None:
                text, kind, reference, bearing, distance = found
                return Description(prefix + text, kind, reference, bearing, distance)
        return self._none(lon, lat, prefix)

    @staticmethod
    def _none(lon: float, lat: float, prefix: str) -> Description:
        return Description(f"{prefix}({lon:.6f}, {lat:.6f})", "none", "", "", 0.0)

    def _describe_intersection(self, point: Point) -> tuple[str, str, str, str, float] | None:
        hit = self._nearest(self._ix_tree, point, INTERSECTION_RADIUS_M)
        if hit is None:
            return None
        i, distance = hit
        a, b = self._ix_pairs[i]
        # The road the point is on (the nearer one) comes first.
        if shapely.distance(self._road_xy[b], point) < shapely.distance(self._road_xy[a], point):
            a, b = b, a
        reference = f"{self._names[a]}与{self._names[b]}交叉口"
        if round_distance(distance) == 0:
            return reference + "处", "intersection", reference, "", distance
        dx, dy = point.x - self._ix_xy[i, 0], point.y - self._ix_xy[i, 1]
        bearing = bearing_name(dx, dy)
        return reference + _offset_text(bearing, distance), "intersection", reference, bearing, distance

    def _describe_doorplate(self, point: Point) -> tuple[str, str, str, str, float] | None:
        hit = self._nearest(self._dp_tree, point, DOORPLATE_RADIUS_M)
        if hit is None:
            return None
        i, distance = hit
        plate = self.doorplates[i]
        reference = f"{plate.road}{plate.number}号"
        if distance <= DOORPLATE_NEAR_M:
            return reference + "附近", "doorplate", reference, "", distance
        bearing = bearing_name(point.x - self._dp_xy[i, 0], point.y - self._dp_xy[i, 1])
        return reference + _offset_text(bearing, distance), "doorplate", reference, bearing, distance

    def _describe_poi(self, point: Point) -> tuple[str, str, str, str, float] | None:
        hit = self._nearest(self._poi_tree, point, POI_RADIUS_M)
        if hit is None:
            return None
        i, distance = hit
        reference = self.pois[i].name
        if round_distance(distance) == 0:
            return reference + "附近", "poi", reference, "", distance
        bearing = bearing_name(point.x - self._poi_xy[i, 0], point.y - self._poi_xy[i, 1])
        return reference + _offset_text(bearing, distance), "poi", reference, bearing, distance

    def _describe_road(self, point: Point) -> tuple[str, str, str, str, float] | None:
        hit = self._nearest(self._part_tree, point, ROAD_RADIUS_M)
        if hit is None:
            return None
        part, distance = hit
        line = self._part_xy[part]
        name = self._names[self._part_name[part]]
        along = float(shapely.line_locate_point(line, point))
        foot = shapely.line_interpolate_point(line, along)
        side = ""
        text = name
        if distance > AT_REFERENCE_M:
            tx, ty = self._tangent(line, along)
            vx, vy = point.x - foot.x, point.y - foot.y
            # The normal on the point's side of the road's direction, as a compass side.
            nx, ny = (-ty, tx) if tx * vy - ty * vx > 0 else (ty, -tx)
            side = _side_name(nx, ny)
            text += f"{side}侧"
            if distance > ROAD_OFFSET_TEXT_M:
                text += f"约{round_distance(distance)}米"
        best: tuple[float, int] | None = None
        for ix, ix_along in self._ix_on_part.get(part, []):
            gap = abs(ix_along - along)
            if gap <= ROAD_INTERSECTION_RADIUS_M and (best is None or gap < best[0]):
                best = (gap, ix)
        if best is not None:
            gap, ix = best
            a, b = self._ix_pairs[ix]
            other = self._names[b] if self._names[a] == name else self._names[a]
            if round_distance(gap) == 0:
                text += f"，近{other}交叉口"
            else:
                text += f"，距{other}交叉口约{round_distance(gap)}米"
        return text, "road", name, side, distance

    @staticmethod
    def _tangent(line: LineString, along: float) -> tuple[float, float]:
        length = line.length
        lo = shapely.line_interpolate_point(line, max(0.0, along - 0.5))
        hi = shapely.line_interpolate_point(line, min(length, along + 0.5))
        dx, dy = hi.x - lo.x, hi.y - lo.y
        norm = math.hypot(dx, dy) or 1.0
        return dx / norm, dy / norm

    # ------------------------------------------------------------------- geocode

    def geocode(self, text: str, *, limit: int = 5) -> list[Candidate]:
        """Candidate points for an address text, best first (see the module docstring).

        Unknown or empty text gives []. limit caps the number of candidates.
        """
        s = _normalise(text)
        if not s or limit <= 0:
            return []
        # The text as written, then with up to three leading 省/市/区/县 units removed
        # ("徐州市云龙区彭城路…"). A name starting like one ("徐州市第一人民医院") is
        # found in the text as written.
        variants = [s]
        for _ in range(_MAX_ADMIN_UNITS):
            unit = _ADMIN_UNIT.match(variants[-1])
            if unit is None or unit.end() == len(variants[-1]):
                break
            variants.append(variants[-1][unit.end() :])
        coordinates: list[Candidate] = []
        for variant in variants:
            m = _COORDINATES.match(variant)
            if m:
                lon, lat = float(m.group(1)), float(m.group(2))
                if -180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0:
                    coordinates.append(Candidate(lon, lat, f"({lon:.6f}, {lat:.6f})", "coordinate", SCORE_COORDINATE))
        found: list[tuple[float, float, str, str, float]] = []  # x, y, canonical text, kind, score
        if self.epsg is not None and not coordinates:
            for variant in variants:
                found.extend(self._parse(variant))
            if not found:
                # Only when nothing reads exactly: POI names partly matching the text.
                for variant in variants:
                    found.extend(self._parse_poi_partial(variant))
        candidates = coordinates + self._to_candidates(found)
        candidates.sort(key=lambda c: -c.score)
        return candidates[:limit]

    def _to_candidates(self, found: list[tuple[float, float, str, str, float]]) -> list[Candidate]:
        if not found:
            return []
        # Best score first; the same reading reached twice (e.g. with and without a
        # stripped district) is kept once.
        found = sorted(found, key=lambda f: -f[4])
        kept: list[tuple[float, float, str, str, float]] = []
        for item in found:
            if not any(k[2] == item[2] and math.hypot(k[0] - item[0], k[1] - item[1]) < 1.0 for k in kept):
                kept.append(item)
        ll = self._unproject(np.asarray([(k[0], k[1]) for k in kept], dtype=np.float64))
        return [
            Candidate(float(lon), float(lat), text, kind, round(score, 3))
            for (lon, lat), (_, _, text, kind, score) in zip(ll, kept, strict=True)
        ]

    def _parse(self, s: str) -> list[tuple[float, float, str, str, float]]:
        found = self._parse_intersection(s)
        found += self._parse_doorplate(s)
        found += self._parse_road(s)
        found += self._parse_poi(s)
        return found

    @staticmethod
    def _offset(x: float, y: float, bearing: str, distance: float) -> tuple[float, float]:
        if not bearing or distance <= 0:
            return x, y
        ux, uy = _unit(bearing)
        return x + distance * ux, y + distance * uy

    @staticmethod
    def _with_offset(reference: str, bearing: str, distance: float, at_suffix: str) -> str:
        if bearing and distance > 0:
            return reference + _offset_text(bearing, distance)
        return reference + at_suffix

    def _parse_intersection(self, s: str) -> list[tuple[float, float, str, str, float]]:
        out: list[tuple[float, float, str, str, float]] = []
        for a_key in _prefixes(s, self._road_keys):
            rest = s[len(a_key) :]
            sep = next((p for p in _SEPARATORS if rest.startswith(p)), None)
            if sep is None:
                continue
            rest = rest[len(sep) :]
            for b_key in _prefixes(rest, self._road_keys):
                tail = rest[len(b_key) :]
                word = next((w for w in _CROSSING_WORDS if tail.startswith(w)), None)
                if word is None:
                    continue
                offset = _parse_offset(tail[len(word) :])
                if offset is None:
                    continue
                a = self._name_index[self._norm_roads[a_key]]
                b = self._name_index[self._norm_roads[b_key]]
                hits = self._ix_by_pair.get(frozenset((a, b)), [])
                bearing, distance = offset
                score = SCORE_INTERSECTION - (_OFFSET_PENALTY if bearing else 0.0)
                score -= _AMBIGUITY_PENALTY if len(hits) > 1 else 0.0
                reference = f"{self._names[a]}与{self._names[b]}交叉口"
                text = self._with_offset(reference, bearing, distance, "")
                for i in hits:
                    x, y = self._offset(self._ix_xy[i, 0], self._ix_xy[i, 1], bearing, distance)
                    out.append((x, y, text, "intersection", score))
        return out

    def _parse_doorplate(self, s: str) -> list[tuple[float, float, str, str, float]]:
        out: list[tuple[float, float, str, str, float]] = []
        for road_key in _prefixes(s, self._road_keys):
            m = _DOORPLATE_TAIL.match(s[len(road_key) :])
            if m is None:
                continue
            offset = _parse_offset(m.group("rest"))
            plates = self._dp_by_road.get(road_key)
            if offset is None or not plates:
                continue
            main = int(m.group("main"))
            sub = int(m.group("sub")) if m.group("sub") else -1
            number = f"{main}" if sub < 0 else f"{main}-{sub}"
            located = self._locate_number(plates, main, sub, number)
            if located is None:
                continue
            (x, y), score = located
            bearing, distance = offset
            if bearing:
                score -= _OFFSET_PENALTY
            x, y = self._offset(x, y, bearing, distance)
            reference = f"{self._norm_roads[road_key]}{number}号"
            out.append((x, y, self._with_offset(reference, bearing, distance, ""), "doorplate", score))
        return out

    def _locate_number(
        self, plates: list[tuple[int, int, str, int]], main: int, sub: int, number: str
    ) -> tuple[tuple[float, float], float] | None:
        exact = [p for p in plates if p[2] == number or (p[0] == main and p[1] == sub)]
        if exact:
            i = exact[0][3]
            return (float(self._dp_xy[i, 0]), float(self._dp_xy[i, 1])), SCORE_DOORPLATE
        same_main = [p for p in plates if p[0] == main]
        if same_main:
            i = min(same_main, key=lambda p: p[1])[3]
            return (float(self._dp_xy[i, 0]), float(self._dp_xy[i, 1])), SCORE_DOORPLATE_MAIN
        numbered = [p for p in plates if p[0] >= 0 and p[1] < 0] or [p for p in plates if p[0] >= 0]
        if not numbered:
            return None
        for pool, score in (
            ([p for p in numbered if p[0] % 2 == main % 2], SCORE_DOORPLATE_SAME_PARITY),
            (numbered, SCORE_DOORPLATE_ANY_PARITY),
        ):
            lower = [p for p in pool if p[0] < main]
            upper = [p for p in pool if p[0] > main]
            if lower and upper:
                lo = max(lower, key=lambda p: p[0])
                hi = min(upper, key=lambda p: p[0])
                t = (main - lo[0]) / (hi[0] - lo[0])
                xy = (1.0 - t) * self._dp_xy[lo[3]] + t * self._dp_xy[hi[3]]
                return (float(xy[0]), float(xy[1])), score
        nearest = min(numbered, key=lambda p: (abs(p[0] - main), p[0]))
        return (float(self._dp_xy[nearest[3], 0]), float(self._dp_xy[nearest[3], 1])), SCORE_DOORPLATE_NEAREST

    def _parse_road(self, s: str) -> list[tuple[float, float, str, str, float]]:
        out: list[tuple[float, float, str, str, float]] = []
        for road_key in _prefixes(s, self._road_keys):
            name = self._norm_roads[road_key]
            r = self._name_index[name]
            tail = s[len(road_key) :]
            if tail in ("", "附近", "沿线", "上"):
                mid = shapely.line_interpolate_point(self._road_xy[r], 0.5, normalized=True)
                out.append((mid.x, mid.y, name, "road", SCORE_ROAD))
                continue
            m = _ROAD_SIDE_TAIL.match(tail)
            if m is None or not (m.group("side") or m.group("other") or m.group("near")):
                continue
            out.extend(self._road_side(r, m))
        return out

    def _road_side(self, r: int, m: re.Match[str]) -> list[tuple[float, float, str, str, float]]:
        name = self._names[r]
        side = m.group("side") or ""
        offset = float(m.group("offset")) if m.group("offset") else (_DEFAULT_SIDE_OFFSET_M if side else 0.0)
        other_text = m.group("other") or m.group("near")
        along = float(m.group("along")) if m.group("along") else 0.0
        text = name + (f"{side}侧" if side else "")
        if m.group("offset"):
            text += f"约{round_distance(offset)}米"
        # (part, position along it) candidates for the foot point on the road.
        feet: list[tuple[int, float]] = []
        if other_text:
            other_name = self._norm_roads.get(other_text)
            if other_name is None:
                return []
            text += f"，距{other_name}交叉口约{round_distance(along)}米" if along > 0 else f"，近{other_name}交叉口"
            pair = frozenset((r, self._name_index[other_name]))
            for part, on_part in self._ix_on_part.items():
                for ix, ix_along in on_part:
                    if self._part_name[part] == r and frozenset(self._ix_pairs[ix]) == pair:
                        length = self._part_xy[part].length
                        for pos in {ix_along - along, ix_along + along}:
                            # Allow the rounding slack past the ends of the road.
                            if -10.0 <= pos <= length + 10.0:
                                feet.append((part, min(max(pos, 0.0), length)))
        else:
            parts = np.flatnonzero(self._part_name == r)
            longest = int(parts[np.argmax(shapely.length(self._part_xy[parts]))])
            feet.append((longest, self._part_xy[longest].length / 2.0))
        if not feet:
            return []
        score = SCORE_ROAD_SIDE if other_text else SCORE_ROAD
        if len(feet) == 1 and other_text:
            score += _AMBIGUITY_PENALTY
        out: list[tuple[float, float, str, str, float]] = []
        for part, pos in feet:
            line = self._part_xy[part]
            foot = shapely.line_interpolate_point(line, pos)
            x, y = foot.x, foot.y
            if side and offset > 0:
                tx, ty = self._tangent(line, pos)
                for nx, ny in ((-ty, tx), (ty, -tx)):
                    if _side_name(nx, ny) == side:
                        x, y = x + offset * nx, y + offset * ny
                        break
            out.append((x, y, text, "road", score))
        return out

    def _parse_poi(self, s: str) -> list[tuple[float, float, str, str, float]]:
        out: list[tuple[float, float, str, str, float]] = []
        for key in _prefixes(s, self._poi_keys):
            offset = _parse_offset(s[len(key) :])
            if offset is None:
                continue
            bearing, distance = offset
            score = SCORE_POI - (_OFFSET_PENALTY if bearing else 0.0)
            hits = self._norm_pois[key]
            score -= _AMBIGUITY_PENALTY if len(hits) > 1 else 0.0
            for i in hits:
                x, y = self._offset(self._poi_xy[i, 0], self._poi_xy[i, 1], bearing, distance)
                text = self._with_offset(self.pois[i].name, bearing, distance, "")
                out.append((x, y, text, "poi", score))
        return out

    def _parse_poi_partial(self, s: str) -> list[tuple[float, float, str, str, float]]:
        # "云龙公园东约30米" for "云龙公园南门" and the other way round: the longest
        # offset tail is split off, the rest compared with the POI names.
        core, bearing, distance = s, "", 0.0
        for i in range(1, len(s)):
            offset = _parse_offset(s[i:])
            if offset is not None:
                core, (bearing, distance) = s[:i], offset
                break
        out: list[tuple[float, float, str, str, float]] = []
        if len(core) < 2:
            return out
        for key, hits in self._norm_pois.items():
            if core in key or key in core:
                score = SCORE_POI_PARTIAL * min(len(core), len(key)) / max(len(core), len(key))
                for i in hits:
                    x, y = self._offset(self._poi_xy[i, 0], self._poi_xy[i, 1], bearing, distance)
                    text = self._with_offset(self.pois[i].name, bearing, distance, "")
                    out.append((x, y, text, "poi", score))
        return out
