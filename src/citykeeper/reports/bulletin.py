"""The monthly bulletin (月度通报) as Excel and PDF, in Chinese.

``gather`` collects everything the bulletin prints into a plain ``Bulletin``: the scores,
grades and ranks come from ``services.evaluation.evaluate`` (units, 一类/二类 streets, the
four posts and the inspection contractors), the city's totals and the trend from the grid
counters, and the rest, which the counters do not hold, from a few read-only queries: the
categories of the cases reported in the period, the cases now overdue at their units and the
抽查 items counted in the period (by round, the cases found not fixed with the inspector who
passed their 核查, the grids where problems were found unreported). The anti-gaming flags
(异常模式提示) are ``services.flags.find_flags`` of the period. ``write_xlsx`` and ``write_pdf``
only lay that out; neither computes a number.

The bulletin is a Chinese document whatever the reader's language, so its words are written
here in Chinese (as the indicators' labels in ``domain.evaluation`` are), not translated.

The PDF embeds its fonts (``fonts/``): Droid Sans Fallback for Chinese and DejaVu Sans for
Latin letters, digits and symbols, which Droid Sans Fallback lacks. A PDF that relied on the
reader's fonts would show boxes on a machine without a Chinese font.
"""

from __future__ import annotations

import datetime as dt
import importlib.resources
from collections import defaultdict
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import xlsxwriter
from django.db.models import Count, F, Q, Sum, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from fpdf import FPDF
from fpdf.fonts import FontFace

from citykeeper.domain.evaluation.counters import Subject
from citykeeper.domain.evaluation.flags import Flag
from citykeeper.domain.evaluation.flags import Kind as FlagKind
from citykeeper.domain.evaluation.indicators import BY_CODE, IndicatorValue, Kind, compute, round_half_up
from citykeeper.domain.evaluation.periods import Period, PeriodKind, token
from citykeeper.domain.evaluation.sampling import Result, SampleKind
from citykeeper.domain.evaluation.scoring import Scheme, SubjectResult
from citykeeper.domain.workflow import State
from citykeeper.services import counters, sampling
from citykeeper.services.evaluation import Evaluation, evaluate
from citykeeper.services.flags import find_flags, subject_names
from citykeeper.store.models import Area, Case, EvaluationBulletin, EvaluationRun, SamplingItem, SamplingRound, User

# ------------------------------------------------------------------ what is printed

TITLE_OF_KIND = {
    PeriodKind.MONTH: "月度通报",
    PeriodKind.WEEK: "周通报",
    PeriodKind.QUARTER: "季度通报",
    PeriodKind.YEAR: "年度通报",
    PeriodKind.CUSTOM: "情况通报",
}
SECTIONS = (
    "一、总体情况",
    "二、部门评价排名",
    "三、区域评价排名",
    "四、岗位评价",
    "五、监督员外包公司排名",
    "六、抽查情况",
    "七、异常模式提示",
    "八、问题分析",
    "九、超期案件",
)
# 一、总体情况: the city's totals, from the grid counters (a case counts once, in its grid).
SUMMARY_INDICATORS = (
    "reported",
    "reported_public",
    "filed",
    "dispatched",
    "closed",
    "overdue_unclosed",
    "closure_rate",
    "on_time_closure_rate",
    "on_time_disposal_rate",
    "rework_rate",
    "average_handling_hours",
)
TREND_COUNTERS = ("reported", "filed", "closed", "closed_on_time", "close_due")
TREND_PERIODS = 6
REGION_SCHEMES = ("region-1", "region-2")
REGION_LEVEL = "street"
POST_SCHEMES = ("inspector", "operator", "shift_lead", "dispatcher")
CONTRACTOR_SCHEME = "contractor"
POST_SHOWN = 3  # best and worst of each post
UNRANKED_SHOWN = 20
TOP_PROBLEMS = 10
OVERDUE_PER_UNIT = 5
# Overdue "at the unit": the disposal stage, running (a suspension stops the clock).
AT_UNIT_STATES = (State.DISPATCHED, State.RETURN_REQUESTED, State.EXTENSION_REQUESTED, State.SUSPENSION_REQUESTED)
KIND_LABELS = {"component": "部件", "event": "事件"}
NOT_APPLICABLE = "不适用"
NO_CASES = "本期无上报案件。"
PROVISIONAL = "暂定"
# 六、抽查情况: the rounds whose items count in the period, the cases found not fixed and the
# grids with problems unreported (at most SAMPLE_LISTED of each, with the total).
SAMPLE_KINDS = {SampleKind.CASES.value: "结案抽查", SampleKind.PATROL.value: "巡查区域抽查"}
SAMPLE_LISTED = 50
NO_SAMPLES = "本期无抽查项。"
NO_CHECKER = "无（未经核查结案）"
SAMPLE_NOTE = (
    "抽查：考评人员按随机种子抽取已结案案件和监督员巡查区域内的网格，到现场复核。结案抽查不合格的案件，"
    "计入结案单位的抽查合格率和核查通过该案件的监督员的核查失实率；发现漏报的网格计入其监督员的抽查漏报率。"
)
# 七、异常模式提示: each detector's name, what the subject's figure is and what it is compared with.
FLAG_WORDS = {
    FlagKind.LAST_MINUTE_DISPOSAL: ("临近时限集中处置", "临近时限处置占比", "全市"),
    FlagKind.REPORTS_OFF_PATROL_AREA: ("上报点位偏离巡查区域", "巡查区域外上报占比", "全市"),
    FlagKind.VOIDED_THEN_REREPORTED: ("作废后重报", "重报占上报比例", "全市"),
    FlagKind.EXTENSIONS_CONCENTRATED: ("延期集中", "占全市延期比例", "派遣占比"),
}
FLAG_SUBJECTS = {Subject.UNIT.value: "责任单位", Subject.INSPECTOR.value: "监督员", Subject.GRID.value: "单元网格"}
FLAG_CASES_SHOWN = 5
NO_FLAGS = "本期未发现异常模式。"
FLAGS_NOTE = (
    "以下评价对象的某项做法与全市相比明显异常（已排除件数过少和偶然波动的情形）。提示不是结论，请结合所列案件核查。"
)


@dataclass(frozen=True)
class SchemeStamp:
    """Which scheme produced a ranking: printed in the footer so the numbers can be checked."""

    code: str
    version: int
    fingerprint: str
    label: str

    @property
    def short(self) -> str:
        return f"{self.code} v{self.version} {self.fingerprint[:12]}"


@dataclass(frozen=True)
class Figure:
    """One line of 一、总体情况: the period's value, a month (period) earlier and a year earlier."""

    code: str
    label: str
    now: IndicatorValue
    before: IndicatorValue  # 环比
    year_ago: IndicatorValue  # 同比

    @property
    def kind(self) -> Kind:
        return BY_CODE[self.code].kind

    def shown(self) -> str:
        return show(self.now)

    def change(self, then: IndicatorValue) -> str:
        return change(then, self.now)


@dataclass(frozen=True)
class Row:
    """One subject in a ranking (ranked or not)."""

    subject_id: object
    name: str
    parent: str
    rank: int | None
    composite: Decimal | None
    grade: str | None
    values: tuple[str, ...]  # the scheme's indicators as printed, in the scheme's order
    composite_change: Decimal | None  # 环比, in points
    reason: str | None  # 中文: why it is not ranked


@dataclass
class Ranking:
    """One peer group's ranking: its ranked subjects, then the unranked ones with the reason."""

    title: str
    columns: tuple[str, ...]
    ranked: list[Row] = field(default_factory=list)
    unranked: list[Row] = field(default_factory=list)


@dataclass
class PostRanking:
    label: str
    columns: tuple[str, ...]
    evaluated: int
    top: list[Row] = field(default_factory=list)
    bottom: list[Row] = field(default_factory=list)
    unranked: list[Row] = field(default_factory=list)  # at most UNRANKED_SHOWN
    unranked_total: int = 0


@dataclass(frozen=True)
class TrendPoint:
    label: str
    reported: int
    filed: int
    closed: int
    on_time_closure_rate: Decimal | None  # percent


@dataclass(frozen=True)
class Share:
    label: str
    count: int
    percent: Decimal


@dataclass(frozen=True)
class Problem:
    major: str
    minor: str
    count: int
    percent: Decimal


@dataclass(frozen=True)
class OverdueCase:
    number: str
    category: str
    address: str
    deadline: dt.datetime
    overdue: dt.timedelta


@dataclass(frozen=True)
class UnitOverdue:
    unit: str
    total: int  # every overdue case of the unit; ``cases`` holds the worst few
    cases: tuple[OverdueCase, ...]


@dataclass(frozen=True)
class FlagLine:
    """One anti-gaming flag as printed: the detector, the subject, the domain's sentence,
    the figure against its baseline and the first few cases."""

    kind: str
    title: str
    subject: str  # "鼓楼区市政所（责任单位）"
    explanation: str
    figure: str  # "占全市延期比例 100.00%，派遣占比 33.33%（3.0倍）"
    cases: tuple[str, ...]  # the first FLAG_CASES_SHOWN
    total_cases: int

    def cases_text(self) -> str:
        shown = "、".join(self.cases)
        return shown if self.total_cases <= len(self.cases) else f"{shown} 等{self.total_cases}件"


@dataclass(frozen=True)
class SampleRound:
    """One 抽查 round: its items counted in the period and what their re-checks found."""

    kind: str  # 结案抽查 / 巡查区域抽查
    period: str  # the round's own period
    drawn: int
    checked: int
    passed: int
    failed: int  # closed cases not fixed (不合格)
    missed: int  # grids with problems unreported (发现漏报)
    problems: int  # the problems found unreported

    def pass_rate(self) -> str:
        return f"{_percent(self.passed, self.checked)}%" if self.checked else NOT_APPLICABLE


@dataclass(frozen=True)
class FailedCase:
    """A sampled closed case found not fixed (不合格)."""

    number: str
    unit: str
    inspector: str  # who passed its 核查 before the closing
    note: str


@dataclass(frozen=True)
class MissedGrid:
    """A sampled patrol-area grid where the re-check found problems the inspector had not reported."""

    grid: str
    inspector: str
    count: int
    note: str


@dataclass
class SamplingSection:
    rounds: list[SampleRound] = field(default_factory=list)
    failed: list[FailedCase] = field(default_factory=list)  # at most SAMPLE_LISTED
    failed_total: int = 0
    missed: list[MissedGrid] = field(default_factory=list)  # at most SAMPLE_LISTED
    missed_total: int = 0


@dataclass
class Bulletin:
    period: Period
    title: str
    city: str
    as_of: dt.datetime
    provisional: bool
    no_cases: bool
    summary: list[Figure]
    units: list[Ranking]
    regions: dict[str, list[Ranking]]  # scheme label → rankings (一类, 二类)
    posts: list[PostRanking]
    trend: list[TrendPoint]
    categories: list[Share]
    problems: list[Problem]
    overdue: list[UnitOverdue]
    schemes: list[SchemeStamp]
    flags: list[FlagLine] = field(default_factory=list)
    contractors: list[Ranking] = field(default_factory=list)
    sampling: SamplingSection = field(default_factory=SamplingSection)

    @property
    def period_label(self) -> str:
        return self.period.label()

    def footer(self) -> str:
        stamps = "；".join(s.short for s in self.schemes)
        state = f" · {PROVISIONAL}（本期尚未结束，数字仍会变化）" if self.provisional else ""
        return f"数据截至 {stamp(self.as_of)}{state} · 评价方案：{stamps}"


# ------------------------------------------------------------------ formatting (shared)


def stamp(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def show(value: IndicatorValue | None) -> str:
    """An indicator as printed: counts whole, rates in %, averages in their unit."""
    if value is None or value.value is None:
        return NOT_APPLICABLE
    indicator = BY_CODE[value.code]
    if indicator.kind is Kind.COUNT:
        return f"{int(value.value)}"
    shown = value.display()
    return f"{shown}%" if indicator.kind is Kind.RATE else f"{shown}{indicator.unit}"


def change(then: IndicatorValue, now: IndicatorValue) -> str:
    """环比/同比: counts as growth in %, rates in percentage points, averages in their unit."""
    if then.value is None or now.value is None:
        return "—"
    indicator = BY_CODE[now.code]
    diff = now.value - then.value
    if indicator.kind is Kind.RATE:
        return _signed(round_half_up(diff * 100), "个百分点")
    if indicator.kind is Kind.AVERAGE:
        return _signed(round_half_up(diff), indicator.unit)
    if not then.value:
        return "—" if not now.value else f"+{int(diff)}件"
    return _signed(round_half_up(diff / then.value * 100, 1), "%")


def _signed(value: Decimal, unit: str) -> str:
    if value == 0:
        return "持平"
    return f"{'+' if value > 0 else ''}{value}{unit}"


def points(value: Decimal | None) -> str:
    return "—" if value is None else (f"+{value}" if value > 0 else f"{value}")


def composite(value: Decimal | None) -> str:
    return "—" if value is None else f"{value}"


def overdue_text(span: dt.timedelta) -> str:
    hours = int(span.total_seconds() // 3600)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}天{hours}小时"
    minutes = int(span.total_seconds() // 60) % 60
    return f"{hours}小时{minutes}分" if hours else f"{minutes}分钟"


# ------------------------------------------------------------------ gathering


def gather(period: Period, *, now: dt.datetime) -> Bulletin:
    """Everything the bulletin of ``period`` prints, as the record stands at ``now``.
    A period that starts after today is refused (``InvalidInput`` on ``start``)."""
    today = timezone.localtime(now).date()
    period.validate(today)
    totals = _Totals()
    unit_eval = evaluate(period, "unit", now=now)
    region_evals = [evaluate(period, code, now=now, level=REGION_LEVEL) for code in REGION_SCHEMES]
    post_evals = [evaluate(period, code, now=now) for code in POST_SCHEMES]
    contractor_eval = evaluate(period, CONTRACTOR_SCHEME, now=now)
    summary = _summary(period, totals)
    trend = _trend(period, totals)
    categories, problems = _problems(period)
    city = Area.objects.filter(level="city").order_by("code").values_list("name", flat=True).first() or ""
    reported = totals.of(period).get("reported", 0)
    return Bulletin(
        period=period,
        title=f"{city}数字化城市管理{TITLE_OF_KIND[period.kind]}",
        city=city,
        as_of=now,
        provisional=period.provisional(today),
        no_cases=not reported and not sum(s.count for s in categories),
        summary=summary,
        units=_rankings(unit_eval),
        regions={e.scheme.label: _rankings(e) for e in region_evals},
        posts=[_post(e) for e in post_evals],
        trend=trend,
        categories=categories,
        problems=problems,
        overdue=_overdue(now),
        schemes=[_stamp(e) for e in (unit_eval, *region_evals, *post_evals, contractor_eval)],
        flags=_flags(period, now),
        contractors=_contractor_rankings(contractor_eval),
        sampling=_sampling(period),
    )


class _Totals:
    """The city's grid counter sums per period, each period read once."""

    def __init__(self) -> None:
        self._keyed: dict[Period, dict[tuple[str, int], int]] = {}

    def keyed(self, period: Period) -> dict[tuple[str, int], int]:
        if period not in self._keyed:
            sums: dict[tuple[str, int], int] = defaultdict(int)
            for (counter, _kind, _grid, key), value in counters.read(
                period.start, period.end, subject_kind=Subject.GRID.value
            ).items():
                sums[(counter, key)] += value
            self._keyed[period] = dict(sums)
        return self._keyed[period]

    def of(self, period: Period) -> dict[str, int]:
        plain: dict[str, int] = defaultdict(int)
        for (counter, _key), value in self.keyed(period).items():
            plain[counter] += value
        return plain

    def indicators(self, period: Period) -> dict[str, IndicatorValue]:
        # Plain rates (no key-problem multipliers): the city's facts, not a scheme's score.
        return compute(self.keyed(period), subject=Subject.GRID, weighted=())


def _summary(period: Period, totals: _Totals) -> list[Figure]:
    now, before, year_ago = (totals.indicators(p) for p in (period, period.previous(), period.year_ago()))
    return [Figure(code, BY_CODE[code].label, now[code], before[code], year_ago[code]) for code in SUMMARY_INDICATORS]


def _trend(period: Period, totals: _Totals) -> list[TrendPoint]:
    periods = [period]
    for _ in range(TREND_PERIODS - 1):
        periods.insert(0, periods[0].previous())
    points_ = []
    for p in periods:
        sums = totals.of(p)
        rate = totals.indicators(p)["on_time_closure_rate"].display()
        points_.append(
            TrendPoint(p.label(), sums.get("reported", 0), sums.get("filed", 0), sums.get("closed", 0), rate)
        )
    return points_


def _local_range(period: Period) -> tuple[dt.datetime, dt.datetime]:
    zone = timezone.get_default_timezone()
    start = dt.datetime.combine(period.start, dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(period.end + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return start, end


def _percent(part: int, whole: int) -> Decimal:
    return round_half_up(Fraction(part * 100, whole)) if whole else Decimal("0.00")


def _problems(period: Period) -> tuple[list[Share], list[Problem]]:
    """Category mix (by major category) and the most frequent problems (minor categories)
    of the cases reported in the period: one query, grouped by minor category."""
    start, end = _local_range(period)
    rows = list(
        Case.objects.filter(reported_at__gte=start, reported_at__lt=end)
        .values_list("category__kind", "category__major_name", "category__minor_name")
        .annotate(n=Count("id"))
        .order_by()
    )
    total = sum(n for *_, n in rows)
    majors: dict[str, int] = defaultdict(int)
    for kind, major, _minor, n in rows:
        majors[f"{KIND_LABELS.get(kind, kind)}·{major}"] += n
    shares = [
        Share(label, n, _percent(n, total)) for label, n in sorted(majors.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    ranked = sorted(rows, key=lambda r: (-r[3], r[1], r[2]))[:TOP_PROBLEMS]
    problems = [Problem(major, minor, n, _percent(n, total)) for _kind, major, minor, n in ranked]
    return shares, problems


def _share_text(share: float) -> str:
    return f"{share * 100:.2f}%"


def _flag_line(f: Flag, names: dict[tuple[str, int], str]) -> FlagLine:
    title, figure, baseline = FLAG_WORDS[FlagKind(f.kind)]
    name = names.get((f.subject_kind, f.subject_id)) or f"未知对象（编号{f.subject_id}）"
    ratio = f"（{f.ratio:.1f}倍）" if f.ratio else ""
    return FlagLine(
        kind=f.kind,
        title=title,
        subject=f"{name}（{FLAG_SUBJECTS[f.subject_kind]}）",
        explanation=f.explanation_zh,
        figure=f"{figure} {_share_text(f.measure)}，{baseline} {_share_text(f.baseline)}{ratio}",
        cases=f.cases[:FLAG_CASES_SHOWN],
        total_cases=len(f.cases),
    )


def _flags(period: Period, now: dt.datetime) -> list[FlagLine]:
    """The period's anti-gaming flags, detector by detector, with their subjects' names."""
    found = find_flags(period.start, period.end, now=now)
    names = subject_names(found)
    return [_flag_line(f, names) for f in found]


def _name(user: User | None) -> str:
    return NO_CHECKER if user is None else (user.display_name or user.username)


def _grid(area: Area) -> str:
    return area.code if area.name in ("", area.code) else f"{area.code} {area.name}"


def _sampling(period: Period) -> SamplingSection:
    """The 抽查 items dated in the period (those its evaluation counts), by round; the cases
    found not fixed, with the inspector who passed their 核查; the grids with problems found."""
    items = SamplingItem.objects.filter(day__gte=period.start, day__lte=period.end)
    by_round = {
        row["round_id"]: row
        for row in items.values("round_id")
        .annotate(
            drawn=Count("id"),
            checked=Count("id", filter=~Q(result=Result.PENDING)),
            passed=Count("id", filter=Q(result=Result.PASSED)),
            failed=Count("id", filter=Q(result=Result.FAILED)),
            grids_missed=Count("id", filter=Q(result=Result.MISSED)),
            problems=Sum("missed"),
        )
        .order_by()
    }
    rounds = [
        SampleRound(
            kind=SAMPLE_KINDS.get(r.kind, r.kind),
            period=sampling.period_of(r).label(),
            drawn=by_round[r.pk]["drawn"],
            checked=by_round[r.pk]["checked"],
            passed=by_round[r.pk]["passed"],
            failed=by_round[r.pk]["failed"],
            missed=by_round[r.pk]["grids_missed"],
            problems=by_round[r.pk]["problems"] or 0,
        )
        for r in SamplingRound.objects.filter(pk__in=list(by_round)).order_by("period_start", "kind", "pk")
    ]
    failed_rows = sorted(
        items.filter(result=Result.FAILED).values_list("case_id", "day", "case__number", "unit__name", "note"),
        key=lambda r: (r[3] or "", r[2]),
    )
    checkers = sampling.checkers((case_id, day) for case_id, day, *_ in failed_rows)
    people = User.objects.in_bulk({i for i in checkers.values() if i})
    missed = items.filter(result=Result.MISSED).select_related("grid", "inspector").order_by("-missed", "grid__code")
    return SamplingSection(
        rounds=rounds,
        failed=[
            FailedCase(number, unit or "", _name(people.get(checkers[(case_id, day)])), note)
            for case_id, day, number, unit, note in failed_rows[:SAMPLE_LISTED]
        ],
        failed_total=len(failed_rows),
        missed=[MissedGrid(_grid(i.grid), _name(i.inspector), i.missed, i.note) for i in missed[:SAMPLE_LISTED]],
        missed_total=missed.count(),
    )


def _overdue(now: dt.datetime) -> list[UnitOverdue]:
    """The cases now past their disposal deadline, worst first, a few per unit: one query
    (a window numbers each unit's cases; the database keeps the first few)."""
    by_unit = [F("unit_id")]
    rows = (
        Case.objects.filter(
            state__in=[s.value for s in AT_UNIT_STATES],
            unit__isnull=False,
            stage_deadline_at__lt=now,
            stage_remaining_seconds__isnull=True,
        )
        .annotate(
            place=Window(RowNumber(), partition_by=by_unit, order_by=[F("stage_deadline_at").asc(), F("id").asc()]),
            unit_total=Window(Count("id"), partition_by=by_unit),
        )
        .filter(place__lte=OVERDUE_PER_UNIT)
        .values_list(
            "unit_id",
            "unit__name",
            "unit_total",
            "number",
            "category__minor_name",
            "address",
            "stage_deadline_at",
            "place",
        )
    )
    units: dict[int, UnitOverdue] = {}
    for unit_id, unit, total, number, category, address, deadline, _place in sorted(rows, key=lambda r: (r[0], r[7])):
        units.setdefault(unit_id, UnitOverdue(unit, total, ()))
        case = OverdueCase(number, category, address, deadline, now - deadline)
        units[unit_id] = replace(units[unit_id], cases=(*units[unit_id].cases, case))
    # The units with the most overdue cases first; among equals, the one with the oldest.
    return sorted(units.values(), key=lambda u: (-u.total, -u.cases[0].overdue, u.unit))


# -- rankings


def _stamp(e: Evaluation) -> SchemeStamp:
    return SchemeStamp(e.scheme.code, e.scheme.version, e.results.fingerprint, e.scheme.label)


def _columns(scheme: Scheme) -> tuple[str, ...]:
    return tuple(BY_CODE[item.indicator].label for item in scheme.items)


def _reason(scheme: Scheme, result: SubjectResult) -> str | None:
    """Why a subject is not ranked, in the bulletin's words."""
    if result.ranked:
        return None
    if result.composite is None:
        return "本期无应考核事项"
    mv = scheme.min_volume
    if mv is not None:
        n = result.indicators[mv.indicator].numerator
        return f"{BY_CODE[mv.indicator].label}{int(n)}件，低于参与排名的最低数量{mv.threshold}件"
    return result.reason


def _row(e: Evaluation, result: SubjectResult) -> Row:
    info = e.subjects[result.subject_id]
    delta = e.month_on_month.get(result.subject_id)
    return Row(
        subject_id=result.subject_id,
        name=info.name,
        parent=info.parent,
        rank=result.rank,
        composite=result.composite,
        grade=result.grade,
        values=tuple(show(result.indicators[item.indicator]) for item in e.scheme.items),
        composite_change=None if delta is None else delta.composite,
        reason=_reason(e.scheme, result),
    )


def _unranked_order(r: Row) -> tuple:
    # Those with a composite first, best first; then by name.
    return (r.composite is None, -(r.composite or 0), r.name)


def _rankings(e: Evaluation) -> list[Ranking]:
    groups: dict[str, Ranking] = {}
    columns = _columns(e.scheme)
    for result in e.results.subjects.values():  # ranked ones first, in rank order
        ranking = groups.setdefault(str(result.group), Ranking(str(result.group), columns))
        (ranking.ranked if result.ranked else ranking.unranked).append(_row(e, result))
    for ranking in groups.values():
        ranking.unranked.sort(key=_unranked_order)
    return sorted(groups.values(), key=lambda g: g.title)


def _contractor_rankings(e: Evaluation) -> list[Ranking]:
    """The contractors' ranking (one peer group): named by name alone, without a "所属" column."""
    rankings = _rankings(e)
    for ranking in rankings:
        ranking.ranked = [replace(r, parent="") for r in ranking.ranked]
        ranking.unranked = [replace(r, parent="") for r in ranking.unranked]
    return rankings


def _post(e: Evaluation) -> PostRanking:
    rows = [_row(e, r) for r in e.results.subjects.values()]
    ranked = sorted((r for r in rows if r.rank is not None), key=lambda r: (r.rank, r.name))
    unranked = sorted((r for r in rows if r.rank is None), key=_unranked_order)
    top = ranked[:POST_SHOWN]
    bottom = [r for r in ranked[-POST_SHOWN:] if r not in top]
    return PostRanking(
        label=e.scheme.label,
        columns=_columns(e.scheme),
        evaluated=len(rows),
        top=top,
        bottom=bottom,
        unranked=unranked[:UNRANKED_SHOWN],
        unranked_total=len(unranked),
    )


# ------------------------------------------------------------------ shared layout


def _ranking_table(ranking: Ranking | PostRanking, rows: Iterable[Row], *, ranked: bool) -> tuple[list[str], list]:
    """Heading and rows of a ranking table, as both writers print it."""
    rows = list(rows)
    with_parent = any(r.parent for r in rows)
    head = ["名次" if ranked else "说明", "名称"]
    if with_parent:
        head.append("所属")
    head += ["综合指标值", "等级", "环比(分)", *ranking.columns]
    body = []
    for r in rows:
        line = [str(r.rank) if ranked else (r.reason or ""), r.name]
        if with_parent:
            line.append(r.parent)
        line += [composite(r.composite), r.grade or "—", points(r.composite_change), *r.values]
        body.append(line)
    return head, body


def _summary_sentence(b: Bulletin) -> str:
    if b.no_cases:
        return f"{b.period_label}，全市{NO_CASES}"
    by = {f.code: f for f in b.summary}
    return (
        f"{b.period_label}，全市共上报问题{by['reported'].shown()}件（其中公众举报{by['reported_public'].shown()}件），"
        f"立案{by['filed'].shown()}件，派遣{by['dispatched'].shown()}件，结案{by['closed'].shown()}件；"
        f"结案率{by['closure_rate'].shown()}，按期结案率{by['on_time_closure_rate'].shown()}"
        f"（环比{by['on_time_closure_rate'].change(by['on_time_closure_rate'].before)}，"
        f"同比{by['on_time_closure_rate'].change(by['on_time_closure_rate'].year_ago)}）。"
    )


def _overdue_rows(unit: UnitOverdue) -> list[list[str]]:
    return [[c.number, c.category, c.address, stamp(c.deadline), overdue_text(c.overdue)] for c in unit.cases]


OVERDUE_HEAD = ["案卷号", "问题类别", "事发位置", "处置截止", "已超期"]
FLAG_HEAD = ["异常模式", "评价对象", "说明", "本对象与基准", f"涉及案件（前{FLAG_CASES_SHOWN}件）"]
SUMMARY_HEAD = ["指标", "本期", "环比", "同比"]
PROBLEM_HEAD = ["序号", "大类", "小类", "件数", "占比"]
TREND_HEAD = ["周期", "上报数", "立案数", "结案数", "按期结案率(%)"]


def _flag_rows(b: Bulletin) -> list[list[str]]:
    return [[f.title, f.subject, f.explanation, f.figure, f.cases_text()] for f in b.flags]


SAMPLE_ROUND_HEAD = ["抽查类型", "抽查周期", "抽取", "已复核", "合格", "不合格", "发现漏报", "漏报问题数", "合格率"]
FAILED_HEAD = ["案卷号", "责任单位", "核查通过的监督员", "复核说明"]
MISSED_HEAD = ["网格", "监督员", "漏报问题数", "复核说明"]


def _round_rows(b: Bulletin) -> list[list]:
    return [
        [r.kind, r.period, r.drawn, r.checked, r.passed, r.failed, r.missed, r.problems, r.pass_rate()]
        for r in b.sampling.rounds
    ]


def _sample_parts(b: Bulletin) -> list[tuple[str, list[str], list[list], str]]:
    """(heading, table head, rows, what to say when there are none) of 六、抽查情况's lists."""
    s = b.sampling

    def more(total: int, shown: int) -> str:
        return f"（共{total}项，列出{shown}项）" if total > shown else ""

    return [
        (
            f"（二）结案抽查不合格案件{more(s.failed_total, len(s.failed))}",
            FAILED_HEAD,
            [[c.number, c.unit, c.inspector, c.note] for c in s.failed],
            "本期结案抽查未发现不合格案件。",
        ),
        (
            f"（三）巡查区域抽查发现漏报的网格{more(s.missed_total, len(s.missed))}",
            MISSED_HEAD,
            [[g.grid, g.inspector, g.count, g.note] for g in s.missed],
            "本期巡查区域抽查未发现漏报。",
        ),
    ]


# ------------------------------------------------------------------ Excel


def write_xlsx(b: Bulletin, path: str | Path) -> Path:
    """The bulletin as an Excel workbook, one sheet per section, with native charts."""
    path = Path(path)
    book = xlsxwriter.Workbook(str(path))
    try:
        _Xlsx(book, b).write()
    finally:
        book.close()
    return path


class _Xlsx:
    def __init__(self, book, b: Bulletin) -> None:
        self.book, self.b = book, b
        self.title = book.add_format({"bold": True, "font_size": 16})
        self.heading = book.add_format({"bold": True, "font_size": 12})
        self.head = book.add_format({"bold": True, "bg_color": "#DCE6F1", "border": 1, "text_wrap": True})
        self.cell = book.add_format({"border": 1})
        self.note = book.add_format({"italic": True, "font_color": "#666666"})
        self.alert = book.add_format({"bold": True, "font_color": "#C00000"})

    def write(self) -> None:
        b = self.b
        self.summary(self.sheet(SECTIONS[0]))
        self.rankings(self.sheet(SECTIONS[1]), 2, b.units)
        ws = self.sheet(SECTIONS[2])
        row = 2
        for label, rankings in b.regions.items():
            ws.write(row, 0, label, self.heading)
            row = self.rankings(ws, row + 1, rankings, empty="本期无参评街道。")
        self.posts(self.sheet(SECTIONS[3]))
        self.rankings(self.sheet(SECTIONS[4]), 2, b.contractors, empty="本期无参评外包公司。")
        self.sampling(self.sheet(SECTIONS[5]))
        self.flags(self.sheet(SECTIONS[6]))
        self.problems(self.sheet(SECTIONS[7]))
        self.overdue(self.sheet(SECTIONS[8]))

    def sheet(self, section: str):
        ws = self.book.add_worksheet(section.split("、", 1)[1])
        ws.write(0, 0, f"{self.b.title}（{self.b.period_label}）· {section}", self.title)
        ws.set_column(0, 0, 14)
        ws.set_column(1, 12, 16)
        # Excel allows 255 characters here: the schemes' fingerprints are on the first sheet.
        state = f" {PROVISIONAL}" if self.b.provisional else ""
        ws.set_footer(f"&L数据截至 {stamp(self.b.as_of)}{state}&R&P/&N")
        return ws

    def table(self, ws, row: int, head: list[str], body: list[list]) -> int:
        ws.write_row(row, 0, head, self.head)
        for n, line in enumerate(body, start=1):
            ws.write_row(row + n, 0, line, self.cell)
        return row + len(body) + 2

    def summary(self, ws) -> None:
        b = self.b
        row = 2
        if b.provisional:
            ws.write(row, 0, f"{PROVISIONAL}：本期尚未结束，数字仍会变化。", self.alert)
            row += 1
        ws.write(row, 0, _summary_sentence(b))
        row += 2
        body = [[f.label, f.shown(), f.change(f.before), f.change(f.year_ago)] for f in b.summary]
        row = self.table(ws, row, SUMMARY_HEAD, body)
        ws.write(row, 0, "评价方案", self.heading)
        body = [[s.label, s.code, f"v{s.version}", s.fingerprint[:12]] for s in b.schemes]
        row = self.table(ws, row + 1, ["方案", "代码", "版本", "指纹"], body)
        ws.write(row, 0, f"数据截至 {stamp(b.as_of)}", self.note)
        if b.provisional:
            ws.write(row + 1, 0, PROVISIONAL, self.alert)

    def rankings(self, ws, row: int, rankings: list[Ranking], empty: str = "本期无参评单位。") -> int:
        if not rankings:
            ws.write(row, 0, empty, self.note)
            return row + 2
        for ranking in rankings:
            ws.write(row, 0, f"{ranking.title}（{len(ranking.ranked)}个参与排名）", self.heading)
            row += 1
            if ranking.ranked:
                row = self.table(ws, row, *_ranking_table(ranking, ranking.ranked, ranked=True))
            if ranking.unranked:
                ws.write(row, 0, "未参与排名", self.note)
                row = self.table(ws, row + 1, *_ranking_table(ranking, ranking.unranked, ranked=False))
        return row

    def posts(self, ws) -> None:
        row = 2
        for post in self.b.posts:
            ws.write(row, 0, f"{post.label}（参评{post.evaluated}人）", self.heading)
            row += 1
            for title, rows in (("前列", post.top), ("后列", post.bottom)):
                if rows:
                    ws.write(row, 0, title, self.note)
                    row = self.table(ws, row + 1, *_ranking_table(post, rows, ranked=True))
            if post.unranked:
                more = (
                    f"（共{post.unranked_total}人，列出{len(post.unranked)}人）"
                    if post.unranked_total > len(post.unranked)
                    else ""
                )
                ws.write(row, 0, f"未参与排名{more}", self.note)
                row = self.table(ws, row + 1, *_ranking_table(post, post.unranked, ranked=False))
            if not post.evaluated:
                ws.write(row, 0, "本期无参评人员。", self.note)
                row += 2

    def sampling(self, ws) -> None:
        b = self.b
        if not b.sampling.rounds:
            ws.write(2, 0, NO_SAMPLES, self.note)
            return
        ws.write(2, 0, SAMPLE_NOTE, self.note)
        ws.write(4, 0, "（一）抽查批次", self.heading)
        row = self.table(ws, 5, SAMPLE_ROUND_HEAD, _round_rows(b))
        for title, head, body, empty in _sample_parts(b):
            ws.write(row, 0, title, self.heading)
            if body:
                row = self.table(ws, row + 1, head, body)
            else:
                ws.write(row + 1, 0, empty, self.note)
                row += 3

    def flags(self, ws) -> None:
        if not self.b.flags:
            ws.write(2, 0, NO_FLAGS, self.note)
            return
        ws.write(2, 0, FLAGS_NOTE, self.note)
        ws.set_column(2, 2, 60)
        ws.set_column(3, 4, 36)
        self.table(ws, 4, FLAG_HEAD, _flag_rows(self.b))

    def problems(self, ws) -> None:
        b = self.b
        row = 2
        ws.write(row, 0, "（一）案件趋势", self.heading)
        body = [
            [
                p.label,
                p.reported,
                p.filed,
                p.closed,
                None if p.on_time_closure_rate is None else float(p.on_time_closure_rate),
            ]
            for p in b.trend
        ]
        first = row + 1
        row = self.table(ws, first, TREND_HEAD, body)
        self.trend_chart(ws, first, len(body))
        row = max(row, first + 18)
        ws.write(row, 0, "（二）问题类别构成", self.heading)
        if b.no_cases:
            ws.write(row + 1, 0, NO_CASES, self.note)
            row += 3
        else:
            first = row + 1
            body = [[s.label, s.count, float(s.percent)] for s in b.categories]
            row = self.table(ws, first, ["问题大类", "件数", "占比(%)"], body)
            chart = self.book.add_chart({"type": "pie"})
            chart.add_series(
                {
                    "name": "问题类别构成",
                    "categories": [ws.name, first + 1, 0, first + len(body), 0],
                    "values": [ws.name, first + 1, 1, first + len(body), 1],
                    "data_labels": {"percentage": True},
                }
            )
            chart.set_title({"name": "问题类别构成"})
            ws.insert_chart(first, 6, chart)
            row = max(row, first + 18)
        ws.write(row, 0, f"（三）高发问题前{TOP_PROBLEMS}位", self.heading)
        if b.no_cases:
            ws.write(row + 1, 0, NO_CASES, self.note)
            return
        first = row + 1
        body = [[n, p.major, p.minor, p.count, float(p.percent)] for n, p in enumerate(b.problems, start=1)]
        self.table(ws, first, PROBLEM_HEAD, body)
        chart = self.book.add_chart({"type": "bar"})
        chart.add_series(
            {
                "name": "件数",
                "categories": [ws.name, first + 1, 2, first + len(body), 2],
                "values": [ws.name, first + 1, 3, first + len(body), 3],
                "data_labels": {"value": True},
            }
        )
        chart.set_title({"name": "高发问题"})
        chart.set_y_axis({"reverse": True})
        chart.set_legend({"none": True})
        ws.insert_chart(first, 6, chart)

    def trend_chart(self, ws, first: int, n: int) -> None:
        columns = self.book.add_chart({"type": "column"})
        for col, name in ((1, "上报数"), (2, "立案数"), (3, "结案数")):
            columns.add_series(
                {
                    "name": name,
                    "categories": [ws.name, first + 1, 0, first + n, 0],
                    "values": [ws.name, first + 1, col, first + n, col],
                }
            )
        line = self.book.add_chart({"type": "line"})
        line.add_series(
            {
                "name": "按期结案率(%)",
                "categories": [ws.name, first + 1, 0, first + n, 0],
                "values": [ws.name, first + 1, 4, first + n, 4],
                "y2_axis": True,
                "marker": {"type": "circle"},
            }
        )
        columns.combine(line)
        columns.set_title({"name": "近六期案件趋势"})
        columns.set_y_axis({"name": "件"})
        line.set_y2_axis({"name": "%", "min": 0, "max": 100})
        columns.set_size({"width": 640, "height": 320})
        ws.insert_chart(first, 6, columns)

    def overdue(self, ws) -> None:
        b = self.b
        row = 2
        ws.write(
            row,
            0,
            f"截至{stamp(b.as_of)}超过处置时限仍未处置的案件，每个单位列出超期最久的{OVERDUE_PER_UNIT}件。",
            self.note,
        )
        row += 2
        if not b.overdue:
            ws.write(row, 0, "目前无超期案件。", self.note)
            return
        first = row
        body = [[u.unit, u.total] for u in b.overdue]
        row = self.table(ws, first, ["责任单位", "超期案件数"], body)
        chart = self.book.add_chart({"type": "bar"})
        shown = min(len(body), 10)
        chart.add_series(
            {
                "name": "超期案件数",
                "categories": [ws.name, first + 1, 0, first + shown, 0],
                "values": [ws.name, first + 1, 1, first + shown, 1],
                "data_labels": {"value": True},
            }
        )
        chart.set_title({"name": "超期案件最多的单位"})
        chart.set_y_axis({"reverse": True})
        chart.set_legend({"none": True})
        ws.insert_chart(first, 6, chart)
        row = max(row, first + 18)
        for unit in b.overdue:
            ws.write(row, 0, f"{unit.unit}（超期{unit.total}件）", self.heading)
            row = self.table(ws, row + 1, OVERDUE_HEAD, _overdue_rows(unit))


# ------------------------------------------------------------------ PDF


# Relative column widths of the PDF's tables, by heading; other columns weigh 1.3.
COLUMN_WEIGHTS = {"名次": 0.7, "说明": 3.6, "名称": 2.6, "所属": 1.4, "等级": 0.7, "综合指标值": 1.3, "环比(分)": 1.1}
FONT_FILES = {"cjk": "DroidSansFallbackFull.ttf", "latin": "DejaVuSans.ttf"}
BAR = (68, 114, 196)
BARS = ((68, 114, 196), (237, 125, 49), (112, 173, 71))


def font_dir():
    return importlib.resources.files("citykeeper.reports") / "fonts"


def write_pdf(b: Bulletin, path: str | Path) -> Path:
    """The bulletin as an A4 PDF with its fonts embedded (subset)."""
    path = Path(path)
    with ExitStack() as stack:
        fonts = {
            name: stack.enter_context(importlib.resources.as_file(font_dir() / f)) for name, f in FONT_FILES.items()
        }
        pdf = _Pdf(b, fonts)
        pdf.write_all()
        pdf.output(str(path))
    return path


class _Pdf(FPDF):
    def __init__(self, b: Bulletin, fonts: dict[str, Path]) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.bulletin = b
        self.set_title(f"{b.title}（{b.period_label}）")
        self.set_creator("CityKeeper")
        self.add_font("latin", fname=str(fonts["latin"]))
        self.add_font("cjk", fname=str(fonts["cjk"]))
        # Latin letters and digits from DejaVu Sans, everything it lacks (Chinese) from Droid.
        self.set_fallback_fonts(["cjk"], exact_match=False)
        self.set_auto_page_break(True, margin=18)
        self.set_margins(14, 14, 14)
        self.head_style = FontFace(fill_color=(220, 230, 241))

    # With fallback fonts fpdf2 (2.8.9) may select the page's font inside a text line's
    # saved graphics state (q … Q) and then believe the selection outlived it: the next line
    # of Latin text only would be drawn with no font at all, which strict readers refuse to
    # show. Forgetting, before each line, that the font is set makes every line select its
    # own. (All text, cells and wrapped cells alike, is drawn through this one method.)
    def _render_styled_text_line(self, *args, **kwargs):
        self.current_font_is_set_on_page = False
        return super()._render_styled_text_line(*args, **kwargs)

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font("latin", size=6.5)
        self.set_text_color(100)
        self.multi_cell(0, 3, f"{self.bulletin.footer()}    第{self.page_no()}页", align="L")
        self.set_text_color(0)

    # -- pieces

    def para(self, content: str, size: float = 10, height: float = 5.5) -> None:
        self.set_font("latin", size=size)
        self.multi_cell(0, height, content, new_x="LMARGIN", new_y="NEXT")

    def heading(self, content: str, size: float = 13, keep: float = 45) -> None:
        """A heading kept on one page with the first ``keep`` mm of what follows."""
        if self.will_page_break(keep):
            self.add_page()
        self.ln(2)
        self.set_font("latin", size=size)
        self.set_text_color(31, 56, 100)
        self.multi_cell(0, size * 0.6, content, new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(0)
        self.ln(1)

    def grid(self, head: list[str], body: list[list], widths: tuple[float, ...] | None = None, size: float = 8) -> None:
        self.set_font("latin", size=size)
        self.set_fill_color(255)  # the bars leave theirs set; body cells stay white
        widths = widths or tuple(COLUMN_WEIGHTS.get(h, 1.3) for h in head)
        with self.table(
            col_widths=widths,
            headings_style=self.head_style,
            line_height=size * 0.55,
            text_align="LEFT",
            first_row_as_headings=True,
            repeat_headings=1,
        ) as table:
            for line in [head, *body]:
                table.row([str(x) for x in line])
        self.ln(2)

    def bars(self, title: str, items: list[tuple[str, float, str]], *, label_width: float = 50) -> None:
        """Horizontal bars: (label, value, text shown after the bar)."""
        if not items:
            return
        height = 6 + 6 * len(items)
        if self.will_page_break(height + 4):
            self.add_page()
        self.set_font("latin", size=9)
        self.cell(0, 6, title, new_x="LMARGIN", new_y="NEXT")
        top = max(v for _, v, _ in items) or 1
        span = self.epw - label_width - 25
        self.set_font("latin", size=8)
        for label, value, shown in items:
            y = self.get_y()
            self.set_x(self.l_margin)
            self.cell(label_width - 2, 5, label[:24], align="R")
            self.set_fill_color(*BAR)
            width = max(span * value / top, 0.3)
            self.rect(self.l_margin + label_width, y + 0.8, width, 3.4, style="F")
            self.set_xy(self.l_margin + label_width + width + 1, y)
            self.cell(24, 5, shown)
            self.set_xy(self.l_margin, y + 6)
        self.ln(2)

    def trend_chart(self, trend: list[TrendPoint]) -> None:
        """Grouped columns (上报/立案/结案) per period, the on-time closure rate under each."""
        height = 58
        if self.will_page_break(height + 10):
            self.add_page()
        self.set_font("latin", size=9)
        self.cell(0, 6, "近六期案件趋势（上报/立案/结案，下方为按期结案率）", new_x="LMARGIN", new_y="NEXT")
        x0, y0 = self.l_margin + 8, self.get_y() + 2
        chart_h, slot = 40, (self.epw - 10) / max(len(trend), 1)
        top = max([max(p.reported, p.filed, p.closed) for p in trend] + [1])
        self.set_draw_color(150)
        self.line(x0, y0 + chart_h, x0 + slot * len(trend), y0 + chart_h)
        self.set_font("latin", size=6.5)
        for i, p in enumerate(trend):
            for j, value in enumerate((p.reported, p.filed, p.closed)):
                h = chart_h * value / top
                bx = x0 + i * slot + 4 + j * (slot - 8) / 3
                self.set_fill_color(*BARS[j])
                if h:
                    self.rect(bx, y0 + chart_h - h, (slot - 8) / 3 - 1, h, style="F")
                self.set_xy(bx - 1, y0 + chart_h - h - 3.5)
                self.cell((slot - 8) / 3 + 1, 3, str(value), align="C")
            self.set_xy(x0 + i * slot, y0 + chart_h + 1)
            self.cell(slot, 3.5, p.label, align="C")
            self.set_xy(x0 + i * slot, y0 + chart_h + 4.5)
            rate = NOT_APPLICABLE if p.on_time_closure_rate is None else f"{p.on_time_closure_rate}%"
            self.cell(slot, 3.5, rate, align="C")
        y = y0 + chart_h + 10
        self.set_xy(x0, y)
        for j, name in enumerate(("上报数", "立案数", "结案数")):
            self.set_fill_color(*BARS[j])
            self.rect(self.get_x(), y + 1, 3, 3, style="F")
            self.set_x(self.get_x() + 4)
            self.cell(18, 5, name)
        self.set_xy(self.l_margin, y + 8)

    # -- sections

    def write_all(self) -> None:
        b = self.bulletin
        self.add_page()
        self.set_font("latin", size=18)
        self.multi_cell(0, 10, b.title, align="C", new_x="LMARGIN", new_y="NEXT")
        self.set_font("latin", size=11)
        sub = f"{b.period_label}    数据截至 {stamp(b.as_of)}"
        if b.provisional:
            sub += f"    【{PROVISIONAL}】"
        self.cell(0, 7, sub, align="C", new_x="LMARGIN", new_y="NEXT")
        self.ln(3)
        self.summary()
        self.rankings(SECTIONS[1], b.units, "本期无参评单位。")
        self.heading(SECTIONS[2])
        for label, rankings in b.regions.items():
            self.heading(label, size=11)
            self.rankings(None, rankings, "本期无参评街道。")
        self.posts()
        self.rankings(SECTIONS[4], b.contractors, "本期无参评外包公司。")
        self.sampling()
        self.flags()
        self.problems()
        self.overdue()

    def summary(self) -> None:
        b = self.bulletin
        self.heading(SECTIONS[0])
        if b.provisional:
            self.para(f"{PROVISIONAL}：本期尚未结束，以下数字仍会变化。")
        self.para(_summary_sentence(b))
        self.ln(1)
        body = [[f.label, f.shown(), f.change(f.before), f.change(f.year_ago)] for f in b.summary]
        self.grid(SUMMARY_HEAD, body, widths=(2, 1, 1, 1), size=9)

    def rankings(self, section: str | None, rankings: list[Ranking], empty: str) -> None:
        if section:
            self.heading(section)
        if not rankings:
            self.para(empty)
        for ranking in rankings:
            self.para(f"{ranking.title}（{len(ranking.ranked)}个参与排名）", size=10)
            if ranking.ranked:
                self.grid(*_ranking_table(ranking, ranking.ranked, ranked=True), size=7)
            if ranking.unranked:
                self.para("未参与排名：", size=8)
                self.grid(*_ranking_table(ranking, ranking.unranked, ranked=False), size=7)

    def posts(self) -> None:
        self.heading(SECTIONS[3])
        for post in self.bulletin.posts:
            self.para(f"{post.label}（参评{post.evaluated}人）", size=10)
            if not post.evaluated:
                self.para("本期无参评人员。", size=8)
            for title, rows in (("前列：", post.top), ("后列：", post.bottom)):
                if rows:
                    self.para(title, size=8)
                    self.grid(*_ranking_table(post, rows, ranked=True), size=7)
            if post.unranked:
                more = (
                    f"（共{post.unranked_total}人，列出{len(post.unranked)}人）"
                    if post.unranked_total > len(post.unranked)
                    else ""
                )
                self.para(f"未参与排名{more}：", size=8)
                self.grid(*_ranking_table(post, post.unranked, ranked=False), size=7)

    def sampling(self) -> None:
        b = self.bulletin
        self.heading(SECTIONS[5])
        if not b.sampling.rounds:
            self.para(NO_SAMPLES, size=9)
            return
        self.para(SAMPLE_NOTE, size=9)
        self.para("（一）抽查批次", size=10)
        self.grid(SAMPLE_ROUND_HEAD, _round_rows(b), widths=(1.8, 1.8, 1, 1.1, 1, 1.1, 1.3, 1.4, 1.3), size=7.5)
        for title, head, body, empty in _sample_parts(b):
            self.para(title, size=10)
            if body:
                self.grid(head, body, widths=(2.2, 2.4, 2.2, 4) if head is FAILED_HEAD else (3.4, 2, 1.4, 4), size=7.5)
            else:
                self.para(empty, size=9)

    def flags(self) -> None:
        b = self.bulletin
        self.heading(SECTIONS[6])
        if not b.flags:
            self.para(NO_FLAGS, size=9)
            return
        self.para(FLAGS_NOTE, size=9)
        self.grid(FLAG_HEAD, _flag_rows(b), widths=(1.6, 2, 4, 2.6, 2.6), size=7.5)

    def problems(self) -> None:
        b = self.bulletin
        self.heading(SECTIONS[7], keep=80)  # the trend chart comes first
        self.trend_chart(b.trend)
        if b.no_cases:
            self.para(f"问题类别构成、高发问题：{NO_CASES}")
            return
        self.bars(
            "问题类别构成",
            [(s.label, s.count, f"{s.count}件 {s.percent}%") for s in b.categories],
        )
        self.bars(
            f"高发问题前{TOP_PROBLEMS}位",
            [(p.minor, p.count, f"{p.count}件 {p.percent}%") for p in b.problems],
        )
        body = [[n, p.major, p.minor, p.count, f"{p.percent}%"] for n, p in enumerate(b.problems, start=1)]
        self.grid(PROBLEM_HEAD, body, widths=(1, 3, 4, 1.5, 1.5), size=8)

    def overdue(self) -> None:
        b = self.bulletin
        self.heading(SECTIONS[8])
        self.para(
            f"截至{stamp(b.as_of)}超过处置时限仍未处置的案件，每个单位列出超期最久的{OVERDUE_PER_UNIT}件。", size=9
        )
        if not b.overdue:
            self.para("目前无超期案件。", size=9)
            return
        self.bars("超期案件最多的单位", [(u.unit, u.total, f"{u.total}件") for u in b.overdue[:10]])
        for unit in b.overdue:
            self.para(f"{unit.unit}（超期{unit.total}件）", size=10)
            self.grid(OVERDUE_HEAD, _overdue_rows(unit), widths=(2.2, 2, 3.5, 2.2, 1.6), size=7.5)


def write_all(b: Bulletin, folder: str | Path) -> list[Path]:
    """Write both files into ``folder``: ``月度通报-2026-10.xlsx`` and ``月度通报-2026-10.pdf``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{TITLE_OF_KIND[b.period.kind]}-{token(b.period).replace('..', '_')}"
    return [write_xlsx(b, folder / f"{name}.xlsx"), write_pdf(b, folder / f"{name}.pdf")]


# ------------------------------------------------------------------ stored for download


def store(b: Bulletin, *, by=None, now: dt.datetime) -> EvaluationBulletin:
    """Write both files into the media storage and record them (``EvaluationBulletin``) with
    the snapshot ids of the period's published runs, for the console and the public page."""
    import tempfile

    from django.core.files import File

    published = list(
        EvaluationRun.objects.filter(
            period_start=b.period.start, period_end=b.period.end, snapshot_id__isnull=False
        ).values_list("snapshot_id", flat=True)
    )
    row = EvaluationBulletin(
        period_kind=b.period.kind.value,
        period_start=b.period.start,
        period_end=b.period.end,
        title=b.title,
        snapshot_ids=sorted(published),
        provisional=b.provisional,
        created_at=now,
        created_by=by,
    )
    with tempfile.TemporaryDirectory() as folder:
        xlsx, pdf = write_all(b, folder)
        with xlsx.open("rb") as x, pdf.open("rb") as p:
            row.xlsx.save(xlsx.name, File(x), save=False)
            row.pdf.save(pdf.name, File(p), save=False)
    row.save()
    return row
