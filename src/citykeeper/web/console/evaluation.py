"""综合评价 in the console: the ranking of any period with any scheme, the cases behind every
figure, runs and their publication, and the schemes with their history.

- ``evaluation/``: the live ranking (暂定 while the period is not over) per peer group, with
  each scored item's value and points and the composite's 环比 and 同比; unranked subjects
  below with the reason. Every figure links to the drill-down.
- ``evaluation/cases/``: the drill-down: the indicator's formula, numerator and denominator
  (weighted by the key-problem factors where the scheme says so) and the cases of each;
  from a published run, the entries frozen at publication.
- ``evaluation/runs/``: the runs (POST: compute one); ``runs/<id>/`` shows a run's stored
  results (never recomputed) with its scheme version's who, when and why;
  ``runs/<id>/publish/`` freezes it under a snapshot id.
- ``evaluation/schemes/``: the schemes in force and every version; ``schemes/<code>/edit/``
  saves a new version (weights, minimum volume, key-problem multipliers, a reason).
- ``evaluation/flags/``: the anti-gaming flags (``web.console.flags``); the ranking marks a
  flagged subject with a link to its flag (``flag_markers``).

Live and stored results are shown by the same code: the live page renders
``services.evaluation.results_json`` of the evaluation, exactly what a run stores. The
services' refusals carry a field; ``problem_text`` says them in Chinese.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from citykeeper.domain.errors import DomainError, InvalidInput, NotFound
from citykeeper.domain.evaluation.counters import BY_NAME as COUNTER_BY_NAME
from citykeeper.domain.evaluation.counters import Subject
from citykeeper.domain.evaluation.flags import DETECTORS
from citykeeper.domain.evaluation.indicators import BY_CODE, Kind, round_half_up
from citykeeper.domain.evaluation.periods import Period, parse, token
from citykeeper.domain.evaluation.scoring import DEFAULT_SCHEMES, Method
from citykeeper.domain.workflow import Role
from citykeeper.services import evaluation as service
from citykeeper.services import flags as flag_service
from citykeeper.services import queues
from citykeeper.store.models import Case, Category, EvaluationRun, EvaluationScheme
from citykeeper.web.console.dispatch import forbidden, has_role
from citykeeper.web.console.queues import screens_for
from citykeeper.web.evaluation_labels import FLAG_WORDS, counter_label, indicator_label, period_text
from citykeeper.web.evaluation_labels import label as domain_label

VIEW_ROLES = frozenset({Role.EVALUATOR, Role.LEADER, Role.SHIFT_LEAD})
RUN_ROLES = frozenset({Role.EVALUATOR, Role.LEADER})
RUNS_SHOWN = 100

LEVEL_CHOICES = (
    ("grid", gettext_lazy("单元网格")),
    ("community", gettext_lazy("社区")),
    ("street", gettext_lazy("街道")),
    ("district", gettext_lazy("区县")),
)
LEVEL_LABELS = dict(LEVEL_CHOICES)
METHOD_LABELS = {
    Method.RATE: gettext_lazy("比率 × 100"),
    Method.BAD_RATE: gettext_lazy("(1 − 比率) × 100"),
    Method.BANDS: gettext_lazy("分值表"),
}
PEER_LABELS = {
    "none": gettext_lazy("统一排名"),
    "area_class": gettext_lazy("按区域类别（一类/二类）"),
    "unit_group": gettext_lazy("按单位分组"),
    "district": gettext_lazy("按区县"),
}
# The text forms of a period the picker accepts (``periods.parse``).
PERIOD_FORMS = "2026 · 2026-10 · 2026-Q3 · 2026-W43 · 2026-10-01..2026-10-15"

# A refused request, by the field the service names: the Chinese text (with %(value)s, what
# the user sent) and the form field it belongs to.
PROBLEMS = {
    "period": (
        gettext_lazy(
            "考评周期“%(value)s”无法识别。请按 2026（年）、2026-10（月）、2026-Q3（季度）、"
            "2026-W43（周）或 2026-10-01..2026-10-15（自定义）填写。"
        ),
        "period",
    ),
    "kind": (gettext_lazy("考评周期“%(value)s”无法识别。"), "period"),
    "month": (gettext_lazy("考评周期“%(value)s”无法识别：月份应为 1 到 12。"), "period"),
    "week": (gettext_lazy("考评周期“%(value)s”无法识别：这一年没有这一周。"), "period"),
    "quarter": (gettext_lazy("考评周期“%(value)s”无法识别：季度应为 1 到 4。"), "period"),
    "end": (gettext_lazy("考评周期“%(value)s”的结束日期早于开始日期。"), "period"),
    "start": (gettext_lazy("考评周期“%(value)s”还没有开始，无法评价。"), "period"),
    "scheme": (gettext_lazy("没有考评方案“%(value)s”。"), "scheme"),
    "level": (gettext_lazy("区域层级“%(value)s”无法识别，请选择单元网格、社区、街道或区县。"), "level"),
    "subject": (gettext_lazy("没有这个评价对象（%(value)s）。"), "subject"),
    "indicator": (gettext_lazy("指标“%(value)s”不存在，或不适用于这个方案的评价对象。"), "indicator"),
    "run": (gettext_lazy("没有这个考评结果（%(value)s）。"), "run"),
}


class Refused(Exception):
    """A request the page answers with a message for one field (status 400)."""

    def __init__(self, field: str, value: object) -> None:
        super().__init__(field)
        self.field = field
        self.value = value

    def text(self) -> str:
        message, _where = PROBLEMS.get(self.field, PROBLEMS["period"])
        return message % {"value": str(self.value)[:60]}

    def where(self) -> str:
        return PROBLEMS.get(self.field, PROBLEMS["period"])[1]


def _now() -> dt.datetime:
    """The clock of every evaluation view (one seam for the tests)."""
    return timezone.now()


def may_view(user) -> bool:
    return user.is_superuser or has_role(user, VIEW_ROLES)


def may_run(user) -> bool:
    return user.is_superuser or has_role(user, RUN_ROLES)


def _refuse_viewer(request: HttpRequest) -> HttpResponse:
    return forbidden(request, _("综合评价只对考评员、领导和值班长开放。"))


def _refuse_runner(request: HttpRequest) -> HttpResponse:
    return forbidden(request, _("只有考评员和领导可以计算、公布考评结果或修改考评方案。"))


# ------------------------------------------------------------------ reading the request


def last_month(today: dt.date) -> Period:
    first = today.replace(day=1) - dt.timedelta(days=1)
    return Period.month(first.year, first.month)


def period_from(params, today: dt.date) -> Period:
    """The period of ``?period=`` (a text form of ``periods.parse``) or ``?from=&to=`` (a
    custom range), last month without either; refused when it cannot be read or has not begun."""
    first, last = (params.get("from") or "").strip(), (params.get("to") or "").strip()
    text = f"{first}..{last}" if first and last else (params.get("period") or "").strip()
    if not text:
        return last_month(today)
    try:
        return parse(text).validate(today)
    except InvalidInput as exc:
        raise Refused(exc.field or "period", text) from None


def scheme_from(params) -> EvaluationScheme:
    code = (params.get("scheme") or "unit").strip()
    try:
        return service.scheme_row(code)
    except DomainError:
        raise Refused("scheme", code) from None


def level_from(params, scheme: EvaluationScheme) -> str:
    """The region level for region schemes ("" for the others)."""
    if scheme.subject != Subject.GRID.value:
        return ""
    level = (params.get("level") or "street").strip()
    if level not in service.LEVELS:
        raise Refused("level", level)
    return level


def refusal(exc: DomainError, value: object = "") -> Refused:
    return Refused(exc.field or "period", value)


# ------------------------------------------------------------------ figures as text


def _fraction(text) -> Fraction | None:
    return None if text is None else Fraction(str(text))


def number_text(text, places: int = 2) -> str:
    """A stored exact value ("4/5", "94.00") rounded half up for display, "—" for none."""
    value = _fraction(text)
    return "—" if value is None else str(round_half_up(value, places))


def figure_text(code: str, figure: dict | None) -> str:
    """An indicator as printed: 件 for counts, % for rates, 小时 for averages; 不适用 when
    nothing was due."""
    if figure is None:
        return "—"
    kind = BY_CODE[code].kind
    if kind is Kind.COUNT:
        value = _fraction(figure["value"])
        return str(value.numerator) if value.denominator == 1 else str(round_half_up(value))
    if figure["display"] is None:
        return _("不适用")
    if kind is Kind.RATE:
        return f"{figure['display']}%"
    return _("%(hours)s 小时") % {"hours": figure["display"]}


def change_text(change: dict | None) -> str:
    """The composite's change in points ("+1.50", "−3.00"), "—" when there is nothing to compare."""
    if not change or change.get("composite") is None:
        return "—"
    value = Decimal(change["composite"])
    return f"{value:+.2f}".replace("-", "−")


_BELOW = re.compile(r"^(\d+) .+ \((\w+)\) in the period, below the minimum of (\d+) for ranking$")


def reason_text(reason: str | None, not_ranked: dict | None = None) -> str:
    """Why a subject is not ranked, in the user's language: from the structured reason the
    scoring gives (``not_ranked``), or, for runs stored before it did, from its English text."""
    if not reason:
        return ""
    if not_ranked is None:
        below = _BELOW.match(reason)
        if below:
            not_ranked = {"why": "below_minimum", "indicator": below[2], "count": below[1], "minimum": below[3]}
        elif reason.startswith("nothing was due"):
            not_ranked = {"why": "nothing_due"}
    if not_ranked and not_ranked.get("why") == "below_minimum":
        return _("%(label)s %(count)s 件，少于 %(minimum)s 件，不参加排名") % {
            "label": indicator_label(not_ranked["indicator"]),
            "count": not_ranked["count"],
            "minimum": not_ranked["minimum"],
        }
    if not_ranked and not_ranked.get("why") == "nothing_due":
        return _("本期各计分指标都没有应办事项，没有综合指标值，不参加排名")
    return reason


# ------------------------------------------------------------------ the ranking table


def drill_url(query: dict, subject_id, indicator: str | None = None, **extra) -> str:
    params = {**query, "subject": subject_id, **extra}
    if indicator:
        params["indicator"] = indicator
    return f"{reverse('console-evaluation-cases')}?{urlencode(params)}"


def columns(results: dict) -> list[dict]:
    """The scored items of the table's scheme, as stored in the results (same order for every subject)."""
    first = results["subjects"][0]["items"] if results["subjects"] else []
    return [
        {
            "code": item["indicator"],
            "label": indicator_label(item["indicator"]),
            "weight": number_text(item["weight"], 0),
        }
        for item in first
    ]


def flag_url(kind: str, subject_kind: str, subject_id: int, period: Period) -> str:
    """The page of one flag (its numbers and its cases)."""
    here = reverse("console-evaluation-flag", args=[kind, subject_kind, subject_id])
    return f"{here}?{urlencode({'period': token(period)})}"


def flag_markers(period: Period, subject_kind: str, level: str, now: dt.datetime) -> dict[int, list[dict]]:
    """subject id → its flags of the period (detector, title, link), for the ranking's
    markers. Only the detectors of the ranked subject kind run; regions carry the grids'
    flags at the grid level only (a street is not a grid)."""
    kinds = [k for k, d in DETECTORS.items() if subject_kind in d.subject_kinds]
    if not kinds or (subject_kind == Subject.GRID.value and level != "grid"):
        return {}
    markers: dict[int, list[dict]] = defaultdict(list)
    for f in flag_service.find_flags(period.start, period.end, now=now, kinds=kinds):
        if f.subject_kind == subject_kind:
            url = flag_url(f.kind, f.subject_kind, f.subject_id, period)
            markers[f.subject_id].append({"kind": f.kind, "title": FLAG_WORDS[f.kind].title, "url": url})
    return dict(markers)


def table(results: dict, query: dict, *, links: bool = True, flags: dict[int, list[dict]] | None = None) -> dict:
    """The ranking as the templates show it: the ranked subjects per peer group (in rank
    order), then the unranked ones with the reason. ``query``: the drill-down's parameters
    (period, scheme, level or run); ``links`` False for the public page; ``flags``: the
    subjects' anti-gaming flags (``flag_markers``), shown as markers beside their names."""
    groups: dict[str, list[dict]] = {}
    unranked = []
    for subject in results["subjects"]:
        sid = subject["id"]
        url = (lambda code=None, sid=sid: drill_url(query, sid, code)) if links else (lambda code=None: "")
        row = {
            "id": sid,
            "name": subject["name"],
            "parent": subject["parent"],
            "group": subject["group"],
            "rank": subject["rank"],
            "group_size": subject["group_size"],
            "composite": subject["composite"] or "—",
            "grade": subject["grade"] or "—",
            "url": url(),
            "cells": [
                {
                    "code": item["indicator"],
                    "value": figure_text(item["indicator"], subject["indicators"].get(item["indicator"])),
                    "per_grid": number_text(item["value"])
                    if item["method"] == Method.BANDS
                    and _fraction(item["value"]) is not None
                    and subject["indicators"].get(item["indicator"], {}).get("value") != item["value"]
                    else "",
                    "points": number_text(item["points"]),
                    "url": url(item["indicator"]),
                }
                for item in subject["items"]
            ],
            "month_on_month": change_text(subject.get("month_on_month")),
            "year_on_year": change_text(subject.get("year_on_year")),
            "reason": reason_text(subject["reason"], subject.get("not_ranked")),
            "flags": (flags or {}).get(sid, []),
        }
        if subject["ranked"]:
            groups.setdefault(subject["group"], []).append(row)
        else:
            unranked.append(row)
    return {"groups": list(groups.items()), "unranked": unranked, "columns": columns(results)}


# ------------------------------------------------------------------ page furniture


def _nav(request: HttpRequest) -> dict:
    mine = queues.queues_for(request.user)
    number_of = queues.counts(request.user, _now()) if mine else {}
    here = reverse("console-evaluation")  # the side bar links the evaluation's own pages already
    screens = [(label, url) for label, url in screens_for(request.user) if url != here]
    return {"nav": [(q, number_of.get(q.slug, 0)) for q in mine], "screens": screens}


def scheme_choices() -> list[tuple[str, str]]:
    return [(code, domain_label(scheme.label)) for code, scheme in DEFAULT_SCHEMES.items()]


def shortcuts(today: dt.date, query: dict, page: str = "console-evaluation") -> list[tuple[str, str]]:
    """Links to the usual periods (this and last week, month, quarter, year) on ``page``."""
    here = reverse(page)
    this_quarter = Period.quarter(today.year, (today.month + 2) // 3)
    periods = (
        (_("上周"), Period.week_of(today).previous()),
        (_("本周"), Period.week_of(today)),
        (_("上月"), last_month(today)),
        (_("本月"), Period.month(today.year, today.month)),
        (_("上季度"), this_quarter.previous()),
        (_("本季度"), this_quarter),
        (_("去年"), Period.year(today.year - 1)),
        (_("今年"), Period.year(today.year)),
    )
    return [(label, f"{here}?{urlencode({**query, 'period': token(p)})}") for label, p in periods]


# ------------------------------------------------------------------ the ranking page


@login_required
def ranking(request: HttpRequest) -> HttpResponse:
    if not may_view(request.user):
        return _refuse_viewer(request)
    return _ranking_page(request, request.GET)


def _ranking_page(request: HttpRequest, params, problem: str = "", status: int = 200) -> HttpResponse:
    now = _now()
    today = timezone.localtime(now).date()
    context = {
        **_nav(request),
        "schemes": scheme_choices(),
        "levels": LEVEL_CHOICES,
        "period_forms": PERIOD_FORMS,
        "period_value": params.get("period", "") or token(last_month(today)),
        "from_value": params.get("from", ""),
        "to_value": params.get("to", ""),
        "scheme_value": params.get("scheme", "unit"),
        "level_value": params.get("level", "street"),
        "may_run": may_run(request.user),
        "problem": problem,
        "problems": {},
    }
    try:
        period = period_from(params, today)
        row = scheme_from(params)
        level = level_from(params, row)
        evaluation = service.evaluate(period, row.code, now=now, level=level or "street")
    except Refused as refused:
        context["problems"] = {refused.where(): refused.text()}
        return render(request, "citykeeper/console/evaluation.html", context, status=400)
    except DomainError as exc:
        refused = refusal(exc, params.get(exc.field or "period", ""))
        context["problems"] = {refused.where(): refused.text()}
        return render(request, "citykeeper/console/evaluation.html", context, status=400)
    results = service.results_json(evaluation)
    query = {"period": token(period), "scheme": row.code}
    if level:
        query["level"] = level
    context.update(
        {
            "period": period,
            "period_label": period_text(period),
            # A custom range from the date fields is shown in its text form (which reads back the same).
            "period_value": token(period),
            "from_value": "",
            "to_value": "",
            "scheme": row,
            "scheme_value": row.code,
            "level": level,
            "level_value": level or "street",
            "region": row.subject == Subject.GRID.value,
            "provisional": evaluation.provisional,
            "as_of": now,
            "query": query,
            "shortcuts": shortcuts(today, {k: v for k, v in query.items() if k != "period"}),
            "flags_url": f"{reverse('console-evaluation-flags')}?{urlencode({'period': token(period)})}",
            **table(results, query, flags=flag_markers(period, row.subject, level, now)),
        }
    )
    return render(request, "citykeeper/console/evaluation.html", context, status=status)


# ------------------------------------------------------------------ the drill-down


def _may_drill(user, scheme_subject: str, subject_id) -> bool:
    """Evaluators, leaders and shift leads see every figure's cases; a unit handler those of
    their own unit's figures."""
    if may_view(user):
        return True
    return (
        scheme_subject == Subject.UNIT.value
        and Role.UNIT_HANDLER in user.roles
        and user.scope_unit_id is not None
        and str(user.scope_unit_id) == str(subject_id)
    )


def _subject_id(params) -> int:
    raw = (params.get("subject") or "").strip()
    if not raw.isdigit():
        raise Refused("subject", raw)
    return int(raw)


_CASE_FIELDS = ("number", "address", "category__minor_name", "area_path", "unit_id", "reporter_id")


def _case_rows(user, entries, factors: dict[int, Fraction], visible: dict[str, Case]) -> list[dict]:
    rows = []
    for e in entries:
        case = visible.get(e.number)
        factor = factors.get(e.key, Fraction(1)) if factors else None
        rows.append(
            {
                "number": e.number,
                "case": case,
                "counter": counter_label(e.counter),
                "day": e.day,
                "value": e.value,
                "factor": None if factor is None else _factor_text(factor),
                "weighted": None if factor is None else _factor_text(e.value * factor),
            }
        )
    return rows


def _factor_text(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else str(round_half_up(value))


def _total(entries, factors: dict[int, Fraction]) -> Fraction:
    return sum((e.value * factors.get(e.key, Fraction(1)) for e in entries), Fraction(0))


@login_required
def cases(request: HttpRequest) -> HttpResponse:
    """The cases behind one figure (or, without ``indicator``, every figure of one subject)."""
    params = request.GET
    now = _now()
    today = timezone.localtime(now).date()
    context = {**_nav(request), "problems": {}}
    try:
        subject_id = _subject_id(params)
        stored = None
        if params.get("run"):
            raw = params["run"].strip()
            stored = (
                EvaluationRun.objects.select_related("scheme").defer("cases").filter(pk=int(raw)).first()
                if raw.isdigit()
                else None
            )
            if stored is None:
                raise Refused("run", raw)
            results, period = stored.results, service.period_of(stored)
            scheme_subject, code, level = stored.scheme.subject, stored.scheme.code, stored.level
            query = {"run": stored.pk}
        else:
            period = period_from(params, today)
            row = scheme_from(params)
            level = level_from(params, row)
            scheme_subject, code = row.subject, row.code
            query = {"period": token(period), "scheme": code, **({"level": level} if level else {})}
            results = None
        if not _may_drill(request.user, scheme_subject, subject_id):
            return _refuse_viewer(request)
        if results is None:
            evaluation = service.evaluate(period, code, now=now, level=level or "street", comparisons=False)
            results = service.results_json(evaluation)
        subject = next((s for s in results["subjects"] if s["id"] == subject_id), None)
        if subject is None:
            raise Refused("subject", subject_id)
        indicator = (params.get("indicator") or "").strip()
        if indicator and indicator not in subject["indicators"]:
            raise Refused("indicator", indicator)
    except Refused as refused:
        context["problems"] = {refused.where(): refused.text()}
        return render(request, "citykeeper/console/evaluation_cases.html", context, status=400)
    except DomainError as exc:
        refused = refusal(exc, params.get(exc.field or "period", ""))
        context["problems"] = {refused.where(): refused.text()}
        return render(request, "citykeeper/console/evaluation_cases.html", context, status=400)
    context.update(
        {
            "subject": subject,
            "period_label": period_text(period),
            "stored": stored,
            "frozen": stored is not None and stored.snapshot_id is not None,
            "scheme_label": f"{domain_label(results['scheme']['label'])} v{results['scheme']['version']}",
            "query": query,
            "back_url": reverse("console-evaluation-run", args=[stored.pk])
            if stored
            else f"{reverse('console-evaluation')}?{urlencode(query)}",
            "as_of": dt.datetime.fromisoformat(results["as_of"]),
            "provisional": results["provisional"],
        }
    )
    if not indicator:
        context["figures"] = [
            {
                "code": c,
                "label": indicator_label(c),
                "value": figure_text(c, f),
                "scored": any(item["indicator"] == c for item in subject["items"]),
                "url": drill_url(query, subject_id, c),
            }
            for c, f in subject["indicators"].items()
        ]
        context["figures"].sort(key=lambda f: (not f["scored"], f["label"]))
        return render(request, "citykeeper/console/evaluation_cases.html", context)
    drill = service.drilldown(
        period, code, subject_id, indicator, now=now, level=level or "street", run_id=stored.pk if stored else None
    )
    numbers = sorted({e.number for e in (*drill.numerator, *drill.denominator)})
    visible = {
        c.number: c
        for c in Case.objects.restrict(request.user, "view")
        .filter(number__in=numbers)
        .select_related("category")
        .only(*_CASE_FIELDS)
    }
    key_names = {}
    if drill.factors:
        key_names = dict(Category.objects.filter(pk__in=list(drill.factors)).values_list("pk", "minor_name"))
    found = BY_CODE[indicator]
    figure = subject["indicators"][indicator]
    context.update(
        {
            "indicator": found,
            "figure": figure_text(indicator, figure),
            "weighted": bool(drill.factors),
            "factors": [
                {"key": key, "name": key_names.get(key, key), "factor": _factor_text(f)}
                for key, f in sorted(drill.factors.items())
            ],
            "numerator_label": " + ".join(counter_label(c) for c in found.numerator),
            "denominator_label": " + ".join(counter_label(c) for c in found.denominator),
            "numerator_total": _factor_text(_total(drill.numerator, drill.factors)),
            "denominator_total": _factor_text(_total(drill.denominator, drill.factors)) if found.denominator else None,
            "numerator": _case_rows(request.user, drill.numerator, drill.factors, visible),
            "denominator": _case_rows(request.user, drill.denominator, drill.factors, visible),
            "definitions": [
                (counter_label(c), COUNTER_BY_NAME[c].definition) for c in (*found.numerator, *found.denominator)
            ],
            "overview_url": drill_url(query, subject_id),
        }
    )
    return render(request, "citykeeper/console/evaluation_cases.html", context)


# ------------------------------------------------------------------ runs


_RUN_LIST_FIELDS = (
    "pk",
    "period_kind",
    "period_start",
    "period_end",
    "level",
    "as_of",
    "provisional",
    "checksum",
    "snapshot_id",
    "published_at",
    "scheme__code",
    "scheme__version",
    "scheme__label",
    "computed_by__username",
    "computed_by__display_name",
)


@login_required
def runs(request: HttpRequest) -> HttpResponse:
    """GET: the runs, newest first. POST: evaluate the period, scheme and level of the form and store the run."""
    if request.method == "POST":
        if not may_run(request.user):
            return _refuse_runner(request)
        params = request.POST
        now = _now()
        try:
            period = period_from(params, timezone.localtime(now).date())
            row = scheme_from(params)
            level = level_from(params, row)
            stored = service.run(period, row.code, by=request.user, now=now, level=level or "street")
        except Refused as refused:
            return _ranking_page(request, params, problem=refused.text(), status=400)
        except DomainError as exc:
            return _ranking_page(
                request, params, problem=refusal(exc, params.get(exc.field or "period", "")).text(), status=400
            )
        return redirect("console-evaluation-run", run_id=stored.pk)
    if not may_view(request.user):
        return _refuse_viewer(request)
    rows = (
        EvaluationRun.objects.select_related("scheme", "computed_by")
        .only(*_RUN_LIST_FIELDS)
        .order_by("-as_of", "-pk")[:RUNS_SHOWN]
    )
    listed = [
        {
            "run": r,
            "period": period_text(service.period_of(r)),
            "checksum": r.checksum[:12],
            "level": LEVEL_LABELS.get(r.level, ""),
            "by": person(r.computed_by),
        }
        for r in rows
    ]
    return render(
        request, "citykeeper/console/evaluation_runs.html", {**_nav(request), "runs": listed, "shown": RUNS_SHOWN}
    )


def person(user) -> str:
    """Who did it, as the pages name them ("系统" for the defaults and the jobs)."""
    if user is None:
        return _("系统")
    return user.display_name or user.username


def _with_authors(rows) -> list[EvaluationScheme]:
    rows = list(rows)
    for row in rows:
        row.author = person(row.created_by)
    return rows


def _history(code: str) -> list[EvaluationScheme]:
    return _with_authors(
        EvaluationScheme.objects.filter(code=code).select_related("created_by").defer("definition").order_by("-version")
    )


def _run_page(
    request: HttpRequest, stored: EvaluationRun, problem: str = "", status: int = 200, adjusting: dict | None = None
) -> HttpResponse:
    # Imported here: the adjustments' module builds on this one.
    from citykeeper.web.console.sampling import adjustment_context, sampling_links

    results = stored.results
    period = service.period_of(stored)
    return render(
        request,
        "citykeeper/console/evaluation_run.html",
        {
            **_nav(request),
            "stored": stored,
            "results": results,
            "period_label": period_text(period),
            "checksum": stored.checksum,
            "history": _history(stored.scheme.code),
            "computed_by": person(stored.computed_by),
            "level": LEVEL_LABELS.get(stored.level, ""),
            "published_by": person(stored.published_by),
            "scheme_by": person(stored.scheme.created_by),
            "may_run": may_run(request.user),
            "problem": problem,
            "live_url": f"{reverse('console-evaluation')}?{urlencode(_live_query(stored, period))}",
            **table(results, {"run": stored.pk}),
            **adjustment_context(stored, request.user, adjusting),
            "sampling_rounds": sampling_links(period),
        },
        status=status,
    )


def _live_query(stored: EvaluationRun, period: Period) -> dict:
    query = {"period": token(period), "scheme": stored.scheme.code}
    return {**query, "level": stored.level} if stored.level else query


def _stored(run_id: int) -> EvaluationRun | None:
    return (
        EvaluationRun.objects.select_related("scheme", "scheme__created_by", "computed_by", "published_by")
        .defer("cases")
        .filter(pk=run_id)
        .first()
    )


@login_required
def run_page(request: HttpRequest, run_id: int) -> HttpResponse:
    if not may_view(request.user):
        return _refuse_viewer(request)
    stored = _stored(run_id)
    if stored is None:
        return render(
            request,
            "citykeeper/console/evaluation_run.html",
            {**_nav(request), "stored": None, "problem": Refused("run", run_id).text()},
            status=404,
        )
    return _run_page(request, stored)


def publish_refusal(exc: DomainError, stored: EvaluationRun) -> str:
    """Why a run cannot be published, in Chinese."""
    if exc.field == "scheme":
        current = service.scheme_row(stored.scheme.code)
        return _(
            "这次评价使用的是方案“%(label)s”v%(old)s，现行版本是 v%(new)s。请按现行方案重新评价，再公布新的结果。"
        ) % {"label": domain_label(stored.scheme.label), "old": stored.scheme.version, "new": current.version}
    if exc.field == "period":
        return _("考评周期（%(start)s 至 %(end)s）还没有结束，%(end)s 之后才能公布。") % {
            "start": stored.period_start,
            "end": stored.period_end,
        }
    if exc.field == "run" and service.checksum(stored.results) != stored.checksum:
        # The service refuses a stored row that no longer matches its own checksum too.
        return _("这次评价结果的保存记录与它的校验值不一致，可能被改动过，不能公布。请重新评价，再公布新的结果。")
    if exc.field == "run":
        return _(
            "这次评价之后，案件的办理情况、抽查复核结果或人工调整（新增或撤销）有了变化，"
            "这次结果的数据已经过时。请重新评价，计算一次新的结果，再公布。"
        )
    return _("公布未成功：%(detail)s") % {"detail": exc.message}


@login_required
def publish(request: HttpRequest, run_id: int) -> HttpResponse:
    if request.method != "POST":
        return redirect("console-evaluation-run", run_id=run_id)
    if not may_run(request.user):
        return _refuse_runner(request)
    stored = _stored(run_id)
    if stored is None:
        return render(
            request,
            "citykeeper/console/evaluation_run.html",
            {**_nav(request), "stored": None, "problem": Refused("run", run_id).text()},
            status=404,
        )
    try:
        service.publish(stored.pk, by=request.user, now=_now())
    except NotFound:
        return redirect("console-evaluation-run", run_id=run_id)
    except DomainError as exc:
        return _run_page(request, stored, problem=publish_refusal(exc, stored), status=400)
    return redirect("console-evaluation-run", run_id=run_id)


# ------------------------------------------------------------------ schemes


def _bands_text(bands) -> str:
    parts = []
    for low, high, points in bands:
        span = f"{low}" if high == low else (f"≥ {low}" if high is None else f"{low}–{high}")
        parts.append(f"{span}: {points}")
    return " · ".join(parts)


def scheme_view(row: EvaluationScheme, key_names: dict[int, str]) -> dict:
    """A stored scheme version as the schemes page shows it."""
    d = row.definition
    mv = d.get("min_volume")
    return {
        "row": row,
        "items": [
            {
                "label": indicator_label(i["indicator"]),
                "code": i["indicator"],
                "weight": i["weight"],
                "method": METHOD_LABELS.get(Method(i["method"]), i["method"]),
                "bands": _bands_text(i.get("bands", ())),
                "per_grid": i.get("per_grid", False),
            }
            for i in d["items"]
        ],
        "multipliers": [(key_names.get(int(k), k), f) for k, f in d.get("multipliers", ())],
        "weighted_rates": [indicator_label(c) for c in d.get("weighted_rates", ()) if c in BY_CODE],
        "min_volume": None if mv is None else {"label": indicator_label(mv["indicator"]), "threshold": mv["threshold"]},
        "grades": d.get("grades", ()),
        "peer": PEER_LABELS.get(d.get("peer_key", "none"), d.get("peer_key")),
    }


@login_required
def schemes(request: HttpRequest) -> HttpResponse:
    if not may_view(request.user):
        return _refuse_viewer(request)
    in_force = [service.scheme_row(code) for code in DEFAULT_SCHEMES]
    others = EvaluationScheme.objects.exclude(code__in=list(DEFAULT_SCHEMES)).order_by("code", "-version")
    newest = {}
    for row in others:
        newest.setdefault(row.code, row)
    in_force += list(newest.values())
    versions = defaultdict(list)
    every = EvaluationScheme.objects.select_related("created_by").defer("definition").order_by("code", "-version")
    for row in _with_authors(every):
        versions[row.code].append(row)
    key_names = dict(Category.objects.filter(key_problem=True).values_list("pk", "minor_name"))
    return render(
        request,
        "citykeeper/console/evaluation_schemes.html",
        {
            **_nav(request),
            "schemes": [{**scheme_view(row, key_names), "versions": versions[row.code]} for row in in_force],
            "may_edit": may_run(request.user),
        },
    )


def _decimal(raw: str) -> Decimal | None:
    try:
        value = Decimal((raw or "").strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


SCHEME_PROBLEMS = {
    "weights": gettext_lazy("各项权重合计为 %(total)s%%，必须正好是 100%%。没有保存。"),
    "weight": gettext_lazy("权重必须是大于 0 的数字。"),
    "multipliers": gettext_lazy("重点问题倍数必须是不小于 1 的数字。"),
    "min_volume": gettext_lazy("参加排名的最低件数必须是不小于 0 的整数。"),
    "reason": gettext_lazy("请填写修改理由。"),
    "definition": gettext_lazy("方案没有改动，不需要保存新版本。"),
}


def _scheme_problem(exc: DomainError) -> tuple[str, str]:
    """(form field, Chinese text) of a refused scheme."""
    field = exc.field or ""
    if field == "weights":
        return "weights", SCHEME_PROBLEMS["weights"] % {"total": exc.params.get("total", "")}
    if field.endswith(".weight"):
        return "weights", SCHEME_PROBLEMS["weight"]
    if field in SCHEME_PROBLEMS:
        return field, str(SCHEME_PROBLEMS[field])
    return "definition", _("方案未保存：%(detail)s") % {"detail": exc.message}


def _edited(row: EvaluationScheme, post, key_problems) -> tuple[dict, dict]:
    """The new definition from the form, and the problems of fields that are not numbers."""
    definition = {**row.definition, "items": [dict(i) for i in row.definition["items"]]}
    problems = {}
    for n, item in enumerate(definition["items"]):
        weight = _decimal(post.get(f"weight_{n}", ""))
        if weight is None or weight <= 0:
            problems["weights"] = str(SCHEME_PROBLEMS["weight"])
        else:
            item["weight"] = format(weight.normalize(), "f")
    if definition.get("min_volume") is not None:
        raw = (post.get("min_volume", "") or "").strip()
        if not raw.isdigit():
            problems["min_volume"] = str(SCHEME_PROBLEMS["min_volume"])
        else:
            definition["min_volume"] = {**definition["min_volume"], "threshold": int(raw)}
    multipliers = []
    for category in key_problems:
        raw = (post.get(f"multiplier_{category.pk}", "") or "").strip()
        if not raw:
            continue
        factor = _decimal(raw)
        if factor is None or factor < 1:
            problems["multipliers"] = str(SCHEME_PROBLEMS["multipliers"])
        elif factor != 1:
            multipliers.append([category.pk, format(factor.normalize(), "f")])
    definition["multipliers"] = multipliers
    return definition, problems


@login_required
def edit_scheme(request: HttpRequest, code: str) -> HttpResponse:
    if not may_run(request.user):
        return _refuse_runner(request)
    try:
        row = service.scheme_row(code)
    except DomainError:
        return render(
            request,
            "citykeeper/console/evaluation_scheme_edit.html",
            {**_nav(request), "row": None, "problems": {"scheme": Refused("scheme", code).text()}},
            status=404,
        )
    key_problems = list(Category.objects.filter(key_problem=True).only("pk", "minor_code", "minor_name"))
    current = dict((int(k), f) for k, f in row.definition.get("multipliers", ()))
    problems: dict[str, str] = {}
    status = 200
    values = {
        "weights": [i["weight"] for i in row.definition["items"]],
        "min_volume": (row.definition.get("min_volume") or {}).get("threshold", ""),
        "multipliers": {c.pk: current.get(c.pk, "") for c in key_problems},
        "reason": "",
    }
    if request.method == "POST":
        definition, problems = _edited(row, request.POST, key_problems)
        values = {
            "weights": [request.POST.get(f"weight_{n}", "") for n in range(len(row.definition["items"]))],
            "min_volume": request.POST.get("min_volume", ""),
            "multipliers": {c.pk: request.POST.get(f"multiplier_{c.pk}", "") for c in key_problems},
            "reason": request.POST.get("reason", ""),
        }
        if not problems:
            try:
                service.save_scheme(definition, by=request.user, reason=values["reason"], at=_now())
            except DomainError as exc:
                where, text = _scheme_problem(exc)
                problems[where] = text
            else:
                return redirect(f"{reverse('console-evaluation-schemes')}#scheme-{row.code}")
        status = 400
    items = [
        {
            "label": indicator_label(i["indicator"]),
            "method": METHOD_LABELS.get(Method(i["method"])),
            "weight": w,
            "n": n,
        }
        for n, (i, w) in enumerate(zip(row.definition["items"], values["weights"], strict=True))
    ]
    return render(
        request,
        "citykeeper/console/evaluation_scheme_edit.html",
        {
            **_nav(request),
            "row": row,
            "items": items,
            "min_volume": row.definition.get("min_volume"),
            "min_volume_label": indicator_label(row.definition["min_volume"]["indicator"])
            if row.definition.get("min_volume")
            else "",
            "key_problems": [(c, values["multipliers"][c.pk]) for c in key_problems],
            "weighted_rates": [indicator_label(c) for c in row.definition.get("weighted_rates", ()) if c in BY_CODE],
            "values": values,
            "problems": problems,
        },
        status=status,
    )


urlpatterns = [
    path("evaluation/", ranking, name="console-evaluation"),
    path("evaluation/cases/", cases, name="console-evaluation-cases"),
    path("evaluation/runs/", runs, name="console-evaluation-runs"),
    path("evaluation/runs/<int:run_id>/", run_page, name="console-evaluation-run"),
    path("evaluation/runs/<int:run_id>/publish/", publish, name="console-evaluation-publish"),
    path("evaluation/schemes/", schemes, name="console-evaluation-schemes"),
    path("evaluation/schemes/<str:code>/edit/", edit_scheme, name="console-evaluation-scheme-edit"),
]
