"""The dispatch screen (派遣): the filed cases (待派遣) by deadline, with the unit routing
proposed and why, and each responsible unit's load and on-time rate beside its name.

A dispatcher sends one case to its proposed unit with one click, or ticks several and
sends them to one chosen unit (or each to its own proposal). Every case is dispatched on
its own, with the version the page showed: a case someone else moved meanwhile is left
alone and reported with what happened to it; the others go through. The answer is kept
in the session under the form's one-time token and shown after a redirect (PRG); posting
the same form again (a double click, a second tab) shows that answer instead of acting
twice, and a case already dispatched is never dispatched again because its version moved.
"""

from __future__ import annotations

import datetime as dt
import secrets

from django.contrib.auth.decorators import login_required
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from citykeeper.domain.errors import DomainError, IllegalMove, InvalidInput, NotFound, NotPermitted, StaleVersion
from citykeeper.domain.workflow import Action, Role, State
from citykeeper.services import cases as case_service
from citykeeper.services.cases import MoveInput
from citykeeper.services.unitstats import unit_standing
from citykeeper.store.models import Case, CaseEvent, Unit
from citykeeper.store.models.basedata import ROUTING_STEP_LABELS
from citykeeper.web.console.queues import badge

# The page shows this many of the most urgent filed cases.
PAGE_SIZE = 100
# How many batch answers the session keeps (the newest ones).
KEPT_RESULTS = 10
SESSION_KEY = "console_dispatch_results"

DISPATCH_ROLES = frozenset({Role.DISPATCHER, Role.SHIFT_LEAD})

ACTION_LABELS = {
    Action.ACCEPT: gettext_lazy("受理"),
    Action.REJECT: gettext_lazy("不予受理"),
    Action.SEND_VERIFY: gettext_lazy("派核实"),
    Action.VERIFY: gettext_lazy("核实"),
    Action.SELF_DISPOSE: gettext_lazy("自行处置"),
    Action.REFUSE_SELF_DISPOSAL: gettext_lazy("自处置审核不通过"),
    Action.FILE: gettext_lazy("立案"),
    Action.VOID: gettext_lazy("作废"),
    Action.DISPATCH: gettext_lazy("派遣"),
    Action.RECEIVE: gettext_lazy("签收"),
    Action.DISPOSE: gettext_lazy("处置反馈"),
    Action.REQUEST_RETURN: gettext_lazy("申请回退"),
    Action.APPROVE_RETURN: gettext_lazy("同意回退"),
    Action.DENY_RETURN: gettext_lazy("不同意回退"),
    Action.REQUEST_EXTENSION: gettext_lazy("申请延期"),
    Action.APPROVE_EXTENSION: gettext_lazy("同意延期"),
    Action.DENY_EXTENSION: gettext_lazy("不同意延期"),
    Action.REQUEST_SUSPENSION: gettext_lazy("申请挂账"),
    Action.APPROVE_SUSPENSION: gettext_lazy("同意挂账"),
    Action.DENY_SUSPENSION: gettext_lazy("不同意挂账"),
    Action.RESUME: gettext_lazy("挂账恢复"),
    Action.SEND_CHECK: gettext_lazy("派核查"),
    Action.CHECK_PASS: gettext_lazy("核查通过"),
    Action.CHECK_FAIL: gettext_lazy("核查不通过"),
    Action.REWORK: gettext_lazy("返工"),
    Action.CLOSE: gettext_lazy("结案"),
    Action.URGE: gettext_lazy("督办"),
    Action.MERGE: gettext_lazy("合并"),
    Action.NOTE: gettext_lazy("备注"),
    Action.RATE: gettext_lazy("评价"),
    Action.REOPEN: gettext_lazy("反映未解决"),
    Action.UPHOLD: gettext_lazy("维持结案"),
}


# ------------------------------------------------------------------ shared by the console's forms


def forbidden(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "citykeeper/console/forbidden.html", {"message": message}, status=403)


def has_role(user, roles) -> bool:
    return bool(user.roles & roles)


def local_text(at: dt.datetime | None) -> str:
    return date_format(timezone.localtime(at), "Y-m-d H:i") if at else ""


def event_text(event: CaseEvent | None) -> str:
    """ "张三 于 2026-11-23 09:05 派遣" for the latest event of a case (what moved it)."""
    if event is None:
        return _("案件已有新进展")
    label = ACTION_LABELS.get(event.kind, event.kind)
    return _("%(who)s 于 %(at)s %(action)s") % {
        "who": event.actor_name or _("系统"),
        "at": local_text(event.at),
        "action": label,
    }


def latest_events(numbers: list[str]) -> dict[str, CaseEvent]:
    """{case number: its latest event}, in one query."""
    if not numbers:
        return {}
    rows = (
        CaseEvent.objects.filter(case__number__in=numbers, seq=F("case__chain_seq"))
        .select_related("case")
        .only("case__number", "kind", "at", "actor_id", "actor_name", "data", "seq")
    )
    return {event.case.number: event for event in rows}


def refusal_text(exc: DomainError) -> str:
    """The domain's refusal in plain Chinese (its messages are English for API clients)."""
    if isinstance(exc, NotFound):
        return _("没有这个案件。")
    if isinstance(exc, StaleVersion):
        return _("案件已被他人处理，请刷新后再看。")
    if isinstance(exc, IllegalMove):
        return _("案件当前状态不能进行这个操作。")
    if isinstance(exc, NotPermitted):
        if exc.field == "number":
            return _("案件不在您的管辖范围内。")
        if exc.field == "target":
            return _("目标案件不在您的管辖范围内。")
        return _("您的角色不能进行这个操作。")
    if isinstance(exc, InvalidInput):
        if exc.field == "unit":
            return _("请选择启用中的责任单位（确权没有建议单位时必须手动选择）。")
        if exc.field == "reason":
            return _("请填写理由。")
        if exc.field in ("extension_value", "extension", "value", "unit_of_time"):
            return _("请填写有效的延期时长。")
        if exc.field == "action":
            return _("案件当前状态不能进行这个操作。")
    return _("操作未成功：%(detail)s") % {"detail": exc.message}


def new_token() -> str:
    return secrets.token_urlsafe(12)


def remember(request: HttpRequest, key: str, token: str, answer: dict) -> None:
    kept = dict(request.session.get(key, {}))
    kept[token] = answer
    while len(kept) > KEPT_RESULTS:
        kept.pop(next(iter(kept)))
    request.session[key] = kept


def recalled(request: HttpRequest, key: str, token: str) -> dict | None:
    return request.session.get(key, {}).get(token) if token else None


# ------------------------------------------------------------------ the page


def routing_text(case: Case) -> str:
    """Why routing proposed the unit, in words: the step, and the rule when one chose it."""
    if not case.routing_step:
        return _("未确权")
    label = str(ROUTING_STEP_LABELS.get(case.routing_step, case.routing_step))
    if case.routing_rule_id and case.routing_rule is not None:
        return _("%(step)s：%(rule)s") % {"step": label, "rule": case.routing_rule}
    return label


def rate_text(rate: float | None) -> str:
    return _("本月无处置") if rate is None else _("按时率 %(rate)s%%") % {"rate": round(rate * 100)}


def _units_with_standing(now: dt.datetime) -> list[dict]:
    units = list(Unit.objects.filter(active=True).only("pk", "code", "name").order_by("name", "pk"))
    standing = unit_standing([u.pk for u in units], now)
    return [
        {
            "unit": unit,
            "standing": standing[unit.pk],
            "rate": rate_text(standing[unit.pk].on_time_rate),
        }
        for unit in units
    ]


def filed_cases(user):
    return (
        Case.objects.restrict(user, "act")
        .filter(state=State.FILED)
        .select_related(
            "category",
            "proposed_unit",
            "routing_rule",
            "routing_rule__area",
            "routing_rule__category",
            "routing_rule__unit",
        )
        .order_by(F("stage_deadline_at").asc(nulls_last=True), "id")
    )


OUTCOME_LABELS = {
    "dispatched": gettext_lazy("已派遣"),
    "duplicate": gettext_lazy("重复提交，未重复派遣"),
    "moved": gettext_lazy("已被他人处理"),
    "refused": gettext_lazy("未能派遣"),
}


@login_required
def dispatch_page(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not has_role(user, DISPATCH_ROLES):
        return forbidden(request, _("派遣页面只对派遣员和值班长开放。"))
    if request.method == "POST":
        return _dispatch_post(request)
    now = timezone.now()
    rows = list(filed_cases(user)[: PAGE_SIZE + 1])
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    units = _units_with_standing(now)
    standing_of = {entry["unit"].pk: entry for entry in units}
    shown = [
        {
            "case": case,
            "sla": badge(case, now),
            "routing": routing_text(case),
            "proposed": standing_of.get(case.proposed_unit_id) if case.proposed_unit_id else None,
        }
        for case in rows
    ]
    token = request.GET.get("result", "")
    result = recalled(request, SESSION_KEY, token)
    return render(
        request,
        "citykeeper/console/dispatch.html",
        {
            "rows": shown,
            "more": more,
            "page_size": PAGE_SIZE,
            "units": units,
            "token": new_token(),
            "result": result,
            "again": request.GET.get("again") == "1" and result is not None,
            "may_dispatch": Role.DISPATCHER in user.roles or user.is_superuser,
        },
    )


def _picked(values: list[str]) -> list[tuple[str, int]]:
    """``number:version`` pairs from the form, in order, without repeats; malformed ones dropped."""
    out, seen = [], set()
    for value in values:
        number, _sep, version = value.partition(":")
        if number and version.isdigit() and number not in seen:
            seen.add(number)
            out.append((number, int(version)))
    return out


def _dispatch_post(request: HttpRequest) -> HttpResponse:
    here = reverse("console-dispatch")
    token = request.POST.get("token", "")
    if not token:
        return redirect(here)
    if recalled(request, SESSION_KEY, token) is not None:  # the same form again: answer, don't act
        return redirect(f"{here}?{urlencode({'result': token, 'again': '1'})}")
    unit, error = None, ""
    if request.POST.get("one"):
        picked = _picked([request.POST["one"]])
        mode = "proposed"
    else:
        picked = _picked(request.POST.getlist("pick"))
        mode = request.POST.get("batch", "unit")
        if not picked:
            error = _("请先勾选要派遣的案件。")
        elif mode != "proposed":
            unit_id = request.POST.get("unit", "")
            unit = Unit.objects.filter(pk=int(unit_id), active=True).first() if unit_id.isdigit() else None
            if unit is None:
                error = _("请选择派遣单位：没有这个单位或它已停用。")
    items = [] if error else _dispatch_each(request.user, picked, unit)
    answer = {
        "at": local_text(timezone.now()),
        "unit": unit.name if unit else "",
        "error": error,
        "items": items,
        "counts": {key: sum(1 for i in items if i["outcome"] == key) for key in OUTCOME_LABELS},
    }
    remember(request, SESSION_KEY, token, answer)
    return redirect(f"{here}?{urlencode({'result': token})}")


def _dispatch_each(user, picked: list[tuple[str, int]], unit: Unit | None) -> list[dict]:
    """Dispatch each case on its own (its own transaction and version check)."""
    items, stale = [], []
    for number, version in picked:
        try:
            case = case_service.dispatch(
                number, actor=user, version=version, at=timezone.now(), data=MoveInput(unit=unit)
            )
        except StaleVersion:
            stale.append(len(items))
            items.append({"number": number, "outcome": "moved", "text": ""})
        except DomainError as exc:
            items.append({"number": number, "outcome": "refused", "text": refusal_text(exc)})
        else:
            items.append({"number": number, "outcome": "dispatched", "text": case.unit.name})
    if stale:
        latest = latest_events([items[i]["number"] for i in stale])
        for i in stale:
            item = items[i]
            event = latest.get(item["number"])
            mine = (
                event is not None
                and event.kind == Action.DISPATCH
                and event.actor_id == user.pk
                and (unit is None or event.data.get("unit") == unit.code)
            )
            item["outcome"] = "duplicate" if mine else "moved"
            item["text"] = event_text(event)
    for item in items:
        item["label"] = str(OUTCOME_LABELS[item["outcome"]])
    return items


urlpatterns = [
    path("dispatch/", require_http_methods(["GET", "POST"])(dispatch_page), name="console-dispatch"),
]
