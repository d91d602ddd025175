"""The evaluation vocabulary in the user's language: labels, periods and the anti-gaming flags' words.

The domain writes its counter, indicator and scheme labels in Chinese, as data (they are
printed as they are in the Chinese bulletin). The web shows them through gettext with those
labels as msgids; ``MSGIDS`` lists them so ``makemessages`` keeps them in the catalogue, and
``tests/web/test_i18n.py`` checks the list covers every label of the domain's tables.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.formats import date_format
from django.utils.translation import gettext, gettext_lazy
from django.utils.translation import gettext_noop as _

from citykeeper.domain.evaluation.counters import BY_NAME, Subject
from citykeeper.domain.evaluation.flags import DETECTORS, On
from citykeeper.domain.evaluation.flags import Kind as FlagKind
from citykeeper.domain.evaluation.indicators import BY_CODE
from citykeeper.domain.evaluation.periods import Period, PeriodKind

MSGIDS = (
    _("上报数"),
    _("公众举报数"),
    _("有效上报数"),
    _("受理数"),
    _("应核实派发数"),
    _("核实按时派发数"),
    _("应核实数"),
    _("按时核实数"),
    _("应核查派发数"),
    _("核查按时派发数"),
    _("应核查数"),
    _("按时核查数"),
    _("自行处置数"),
    _("立案数"),
    _("按时立案数"),
    _("准确立案数"),
    _("漏报数"),
    _("作废数"),
    _("派遣数"),
    _("按时派遣数"),
    _("准确派遣数"),
    _("应处置数"),
    _("处置数"),
    _("按期处置数"),
    _("超期未处置数"),
    _("应结案数"),
    _("结案数"),
    _("按期结案数"),
    _("按时结案数"),
    _("超期未结案数"),
    _("返工数"),
    _("回退数"),
    _("延期数"),
    _("挂账数"),
    _("督办数"),
    _("反映未解决数"),
    _("办理总时长（秒）"),
    _("抽查案件数"),
    _("抽查合格数"),
    _("抽查核查案件数"),
    _("抽查核查失实数"),
    _("抽查网格数"),
    _("抽查漏报网格数"),
    _("抽查发现漏报数"),
    _("结案率"),
    _("按期结案率"),
    _("处置率"),
    _("按期处置率"),
    _("返工率"),
    _("回退率"),
    _("延期率"),
    _("挂账率"),
    _("监督举报率"),
    _("有效上报率"),
    _("漏报率"),
    _("按时核实率"),
    _("按时核查率"),
    _("核实按时派发率"),
    _("核查按时派发率"),
    _("按时立案率"),
    _("准确立案率"),
    _("按时结案率"),
    _("按时派遣率"),
    _("准确派遣率"),
    _("平均办理时长"),
    _("抽查合格率"),
    _("抽查漏报率"),
    _("核查失实率"),
    _("区域评价（一类区域）"),
    _("区域评价（二类区域）"),
    _("部门评价"),
    _("监督员评价"),
    _("受理员评价"),
    _("值班长评价"),
    _("派遣员评价"),
    _("监督员外包公司评价"),
)


def indicator_label(code: str) -> str:
    return gettext(BY_CODE[code].label) if code in BY_CODE else code


def counter_label(name: str) -> str:
    return gettext(BY_NAME[name].label) if name in BY_NAME else name


def label(text: str) -> str:
    """A label of the domain (a scheme's, say) in the user's language."""
    return gettext(text) if text else text


# ------------------------------------------------------------------ periods

# How a period is named, per kind (the domain's ``Period.label`` is the bulletin's Chinese).
# A month is named by the locale's own YEAR_MONTH_FORMAT (Django's: "Y年n月" in zh-Hans,
# "F Y" in English), which also translates the month's name.
PERIOD_FORMATS = {
    PeriodKind.WEEK: _("%(year)s年第%(week)s周"),
    PeriodKind.QUARTER: _("%(year)s年第%(quarter)s季度"),
    PeriodKind.YEAR: _("%(year)s年"),
    PeriodKind.CUSTOM: _("%(start)s至%(end)s"),
}


def period_label(period: Period) -> str:
    """The period's name in the user's language: 2026年10月 / October 2026, 2026年第43周 /
    Week 43 of 2026, 2026年第4季度 / Q4 2026, 2026年 / 2026, 2026-10-01至2026-10-15 /
    2026-10-01 to 2026-10-15."""
    if period.kind is PeriodKind.MONTH:
        return date_format(period.start, "YEAR_MONTH_FORMAT")
    iso = period.start.isocalendar()
    return gettext(PERIOD_FORMATS[period.kind]) % {
        "year": iso.year if period.kind is PeriodKind.WEEK else period.start.year,
        "week": iso.week,
        "quarter": (period.start.month + 2) // 3,
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
    }


def period_text(period: Period) -> str:
    """The period's name with its days, except for a custom range (its name is its days)."""
    name = period_label(period)
    if period.kind is PeriodKind.CUSTOM:
        return name
    return gettext("%(name)s（%(start)s 至 %(end)s）") % {"name": name, "start": period.start, "end": period.end}


# ------------------------------------------------------------------ anti-gaming flags

SUBJECT_LABELS = {
    Subject.UNIT.value: gettext_lazy("责任单位"),
    Subject.INSPECTOR.value: gettext_lazy("监督员"),
    Subject.GRID.value: gettext_lazy("单元网格"),
}


@dataclass(frozen=True)
class FlagWords:
    """How the console names a detector (``domain.evaluation.flags.DETECTORS``) and its numbers."""

    title: str
    figure: str  # what the subject's figure (``Flag.measure``) is
    baseline: str  # what it is compared with (``Flag.baseline``)
    count: str  # the suspect events, "%(count)s 件"
    rule: str  # the detector's rule, with its thresholds (see ``flag_rule``)
    roles: tuple[str, ...]  # what the flag's cases are, in turn (a voided case, then its new report)


FLAG_WORDS = {
    FlagKind.LAST_MINUTE_DISPOSAL: FlagWords(
        title=gettext_lazy("临近时限集中处置"),
        figure=gettext_lazy("临近时限处置占比"),
        baseline=gettext_lazy("全市占比"),
        count=gettext_lazy("%(count)s 件"),
        rule=gettext_lazy(
            "按时处置中，在时限最后 %(tail)s 内完成的占比达到全市的 %(threshold)s 倍以上，"
            "至少 %(min_count)s 件，且单侧检验 z ≥ %(z)s（p ≤ 0.01）。"
        ),
        roles=(gettext_lazy("临近时限处置"),),
    ),
    FlagKind.REPORTS_OFF_PATROL_AREA: FlagWords(
        title=gettext_lazy("上报点位偏离巡查区域"),
        figure=gettext_lazy("巡查区域外上报占比"),
        baseline=gettext_lazy("全市占比"),
        count=gettext_lazy("%(count)s 件"),
        rule=gettext_lazy(
            "上报点位在巡查区域外超过 %(max_distance_m)s 米的占比达到 %(threshold)s 以上，至少 %(min_count)s 件。"
            "巡查轨迹（GPS）尚未记录，只与巡查区域比较。"
        ),
        roles=(gettext_lazy("巡查区域外上报"),),
    ),
    FlagKind.VOIDED_THEN_REREPORTED: FlagWords(
        title=gettext_lazy("作废后重报"),
        figure=gettext_lazy("重报占上报比例"),
        baseline=gettext_lazy("全市比例"),
        count=gettext_lazy("%(count)s 对"),
        rule=gettext_lazy(
            "案件作废后 %(window_days)s 天内，在 %(radius_m)s 米内又上报同一小类问题，至少 %(threshold)s 对。"
        ),
        roles=(gettext_lazy("作废的案件"), gettext_lazy("重报的案件")),
    ),
    FlagKind.EXTENSIONS_CONCENTRATED: FlagWords(
        title=gettext_lazy("延期集中"),
        figure=gettext_lazy("占全市延期比例"),
        baseline=gettext_lazy("占全市派遣比例"),
        count=gettext_lazy("%(count)s 件"),
        rule=gettext_lazy(
            "获批延期占全市的比例达到其派遣占比的 %(threshold)s 倍以上，至少 %(min_count)s 件，"
            "且单侧检验 z ≥ %(z)s（p ≤ 0.01）。"
        ),
        roles=(gettext_lazy("获批延期"),),
    ),
}


def percent_text(share: float) -> str:
    """A share (0–1) as a percentage, to 0.01 % like the rates: 5/7 → "71.43%", 0.2 → "20%"."""
    return f"{number_text(share * 100)}%"


def number_text(value: float) -> str:
    """2.0 → "2", 2.5 → "2.5", 2.333 → "2.33"."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def threshold_text(kind: str, threshold: float) -> str:
    """The figure a detector flags at, on what it applies to: "≥ 2 倍", "≥ 20%", "≥ 3 对"."""
    on = DETECTORS[FlagKind(kind)].threshold_on
    if on is On.RATIO:
        return gettext("≥ %(value)s 倍") % {"value": number_text(threshold)}
    if on is On.MEASURE:
        return f"≥ {percent_text(threshold)}"
    return f"≥ {str(FLAG_WORDS[FlagKind(kind)].count) % {'count': number_text(threshold)}}"


def ratio_text(ratio: float) -> str:
    """Figure ÷ baseline: "3.0 倍"; "—" when the city's baseline is 0."""
    return gettext("%(value)s 倍") % {"value": f"{ratio:.1f}"} if ratio else "—"


def flag_rule(kind: str) -> str:
    """The detector's rule in words, with the thresholds it is configured with."""
    d = DETECTORS[FlagKind(kind)]
    params = {
        "threshold": number_text(d.threshold) if d.threshold_on is not On.MEASURE else percent_text(d.threshold),
        "min_count": d.min_count,
        "z": "" if d.min_z is None else number_text(d.min_z),
        **{name: number_text(value) for name, value in d.params.items()},
    }
    if "tail" in d.params:
        params["tail"] = percent_text(d.params["tail"])
    return str(FLAG_WORDS[d.kind].rule) % params
