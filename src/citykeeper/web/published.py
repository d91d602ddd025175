"""Published evaluations (考评结果公示), for everybody, no login.

- ``/evaluation/``: the published runs (those with a snapshot id), newest period first,
  grouped by period;
- ``/evaluation/<snapshot id>/``: one published run: the ranking per peer group with grades,
  the scheme version, the data's date, the checksum, and the period's published bulletins
  (月度通报, PDF and Excel) served from storage.

Only numbers: no case lists, no links into the console. Region and unit rankings only: a
run of a post scheme (监督员, 受理员 …) ranks named staff members, which stays inside the
console even when published.

The page is in the reader's language (periods as "2026年10月" or "October 2026"); the
bulletins stay Chinese documents.
"""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from citykeeper.domain.evaluation.counters import Subject
from citykeeper.services.evaluation import period_of
from citykeeper.store.models import EvaluationBulletin, EvaluationRun
from citykeeper.web.console.evaluation import LEVEL_LABELS, table
from citykeeper.web.evaluation_labels import period_text

PUBLIC_SUBJECTS = (Subject.GRID.value, Subject.UNIT.value)
MAX_AGE = 300
SHOWN = 200


def _published():
    return EvaluationRun.objects.filter(snapshot_id__isnull=False, scheme__subject__in=PUBLIC_SUBJECTS)


def _cached(response: HttpResponse) -> HttpResponse:
    # A published run never changes; the list grows at most monthly.
    response["Cache-Control"] = f"public, max-age={MAX_AGE}"
    return response


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    rows = (
        _published()
        .select_related("scheme")
        .only(
            "pk",
            "period_kind",
            "period_start",
            "period_end",
            "level",
            "as_of",
            "snapshot_id",
            "published_at",
            "scheme__label",
            "scheme__version",
            "scheme__code",
        )
        .order_by("-period_end", "-period_start", "scheme__code", "level", "-published_at")[:SHOWN]
    )
    periods: dict[tuple, dict] = {}
    for r in rows:
        key = (r.period_kind, r.period_start, r.period_end)
        if key not in periods:
            periods[key] = {"label": period_text(period_of(r)), "runs": []}
        periods[key]["runs"].append({"run": r, "level": LEVEL_LABELS.get(r.level, "")})
    return _cached(render(request, "citykeeper/published/index.html", {"periods": list(periods.values())}))


def _bulletins(stored: EvaluationRun):
    return EvaluationBulletin.objects.filter(
        period_kind=stored.period_kind,
        period_start=stored.period_start,
        period_end=stored.period_end,
        provisional=False,
    ).order_by("-created_at")


@require_GET
def detail(request: HttpRequest, snapshot_id: str) -> HttpResponse:
    stored = _published().select_related("scheme").defer("cases").filter(snapshot_id=snapshot_id).first()
    if stored is None:
        raise Http404(_("没有这个公布的考评结果。"))
    shown = table(stored.results, {}, links=False)
    return _cached(
        render(
            request,
            "citykeeper/published/detail.html",
            {
                "stored": stored,
                "results": stored.results,
                "period_label": period_text(period_of(stored)),
                "level": LEVEL_LABELS.get(stored.level, ""),
                "bulletins": list(_bulletins(stored)),
                **shown,
            },
        )
    )


@require_GET
def bulletin_file(request: HttpRequest, bulletin_id: int, kind: str) -> FileResponse:
    """A published bulletin's PDF or Excel file, from storage."""
    bulletin = EvaluationBulletin.objects.filter(pk=bulletin_id, provisional=False).first()
    stored = getattr(bulletin, kind) if bulletin is not None and kind in ("pdf", "xlsx") else None
    if not stored:
        raise Http404(_("没有这个通报文件。"))
    try:
        handle = stored.open("rb")
    except (FileNotFoundError, OSError):
        raise Http404(_("没有这个通报文件。")) from None
    name = f"{bulletin.title}.{'pdf' if kind == 'pdf' else 'xlsx'}"
    response = FileResponse(handle, as_attachment=kind == "xlsx", filename=name)
    response["Cache-Control"] = f"public, max-age={MAX_AGE}"
    return response


urlpatterns = [
    path("", index, name="published-evaluations"),
    path("bulletins/<int:bulletin_id>/<str:kind>/", bulletin_file, name="published-bulletin"),
    path("<str:snapshot_id>/", detail, name="published-evaluation"),
]
