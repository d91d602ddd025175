"""Saved queue filters (常用筛选): a user keeps the filter form of a queue under a name.

A saved filter is the queue's slug and the query string of its filter form, cleaned to
the form's known keys (``FILTER_KEYS``): paging keys, polling and anything else in the
address are dropped. Names are 1–40 characters and unique per user and queue; saving a
name that exists replaces it, but only after the user confirms (the form posts again
with ``replace=1``). A user keeps at most ``MAX_PER_QUEUE`` filters per queue.

The queue page includes ``console/_filters.html`` with the context of
``filters_context(request, slug)``: the user's filters for the queue, as links, and a
small form that saves the current conditions.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from citykeeper.services import queues
from citykeeper.store.models import SavedFilter

# The keys of the queue page's filter form, in the order a saved query lists them.
FILTER_KEYS = ("area", "category", "source", "deadline", "unit", "from", "to", "q", "sort", "within")
MAX_PER_QUEUE = 20
NAME_MAX = 40
VALUE_MAX = 100
QUERY_MAX = 4000  # SavedFilter.query (a polygon drawn on the map takes up to ~2,300)


def clean_query(query: str | QueryDict) -> str:
    """The query string with only the filter form's keys, each once, non-empty, in
    ``FILTER_KEYS`` order: "source=hotline&q=井盖" from "?after=…&q=井盖&source=hotline"."""
    params = query if isinstance(query, QueryDict) else QueryDict(query.lstrip("?"))
    kept = []
    for key in FILTER_KEYS:
        value = (params.get(key) or "").strip()[:VALUE_MAX]
        if value:
            kept.append((key, value))
    return urlencode(kept)[:QUERY_MAX]


def readable(query: str) -> str:
    """A saved query as people read it: "source=hotline · q=井盖"."""
    return " · ".join(f"{key}={value}" for key, value in QueryDict(query).items())


def saved_filters_for(user, slug: str) -> list[SavedFilter]:
    """The user's saved filters for one queue, in the order they were saved (one query)."""
    if not user.is_authenticated:
        return []
    return list(
        SavedFilter.objects.filter(user=user, queue=slug).only("pk", "name", "query").order_by("created_at", "pk")
    )


def filters_context(request: HttpRequest, slug: str) -> dict:
    """What ``console/_filters.html`` needs on the queue page of ``slug``."""
    current = clean_query(request.GET)
    saved = saved_filters_for(request.user, slug)
    return {
        "saved_filters": saved,
        "saved_filter_query": current,
        "saved_filter_current": next((f.pk for f in saved if f.query == current), None) if current else None,
        "saved_filter_full": len(saved) >= MAX_PER_QUEUE,
    }


def _queue_url(slug: str, query: str = "") -> str:
    here = reverse("console-queue", kwargs={"slug": slug})
    return f"{here}?{query}" if query else here


@login_required
@require_POST
def save(request: HttpRequest) -> HttpResponse:
    slug = request.POST.get("queue", "")
    if queues.queue_for(request.user, slug) is None:
        raise Http404(_("没有这个工作队列。"))
    query = clean_query(request.POST.get("query", ""))
    back = _queue_url(slug, query)
    name = " ".join((request.POST.get("name") or "").split())
    if not name or len(name) > NAME_MAX:
        messages.error(request, _("名称须为 1 到 %(n)s 个字。") % {"n": NAME_MAX})
        return redirect(back)
    if not query:
        messages.error(request, _("当前没有筛选条件，无需保存。"))
        return redirect(back)
    mine = SavedFilter.objects.filter(user=request.user, queue=slug)
    existing = mine.filter(name=name).first()
    if existing is not None and request.POST.get("replace") != "1":
        return render(
            request,
            "citykeeper/console/_filters_confirm.html",
            {
                "slug": slug,
                "name": name,
                "query": query,
                "readable": readable(query),
                "old_readable": readable(existing.query),
                "back": back,
            },
        )
    if existing is None and mine.count() >= MAX_PER_QUEUE:
        messages.error(request, _("每个队列最多保存 %(n)s 个常用筛选，请先删除不用的。") % {"n": MAX_PER_QUEUE})
        return redirect(back)
    try:
        with transaction.atomic():
            SavedFilter.objects.update_or_create(
                user=request.user,
                queue=slug,
                name=name,
                defaults={"query": query},  # a replaced filter keeps its place in the list
                create_defaults={"query": query, "created_at": timezone.now()},
            )
    except IntegrityError:  # the same name saved at the same moment in another tab
        messages.error(request, _("保存失败，请重试。"))
        return redirect(back)
    messages.success(request, _("已保存常用筛选“%(name)s”。") % {"name": name})
    return redirect(back)


@login_required
@require_POST
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    saved = get_object_or_404(SavedFilter, pk=pk, user=request.user)
    slug, name = saved.queue, saved.name
    saved.delete()
    messages.success(request, _("已删除常用筛选“%(name)s”。") % {"name": name})
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        back = ""
    if queues.queue_for(request.user, slug) is None:
        return redirect(back or "console")
    return redirect(back or _queue_url(slug))


urlpatterns = [
    path("filters/", save, name="console-filters-save"),
    path("filters/<int:pk>/delete/", delete, name="console-filters-delete"),
]
