"""Citizen portal (市民举报): report with photo and pin, follow by private link, rate, public map.

- ``/report/`` the report form (mobile first, no account needed): category, a pin on the map,
  a description, up to three photos, a name and phone if the reporter wants to leave them.
  One hidden idempotency key per rendered form, so a double-tapped submit makes one case.
  At most ``REPORTS_PER_HOUR`` submissions per client address.
- ``/report/thanks/<token>/`` the thank-you page: the case number and the private link.
- ``/track/<token>/`` the private link: progress in plain words (never staff names, notes or
  urges), the reporter's own photos and published result photos; rating and "not fixed".
- ``/map/`` the public map: positions rounded, photos only once staff published them.

Every text a citizen writes is stored as plain text and escaped on output.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
import re
import secrets
from collections import defaultdict

import shapely
from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from citykeeper.domain.errors import DomainError, IllegalMove, InvalidInput, NotPermitted, StaleVersion
from citykeeper.domain.workflow import Role, State
from citykeeper.services import attachments, basedata, duplicates, follow, locating, maplayers, public, throttle
from citykeeper.services.basemap import browser_config
from citykeeper.services.cases import MAX_REOPENS, REOPEN_WINDOW, REPORTER_SOURCES
from citykeeper.store.models import Area, Attachment, Case, CaseEvent, Category, Unit
from citykeeper.store.models.codebook import Standard

log = logging.getLogger(__name__)

REPORTS_PER_HOUR = 10
REPORT_WINDOW = dt.timedelta(hours=1)
MAX_DESCRIPTION = 1000
MAX_PHOTOS = follow.MAX_PORTAL_PHOTOS
KEY_PREFIX = "portal:"
_KEY = re.compile(r"^[A-Za-z0-9_-]{20,48}$")
_PHONE = re.compile(r"^\+?[0-9][0-9-]*$")
MAP_MAX_AGE = 60
AREAS_MAX_AGE = 300
MAX_AREAS = 3000
PHOTO_MAX_AGE = 300


def _now() -> dt.datetime:
    """The clock of every portal view (one seam for the tests)."""
    return timezone.now()


# ---------------------------------------------------------------- plain words

# What a citizen reads for each state: no internal stage names.
PUBLIC_STATES = {
    State.REPORTED: gettext_lazy("已收到，等待受理"),
    State.VERIFYING: gettext_lazy("正在现场核实"),
    State.VERIFIED: gettext_lazy("已核实，等待受理"),
    State.SELF_DISPOSED: gettext_lazy("已现场处理，等待结案"),
    State.ACCEPTED: gettext_lazy("已受理"),
    State.FILED: gettext_lazy("已立案，正在安排处理单位"),
    State.DISPATCHED: gettext_lazy("处理中"),
    State.RETURN_REQUESTED: gettext_lazy("处理中"),
    State.EXTENSION_REQUESTED: gettext_lazy("处理中"),
    State.SUSPENSION_REQUESTED: gettext_lazy("处理中"),
    State.SUSPENDED: gettext_lazy("暂缓处理"),
    State.DISPOSED: gettext_lazy("已处理，等待核查"),
    State.CHECKING: gettext_lazy("正在核查处理结果"),
    State.CHECK_FAILED: gettext_lazy("核查未通过，将返工"),
    State.CHECKED: gettext_lazy("已处理，等待结案"),
    State.CLOSED: gettext_lazy("已办结"),
    State.REOPENED: gettext_lazy("市民反映未解决，正在复查"),
    State.REJECTED: gettext_lazy("不予受理"),
    State.VOIDED: gettext_lazy("已作废"),
    State.MERGED: gettext_lazy("已合并处理"),
}

# Marker colours on the public map.
STATE_GROUPS = {
    State.REPORTED: "new",
    State.VERIFYING: "new",
    State.VERIFIED: "new",
    State.ACCEPTED: "new",
    State.FILED: "new",
    State.CLOSED: "done",
    State.SELF_DISPOSED: "done",
    State.CHECKED: "done",
    State.REOPENED: "reopened",
}

# Events whose photos show the result (shown to anyone only once published).
RESULT_KINDS = frozenset({"dispose", "self_dispose", "check_pass", "check_fail"})
# States in which the disposal deadline is worth telling the reporter.
DISPOSING = frozenset({State.DISPATCHED, State.RETURN_REQUESTED, State.EXTENSION_REQUESTED, State.SUSPENSION_REQUESTED})


def public_state(state: str) -> str:
    try:
        return str(PUBLIC_STATES[State(state)])
    except ValueError:
        return ""


def _event_text(event: CaseEvent, *, own: bool, units: dict[str, str]) -> tuple[str, str] | None:
    """(what happened, detail) in plain words, or None for what the public does not see:
    notes, urges, deadline marks, staff requests and refusals between desks."""
    kind, data = event.kind, event.data or {}
    if kind == "report":
        return (_("已收到您的反映"), "") if own else (_("问题已登记"), "")
    if kind == "send_verify":
        return _("已安排监督员到现场核实"), ""
    if kind == "verify":
        return (_("现场核实：问题属实"), "") if data.get("found") else (_("现场核实：未发现所反映的问题"), "")
    if kind == "accept":
        return _("已受理"), ""
    if kind == "reject":
        return _("不予受理"), event.reason
    if kind == "self_dispose":
        return _("监督员已在现场处理"), ""
    if kind == "file":
        return _("已立案"), ""
    if kind == "void":
        return _("案件已作废"), event.reason
    if kind == "dispatch":
        unit = units.get(data.get("unit", ""))
        if unit:
            return _("已交由「%(unit)s」处理") % {"unit": unit}, ""
        return _("已派往责任单位处理"), ""
    if kind == "approve_return":
        return _("正在重新确定处理单位"), ""
    if kind == "approve_extension":
        return _("处理单位申请延长处理时间，已获批准"), ""
    if kind == "approve_suspension":
        return _("暂缓处理"), ""
    if kind == "resume":
        return _("恢复处理"), ""
    if kind == "dispose":
        return _("处理单位已反馈处理结果"), ""
    if kind == "send_check":
        return _("已安排监督员到现场核查处理结果"), ""
    if kind == "check_pass":
        return _("现场核查：已处理到位"), ""
    if kind == "check_fail":
        return _("现场核查：尚未处理到位"), ""
    if kind == "rework":
        return _("已要求处理单位返工"), ""
    if kind == "close":
        return _("已结案"), ""
    if kind == "merge":
        return _("您的反映已与案件 %(number)s 合并处理") % {"number": data.get("target", "")}, ""
    if kind == "rate":
        if not own:  # another reporter's words
            return None
        return _("您的评价：%(stars)s 星") % {"stars": data.get("rating", "")}, event.reason
    if kind == "reopen":
        if own:
            return _("您反映问题未解决，已退回监督中心复查"), event.reason
        return _("市民反映问题未解决，已退回监督中心复查"), ""
    if kind == "uphold":
        return _("经复核，维持结案"), event.reason
    return None


# ---------------------------------------------------------------- where


# Location errors name the field ("问题位置") in the form's summary.
class LocationError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def check_location(lon_raw: object, lat_raw: object) -> tuple[float, float, Area]:
    """(lon, lat, unit grid) of a WGS84 point given as text; LocationError in plain words."""
    lon_text, lat_text = str(lon_raw or "").strip(), str(lat_raw or "").strip()
    if not lon_text or not lat_text:
        raise LocationError(_("请在地图上点选问题发生的位置，或点“使用我的位置”。"))
    try:
        lon, lat = float(lon_text), float(lat_text)
    except ValueError:
        raise LocationError(_("位置的经度和纬度必须是数字，请在地图上重新点选。")) from None
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise LocationError(_("位置的经度和纬度必须是数字，请在地图上重新点选。"))
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise LocationError(_("经度应在 -180 到 180 之间，纬度应在 -90 到 90 之间，请在地图上重新点选。"))
    try:
        area = locating.grid_for(lon, lat)
    except InvalidInput:
        raise LocationError(_("所选位置不在本市城市管理网格范围内，请在地图上重新点选。")) from None
    return lon, lat, area


def _address(lon: float, lat: float, place: str) -> str:
    try:
        described = locating.describe(lon, lat)[1].text
    except DomainError:
        described = ""
    if place and described:
        return f"{described}（{place}）"[:256]
    return (described or place)[:256]


@require_GET
def where(request: HttpRequest) -> JsonResponse:
    """The address of a pin, or why it cannot be used: the form checks each pin at once."""
    try:
        lon, lat, _area = check_location(request.GET.get("lon"), request.GET.get("lat"))
    except LocationError as exc:
        return JsonResponse({"detail": exc.message, "field": "lon"}, status=400)
    return JsonResponse({"address": _address(lon, lat, "")})


@require_GET
def nearby(request: HttpRequest) -> JsonResponse:
    """Open cases of the same (or a related) category near the pin: "someone may already have
    reported this". Only what the public map shows: number, category, plain state, distance,
    day; never a description or a reporter."""
    try:
        lon, lat, _area = check_location(request.GET.get("lon"), request.GET.get("lat"))
    except LocationError as exc:
        return JsonResponse({"detail": exc.message, "field": "lon"}, status=400)
    raw = request.GET.get("category") or ""
    category = citizen_categories().filter(pk=int(raw)).first() if raw.isdigit() else None
    if category is None:
        return JsonResponse({"detail": _("请选择问题类别。"), "field": "category"}, status=400)
    found = duplicates.suggest(category, lon, lat, at=_now(), limit=3)
    return JsonResponse(
        {
            "results": [
                {
                    "number": s.case.number,
                    "category": s.case.category.minor_name,
                    "state": public_state(s.case.state),
                    "distance_m": round(s.distance_m),
                    "reported_on": timezone.localtime(s.case.reported_at).date().isoformat(),
                    "same_category": s.same_category,
                }
                for s in found
            ]
        }
    )


# ---------------------------------------------------------------- the report form


def citizen_categories():
    return Category.objects.filter(active=True, standard__in=[Standard.GB_47678, Standard.LOCAL]).order_by(
        "kind", "major_code", "minor_code"
    )


def _grouped(categories) -> list[tuple[str, list[Category]]]:
    groups: dict[str, list[Category]] = {}
    for category in categories:
        groups.setdefault(f"{category.get_kind_display()} · {category.major_name}", []).append(category)
    return list(groups.items())


def new_key() -> str:
    return secrets.token_urlsafe(24)


class ReportForm(forms.Form):
    key = forms.CharField(required=False, widget=forms.HiddenInput)
    category = forms.ModelChoiceField(
        queryset=Category.objects.none(),
        label=gettext_lazy("问题类别"),
        error_messages={
            "required": gettext_lazy("请选择问题类别。"),
            "invalid_choice": gettext_lazy("请从列表中选择问题类别。"),
        },
    )
    lon = forms.CharField(required=False, widget=forms.HiddenInput, label=gettext_lazy("问题位置"))
    lat = forms.CharField(required=False, widget=forms.HiddenInput, label=gettext_lazy("问题位置"))
    place = forms.CharField(
        required=False,
        max_length=100,
        label=gettext_lazy("位置补充说明"),
        error_messages={"max_length": gettext_lazy("位置补充说明最多 %(limit_value)d 字（现在 %(show_value)d 字）。")},
    )
    description = forms.CharField(
        max_length=MAX_DESCRIPTION,
        label=gettext_lazy("问题描述"),
        widget=forms.Textarea,
        error_messages={
            "required": gettext_lazy("请描述您看到的问题。"),
            "max_length": gettext_lazy("问题描述最多 %(limit_value)d 字（现在 %(show_value)d 字）。"),
        },
    )
    photos = forms.Field(required=False, label=gettext_lazy("照片"))
    reporter_name = forms.CharField(
        required=False,
        max_length=50,
        label=gettext_lazy("称呼"),
        error_messages={"max_length": gettext_lazy("称呼最多 %(limit_value)d 字。")},
    )
    reporter_phone = forms.CharField(
        required=False,
        max_length=30,
        label=gettext_lazy("联系电话"),
        error_messages={"max_length": gettext_lazy("联系电话最多 %(limit_value)d 位。")},
    )

    def __init__(self, *args, categories=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = categories if categories is not None else citizen_categories()
        self.located: tuple[float, float, Area] | None = None

    def clean_key(self) -> str:
        # A page that lost its key (or a forged one) still reports; it just cannot be retried safely.
        key = self.cleaned_data.get("key") or ""
        return key if _KEY.match(key) else new_key()

    def clean_reporter_phone(self) -> str:
        phone = re.sub(r"\s+", "", self.cleaned_data.get("reporter_phone") or "")
        if not phone:
            return ""
        digits = sum(ch.isdigit() for ch in phone)
        if not _PHONE.match(phone) or not 7 <= digits <= 20:
            raise forms.ValidationError(_("联系电话只能包含数字、“+”和“-”，共 7 到 20 位数字；不想留电话可以不填。"))
        return phone

    def clean_photos(self) -> list[attachments.CheckedMedia]:
        files = [f for f in self.files.getlist("photos") if f is not None]
        if len(files) > MAX_PHOTOS:
            raise forms.ValidationError(
                _("最多上传 %(max)d 张照片（您选了 %(count)d 张）。") % {"max": MAX_PHOTOS, "count": len(files)}
            )
        checked, problems = [], []
        for index, upload in enumerate(files, start=1):
            name = (upload.name or "")[:60]
            try:
                checked.append(attachments.check_image(upload))
            except attachments.TooLarge:
                problems.append(
                    _("第 %(n)d 张照片（%(name)s）超过 10 MB，请换一张或压缩后再上传。") % {"n": index, "name": name}
                )
            except attachments.UnsupportedMedia as exc:
                if exc.params.get("rule") == "too_many_pixels":
                    text = _("第 %(n)d 张照片（%(name)s）像素过多，请换一张。")
                else:
                    text = _("第 %(n)d 张照片（%(name)s）不是可以识别的图片；只接受 JPEG、PNG、WebP 格式的照片。")
                problems.append(text % {"n": index, "name": name})
        if problems:
            raise forms.ValidationError(problems)
        return checked

    def clean(self):
        cleaned = super().clean()
        try:
            self.located = check_location(self.data.get("lon"), self.data.get("lat"))
        except LocationError as exc:
            self.add_error("lon", exc.message)
        return cleaned


def _actor(request: HttpRequest):
    """A signed-in citizen reports as themself; anyone else (staff included) as the public."""
    user = request.user
    if user.is_authenticated and Role.CITIZEN in user.roles:
        return user
    return None


def client_address(request: HttpRequest) -> str:
    return throttle.client_address(request.META)


def reports_per_hour() -> int:
    return int(settings.CITYKEEPER.get("PORTAL_REPORTS_PER_HOUR", REPORTS_PER_HOUR))


@require_http_methods(["GET", "POST"])
def report(request: HttpRequest) -> HttpResponse:
    """上报: the form, and on a valid POST the case, then the thank-you page (POST-redirect-GET)."""
    categories = citizen_categories()
    if request.method == "POST":
        now = _now()
        key = throttle.address_key("portal", client_address(request))
        limit = reports_per_hour()
        if not throttle.allow(key, limit=limit, window=REPORT_WINDOW, now=now):
            wait = throttle.retry_after(key, window=REPORT_WINDOW, now=now)
            log.info("portal report refused: too many", extra={"retry_after": wait})
            return _too_many(request, wait, limit)
        form = ReportForm(request.POST, request.FILES, categories=categories)
        if form.is_valid():
            done = _submit(request, form, now)
            if done is not None:
                return done
        status = 400
    else:
        actor = _actor(request)
        initial = {"key": new_key()}
        if actor is not None:
            initial["reporter_name"] = actor.display_name
        form = ReportForm(initial=initial, categories=categories)
        status = 200
    context = {
        "form": form,
        "groups": _grouped(categories),
        "selected": str(form["category"].value() or ""),
        "max_photos": MAX_PHOTOS,
        "max_description": MAX_DESCRIPTION,
        "photos_dropped": request.method == "POST" and bool(request.FILES.getlist("photos")),
        **_map_context(),
    }
    return render(request, "citykeeper/portal/report.html", context, status=status)


def _submit(request: HttpRequest, form: ReportForm, now: dt.datetime) -> HttpResponse | None:
    data = form.cleaned_data
    lon, lat, area = form.located
    idempotency_key = KEY_PREFIX + data["key"]
    existing = Case.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        if existing.description != data["description"].strip() or existing.category_id != data["category"].pk:
            # The same page sent again with other words (back button): not a retry.
            form.data = form.data.copy()
            form.data["key"] = new_key()
            form.add_error(
                None,
                _("这张表单已经提交过（案卷号 %(number)s）。如果要反映另一个问题，请核对内容后再提交一次。")
                % {"number": existing.number},
            )
            return None
        # A double-tapped submit: the same case, and a link for this browser to keep.
        return redirect("portal-thanks", token=follow.issue_link(existing, now))
    try:
        case, token = follow.report(
            actor=_actor(request),
            category=data["category"],
            area=area,
            lon=lon,
            lat=lat,
            at=now,
            description=data["description"],
            address=_address(lon, lat, data["place"].strip()),
            reporter_name=data["reporter_name"].strip(),
            reporter_phone=data["reporter_phone"],
            photos=data["photos"],
            idempotency_key=idempotency_key,
        )
    except DomainError as exc:
        log.info("portal report refused", extra={"code": exc.code, "field": exc.field})
        if exc.field == "category":
            form.add_error("category", _("这个问题类别已停用，请换一个类别。"))
        elif exc.field == "description":
            form.add_error("description", _("请描述您看到的问题。"))
        else:
            form.add_error(None, _("提交未成功，请稍后再试；紧急情况请拨打 12319。"))
        return None
    if token is None:  # a retry raced the first submit: the case exists, give this browser a link
        token = follow.issue_link(case, now)
    return redirect("portal-thanks", token=token)


def _too_many(request: HttpRequest, wait: int, limit: int) -> HttpResponse:
    minutes = max(1, math.ceil(wait / 60))
    response = render(
        request,
        "citykeeper/portal/error.html",
        {
            "title": _("提交太频繁"),
            "message": _("同一网络每小时最多提交 %(limit)d 条反映。请 %(minutes)d 分钟后再试；紧急情况请拨打 12319。")
            % {"limit": limit, "minutes": minutes},
        },
        status=429,
    )
    response["Retry-After"] = str(wait)
    return response


def _not_found(request: HttpRequest) -> HttpResponse:
    response = render(
        request,
        "citykeeper/portal/error.html",
        {
            "title": _("没有找到这个跟踪链接"),
            "message": _("请检查链接是否复制完整。如仍有问题，请拨打 12319 热线并提供案卷号。"),
        },
        status=404,
    )
    return _private(response)


def _private(response: HttpResponse) -> HttpResponse:
    """A page that carries the private link: not cached, not indexed, and its address is never
    sent to another site. (Not "no-referrer": browsers then send "Origin: null" with the page's
    own forms, which the CSRF check rightly refuses.)"""
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "same-origin"
    return response


# ---------------------------------------------------------------- thank-you and follow pages


@require_GET
def thanks(request: HttpRequest, token: str) -> HttpResponse:
    case = follow.case_for_link(token)
    if case is None:
        return _not_found(request)
    link = request.build_absolute_uri(reverse("portal-track", kwargs={"token": token}))
    response = render(
        request,
        "citykeeper/portal/thanks.html",
        {"case": case, "link": link, "track_url": reverse("portal-track", kwargs={"token": token})},
    )
    return _private(response)


class RateForm(forms.Form):
    stars = forms.TypedChoiceField(
        choices=[(n, n) for n in range(1, 6)],
        coerce=int,
        error_messages={
            "required": gettext_lazy("请选择 1 到 5 星。"),
            "invalid_choice": gettext_lazy("请选择 1 到 5 星。"),
        },
    )
    remark = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.Textarea,
        error_messages={"max_length": gettext_lazy("评价最多 %(limit_value)d 字（现在 %(show_value)d 字）。")},
    )


class ReopenForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea,
        error_messages={
            "required": gettext_lazy("请说明哪里还没有解决。"),
            "max_length": gettext_lazy("说明最多 %(limit_value)d 字（现在 %(show_value)d 字）。"),
        },
    )


def _closing(case: Case) -> CaseEvent | None:
    return (
        case.events.filter(to_state=State.CLOSED).exclude(from_state=State.CLOSED).order_by("-seq").first()
        if case.state == State.CLOSED
        else None
    )


def _rating(case: Case, closing: CaseEvent | None) -> CaseEvent | None:
    if closing is None:
        return None
    return case.events.filter(kind="rate", seq__gt=closing.seq).order_by("seq").first()


def _reopen_refusal(case: Case, closing: CaseEvent | None, now: dt.datetime) -> str:
    """Why "not fixed" cannot be said now ("" when it can)."""
    if case.state == State.REOPENED:
        return _("您已反映过问题未解决，监督中心正在复查。")
    if case.state != State.CLOSED or closing is None:
        return _("案件还在办理中，办结后才能反映“未解决”。")
    if case.source not in REPORTER_SOURCES:
        return _("这个案件不是市民上报的，不能在这里反映未解决；如问题仍存在，请重新上报。")
    if now - closing.at > REOPEN_WINDOW:
        return _("结案已超过 %(days)d 天，无法重新打开，请重新上报。") % {"days": REOPEN_WINDOW.days}
    if case.events.filter(kind="reopen").count() >= MAX_REOPENS:
        return _("这个案件已反映过 %(n)d 次未解决，请拨打 12319 热线沟通。") % {"n": MAX_REOPENS}
    return ""


def _rate_refusal(case: Case, closing: CaseEvent | None) -> str:
    if case.state != State.CLOSED or closing is None:
        return _("案件办结后才能评价。")
    if _rating(case, closing) is not None:
        return _("您已经评价过这次处理结果，谢谢！")
    return ""


def _service_error(exc: DomainError, action: str) -> str:
    """A plain Chinese message for a refusal of the rating or reopening services."""
    if isinstance(exc, StaleVersion):
        return _("案件刚有新进展，请刷新页面后再试。")
    if isinstance(exc, IllegalMove):
        return _("案件办结后才能评价。") if action == "rate" else _("案件还在办理中，办结后才能反映“未解决”。")
    if isinstance(exc, NotPermitted):
        if exc.params.get("rule") == "reopen_window":
            return _("结案已超过 %(days)d 天，无法重新打开，请重新上报。") % {"days": REOPEN_WINDOW.days}
        if exc.params.get("rule") == "reopen_limit":
            return _("这个案件已反映过 %(n)d 次未解决，请拨打 12319 热线沟通。") % {"n": MAX_REOPENS}
        return _("这个案件不能通过跟踪链接进行此操作；如问题仍存在，请重新上报。")
    if isinstance(exc, InvalidInput):
        if exc.field == "rating":
            already = exc.params.get("rule") == "already_rated"
            return _("您已经评价过这次处理结果，谢谢！") if already else _("请选择 1 到 5 星。")
        if exc.field == "reason":
            return _("请说明哪里还没有解决。")
    return _("操作未成功，请稍后再试。")


@require_http_methods(["GET", "POST"])
def track(request: HttpRequest, token: str) -> HttpResponse:
    """The private link: progress in plain words; rate the result or say it is not fixed."""
    linked = follow.case_for_link(token)
    if linked is None:
        return _not_found(request)
    case = follow.surviving(linked)
    now = _now()
    rate_form, reopen_form = RateForm(), ReopenForm()
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "")
        closing = _closing(case)
        if action == "rate":
            rate_form = RateForm(request.POST)
            refusal = _rate_refusal(case, closing)
            if refusal:
                errors["rate"] = refusal
            elif rate_form.is_valid():
                try:
                    follow.rate(
                        token, stars=rate_form.cleaned_data["stars"], remark=rate_form.cleaned_data["remark"], at=now
                    )
                except DomainError as exc:
                    errors["rate"] = _service_error(exc, "rate")
                else:
                    messages.success(request, _("谢谢您的评价！"))
                    return _private(redirect(request.path))
        elif action == "reopen":
            reopen_form = ReopenForm(request.POST)
            refusal = _reopen_refusal(case, closing, now)
            if refusal:
                errors["reopen"] = refusal
            elif reopen_form.is_valid():
                try:
                    follow.reopen(token, reason=reopen_form.cleaned_data["reason"].strip(), at=now)
                except DomainError as exc:
                    errors["reopen"] = _service_error(exc, "reopen")
                else:
                    messages.success(request, _("已收到您的反馈：问题未解决。监督中心会重新核查处理。"))
                    return _private(redirect(request.path))
        else:
            errors["action"] = _("无法识别的操作，请刷新页面后再试。")
        status = 400
        case = follow.surviving(follow.case_for_link(token))  # as it is now, whatever happened
    context = {
        **_track_context(token, linked, case, now),
        "rate_form": rate_form,
        "reopen_form": reopen_form,
        "errors": errors,
    }
    return _private(render(request, "citykeeper/portal/track.html", context, status=status))


def _own_photo_ids(linked: Case) -> list[int]:
    first = linked.events.filter(kind="report").order_by("seq").values_list("attachments", flat=True).first()
    return [ref["id"] for ref in first or [] if isinstance(ref, dict) and "id" in ref]


def _visible_photo_ids(linked: Case, case: Case) -> set[int]:
    """The photos the link holder may see: their own, and what staff published of either case."""
    published = Attachment.objects.filter(case_id__in={linked.pk, case.pk}, published_at__isnull=False)
    return set(_own_photo_ids(linked)) | set(published.values_list("pk", flat=True))


def _timeline(events, *, own: bool, units: dict[str, str], visible: set[int], token: str) -> list[dict]:
    entries = []
    for event in events:
        said = _event_text(event, own=own, units=units)
        if said is None:
            continue
        text, detail = said
        ids = [ref["id"] for ref in event.attachments or [] if isinstance(ref, dict) and ref.get("id") in visible]
        photos = [
            {
                "full": reverse("portal-track-photo", kwargs={"token": token, "attachment_id": i}),
                "thumb": reverse("portal-track-thumb", kwargs={"token": token, "attachment_id": i}),
            }
            for i in ids
        ]
        entries.append(
            {
                "at": event.at,
                "kind": event.kind,
                "text": text,
                "detail": detail,
                "photos": photos,
                "result": event.kind in RESULT_KINDS,
            }
        )
    return entries


def _track_context(token: str, linked: Case, case: Case, now: dt.datetime) -> dict:
    merged = case.pk != linked.pk
    linked_events = list(linked.events.order_by("seq"))
    case_events = list(case.events.order_by("seq")) if merged else []
    unit_codes = {e.data.get("unit") for e in linked_events + case_events if isinstance(e.data, dict)}
    units = dict(Unit.objects.filter(code__in=[c for c in unit_codes if c]).values_list("code", "name"))
    visible = _visible_photo_ids(linked, case)
    closing = _closing(case)
    rating = _rating(case, closing)
    deadline = (
        case.stage_deadline_at
        if case.state in DISPOSING and case.stage == "dispose" and case.stage_deadline_at
        else None
    )
    return {
        "token": token,
        "linked": linked,
        "case": case,
        "merged": merged,
        "state_text": public_state(case.state),
        "category": case.category,
        "timeline": _timeline(linked_events, own=True, units=units, visible=visible, token=token),
        "merged_timeline": _timeline(case_events, own=False, units=units, visible=visible, token=token),
        "deadline": deadline,
        "closed": case.state == State.CLOSED,
        "reopened": case.state == State.REOPENED,
        "rating": rating.data.get("rating") if rating is not None else None,
        "rate_refusal": _rate_refusal(case, closing),
        "reopen_refusal": _reopen_refusal(case, closing, now),
        "star_choices": [5, 4, 3, 2, 1],
    }


# ---------------------------------------------------------------- photos


def _serve(stored, cache: str) -> HttpResponse:
    if not stored:
        raise Http404
    response = FileResponse(stored.open("rb"), content_type="image/jpeg")
    response["Cache-Control"] = cache
    return response


@require_GET
def track_photo(request: HttpRequest, token: str, attachment_id: int, thumb: bool = False) -> HttpResponse:
    """A photo of the link holder's case: their own, or one staff published. Only the public
    copy (no GPS, no camera data), never the original."""
    linked = follow.case_for_link(token)
    if linked is None:
        raise Http404
    case = follow.surviving(linked)
    if attachment_id not in _visible_photo_ids(linked, case):
        raise Http404
    attachment = Attachment.objects.filter(pk=attachment_id, case_id__in={linked.pk, case.pk}).first()
    if attachment is None:
        raise Http404
    return _serve(attachment.thumbnail if thumb else attachment.public_file, f"private, max-age={PHOTO_MAX_AGE}")


@require_GET
def public_photo(request: HttpRequest, attachment_id: int, thumb: bool = False) -> HttpResponse:
    """A photo staff published, in its public copy (or thumbnail)."""
    attachment = Attachment.objects.filter(pk=attachment_id, published_at__isnull=False).first()
    if attachment is None:
        raise Http404
    return _serve(attachment.thumbnail if thumb else attachment.public_file, f"public, max-age={PHOTO_MAX_AGE}")


# ---------------------------------------------------------------- the public map


_bounds: list = [None, None]  # (the indexes they were computed from, the bounds)


def city_bounds() -> list[float] | None:
    """[minlon, minlat, maxlon, maxlat] of every unit grid: where a report can be placed."""
    current = locating.indexes()
    if _bounds[0] is current:
        return _bounds[1]
    grids = current.areas.grids_in(-180.0, -90.0, 180.0, 90.0)
    if grids:
        bounds = [round(v, 6) for v in shapely.total_bounds([geom for _code, geom in grids]).tolist()]
        _bounds[:] = [current, bounds]
        return bounds
    rows = Area.objects.filter(level__in=["district", "city"]).exclude(geometry=None).values_list("geometry", flat=True)
    shapes = [shapely.geometry.shape(g) for g in rows]
    if shapes:
        return [round(v, 6) for v in shapely.total_bounds(shapes).tolist()]
    return None


def _map_context() -> dict:
    return {
        "bounds_json": json.dumps(city_bounds()),
        "basemap_json": json.dumps(browser_config(), ensure_ascii=False),
        "areas_url": reverse("portal-map-areas"),
    }


@require_GET
def map_page(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "citykeeper/portal/map.html",
        {**_map_context(), "cases_url": reverse("portal-map-cases"), "days": public.PUBLIC_DAYS},
    )


def parse_box(raw: str | None) -> tuple[float, float, float, float]:
    """A WGS84 box from "minlon,minlat,maxlon,maxlat"; ValueError with a plain message."""
    parts = (raw or "").split(",")
    problem = _("bbox 应为四个数字：最小经度,最小纬度,最大经度,最大纬度。")
    if len(parts) != 4:
        raise ValueError(problem)
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise ValueError(problem) from None
    if not all(math.isfinite(n) for n in numbers):
        raise ValueError(problem)
    min_lon, min_lat, max_lon, max_lat = numbers
    if not (-180 <= min_lon < max_lon <= 180 and -90 <= min_lat < max_lat <= 90):
        raise ValueError(_("bbox 的最小值应小于最大值，经度在 ±180 以内，纬度在 ±90 以内。"))
    return min_lon, min_lat, max_lon, max_lat


def _bad_request(message: str, field: str) -> JsonResponse:
    return JsonResponse({"detail": message, "field": field}, status=400, json_dumps_params={"ensure_ascii": False})


def _geojson(body: dict, max_age: int) -> HttpResponse:
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")), content_type="application/geo+json"
    )
    response["Cache-Control"] = f"public, max-age={max_age}"
    return response


@require_GET
def map_cases(request: HttpRequest) -> HttpResponse:
    """Public cases in a box as GeoJSON points: rounded positions, category, state in plain
    words, the day reported and published photos; no description, no reporter."""
    try:
        box = parse_box(request.GET.get("bbox"))
    except ValueError as exc:
        return _bad_request(str(exc), "bbox")
    try:
        zoom = int(request.GET.get("zoom", "22"))
    except ValueError:
        zoom = 22
    now = _now()
    if zoom < CLUSTER_BELOW_ZOOM:
        total = public.public_count(box, now=now)
        if total > CLUSTER_FROM:
            return _geojson(_clusters(box, zoom, now, total), MAP_MAX_AGE)
    rows = list(public.public_cases(box, now=now))
    photos: dict[int, list[int]] = defaultdict(list)
    published = (
        Attachment.objects.filter(case_id__in=[r.pk for r in rows], published_at__isnull=False)
        .order_by("uploaded_at", "pk")
        .values_list("case_id", "pk")
    )
    for case_id, pk in published:
        photos[case_id].append(pk)
    features = []
    for case in rows:
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [public.rounded(case.lon), public.rounded(case.lat)]},
                "properties": {
                    "number": case.number,
                    "category": case.category.minor_name,
                    "major": case.category.major_name,
                    "state": public_state(case.state),
                    "group": STATE_GROUPS.get(State(case.state), "working"),
                    "reported": timezone.localdate(case.reported_at).isoformat(),
                    "closed": timezone.localdate(case.closed_at).isoformat() if case.closed_at else None,
                    "photos": [
                        {
                            "thumb": reverse("portal-photo-thumb", kwargs={"attachment_id": pk}),
                            "full": reverse("portal-photo", kwargs={"attachment_id": pk}),
                        }
                        for pk in photos.get(case.pk, [])
                    ],
                },
            }
        )
    return _geojson({"type": "FeatureCollection", "features": features}, MAP_MAX_AGE)


# Zoomed out over many cases, the map shows counts per cell of about CLUSTER_PX screen pixels
# instead of hundreds of overlapping dots; from CLUSTER_BELOW_ZOOM on, every case.
CLUSTER_FROM = 200
CLUSTER_BELOW_ZOOM = 16
CLUSTER_PX = 64


def _clusters(box, zoom: int, now: dt.datetime, total: int) -> dict:
    """One point per cell of about CLUSTER_PX pixels: the number of cases, and per state group."""
    cell = 360.0 / (256 * 2 ** max(0, zoom)) * CLUSTER_PX
    features = []
    for entry in public.public_cells(box, now=now, cell=cell):
        groups: dict[str, int] = defaultdict(int)
        for state, n in entry["states"].items():
            groups[STATE_GROUPS.get(State(state), "working")] += n
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [entry["lon"], entry["lat"]]},
                "properties": {"count": entry["count"], "groups": dict(groups)},
            }
        )
    return {"type": "FeatureCollection", "features": features, "clustered": True, "total": total}


@require_GET
def map_areas(request: HttpRequest) -> HttpResponse:
    """Area outlines in a box, the level by zoom: the base map when there are no tiles."""
    try:
        box = parse_box(request.GET.get("bbox"))
    except ValueError as exc:
        return _bad_request(str(exc), "bbox")
    try:
        zoom = int(request.GET.get("zoom", ""))
    except ValueError:
        zoom = -1
    if not 0 <= zoom <= 22:
        return _bad_request(_("zoom 应为 0 到 22 之间的整数。"), "zoom")
    level = maplayers.level_for_zoom(zoom)
    etag = '"{}"'.format(
        hashlib.sha256(f"{basedata.current_version()}|{level}|{request.GET['bbox']}|{zoom}".encode()).hexdigest()[:32]
    )
    if etag in request.headers.get("If-None-Match", ""):
        response = HttpResponse(status=304)
        response["ETag"] = etag
        response["Cache-Control"] = f"public, max-age={AREAS_MAX_AGE}"
        return response
    found = maplayers.areas_in(box, level)
    if len(found) > MAX_AREAS:
        return _bad_request(_("这个范围内的区域太多，请放大地图。"), "bbox")
    response = _geojson(maplayers.feature_collection(found, level=level, zoom=zoom), AREAS_MAX_AGE)
    response["ETag"] = etag
    return response


urlpatterns = [
    path("report/", report, name="portal-report"),
    path("report/where.json", where, name="portal-where"),
    path("report/nearby.json", nearby, name="portal-nearby"),
    path("report/thanks/<str:token>/", thanks, name="portal-thanks"),
    path("track/<str:token>/", track, name="portal-track"),
    path("track/<str:token>/photos/<int:attachment_id>.jpg", track_photo, name="portal-track-photo"),
    path(
        "track/<str:token>/photos/<int:attachment_id>-thumb.jpg",
        track_photo,
        {"thumb": True},
        name="portal-track-thumb",
    ),
    path("public/photos/<int:attachment_id>.jpg", public_photo, name="portal-photo"),
    path("public/photos/<int:attachment_id>-thumb.jpg", public_photo, {"thumb": True}, name="portal-photo-thumb"),
    path("map/", map_page, name="portal-map"),
    path("map/areas.json", map_areas, name="portal-map-areas"),
    path("map/cases.json", map_cases, name="portal-map-cases"),
]
