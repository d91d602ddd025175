"""China's coordinate systems and metric measurements on lon/lat geometries.

Three lon/lat systems meet in a Chinese city platform:

* **WGS84** — what GPS receivers report and what CityKeeper stores.
* **GCJ-02** ("Mars coordinates") — the state-mandated obfuscated system used by
  Amap/Gaode and Tencent maps and by boundary data taken from them (our district
  files included). It is WGS84 plus a smooth, position-dependent offset of a few
  hundred metres.
* **BD-09** — Baidu's further offset of GCJ-02.

The forward formulas are the de-facto public algorithm shared by the
``eviltransform``, ``coordtransform`` and ``prcoords`` libraries (Krasovsky
semi-major axis ``a = 6378245.0``, ``ee = 0.00669342162296594323``, Baidu's
``x_pi = pi * 3000 / 180``). The reverse directions have no closed form; the usual
one-step approximations are off by up to ~4.5 m (GCJ; ~0.7 m typically) or ~0.2 m
(BD) over China, so we iterate to a fixed point instead, which makes every round trip
exact to far below a millimetre.

Metric measurements (``area_m2``, ``length_m``) project to the CGCS2000 3-degree
Gauss-Krüger zone of the geometry, the projection Chinese surveying uses for city
base maps, so our numbers agree with what a city's GIS department would compute.

All conversions work on scalars through the public functions and on numpy arrays
internally, so whole geometries are converted in one vectorised call.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeVar

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry

from citykeeper.domain.errors import InvalidInput

__all__ = [
    "BD_X_PI",
    "CHINA_BBOX",
    "GCJ_A",
    "GCJ_EE",
    "GK_CM_EPSG",
    "area_m2",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "gk_central_meridian",
    "in_china",
    "length_m",
    "to_lonlat",
    "to_projected",
    "transform_geometry",
    "utm_or_gk_crs_for",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

LonLat = tuple[float, float]
FloatArray = NDArray[np.float64]
# Formulas run on plain floats or elementwise on numpy arrays.
Num = Any
# A single geometry or a numpy array of them: shapely.transform handles both.
G = TypeVar("G", BaseGeometry, np.ndarray)

# Parameters of the public GCJ-02 algorithm (Krasovsky 1940 ellipsoid).
GCJ_A = 6378245.0
GCJ_EE = 0.00669342162296594323
# Baidu's BD-09 rotation/scale constant.
BD_X_PI = math.pi * 3000.0 / 180.0
# Baidu's fixed offsets (degrees) added after the rotation.
_BD_DLON = 0.0065
_BD_DLAT = 0.006

# The rough "is it in China" box (min lon, min lat, max lon, max lat) used by
# eviltransform and prcoords. GCJ-02 is only applied inside it. It is a box, so it
# also covers e.g. Seoul and Hanoi; that is how every reference implementation
# behaves, and data for those places does not reach a Chinese city platform.
CHINA_BBOX = (72.004, 0.8293, 137.8347, 55.8271)

# Fixed-point iterations for the inverse transforms. Each step shrinks the error by
# roughly the offset field's gradient (~1e-3), so 3-5 steps reach the tolerance;
# the cap only guards against NaN input looping forever.
_INVERSE_TOL_DEG = 1e-12  # ~0.1 micrometre
_INVERSE_MAX_ITER = 30

# EPSG codes of "CGCS2000 / 3-degree Gauss-Kruger CM <n>E" (false easting 500 km,
# no zone prefix): 4534 is CM 75E, then one code per 3 degrees up to 4554 = CM 135E.
GK_CM_EPSG = {75 + 3 * i: 4534 + i for i in range(21)}


# ------------------------------------------------------------------------ formulas
#
# Each formula is written once against a tiny "xp" namespace and runs either on plain
# floats (math) or on numpy arrays. Plain floats matter: numpy's per-call overhead on
# one-element arrays makes a single-point conversion ~50x slower, and points arrive
# one at a time from the API. Arrays matter for whole geometries.


class _FloatOps:
    pi = math.pi
    sin = staticmethod(math.sin)
    cos = staticmethod(math.cos)
    sqrt = staticmethod(math.sqrt)
    abs = staticmethod(abs)
    hypot = staticmethod(math.hypot)
    arctan2 = staticmethod(math.atan2)

    @staticmethod
    def where(cond: bool, a: float, b: float) -> float:
        return a if cond else b

    @staticmethod
    def max_abs(a: float, b: float) -> float:
        return max(abs(a), abs(b))


class _ArrayOps:
    pi = np.pi
    sin = staticmethod(np.sin)
    cos = staticmethod(np.cos)
    sqrt = staticmethod(np.sqrt)
    abs = staticmethod(np.abs)
    hypot = staticmethod(np.hypot)
    arctan2 = staticmethod(np.arctan2)
    where = staticmethod(np.where)

    @staticmethod
    def max_abs(a: FloatArray, b: FloatArray) -> float:
        if a.size == 0:
            return 0.0
        # nanmax: a NaN vertex must not keep the other vertices iterating forever.
        return float(np.nanmax(np.abs(np.concatenate([a, b]))))


Ops = type[_FloatOps] | type[_ArrayOps]


def in_china(lon: float, lat: float) -> bool:
    """True when (lon, lat) is inside the rough China box where GCJ-02 applies."""
    return bool(_in_china(lon, lat))


def _in_china(lon: Num, lat: Num) -> Any:
    min_lon, min_lat, max_lon, max_lat = CHINA_BBOX
    # & rather than `and` so the same expression works elementwise on arrays.
    return (lon >= min_lon) & (lon <= max_lon) & (lat >= min_lat) & (lat <= max_lat)


def _gcj_offset(lon: Num, lat: Num, xp: Ops) -> tuple[Num, Num]:
    """GCJ-02 minus WGS84 in degrees at WGS84 (lon, lat), without the China test."""
    x = lon - 105.0
    y = lat - 35.0
    pi = xp.pi
    # The two polynomial + sine series give the offset in metres along lat and lon.
    sin_x = 20.0 * xp.sin(6.0 * x * pi) + 20.0 * xp.sin(2.0 * x * pi)
    d_lat_m = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * xp.sqrt(xp.abs(x))
    d_lat_m = d_lat_m + sin_x * 2.0 / 3.0
    d_lat_m = d_lat_m + (20.0 * xp.sin(y * pi) + 40.0 * xp.sin(y / 3.0 * pi)) * 2.0 / 3.0
    d_lat_m = d_lat_m + (160.0 * xp.sin(y / 12.0 * pi) + 320.0 * xp.sin(y * pi / 30.0)) * 2.0 / 3.0
    d_lon_m = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * xp.sqrt(xp.abs(x))
    d_lon_m = d_lon_m + sin_x * 2.0 / 3.0
    d_lon_m = d_lon_m + (20.0 * xp.sin(x * pi) + 40.0 * xp.sin(x / 3.0 * pi)) * 2.0 / 3.0
    d_lon_m = d_lon_m + (150.0 * xp.sin(x / 12.0 * pi) + 300.0 * xp.sin(x / 30.0 * pi)) * 2.0 / 3.0
    # Metres to degrees with the Krasovsky ellipsoid's meridian and parallel radii.
    rad_lat = lat / 180.0 * pi
    sin_lat = xp.sin(rad_lat)
    magic = 1.0 - GCJ_EE * sin_lat * sin_lat
    sqrt_magic = xp.sqrt(magic)
    d_lat = (d_lat_m * 180.0) / ((GCJ_A * (1.0 - GCJ_EE)) / (magic * sqrt_magic) * pi)
    d_lon = (d_lon_m * 180.0) / (GCJ_A / sqrt_magic * xp.cos(rad_lat) * pi)
    return d_lon, d_lat


def _gcj_unchecked(lon: Num, lat: Num, xp: Ops) -> tuple[Num, Num]:
    d_lon, d_lat = _gcj_offset(lon, lat, xp)
    return lon + d_lon, lat + d_lat


def _wgs_to_gcj(lon: Num, lat: Num, xp: Ops) -> tuple[Num, Num]:
    g_lon, g_lat = _gcj_unchecked(lon, lat, xp)
    inside = _in_china(lon, lat)
    return xp.where(inside, g_lon, lon), xp.where(inside, g_lat, lat)


def _fixed_point_inverse(
    forward: Callable[[Num, Num, Ops], tuple[Num, Num]],
    start: tuple[Num, Num],
    target: tuple[Num, Num],
    xp: Ops,
) -> tuple[Num, Num]:
    """Solve forward(p) == target, starting from start.

    forward is the identity plus a small, smooth perturbation (its gradient is ~1e-3),
    so p -= forward(p) - target converges geometrically: it is Newton's method with
    the Jacobian taken as the identity. 3-5 steps reach the tolerance.
    """
    lon, lat = start
    t_lon, t_lat = target
    for _ in range(_INVERSE_MAX_ITER):
        f_lon, f_lat = forward(lon, lat, xp)
        e_lon = f_lon - t_lon
        e_lat = f_lat - t_lat
        lon = lon - e_lon
        lat = lat - e_lat
        if not xp.max_abs(e_lon, e_lat) >= _INVERSE_TOL_DEG:  # `not >=` also stops on NaN
            break
    return lon, lat


def _gcj_to_wgs(lon: Num, lat: Num, xp: Ops) -> tuple[Num, Num]:
    # No China test inside the iteration (near the box edge it could flip between
    # steps); the decision is made once, on the input, as the reference libraries do.
    w_lon, w_lat = _fixed_point_inverse(_gcj_unchecked, (lon, lat), (lon, lat), xp)
    inside = _in_china(lon, lat)
    return xp.where(inside, w_lon, lon), xp.where(inside, w_lat, lat)


def _gcj_to_bd(lon: Num, lat: Num, xp: Ops) -> tuple[Num, Num]:
    z = xp.hypot(lon, lat) + 0.00002 * xp.sin(lat * BD_X_PI)
    theta = xp.arctan2(lat, lon) + 0.000003 * xp.cos(lon * BD_X_PI)
    return z * xp.cos(theta) + _BD_DLON, z * xp.sin(theta) + _BD_DLAT


def _bd_to_gcj(lon: Num, lat: Num, xp: Ops) -> tuple[Num, Num]:
    # The published closed form (off by up to ~0.2 m) is the first guess...
    x = lon - _BD_DLON
    y = lat - _BD_DLAT
    z = xp.hypot(x, y) - 0.00002 * xp.sin(y * BD_X_PI)
    theta = xp.arctan2(y, x) - 0.000003 * xp.cos(x * BD_X_PI)
    guess = (z * xp.cos(theta), z * xp.sin(theta))
    # ...which the fixed-point iteration turns into the exact inverse of gcj02_to_bd09.
    return _fixed_point_inverse(_gcj_to_bd, guess, (lon, lat), xp)


def _wgs_to_bd(lon: Num, lat: Num, xp: Ops) -> tuple[Num, Num]:
    g_lon, g_lat = _wgs_to_gcj(lon, lat, xp)
    return _gcj_to_bd(g_lon, g_lat, xp)


def _bd_to_wgs(lon: Num, lat: Num, xp: Ops) -> tuple[Num, Num]:
    g_lon, g_lat = _bd_to_gcj(lon, lat, xp)
    return _gcj_to_wgs(g_lon, g_lat, xp)


def _point(formula: Callable[[Num, Num, Ops], tuple[Num, Num]], lon: float, lat: float) -> LonLat:
    out_lon, out_lat = formula(float(lon), float(lat), _FloatOps)
    return float(out_lon), float(out_lat)


# ------------------------------------------------------------------- public points


def wgs84_to_gcj02(lon: float, lat: float) -> LonLat:
    """WGS84 -> GCJ-02. Outside the China box the input is returned unchanged."""
    return _point(_wgs_to_gcj, lon, lat)


def gcj02_to_wgs84(lon: float, lat: float) -> LonLat:
    """GCJ-02 -> WGS84, iterated until wgs84_to_gcj02 of the result reproduces the input
    to 1e-12 degrees (the one-step approximation found in most libraries is off by up to
    ~4.5 m). Outside the China box the input is returned unchanged."""
    return _point(_gcj_to_wgs, lon, lat)


def gcj02_to_bd09(lon: float, lat: float) -> LonLat:
    """GCJ-02 -> BD-09 (Baidu). Applied everywhere, like the reference implementations."""
    return _point(_gcj_to_bd, lon, lat)


def bd09_to_gcj02(lon: float, lat: float) -> LonLat:
    """BD-09 -> GCJ-02, the exact inverse of gcj02_to_bd09 (refines the closed form)."""
    return _point(_bd_to_gcj, lon, lat)


def wgs84_to_bd09(lon: float, lat: float) -> LonLat:
    """WGS84 -> BD-09 through GCJ-02."""
    return _point(_wgs_to_bd, lon, lat)


def bd09_to_wgs84(lon: float, lat: float) -> LonLat:
    """BD-09 -> WGS84 through GCJ-02, exact inverse of wgs84_to_bd09 inside China."""
    return _point(_bd_to_wgs, lon, lat)


# The vectorised twin of each public point function, so transform_geometry converts
# a whole geometry in one numpy pass instead of one Python call per vertex.
_VECTORISED: dict[Callable[[float, float], LonLat], Callable[[Num, Num, Ops], tuple[Num, Num]]] = {
    wgs84_to_gcj02: _wgs_to_gcj,
    gcj02_to_wgs84: _gcj_to_wgs,
    gcj02_to_bd09: _gcj_to_bd,
    bd09_to_gcj02: _bd_to_gcj,
    wgs84_to_bd09: _wgs_to_bd,
    bd09_to_wgs84: _bd_to_wgs,
}


# --------------------------------------------------------------------- geometries


def transform_geometry(geom: G, fn: Callable[[float, float], LonLat]) -> G:
    """Apply a (lon, lat) -> (lon, lat) function to every vertex of a shapely geometry.

    geom may also be a numpy array of geometries (converted in one pass). The six
    conversion functions of this module run vectorised; any other function is called
    once per vertex. Z values are dropped: CityKeeper geometries are 2D.
    """
    formula = _VECTORISED.get(fn)

    def on_coords(coords: FloatArray) -> FloatArray:
        if formula is not None:
            out_lon, out_lat = formula(coords[:, 0], coords[:, 1], _ArrayOps)
            return np.column_stack([out_lon, out_lat])
        pairs = [fn(float(x), float(y)) for x, y in coords[:, :2]]
        return np.array(pairs, dtype=np.float64).reshape(-1, 2)

    return shapely.transform(geom, on_coords)


def gk_central_meridian(lon: float) -> int:
    """Central meridian (degrees east) of the 3-degree Gauss-Krüger zone holding lon.

    Zones are centred on multiples of 3 degrees and span +-1.5 degrees; a longitude
    exactly on a zone edge goes east (floor(x + 0.5), not banker's rounding).
    """
    cm = 3 * math.floor(lon / 3.0 + 0.5)
    if cm not in GK_CM_EPSG:
        raise InvalidInput(
            f"Longitude {lon} is outside the CGCS2000 3-degree Gauss-Kruger zones (73.5E to 136.5E).",
            field="lon",
        )
    return cm


def utm_or_gk_crs_for(lon: float) -> int:
    """EPSG code of the CGCS2000 3-degree Gauss-Krüger CRS ("CM nnnE" variant) for lon.

    e.g. 4548 (CM 117E) for Xuzhou. Raises InvalidInput outside 73.5E..136.5E, where
    these zones (and China) end: silently using a far-away zone would distort areas.
    """
    return GK_CM_EPSG[gk_central_meridian(lon)]


@lru_cache(maxsize=64)
def _transformer(epsg: int, inverse: bool) -> Transformer:
    # Building a Transformer costs tens of milliseconds (database look-up); using one
    # costs microseconds, so cache them. pyproj >= 3.1 Transformers are thread-safe.
    # WGS84 and CGCS2000 agree to a few centimetres, so PROJ's ballpark (null) datum
    # step between EPSG:4326 and the CGCS2000 projection is the right operation.
    if inverse:
        return Transformer.from_crs(epsg, 4326, always_xy=True)
    return Transformer.from_crs(4326, epsg, always_xy=True)


def _apply_transformer(geom: G, transformer: Transformer) -> G:
    def on_coords(coords: FloatArray) -> FloatArray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, on_coords)


def to_projected(geom: G, epsg: int) -> G:
    """WGS84 lon/lat geometry (or array of geometries) -> metres in the given EPSG CRS."""
    return _apply_transformer(geom, _transformer(epsg, False))


def to_lonlat(geom: G, epsg: int) -> G:
    """Metres in the given EPSG CRS -> WGS84 lon/lat (inverse of to_projected)."""
    return _apply_transformer(geom, _transformer(epsg, True))


def _projected_for(geom_lonlat: BaseGeometry) -> BaseGeometry:
    # The zone of the bounding-box centre: for a city-sized geometry every vertex is
    # then within ~1.5 degrees of the central meridian, where the Gauss-Krüger scale
    # error stays below ~0.03 % (0.06 % in area).
    min_lon, _, max_lon, _ = geom_lonlat.bounds
    return to_projected(geom_lonlat, utm_or_gk_crs_for((min_lon + max_lon) / 2.0))


def area_m2(geom_lonlat: BaseGeometry) -> float:
    """Planar area in square metres of a WGS84 lon/lat geometry, measured in its
    CGCS2000 3-degree Gauss-Krüger zone. 0.0 for empty or non-areal geometries."""
    if geom_lonlat.is_empty:
        return 0.0
    return float(_projected_for(geom_lonlat).area)


def length_m(geom_lonlat: BaseGeometry) -> float:
    """Length in metres (perimeter for polygons) of a WGS84 lon/lat geometry, measured
    in its CGCS2000 3-degree Gauss-Krüger zone. 0.0 for empty geometries and points."""
    if geom_lonlat.is_empty:
        return 0.0
    return float(_projected_for(geom_lonlat).length)
