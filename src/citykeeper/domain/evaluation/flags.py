"""Anti-gaming flags (防刷分/异常模式提示): subjects whose record stands out from the city's.

Evaluation ended 人情分 by scoring the record, and a record can be gamed: a unit that
disposes just before every deadline, an inspector who reports outside the patrol area
(or a contractor paying inspectors to under-report, as in Hefei in 2017), cases voided
and reported again to restart the clock, extensions granted mostly to one unit. A flag
is not a verdict: it tells the evaluator where to look, and must say why.

So every flag is

- **explainable**: it carries the subject's figure, the city's baseline, their ratio,
  the count behind it, the threshold it crossed, the cases (numbers) to open, and one
  sentence in Chinese (the format strings of ``DETECTORS``; the only Chinese text of the
  domain: it is data for the bulletin and the console, not a message to a developer);
- **fair**: a subject is compared with the city's own baseline for the same period,
  never with a fixed norm; a minimum count keeps small numbers from flagging (two late
  disposals out of three are not a pattern); where chance could explain the difference,
  a one-sided z-test at z ≥ 2.33 (p ≤ 0.01) must also pass.

The detectors (``DETECTORS``; thresholds are defaults, pass a changed ``Detector`` to
use others):

1. ``last_minute_disposal`` (units): the share of a unit's disposals made, on time, in
   the last 10 % of the stage's limit (``used_seconds ≥ 0.9 × limit_seconds``, from the
   dispose event's stage outcome; extensions are part of the limit) against the city's
   share. Flags at ≥ 2 × the city's share, ≥ 10 such disposals, and z ≥ 2.33 in the
   two-proportion test of the unit against the rest of the city.
2. ``reports_off_patrol_area`` (inspectors): the share of an inspector's reports whose
   point lies more than 200 m outside the inspector's patrol area (``User.scope_area``);
   where the distance is unknown (no boundary, no point) the case's area must lie under
   the patrol area in the area tree. Flags at ≥ 20 % and ≥ 5 such reports.
   GPS tracks are not recorded yet: comparing reports with the inspector's patrol track
   (reports far from where the device was) needs a track upload from the inspector app,
   which is future work. This detector does the area part only.
3. ``voided_then_rereported`` (inspectors and grids): a case voided (作废) and, within
   7 days after, a new report of the same minor category within 50 m: the pair is
   credited to the new report's inspector (reports from other sources credit no
   inspector) and to its grid. Each voided case pairs with at most one report (the
   first), each report with at most one voided case. Flags at ≥ 3 pairs.
4. ``extensions_concentrated`` (units): a unit's share of the approved extensions (延期)
   against its share of the dispatches, both in the period. Flags at a ratio ≥ 2,
   ≥ 5 extensions and z ≥ 2.33 in the test of the unit's share of extensions against
   its share of dispatches. A unit with extensions but no dispatch in the period has no
   share to compare with and is not judged.

Each detector takes plain inputs (the service reads them from the event log) and returns
the flags of the subjects that stand out, ordered by subject kind and id.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from citykeeper.domain.evaluation.counters import Subject

# z ≥ 2.33: one-sided p ≤ 0.01 under the normal approximation.
Z_ONE_SIDED_1_PERCENT = 2.33
# Ratios and shares are compared with a little slack so that 0.2 / 0.1 (= 2.0000000000000004
# or 1.9999999999999998 in floating point) counts as reaching 2.
_SLACK = 1e-9
# Mean Earth radius (IUGG) for the haversine distance; at 50 m the sphere is within
# 0.5 % of the ellipsoid, far below the accuracy of a phone's GPS fix.
EARTH_RADIUS_M = 6_371_008.8


class Kind(StrEnum):
    LAST_MINUTE_DISPOSAL = "last_minute_disposal"
    REPORTS_OFF_PATROL_AREA = "reports_off_patrol_area"
    VOIDED_THEN_REREPORTED = "voided_then_rereported"
    EXTENSIONS_CONCENTRATED = "extensions_concentrated"


class On(StrEnum):
    """Which figure the detector's ``threshold`` applies to."""

    RATIO = "ratio"  # the subject's figure ÷ the city's baseline
    MEASURE = "measure"  # the subject's figure itself (a share)
    COUNT = "count"  # the number of suspect events


@dataclass(frozen=True)
class Flag:
    """One subject standing out, with everything needed to explain it.

    ``measure`` is the subject's figure (a share, 0–1), ``baseline`` the city's
    figure it is compared with, ``ratio`` = measure ÷ baseline (0 when the baseline is 0),
    ``count`` the number of suspect events (disposals, reports, pairs, extensions),
    ``threshold`` the detector's threshold that was reached (on the figure named by
    ``DETECTORS[kind].threshold_on``), ``cases`` the case numbers to open.
    """

    kind: str
    subject_kind: str
    subject_id: int
    measure: float
    baseline: float
    ratio: float
    count: int
    threshold: float
    cases: tuple[str, ...]
    explanation_zh: str


@dataclass(frozen=True)
class Detector:
    kind: Kind
    subject_kinds: tuple[Subject, ...]
    threshold: float
    threshold_on: On
    min_count: int  # at least this many suspect events
    min_z: float | None  # the one-sided z-test must reach this (None: no test)
    explanation_zh: str  # str.format with measure, baseline, ratio, count, total, z and ``params``
    definition: str  # in words, for the docs and the console's help
    params: Mapping[str, float] = field(default_factory=dict)


DETECTORS: dict[Kind, Detector] = {
    d.kind: d
    for d in (
        Detector(
            Kind.LAST_MINUTE_DISPOSAL,
            (Subject.UNIT,),
            threshold=2.0,
            threshold_on=On.RATIO,
            min_count=10,
            min_z=Z_ONE_SIDED_1_PERCENT,
            explanation_zh=(
                "近 {tail:.0%} 时限内处置占比 {measure:.0%}，全市 {baseline:.0%}（{ratio:.1f} 倍），"
                "共 {count} 件（处置 {total} 件，z = {z:.1f}）"
            ),
            definition="share of the unit's disposals made on time in the last 10 % of the limit, "
            "against the city's share",
            params={"tail": 0.1},
        ),
        Detector(
            Kind.REPORTS_OFF_PATROL_AREA,
            (Subject.INSPECTOR,),
            threshold=0.2,
            threshold_on=On.MEASURE,
            min_count=5,
            min_z=None,
            explanation_zh=(
                "上报点位在巡查区域外（超出 {max_distance_m:.0f} 米）占比 {measure:.0%}，"
                "全市 {baseline:.0%}，共 {count} 件（上报 {total} 件）"
            ),
            definition="share of the inspector's reports more than 200 m outside the patrol area",
            params={"max_distance_m": 200.0},
        ),
        Detector(
            Kind.VOIDED_THEN_REREPORTED,
            (Subject.INSPECTOR, Subject.GRID),
            threshold=3,
            threshold_on=On.COUNT,
            min_count=3,
            min_z=None,
            explanation_zh=(
                "作废后 {window_days:.0f} 天内在 {radius_m:.0f} 米内重报同类问题 {count} 对，"
                "占上报 {measure:.0%}，全市 {baseline:.0%}（上报 {total} 件）"
            ),
            definition="voided cases reported again (same minor category, within 50 m) within 7 days",
            params={"window_days": 7.0, "radius_m": 50.0},
        ),
        Detector(
            Kind.EXTENSIONS_CONCENTRATED,
            (Subject.UNIT,),
            threshold=2.0,
            threshold_on=On.RATIO,
            min_count=5,
            min_z=Z_ONE_SIDED_1_PERCENT,
            explanation_zh=(
                "延期占全市 {measure:.0%}，派遣仅占 {baseline:.0%}（{ratio:.1f} 倍），"
                "共延期 {count} 件（全市 {total} 件，z = {z:.1f}）"
            ),
            definition="the unit's share of approved extensions against its share of dispatches",
        ),
    )
}


# ---------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Disposal:
    """A dispose event (处置反馈) with its disposal stage's outcome."""

    unit_id: int
    case: str
    used_seconds: int
    limit_seconds: int
    on_time: bool


@dataclass(frozen=True)
class PatrolReport:
    """An inspector's report, placed against the inspector's patrol area."""

    inspector_id: int
    case: str
    distance_m: float | None  # from the patrol area's boundary, 0 inside; None when unknown
    under_patrol_area: bool  # the case's area lies in the patrol area's subtree


@dataclass(frozen=True)
class Report:
    """A report (上报) in the period."""

    case: str
    at: datetime
    category: str  # minor code
    lon: float | None
    lat: float | None
    inspector_id: int | None  # the reporting inspector; None for other sources
    grid_id: int


@dataclass(frozen=True)
class Voiding:
    """A void event (作废) and where its case was."""

    case: str
    at: datetime
    category: str
    lon: float | None
    lat: float | None


@dataclass(frozen=True)
class UnitEvent:
    """A dispatch (派遣) or an approved extension (延期) and the unit it concerned."""

    unit_id: int
    case: str


# ---------------------------------------------------------------- the arithmetic


def two_proportion_z(x1: int, n1: int, x2: int, n2: int) -> float | None:
    """One-sided two-proportion z-test: is x1/n1 higher than x2/n2?

    z = (p1 − p2) / √( p̂ (1 − p̂) (1/n1 + 1/n2) ),  p1 = x1/n1,  p2 = x2/n2,
    p̂ = (x1 + x2) / (n1 + n2), the pooled share under "no difference".
    None when there is nothing to compare (an empty side, or p̂ of 0 or 1).
    """
    if n1 <= 0 or n2 <= 0:
        return None
    pooled = (x1 + x2) / (n1 + n2)
    variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if variance <= 0:
        return None
    return (x1 / n1 - x2 / n2) / math.sqrt(variance)


def share_z(x: int, n: int, expected: float) -> float | None:
    """One-sided test that x of n events fall on a subject more often than its expected
    share q (the normal approximation of the binomial):

    z = (x − n·q) / √( n · q · (1 − q) ).

    None when q is 0 or 1 or there are no events.
    """
    if n <= 0 or not 0 < expected < 1:
        return None
    return (x - n * expected) / math.sqrt(n * expected * (1 - expected))


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres (haversine):
    d = 2R · asin √( sin²(Δφ/2) + cos φ1 · cos φ2 · sin²(Δλ/2) )."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlam = phi2 - phi1, math.radians(lon2 - lon1)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlam / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def _share(x: int, n: int) -> float:
    return x / n if n else 0.0


def _ratio(measure: float, baseline: float) -> float:
    return measure / baseline if baseline else 0.0


def _reaches(value: float, threshold: float) -> bool:
    return value >= threshold - _SLACK


def _flag(
    d: Detector,
    subject: Subject,
    subject_id: int,
    *,
    measure: float,
    baseline: float,
    count: int,
    total: int,
    cases: Iterable[str],
    z: float | None = None,
) -> Flag | None:
    """The flag, if the subject crosses every threshold of ``d``; else None."""
    ratio = _ratio(measure, baseline)
    figure = {On.RATIO: ratio, On.MEASURE: measure, On.COUNT: count}[d.threshold_on]
    if count < d.min_count or not _reaches(figure, d.threshold):
        return None
    if d.min_z is not None and (z is None or not _reaches(z, d.min_z)):
        return None
    text = d.explanation_zh.format(
        measure=measure, baseline=baseline, ratio=ratio, count=count, total=total, z=z or 0.0, **d.params
    )
    return Flag(
        d.kind.value, subject.value, subject_id, measure, baseline, ratio, count, d.threshold, tuple(cases), text
    )


def _keep(flags: Iterable[Flag | None]) -> list[Flag]:
    return sorted((f for f in flags if f is not None), key=lambda f: (f.subject_kind, f.subject_id))


# ---------------------------------------------------------------- the detectors


def last_minute_disposal(
    disposals: Iterable[Disposal], detector: Detector = DETECTORS[Kind.LAST_MINUTE_DISPOSAL]
) -> list[Flag]:
    """Units disposing in the last ``tail`` of the limit far more often than the city."""
    tail = detector.params["tail"]
    total: dict[int, int] = defaultdict(int)
    late: dict[int, list[str]] = defaultdict(list)
    for d in disposals:
        total[d.unit_id] += 1
        if d.on_time and d.limit_seconds > 0 and d.used_seconds >= (1 - tail) * d.limit_seconds:
            late[d.unit_id].append(d.case)
    city_total = sum(total.values())
    city_late = sum(len(v) for v in late.values())
    baseline = _share(city_late, city_total)
    flags = []
    for unit_id, n in total.items():
        x = len(late[unit_id])
        # The unit against the rest of the city: the unit's own disposals are not its baseline.
        z = two_proportion_z(x, n, city_late - x, city_total - n)
        flags.append(
            _flag(
                detector,
                Subject.UNIT,
                unit_id,
                measure=_share(x, n),
                baseline=baseline,
                count=x,
                total=n,
                cases=sorted(late[unit_id]),
                z=z,
            )
        )
    return _keep(flags)


def reports_off_patrol_area(
    reports: Iterable[PatrolReport], detector: Detector = DETECTORS[Kind.REPORTS_OFF_PATROL_AREA]
) -> list[Flag]:
    """Inspectors with many reports outside their patrol area."""
    limit = detector.params["max_distance_m"]
    total: dict[int, int] = defaultdict(int)
    off: dict[int, list[str]] = defaultdict(list)
    for r in reports:
        total[r.inspector_id] += 1
        outside = r.distance_m > limit if r.distance_m is not None else not r.under_patrol_area
        if outside:
            off[r.inspector_id].append(r.case)
    baseline = _share(sum(len(v) for v in off.values()), sum(total.values()))
    return _keep(
        _flag(
            detector,
            Subject.INSPECTOR,
            inspector_id,
            measure=_share(len(off[inspector_id]), n),
            baseline=baseline,
            count=len(off[inspector_id]),
            total=n,
            cases=sorted(off[inspector_id]),
        )
        for inspector_id, n in total.items()
    )


def rereport_pairs(
    voids: Iterable[Voiding], reports: Sequence[Report], *, window: timedelta, radius_m: float
) -> list[tuple[Voiding, Report]]:
    """Each voided case with the first report of its minor category within ``radius_m``
    made in the ``window`` after the void (a report pairs with one voided case at most)."""
    by_category: dict[str, list[Report]] = defaultdict(list)
    for r in sorted(reports, key=lambda r: (r.at, r.case)):
        if r.lon is not None and r.lat is not None:
            by_category[r.category].append(r)
    times = {category: [r.at for r in rs] for category, rs in by_category.items()}
    # A box around the point first (cheap), the great-circle distance only inside it.
    dlat = math.degrees(radius_m / EARTH_RADIUS_M) * 1.01
    used: set[str] = set()
    pairs = []
    for v in sorted(voids, key=lambda v: (v.at, v.case)):
        if v.lon is None or v.lat is None:
            continue
        dlon = dlat / max(math.cos(math.radians(v.lat)), 1e-6)
        candidates = by_category.get(v.category, [])
        for r in candidates[bisect_left(times.get(v.category, []), v.at) :]:
            if r.case == v.case or r.case in used:
                continue
            if r.at > v.at + window:
                break
            if abs(r.lat - v.lat) > dlat or abs(r.lon - v.lon) > dlon:
                continue
            if distance_m(v.lon, v.lat, r.lon, r.lat) <= radius_m:
                used.add(r.case)
                pairs.append((v, r))
                break
    return pairs


def voided_then_rereported(
    voids: Iterable[Voiding],
    reports: Sequence[Report],
    detector: Detector = DETECTORS[Kind.VOIDED_THEN_REREPORTED],
) -> list[Flag]:
    """Inspectors and grids with voided cases reported again nearby soon after.

    ``reports`` are the period's reports (the pairs and the shares are of those);
    ``voids`` may start up to the window before the period."""
    window = timedelta(days=detector.params["window_days"])
    pairs = rereport_pairs(voids, reports, window=window, radius_m=detector.params["radius_m"])
    # subject → its reports in the period, and its pairs
    subjects_of = {
        Subject.INSPECTOR: lambda r: r.inspector_id,
        Subject.GRID: lambda r: r.grid_id,
    }
    flags = []
    for subject in detector.subject_kinds:
        of = subjects_of[subject]
        totals: dict[int, int] = defaultdict(int)
        for r in reports:
            if of(r) is not None:
                totals[of(r)] += 1
        found: dict[int, list[tuple[Voiding, Report]]] = defaultdict(list)
        for v, r in pairs:
            if of(r) is not None:
                found[of(r)].append((v, r))
        baseline = _share(sum(len(p) for p in found.values()), sum(totals.values()))
        for subject_id, its_pairs in found.items():
            flags.append(
                _flag(
                    detector,
                    subject,
                    subject_id,
                    measure=_share(len(its_pairs), totals[subject_id]),
                    baseline=baseline,
                    count=len(its_pairs),
                    total=totals[subject_id],
                    cases=[number for v, r in its_pairs for number in (v.case, r.case)],
                )
            )
    return _keep(flags)


def extensions_concentrated(
    dispatches: Iterable[UnitEvent],
    extensions: Iterable[UnitEvent],
    detector: Detector = DETECTORS[Kind.EXTENSIONS_CONCENTRATED],
) -> list[Flag]:
    """Units receiving a far larger share of the extensions than of the dispatches."""
    dispatched: dict[int, int] = defaultdict(int)
    for d in dispatches:
        dispatched[d.unit_id] += 1
    extended: dict[int, list[str]] = defaultdict(list)
    for e in extensions:
        extended[e.unit_id].append(e.case)
    all_dispatches = sum(dispatched.values())
    all_extensions = sum(len(v) for v in extended.values())
    flags = []
    for unit_id, cases in extended.items():
        if not dispatched.get(unit_id):
            continue  # no share of the dispatches to compare with
        expected = dispatched[unit_id] / all_dispatches
        flags.append(
            _flag(
                detector,
                Subject.UNIT,
                unit_id,
                measure=len(cases) / all_extensions,
                baseline=expected,
                count=len(cases),
                total=all_extensions,
                cases=sorted(set(cases)),
                z=share_z(len(cases), all_extensions, expected),
            )
        )
    return _keep(flags)
