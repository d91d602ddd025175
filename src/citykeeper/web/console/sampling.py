"""抽查 (random re-verification) and 人工调整 (manual adjustments) in the console.

- ``evaluation/sampling/``: the sampling rounds, newest first, with how far their re-checks
  have got; POST draws one (period, kind, optional number per unit or inspector).
- ``evaluation/sampling/<id>/``: one round: its seed, rule and whether drawing again from its
  stored candidates gives the same items; every item with its result, and a form to record
  the result of each one still pending.
- ``evaluation/sampling/items/<id>/``: POST records one re-check.
- ``evaluation/runs/<id>/adjustments/``: POST adds an adjustment for one of the run's subjects
  (the form is on the run page); ``evaluation/adjustments/<id>/withdraw/`` withdraws one.

Everyone who may see the evaluation sees these pages; those who may run evaluations
(``may_run``) draw, record and adjust. Refusals are said in Chinese, naming the field.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from citykeeper.domain.errors import DomainError
from citykeeper.domain.evaluation.periods import token
from citykeeper.domain.evaluation.sampling import MAX_MISSED, RESULTS, Result, SampleKind
from citykeeper.domain.evaluation.scoring import MAX_ADJUSTMENT
from citykeeper.services import evaluation as service
from citykeeper.services import sampling
from citykeeper.store.models import EvaluationRun, SamplingItem, SamplingRound, User
from citykeeper.web.console import evaluation as page
from citykeeper.web.console.dispatch import forbidden
from citykeeper.web.evaluation_labels import indicator_label

ROUNDS_SHOWN = 100

KIND_LABELS = {SampleKind.CASES: gettext_lazy("结案抽查"), SampleKind.PATROL: gettext_lazy("巡查区域抽查")}
RESULT_LABELS = {
    Result.PENDING: gettext_lazy("待复核"),
    Result.PASSED: gettext_lazy("合格"),
    Result.FAILED: gettext_lazy("不合格"),
    Result.MISSED: gettext_lazy("发现漏报"),
}

RESULT_ORDER = (Result.PASSED, Result.FAILED, Result.MISSED)

SAMPLING_PROBLEMS = {
    "open": gettext_lazy("考评周期（%(start)s 至 %(end)s）还没有结束，结束后才能抽查和登记复核结果。"),
    "drawn": gettext_lazy("这一周期的%(kind)s已经抽取过（第 %(round)s 批），每个周期只抽一次。"),
    "empty": gettext_lazy("这一周期没有可以抽取的对象（没有结案的案件，或没有设定巡查区域的监督员）。"),
    "kind": gettext_lazy("请选择抽查类型：结案抽查或巡查区域抽查。"),
    "size": gettext_lazy("抽查数量必须是不小于 1 的整数。"),
    "share": gettext_lazy("配置的抽查比例必须是 0 到 1 之间的数。"),
    "recorded": gettext_lazy("这一项的复核结果已经登记，不能修改。"),
    "item": gettext_lazy("没有这个抽查项。"),
    "result": gettext_lazy("请选择复核结果：结案抽查为合格或不合格，巡查区域抽查为合格或发现漏报。"),
    "missed": gettext_lazy("发现漏报时请填写 1 到 %(maximum)s 之间的问题数；合格或不合格时不填。"),
    "note": gettext_lazy("复核说明不能超过 2000 字。"),
}

WITHDRAW_REASON = gettext_lazy("请填写撤销理由。")

ADJUST_PROBLEMS = {
    "reason": gettext_lazy("请填写调整理由。"),
    "points": gettext_lazy("调整分值必须是 −%(limit)s 到 +%(limit)s 之间、不为 0 的数字，最多两位小数。"),
    "indicator": gettext_lazy("这个方案不计这一项指标。"),
    "subject": gettext_lazy("这次评价中没有这个评价对象。"),
    "published": gettext_lazy("这一周期的考评结果已经公布，不能再调整或撤销调整。"),
    "adjustment": gettext_lazy("这条调整不存在，或已经撤销。"),
    "scheme": gettext_lazy("没有这个考评方案。"),
}


def _refuse_runner(request: HttpRequest) -> HttpResponse:
    return forbidden(request, _("只有考评员和领导可以抽查、登记复核结果或调整分值。"))


def kind_label(kind: str) -> str:
    return str(KIND_LABELS.get(kind, kind))


# ------------------------------------------------------------------ rounds


def sampling_problem(exc: DomainError, kind: str = "") -> tuple[str, str]:
    """(form field, Chinese text) of a refused draw or re-check."""
    field = exc.field or "period"
    reason = exc.params.get("reason")
    if reason == "open":
        return "period", str(SAMPLING_PROBLEMS["open"]) % {"start": exc.params["start"], "end": exc.params["end"]}
    if reason == "drawn":
        return "period", str(SAMPLING_PROBLEMS["drawn"]) % {"kind": kind_label(kind), "round": exc.params.get("round")}
    if reason in ("empty", "recorded"):
        return ("period" if reason == "empty" else "item"), str(SAMPLING_PROBLEMS[reason])
    if field == "missed":
        return "missed", str(SAMPLING_PROBLEMS["missed"]) % {"maximum": MAX_MISSED}
    if field in SAMPLING_PROBLEMS:
        return field, str(SAMPLING_PROBLEMS[field])
    return "period", page.refusal(exc, "").text()


def _round_rows():
    return (
        SamplingRound.objects.select_related("drawn_by")
        .defer("population")
        .annotate(
            total=Count("items"),
            pending=Count("items", filter=Q(items__result=Result.PENDING)),
            failed=Count("items", filter=Q(items__result__in=[Result.FAILED, Result.MISSED])),
        )
        .order_by("-drawn_at", "-pk")[:ROUNDS_SHOWN]
    )


def _rounds_page(request: HttpRequest, values: dict, problems: dict, status: int = 200) -> HttpResponse:
    listed = [
        {
            "round": r,
            "kind": kind_label(r.kind),
            "period": page.period_text(sampling.period_of(r)),
            "by": page.person(r.drawn_by),
            "rule": rule_text(r.rule, r.kind),
        }
        for r in _round_rows()
    ]
    return render(
        request,
        "citykeeper/console/evaluation_sampling.html",
        {
            **page._nav(request),
            "rounds": listed,
            "shown": ROUNDS_SHOWN,
            "kinds": [(k.value, label) for k, label in KIND_LABELS.items()],
            "may_run": page.may_run(request.user),
            "values": values,
            "problems": problems,
            "period_forms": page.PERIOD_FORMS,
        },
        status=status,
    )


def rule_text(rule: dict, kind: str) -> str:
    """ "5%，至少 2 件/每个单位" — the rule as the page says it."""
    share = sampling.Rule.from_dict(rule)
    per = _("每个责任单位") if kind == SampleKind.CASES else _("每名监督员")
    what = _("件") if kind == SampleKind.CASES else _("个网格")
    if share.share == 0:
        return _("%(per)s %(n)s %(what)s") % {"per": per, "n": share.minimum, "what": what}
    percent = Decimal(share.share.numerator * 100) / Decimal(share.share.denominator)
    return _("%(per)s %(share)s%%，至少 %(n)s %(what)s") % {
        "per": per,
        "share": f"{percent.normalize():f}",
        "n": share.minimum,
        "what": what,
    }


@login_required
def rounds(request: HttpRequest) -> HttpResponse:
    """GET: the rounds and the draw form. POST: draw the period's sample."""
    if request.method != "POST":
        if not page.may_view(request.user):
            return page._refuse_viewer(request)
        last = page.last_month(timezone.localtime(page._now()).date())
        return _rounds_page(request, {"period": token(last), "kind": SampleKind.CASES.value, "size": ""}, {})
    if not page.may_run(request.user):
        return _refuse_runner(request)
    params = request.POST
    values = {k: (params.get(k) or "").strip() for k in ("period", "kind", "size")}
    now = page._now()
    try:
        period = page.period_from({"period": values["period"]}, timezone.localtime(now).date())
    except page.Refused as refused:
        return _rounds_page(request, values, {"period": refused.text()}, status=400)
    size = None
    if values["size"]:
        if not values["size"].isdigit():
            return _rounds_page(request, values, {"size": str(SAMPLING_PROBLEMS["size"])}, status=400)
        size = int(values["size"])
    try:
        row = sampling.draw(period, values["kind"], by=request.user, now=now, size=size)
    except DomainError as exc:
        field, text = sampling_problem(exc, values["kind"])
        return _rounds_page(request, values, {field: text}, status=400)
    return redirect("console-evaluation-sampling-round", round_id=row.pk)


def _passed_check(items: list[SamplingItem]) -> dict[int, str]:
    """Item id → the inspector who passed the 核查 its case's closing followed, as the
    bulletin names them (a failed re-check counts against that inspector's 核查失实率)."""
    cased = [item for item in items if item.case_id]
    if not cased:
        return {}
    found = sampling.checkers((item.case_id, item.day) for item in cased)
    people = {u.pk: u for u in User.objects.filter(pk__in={pk for pk in found.values() if pk})}
    names = {}
    for item in cased:
        inspector = people.get(found[(item.case_id, item.day)])
        names[item.pk] = page.person(inspector) if inspector is not None else _("无（未经核查结案）")
    return names


def _items(row: SamplingRound) -> list[dict]:
    items = list(
        row.items.select_related("case", "case__category", "grid", "unit", "inspector", "checked_by").order_by(
            "unit__code", "inspector__username", "position"
        )
    )
    passed = _passed_check(items)
    out = []
    for item in items:
        judged = item.unit.name if item.unit_id else page.person(item.inspector)
        out.append(
            {
                "item": item,
                "judged": judged,
                "passed_check": passed.get(item.pk, ""),
                "what": item.case.number if item.case_id else item.grid.code,
                "where": (item.case.address if item.case_id else item.grid.name) or "",
                "result": str(RESULT_LABELS.get(item.result, item.result)),
                "checked_by": page.person(item.checked_by) if item.checked_by_id else "",
                "pending": item.result == Result.PENDING,
            }
        )
    return out


def _round_page(
    request: HttpRequest, row: SamplingRound, problems: dict | None = None, status: int = 200
) -> HttpResponse:
    kind = SampleKind(row.kind)
    return render(
        request,
        "citykeeper/console/evaluation_sampling_round.html",
        {
            **page._nav(request),
            "row": row,
            "kind": kind_label(row.kind),
            "cases": kind is SampleKind.CASES,
            "period": page.period_text(sampling.period_of(row)),
            "rule": rule_text(row.rule, row.kind),
            "by": page.person(row.drawn_by),
            "candidates": sum(len(v) for v in row.population.values()),
            "strata": len(row.population),
            "verified": sampling.verify(row),
            "items": _items(row),
            "results": [(r.value, RESULT_LABELS[r]) for r in RESULT_ORDER if r in RESULTS[kind]],
            "max_missed": MAX_MISSED,
            "may_run": page.may_run(request.user),
            "problems": problems or {},
        },
        status=status,
    )


def _round(round_id: int) -> SamplingRound | None:
    return SamplingRound.objects.select_related("drawn_by").filter(pk=round_id).first()


@login_required
def round_page(request: HttpRequest, round_id: int) -> HttpResponse:
    if not page.may_view(request.user):
        return page._refuse_viewer(request)
    row = _round(round_id)
    if row is None:
        return _rounds_page(request, {}, {"round": _("没有这个抽查批次（%(id)s）。") % {"id": round_id}}, status=404)
    return _round_page(request, row)


@login_required
def record(request: HttpRequest, item_id: int) -> HttpResponse:
    """POST: record the result of one re-check."""
    item = SamplingItem.objects.filter(pk=item_id).values_list("round_id", flat=True).first()
    if request.method != "POST":
        return (
            redirect("console-evaluation-sampling-round", round_id=item)
            if item
            else redirect("console-evaluation-sampling")
        )
    if not page.may_run(request.user):
        return _refuse_runner(request)
    if item is None:
        return _rounds_page(request, {}, {"round": str(SAMPLING_PROBLEMS["item"])}, status=404)
    params = request.POST
    raw = (params.get("missed") or "").strip()
    missed: object = int(raw) if raw.isdigit() else (raw or 0)
    try:
        sampling.record_result(
            item_id,
            (params.get("result") or "").strip(),
            by=request.user,
            now=page._now(),
            missed=missed,
            note=params.get("note", ""),
        )
    except DomainError as exc:
        field, text = sampling_problem(exc)
        return _round_page(request, _round(item), {item_id: {"field": field, "text": text}}, status=400)
    return redirect(f"{reverse('console-evaluation-sampling-round', args=[item])}#item-{item_id}")


def sampling_links(period) -> list[dict]:
    """The sampling rounds of a run's period, for its page (their results are in its figures)."""
    rows = (
        SamplingRound.objects.filter(period_start__lte=period.end, period_end__gte=period.start)
        .defer("population")
        .order_by("kind", "period_start")
    )
    return [
        {
            "url": reverse("console-evaluation-sampling-round", args=[r.pk]),
            "label": f"{kind_label(r.kind)} · {page.period_text(sampling.period_of(r))}",
        }
        for r in rows
    ]


# ------------------------------------------------------------------ adjustments on the run page


def _points_text(points) -> str:
    return f"{Decimal(str(points)):+.2f}".replace("-", "−")


def _shown(record: dict) -> dict:
    withdrawn = record.get("withdrawn")
    return {
        "id": record["id"],
        "name": record["name"],
        "item": indicator_label(record["indicator"]) if record["indicator"] else _("综合指标值"),
        "points": _points_text(record["points"]),
        "reason": record["reason"],
        "by": record["by"] or _("系统"),
        "at": dt.datetime.fromisoformat(record["at"]),
        "applied": record.get("applied", True),
        "withdrawn": None
        if not withdrawn
        else {
            "by": withdrawn["by"] or _("系统"),
            "at": dt.datetime.fromisoformat(withdrawn["at"]),
            "reason": withdrawn["reason"],
        },
    }


def _comparable(records: list[dict]) -> list[tuple]:
    return [(r["id"], bool(r.get("withdrawn"))) for r in records]


def adjustment_context(stored: EvaluationRun, user, adjusting: dict | None = None) -> dict:
    """What the run page shows of manual adjustments: those stored with the run; for a run not
    yet published, those in force now (to withdraw) and the form to add one."""
    results = stored.results
    recorded = results.get("adjustments", [])
    context = {
        "adjustments": [_shown(r) for r in recorded],
        "adjust_open": False,
    }
    if stored.snapshot_id or not page.may_run(user):
        return context
    live = service.adjustments_now(stored)
    first = results["subjects"][0]["items"] if results["subjects"] else []
    context.update(
        {
            "adjust_open": True,
            "adjustments_live": [_shown(r) for r in live if not r.get("withdrawn")],
            "adjustments_changed": _comparable(live) != _comparable(recorded),
            "adjust_subjects": [(s["id"], s["name"]) for s in results["subjects"]],
            "adjust_items": [("", _("综合指标值"))]
            + [(i["indicator"], indicator_label(i["indicator"])) for i in first],
            "adjust_limit": MAX_ADJUSTMENT,
            "adjust_values": (adjusting or {}).get("values", {}),
            "adjust_problems": (adjusting or {}).get("problems", {}),
        }
    )
    return context


def adjust_problem(exc: DomainError) -> tuple[str, str]:
    field = exc.field or "points"
    if field == "points":
        return "points", str(ADJUST_PROBLEMS["points"]) % {"limit": MAX_ADJUSTMENT}
    if field in ADJUST_PROBLEMS:
        return field, str(ADJUST_PROBLEMS[field])
    return "points", page.refusal(exc, "").text()


def _run(run_id) -> EvaluationRun | None:
    raw = str(run_id or "").strip()
    return page._stored(int(raw)) if raw.isdigit() else None


@login_required
def adjust(request: HttpRequest, run_id: int) -> HttpResponse:
    """POST: add an adjustment of one of the run's subjects, for the run's scheme and period."""
    if request.method != "POST":
        return redirect("console-evaluation-run", run_id=run_id)
    if not page.may_run(request.user):
        return _refuse_runner(request)
    stored = _run(run_id)
    if stored is None:
        return redirect("console-evaluation-runs")
    params = request.POST
    values = {k: (params.get(k) or "").strip() for k in ("subject", "indicator", "points", "reason")}
    subjects = {str(s["id"]) for s in stored.results["subjects"]}
    try:
        if values["subject"] not in subjects:
            field, text = "subject", str(ADJUST_PROBLEMS["subject"])
        else:
            service.add_adjustment(
                service.period_of(stored),
                stored.scheme.code,
                int(values["subject"]),
                values["points"],
                reason=values["reason"],
                by=request.user,
                now=page._now(),
                indicator=values["indicator"],
            )
            return redirect(f"{reverse('console-evaluation-run', args=[stored.pk])}#adjustments")
    except DomainError as exc:
        field, text = adjust_problem(exc)
    return page._run_page(request, stored, status=400, adjusting={"values": values, "problems": {field: text}})


@login_required
def withdraw(request: HttpRequest, adjustment_id: int) -> HttpResponse:
    """POST: withdraw an adjustment (a reason is required); back to the run page."""
    stored = _run(request.POST.get("run") if request.method == "POST" else request.GET.get("run"))
    if request.method != "POST":
        return redirect("console-evaluation-run", run_id=stored.pk) if stored else redirect("console-evaluation-runs")
    if not page.may_run(request.user):
        return _refuse_runner(request)
    reason = (request.POST.get("reason") or "").strip()
    try:
        service.withdraw_adjustment(adjustment_id, reason=reason, by=request.user, now=page._now())
    except DomainError as exc:
        if stored is None:
            return redirect("console-evaluation-runs")
        field, text = adjust_problem(exc)
        problems = {"withdraw": str(WITHDRAW_REASON)} if field == "reason" else {field: text}
        return page._run_page(request, stored, status=400, adjusting={"values": {}, "problems": problems})
    if stored is None:
        return redirect("console-evaluation-runs")
    return redirect(f"{reverse('console-evaluation-run', args=[stored.pk])}#adjustments")


urlpatterns = [
    path("evaluation/sampling/", rounds, name="console-evaluation-sampling"),
    path("evaluation/sampling/<int:round_id>/", round_page, name="console-evaluation-sampling-round"),
    path("evaluation/sampling/items/<int:item_id>/", record, name="console-evaluation-sampling-record"),
    path("evaluation/runs/<int:run_id>/adjustments/", adjust, name="console-evaluation-adjust"),
    path("evaluation/adjustments/<int:adjustment_id>/withdraw/", withdraw, name="console-evaluation-withdraw"),
]
