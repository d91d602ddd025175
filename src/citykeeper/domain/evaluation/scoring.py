"""Evaluation schemes (评价方案), scores, grades and rankings.

A scheme says, for one kind of subject, which indicators make up the composite (综合指标值),
with what weight and how each is scored:

- ``rate``: 分值 = rate × 100;
- ``bad_rate``: 分值 = (1 − rate) × 100 (返工率, 漏报率, 监督举报率);
- ``bands``: a volume table (立案数分值, 受理数分值, 派遣数分值) mapping a count to points.

Scores are clamped to 0…100 (a 返工率 can pass 100 % when a case is reworked twice).
When an item's rate is ``None`` (nothing was due), its weight is spread over the other
items in proportion to their weights: the composite is Σ score × weight / Σ weight of the
items that have a value. When no item has a value there is no composite, no grade, no rank.

Manual adjustments (人工调整, ``Adjustment``) come last, in this order: an item's adjustment is
added to its 分值, which is clamped to 0…100 again; the composite is summed; the composite's
adjustments are added and it is clamped to 0…100; then it is rounded, graded and ranked.

Schemes are versioned and fingerprinted (sha256 of the canonical JSON), so a published
evaluation can prove which scheme produced it. ``DEFAULT_SCHEMES`` are research/standards.md
§5 (GB/T 30428.4 lineage). People's version: docs/evaluation.md.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from fractions import Fraction
from itertools import pairwise

from citykeeper.domain.errors import InvalidInput
from citykeeper.domain.evaluation.counters import Subject
from citykeeper.domain.evaluation.indicators import (
    BY_CODE,
    DEFAULT_WEIGHTED,
    Computer,
    IndicatorValue,
    Kind,
    Sums,
    applies,
    round_half_up,
)


class Method(StrEnum):
    RATE = "rate"
    BAD_RATE = "bad_rate"
    BANDS = "bands"


class PeerKey(StrEnum):
    """The attribute the services group subjects by before ranking (同类比较)."""

    NONE = "none"  # everyone in one ranking
    AREA_CLASS = "area_class"  # regions: 一类 / 二类 区域 (and the same area level)
    UNIT_GROUP = "unit_group"  # units: street offices in classes A–E, departments in groups
    DISTRICT = "district"  # posts: people of one district's centres


@dataclass(frozen=True)
class Band:
    """``low``…``high`` (inclusive, whole numbers; ``high`` None = and more) → points. A value
    between two bands (an average per grid, say 2.5) falls in the band whose ``low`` it has
    passed: the bands are read as [low, next low)."""

    low: int
    high: int | None
    points: Decimal


@dataclass(frozen=True)
class Item:
    indicator: str
    weight: Decimal  # percent of the composite
    method: Method
    bands: tuple[Band, ...] = ()
    # Regions: score the count per unit grid (a street's 立案数 / its grids), because the
    # 立案数分值 table is written for one grid.
    per_grid: bool = False


@dataclass(frozen=True)
class MinVolume:
    """Below ``threshold`` of ``indicator`` (a count) a subject is listed but not ranked."""

    indicator: str
    threshold: int


DEFAULT_GRADES: tuple[tuple[str, Decimal], ...] = (
    ("A", Decimal(90)),
    ("B", Decimal(75)),
    ("C", Decimal(60)),
    ("D", Decimal(40)),
    ("E", Decimal(0)),
)


@dataclass(frozen=True)
class Scheme:
    code: str  # stable name, e.g. "unit"; (code, version) identifies a scheme
    version: int
    subject: Subject
    label: str  # 中文
    items: tuple[Item, ...]
    multipliers: tuple[tuple[int, Decimal], ...] = ()  # (key-problem category id, factor)
    weighted_rates: tuple[str, ...] = DEFAULT_WEIGHTED
    min_volume: MinVolume | None = None
    grades: tuple[tuple[str, Decimal], ...] = DEFAULT_GRADES
    peer_key: PeerKey = PeerKey.NONE

    # -- checking -------------------------------------------------------------------------

    def validate(self) -> Scheme:
        """Refuse a scheme that cannot be scored fairly; returns the scheme when it can."""
        if not self.code:
            raise InvalidInput("A scheme needs a code.", field="code")
        if not isinstance(self.subject, Subject):
            raise InvalidInput(f"Unknown subject kind {self.subject!r}.", field="subject")
        if not isinstance(self.peer_key, PeerKey):
            raise InvalidInput(f"Unknown peer key {self.peer_key!r}.", field="peer_key")
        if not isinstance(self.version, int) or self.version < 1:
            raise InvalidInput(f"The version must be a whole number ≥ 1, not {self.version!r}.", field="version")
        if not self.items:
            raise InvalidInput("A scheme needs at least one scored indicator.", field="items")
        seen: set[str] = set()
        for n, item in enumerate(self.items):
            self._check_item(n, item)
            if item.indicator in seen:
                raise InvalidInput(f"Indicator '{item.indicator}' is scored twice.", field=f"items[{n}].indicator")
            seen.add(item.indicator)
        total = sum((item.weight for item in self.items), Decimal(0))
        if total != 100:
            raise InvalidInput(
                f"The weights add up to {total} %; they must add up to exactly 100 %.", field="weights", total=total
            )
        self._check_multipliers()
        if self.min_volume is not None:
            self._check_min_volume(self.min_volume)
        self._check_grades()
        return self

    def _applicable(self, code: str, where: str):
        ind = BY_CODE.get(code)
        if ind is None:
            raise InvalidInput(f"There is no indicator '{code}'.", field=where, indicator=code)
        if not applies(ind, self.subject):
            raise InvalidInput(
                f"Indicator '{code}' ({ind.label}) does not apply to {self.subject.value} subjects.",
                field=where,
                indicator=code,
            )
        return ind

    def _check_item(self, n: int, item: Item) -> None:
        at = f"items[{n}]"
        ind = self._applicable(item.indicator, f"{at}.indicator")
        if not isinstance(item.weight, Decimal) or not item.weight.is_finite() or item.weight <= 0:
            raise InvalidInput(f"The weight of '{item.indicator}' must be a number > 0.", field=f"{at}.weight")
        wanted = Kind.COUNT if item.method is Method.BANDS else Kind.RATE
        if ind.kind is not wanted:
            raise InvalidInput(
                f"'{item.indicator}' is a {ind.kind.value}; method '{item.method.value}' needs a {wanted.value}.",
                field=f"{at}.method",
            )
        if item.method is Method.BANDS:
            _check_bands(item.bands, f"{at}.bands")
        elif item.bands:
            raise InvalidInput(f"Only the 'bands' method takes bands ('{item.indicator}').", field=f"{at}.bands")
        if item.per_grid and (item.method is not Method.BANDS or self.subject is not Subject.GRID):
            raise InvalidInput("Only region volume bands can be scored per unit grid.", field=f"{at}.per_grid")

    def _check_multipliers(self) -> None:
        keys = [k for k, _ in self.multipliers]
        if len(set(keys)) != len(keys):
            raise InvalidInput("A key problem has two multipliers.", field="multipliers")
        for key, factor in self.multipliers:
            if not isinstance(key, int) or isinstance(key, bool) or key <= 0:
                raise InvalidInput(
                    f"A multiplier's key must be a category id > 0 (0 means no key problem), not {key!r}.",
                    field="multipliers",
                )
            if not isinstance(factor, Decimal) or not factor.is_finite() or factor < 1:
                raise InvalidInput(
                    f"The multiplier of key problem {key} is {factor}; a multiplier must be at least 1.",
                    field="multipliers",
                    key=key,
                )
        for code in self.weighted_rates:
            if self._applicable(code, "weighted_rates").kind is not Kind.RATE:
                raise InvalidInput(f"Multipliers apply to rates only; '{code}' is not a rate.", field="weighted_rates")

    def _check_min_volume(self, mv: MinVolume) -> None:
        if self._applicable(mv.indicator, "min_volume").kind is not Kind.COUNT:
            raise InvalidInput(f"The minimum volume must be a count; '{mv.indicator}' is not.", field="min_volume")
        if not isinstance(mv.threshold, int) or isinstance(mv.threshold, bool) or mv.threshold < 0:
            raise InvalidInput(
                f"The minimum volume must be a whole number ≥ 0, not {mv.threshold!r}.", field="min_volume"
            )

    def _check_grades(self) -> None:
        letters = [g for g, _ in self.grades]
        minima = [m for _, m in self.grades]
        if not self.grades or len(set(letters)) != len(letters) or not all(letters):
            raise InvalidInput("Grades need distinct, non-empty names.", field="grades")
        if any(not isinstance(m, Decimal) or not 0 <= m <= 100 for m in minima):
            raise InvalidInput("Grade thresholds must be numbers from 0 to 100.", field="grades")
        if any(a <= b for a, b in pairwise(minima)):
            raise InvalidInput(
                f"Grade thresholds must descend strictly ({', '.join(map(str, minima))}).", field="grades"
            )
        if minima[-1] != 0:
            raise InvalidInput("The lowest grade must start at 0, so every composite has a grade.", field="grades")

    # -- identity -------------------------------------------------------------------------

    def as_dict(self) -> dict:
        return {
            "code": self.code,
            "version": self.version,
            "subject": self.subject.value,
            "label": self.label,
            "items": [
                {
                    "indicator": i.indicator,
                    "weight": _num(i.weight),
                    "method": i.method.value,
                    "bands": [[b.low, b.high, _num(b.points)] for b in i.bands],
                    "per_grid": i.per_grid,
                }
                for i in self.items
            ],
            "multipliers": [[k, _num(f)] for k, f in sorted(self.multipliers)],
            "weighted_rates": sorted(self.weighted_rates),
            "min_volume": None
            if self.min_volume is None
            else {"indicator": self.min_volume.indicator, "threshold": self.min_volume.threshold},
            "grades": [[g, _num(m)] for g, m in self.grades],
            "peer_key": self.peer_key.value,
        }

    def fingerprint(self) -> str:
        """sha256 of the canonical JSON: equal for equal schemes, whatever order the
        multipliers were given in or how a weight was written (30 vs 30.0)."""
        text = json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()

    @classmethod
    def from_dict(cls, data: Mapping) -> Scheme:
        """The inverse of ``as_dict`` (for schemes stored as JSON); validated."""
        try:
            mv = data.get("min_volume")
            scheme = cls(
                code=str(data["code"]),
                version=data["version"],
                subject=Subject(data["subject"]),
                label=str(data.get("label", "")),
                items=tuple(
                    Item(
                        indicator=i["indicator"],
                        weight=_dec(i["weight"]),
                        method=Method(i["method"]),
                        bands=tuple(Band(lo, hi, _dec(p)) for lo, hi, p in i.get("bands", ())),
                        per_grid=bool(i.get("per_grid", False)),
                    )
                    for i in data["items"]
                ),
                multipliers=tuple((int(k), _dec(f)) for k, f in data.get("multipliers", ())),
                weighted_rates=tuple(data.get("weighted_rates", DEFAULT_WEIGHTED)),
                min_volume=None if mv is None else MinVolume(mv["indicator"], mv["threshold"]),
                grades=tuple((g, _dec(m)) for g, m in data.get("grades", [[g, m] for g, m in DEFAULT_GRADES])),
                peer_key=PeerKey(data.get("peer_key", PeerKey.NONE)),
            )
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            raise InvalidInput(f"The scheme is not well formed: {exc!r}.", field="scheme") from None
        return scheme.validate()


def _num(d: Decimal) -> str:
    text = format(d.normalize(), "f")
    return text


def _dec(v: object) -> Decimal:
    d = Decimal(str(v))
    if not d.is_finite():
        raise ValueError(f"not a number: {v!r}")
    return d


def _check_bands(bands: tuple[Band, ...], where: str) -> None:
    if not bands:
        raise InvalidInput("A volume table needs at least one band.", field=where)
    expected = 0
    for n, b in enumerate(bands):
        if b.low != expected:
            what = "start at 0" if n == 0 else f"continue at {expected}"
            raise InvalidInput(
                f"The bands must {what} without gaps or overlaps (band {n} starts at {b.low}).", field=where
            )
        if not isinstance(b.points, Decimal) or not 0 <= b.points <= 100:
            raise InvalidInput(f"Band {n} gives {b.points} points; points must be 0…100.", field=where)
        if b.high is None:
            if n != len(bands) - 1:
                raise InvalidInput(f"Only the last band may be open-ended (band {n} is).", field=where)
            return
        if b.high < b.low:
            raise InvalidInput(f"Band {n} ends ({b.high}) before it starts ({b.low}).", field=where)
        expected = b.high + 1
    raise InvalidInput(f"The last band must be open-ended ('{expected} and more').", field=where)


def band_points(bands: tuple[Band, ...], value: Fraction) -> Decimal:
    points = bands[0].points
    for b in bands:
        if value >= b.low:
            points = b.points
    return points


# -- default schemes (research/standards.md §5) -----------------------------------------------


def _bands(*rows: tuple[int, int | None, int]) -> tuple[Band, ...]:
    return tuple(Band(lo, hi, Decimal(p)) for lo, hi, p in rows)


def _item(indicator: str, weight: int, method: str, bands: tuple[Band, ...] = (), per_grid: bool = False) -> Item:
    return Item(indicator, Decimal(weight), Method(method), bands, per_grid)


# 立案数分值 of one unit grid per period, 一类 and 二类 区域 (§5.2): fewer cases, more points.
REGION_FILED_BANDS = {
    "1": _bands((0, 0, 100), (1, 2, 90), (3, 4, 75), (5, 6, 60), (7, 8, 40), (9, None, 0)),
    "2": _bands((0, 0, 100), (1, 3, 90), (4, 5, 75), (6, 7, 60), (8, 9, 40), (10, None, 0)),
}
# 部门 立案数分值 (§5.3). The source gives "501–1000 → 40, ≥1000 → 0"; 1000 is read as 40.
UNIT_DISPATCHED_BANDS = _bands(
    (0, 50, 100), (51, 100, 90), (101, 200, 75), (201, 500, 60), (501, 1000, 40), (1001, None, 0)
)
# 受理数分值 / 派遣数分值 (§5.4): more work, more points.
POST_VOLUME_BANDS = _bands(
    (0, 100, 0), (101, 300, 40), (301, 500, 60), (501, 1200, 75), (1201, 2000, 90), (2001, None, 100)
)

# Which 区域评价 table an area class (A/B/C, as on ``Area.area_class``) uses: the core area
# (A) is 一类, the rest 二类. Configuration; services may override it.
REGION_CLASS_OF_AREA_CLASS = {"A": "1", "B": "2", "C": "2"}


def _region(area_class: str) -> Scheme:
    # The source's weights (10/20/30/10) add up to 70 %; 按期结案率 is read as 40 % (§5.2).
    return Scheme(
        code=f"region-{area_class}",
        version=1,
        subject=Subject.GRID,
        label=f"区域评价（{'一' if area_class == '1' else '二'}类区域）",
        items=(
            _item("public_report_rate", 10, "bad_rate"),
            _item("filed", 20, "bands", REGION_FILED_BANDS[area_class], per_grid=True),
            _item("closure_rate", 30, "rate"),
            _item("on_time_closure_rate", 40, "rate"),
        ),
        peer_key=PeerKey.AREA_CLASS,
    )


DEFAULT_SCHEMES: dict[str, Scheme] = {
    s.code: s
    for s in (
        _region("1"),
        _region("2"),
        Scheme(
            code="unit",
            version=1,
            subject=Subject.UNIT,
            label="部门评价",
            items=(
                _item("dispatched", 10, "bands", UNIT_DISPATCHED_BANDS),
                _item("closure_rate", 30, "rate"),
                _item("on_time_disposal_rate", 30, "rate"),
                _item("rework_rate", 30, "bad_rate"),
            ),
            min_volume=MinVolume("close_due", 5),
            peer_key=PeerKey.UNIT_GROUP,
        ),
        Scheme(
            code="inspector",
            version=1,
            subject=Subject.INSPECTOR,
            label="监督员评价",
            items=(
                _item("valid_report_rate", 40, "rate"),
                _item("missed_report_rate", 20, "bad_rate"),
                _item("verify_on_time_rate", 20, "rate"),
                _item("check_on_time_rate", 20, "rate"),
            ),
            weighted_rates=(),
            min_volume=MinVolume("reported", 10),
        ),
        Scheme(
            code="operator",
            version=1,
            subject=Subject.OPERATOR,
            label="受理员评价",
            items=(
                _item("accepted", 25, "bands", POST_VOLUME_BANDS),
                _item("verify_sent_on_time_rate", 40, "rate"),
                _item("check_sent_on_time_rate", 35, "rate"),
            ),
            weighted_rates=(),
            min_volume=MinVolume("accepted", 50),
        ),
        Scheme(
            code="shift_lead",
            version=1,
            subject=Subject.SHIFT_LEAD,
            label="值班长评价",
            items=(
                _item("filing_on_time_rate", 25, "rate"),
                _item("accurate_filing_rate", 40, "rate"),
                _item("closing_on_time_rate", 35, "rate"),
            ),
            weighted_rates=(),
            min_volume=MinVolume("filed", 50),
        ),
        Scheme(
            code="dispatcher",
            version=1,
            subject=Subject.DISPATCHER,
            label="派遣员评价",
            items=(
                _item("dispatched", 20, "bands", POST_VOLUME_BANDS),
                _item("dispatch_on_time_rate", 40, "rate"),
                _item("accurate_dispatch_rate", 40, "rate"),
            ),
            weighted_rates=(),
            min_volume=MinVolume("dispatched", 50),
        ),
    )
}
# 监督员外包公司: an inspection contractor is scored as its inspectors are, on the sums of their
# counters (the services roll them up); all contractors form one peer group.
DEFAULT_SCHEMES["contractor"] = replace(
    DEFAULT_SCHEMES["inspector"], code="contractor", subject=Subject.CONTRACTOR, label="监督员外包公司评价"
)


# -- 抽查 in the schemes ------------------------------------------------------------------------

# Version 1 of every scheme is the standard's and scores no 抽查 (random re-verification)
# result. The recommended next version of the schemes 抽查 judges (``with_sampling``, recorded
# with the reason ``SAMPLING_REASON``): each rate of the standard gives up 5 points, which go to
# 抽查合格率 (units) or to 抽查漏报率 and 核查失实率 (inspectors, contractors); the volume band
# keeps its 10.
SAMPLING_REASON = "加入抽查指标"
SAMPLING_WEIGHTS: dict[str, dict[str, int]] = {
    "unit": {
        "dispatched": 10,
        "closure_rate": 25,
        "on_time_disposal_rate": 25,
        "rework_rate": 25,
        "sample_pass_rate": 15,
    },
    "inspector": {
        "valid_report_rate": 35,
        "missed_report_rate": 15,
        "verify_on_time_rate": 15,
        "check_on_time_rate": 15,
        "sample_miss_rate": 10,
        "false_check_rate": 10,
    },
}
SAMPLING_WEIGHTS["contractor"] = SAMPLING_WEIGHTS["inspector"]
# How the 抽查 indicators are scored.
SAMPLING_METHODS = {
    "sample_pass_rate": Method.RATE,
    "sample_miss_rate": Method.BAD_RATE,
    "false_check_rate": Method.BAD_RATE,
}


def with_sampling(scheme: Scheme) -> Scheme:
    """The next version of ``scheme`` with the recommended 抽查 weights (``SAMPLING_WEIGHTS``):
    its items keep their methods and bands, the 抽查 items are added; everything else (key
    problems, minimum volume, grades, peers) stays. Refused for a scheme 抽查 does not judge,
    one that scores 抽查 already, and one whose items are not the standard's (its indicators or
    weights were changed by hand: add the 抽查 items the same way, keeping those choices)."""
    weights = SAMPLING_WEIGHTS.get(scheme.code)
    if weights is None:
        known = ", ".join(SAMPLING_WEIGHTS)
        raise InvalidInput(f"抽查 judges no subject of scheme '{scheme.code}' (only {known}).", field="scheme")
    mine = {item.indicator: item for item in scheme.items}
    if set(mine) & set(SAMPLING_METHODS):
        raise InvalidInput(
            f"Scheme '{scheme.code}' v{scheme.version} scores 抽查 already.", field="scheme", reason="sampled"
        )
    standard = DEFAULT_SCHEMES[scheme.code].items
    if scheme.items != standard:
        shown = " · ".join(f"{i.indicator} {_num(i.weight)}" for i in standard)
        raise InvalidInput(
            f"Scheme '{scheme.code}' v{scheme.version} does not score the standard's items ({shown}): "
            f"add the 抽查 items to it by hand.",
            field="items",
        )
    items = tuple(
        replace(mine[code], weight=Decimal(weight))
        if code in mine
        else Item(code, Decimal(weight), SAMPLING_METHODS[code])
        for code, weight in weights.items()
    )
    return replace(scheme, version=scheme.version + 1, items=items).validate()


# -- manual adjustments (人工调整) --------------------------------------------------------------

# The most an adjustment may add or take away, in points of the composite (or of one item's
# 分值). Larger corrections belong in the cases or the scheme, where they are visible as such.
MAX_ADJUSTMENT = Decimal(10)


@dataclass(frozen=True)
class Adjustment:
    """A manual adjustment of one subject's composite (``indicator`` "") or of one scored
    item's 分值, in points, recorded with who and why by the services."""

    id: int
    points: Decimal
    indicator: str = ""


@dataclass(frozen=True)
class AppliedAdjustment:
    id: int
    indicator: str
    points: Decimal
    applied: bool  # False: the item is not in the scheme or had no 分值, or there was no composite


def check_adjustment(scheme: Scheme, points: object, indicator: str = "") -> Decimal:
    """The points of an adjustment, refused unless a number of at most 2 decimals, not 0, within
    ±``MAX_ADJUSTMENT``, of the composite or of an item the scheme scores."""
    try:
        value = Decimal(str(points).strip())
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or value != value.quantize(Decimal("0.01")):
        raise InvalidInput(f"Points must be a number with at most 2 decimals, not {points!r}.", field="points")
    if value == 0 or abs(value) > MAX_ADJUSTMENT:
        raise InvalidInput(
            f"An adjustment is between −{MAX_ADJUSTMENT} and +{MAX_ADJUSTMENT} points and not 0, not {value}.",
            field="points",
            limit=MAX_ADJUSTMENT,
        )
    if indicator and indicator not in {i.indicator for i in scheme.items}:
        raise InvalidInput(f"Scheme '{scheme.code}' does not score '{indicator}'.", field="indicator")
    return value


# -- scoring ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemScore:
    indicator: str
    weight: Decimal  # as in the scheme
    method: Method
    value: Fraction | None  # the rate, or the count (per grid for per-grid bands)
    score: Fraction | None  # 分值, 0…100; None when the rate is None
    effective_weight: Fraction | None  # percent, after spreading the weights of None items
    points: Fraction | None  # score × effective weight / 100: this item's share of the composite
    adjustment: Fraction | None = None  # points added to the 分值 by hand (before clamping)


@dataclass(frozen=True)
class NotRanked:
    """Why a subject is listed but not ranked, as data (``reason`` says it in English)."""

    why: str  # "nothing_due" or "below_minimum"
    indicator: str | None = None  # the minimum-volume indicator
    count: int | None = None  # its value in the period
    minimum: int | None = None  # the scheme's threshold


@dataclass(frozen=True)
class SubjectResult:
    subject_id: object
    group: object
    indicators: dict[str, IndicatorValue]
    items: tuple[ItemScore, ...]
    composite: Decimal | None  # 综合指标值, 2 places, half up
    grade: str | None
    ranked: bool
    reason: str | None  # why not ranked
    rank: int | None = None  # within the peer group; equal composites share a rank (1, 1, 3)
    group_size: int = 0  # ranked subjects in the peer group
    not_ranked: NotRanked | None = None
    adjustments: tuple[AppliedAdjustment, ...] = ()
    unadjusted: Decimal | None = None  # the composite before adjustments, when there are any


@dataclass(frozen=True)
class Results:
    scheme_code: str
    scheme_version: int
    fingerprint: str
    subjects: dict[object, SubjectResult] = field(default_factory=dict)


def _clamp(x: Fraction) -> Fraction:
    return min(max(x, _ZERO), _HUNDRED)


_ZERO, _HUNDRED = Fraction(0), Fraction(100)


def _item_score(item: Item, value: IndicatorValue, grids: int) -> tuple[Fraction | None, Fraction | None]:
    if item.method is Method.BANDS:
        v = value.numerator / grids if item.per_grid else value.numerator
        return v, Fraction(band_points(item.bands, v))
    if value.value is None:
        return None, None
    rate = value.value
    return rate, _clamp(rate * 100 if item.method is Method.RATE else (1 - rate) * 100)


def grade(scheme: Scheme, composite: Decimal) -> str:
    for letter, minimum in scheme.grades:
        if composite >= minimum:
            return letter
    return scheme.grades[-1][0]


def _figure(item: Item, value: IndicatorValue, grids: int) -> tuple:
    """What an item's 分值 depends on, as whole numbers (a key for ``_Scorer``'s memos)."""
    if item.method is Method.BANDS:
        n = value.numerator
        return (n.numerator, n.denominator, grids if item.per_grid else 1)
    rate = value.value
    return () if rate is None else (rate.numerator, rate.denominator)


class _Scorer:
    """One scheme's scoring, prepared once for all the subjects ``score`` is given: the
    indicator table (``Computer``), the items' weights, and memos of what equal figures give (an
    item's 分值 and points for the same value and the same items present, a composite's
    rounding and grade). The memoised values are immutable; a city's grids repeat the same
    small figures thousands of times."""

    def __init__(self, scheme: Scheme) -> None:
        self.scheme = scheme
        self.values = Computer(scheme.subject, multipliers=dict(scheme.multipliers), weighted=scheme.weighted_rates)
        self.items = tuple(enumerate(scheme.items))
        self._scores: dict[tuple, tuple[Fraction | None, Fraction | None]] = {}
        self._spread: dict[tuple[bool, ...], tuple[Fraction, tuple[Fraction | None, ...]]] = {}
        self._items: dict[tuple, ItemScore] = {}
        self._rounded: dict[Fraction, tuple[Decimal, str]] = {}

    def _weights(self, present: tuple[bool, ...]) -> tuple[Fraction, tuple[Fraction | None, ...]]:
        """Σ weight of the items that have a 分值, and each one's effective weight (percent)."""
        found = self._spread.get(present)
        if found is None:
            total = sum((Fraction(item.weight) for (_, item), p in zip(self.items, present, strict=True) if p), _ZERO)
            effective = tuple(
                Fraction(item.weight) * 100 / total if p else None
                for (_, item), p in zip(self.items, present, strict=True)
            )
            found = self._spread[present] = (total, effective)
        return found

    def _composite(self, exact: Fraction) -> tuple[Decimal, str]:
        found = self._rounded.get(exact)
        if found is None:
            composite = round_half_up(exact)
            # The grade is read off the printed composite, so 89.995 (shown 90.00) is an A.
            found = self._rounded[exact] = (composite, grade(self.scheme, composite))
        return found

    def one(self, sums: Sums, grids: int, adjustments: tuple[Adjustment, ...]) -> dict:
        """One subject's indicators, items, composite, grade and whether it can be ranked."""
        scheme = self.scheme
        values = self.values(sums)
        keys = tuple((n, *_figure(item, values[item.indicator], grids)) for n, item in self.items)
        items, composite, letter, applied, unadjusted = self._scored(values, keys, grids, adjustments)
        reason, not_ranked = None, None
        if composite is None:
            reason = "nothing was due for any scored indicator in the period"
            not_ranked = NotRanked("nothing_due")
        elif scheme.min_volume is not None:
            mv = scheme.min_volume
            count = values[mv.indicator].numerator
            if count < mv.threshold:
                label = BY_CODE[mv.indicator].label
                reason = (
                    f"{count} {label} ({mv.indicator}) in the period, below the minimum of {mv.threshold} for ranking"
                )
                not_ranked = NotRanked("below_minimum", mv.indicator, int(count), mv.threshold)
        return {
            "indicators": values,
            "items": items,
            "composite": composite,
            "grade": letter,
            "ranked": reason is None,
            "reason": reason,
            "not_ranked": not_ranked,
            "adjustments": applied,
            "unadjusted": unadjusted,
        }

    def _scored(
        self, values: dict[str, IndicatorValue], keys: tuple, grids: int, adjustments: tuple[Adjustment, ...]
    ) -> tuple:
        """(items, composite, grade, adjustments as applied, composite before them)."""
        raw = []
        for key, (_, item) in zip(keys, self.items, strict=True):
            scored = self._scores.get(key)
            if scored is None:
                scored = self._scores[key] = _item_score(item, values[item.indicator], grids)
            raw.append((key, item, *scored))
        pattern = tuple(s is not None for _, _, _, s in raw)
        present, effective = self._weights(pattern)
        by_item: dict[str, Fraction] = {}
        for a in adjustments:
            by_item[a.indicator] = by_item.get(a.indicator, Fraction(0)) + Fraction(a.points)
        items = []
        composite_exact = Fraction(0)
        for (key, item, v, plain), eff in zip(raw, effective, strict=True):
            added = None if plain is None else by_item.get(item.indicator)
            if added is None:
                found = self._items.get((key, pattern))
                if found is None:
                    found = self._items[(key, pattern)] = (
                        ItemScore(item.indicator, item.weight, item.method, v, None, None, None)
                        if plain is None
                        else ItemScore(item.indicator, item.weight, item.method, v, plain, eff, plain * eff / 100)
                    )
            else:
                s = _clamp(plain + added)
                found = ItemScore(item.indicator, item.weight, item.method, v, s, eff, s * eff / 100, added)
            if found.points is not None:
                composite_exact += found.points
            items.append(found)
        unadjusted = round_half_up(_unadjusted(raw, present)) if present and adjustments else None
        if present and "" in by_item:
            composite_exact = _clamp(composite_exact + by_item[""])
        composite, letter = self._composite(composite_exact) if present else (None, None)
        scored_items = {i.indicator for i in items if i.score is not None}
        applied = tuple(
            AppliedAdjustment(
                a.id, a.indicator, a.points, bool(present) and (a.indicator == "" or a.indicator in scored_items)
            )
            for a in adjustments
        )
        return tuple(items), composite, letter, applied, unadjusted


def _unadjusted(raw, present: Fraction) -> Fraction:
    return sum((s * Fraction(item.weight) / present for _, item, _, s in raw if s is not None), Fraction(0))


def score(
    scheme: Scheme,
    subjects: Mapping[object, Sums],
    groups: Mapping[object, object] | None = None,
    *,
    grids: Mapping[object, int] | None = None,
    adjustments: Mapping[object, tuple[Adjustment, ...]] | None = None,
) -> Results:
    """Score every subject and rank the ranked ones within their peer group.

    ``subjects``: subject id → counter sums (``{counter: n}`` or ``{(counter, key): n}``).
    ``groups``: subject id → peer group (required for every subject unless the scheme's peer
    key is ``none``). ``grids``: subject id → number of unit grids, for per-grid bands.
    ``adjustments``: subject id → its manual adjustments (others' are ignored).
    """
    scheme.validate()
    adjustments = adjustments or {}
    groups = dict(groups or {})
    for sid in groups:
        if sid not in subjects:
            raise InvalidInput(f"Peer group given for unknown subject {sid!r}.", field="groups", subject=sid)
    if scheme.peer_key is not PeerKey.NONE:
        missing = [sid for sid in subjects if sid not in groups]
        if missing:
            raise InvalidInput(
                f"Scheme '{scheme.code}' ranks by {scheme.peer_key.value}; subject {missing[0]!r} has no peer group.",
                field="groups",
                subject=missing[0],
            )
    per_grid = any(i.per_grid for i in scheme.items)
    grids = dict(grids or {})
    for sid in grids:
        if sid not in subjects:
            raise InvalidInput(f"Grid count given for unknown subject {sid!r}.", field="grids", subject=sid)
    if per_grid:
        for sid in subjects:
            n = grids.get(sid)
            if not isinstance(n, int) or isinstance(n, bool) or n < 1:
                raise InvalidInput(
                    f"Region {sid!r} needs its number of unit grids (≥ 1) to score volume per grid.",
                    field="grids",
                    subject=sid,
                )
    scorer = _Scorer(scheme)
    scored = {
        sid: scorer.one(sums, grids.get(sid, 1) if per_grid else 1, tuple(adjustments.get(sid, ())))
        for sid, sums in subjects.items()
    }
    ranked_by_group: dict[object, list[object]] = {}
    for sid, r in scored.items():
        if r["ranked"]:
            ranked_by_group.setdefault(groups.get(sid), []).append(sid)
    ranks: dict[object, tuple[int, int]] = {}
    for members in ranked_by_group.values():
        members.sort(key=lambda sid: scored[sid]["composite"], reverse=True)
        # Competition ranking: 1 + how many in the group scored strictly more (1, 1, 3).
        rank, last = 0, None
        for n, sid in enumerate(members, start=1):
            composite = scored[sid]["composite"]
            if n == 1 or composite != last:
                rank, last = n, composite
            ranks[sid] = (rank, len(members))
    ordered = sorted(ranks, key=lambda sid: (str(groups.get(sid)), ranks[sid][0]))
    ordered += [sid for sid, r in scored.items() if not r["ranked"]]
    results = {}
    for sid in ordered:
        rank, size = ranks.get(sid, (None, 0))
        results[sid] = SubjectResult(subject_id=sid, group=groups.get(sid), rank=rank, group_size=size, **scored[sid])
    return Results(scheme.code, scheme.version, scheme.fingerprint(), results)


# -- 同比 / 环比 -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    before: Fraction | None
    after: Fraction | None
    difference: Fraction | None  # after − before (rates: in fractions of 1; × 100 = points)
    growth: Fraction | None  # (after − before) / before; None when before is 0 or None


@dataclass(frozen=True)
class Delta:
    subject_id: object
    composite: Decimal | None  # now − then
    rank_change: int | None  # then − now: positive means the subject moved up
    grade_before: str | None
    grade_after: str | None
    indicators: dict[str, Change]
    same_scheme: bool  # False: the weights changed between the periods, compare with care


def _change(before: Fraction | None, after: Fraction | None) -> Change:
    if before is None or after is None:
        return Change(before, after, None, None)
    diff = after - before
    return Change(before, after, diff, diff / before if before else None)


def _changes(then: dict[str, IndicatorValue], now: dict[str, IndicatorValue], made: dict) -> dict[str, Change]:
    """Each indicator's change from ``then`` to ``now``; ``made``: the changes made so far, by
    the two values as whole numbers (a denominator 0 for 不适用), shared as they are immutable."""
    out = {}
    for code, value in now.items():
        was = then.get(code)
        if was is None:
            continue
        before, after = was.value, value.value
        bn, bd = (0, 0) if before is None else (before.numerator, before.denominator)
        an, ad = (0, 0) if after is None else (after.numerator, after.denominator)
        found = made.get((bn, bd, an, ad))
        if found is None:
            found = made[(bn, bd, an, ad)] = _change(before, after)
        out[code] = found
    return out


def _rated(result: SubjectResult) -> bool:
    """Whether any rate of the result was scored (something was due in the period)."""
    return any(item.score is not None and item.method is not Method.BANDS for item in result.items)


def compare(current: Results, previous: Results) -> dict[object, Delta]:
    """Year-on-year (同比) or month-on-month (环比): ``previous`` is the result of
    ``period.year_ago()`` or ``period.previous()``. Subjects new in ``current`` get a Delta
    with no differences; subjects gone since ``previous`` are left out."""
    same = current.fingerprint == previous.fingerprint
    out: dict[object, Delta] = {}
    made: dict = {}
    for sid, now in current.subjects.items():
        then = previous.subjects.get(sid)
        if then is None:
            out[sid] = Delta(sid, None, None, None, now.grade, {}, same)
            continue
        # A composite made of volume bands alone (nothing was due: every rate 不适用) is not a
        # performance to compare with: a month without cases would read as a fall from 100.
        if not (_rated(now) and _rated(then)):
            out[sid] = Delta(sid, None, None, None, now.grade, _changes(then.indicators, now.indicators, made), same)
            continue
        composite = None if now.composite is None or then.composite is None else now.composite - then.composite
        moved = None if now.rank is None or then.rank is None else then.rank - now.rank
        changes = _changes(then.indicators, now.indicators, made)
        out[sid] = Delta(sid, composite, moved, then.grade, now.grade, changes, same)
    return out
