"""The unit handler's workspace (本单位工作台): the unit's queues with their counts, its month
(``services.unitstats.month_stats``) beside the month before (环比), its on-time disposal
rate, a daily chart of dispatched vs disposed cases and the list of its overdue cases.

Who sees which unit:

- a unit handler sees their own unit (``user.scope_unit``);
- leaders and shift leads may look at any unit in their scope area (``?unit=<code>``);
  without ``?unit`` they get the list of the units in their scope with their standing;
- anybody else gets the console's 403 page.

``?month=2026-11`` picks the month (the current one by default); a malformed month or
one that has not begun yet is answered with a Chinese message and the month picker
(status 400), never a 500.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from types import SimpleNamespace

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from citykeeper.domain.evaluation.periods import Period, token
from citykeeper.domain.workflow import Role
from citykeeper.services import evaluation, queues, unitstats
from citykeeper.store.models import Case, Unit
from citykeeper.web.console.evaluation import drill_url, figure_text, number_text, reason_text
from citykeeper.web.console.queues import STAGE_LABELS, badge
from citykeeper.web.evaluation_labels import indicator_label, period_label

OVERDUE_ROWS = 50
OVERSEERS = frozenset({Role.LEADER, Role.SHIFT_LEAD})
UNIT_QUEUES = tuple(q for q in queues.QUEUES if q.slug.startswith("unit_"))
_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


def _figures():
    """The month's figures in the order of the table: (MonthStats field, label)."""
    return [
        ("dispatched", _("派遣件数")),
        ("received", _("签收件数")),
        ("disposed", _("处置件数")),
        ("on_time", _("按时处置件数")),
        ("returns_requested", _("回退申请")),
        ("returns_approved", _("回退获批")),
        ("extensions_requested", _("延期申请")),
        ("extensions_approved", _("延期获批")),
        ("suspensions_requested", _("挂账申请")),
        ("suspensions_approved", _("挂账获批")),
        ("reworks", _("返工次数")),
    ]


def _forbidden(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "citykeeper/console/forbidden.html", {"message": message}, status=403)


# ------------------------------------------------------------------ who may see which unit


def _is_handler(user) -> bool:
    return Role.UNIT_HANDLER in user.roles and user.scope_unit_id is not None


def _is_overseer(user) -> bool:
    return user.is_superuser or bool(user.roles & OVERSEERS)


def may_open_workspace(user) -> bool:
    """Whether the console shows the user a link to this workspace (the queue page asks)."""
    return user.is_authenticated and (_is_handler(user) or _is_overseer(user))


def _units_in_scope(user):
    """Active units an overseer may look at: those whose area is inside the user's scope
    area (units without an area only for city-level staff). None without a scope area."""
    units = Unit.objects.filter(active=True).only("pk", "code", "name", "area_id")
    if user.is_superuser:
        return units
    if user.scope_area_id is None:
        return units.none()
    scope = user.scope_area
    inside = Q(area__path=scope.path) | Q(area__path__startswith=f"{scope.path}/")
    if scope.parent_id is None:
        inside |= Q(area__isnull=True)
    return units.filter(inside)


def _unit_for(request: HttpRequest):
    """(the unit to show or None for the overseer's list, an error response or None)."""
    user = request.user
    code = request.GET.get("unit", "").strip()
    handler, overseer = _is_handler(user), _is_overseer(user)
    if not handler and not overseer:
        return None, _forbidden(request, _("本单位工作台只对处置单位人员、值班长和领导开放。"))
    if not code:
        if handler:
            return Unit.objects.only("pk", "code", "name").get(pk=user.scope_unit_id), None
        return None, None
    unit = Unit.objects.filter(code=code).only("pk", "code", "name").first()
    if unit is not None and handler and unit.pk == user.scope_unit_id:
        return unit, None
    if unit is not None and overseer and _units_in_scope(user).filter(pk=unit.pk).exists():
        return unit, None
    return None, _forbidden(request, _("没有这个单位，或者您无权查看它。"))


# ------------------------------------------------------------------ the month


def _this_month(now: dt.datetime) -> tuple[int, int]:
    local = timezone.localtime(now)
    return local.year, local.month


def _previous(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def _following(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def _month_from(value: str, now: dt.datetime) -> tuple[tuple[int, int] | None, str | None]:
    """((year, month), None) or (None, the Chinese message)."""
    if not value:
        return _this_month(now), None
    match = _MONTH_RE.match(value.strip())
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 2000:
        return None, _("月份“%(value)s”无法识别，请按“2026-11”的格式选择月份。") % {"value": value[:20]}
    chosen = (int(match.group(1)), int(match.group(2)))
    if chosen > _this_month(now):
        return None, _("%(year)s 年 %(month)s 月还没有到，无法统计。") % {"year": chosen[0], "month": chosen[1]}
    return chosen, None


def _rate_text(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def _hours_text(seconds: float | None) -> str:
    return "—" if seconds is None else _("%(h)s 小时") % {"h": f"{seconds / 3600:.1f}"}


def _change(now_value, before_value) -> str:
    if now_value is None or before_value is None:
        return "—"
    diff = now_value - before_value
    return f"{diff:+d}" if diff else "0"


def _figure_rows(stats, before) -> list[dict]:
    rows = [
        {"key": key, "label": label, "now": getattr(stats, key), "before": getattr(before, key)}
        for key, label in _figures()
    ]
    for row in rows:
        row["change"] = _change(row["now"], row["before"])
    rate, rate_before = stats.on_time_rate, before.on_time_rate
    rows.append(
        {
            "key": "on_time_rate",
            "label": _("按时处置率"),
            "now": _rate_text(rate),
            "before": _rate_text(rate_before),
            "change": "—"
            if rate is None or rate_before is None
            else _("%(points)s 个百分点") % {"points": f"{(rate - rate_before) * 100:+.1f}"},
        }
    )
    average, average_before = stats.average_disposal_seconds, before.average_disposal_seconds
    rows.append(
        {
            "key": "average_disposal",
            "label": _("平均处置用时（工作时间）"),
            "now": _hours_text(average),
            "before": _hours_text(average_before),
            "change": "—"
            if average is None or average_before is None
            else _("%(h)s 小时") % {"h": f"{(average - average_before) / 3600:+.1f}"},
        }
    )
    return rows


# ------------------------------------------------------------------ the queues and overdue cases


def _queue_counts(user, unit: Unit, now: dt.datetime) -> list[dict]:
    """The unit's queues with their counts (what the viewer may see), in one query, for
    somebody else than the unit's handler: without links (the queues are not theirs)."""
    as_unit = SimpleNamespace(scope_unit_id=unit.pk)
    aggregates = {q.slug: Count("pk", filter=q.where(as_unit, now)) for q in UNIT_QUEUES}
    states = sorted({s.value for q in UNIT_QUEUES for s in q.states})
    result = Case.objects.restrict(user, "view").filter(unit_id=unit.pk, state__in=states).aggregate(**aggregates)
    return [{"queue": q, "count": result[q.slug] or 0, "linked": False} for q in UNIT_QUEUES]


_OVERDUE_FIELDS = (
    "number",
    "state",
    "address",
    "stage",
    "stage_deadline_at",
    "stage_warn_at",
    "stage_overdue",
    "stage_warned",
    "stage_remaining_seconds",
    "urgent",
    "rework_count",
    "category__minor_name",
)


def _overdue(user, unit: Unit, now: dt.datetime) -> tuple[list, bool]:
    overdue = queues.BY_SLUG["unit_overdue"]
    cases = (
        Case.objects.restrict(user, "view")
        .filter(unit_id=unit.pk, state__in=[s.value for s in overdue.states])
        .filter(queues.deadline_q("overdue", now))
        .select_related("category")
        .only(*_OVERDUE_FIELDS)
        .order_by("stage_deadline_at", "id")
    )
    rows = list(cases[: OVERDUE_ROWS + 1])
    return [(c, badge(c, now), STAGE_LABELS.get(c.stage, c.stage)) for c in rows[:OVERDUE_ROWS]], len(
        rows
    ) > OVERDUE_ROWS


# ------------------------------------------------------------------ the pages


def _units_list(request: HttpRequest, now: dt.datetime) -> HttpResponse:
    units = list(_units_in_scope(request.user).order_by("code"))
    standing = unitstats.unit_standing([u.pk for u in units], now) if units else {}
    rows = [
        (u, standing.get(u.pk), _rate_text(standing[u.pk].on_time_rate) if u.pk in standing else "—") for u in units
    ]
    mine = queues.queues_for(request.user)
    number_of = queues.counts(request.user, now)
    return render(
        request,
        "citykeeper/console/unit.html",
        {"unit": None, "units": rows, "nav": [(q, number_of.get(q.slug, 0)) for q in mine]},
    )


@login_required
def workspace(request: HttpRequest) -> HttpResponse:
    unit, refused = _unit_for(request)
    if refused is not None:
        return refused
    now = timezone.now()
    if unit is None:
        return _units_list(request, now)
    chosen, problem = _month_from(request.GET.get("month", ""), now)
    mine = queues.queues_for(request.user)
    number_of = queues.counts(request.user, now)
    own = unit.pk == request.user.scope_unit_id and Role.UNIT_HANDLER in request.user.roles
    if own:  # the handler's own queues are the unit's: the nav counts are the figures
        queue_counts = [{"queue": q, "count": number_of.get(q.slug, 0), "linked": True} for q in UNIT_QUEUES]
    else:
        queue_counts = _queue_counts(request.user, unit, now)
    context = {
        "unit": unit,
        "unit_query": "" if own else unit.code,
        "nav": [(q, number_of.get(q.slug, 0)) for q in mine],
        "queue_counts": queue_counts,
        "this_month": "{:04d}-{:02d}".format(*_this_month(now)),
        "problem": problem,
    }
    overdue, more_overdue = _overdue(request.user, unit, now)  # now, whatever the month
    context.update({"overdue": overdue, "more_overdue": more_overdue})
    context["standing_url"] = reverse("console-unit-standing") + (f"?unit={unit.code}" if not own else "")
    if problem:
        context["month_value"] = context["this_month"]
        return render(request, "citykeeper/console/unit.html", context, status=400)
    year, month = chosen
    before_year, before_month = _previous(year, month)
    stats = unitstats.month_stats(unit.pk, year, month, now)
    before = unitstats.month_stats(unit.pk, before_year, before_month, now)
    days = unitstats.daily_counts(unit.code, year, month, now)
    following = _following(year, month)
    context.update(
        {
            "year": year,
            "month": month,
            "month_value": f"{year:04d}-{month:02d}",
            "before_year": before_year,
            "before_month": before_month,
            "previous_value": f"{before_year:04d}-{before_month:02d}",
            "next_value": f"{following[0]:04d}-{following[1]:02d}" if following <= _this_month(now) else None,
            "stats": stats,
            "on_time_rate": _rate_text(stats.on_time_rate),
            "figures": _figure_rows(stats, before),
            "days": days,
            "chart": {
                "days": [d["day"].day for d in days],
                "dispatched": [d["dispatched"] for d in days],
                "disposed": [d["disposed"] for d in days],
                "labels": {"dispatched": _("派遣件数"), "disposed": _("处置件数")},
            },
        }
    )
    return render(request, "citykeeper/console/unit.html", context)


# ------------------------------------------------------------------ 本月考评（暂定）


@login_required
def standing(request: HttpRequest) -> HttpResponse:
    """The unit's own evaluation for the month so far (scheme "unit", provisional): its
    composite, grade, rank in its peer group and each scored item, with links to the cases
    behind them. A fragment the workspace loads after the page (the evaluation reads every
    unit's counters of the month to rank it). Same access as the workspace: a handler sees
    their own unit only."""
    unit, refused = _unit_for(request)
    if refused is not None:
        return refused
    if unit is None:
        return HttpResponse(status=400)
    now = timezone.now()
    year, month = _this_month(now)
    period = Period.month(year, month)
    result = evaluation.evaluate(period, "unit", now=now, comparisons=False)
    mine = result.results.subjects.get(unit.pk)
    context = {"unit": unit, "period_label": period_label(period), "subject": None}
    if mine is not None:
        query = {"period": token(period), "scheme": "unit"}
        values = {code: {"value": v.value, "display": v.display()} for code, v in mine.indicators.items()}
        context.update(
            {
                "subject": mine,
                "scheme": result.scheme,
                "reason": reason_text(
                    mine.reason, None if mine.not_ranked is None else dataclasses.asdict(mine.not_ranked)
                ),
                "overview_url": drill_url(query, unit.pk),
                "items": [
                    {
                        "label": indicator_label(item.indicator),
                        "weight": number_text(item.weight, 0),
                        "value": figure_text(item.indicator, _stringly(values[item.indicator])),
                        "points": number_text(item.points),
                        "url": drill_url(query, unit.pk, item.indicator),
                        "code": item.indicator,
                    }
                    for item in mine.items
                ],
            }
        )
    return render(request, "citykeeper/console/_unit_standing.html", context)


def _stringly(figure: dict) -> dict:
    """An indicator as ``figure_text`` reads it (the stored JSON's strings)."""
    value = figure["value"]
    return {
        "value": None if value is None else f"{value.numerator}/{value.denominator}",
        "display": None if figure["display"] is None else str(figure["display"]),
    }


urlpatterns = [
    path("unit/", workspace, name="console-unit"),
    path("unit/standing/", standing, name="console-unit-standing"),
]
