"""The staff console (工作台): work queues per role, with counts, filters and SLA badges.

Mounted by ``citykeeper.urls`` under ``console/``. The queues themselves (which cases,
which roles) are ``services.queues.QUEUES``; this module only reads GET parameters,
pages and renders.

Paging is by key (``after``, the sort key of the last row shown), never by offset, and
never counts the filtered rows: a page is one indexed range read of 51 rows however deep
it is.

Live updates: the page polls ``queues/<slug>/live/`` (same query string) with htmx every
``POLL_SECONDS``. The fragment carries the nav counts and the rows with a strong ETag over
what they show; the page sends the last ETag back as If-None-Match and a 304 leaves it as
it is. ``console/queues.js`` marks urgent rows that were not on the page before.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from django.contrib.auth.decorators import login_required
from django.db.models import F, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone, translation
from django.utils.cache import patch_vary_headers
from django.utils.dateparse import parse_date
from django.utils.http import parse_etags, quote_etag, urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from citykeeper.domain.workflow import Role, Stage
from citykeeper.services import queues
from citykeeper.store.models import Area, Category, Unit
from citykeeper.store.models.cases import Source
from citykeeper.store.models.codebook import Standard
from citykeeper.web.console import filters

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


_R = Role
# The console's other screens, linked under the queues for the roles that use them.
SCREENS = (
    ("console-dispatch", gettext_lazy("派遣台"), frozenset({_R.DISPATCHER, _R.SHIFT_LEAD})),
    ("console-approvals", gettext_lazy("审批"), frozenset({_R.DISPATCHER, _R.SHIFT_LEAD})),
    (
        "console-urges",
        gettext_lazy("督办与回复"),
        frozenset({_R.DISPATCHER, _R.SHIFT_LEAD, _R.LEADER, _R.OPERATOR, _R.UNIT_HANDLER}),
    ),
    ("console-unit", gettext_lazy("本单位工作台"), frozenset({_R.UNIT_HANDLER, _R.LEADER, _R.SHIFT_LEAD})),
    ("console-map", gettext_lazy("案件地图"), queues.CONSOLE_ROLES),
    ("console-evaluation", gettext_lazy("综合评价"), frozenset({_R.EVALUATOR, _R.LEADER, _R.SHIFT_LEAD})),
)


def screens_for(user) -> list[tuple[str, str]]:
    """(label, url) of the screens the user's roles use."""
    roles = user.roles
    return [(label, reverse(name)) for name, label, who in SCREENS if who & roles]


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
        # An evaluator has no queue: their console is the evaluation.
        if any(name == "console-evaluation" and who & request.user.roles for name, _label, who in SCREENS):
            return redirect("console-evaluation")
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
    # ``ticks``: the page counts a running clock down (or up, once overdue) in the browser, so
    # the live fragment need not change every minute just because its text would.
    if state == "paused":
        text, ticks = _("暂停，剩 %(time)s") % {"time": duration_text(case.stage_remaining_seconds)}, None
    elif state == "overdue":
        text, ticks = (
            _("超时 %(time)s") % {"time": duration_text((now - case.stage_deadline_at).total_seconds())},
            "over",
        )
    else:
        text, ticks = _("剩 %(time)s") % {"time": duration_text((case.stage_deadline_at - now).total_seconds())}, "left"
    return {
        "state": state,
        "label": DEADLINE_LABELS[state],
        "text": text,
        "ticks": ticks,
        "deadline_ms": int(case.stage_deadline_at.timestamp() * 1000) if ticks else None,
    }


def countdown_formats() -> dict[str, str]:
    """The texts of :func:`badge` for the browser's countdown (``queues.js``), in the
    user's language, with ``{d}``, ``{h}``, ``{m}`` and ``{time}`` to fill in."""
    time = {"time": "{time}"}
    return {
        "days": _("%(d)s 天 %(h)s 小时") % {"d": "{d}", "h": "{h}"},
        "hours": _("%(h)s 小时 %(m)s 分") % {"h": "{h}", "m": "{m}"},
        "minutes": _("%(m)s 分") % {"m": "{m}"},
        "left": _("剩 %(time)s") % time,
        "over": _("超时 %(time)s") % time,
    }


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
    polygon = _within(params.get("within", ""))
    if polygon is not None:  # drawn on the map (console/map.py); an unusable one is ignored, the page says so
        from citykeeper.services import casemap

        cases = casemap.within(cases, polygon)
        chosen["within"] = casemap.within_text(polygon)
    return cases, chosen


def _within(raw: str):
    """The polygon of ``?within=lon lat,lon lat,…`` (at most 100 vertices, WGS-84, a valid
    polygon), or None when there is none or it cannot be used."""
    from citykeeper.services import casemap

    if not raw:
        return None
    try:
        return casemap.parse_within(raw)
    except ValueError:
        return None


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


def rows_after(cases, sort: str, key: str):
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


def paging_key(case, sort: str) -> str:
    at = case.reported_at if sort == "reported" else case.stage_deadline_at
    if at is None:
        return f"n.{case.pk}"
    micros = (at - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)
    return f"{micros}.{case.pk}"


# ------------------------------------------------------------------ the page

# The queue page polls its live fragment this often (seconds); ``?poll=N`` (1–60) changes it.
POLL_SECONDS = 15

_ROW_FIELDS = (
    "number",
    "version",
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
)


def _rows_and_counts(request: HttpRequest, slug: str):
    """What the page and its live fragment show: the queue, the nav counts, a page of rows,
    the paging links and the ETag of all that. Raises 404 for a queue the user does not have;
    returns None for a user without any queue."""
    user = request.user
    mine = queues.queues_for(user)
    if not mine:
        return None
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
        cases, paged = rows_after(cases, sort, request.GET["after"])
    rows = list(cases.select_related("category", "unit").only(*_ROW_FIELDS)[: PAGE_SIZE + 1])
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    base = {**chosen, "sort": sort} if sort != "deadline" else dict(chosen)
    here = reverse("console-queue", kwargs={"slug": slug})
    next_url = f"{here}?{urlencode({**base, 'after': paging_key(rows[-1], sort)})}" if more and rows else None
    first_url = f"{here}?{urlencode(base)}" if paged else None
    number_of = queues.counts(user, now)
    shown = [(case, badge(case, now), STAGE_LABELS.get(case.stage, case.stage)) for case in rows]
    live_query = {**base, "after": request.GET["after"]} if paged else base
    return {
        "queue": current,
        "nav": [(q, number_of.get(q.slug, 0)) for q in mine],
        "rows": shown,
        "chosen": chosen,
        "filtered": bool(chosen),
        "areas": areas,
        "sort": sort,
        "sort_urls": {key: f"{here}?{urlencode({**chosen, 'sort': key})}" for key in SORTS},
        "next_url": next_url,
        "first_url": first_url,
        "live_url": f"{reverse('console-queue-live', kwargs={'slug': slug})}?{urlencode(live_query)}",
        "etag": _etag(slug, number_of, shown, next_url, first_url),
        "within_clear_url": (
            f"{here}?{urlencode({k: v for k, v in base.items() if k != 'within'})}" if "within" in chosen else None
        ),
        "within_ignored": bool(request.GET.get("within")) and "within" not in chosen,
        "now_ms": int(now.timestamp() * 1000),
    }


def _etag(slug, number_of, shown, next_url, first_url) -> str:
    """A strong ETag of what the fragment shows: the counts, each row's number and version
    (a transition or an edit bumps it) with its badge's colour, the paging links and the
    language. Not the badge's text: the browser counts that down itself, and a text that
    changes every minute would make every poll a full answer."""
    digest = hashlib.sha256()
    parts = [translation.get_language() or "", slug, repr(sorted(number_of.items())), next_url or "", first_url or ""]
    for case, sla, _stage in shown:
        parts.append(f"{case.number}:{case.version}:{case.urgent}:{sla and sla['state']}")
    digest.update("\n".join(parts).encode())
    return quote_etag(digest.hexdigest()[:32])


def _poll_seconds(request: HttpRequest) -> int:
    value = request.GET.get("poll", "")
    return min(max(int(value), 1), 60) if value.isdigit() else POLL_SECONDS


@login_required
def queue(request: HttpRequest, slug: str) -> HttpResponse:
    shown = _rows_and_counts(request, slug)
    if shown is None:
        return _forbidden(request)
    sort_urls = shown.pop("sort_urls")
    return render(
        request,
        "citykeeper/console/queue.html",
        {
            **shown,
            "categories": Category.objects.filter(active=True, standard__in=[Standard.GB_47678, Standard.LOCAL])
            .only("pk", "minor_code", "minor_name")
            .order_by("minor_code", "pk"),
            "units": Unit.objects.filter(active=True).only("pk", "name").order_by("name"),
            "sources": Source.choices,
            "deadline_choices": list(DEADLINE_LABELS.items()),
            "sorts": [(key, label, sort_urls[key]) for key, label in SORTS.items()],
            "page_size": PAGE_SIZE,
            "screens": screens_for(request.user),
            **filters.filters_context(request, slug),
            "poll_seconds": _poll_seconds(request),
            "countdown_formats": countdown_formats(),
        },
    )


def queue_live(request: HttpRequest, slug: str) -> HttpResponse:
    """The live part of a queue page (the nav counts and the rows, as HTML fragments for
    htmx), with a strong ETag: 304 when the client already shows the same thing."""
    if not request.user.is_authenticated:
        return HttpResponse(status=401)  # htmx does not swap a 4xx: the page stays as it is
    shown = _rows_and_counts(request, slug)
    if shown is None:
        return HttpResponse(status=403)
    etag = shown["etag"]
    if etag in parse_etags(request.headers.get("If-None-Match", "")):
        response = HttpResponse(status=304)
    else:
        response = render(request, "citykeeper/console/_live.html", shown)
    response["ETag"] = etag
    # The browser must ask again every time (and may revalidate its copy with the ETag).
    response["Cache-Control"] = "private, no-cache"
    patch_vary_headers(response, ("Cookie", "Accept-Language"))
    return response


urlpatterns = [
    path("", index, name="console"),
    path("queues/<slug:slug>/", queue, name="console-queue"),
    path("queues/<slug:slug>/live/", queue_live, name="console-queue-live"),
]
