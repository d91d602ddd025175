"""The case page (案件详情): everything about one case at once, and the actions the user
may take now, each a small form.

- ``GET cases/<number>/`` shows the case file (``services.casefile``): photos before and
  after, a map with the grid, nearby components and cases, the routing proposal and its
  rule, merged reports and possible duplicates, and the timeline with each stage's time
  against its limit.
- ``POST cases/<number>/do/<action>/`` takes one action with the version the page showed.
  Success redirects back (post/redirect/get). A refusal re-renders the page with what the
  user typed still in the form:

  * someone else moved the case meanwhile (stale version): what changed is listed and the
    page shows the case as it is now;
  * the same user's same action already went through (a double click, a second tab): it is
    reported as done, and nothing is done twice;
  * the user's role or scope changed since the page was drawn: said so plainly.

  An expired session sends the user to the login page and back to the case, where
  ``case.js`` restores the unsent text from ``sessionStorage``.
- Photos and voice notes are served by ``approvals.attachment`` (staff only).

``ACTION_FORMS`` is the table of what each action's form asks for, its label, its tone and
its keyboard shortcut.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from citykeeper.domain.errors import DomainError, IllegalMove, NotFound, NotPermitted, StaleVersion
from citykeeper.domain.routing import Step
from citykeeper.domain.workflow import Action, Role
from citykeeper.services import attachments, casefile, queues
from citykeeper.services import cases as case_service
from citykeeper.store.models import Case, Category, FilingCondition, RoleGrant, Unit, User
from citykeeper.store.models.basedata import ROUTING_STEP_LABELS
from citykeeper.store.models.codebook import LIMIT_UNIT_CHOICES
from citykeeper.web.console import queues as console_queues

log = logging.getLogger(__name__)

MAX_PHOTOS = 9
STAFF_ROLES = frozenset(Role) - {Role.CITIZEN}


@dataclass(frozen=True)
class ActionForm:
    label: str
    fields: tuple[str, ...] = ()  # see FIELD_TEMPLATES in the template: reason, unit, inspector, ...
    tone: str = ""  # "primary" (the usual next step), "danger" (ends or refuses the case), ""
    key: str = ""  # keyboard shortcut (a single letter, outside text fields)
    confirm: str = ""  # asked before sending, for moves that cannot be taken back


_L = gettext_lazy
A = Action

ACTION_FORMS: dict[Action, ActionForm] = {
    A.ACCEPT: ActionForm(_L("受理"), ("remark",), "primary", "a"),
    A.REJECT: ActionForm(_L("不予受理"), ("reason",), "danger", "x", _L("确定不予受理？案件将结束。")),
    A.SEND_VERIFY: ActionForm(_L("派核实"), ("inspector", "remark"), "", "v"),
    A.REFUSE_SELF_DISPOSAL: ActionForm(_L("自处置不通过，转立案"), ("reason",), "", "b"),
    A.FILE: ActionForm(_L("立案"), ("condition", "remark"), "primary", "f"),
    A.VOID: ActionForm(_L("作废"), ("reason",), "danger", "z", _L("确定作废这个案件？")),
    A.DISPATCH: ActionForm(_L("派遣"), ("unit", "remark"), "primary", "d"),
    A.RECEIVE: ActionForm(_L("签收"), (), "primary", "s"),
    A.DISPOSE: ActionForm(_L("处置反馈"), ("feedback", "photos"), "primary", "p"),
    A.REQUEST_RETURN: ActionForm(_L("申请回退"), ("reason", "photos"), "", "t"),
    A.REQUEST_EXTENSION: ActionForm(_L("申请延期"), ("extension", "reason", "photos"), "", "e"),
    A.REQUEST_SUSPENSION: ActionForm(_L("申请挂账/缓办"), ("reason", "photos"), "", "h"),
    A.APPROVE_RETURN: ActionForm(_L("同意回退"), ("remark",), "primary", "y"),
    A.DENY_RETURN: ActionForm(_L("不同意回退"), ("reason",), "", "n"),
    A.APPROVE_EXTENSION: ActionForm(_L("同意延期"), ("grant", "remark"), "primary", "y"),
    A.DENY_EXTENSION: ActionForm(_L("不同意延期"), ("reason",), "", "n"),
    A.APPROVE_SUSPENSION: ActionForm(_L("同意挂账"), ("remark",), "primary", "y"),
    A.DENY_SUSPENSION: ActionForm(_L("不同意挂账"), ("reason",), "", "n"),
    A.RESUME: ActionForm(_L("恢复处置"), ("remark",), "", "m"),
    A.SEND_CHECK: ActionForm(_L("派核查"), ("inspector", "remark"), "primary", "k"),
    A.REWORK: ActionForm(_L("返工"), ("remark",), "primary", "w"),
    A.CLOSE: ActionForm(_L("结案"), ("remark",), "primary", "c", _L("确定结案？")),
    A.UPHOLD: ActionForm(_L("维持结案"), ("reason",), "", "l"),
    A.URGE: ActionForm(_L("督办"), ("reason", "reply_due"), "", "u"),
    A.MERGE: ActionForm(_L("合并到另一案件"), ("target",), "danger", "i", _L("确定把本案合并到所选案件？")),
    A.NOTE: ActionForm(_L("备注/补充照片"), ("note", "photos"), "", "o"),
}

ACTION_LABELS = {action: form.label for action, form in ACTION_FORMS.items()} | {
    A.VERIFY: _L("核实"),
    A.SELF_DISPOSE: _L("自行处置"),
    A.CHECK_PASS: _L("核查通过"),
    A.CHECK_FAIL: _L("核查不通过"),
    A.RATE: _L("市民评价"),
    A.REOPEN: _L("市民反映未解决"),
}
KIND_LABELS = {"report": _L("上报")} | {a.value: label for a, label in ACTION_LABELS.items()}
ROLE_LABELS = dict(RoleGrant._meta.get_field("role").choices)
STATE_LABELS = dict(Case._meta.get_field("state").choices)

# Chinese messages for the domain's refusals, by the field they name (the rule, when the
# guard gives one, is more precise). The English detail is kept in the page's title text.
FIELD_MESSAGES = {
    "reason": _L("请填写理由或意见。"),
    "unit": _L("请选择要派遣的责任单位（系统没有建议单位）。"),
    "assignee": _L("请选择负责此任务的监督员（需在岗并负责该区域）。"),
    "condition": _L("请选择案件符合的立案条件。"),
    "extension_value": _L("请填写需要延长的时间和单位。"),
    "target": _L("请选择要合并到的案件。"),
    "attachments": _L("照片无法使用，请重新选择。"),
    "reply_due_at": _L("请填写有效的回复期限。"),
}
RULE_MESSAGES = {
    "already_received": _L("本单位已签收这个案件。"),
}


# ------------------------------------------------------------------ reading the case


def _visible(user, number: str) -> Case:
    if not user.roles & STAFF_ROLES:  # a citizen follows their case on the portal, not here
        raise Http404(_("没有这个案件，或它不在你的管辖范围内。"))
    case = (
        Case.objects.restrict(user, "view")
        .select_related("category", "condition", "area", "unit", "proposed_unit", "routing_rule", "assignee")
        .select_related("merged_into", "routing_rule__area", "routing_rule__category", "routing_rule__unit")
        .filter(number=number)
        .first()
    )
    if case is None:
        raise Http404(_("没有这个案件，或它不在你的管辖范围内。"))
    return case


def _inspectors_for(case: Case) -> list[User]:
    """Active inspectors whose scope covers the case's area (or the whole city)."""
    people = (
        User.objects.filter(is_active=True, role_grants__role=Role.INSPECTOR)
        .select_related("scope_area")
        .only("username", "display_name", "scope_area__path")
        .order_by("username")
    )
    return [
        u
        for u in people
        if u.scope_area_id is None
        or case.area_path == u.scope_area.path
        or case.area_path.startswith(u.scope_area.path + "/")
    ]


def _choices_for(shown: list[Action], case: Case) -> dict:
    """The options the shown forms need, read only when a shown form asks for them."""
    fields = {f for action in shown for f in ACTION_FORMS[action].fields}
    choices: dict = {}
    if "inspector" in fields:
        choices["inspectors"] = _inspectors_for(case)
    if "unit" in fields:
        choices["units"] = list(Unit.objects.filter(active=True).only("pk", "code", "name").order_by("name"))
    if "condition" in fields:
        choices["conditions"] = list(
            FilingCondition.objects.filter(category_id=case.category_id).only("pk", "seq", "text").order_by("seq")
        )
    if "extension" in fields or "grant" in fields:
        choices["limit_units"] = LIMIT_UNIT_CHOICES
    if "grant" in fields:
        choices["requested"] = requested_extension(case)
    return choices


def requested_extension(case: Case) -> dict:
    """The latest extension request's ``{"value", "unit"}`` (what the approver's form starts
    from), or an empty dict."""
    event = case.events.filter(kind=A.REQUEST_EXTENSION.value).order_by("-seq").only("data").first()
    asked = event.data.get("extension") if event is not None and isinstance(event.data, dict) else None
    if not isinstance(asked, dict) or asked.get("value") is None:
        return {}
    value = asked["value"]
    return {"value": int(value) if float(value).is_integer() else value, "unit": asked.get("unit") or ""}


def _map_data(case: Case, grid, components, nearby_cases) -> dict:
    return {
        "case": {"number": case.number, "lon": case.lon, "lat": case.lat} if case.lon is not None else None,
        "grid": {"name": grid.name, "geometry": grid.geometry} if grid is not None and grid.geometry else None,
        "components": [
            {"code": c.code, "name": c.name, "category": c.category.minor_name, "lon": c.lon, "lat": c.lat}
            for c in components
        ],
        "cases": [
            {
                "number": c.number,
                "category": c.category.minor_name,
                "state": str(STATE_LABELS.get(c.state, c.state)),
                "lon": c.lon,
                "lat": c.lat,
                "url": reverse("console-case", kwargs={"number": c.number}),
            }
            for c in nearby_cases
        ],
    }


def _span_text(entry: casefile.TimelineEntry) -> str:
    """ "处置 用时 3 小时 10 分 / 时限 1 天 0 小时（按时）" for an event that ended a stage."""
    span = entry.finished
    if span is None:
        return ""
    return _("%(stage)s 用时 %(used)s / 时限 %(limit)s（%(verdict)s）") % {
        "stage": console_queues.STAGE_LABELS.get(span.stage, span.stage),
        "used": console_queues.duration_text(span.used_seconds),
        "limit": console_queues.duration_text(span.limit_seconds),
        "verdict": _("按时") if span.on_time else _("超时"),
    }


def _routing(case: Case) -> dict | None:
    if not case.routing_step:
        return None
    try:
        step = str(ROUTING_STEP_LABELS[Step(case.routing_step)])
    except (ValueError, KeyError):
        step = case.routing_step
    return {"unit": case.proposed_unit, "step": step, "rule": case.routing_rule}


def _context(request: HttpRequest, case: Case, now: dt.datetime, *, posted=None, failed=None, changes=None) -> dict:
    user = request.user
    entries = casefile.timeline(case)
    shown = casefile.possible_actions(case, user, now)
    grid = casefile.grid_of(case)
    components, nearby_cases = casefile.nearby(case)
    forms = [
        {
            "action": action.value,
            "spec": ACTION_FORMS[action],
            "url": reverse("console-case-act", kwargs={"number": case.number, "action": action.value}),
            "open": failed == action.value,
        }
        for action in shown
    ]
    # A refused form whose action is no longer possible: its text is still shown to copy from.
    unsent = (posted or {}).get("reason", "") if failed and failed not in {f["action"] for f in forms} else ""
    return {
        "case": case,
        "unsent": unsent,
        "state_label": STATE_LABELS.get(case.state, case.state),
        "stage_label": console_queues.STAGE_LABELS.get(case.stage, case.stage) if case.stage else "",
        "sla": console_queues.badge(case, now),
        "routing": _routing(case),
        "entries": [
            (e, KIND_LABELS.get(e.event.kind, e.event.kind), ROLE_LABELS.get(e.event.actor_role, ""), _span_text(e))
            for e in entries
        ],
        "photos": casefile.photos(entries),
        "merged": casefile.merged_reports(case),
        "duplicates": casefile.possible_duplicates(case, now),
        "forms": forms,
        "choices": _choices_for(shown, case),
        "posted": posted or {},
        "failed": failed,
        "changes": [(e, KIND_LABELS.get(e.kind, e.kind)) for e in changes or []],
        "map_data": _map_data(case, grid, components, nearby_cases),
        "stage_labels": console_queues.STAGE_LABELS,
        "back": _back_url(request),
        "from_slug": request.GET.get("from") or request.POST.get("from") or "",
        "max_photos": MAX_PHOTOS,
    }


def _back_url(request: HttpRequest) -> str:
    """The queue the user came from (``?from=<slug>``), if it is one of theirs."""
    slug = request.GET.get("from") or request.POST.get("from") or ""
    if queues.queue_for(request.user, slug) is not None:
        return reverse("console-queue", kwargs={"slug": slug})
    return reverse("console")


@login_required
def case_page(request: HttpRequest, number: str) -> HttpResponse:
    case = _visible(request.user, number)
    return render(request, "citykeeper/console/case.html", _context(request, case, timezone.now()))


# ------------------------------------------------------------------ acting


class FormError(Exception):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def extension_from(post) -> tuple[float | None, str | None]:
    """How much more time a form asks for or grants (``extension_value``, ``extension_unit``);
    (None, None) when left empty, which for an approval means "as requested"."""
    raw = post.get("extension_value", "").strip()
    try:
        value = float(raw) if raw else None
    except ValueError:
        raise FormError("extension_value", _("延期时长要填数字。")) from None
    if value is not None and not 0 < value <= 365:
        raise FormError("extension_value", _("延期时长要大于 0，且不超过 365。"))
    unit = post.get("extension_unit") or None
    if unit and unit not in dict(LIMIT_UNIT_CHOICES):
        raise FormError("extension_value", _("未知的时间单位。"))
    if value is None:
        return None, None
    return value, unit


def _move_input(request: HttpRequest, case: Case, spec: ActionForm) -> case_service.MoveInput:
    """The posted form as the verb's input; unknown choices are refused with the field named."""
    post = request.POST
    data = case_service.MoveInput()
    text_field = next((f for f in ("reason", "feedback", "note", "remark") if f in spec.fields), None)
    if text_field:
        data.reason = post.get("reason", "").strip()[:2000]
    if "unit" in spec.fields and post.get("unit"):
        data.unit = Unit.objects.filter(pk=post["unit"] if post["unit"].isdigit() else None, active=True).first()
        if data.unit is None:
            raise FormError("unit", _("所选单位不存在或已停用，请重新选择。"))
    if "inspector" in spec.fields:
        username = post.get("assignee", "")
        data.assignee = User.objects.filter(username=username).first() if username else None
        if username and data.assignee is None:
            raise FormError("assignee", _("所选监督员不存在，请重新选择。"))
    if "condition" in spec.fields and post.get("condition"):
        value = post["condition"]
        data.condition = FilingCondition.objects.filter(pk=int(value)).first() if value.isdigit() else None
        if data.condition is None:
            raise FormError("condition", _("所选立案条件不存在，请重新选择。"))
        if post.get("category", "").isdigit():
            data.category = Category.objects.filter(pk=int(post["category"])).first()
    if "extension" in spec.fields or "grant" in spec.fields:
        data.extension_value, data.extension_unit = extension_from(post)
    if "target" in spec.fields:
        target = post.get("target", "").strip()
        data.target = (
            Case.objects.restrict(request.user, "view").filter(number=target).exclude(pk=case.pk).first()
            if target
            else None
        )
        if target and data.target is None:
            raise FormError("target", _("没有案卷号为 %(number)s 的案件，或你看不到它。") % {"number": target})
    if "reply_due" in spec.fields and post.get("reply_due_at"):
        due = parse_datetime(post["reply_due_at"])
        if due is None:
            raise FormError("reply_due_at", _("回复期限的格式不对。"))
        data.reply_due_at = timezone.make_aware(due) if timezone.is_naive(due) else due
        if data.reply_due_at <= timezone.now():
            raise FormError("reply_due_at", _("回复期限要晚于现在。"))
    return data


def _checked_photos(request: HttpRequest, spec: ActionForm) -> list:
    if "photos" not in spec.fields:
        return []
    files = request.FILES.getlist("photos")
    if len(files) > MAX_PHOTOS:
        raise FormError("photos", _("最多 %(n)s 张照片。") % {"n": MAX_PHOTOS})
    checked = []
    for upload in files:
        try:
            checked.append(attachments.check_image(upload))
        except attachments.TooLarge:
            raise FormError("photos", _("照片 %(name)s 太大。") % {"name": upload.name}) from None
        except attachments.UnsupportedMedia:
            raise FormError("photos", _("%(name)s 不是 JPEG、PNG 或 WebP 照片。") % {"name": upload.name}) from None
    return checked


def _message_for(error: DomainError) -> str:
    rule = error.params.get("rule") if error.params else None
    if rule in RULE_MESSAGES:
        return str(RULE_MESSAGES[rule])
    if isinstance(error, NotPermitted):
        return _("你现在的角色或管辖范围不允许这个操作（可能刚被调整过）。请刷新页面后再看。")
    if isinstance(error, IllegalMove):
        return _("案件当前的状态不允许这个操作。")
    if error.field in FIELD_MESSAGES:
        return str(FIELD_MESSAGES[error.field])
    return _("操作没有完成：%(detail)s") % {"detail": error.message}


def _changes_since(case: Case, version: int) -> list:
    """The events written after the version the user saw (each move adds one event and one version)."""
    return list(
        case.events.filter(seq__gt=version)
        .select_related("actor")
        .order_by("seq")
        .only("seq", "kind", "at", "actor_name", "actor_role", "actor__username", "reason", "to_state", "data")
    )


def _refuse(request, case_number, action, message, *, status, failed_field=None, changes=None):
    case = _visible(request.user, case_number)
    messages.error(request, message)
    context = _context(request, case, timezone.now(), posted=request.POST, failed=action, changes=changes)
    context["failed_field"] = failed_field
    return render(request, "citykeeper/console/case.html", context, status=status)


@require_POST
def act(request: HttpRequest, number: str, action: str) -> HttpResponse:
    case_url = reverse("console-case", kwargs={"number": number})
    if not request.user.is_authenticated:
        # The session ran out while the form was open: log in again and come back to the
        # case; the page restores what was typed (case.js keeps it in sessionStorage).
        messages.warning(request, _("登录已过期，请重新登录；你填写的内容会保留。"))
        return redirect_to_login(case_url)
    case = _visible(request.user, number)
    try:
        chosen = Action(action)
        spec = ACTION_FORMS[chosen]
    except (ValueError, KeyError):
        raise Http404(_("没有这个操作。")) from None
    version = request.POST.get("version", "")
    if not version.isdigit():
        return _refuse(request, number, action, _("页面缺少版本信息，请刷新后重试。"), status=400)
    try:
        data = _move_input(request, case, spec)
        photos = _checked_photos(request, spec)
    except FormError as exc:
        return _refuse(request, number, action, exc.message, status=400, failed_field=exc.field)
    stored = []
    try:
        for photo in photos:
            attachment, created = attachments.save_checked(case, photo, by=request.user)
            stored.append((attachment, created))
        data.attachments = [a.pk for a, _created in stored]
        case_service.act(number, chosen, actor=request.user, version=int(version), at=timezone.now(), data=data)
    except StaleVersion:
        _discard(stored)
        return _stale(request, number, chosen, int(version))
    except DomainError as exc:
        _discard(stored)
        status = STATUS_FOR.get(type(exc), 400)
        return _refuse(request, number, action, _message_for(exc), status=status, failed_field=exc.field)
    log.info("console action", extra={"case": number, "action": chosen.value, "user": request.user.pk})
    messages.success(request, _("已%(action)s：%(number)s") % {"action": spec.label, "number": number})
    back = request.POST.get("from", "")
    return redirect(f"{case_url}?from={back}" if back else case_url)


STATUS_FOR = {NotPermitted: 403, NotFound: 404, IllegalMove: 409}


def _discard(stored) -> None:
    for attachment, created in stored:
        if created:
            attachments.discard(attachment)


def _stale(request: HttpRequest, number: str, action: Action, version: int) -> HttpResponse:
    case = _visible(request.user, number)
    changes = _changes_since(case, version)
    if changes and changes[0].kind == action.value and changes[0].actor_id == request.user.pk:
        # The same user's same move went through a moment ago (double click, second tab).
        messages.info(request, _("这个操作已经完成，重复的提交没有再执行。"))
        return redirect(reverse("console-case", kwargs={"number": number}))
    message = _("案件在你打开页面后已被他人办理，下面是最新情况；你填写的内容仍在表单里。")
    return _refuse(request, number, action.value, message, status=409, changes=changes)


urlpatterns = [
    path("cases/<str:number>/", case_page, name="console-case"),
    path("cases/<str:number>/do/<str:action>/", act, name="console-case-act"),
]
