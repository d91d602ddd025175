"""异常模式提示 in the console: the anti-gaming flags of a period (``services.flags``).

- ``evaluation/flags/?period=2026-10``: the period's flags grouped by detector, each with
  the subject's name, its figure against the city's baseline, the ratio, the count, the
  threshold and the domain's sentence (Chinese, as data); every detector's rule is said,
  flagged or not. Same periods, shortcuts and audience (``may_view``) as the ranking.
- ``evaluation/flags/<detector>/<subject kind>/<subject id>/?period=…``: one flag and the
  cases behind it, each linked to its case page when the user may see it. An unknown
  detector, a subject kind the detector does not judge, or a subject without that flag in
  the period is a 404 that says which.

A flag is not a verdict: it tells the evaluator where to look, and why. Queries do not
grow with the flags: the flags' own reads (``services.flags``), one per subject kind for
the names, one for the cases.
"""

from __future__ import annotations

from collections import defaultdict

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from citykeeper.domain.evaluation.flags import DETECTORS, Flag
from citykeeper.domain.evaluation.flags import Kind as FlagKind
from citykeeper.domain.evaluation.periods import Period, token
from citykeeper.services import flags as flag_service
from citykeeper.store.models import Case
from citykeeper.web.console import evaluation as ev
from citykeeper.web.evaluation_labels import (
    FLAG_WORDS,
    SUBJECT_LABELS,
    flag_rule,
    percent_text,
    period_text,
    ratio_text,
    threshold_text,
)

# A flag page that cannot be shown, by what is wrong (404).
NOT_FOUND = {
    "detector": gettext_lazy("没有这种异常模式提示（%(value)s）。异常模式提示有：%(known)s。"),
    "subject_kind": gettext_lazy("“%(title)s”不针对这类评价对象（%(value)s），只针对%(known)s。"),
    "subject": gettext_lazy("%(period)s没有对这个评价对象（编号 %(value)s）的“%(title)s”提示。"),
}
_CASE_FIELDS = ("number", "address", "category__minor_name", "reported_at", "state")


def _listed(words) -> str:
    """Names in a row, as the language writes a list: 监督员、单元网格 / Inspector, Unit grid."""
    return _("、").join(str(w) for w in words)


def _list_url(period: Period) -> str:
    return f"{reverse('console-evaluation-flags')}?{urlencode({'period': token(period)})}"


def _subject_name(f: Flag, names: dict[tuple[str, int], str]) -> str:
    return names.get((f.subject_kind, f.subject_id)) or _("未知对象（编号 %(id)s）") % {"id": f.subject_id}


def flag_view(f: Flag, names: dict[tuple[str, int], str], period: Period) -> dict:
    """One flag as the pages show it."""
    words = FLAG_WORDS[FlagKind(f.kind)]
    return {
        "kind": f.kind,
        "title": words.title,
        "subject_kind": f.subject_kind,
        "subject_id": f.subject_id,
        "subject": _subject_name(f, names),
        "subject_label": SUBJECT_LABELS[f.subject_kind],
        "figure_label": words.figure,
        "baseline_label": words.baseline,
        "figure": percent_text(f.measure),
        "baseline": percent_text(f.baseline),
        "ratio": ratio_text(f.ratio),
        "count": str(words.count) % {"count": f.count},
        "threshold": threshold_text(f.kind, f.threshold),
        "explanation": f.explanation_zh,
        "cases": len(f.cases),
        "url": ev.flag_url(f.kind, f.subject_kind, f.subject_id, period),
    }


def _period_context(params, today) -> dict:
    """The picker's fields as sent (shown again when the period is refused)."""
    return {
        "period_forms": ev.PERIOD_FORMS,
        "period_value": params.get("period", "") or token(ev.last_month(today)),
        "from_value": params.get("from", ""),
        "to_value": params.get("to", ""),
        "problems": {},
    }


@login_required
def flags(request: HttpRequest) -> HttpResponse:
    """The period's flags, detector by detector."""
    if not ev.may_view(request.user):
        return ev._refuse_viewer(request)
    now = ev._now()
    today = timezone.localtime(now).date()
    context = {**ev._nav(request), **_period_context(request.GET, today)}
    try:
        period = ev.period_from(request.GET, today)
    except ev.Refused as refused:
        context["problems"] = {refused.where(): refused.text()}
        return render(request, "citykeeper/console/evaluation_flags.html", context, status=400)
    found = flag_service.find_flags(period.start, period.end, now=now)
    names = flag_service.subject_names(found)
    by_kind: dict[str, list[dict]] = defaultdict(list)
    for f in found:
        by_kind[f.kind].append(flag_view(f, names, period))
    context.update(
        {
            "period": period,
            "period_label": period_text(period),
            "period_value": token(period),
            "from_value": "",
            "to_value": "",
            "provisional": period.provisional(today),
            "as_of": now,
            "total": len(found),
            "shortcuts": ev.shortcuts(today, {}, "console-evaluation-flags"),
            "detectors": [
                {
                    "kind": kind.value,
                    "title": FLAG_WORDS[kind].title,
                    "figure_label": FLAG_WORDS[kind].figure,
                    "baseline_label": FLAG_WORDS[kind].baseline,
                    "subjects": _listed(SUBJECT_LABELS[s.value] for s in d.subject_kinds),
                    "rule": flag_rule(kind),
                    "flags": by_kind[kind.value],
                }
                for kind, d in DETECTORS.items()
            ],
        }
    )
    return render(request, "citykeeper/console/evaluation_flags.html", context)


def _not_found(request: HttpRequest, context: dict, field: str, **values) -> HttpResponse:
    values["value"] = str(values.get("value", ""))[:60]
    context["problems"] = {field: NOT_FOUND[field] % values}
    return render(request, "citykeeper/console/evaluation_flag.html", context, status=404)


@login_required
def flag(request: HttpRequest, detector: str, subject_kind: str, subject_id: int) -> HttpResponse:
    """One flag: its numbers, the detector's rule and the cases behind it."""
    if not ev.may_view(request.user):
        return ev._refuse_viewer(request)
    now = ev._now()
    today = timezone.localtime(now).date()
    context = {**ev._nav(request), "problems": {}, "list_url": reverse("console-evaluation-flags")}
    if detector not in {k.value for k in DETECTORS}:
        known = _listed(w.title for w in FLAG_WORDS.values())
        return _not_found(request, context, "detector", value=detector, known=known)
    kind = FlagKind(detector)
    words, judged = FLAG_WORDS[kind], DETECTORS[kind].subject_kinds
    if subject_kind not in {s.value for s in judged}:
        known = _listed(SUBJECT_LABELS[s.value] for s in judged)
        return _not_found(request, context, "subject_kind", value=subject_kind, title=words.title, known=known)
    try:
        period = ev.period_from(request.GET, today)
    except ev.Refused as refused:
        context["problems"] = {refused.where(): refused.text()}
        return render(request, "citykeeper/console/evaluation_flag.html", context, status=400)
    context["list_url"] = _list_url(period)
    found = flag_service.find_flags(period.start, period.end, now=now, kinds=[kind])
    mine = next((f for f in found if f.subject_kind == subject_kind and f.subject_id == subject_id), None)
    if mine is None:
        return _not_found(request, context, "subject", value=subject_id, title=words.title, period=period_text(period))
    visible = {
        c.number: c
        for c in Case.objects.restrict(request.user, "view")
        .filter(number__in=list(mine.cases))
        .select_related("category")
        .only(*_CASE_FIELDS)
    }
    roles = words.roles
    context.update(
        {
            "flag": flag_view(mine, flag_service.subject_names([mine]), period),
            "rule": flag_rule(kind),
            "period_label": period_text(period),
            "provisional": period.provisional(today),
            "as_of": now,
            "cases": [
                {"number": number, "case": visible.get(number), "role": roles[n % len(roles)]}
                for n, number in enumerate(mine.cases)
            ],
        }
    )
    return render(request, "citykeeper/console/evaluation_flag.html", context)


urlpatterns = [
    path("evaluation/flags/", flags, name="console-evaluation-flags"),
    path(
        "evaluation/flags/<str:detector>/<str:subject_kind>/<int:subject_id>/",
        flag,
        name="console-evaluation-flag",
    ),
]
