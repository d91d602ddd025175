"""Approvals (待审批) and urging (督办).

- ``approvals/``: the units' pending requests (回退, 延期, 挂账/缓办) in the user's scope, each
  with who asked, when, why, the extension asked for and the photos sent with it; approve
  or deny (a denial needs a reason) with the version the page showed.
- ``approvals/urges/``: the urged open cases, each urge with its text, who, when, its reply
  due and its thread of replies (notes with ``reply_to`` = the urge event's seq); an urge
  past its reply due without a reply is red. A unit handler or the centre replies there; a
  shift lead or leader urges (again) from there.
- ``cases/<number>/attachments/<id>/``: a case's attachment for staff who may see the case
  (``?v=thumb`` for the thumbnail); the case page uses it too.

Every form carries a one-time token; its answer is kept in the session and shown after a
redirect, and the same form sent again shows that answer instead of acting twice (the
version check refuses a second move anyway).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.contrib.auth.decorators import login_required
from django.db.models import F, Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from citykeeper.domain.errors import DomainError, StaleVersion
from citykeeper.domain.workflow import OPEN_STATES, Action, Role, State
from citykeeper.services import cases as case_service
from citykeeper.services.cases import MoveInput
from citykeeper.store.models import Attachment, Case, CaseEvent
from citykeeper.store.models.codebook import LIMIT_UNIT_CHOICES
from citykeeper.web.console.case import FormError, extension_from
from citykeeper.web.console.dispatch import (
    ACTION_LABELS,
    event_text,
    forbidden,
    has_role,
    latest_events,
    local_text,
    new_token,
    recalled,
    refusal_text,
    remember,
)
from citykeeper.web.console.queues import badge, paging_key, rows_after

PAGE_SIZE = 100
APPROVAL_ROLES = frozenset({Role.DISPATCHER, Role.SHIFT_LEAD})
URGE_PAGE_ROLES = frozenset({Role.DISPATCHER, Role.SHIFT_LEAD, Role.LEADER, Role.UNIT_HANDLER, Role.OPERATOR})
URGING_ROLES = frozenset({Role.SHIFT_LEAD, Role.LEADER})
STAFF_ROLES = frozenset(Role) - {Role.CITIZEN}
SESSION_KEY = "console_approval_results"

# state → (the request's action, its approval, its denial, what it is called)
REQUESTS = {
    State.RETURN_REQUESTED: (
        Action.REQUEST_RETURN,
        Action.APPROVE_RETURN,
        Action.DENY_RETURN,
        gettext_lazy("回退申请"),
    ),
    State.EXTENSION_REQUESTED: (
        Action.REQUEST_EXTENSION,
        Action.APPROVE_EXTENSION,
        Action.DENY_EXTENSION,
        gettext_lazy("延期申请"),
    ),
    State.SUSPENSION_REQUESTED: (
        Action.REQUEST_SUSPENSION,
        Action.APPROVE_SUSPENSION,
        Action.DENY_SUSPENSION,
        gettext_lazy("挂账/缓办申请"),
    ),
}
DECISIONS = {row[1]: True for row in REQUESTS.values()} | {row[2]: False for row in REQUESTS.values()}
LIMIT_UNIT_LABELS = dict(LIMIT_UNIT_CHOICES)


def extension_text(data: dict) -> str:
    """ "2 工作日" from a request event's ``data["extension"]``, "" without one."""
    extension = data.get("extension") if isinstance(data, dict) else None
    if not isinstance(extension, dict) or extension.get("value") is None:
        return ""
    value = extension["value"]
    value = int(value) if float(value).is_integer() else value
    return f"{value} {LIMIT_UNIT_LABELS.get(extension.get('unit'), extension.get('unit') or '')}"


def _asked(event: CaseEvent | None) -> dict:
    """The requested extension as the approve form's starting values."""
    extension = event.data.get("extension") if event is not None and isinstance(event.data, dict) else None
    if not isinstance(extension, dict) or extension.get("value") is None:
        return {}
    value = extension["value"]
    return {"value": int(value) if float(value).is_integer() else value, "unit": extension.get("unit") or ""}


def photos_of(case_number: str, refs) -> list[dict]:
    """Thumbnail and full links for the attachments an event names."""
    out = []
    for ref in refs or []:
        if not isinstance(ref, dict) or not isinstance(ref.get("id"), int):
            continue
        url = reverse("console-attachment", kwargs={"number": case_number, "attachment_id": ref["id"]})
        out.append({"id": ref["id"], "url": url, "image": str(ref.get("type", "")).startswith("image/")})
    return out


def _order(cases):
    return cases.order_by(F("stage_deadline_at").asc(nulls_last=True), "id")


def _page(request: HttpRequest, cases) -> tuple[list[Case], dict]:
    """A page of ``cases`` by deadline, after ``?after=`` (the queues' paging key), with the
    links to the next and the first page."""
    total = cases.count()
    cases = _order(cases)
    paged = False
    if request.GET.get("after"):
        cases, paged = rows_after(cases, "deadline", request.GET["after"])
    rows = list(cases.select_related("unit", "category")[: PAGE_SIZE + 1])
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    here = request.path
    return rows, {
        "total": total,
        "more": more,
        "page_size": PAGE_SIZE,
        "next_url": f"{here}?{urlencode({'after': paging_key(rows[-1], 'deadline')})}" if more else None,
        "first_url": here if paged else None,
    }


def _answer(request: HttpRequest, token: str, ok: bool, text: str, here: str) -> HttpResponse:
    remember(request, SESSION_KEY, token, {"ok": ok, "text": text, "at": local_text(timezone.now())})
    return redirect(f"{here}?{urlencode({'result': token})}")


def _shown_result(request: HttpRequest) -> tuple[dict | None, bool]:
    result = recalled(request, SESSION_KEY, request.GET.get("result", ""))
    return result, request.GET.get("again") == "1" and result is not None


def _stale_text(user, number: str, action: Action) -> str:
    event = latest_events([number]).get(number)
    if event is not None and event.actor_id == user.pk and event.kind == action:
        return _("重复提交：%(what)s，没有重复操作。") % {"what": event_text(event)}
    return _("案件 %(n)s 已被他人处理：%(what)s。请看最新情况后再操作。") % {"n": number, "what": event_text(event)}


def _version(value: str) -> int | None:
    return int(value) if value.isdigit() else None


# ------------------------------------------------------------------ approvals


@login_required
@require_http_methods(["GET", "POST"])
def approvals_page(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not has_role(user, APPROVAL_ROLES):
        return forbidden(request, _("审批页面只对派遣员和值班长开放。"))
    if request.method == "POST":
        return _decide(request)
    now = timezone.now()
    cases, pager = _page(request, Case.objects.restrict(user, "act").filter(state__in=[s.value for s in REQUESTS]))
    request_kinds = [row[0].value for row in REQUESTS.values()]
    latest: dict[tuple[int, str], CaseEvent] = {}
    for event in CaseEvent.objects.filter(case_id__in=[c.pk for c in cases], kind__in=request_kinds).order_by(
        "case_id", "seq"
    ):
        latest[(event.case_id, event.kind)] = event
    rows = []
    for case in cases:
        asked, approve, deny, label = REQUESTS[State(case.state)]
        event = latest.get((case.pk, asked.value))
        rows.append(
            {
                "case": case,
                "label": label,
                "event": event,
                "extension": extension_text(event.data) if event else "",
                "asked": _asked(event),
                "photos": photos_of(case.number, event.attachments) if event else [],
                "sla": badge(case, now),
                "approve": approve.value,
                "approve_label": ACTION_LABELS[approve],
                "deny": deny.value,
                "deny_label": ACTION_LABELS[deny],
                "token": new_token(),
            }
        )
    result, again = _shown_result(request)
    return render(
        request,
        "citykeeper/console/approvals.html",
        {
            "rows": rows,
            **pager,
            "result": result,
            "again": again,
            "limit_units": LIMIT_UNIT_CHOICES,
        },
    )


def _decide(request: HttpRequest) -> HttpResponse:
    here = reverse("console-approvals")
    token = request.POST.get("token", "")
    if not token:
        return redirect(here)
    if recalled(request, SESSION_KEY, token) is not None:
        return redirect(f"{here}?{urlencode({'result': token, 'again': '1'})}")
    number = request.POST.get("number", "")
    version = _version(request.POST.get("version", ""))
    try:
        action = Action(request.POST.get("action", ""))
    except ValueError:
        action = None
    if action not in DECISIONS or version is None or not number:
        return _answer(request, token, False, _("请求不完整，请刷新页面后再试。"), here)
    reason = request.POST.get("reason", "").strip()
    approving = DECISIONS[action]
    if not approving and not reason:
        return _answer(request, token, False, _("不同意时请填写理由（案件 %(n)s）。") % {"n": number}, here)
    data = MoveInput(reason=reason)
    if action == Action.APPROVE_EXTENSION:
        # The approver may grant more or less time than was asked; empty means as asked.
        try:
            data.extension_value, data.extension_unit = extension_from(request.POST)
        except FormError as exc:
            return _answer(request, token, False, _("案件 %(n)s：%(why)s") % {"n": number, "why": exc.message}, here)
    try:
        case_service.act(number, action, actor=request.user, version=version, at=timezone.now(), data=data)
    except StaleVersion:
        return _answer(request, token, False, _stale_text(request.user, number, action), here)
    except DomainError as exc:
        return _answer(request, token, False, _("案件 %(n)s：%(why)s") % {"n": number, "why": refusal_text(exc)}, here)
    done = _("案件 %(n)s：已%(what)s。") % {"n": number, "what": ACTION_LABELS[action]}
    return _answer(request, token, True, done, here)


# ------------------------------------------------------------------ urging


def _due(event: CaseEvent) -> dt.datetime | None:
    value = event.data.get("reply_due_at") if isinstance(event.data, dict) else None
    if not isinstance(value, str):
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        return None


@login_required
@require_http_methods(["GET", "POST"])
def urges_page(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not has_role(user, URGE_PAGE_ROLES):
        return forbidden(request, _("督办页面只对派遣员、值班长、领导、受理员和处置单位开放。"))
    if request.method == "POST":
        return _urge_post(request)
    now = timezone.now()
    cases, pager = _page(
        request,
        Case.objects.restrict(user, "view").filter(urge_count__gt=0, state__in=[s.value for s in OPEN_STATES]),
    )
    urges: dict[int, list[dict]] = defaultdict(list)
    replies: dict[tuple[int, int], list[CaseEvent]] = defaultdict(list)
    events = CaseEvent.objects.filter(case_id__in=[c.pk for c in cases]).filter(
        Q(kind=Action.URGE.value) | Q(kind=Action.NOTE.value, data__has_key="reply_to")
    )
    for event in events.order_by("case_id", "seq"):
        if event.kind == Action.URGE:
            urges[event.case_id].append({"event": event, "due": _due(event)})
        elif isinstance(event.data.get("reply_to"), int):
            replies[(event.case_id, event.data["reply_to"])].append(event)
    may_urge = has_role(user, URGING_ROLES)
    rows = []
    for case in cases:
        thread = []
        for urge in urges[case.pk]:
            answers = replies[(case.pk, urge["event"].seq)]
            due = urge["due"]
            first_reply = answers[0].at if answers else None
            late = due is not None and (first_reply > due if first_reply else now > due)
            thread.append({**urge, "replies": answers, "late": late, "waiting": not answers})
        rows.append(
            {
                "case": case,
                "sla": badge(case, now),
                "urges": thread,
                "late": any(u["late"] and u["waiting"] for u in thread),
                "token": new_token(),
                "urge_token": new_token(),
            }
        )
    result, again = _shown_result(request)
    default_due = timezone.localtime(now + dt.timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M")
    return render(
        request,
        "citykeeper/console/urges.html",
        {
            "rows": rows,
            **pager,
            "result": result,
            "again": again,
            "may_urge": may_urge,
            "new_urge_token": new_token(),
            "default_due": default_due,
        },
    )


def _urge_post(request: HttpRequest) -> HttpResponse:
    here = reverse("console-urges")
    token = request.POST.get("token", "")
    if not token:
        return redirect(here)
    if recalled(request, SESSION_KEY, token) is not None:
        return redirect(f"{here}?{urlencode({'result': token, 'again': '1'})}")
    user = request.user
    number = request.POST.get("number", "").strip()
    reason = request.POST.get("reason", "").strip()
    if not number:
        return _answer(request, token, False, _("请填写案卷号。"), here)
    if not reason:
        return _answer(request, token, False, _("请填写内容（案件 %(n)s）。") % {"n": number}, here)
    op = request.POST.get("op", "")
    if op == "reply":
        action = Action.NOTE
        urge_seq = _version(request.POST.get("reply_to", ""))
        if (
            urge_seq is None
            or not CaseEvent.objects.filter(case__number=number, seq=urge_seq, kind=Action.URGE.value).exists()
        ):
            return _answer(request, token, False, _("没有找到要回复的督办。"), here)
        data = MoveInput(reason=reason, reply_to=urge_seq)
    elif op == "urge":
        action = Action.URGE
        if not has_role(user, URGING_ROLES):
            return _answer(request, token, False, _("只有值班长和领导可以督办。"), here)
        due = parse_datetime(request.POST.get("reply_due", "") or "")
        if due is None:
            return _answer(request, token, False, _("请填写回复期限。"), here)
        if timezone.is_naive(due):
            due = timezone.make_aware(due)
        if due <= timezone.now():
            return _answer(request, token, False, _("回复期限应晚于现在。"), here)
        data = MoveInput(reason=reason, reply_due_at=due)
    else:
        return _answer(request, token, False, _("请求不完整，请刷新页面后再试。"), here)
    version = _version(request.POST.get("version", ""))
    if version is None:  # urging a case by its number: act on the case as it is now
        version = Case.objects.restrict(user, "act").filter(number=number).values_list("version", flat=True).first()
        if version is None:
            return _answer(request, token, False, _("没有这个案件，或它不在您的管辖范围内。"), here)
    try:
        case_service.act(number, action, actor=user, version=version, at=timezone.now(), data=data)
    except StaleVersion:
        return _answer(request, token, False, _stale_text(user, number, action), here)
    except DomainError as exc:
        return _answer(request, token, False, _("案件 %(n)s：%(why)s") % {"n": number, "why": refusal_text(exc)}, here)
    done = _("案件 %(n)s：已回复督办。") if op == "reply" else _("案件 %(n)s：已督办。")
    return _answer(request, token, True, done % {"n": number}, here)


# ------------------------------------------------------------------ attachments for staff


@login_required
@require_GET
def attachment(request: HttpRequest, number: str, attachment_id: int) -> HttpResponse:
    """One attachment of a case the user may see: the original (the evidence, with its
    metadata) or, with ``?v=thumb``, its thumbnail, with ``?v=public`` the copy without GPS and
    camera data (at most 2048 px, for the large view). Staff only."""
    user = request.user
    if not (user.is_superuser or user.roles & STAFF_ROLES):
        raise Http404
    case = Case.objects.restrict(user, "view").filter(number=number).only("pk").first()
    if case is None:
        raise Http404
    found = Attachment.objects.filter(case_id=case.pk, pk=attachment_id).first()
    if found is None:
        raise Http404
    smaller = {"thumb": found.thumbnail, "public": found.public_file}.get(request.GET.get("v", ""))
    if smaller:
        response = FileResponse(smaller.open("rb"), content_type="image/jpeg")
    else:
        response = FileResponse(found.file.open("rb"), content_type=found.content_type)
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


urlpatterns = [
    path("approvals/", approvals_page, name="console-approvals"),
    path("approvals/urges/", urges_page, name="console-urges"),
    path("cases/<str:number>/attachments/<int:attachment_id>/", attachment, name="console-attachment"),
]
