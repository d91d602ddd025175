"""Indicators (评价指标): every count, rate and average of 综合评价, as one table.

An indicator is a counter (``counters.COUNTERS``) or a ratio of counter sums. ``compute``
turns one subject's counter sums into the value of every indicator that applies to it.

Counter sums arrive per key: ``{(counter, key): value}``, where ``key`` is the category id
of a key problem (重点问题, e.g. 占道经营, 暴露垃圾, 新增违法建设) and 0 for everything
else. A scheme may count key problems several times (2×, 3×, 5×) in the rates it names
(by default 结案率 and 按期结案率): there both numerator and denominator are
Σ value × factor(key). Every other indicator is the plain sum over keys.

Values are exact (``Fraction``); a rate whose denominator is 0 is ``None`` (不适用, nothing
was due), never 0 % or 100 %. Rounding happens only for display (``IndicatorValue.display``).
Formulas in words, with the standard's text next to each: ``docs/evaluation.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from fractions import Fraction

from citykeeper.domain.errors import InvalidInput
from citykeeper.domain.evaluation.counters import BY_NAME, COUNTERS, Subject, counted_as

GRID, UNIT, INSP = Subject.GRID, Subject.UNIT, Subject.INSPECTOR
OPER, LEAD, DISP = Subject.OPERATOR, Subject.SHIFT_LEAD, Subject.DISPATCHER


class Kind(StrEnum):
    COUNT = "count"
    RATE = "rate"  # numerator / denominator, shown as a percentage
    AVERAGE = "average"  # numerator / denominator × scale, shown in ``unit``


class Direction(StrEnum):
    GOOD = "good"  # higher is better
    BAD = "bad"  # higher is worse


class Source(StrEnum):
    """How sure we are that the formula is the standard's (see research/standards.md §5)."""

    V_IMPL = "V-impl"  # seen in a real implementation; probable GB/T 30428.4 text
    INF = "INF"  # no standard formula found; our definition


@dataclass(frozen=True)
class Indicator:
    code: str
    label: str  # 中文, as printed in bulletins
    kind: Kind
    numerator: tuple[str, ...]  # counters summed
    denominator: tuple[str, ...]  # counters summed; () for counts
    direction: Direction
    unit: str
    formula: str  # the standard's formula as written (or ours, see ``source``)
    subjects: tuple[Subject, ...]  # subject kinds it applies to
    source: Source = Source.V_IMPL
    scale: Fraction = Fraction(1)  # averages: seconds → hours


# Counts whose growth is bad news; every other count is volume (more is neither better nor
# worse in itself, and shown as "good" so arrows do not alarm anyone).
_BAD_COUNTS = frozenset(
    {
        "missed",
        "voided",
        "overdue_undisposed",
        "overdue_unclosed",
        "rework",
        "returned",
        "extended",
        "suspended",
        "urged",
        "reopened",
        "sample_checked_failed",
        "sample_grids_missed",
        "sample_missed",
    }
)

# Counters that are no indicator by themselves (only an average's numerator).
_NOT_A_COUNT = frozenset({"handling_seconds"})


def _count(name: str) -> Indicator:
    c = BY_NAME[name]
    return Indicator(
        code=name,
        label=c.label,
        kind=Kind.COUNT,
        numerator=(name,),
        denominator=(),
        direction=Direction.BAD if name in _BAD_COUNTS else Direction.GOOD,
        unit="件",
        formula=f"{c.label}: {c.definition}",
        subjects=c.subjects,
    )


def _rate(code, label, num, den, direction, formula, subjects, source=Source.V_IMPL) -> Indicator:  # noqa: PLR0917 (a table row)
    return Indicator(code, label, Kind.RATE, (num,), (den,), Direction(direction), "%", formula, subjects, source)


_RATES = (
    # 区域评价 and 部门评价 (standards.md §5.2, §5.3)
    _rate("closure_rate", "结案率", "closed", "close_due", "good", "结案率 = 结案数 / 应结案数 × 100%", (GRID, UNIT)),
    _rate(
        "on_time_closure_rate",
        "按期结案率",
        "closed_on_time",
        "close_due",
        "good",
        "按期结案率 = 按期结案数 / 应结案数 × 100%",
        (GRID, UNIT),
    ),
    _rate(
        "disposal_rate", "处置率", "disposed", "dispose_due", "good", "处置率 = 处置数 / 应处置数 × 100%", (GRID, UNIT)
    ),
    _rate(
        "on_time_disposal_rate",
        "按期处置率",
        "disposed_on_time",
        "dispose_due",
        "good",
        "按期处置率 = 按期处置数 / 应处置数 × 100%",
        (GRID, UNIT),
    ),
    _rate("rework_rate", "返工率", "rework", "close_due", "bad", "返工率 = 返工数 / 应结案数 × 100%", (GRID, UNIT)),
    # No standard formula found for these three; a unit's case count is what was dispatched to it.
    _rate(
        "return_rate",
        "回退率",
        "returned",
        "dispatched",
        "bad",
        "回退率 = 回退数 / 派遣数 × 100%",
        (GRID, UNIT),
        Source.INF,
    ),
    _rate(
        "extension_rate",
        "延期率",
        "extended",
        "dispatched",
        "bad",
        "延期率 = 延期数 / 派遣数 × 100%",
        (GRID, UNIT),
        Source.INF,
    ),
    _rate(
        "suspension_rate",
        "挂账率",
        "suspended",
        "dispatched",
        "bad",
        "挂账率 = 挂账数 / 派遣数 × 100%",
        (GRID, UNIT),
        Source.INF,
    ),
    # 监督举报核实数 is the public reports verified and filed: the ``missed`` counter. The region
    # tables call the ratio 监督举报率, the inspector tables 漏报率; same quantity, two names.
    _rate(
        "public_report_rate",
        "监督举报率",
        "missed",
        "filed",
        "bad",
        "监督举报率 = 监督举报核实数 / 立案数 × 100%",
        (GRID,),
    ),
    # 岗位评价 (standards.md §5.4)
    _rate(
        "valid_report_rate",
        "有效上报率",
        "valid_report",
        "reported",
        "good",
        "有效上报率 = 有效上报数 / 上报数 × 100%",
        (GRID, INSP),
    ),
    # For an inspector the services pass the ``missed`` and ``filed`` sums of the grids of the
    # inspector's responsibility grid: 漏报 is a fact about a grid, not about a report.
    _rate("missed_report_rate", "漏报率", "missed", "filed", "bad", "漏报率 = 漏报数 / 立案数 × 100%", (GRID, INSP)),
    _rate(
        "verify_on_time_rate",
        "按时核实率",
        "verified_on_time",
        "verify_due",
        "good",
        "按时核实率 = 按时核实数 / 应核实数 × 100%",
        (INSP,),
    ),
    _rate(
        "check_on_time_rate",
        "按时核查率",
        "checked_on_time",
        "check_due",
        "good",
        "按时核查率 = 按时核查数 / 应核查数 × 100%",
        (INSP,),
    ),
    _rate(
        "verify_sent_on_time_rate",
        "核实按时派发率",
        "verify_sent_on_time",
        "verify_sent_due",
        "good",
        "核实按时派发率 = 核实按时派发数 / 应派发数 × 100%",
        (OPER,),
    ),
    _rate(
        "check_sent_on_time_rate",
        "核查按时派发率",
        "check_sent_on_time",
        "check_sent_due",
        "good",
        "核查按时派发率 = 核查按时派发数 / 应派发数 × 100%",
        (OPER,),
    ),
    _rate(
        "filing_on_time_rate",
        "按时立案率",
        "filed_on_time",
        "filed",
        "good",
        "按时立案率 = 按时立案数 / 立案数 × 100%",
        (LEAD,),
    ),
    _rate(
        "accurate_filing_rate",
        "准确立案率",
        "filed_accurately",
        "filed",
        "good",
        "准确立案率 = 准确立案数 / 立案数 × 100%（准确立案数 = 立案数 − 作废数）",
        (LEAD,),
    ),
    # The standard writes 按时结案数/(应)结案数. 应结案数 counts cases past the *unit's* deadline,
    # which the shift lead cannot help, so the lead's rate is over the cases the lead closed.
    _rate(
        "closing_on_time_rate",
        "按时结案率",
        "close_stage_on_time",
        "closed",
        "good",
        "按时结案率 = 按时结案数 / (应)结案数 × 100%",
        (LEAD,),
    ),
    # The standard's denominator is 应派遣数; there is no dispatch_due counter yet, so 派遣数.
    _rate(
        "dispatch_on_time_rate",
        "按时派遣率",
        "dispatched_on_time",
        "dispatched",
        "good",
        "按时派遣率 = 按时派遣数 / 应派遣数 × 100%",
        (DISP,),
    ),
    _rate(
        "accurate_dispatch_rate",
        "准确派遣率",
        "dispatched_accurately",
        "dispatched",
        "good",
        "准确派遣率 = 准确派遣数 / 应派遣数 × 100%（准确派遣数 = 派遣数 − 回退数）",
        (DISP,),
    ),
    # 抽查 (random re-verification): no standard formula; ours. Not in the default schemes (their
    # weights are the standard's); a scheme version scores them (``scoring.SAMPLING_WEIGHTS``).
    _rate(
        "sample_pass_rate",
        "抽查合格率",
        "sample_passed",
        "sample_cases",
        "good",
        "抽查合格率 = 抽查合格数 / 抽查案件数 × 100%",
        (UNIT,),
        Source.INF,
    ),
    # A share of grids, not of problems: the problems a re-check finds have no denominator
    # (what the inspector should have reported there is exactly what is unknown).
    _rate(
        "sample_miss_rate",
        "抽查漏报率",
        "sample_grids_missed",
        "sample_grids",
        "bad",
        "抽查漏报率 = 抽查漏报网格数 / 抽查网格数 × 100%",
        (INSP,),
        Source.INF,
    ),
    # The share of the inspector's 核查通过 that 抽查 found untrue: of the sampled closed cases
    # whose 核查 the inspector passed, those not fixed.
    _rate(
        "false_check_rate",
        "核查失实率",
        "sample_checked_failed",
        "sample_checked",
        "bad",
        "核查失实率 = 抽查核查失实数 / 抽查核查案件数 × 100%",
        (INSP,),
        Source.INF,
    ),
)

_AVERAGES = (
    Indicator(
        code="average_handling_hours",
        label="平均办理时长",
        kind=Kind.AVERAGE,
        numerator=("handling_seconds",),
        denominator=("closed",),
        direction=Direction.BAD,
        unit="小时",
        formula="平均办理时长 = Σ(结案时间 − 上报时间) / 结案数",
        subjects=(GRID, UNIT),
        source=Source.INF,  # vendors show 平均处置时长 (standards.md §5.5) without a formula
        scale=Fraction(1, 3600),
    ),
)

INDICATORS: tuple[Indicator, ...] = (
    *(_count(c.name) for c in COUNTERS if c.name not in _NOT_A_COUNT),
    *_RATES,
    *_AVERAGES,
)
BY_CODE: dict[str, Indicator] = {i.code: i for i in INDICATORS}

# The rates key-problem multipliers apply to unless a scheme names others.
DEFAULT_WEIGHTED = ("closure_rate", "on_time_closure_rate")


def applicable(subject: Subject) -> tuple[Indicator, ...]:
    """The indicators of a subject kind (a contractor's are its inspectors')."""
    counted = counted_as(subject)
    return tuple(i for i in INDICATORS if counted in i.subjects)


def applies(ind: Indicator, subject: Subject) -> bool:
    return counted_as(subject) in ind.subjects


def indicator(code: str, *, field: str = "indicator") -> Indicator:
    try:
        return BY_CODE[code]
    except KeyError:
        raise InvalidInput(f"There is no indicator '{code}'.", field=field, indicator=code) from None


@dataclass(frozen=True)
class IndicatorValue:
    code: str
    value: Fraction | None  # None: the denominator is 0 (不适用)
    numerator: Fraction
    denominator: Fraction | None  # None for counts
    weighted: bool = False  # key-problem multipliers were applied

    def display(self, places: int = 2) -> Decimal | None:
        """The value as printed: rates in percent, averages in their unit, rounded half up."""
        if self.value is None:
            return None
        shown = self.value * 100 if BY_CODE[self.code].kind is Kind.RATE else self.value
        return round_half_up(shown, places)


def round_half_up(value: Fraction, places: int = 2) -> Decimal:
    """Exact ROUND_HALF_UP of a fraction (half away from zero), without a float or a
    28-digit intermediate that could round twice."""
    if places >= 0 and (type(value) is Fraction or type(value) is int):  # the same, in whole numbers
        n, d = value.numerator, value.denominator
        whole = (2 * abs(n) * 10**places + d) // (2 * d)
    else:
        scaled = abs(value) * 10**places
        whole = int(scaled + Fraction(1, 2))  # floor, as scaled >= 0
    sign = -1 if value < 0 else 1
    return (Decimal(sign * whole).scaleb(-places)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


Sums = Mapping[str | tuple[str, int], int]


def normalise(sums: Sums, *, field: str = "counters") -> dict[tuple[str, int], int]:
    """``{counter: n}`` or ``{(counter, key): n}`` → ``{(counter, key): n}``, refusing unknown
    counters and values that are not whole numbers ≥ 0."""
    out: dict[tuple[str, int], int] = {}
    for k, v in sums.items():
        # A well-formed {(counter, key): n} entry passes at once; anything else is looked at below.
        if type(k) is tuple and type(v) is int and v >= 0 and len(k) == 2:
            name, key = k
            if type(key) is int and key >= 0 and name in BY_NAME:
                out[k] = out.get(k, 0) + v
                continue
        name, key = (k, 0) if isinstance(k, str) else k
        if name not in BY_NAME:
            raise InvalidInput(f"There is no counter '{name}'.", field=field, counter=name)
        if not isinstance(key, int) or isinstance(key, bool) or key < 0:
            raise InvalidInput(
                f"The key of counter '{name}' must be a key-problem category id or 0, not {key!r}.", field=field
            )
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise InvalidInput(f"Counter '{name}' must be a whole number ≥ 0, not {v!r}.", field=field, counter=name)
        out[(name, key)] = out.get((name, key), 0) + v
    return out


def factors(multipliers: Mapping[int, object] | None, *, field: str = "multipliers") -> dict[int, Fraction]:
    out: dict[int, Fraction] = {}
    for key, factor in (multipliers or {}).items():
        f = Fraction(str(factor)) if isinstance(factor, (Decimal, str, float)) else Fraction(factor)
        if f < 1:
            raise InvalidInput(
                f"The multiplier of key problem {key} is {factor}; a multiplier must be at least 1.",
                field=field,
                key=key,
            )
        out[key] = f
    return out


def compute(
    sums: Sums,
    *,
    subject: Subject | None = None,
    multipliers: Mapping[int, object] | None = None,
    weighted: Iterable[str] = DEFAULT_WEIGHTED,
) -> dict[str, IndicatorValue]:
    """Every indicator of one subject (all indicators when ``subject`` is None) from its
    counter sums. Counters the subject never gets are simply absent (0)."""
    rows = normalise(sums)
    return Computer(subject, multipliers=multipliers, weighted=weighted).of_rows(rows)


class Computer:
    """``compute`` for many subjects of one kind under one scheme: the multipliers are checked
    and the table of indicators is built once. Equal sums give equal values, and the values are
    immutable, so subjects with the same figures share them (a city's grids repeat a few small
    numbers thousands of times)."""

    def __init__(
        self,
        subject: Subject | None = None,
        *,
        multipliers: Mapping[int, object] | None = None,
        weighted: Iterable[str] = DEFAULT_WEIGHTED,
    ) -> None:
        self.weights = factors(multipliers)
        weighted = frozenset(weighted)
        for code in weighted:
            if indicator(code, field="weighted_rates").kind is not Kind.RATE:
                raise InvalidInput(f"Multipliers apply to rates only; '{code}' is not a rate.", field="weighted_rates")
        # (code, is a count, numerator, denominator, scale, weighted by the multipliers, the
        # values made so far by their numerator (counts) or numerator and denominator)
        table = [
            (
                ind.code,
                ind.kind is Kind.COUNT,
                ind.numerator,
                ind.denominator,
                ind.scale,
                bool(self.weights) and ind.code in weighted,
                {},
            )
            for ind in (applicable(subject) if subject is not None else INDICATORS)
        ]
        # The counts the table starts with, read in a tighter loop: (code, counter, values made).
        first = 0
        while first < len(table) and table[first][1] and len(table[first][2]) == 1:
            first += 1
        self.counts = tuple((code, numerator[0], made) for code, _, numerator, *_, made in table[:first])
        self.table = tuple(table[first:])

    def __call__(self, sums: Sums) -> dict[str, IndicatorValue]:
        return self.of_rows(normalise(sums))

    def of_rows(self, rows: dict[tuple[str, int], int]) -> dict[str, IndicatorValue]:
        """The indicators of ``normalise``d sums."""
        plain: dict[str, int] = {}
        for (name, _key), v in rows.items():
            plain[name] = plain.get(name, 0) + v
        out: dict[str, IndicatorValue] = {}
        for code, name, made in self.counts:
            n = plain.get(name, 0)
            found = made.get(n)
            if found is None:
                total = Fraction(n)
                found = made[n] = IndicatorValue(code, total, total, None)
            out[code] = found
        heavy: dict[str, Fraction] | None = None
        for code, count, numerator, denominator, scale, weighted, made in self.table:
            if weighted:  # Σ value × factor(key), numerator and denominator alike
                if heavy is None:
                    heavy = self._weighted(rows)
                num = sum((heavy.get(name, _ZERO) for name in numerator), _ZERO)
                den = sum((heavy.get(name, _ZERO) for name in denominator), _ZERO)
                out[code] = IndicatorValue(code, num / den * scale if den else None, num, den, weighted=True)
                continue
            n = 0
            for name in numerator:
                n += plain.get(name, 0)
            if count:
                found = made.get(n)
                if found is None:
                    total = Fraction(n)
                    found = made[n] = IndicatorValue(code, total, total, None)
                out[code] = found
                continue
            d = 0
            for name in denominator:
                d += plain.get(name, 0)
            found = made.get((n, d))
            if found is None:
                value = (Fraction(n, d) if scale == 1 else Fraction(n, d) * scale) if d else None
                found = made[(n, d)] = IndicatorValue(code, value, Fraction(n), Fraction(d))
            out[code] = found
        return out

    def _weighted(self, rows: dict[tuple[str, int], int]) -> dict[str, Fraction]:
        weights = self.weights
        out: dict[str, Fraction] = {}
        for (name, key), v in rows.items():
            out[name] = out.get(name, _ZERO) + v * weights.get(key, _ONE)
        return out


_ZERO, _ONE = Fraction(0), Fraction(1)
