"""Read GIS files into validated WGS84 lon/lat features.

The importers of unit grids, components and gazetteer entries all start the same way:
a user uploads a file exported from some GIS, and CityKeeper must turn it into
Shapely geometries in WGS84 lon/lat, or tell the user precisely what is wrong with it.
This module does that for three formats:

* **GeoJSON** (``.geojson``/``.json``): a FeatureCollection, a Feature or a bare geometry.
  A legacy top-level ``"crs"`` member (``urn:ogc:def:crs:EPSG::4490``) is honoured.
* **ESRI Shapefile** (``.shp`` with ``.shx`` and ``.dbf``, optional ``.prj`` and ``.cpg``),
  read with the pure-Python ``pyshp``. The ``.prj`` declares the CRS (identified with
  pyproj); the ``.cpg`` names the attribute encoding, otherwise UTF-8 then GBK is tried.
* **CSV** (UTF-8 with or without BOM, or GBK) with a WKT column, or lon/lat columns for
  points. A PostGIS ``SRID=nnnn;`` prefix on the WKT declares the CRS.

The source coordinate system must be *declared*, by the file or by the caller: a plain
lon/lat file from China is as likely GCJ-02 (AMap, Tencent) as WGS84, and guessing
wrong moves everything by a few hundred metres without anyone noticing.

Every problem found is collected (up to ``MAX_PROBLEMS``) and reported together in one
``ReadError``, each naming the file and the feature (or CSV spreadsheet row): a reader
returns all features or raises, never a partial result. Geometries are built and
converted in vectorised Shapely/numpy calls, so 100,000 features read in seconds.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import itertools
import json
import os
import re
import struct
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import shapefile
import shapely
from numpy.typing import NDArray
from pyproj.exceptions import CRSError
from shapely.errors import GEOSException
from shapely.geometry import shape as geojson_shape
from shapely.geometry.base import BaseGeometry

from citykeeper.domain.errors import InvalidInput
from citykeeper.spatial import crs as crs_mod

__all__ = [
    "ACCEPTED_CRS",
    "CHINA_EXTENT",
    "GEOMETRY_KINDS",
    "MAX_PROBLEMS",
    "Feature",
    "Problem",
    "ReadError",
    "SourceCRS",
    "read_features",
]

GEOMETRY_KINDS = ("point", "line", "polygon")

# (min lon, min lat, max lon, max lat) every geographic coordinate must fall in. Wider
# than the land (it includes the South China Sea up to 3N and e.g. Seoul): deciding
# whether a point is in *the city* is the importer's job, this only catches numbers
# that cannot be Chinese lon/lat at all (swapped axes, metres, wrong sign...).
CHINA_EXTENT = (73.0, 3.0, 136.0, 54.0)

# Problems kept in a ReadError (the total is still counted and reported).
MAX_PROBLEMS = 200
# Problems quoted in the ReadError's message.
_SUMMARY_PROBLEMS = 5

ACCEPTED_CRS = (
    "wgs84 (= EPSG:4326, GPS), cgcs2000 (= EPSG:4490), gcj02 (AMap/Gaode, Tencent), bd09 (Baidu), "
    "EPSG:4513 to EPSG:4533 (CGCS2000 3-degree Gauss-Krüger zones 25 to 45, eastings with the zone prefix), "
    "EPSG:4534 to EPSG:4554 (CGCS2000 3-degree Gauss-Krüger central meridians 75E to 135E, eastings without "
    "the zone prefix) or cgcs2000-gk3:<central meridian>, e.g. cgcs2000-gk3:117"
)

# CGCS2000 3-degree Gauss-Krüger EPSG codes. "zone n" variants (easting = n * 1e6 +
# 500 km) are 4513 (zone 25, CM 75E) .. 4533 (zone 45, CM 135E): code = 4488 + zone.
# "CM nnnE" variants (easting = 500 km, no prefix) are crs.GK_CM_EPSG: 4534 .. 4554.
_GK_ZONE_EPSG_OFFSET = 4488
_GK_ZONES = range(25, 46)
_GK_CM_BY_EPSG = {epsg: cm for cm, epsg in crs_mod.GK_CM_EPSG.items()}
# The CGCS2000 *6-degree* "CM nnnE" codes 4502 (CM 75E) .. 4512 (CM 135E) have exactly
# the parameters of the 3-degree CM code with the same meridian (Transverse Mercator,
# scale 1, false easting 500 km): pyproj even identifies some 3-degree .prj files as
# them. They are accepted as that 3-degree code.
_GK6_CM_EPSG = {4502 + i: crs_mod.GK_CM_EPSG[75 + 6 * i] for i in range(11)}
# Plausible Gauss-Krüger metres for China: eastings within 400 km of the 500 km false
# easting (a zone is +-1.5 degrees, ~167 km at the equator; data spilling into the
# neighbour zone stays well inside), northings from 3N (~330 km) to 54N (~5,990 km).
_GK_FALSE_EASTING = 500_000.0
_GK_EASTING_SPREAD = 400_000.0
_GK_NORTHING_RANGE = (250_000.0, 6_200_000.0)
_ZONE_PREFIX_UNIT = 1_000_000.0

_NAME_ALIASES = {
    "wgs84": "wgs84",
    "wgs-84": "wgs84",
    "wgs_84": "wgs84",
    "epsg:4326": "wgs84",
    "crs84": "wgs84",
    "urn:ogc:def:crs:ogc:1.3:crs84": "wgs84",
    "urn:ogc:def:crs:ogc::crs84": "wgs84",
    "http://www.opengis.net/def/crs/ogc/1.3/crs84": "wgs84",
    "cgcs2000": "cgcs2000",
    "epsg:4490": "cgcs2000",
    "gcj02": "gcj02",
    "gcj-02": "gcj02",
    "bd09": "bd09",
    "bd-09": "bd09",
}
_EPSG_FORMS = (
    re.compile(r"epsg:(\d+)"),
    re.compile(r"urn:ogc:def:crs:epsg:[\d.]*:(\d+)"),
    re.compile(r"https?://www\.opengis\.net/def/crs/epsg/[\d.]+/(\d+)"),
)
_GK3_FRIENDLY = re.compile(r"cgcs2000-gk3:(\d+)e?")

_GEOJSON_SUFFIXES = (".geojson", ".json")
_GEOJSON_GEOMETRY_TYPES = frozenset(
    {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon", "GeometryCollection"}
)
_WKT_COLUMNS = ("wkt", "geometry", "geom", "几何")
_LON_COLUMNS = ("lon", "lng", "longitude", "x", "经度")
_LAT_COLUMNS = ("lat", "latitude", "y", "纬度")
_EWKT_SRID = re.compile(r"\s*srid\s*=\s*(\d+)\s*;", re.IGNORECASE)
# GB18030 is a superset of GBK (and GB2312) that decodes everything they encode.
_GBK = "gb18030"

# Shapely geometry type ids -> our kinds (GeometryCollection, 7, is refused).
_KIND_BY_TYPE_ID = {0: "point", 1: "line", 2: "line", 3: "polygon", 4: "point", 5: "line", 6: "polygon"}
_TYPE_ID_LINEARRING = 2
_TYPE_ID_MULTIPOINT = 4
_TYPE_ID_COLLECTION = 7

_SHP_POINT = frozenset({shapefile.POINT, shapefile.POINTM, shapefile.POINTZ})
_SHP_MULTIPOINT = frozenset({shapefile.MULTIPOINT, shapefile.MULTIPOINTM, shapefile.MULTIPOINTZ})
_SHP_LINE = frozenset({shapefile.POLYLINE, shapefile.POLYLINEM, shapefile.POLYLINEZ})
_SHP_POLYGON = frozenset({shapefile.POLYGON, shapefile.POLYGONM, shapefile.POLYGONZ})

FloatArray = NDArray[np.float64]


# --------------------------------------------------------------------------- types


@dataclass(frozen=True)
class Feature:
    """One feature read from a file, ready for an importer.

    number is the 1-based feature number in the file (for CSV the spreadsheet row,
    the header being row 1), so messages can point the user at it. properties holds
    the attribute values under the file's own (str) keys. geometry is WGS84 lon/lat.
    """

    number: int
    properties: dict[str, Any]
    geometry: BaseGeometry


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file: where (file, feature or row number) and why.

    number is None for problems with the whole file. field names the column or
    setting concerned ("crs", "geometry", a CSV column...), when there is one.
    """

    file: str
    number: int | None
    reason: str
    field: str | None = None

    def __str__(self) -> str:
        if self.number is None:
            return f"{self.file}: {self.reason}"
        unit = "row" if self.file.lower().endswith(".csv") else "feature"
        return f"{self.file} {unit} {self.number}: {self.reason}"


class ReadError(InvalidInput):
    """A file could not be read; problems lists what is wrong, feature by feature.

    problems holds at most MAX_PROBLEMS entries; total counts all that were found. The
    message quotes the first few and the total.
    """

    def __init__(self, problems: Sequence[Problem]) -> None:
        ordered = sorted(problems, key=lambda p: (p.number is not None, p.number or 0))
        total = len(ordered)
        quoted = "; ".join(str(p) for p in ordered[:_SUMMARY_PROBLEMS])
        files = sorted({p.file for p in ordered})
        noun = "problem" if total == 1 else "problems"
        message = f"{', '.join(files)} could not be read ({total} {noun}): {quoted}"
        if total > _SUMMARY_PROBLEMS:
            message += f"; and {total - _SUMMARY_PROBLEMS} more"
        fields = {p.field for p in ordered}
        first_field = ordered[0].field if ordered else None
        super().__init__(message, field=first_field if len(fields) == 1 else "file", count=total)
        self.problems: list[Problem] = ordered[:MAX_PROBLEMS]
        self.total = total
        # How many problems were found beyond the ones kept in problems.
        self.more = total - len(self.problems)

    def as_dict(self) -> dict[str, object]:
        body = super().as_dict()
        body["problems"] = [
            {"file": p.file, "number": p.number, "reason": p.reason, "field": p.field} for p in self.problems
        ]
        body["problem_count"] = self.total
        return body


@dataclass(frozen=True)
class SourceCRS:
    """The coordinate system a file's coordinates are in.

    name is canonical: "wgs84", "cgcs2000", "gcj02", "bd09" or "EPSG:45xx" for the
    CGCS2000 3-degree Gauss-Krüger projections; epsg is set for the projected ones.
    """

    name: str
    epsg: int | None

    @classmethod
    def parse(cls, text: str) -> SourceCRS:
        """The SourceCRS a declaration names, case-insensitively.

        Accepts wgs84 / EPSG:4326, cgcs2000 / EPSG:4490, gcj02, bd09, EPSG:4513..4554
        and cgcs2000-gk3:<central meridian>, plus the OGC URN/URL spellings of EPSG
        codes and CRS84 found in GeoJSON files. Raises InvalidInput(field="crs") listing
        the accepted values for anything else.
        """
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput(f"No coordinate system given; accepted: {ACCEPTED_CRS}.", field="crs")
        key = re.sub(r"\s+", "", text.strip().lower())
        if key in _NAME_ALIASES:
            return cls(_NAME_ALIASES[key], None)
        friendly = _GK3_FRIENDLY.fullmatch(key)
        if friendly:
            cm = int(friendly.group(1))
            if cm not in crs_mod.GK_CM_EPSG:
                raise InvalidInput(
                    f"{text!r}: the central meridian of a CGCS2000 3-degree Gauss-Krüger zone is a multiple "
                    f"of 3 from 75 to 135; accepted: {ACCEPTED_CRS}.",
                    field="crs",
                )
            return cls(f"EPSG:{crs_mod.GK_CM_EPSG[cm]}", crs_mod.GK_CM_EPSG[cm])
        for form in _EPSG_FORMS:
            match = form.fullmatch(key)
            if match:
                return cls._from_epsg(int(match.group(1)), text)
        raise InvalidInput(f"Unknown coordinate system {text!r}; accepted: {ACCEPTED_CRS}.", field="crs")

    @classmethod
    def _from_epsg(cls, code: int, text: str) -> SourceCRS:
        if code == 4326:
            return cls("wgs84", None)
        if code == 4490:
            return cls("cgcs2000", None)
        code = _GK6_CM_EPSG.get(code, code)
        if code in _GK_CM_BY_EPSG or code - _GK_ZONE_EPSG_OFFSET in _GK_ZONES:
            return cls(f"EPSG:{code}", code)
        raise InvalidInput(f"Coordinate system {text!r} is not supported; accepted: {ACCEPTED_CRS}.", field="crs")

    @property
    def is_projected(self) -> bool:
        """True for the Gauss-Krüger projections (coordinates in metres)."""
        return self.epsg is not None

    @property
    def central_meridian(self) -> int | None:
        """Central meridian (degrees east) of a Gauss-Krüger CRS, None for lon/lat ones."""
        if self.epsg is None:
            return None
        zone = self.zone
        return 3 * zone if zone is not None else _GK_CM_BY_EPSG[self.epsg]

    @property
    def zone(self) -> int | None:
        """Zone number prefixed to the eastings (EPSG:4513..4533), else None."""
        if self.epsg is None or self.epsg in _GK_CM_BY_EPSG:
            return None
        return self.epsg - _GK_ZONE_EPSG_OFFSET

    def describe(self) -> str:
        """A human-readable name, e.g. "EPSG:4548 (CGCS2000 3-degree Gauss-Krüger CM 117E)"."""
        if self.epsg is None:
            return {
                "wgs84": "wgs84 (EPSG:4326)",
                "cgcs2000": "cgcs2000 (EPSG:4490)",
                "gcj02": "gcj02 (AMap/Tencent)",
                "bd09": "bd09 (Baidu)",
            }[self.name]
        if self.zone is not None:
            return f"{self.name} (CGCS2000 3-degree Gauss-Krüger zone {self.zone}, eastings with the zone prefix)"
        return f"{self.name} (CGCS2000 3-degree Gauss-Krüger CM {self.central_meridian}E)"

    def same_as(self, other: SourceCRS) -> bool:
        """True when both declarations give the same coordinates (wgs84 == cgcs2000)."""
        return _numeric_identity(self) == _numeric_identity(other)

    def to_wgs84(self, geom: BaseGeometry) -> BaseGeometry:
        """geom (in this CRS) converted to WGS84 lon/lat. Also takes a numpy array of geometries."""
        if self.name in ("wgs84", "cgcs2000"):
            # CGCS2000 and WGS84 (G1762) differ by a few centimetres, far below the
            # accuracy of anything a city platform draws: CGCS2000 lon/lat is used as is.
            return geom
        if self.name == "gcj02":
            return crs_mod.transform_geometry(geom, crs_mod.gcj02_to_wgs84)
        if self.name == "bd09":
            return crs_mod.transform_geometry(geom, crs_mod.bd09_to_wgs84)
        assert self.epsg is not None
        return crs_mod.to_lonlat(geom, self.epsg)


def _numeric_identity(src: SourceCRS) -> str:
    return "wgs84" if src.name == "cgcs2000" else src.name


# ---------------------------------------------------------------------- raw sources


class _Problems:
    """Collects the problems of one file."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.items: list[Problem] = []

    def add(self, number: int | None, reason: str, field: str | None = None) -> None:
        self.items.append(Problem(self.file, number, reason, field))

    def raise_if_any(self) -> None:
        if self.items:
            raise ReadError(self.items)


@dataclass
class _Source:
    """What a format reader hands to the common validation: parallel lists per feature."""

    problems: _Problems
    numbers: list[int] = field(default_factory=list)
    properties: list[dict[str, Any]] = field(default_factory=list)
    # None where the feature has no geometry (reason in geometry_errors if it was broken).
    geometries: NDArray[Any] = field(default_factory=lambda: np.empty(0, dtype=object))
    geometry_errors: dict[int, str] = field(default_factory=dict)
    declared: SourceCRS | None = None
    declared_by: str = ""


class _GeometryBuilder:
    """Builds many geometries with a few vectorised Shapely calls.

    Simple geometries (a point, one line, a polygon without holes) are collected as
    coordinate sequences and built per kind in one call; anything else, and any batch
    that fails (malformed input), falls back to a per-feature constructor whose
    exception becomes that feature's problem.
    """

    def __init__(self, size: int, error_prefix: str) -> None:
        self._error_prefix = error_prefix
        self.geometries: NDArray[Any] = np.full(size, None, dtype=object)
        self.errors: dict[int, str] = {}
        self._simple: dict[str, tuple[list[int], list[Any]]] = {k: ([], []) for k in GEOMETRY_KINDS}
        self._fallback: dict[int, Callable[[], BaseGeometry]] = {}

    def add_simple(self, slot: int, kind: str, coords: Any, fallback: Callable[[], BaseGeometry]) -> None:
        slots, seqs = self._simple[kind]
        slots.append(slot)
        seqs.append(coords)
        self._fallback[slot] = fallback

    def add_other(self, slot: int, fallback: Callable[[], BaseGeometry]) -> None:
        self._fallback[slot] = fallback
        self._build_one(slot)

    def build(self) -> tuple[NDArray[Any], dict[int, str]]:
        for kind, (slots, seqs) in self._simple.items():
            if not slots:
                continue
            try:
                built = _build_simple(kind, seqs)
            except (ValueError, TypeError, IndexError, GEOSException):
                for slot in slots:
                    self._build_one(slot)
            else:
                self.geometries[np.asarray(slots)] = built
        return self.geometries, self.errors

    def _build_one(self, slot: int) -> None:
        try:
            self.geometries[slot] = self._fallback[slot]()
        except (ValueError, TypeError, IndexError, KeyError, AttributeError, GEOSException) as exc:
            self.errors[slot] = f"{self._error_prefix}: {exc}"


def _numbers(positions: list[Any]) -> FloatArray:
    """positions as an (n, 2+) float array; ValueError unless they are all numbers."""
    array = np.asarray(positions)
    # No dtype=float above: it would silently turn strings like "117.1" into numbers.
    if array.dtype.kind not in "iuf" or array.ndim != 2 or array.shape[1] < 2:
        raise ValueError("coordinates must be pairs of numbers")
    return array.astype(np.float64, copy=False)


def _build_simple(kind: str, seqs: list[Any]) -> NDArray[Any]:
    if kind == "point":
        return shapely.points(_numbers(seqs)[:, :2])
    lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    # The batch constructors would pad short rings and lines; the per-feature ones
    # refuse them with a reason, so leave those to the fallback.
    if len(lengths) and lengths.min() < (4 if kind == "polygon" else 2):
        raise ValueError("too few coordinates")
    flat = _numbers(list(itertools.chain.from_iterable(seqs)))
    indices = np.repeat(np.arange(len(seqs)), lengths)
    if kind == "line":
        return shapely.linestrings(flat[:, :2], indices=indices)
    return shapely.polygons(shapely.linearrings(flat[:, :2], indices=indices))


# ------------------------------------------------------------------------- GeoJSON


def _decode_text(data: bytes, encoding: str | None, problems: _Problems) -> str | None:
    """Text of a file: the given encoding, else UTF-8 (BOM optional), else GBK."""
    if encoding is not None:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as exc:
            problems.add(None, f"is not valid {encoding} text ({exc.reason} at byte {exc.start})", "encoding")
            return None
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode(_GBK)
    except UnicodeDecodeError:
        problems.add(None, "is neither UTF-8 nor GBK text; pass the file's encoding", "encoding")
        return None


def _read_geojson(path: Path, encoding: str | None) -> _Source:
    problems = _Problems(path.name)
    source = _Source(problems)
    text = _decode_text(path.read_bytes(), encoding, problems)
    if text is None:
        return source
    if not text.strip():
        problems.add(None, "the file is empty")
        return source
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        problems.add(None, f"is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}")
        return source
    kind = doc.get("type") if isinstance(doc, dict) else None
    if kind == "FeatureCollection":
        features = doc.get("features")
        if not isinstance(features, list):
            problems.add(None, 'is a FeatureCollection without a "features" list')
            return source
    elif kind == "Feature":
        features = [doc]
    elif kind in _GEOJSON_GEOMETRY_TYPES:
        features = [{"type": "Feature", "properties": {}, "geometry": doc}]
    else:
        found = f"type {kind!r}" if kind is not None else f"a JSON {type(doc).__name__} without a GeoJSON type"
        problems.add(None, f"is not GeoJSON: expected a FeatureCollection, a Feature or a geometry, found {found}")
        return source

    if isinstance(doc, dict) and doc.get("crs") is not None:
        source.declared_by = f'the "crs" member of {path.name}'
        source.declared = _geojson_crs(doc["crs"], problems)

    builder = _GeometryBuilder(len(features), "geometry is not valid GeoJSON")
    for slot, feature in enumerate(features):
        number = slot + 1
        source.numbers.append(number)
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            problems.add(number, "is not a GeoJSON Feature object")
            source.properties.append({})
            continue
        props = feature.get("properties")
        if props is not None and not isinstance(props, dict):
            problems.add(number, '"properties" is not an object', "properties")
        source.properties.append(dict(props) if isinstance(props, dict) else {})
        geometry = feature.get("geometry")
        if geometry is None:
            continue
        _add_geojson_geometry(builder, slot, geometry)
    source.geometries, source.geometry_errors = builder.build()
    return source


def _add_geojson_geometry(builder: _GeometryBuilder, slot: int, geometry: Any) -> None:
    def fallback() -> BaseGeometry:
        if not isinstance(geometry, dict):
            raise TypeError("it is not an object")
        if geometry.get("type") not in _GEOJSON_GEOMETRY_TYPES:
            raise ValueError(f"unknown geometry type {geometry.get('type')!r}")
        if geometry["type"] != "GeometryCollection":
            _check_positions(geometry.get("coordinates"))
        return geojson_shape(geometry)

    gtype = geometry.get("type") if isinstance(geometry, dict) else None
    coords = geometry.get("coordinates") if isinstance(geometry, dict) else None
    if not isinstance(coords, list) or not coords:
        builder.add_other(slot, fallback)
    elif gtype == "Point":
        builder.add_simple(slot, "point", coords, fallback)
    elif gtype == "LineString":
        builder.add_simple(slot, "line", coords, fallback)
    elif gtype == "Polygon" and len(coords) == 1 and isinstance(coords[0], list):
        builder.add_simple(slot, "polygon", coords[0], fallback)
    else:
        builder.add_other(slot, fallback)


def _check_positions(coords: Any) -> None:
    """Raise ValueError unless coords is nested lists of positions of 2 or 3 numbers."""
    if not isinstance(coords, list):
        raise ValueError(f"coordinates must be arrays of numbers, found {json.dumps(coords)[:40]}")
    if coords and not isinstance(coords[0], list):  # a position
        if not 2 <= len(coords) <= 4 or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in coords):
            raise ValueError(f"a position must be 2 or 3 numbers, found {json.dumps(coords)[:40]}")
        return
    for item in coords:
        _check_positions(item)


def _geojson_crs(member: Any, problems: _Problems) -> SourceCRS | None:
    name = None
    if isinstance(member, dict) and member.get("type") == "name" and isinstance(member.get("properties"), dict):
        name = member["properties"].get("name")
    if not isinstance(name, str):
        problems.add(None, f'has a "crs" member CityKeeper does not understand: {json.dumps(member)[:200]}', "crs")
        return None
    try:
        return SourceCRS.parse(name)
    except InvalidInput:
        problems.add(
            None, f'its "crs" member names {name!r}, which CityKeeper cannot convert; accepted: {ACCEPTED_CRS}', "crs"
        )
        return None


# ----------------------------------------------------------------------- Shapefile


def _sibling(path: Path, suffix: str) -> Path | None:
    """The file next to path with the given suffix, in lower or upper case."""
    for candidate in (path.with_suffix(suffix.lower()), path.with_suffix(suffix.upper())):
        if candidate.is_file():
            return candidate
    return None


def _read_shapefile(path: Path, encoding: str | None) -> _Source:
    problems = _Problems(path.name)
    source = _Source(problems)
    siblings = {ext: _sibling(path, ext) for ext in (".shx", ".dbf", ".prj", ".cpg")}
    for ext in (".shx", ".dbf"):
        if siblings[ext] is None:
            problems.add(
                None, f"{path.stem}{ext} is missing next to {path.name}; upload all the files of the shapefile"
            )
    if problems.items:
        return source

    prj = siblings[".prj"]
    if prj is not None:
        source.declared_by = prj.name
        source.declared = _crs_from_prj(prj, problems)

    if encoding is not None:
        encodings = [(encoding, f"encoding {encoding}")]
    elif siblings[".cpg"] is not None:
        cpg = siblings[".cpg"]
        codec = _codec_from_cpg(cpg.read_bytes().decode("ascii", "replace"))
        if codec is None:
            problems.add(None, f"{cpg.name} names an unknown text encoding; pass the encoding", "encoding")
            return source
        encodings = [(codec, f"encoding {codec} (from {cpg.name})")]
    else:
        encodings = [("utf-8", "UTF-8"), (_GBK, "GBK")]

    failure = ""
    for codec, label in encodings:
        try:
            with warnings.catch_warnings():
                # pyshp warns when our codec spelling differs from the .cpg's, and about padding.
                warnings.simplefilter("ignore")
                with shapefile.Reader(str(path), encoding=codec) as reader:
                    names = [f.name for f in reader.fields[1:]]
                    records = reader.records(deleted_as_None=True)
                    shapes = reader.shapes()
            break
        except (UnicodeDecodeError, shapefile.dbfFileException) as exc:
            failure = f"{failure} {label}: {exc};" if failure else f"{label}: {exc};"
            continue
        except (shapefile.ShapefileException, OSError, ValueError, IndexError, struct.error) as exc:
            problems.add(None, f"is damaged and cannot be read: {exc}")
            return source
    else:
        problems.add(
            None,
            f"the attribute table {path.stem}.dbf cannot be decoded ({failure.rstrip(';')}); "
            "add a .cpg file naming its encoding or pass the encoding",
            "encoding",
        )
        return source

    if len(shapes) != len(records):
        problems.add(None, f"{path.name} has {len(shapes)} shapes but {path.stem}.dbf has {len(records)} records")
        return source

    builder = _GeometryBuilder(len(shapes), "shape cannot be read")
    keep: list[int] = []
    for slot, (shp, record) in enumerate(zip(shapes, records, strict=True)):
        if record is None:  # deleted in the .dbf: not a feature, but keeps its number
            continue
        keep.append(slot)
        source.numbers.append(slot + 1)
        source.properties.append({name: _dbf_value(value) for name, value in zip(names, record, strict=False)})
        _add_shape(builder, slot, shp, problems)
    geometries, errors = builder.build()
    source.geometries = geometries[np.asarray(keep, dtype=np.int64)]
    position = {slot: i for i, slot in enumerate(keep)}
    source.geometry_errors = {position[slot]: reason for slot, reason in errors.items() if slot in position}
    return source


def _add_shape(builder: _GeometryBuilder, slot: int, shp: Any, problems: _Problems) -> None:
    stype = shp.shapeType
    points = shp.points
    if stype == shapefile.NULL or not points:
        return
    if stype in _SHP_POINT:
        builder.add_simple(slot, "point", points[0], lambda: shapely.Point(points[0][:2]))
    elif stype in _SHP_MULTIPOINT:
        builder.add_other(slot, lambda: shapely.MultiPoint([p[:2] for p in points]))
    elif stype in _SHP_LINE or stype in _SHP_POLYGON:

        def fallback() -> BaseGeometry:
            return geojson_shape(shp.__geo_interface__)

        kind = "line" if stype in _SHP_LINE else "polygon"
        if len(shp.parts) == 1:
            builder.add_simple(slot, kind, points, fallback)
        else:
            builder.add_other(slot, fallback)
    else:
        problems.add(slot + 1, f"is a {shp.shapeTypeName} shape, which CityKeeper does not read", "geometry")


def _dbf_value(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _codec_from_cpg(text: str) -> str | None:
    """Python codec for a .cpg's content ("UTF-8", "GBK", "936", "ANSI 936"...)."""
    name = text.strip().lower()
    if name.startswith("ansi"):
        name = name[4:].strip()
    if name.isdigit():
        name = f"cp{name}"
    if name in ("gb2312", "gbk", "cp936"):
        # Files labelled GB2312 routinely hold GBK-only characters; GB18030 reads all.
        name = _GBK
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _crs_from_prj(prj: Path, problems: _Problems) -> SourceCRS | None:
    text = prj.read_bytes().decode("utf-8", "replace").strip()
    if not text:
        problems.add(None, f"{prj.name} is empty; delete it or declare the CRS", "crs")
        return None
    try:
        parsed = pyproj.CRS.from_wkt(text)
    except CRSError as exc:
        problems.add(None, f"{prj.name} is not a coordinate system pyproj understands: {exc}", "crs")
        return None
    epsg = parsed.to_epsg()
    if epsg is not None:
        try:
            return SourceCRS._from_epsg(epsg, f"EPSG:{epsg}")
        except InvalidInput:
            pass
    found = _gk_from_parameters(parsed)
    if found is not None:
        return found
    code = f" (EPSG:{epsg})" if epsg is not None else ""
    problems.add(
        None,
        f"{prj.name} declares {parsed.name!r}{code}, which CityKeeper cannot convert to WGS84; "
        f"reproject the file to one of: {ACCEPTED_CRS}",
        "crs",
    )
    return None


def _gk_from_parameters(parsed: pyproj.CRS) -> SourceCRS | None:
    """A CGCS2000 GK CRS recognised from its parameters when pyproj finds no EPSG code."""
    datum = (parsed.datum.name if parsed.datum else "").lower().replace("_", " ")
    if "china 2000" not in datum and "cgcs2000" not in datum:
        return None
    if parsed.is_geographic:
        return SourceCRS("cgcs2000", None)
    operation = parsed.coordinate_operation
    if not parsed.is_projected or operation is None:
        return None
    if "transverse mercator" not in operation.method_name.lower() and "gauss" not in operation.method_name.lower():
        return None
    params = {p.name.lower(): p.value for p in operation.params}
    cm = params.get("longitude of natural origin")
    easting = params.get("false easting")
    if params.get("scale factor at natural origin", 1.0) != 1.0 or params.get("false northing", 0.0) != 0.0:
        return None
    if cm is None or easting is None or float(cm) not in crs_mod.GK_CM_EPSG:
        return None
    cm = int(cm)
    if easting == _GK_FALSE_EASTING:
        return SourceCRS(f"EPSG:{crs_mod.GK_CM_EPSG[cm]}", crs_mod.GK_CM_EPSG[cm])
    if easting == (cm // 3) * _ZONE_PREFIX_UNIT + _GK_FALSE_EASTING:
        epsg = _GK_ZONE_EPSG_OFFSET + cm // 3
        return SourceCRS(f"EPSG:{epsg}", epsg)
    return None


# ----------------------------------------------------------------------------- CSV


def _find_column(header: list[str], wanted: str | None, candidates: Sequence[str]) -> str | None:
    if wanted is not None:
        if wanted in header:
            return wanted
        lowered = {h.lower(): h for h in header}
        return lowered.get(wanted.strip().lower())
    lowered = {h.lower(): h for h in header}
    for candidate in candidates:
        if candidate in lowered:
            return lowered[candidate]
    return None


def _read_csv(
    path: Path, encoding: str | None, wkt_column: str | None, lon_column: str | None, lat_column: str | None
) -> _Source:
    problems = _Problems(path.name)
    source = _Source(problems)
    text = _decode_text(path.read_bytes(), encoding, problems)
    if text is None:
        return source
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows or not any(cell.strip() for cell in rows[0]):
        problems.add(None, "the file is empty")
        return source
    header = [cell.strip() for cell in rows[0]]
    columns = ", ".join(h for h in header if h) or "(none)"

    wkt = lon = lat = None
    if lon_column is None and lat_column is None:
        wkt = _find_column(header, wkt_column, _WKT_COLUMNS)
        if wkt_column is not None and wkt is None:
            problems.add(None, f"has no column {wkt_column!r}; its columns are: {columns}", "wkt_column")
            return source
    if wkt is None and wkt_column is None:
        lon = _find_column(header, lon_column, _LON_COLUMNS)
        lat = _find_column(header, lat_column, _LAT_COLUMNS)
        if lon is None or lat is None:
            if lon_column is not None or lat_column is not None:
                missing = [c for c, found in ((lon_column, lon), (lat_column, lat)) if found is None]
                problems.add(None, f"has no column {' or '.join(map(repr, missing))}; its columns are: {columns}")
            else:
                problems.add(
                    None,
                    f"has no geometry column: it needs a WKT column (one of {', '.join(_WKT_COLUMNS)}) or longitude "
                    f"and latitude columns (one of {', '.join(_LON_COLUMNS)} and one of {', '.join(_LAT_COLUMNS)}); "
                    f"its columns are: {columns}",
                    "geometry",
                )
            return source

    geometry_columns = {c for c in (wkt, lon, lat) if c is not None}
    index = {name: i for i, name in enumerate(header) if name}
    keep = [(name, i) for name, i in index.items() if name not in geometry_columns]
    wanted = [index[c] for c in (wkt, lon, lat) if c is not None]
    cells_per_row = len(header)

    slots: list[int] = []
    values: list[str] = []
    lonlat: list[tuple[float, float]] = []
    for row_index, row in enumerate(rows[1:], start=2):  # the header is spreadsheet row 1
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > cells_per_row and any(cell.strip() for cell in row[cells_per_row:]):
            hint = " (is the WKT quoted?)" if wkt is not None else ""
            problems.add(row_index, f"has {len(row)} cells but the header has {cells_per_row}{hint}")
            continue
        cells = row + [""] * (cells_per_row - len(row))
        slot = len(source.numbers)
        source.numbers.append(row_index)
        source.properties.append({name: cells[i].strip() for name, i in keep})
        if wkt is not None:
            value = cells[wanted[0]].strip()
            if value:
                slots.append(slot)
                values.append(value)
        else:
            point = _parse_lonlat(
                cells[wanted[0]], cells[wanted[1]], columns=(lon or "", lat or ""), row=row_index, problems=problems
            )
            if point is not None:
                slots.append(slot)
                lonlat.append(point)

    geometries = np.full(len(source.numbers), None, dtype=object)
    if wkt is not None:
        _parse_wkt_column(source, geometries, slots, values, column=wkt, file=path.name)
    elif lonlat:
        geometries[np.asarray(slots, dtype=np.int64)] = shapely.points(np.asarray(lonlat, dtype=np.float64))
    source.geometries = geometries
    return source


def _parse_lonlat(
    lon_text: str, lat_text: str, *, columns: tuple[str, str], row: int, problems: _Problems
) -> tuple[float, float] | None:
    lon_text, lat_text = lon_text.strip(), lat_text.strip()
    if not lon_text and not lat_text:
        return None
    parsed: list[float] = []
    for text, column in zip((lon_text, lat_text), columns, strict=True):
        try:
            parsed.append(float(text))
        except ValueError:
            shown = repr(text) if text else "empty"
            problems.add(row, f"{column} is {shown}, not a number", column)
            return None
    return parsed[0], parsed[1]


def _parse_wkt_column(
    source: _Source, geometries: NDArray[Any], slots: list[int], values: list[str], *, column: str, file: str
) -> None:
    srids: set[int] = set()
    cleaned = []
    for value in values:
        match = _EWKT_SRID.match(value)
        if match:
            srids.add(int(match.group(1)))
        cleaned.append(value[match.end() :] if match else value)
    if not cleaned:
        return
    parsed = shapely.from_wkt(np.asarray(cleaned, dtype=object), on_invalid="ignore")
    for slot, value, geom in zip(slots, cleaned, parsed, strict=True):
        if geom is None:
            try:
                shapely.from_wkt(value)
                reason = "not a geometry"
            except GEOSException as exc:
                reason = str(exc)
            source.problems.add(source.numbers[slot], f"{column} is not valid WKT: {reason}", column)
    geometries[np.asarray(slots, dtype=np.int64)] = parsed
    if len(srids) > 1:
        codes = ", ".join(f"SRID={s}" for s in sorted(srids))
        source.problems.add(None, f"{column} mixes coordinate systems ({codes})", "crs")
    elif srids:
        srid = srids.pop()
        source.declared_by = f"the SRID={srid} prefix of the WKT in {file}"
        try:
            source.declared = SourceCRS._from_epsg(srid, f"EPSG:{srid}")
        except InvalidInput:
            source.problems.add(None, f"SRID={srid} cannot be converted; accepted: {ACCEPTED_CRS}", "crs")


# ---------------------------------------------------------------------- validation


def _inside(x: FloatArray, y: FloatArray) -> NDArray[np.bool_]:
    min_lon, min_lat, max_lon, max_lat = CHINA_EXTENT
    return (x >= min_lon) & (x <= max_lon) & (y >= min_lat) & (y <= max_lat)


def _gk_plausible(x: FloatArray, y: FloatArray, zone: int | None) -> NDArray[np.bool_]:
    offset = zone * _ZONE_PREFIX_UNIT if zone is not None else 0.0
    easting = np.abs(x - offset - _GK_FALSE_EASTING) <= _GK_EASTING_SPREAD
    lo, hi = _GK_NORTHING_RANGE
    return easting & (y >= lo) & (y <= hi)


def _prefix_zone(x: float) -> int | None:
    zone = int(x // _ZONE_PREFIX_UNIT) if x > 0 else None
    if zone in _GK_ZONES and abs(x - zone * _ZONE_PREFIX_UNIT - _GK_FALSE_EASTING) <= _GK_EASTING_SPREAD:
        return zone
    return None


def _fmt(value: float) -> str:
    return f"{value:.10g}" if abs(value) < 1e15 else f"{value:.3e}"


def _projected_hint(x: float, y: float) -> str:
    zone = _prefix_zone(x)
    if zone is not None:
        return f"EPSG:{_GK_ZONE_EPSG_OFFSET + zone} (zone {zone}, as the easting's prefix {zone} suggests)"
    if abs(x - _GK_FALSE_EASTING) <= _GK_EASTING_SPREAD:
        return "cgcs2000-gk3:<central meridian> (eastings without zone prefix, EPSG:4534 to EPSG:4554)"
    return "a CGCS2000 Gauss-Krüger CRS (EPSG:4513 to EPSG:4554, or cgcs2000-gk3:<central meridian>)"


def _geographic_reason(xs: FloatArray, ys: FloatArray, src: SourceCRS) -> str:
    if not (np.isfinite(xs).all() and np.isfinite(ys).all()):
        return "has a coordinate that is not a finite number (NaN or infinity)"
    if _inside(ys, xs).all():
        return "coordinates look swapped (lat, lon); put longitude first"
    k = int(np.flatnonzero(~_inside(xs, ys))[0])
    x, y = float(xs[k]), float(ys[k])
    if abs(x) > 360 or abs(y) > 360:
        return (
            f"coordinate ({_fmt(x)}, {_fmt(y)}) looks projected (metres), not {src.name} lon/lat degrees; "
            f"declare the projected CRS, e.g. {_projected_hint(x, y)}"
        )
    return f"coordinate ({_fmt(x)}, {_fmt(y)}) is outside China (lon 73 to 136, lat 3 to 54)"


def _gk_reason(xs: FloatArray, ys: FloatArray, src: SourceCRS) -> str:
    if not (np.isfinite(xs).all() and np.isfinite(ys).all()):
        return "has a coordinate that is not a finite number (NaN or infinity)"
    zone, cm = src.zone, src.central_meridian
    assert cm is not None
    if _gk_plausible(ys, xs, zone).all():
        return "coordinates look swapped (northing, easting); put the easting (Y in Chinese surveying) first"
    k = int(np.flatnonzero(~_gk_plausible(xs, ys, zone))[0])
    x, y = float(xs[k]), float(ys[k])
    if abs(x) <= 360 and abs(y) <= 360:
        return (
            f"coordinate ({_fmt(x)}, {_fmt(y)}) looks like lon/lat degrees, not {src.name} metres; "
            "declare wgs84, cgcs2000, gcj02 or bd09"
        )
    found = _prefix_zone(x)
    no_prefix = abs(x - _GK_FALSE_EASTING) <= _GK_EASTING_SPREAD
    if zone is None and found is not None:
        return (
            f"easting {_fmt(x)} carries the zone prefix {found}, but {src.name} (CM {cm}E) expects eastings "
            f"without it; declare EPSG:{_GK_ZONE_EPSG_OFFSET + found} (zone {found}) instead"
        )
    if zone is not None and no_prefix:
        return (
            f"easting {_fmt(x)} has no zone prefix, but {src.name} (zone {zone}) expects one ({zone} followed by "
            f"6 digits); declare EPSG:{crs_mod.GK_CM_EPSG[cm]} (cgcs2000-gk3:{cm}) instead"
        )
    if zone is not None and found is not None and found != zone:
        return (
            f"easting {_fmt(x)} has the zone prefix {found}, but {src.name} is zone {zone}; "
            f"declare EPSG:{_GK_ZONE_EPSG_OFFSET + found} instead"
        )
    lo, hi = _GK_NORTHING_RANGE
    if not lo <= y <= hi:
        return f"northing {_fmt(y)} is not plausible for China ({_fmt(lo)} to {_fmt(hi)} m)"
    centre = (zone * _ZONE_PREFIX_UNIT if zone is not None else 0.0) + _GK_FALSE_EASTING
    low, high = _fmt(centre - _GK_EASTING_SPREAD), _fmt(centre + _GK_EASTING_SPREAD)
    return f"easting {_fmt(x)} is too far from the central meridian of {src.name} (CM {cm}E): expected {low} to {high}"


def _bad_features(
    geoms: NDArray[Any], good: Callable[[FloatArray, FloatArray], NDArray[np.bool_]]
) -> list[tuple[int, FloatArray, FloatArray]]:
    """(position, xs, ys) of each geometry with a coordinate failing good(x, y)."""
    xy, owner = shapely.get_coordinates(geoms, return_index=True)
    x, y = xy[:, 0], xy[:, 1]
    with np.errstate(invalid="ignore"):
        failing = ~good(x, y)
    result = []
    for position in np.unique(owner[failing]):
        lo = int(np.searchsorted(owner, position, side="left"))
        hi = int(np.searchsorted(owner, position, side="right"))
        result.append((int(position), x[lo:hi], y[lo:hi]))
    return result


def _crs_hint(geoms: NDArray[Any]) -> str:
    xy = shapely.get_coordinates(geoms)
    xy = xy[np.isfinite(xy).all(axis=1)]
    if not len(xy):
        return ""
    x, y = (float(v) for v in np.median(xy, axis=0))
    if _inside(np.array([x]), np.array([y]))[0]:
        return (
            " The coordinates are lon/lat degrees: data from AMap/Gaode or Tencent maps is gcj02, from Baidu bd09, "
            "from GPS receivers wgs84, from surveying cgcs2000."
        )
    if abs(x) > 360 or abs(y) > 360:
        return f" The coordinates look like projected metres: probably {_projected_hint(x, y)}."
    return ""


def _resolve_crs(source: _Source, given: SourceCRS | None, geoms: NDArray[Any]) -> SourceCRS | None:
    declared = source.declared
    problems = source.problems
    if declared is not None and given is not None:
        if declared.same_as(given):
            return declared
        problems.add(
            None,
            f"{source.declared_by} declares {declared.describe()}, but crs={given.name} was given; "
            "they must agree (fix or remove one of the two)",
            "crs",
        )
        return None
    if declared is not None:
        return declared
    if given is not None:
        return given
    if any(p.field == "crs" for p in problems.items):
        return None  # the file's declaration was unusable; that problem says why
    problems.add(
        None,
        f"no coordinate system is declared: pass crs= one of: {ACCEPTED_CRS}. "
        "Plain lon/lat is not assumed to be WGS84 (maps in China use gcj02 or bd09)." + _crs_hint(geoms),
        "crs",
    )
    return None


def _finish(source: _Source, given: SourceCRS | None, kinds: frozenset[str]) -> tuple[list[Feature], SourceCRS]:
    problems = source.problems
    n = len(source.numbers)
    numbers = source.numbers
    geoms = source.geometries
    if n == 0:
        if not problems.items:
            problems.add(None, "contains no features")
        problems.raise_if_any()

    already = {p.number for p in problems.items if p.number is not None}
    ok = np.array([number not in already for number in numbers], dtype=bool)
    missing = np.array([g is None for g in geoms], dtype=bool)
    for position in np.flatnonzero(missing & ok):
        reason = source.geometry_errors.get(int(position), "has no geometry")
        problems.add(numbers[position], reason, "geometry")
    ok &= ~missing

    geoms = geoms.copy()
    geoms[ok] = shapely.force_2d(geoms[ok])
    empty = shapely.is_empty(geoms) & ok
    for position in np.flatnonzero(empty):
        problems.add(numbers[position], "has an empty geometry", "geometry")
    ok &= ~empty

    type_ids = shapely.get_type_id(geoms)
    allowed = " or ".join(k for k in GEOMETRY_KINDS if k in kinds)
    for position in np.flatnonzero(ok):
        type_id = int(type_ids[position])
        kind = _KIND_BY_TYPE_ID.get(type_id)
        if type_id == _TYPE_ID_COLLECTION:
            reason = "is a GeometryCollection, which is not supported; split it into separate features"
        elif kind not in kinds:
            reason = f"is a {geoms[position].geom_type}, but only {allowed} geometries are accepted here"
        else:
            continue
        problems.add(numbers[position], reason, "geometry")
        ok[position] = False

    single = ok & (type_ids == _TYPE_ID_MULTIPOINT) & (shapely.get_num_geometries(geoms) == 1)
    geoms[single] = shapely.get_geometry(geoms[single], 0)
    rings = ok & (type_ids == _TYPE_ID_LINEARRING)
    for position in np.flatnonzero(rings):
        geoms[position] = shapely.LineString(geoms[position].coords)

    src = _resolve_crs(source, given, geoms[ok])
    if src is None:
        raise ReadError(problems.items)

    positions = np.flatnonzero(ok)
    if src.is_projected:
        bad = _bad_features(geoms[positions], lambda x, y: _gk_plausible(x, y, src.zone))
        reasons = [(p, _gk_reason(xs, ys, src)) for p, xs, ys in bad]
    else:
        bad = _bad_features(geoms[positions], _inside)
        reasons = [(p, _geographic_reason(xs, ys, src)) for p, xs, ys in bad]
    for local, reason in reasons:
        problems.add(numbers[positions[local]], reason, "geometry")
    if reasons:
        ok[positions[[local for local, _ in reasons]]] = False
        positions = np.flatnonzero(ok)

    converted = src.to_wgs84(geoms[positions])
    if src.is_projected:
        for local, xs, ys in _bad_features(converted, _inside):
            k = int(np.flatnonzero(~_inside(xs, ys))[0]) if np.isfinite(xs).all() else 0
            problems.add(
                numbers[positions[local]],
                f"converted from {src.name} it lies at ({_fmt(float(xs[k]))}, {_fmt(float(ys[k]))}), outside "
                "China; check the declared CRS",
                "geometry",
            )
    problems.raise_if_any()
    features = [
        Feature(numbers[p], source.properties[p], g) for p, g in zip(positions.tolist(), converted, strict=True)
    ]
    return features, src


# ------------------------------------------------------------------------- public


def read_features(
    path: str | os.PathLike[str],
    *,
    crs: str | None = None,
    kinds: Iterable[str] = GEOMETRY_KINDS,
    wkt_column: str | None = None,
    lon_column: str | None = None,
    lat_column: str | None = None,
    encoding: str | None = None,
) -> tuple[list[Feature], SourceCRS]:
    """Every feature of a GeoJSON, Shapefile or CSV file, in WGS84 lon/lat.

    crs declares the file's coordinate system (see SourceCRS.parse); it may be left
    out when the file declares one (.prj, GeoJSON "crs" member, EWKT SRID), and must
    agree with it otherwise. kinds lists the geometry kinds the caller accepts
    ("point", "line", "polygon"). For CSV, wkt_column or lon_column and lat_column name
    the geometry columns (found by name when not given). encoding overrides the text
    encoding (default: .cpg, else UTF-8, else GBK).

    Returns (features, the source CRS used). Raises ReadError listing every problem
    found (file, feature or row number, reason) when anything is wrong: never a partial
    result. Raises InvalidInput for bad arguments (an unknown crs, kind or option).
    """
    given = SourceCRS.parse(crs) if crs is not None else None
    kind_set = frozenset(kinds)
    unknown = sorted(kind_set - set(GEOMETRY_KINDS))
    if unknown or not kind_set:
        raise InvalidInput(f"Unknown geometry kinds {unknown}; use some of {list(GEOMETRY_KINDS)}.", field="kinds")
    if wkt_column is not None and (lon_column is not None or lat_column is not None):
        raise InvalidInput("Name either a WKT column or lon/lat columns, not both.", field="wkt_column")
    if (lon_column is None) != (lat_column is None):
        raise InvalidInput("Name both the longitude and the latitude column.", field="lon_column")
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise InvalidInput(f"Unknown text encoding {encoding!r}.", field="encoding") from None

    path = Path(path)
    suffix = path.suffix.lower()
    is_csv = suffix == ".csv"
    if not is_csv and (wkt_column or lon_column or lat_column):
        raise InvalidInput("Geometry columns can only be named for CSV files.", field="wkt_column")
    if not path.is_file():
        raise ReadError([Problem(path.name, None, "file not found")])
    if suffix in _GEOJSON_SUFFIXES:
        source = _read_geojson(path, encoding)
    elif suffix == ".shp":
        source = _read_shapefile(path, encoding)
    elif is_csv:
        source = _read_csv(path, encoding, wkt_column, lon_column, lat_column)
    else:
        hint = " (open the shapefile by its .shp)" if suffix in (".dbf", ".shx", ".prj", ".cpg") else ""
        raise ReadError(
            [
                Problem(
                    path.name, None, f"unknown file type {suffix or '(none)'}{hint}; use .geojson, .json, .shp or .csv"
                )
            ]
        )
    # File-level problems (unreadable, missing parts) stop here: there is nothing to validate.
    if any(p.number is None and p.field != "crs" for p in source.problems.items):
        source.problems.raise_if_any()
    return _finish(source, given, kind_set)
