"""The staff console (工作台): work queues per role, with counts, filters and SLA badges.

Mounted by ``citykeeper.urls`` under ``console/``. The queues themselves (which cases,
which roles) are ``services.queues.QUEUES``; this module only reads GET parameters,
pages and renders.

Paging is by key (``after``, the sort key of the last row shown), never by offset, and
never counts the filtered rows: a page is one indexed range read of 51 rows however deep
it is.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.db.models import F, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from citykeeper.domain.workflow import Stage
from citykeeper.services import queues
from citykeeper.store.models import Area, Category, Unit
from citykeeper.store.models.cases import Source
from citykeeper.store.models.codebook import Standard

PAGE_SIZE = 50

STAGE_LABELS = {
    Stage.ACCEPT: gettext_lazy("受理"),
    Stage.VERIFY: gettext_lazy("核实"),
    Stage.FILE: gettext_lazy("立案"),
    Stage.DISPATCH: gettext_lazy("派遣"),
    Stage.DISPOSE: gettext_lazy("处置"),
    Stage.CHECK: gettext_lazy("核查"),
    Stage.CLOSE: gettext_lazy("结案"),
}

DEADLINE_LABELS = {
    "ok": gettext_lazy("正常"),
    "warn": gettext_lazy("即将超时"),
    "overdue": gettext_lazy("已超时"),
    "paused": gettext_lazy("已暂停（挂账）"),
}

# Sort orders: (the ordering, the field the paging key reads).
SORTS = {
    "deadline": gettext_lazy("按时限（最紧急在前）"),
    "reported": gettext_lazy("按上报时间（最新在前）"),
}


def _forbidden(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "citykeeper/console/forbidden.html",
        {"message": _("工作台只对受理员、值班长、派遣员、处置单位和领导开放。")},
        status=403,
    )


@login_required
def index(request: HttpRequest) -> HttpResponse:
    mine = queues.queues_for(request.user)
    if not mine:
        return _forbidden(request)
    return redirect("console-queue", slug=mine[0].slug)


# ------------------------------------------------------------------ time text


def duration_text(seconds: float) -> str:
    """ "1 天 2 小时", "1 小时 20 分", "5 分" (rounded down to the minute, at least 1 分)."""
    minutes = max(int(seconds // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return _("%(d)s 天 %(h)s 小时") % {"d": days, "h": hours}
    if hours:
        return _("%(h)s 小时 %(m)s 分") % {"h": hours, "m": minutes}
    return _("%(m)s 分") % {"m": max(minutes, 1)}


def badge(case, now: dt.datetime) -> dict | None:
    """The SLA badge of a row: its state (the CSS class) and its text, from stored fields."""
    state = queues.deadline_state(case, now)
    if state is None:
        return None
    if state == "paused":
        text = _("暂停，剩 %(time)s") % {"time": duration_text(case.stage_remaining_seconds)}
    elif state == "overdue":
        text = _("超时 %(time)s") % {"time": duration_text((now - case.stage_deadline_at).total_seconds())}
    else:
        text = _("剩 %(time)s") % {"time": duration_text((case.stage_deadline_at - now).total_seconds())}
    return {"state": state, "label": DEADLINE_LABELS[state], "text": text}


# ------------------------------------------------------------------ filters


def _local_day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _visible_areas(user):
    """Districts and street offices inside the user's scope area (all of them without one)."""
    areas = Area.objects.filter(level__in=["district", "street"]).only("code", "name", "level", "path")
    if user.scope_area_id is not None:
        scope = user.scope_area.path
        areas = areas.filter(Q(path=scope) | Q(path__startswith=f"{scope}/"))
    return list(areas.order_by("path"))


def _apply_filters(cases, params, areas, now):
    """Narrow ``cases`` by the GET form; returns (queryset, the cleaned values)."""
    chosen = {}
    area = params.get("area", "")
    by_code = {a.code: a for a in areas}
    if area in by_code:
        p = by_code[area].path
        cases = cases.filter(Q(area_path=p) | Q(area_path__startswith=f"{p}/"))
        chosen["area"] = area
    category = params.get("category", "")
    if category.isdigit():
        cases = cases.filter(category_id=int(category))
        chosen["category"] = category
    source = params.get("source", "")
    if source in Source.values:
        cases = cases.filter(source=source)
        chosen["source"] = source
    deadline = params.get("deadline", "")
    if deadline in queues.DEADLINE_STATES:
        cases = cases.filter(queues.deadline_q(deadline, now))
        chosen["deadline"] = deadline
    unit = params.get("unit", "")
    if unit.isdigit():
        cases = cases.filter(unit_id=int(unit))
        chosen["unit"] = unit
    day_from = parse_date(params.get("from", "") or "") if _is_date(params.get("from")) else None
    if day_from:
        cases = cases.filter(reported_at__gte=_local_day_start(day_from))
        chosen["from"] = day_from.isoformat()
    day_to = parse_date(params.get("to", "") or "") if _is_date(params.get("to")) else None
    if day_to:
        cases = cases.filter(reported_at__lt=_local_day_start(day_to + dt.timedelta(days=1)))
        chosen["to"] = day_to.isoformat()
    text = (params.get("q", "") or "").strip()[:100]
    if text:
        cases = cases.filter(
            Q(number=text) | Q(number__startswith=text) | Q(address__icontains=text) | Q(description__icontains=text)
        )
        chosen["q"] = text
    return cases, chosen


def _is_date(value) -> bool:
    try:
        return bool(value) and parse_date(value) is not None
    except ValueError:
        return False


# ------------------------------------------------------------------ keyset paging


def _order(cases, sort: str):
    if sort == "reported":
        return cases.order_by("-reported_at", "-id")
    return cases.order_by(F("stage_deadline_at").asc(nulls_last=True), "id")


def _after(cases, sort: str, key: str):
    """Rows after the paging key ``<microseconds since the epoch or 'n'>.<id>``."""
    try:
        instant, pk = key.split(".", 1)
        pk = int(pk)
        at = None if instant == "n" else dt.datetime.fromtimestamp(int(instant) / 1_000_000, tz=dt.UTC)
    except (ValueError, OverflowError, OSError):
        return cases, False
    if sort == "reported":
        if at is None:
            return cases, False
        return cases.filter(Q(reported_at__lt=at) | Q(reported_at=at, id__lt=pk)), True
    if at is None:  # already among the cases without a deadline, which sort last
        return cases.filter(stage_deadline_at__isnull=True, id__gt=pk), True
    return cases.filter(
        Q(stage_deadline_at__gt=at) | Q(stage_deadline_at=at, id__gt=pk) | Q(stage_deadline_at__isnull=True)
    ), True


def _key(case, sort: str) -> str:
    at = case.reported_at if sort == "reported" else case.stage_deadline_at
    if at is None:
        return f"n.{case.pk}"
    micros = (at - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)
    return f"{micros}.{case.pk}"


# ------------------------------------------------------------------ the page


@login_required
def queue(request: HttpRequest, slug: str) -> HttpResponse:
    user = request.user
    mine = queues.queues_for(user)
    if not mine:
        return _forbidden(request)
    current = next((q for q in mine if q.slug == slug), None)
    if current is None:
        raise Http404(_("没有这个工作队列。"))
    now = timezone.now()
    areas = _visible_areas(user)
    cases, chosen = _apply_filters(queues.queue_cases(user, slug, now), request.GET, areas, now)
    sort = request.GET.get("sort", "deadline")
    sort = sort if sort in SORTS else "deadline"
    cases = _order(cases, sort)
    paged = False
    if request.GET.get("after"):
        cases, paged = _after(cases, sort, request.GET["after"])
    rows = list(
        cases.select_related("category", "unit").only(
            "number",
            "state",
            "source",
            "address",
            "description",
            "stage",
            "stage_deadline_at",
            "stage_warn_at",
            "stage_overdue",
            "stage_warned",
            "stage_remaining_seconds",
            "urgent",
            "urge_count",
            "reported_at",
            "category__minor_name",
            "category__minor_code",
            "unit__name",
        )[: PAGE_SIZE + 1]
    )
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    base = {**chosen, "sort": sort} if sort != "deadline" else dict(chosen)
    here = reverse("console-queue", kwargs={"slug": slug})
    next_url = f"{here}?{urlencode({**base, 'after': _key(rows[-1], sort)})}" if more and rows else None
    first_url = f"{here}?{urlencode(base)}" if paged else None
    sort_urls = {key: f"{here}?{urlencode({**chosen, 'sort': key})}" for key in SORTS}
    number_of = queues.counts(user, now)
    return render(
        request,
        "citykeeper/console/queue.html",
        {
            "queue": current,
            "nav": [(q, number_of.get(q.slug, 0)) for q in mine],
            "rows": [(case, badge(case, now), STAGE_LABELS.get(case.stage, case.stage)) for case in rows],
            "chosen": chosen,
            "filtered": bool(chosen),
            "areas": areas,
            "categories": Category.objects.filter(active=True, standard__in=[Standard.GB_47678, Standard.LOCAL])
            .only("pk", "minor_code", "minor_name")
            .order_by("minor_code", "pk"),
            "units": Unit.objects.filter(active=True).only("pk", "name").order_by("name"),
            "sources": Source.choices,
            "deadline_choices": list(DEADLINE_LABELS.items()),
            "sort": sort,
            "sorts": [(key, label, sort_urls[key]) for key, label in SORTS.items()],
            "next_url": next_url,
            "first_url": first_url,
            "page_size": PAGE_SIZE,
        },
    )


urlpatterns = [
    path("", index, name="console"),
    path("queues/<slug:slug>/", queue, name="console-queue"),
]
