"""Inspector handset app (城管通): the installable PWA under /m/.

- ``/m/`` the app itself (inspectors only): one page, the codebook embedded as JSON so the
  category picker works offline once the page is cached;
- ``/m/manifest.webmanifest`` the web app manifest (public: browsers fetch it without cookies);
- ``/m/sw.js`` the service worker (public), scoped to /m/, which keeps the app shell for
  offline use. Reports and task answers wait in the handset's own outbox (IndexedDB, see
  static/citykeeper/inspector/app.js), never in the service worker.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import path
from django.utils.cache import get_conditional_response, set_response_etag
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from citykeeper.domain.workflow import Role
from citykeeper.services import basemap
from citykeeper.store.models import Category, FilingCondition
from citykeeper.store.models.codebook import Kind, Standard

STATIC = "citykeeper/inspector/"
LEAFLET = "citykeeper/vendor/leaflet-1.9.4/"
ICONS = ((192, f"{STATIC}icon-192.png"), (512, f"{STATIC}icon-512.png"))
# Everything the app needs to start without a network, besides the page itself.
BASEMAP_JS = "citykeeper/basemap.js"  # the shared base map (services/basemap.py)
SHELL_STATIC = (
    f"{STATIC}app.js",
    BASEMAP_JS,
    f"{STATIC}app.css",
    f"{LEAFLET}leaflet.js",
    f"{LEAFLET}leaflet.css",
    f"{LEAFLET}images/marker-icon.png",
    f"{LEAFLET}images/marker-icon-2x.png",
    f"{LEAFLET}images/marker-shadow.png",
    *(icon for _size, icon in ICONS),
)
THEME = "#0b6e4f"

# 惯用语: phrases an inspector taps into the description; the general ones for every
# category, the others by kind (部件 / 事件).
PHRASES = {
    "": (
        gettext_lazy("现场核实属实"),
        gettext_lazy("存在安全隐患"),
        gettext_lazy("影响市容环境"),
        gettext_lazy("影响行人车辆通行"),
        gettext_lazy("已拍照取证"),
        gettext_lazy("周边群众反映强烈"),
    ),
    Kind.COMPONENT: (
        gettext_lazy("破损"),
        gettext_lazy("缺失"),
        gettext_lazy("移位"),
        gettext_lazy("倾斜、倒伏"),
        gettext_lazy("被遮挡、覆盖"),
        gettext_lazy("污损、锈蚀"),
    ),
    Kind.EVENT: (
        gettext_lazy("暴露垃圾"),
        gettext_lazy("乱堆乱放"),
        gettext_lazy("占道经营"),
        gettext_lazy("乱张贴、乱涂写"),
        gettext_lazy("路面积水"),
        gettext_lazy("已劝离，仍有反复"),
    ),
}

# Every text the script shows, translated here (see tests/web/test_inspector.py).
MESSAGES = {
    "voiceStart": gettext_lazy("开始录音"),
    "voiceStop": gettext_lazy("停止录音"),
    "voiceAgain": gettext_lazy("重新录音"),
    "voiceRecording": gettext_lazy("正在录音"),
    "voiceRecorded": gettext_lazy("已录音"),
    "voiceDenied": gettext_lazy("无法使用麦克风（可能未授权），可以用文字描述。"),
    "pending": gettext_lazy("待发送"),
    "sending": gettext_lazy("发送中"),
    "sent": gettext_lazy("已上报"),
    "done": gettext_lazy("已提交"),
    "failed": gettext_lazy("失败"),
    "otherUser": gettext_lazy("属于其他账号，请用该账号登录后发送"),
    "caseNo": gettext_lazy("案卷号"),
    "queued": gettext_lazy("已保存到本机，联网后自动发送"),
    "savedDraft": gettext_lazy("草稿已保存"),
    "noDrafts": gettext_lazy("没有草稿"),
    "noOutbox": gettext_lazy("没有待发送或已发送的记录"),
    "noTasks": gettext_lazy("没有待办的核实、核查任务"),
    "tasksOffline": gettext_lazy("离线：显示上次取得的任务"),
    "chooseCategory": gettext_lazy("请选择问题类别（小类）"),
    "needPlace": gettext_lazy("还没有位置：请等待定位，或在地图上点选位置"),
    "needPhoto": gettext_lazy("请至少拍一张照片"),
    "needAfter": gettext_lazy("自行处置需要处置后照片"),
    "needFound": gettext_lazy("请选择属实或不属实"),
    "needResult": gettext_lazy("请选择通过或不通过"),
    "needReason": gettext_lazy("核查不通过须写明原因"),
    "maxPhotos": gettext_lazy("最多 9 张照片"),
    "photoFailed": gettext_lazy("这张照片无法读取，请重拍"),
    "locating": gettext_lazy("正在定位…"),
    "gpsFailed": gettext_lazy("无法取得 GPS 位置，请在地图上点选位置"),
    "gpsAccuracy": gettext_lazy("精度约"),
    "manual": gettext_lazy("已手动调整位置"),
    "grid": gettext_lazy("网格"),
    "outside": gettext_lazy("该位置不在本市范围内"),
    "offlinePlace": gettext_lazy("离线：位置已记录，网格和地址由服务器补全"),
    "online": gettext_lazy("在线"),
    "offline": gettext_lazy("离线"),
    "loginAgain": gettext_lazy("登录已失效，请重新登录后发送"),
    "confirmDelete": gettext_lazy("确定删除这条记录？未发送的内容将丢失。"),
    "confirmLogout": gettext_lazy("还有未发送的记录，退出后须用同一账号登录才能发送。确定退出？"),
    "changed": gettext_lazy("案件已被他人处理，本次提交未生效"),
    "verifyTask": gettext_lazy("核实"),
    "checkTask": gettext_lazy("核查"),
    "found": gettext_lazy("属实"),
    "notFound": gettext_lazy("不属实"),
    "pass": gettext_lazy("通过"),
    "fail": gettext_lazy("不通过"),
    "deadline": gettext_lazy("时限"),
    "overdue": gettext_lazy("已超时"),
    "reference": gettext_lazy("对照照片"),
    "reportPhotos": gettext_lazy("上报照片"),
    "unitPhotos": gettext_lazy("处置照片"),
    "selfDisposed": gettext_lazy("已自行处置"),
    "retry": gettext_lazy("重试"),
    "edit": gettext_lazy("编辑"),
    "delete": gettext_lazy("删除"),
    "open": gettext_lazy("打开"),
    "remove": gettext_lazy("移除"),
    "untitled": gettext_lazy("未选类别"),
    "networkError": gettext_lazy("网络中断，稍后自动重试"),
    "serverError": gettext_lazy("服务器暂时无法处理，稍后自动重试"),
    "nextTry": gettext_lazy("下次重试"),
    "answered": gettext_lazy("已答复（待发送）"),
    "noResults": gettext_lazy("没有符合的类别"),
    "noCondition": gettext_lazy("暂不选择（由值班长判断）"),
    "urgentTag": gettext_lazy("紧急"),
    "refused": gettext_lazy("服务器拒收："),
    "photos": gettext_lazy("照片"),
}


def _limit_text(condition: FilingCondition) -> str:
    value = condition.limit_value
    number = str(int(value)) if float(value).is_integer() else f"{value:g}"
    return f"{number} {condition.get_limit_unit_display()}"


def codebook() -> list[dict]:
    """The categories used for new reports (GB/T 47678 and local ones, as on the desk), as a tree:
    major classes (大类) with their minor classes (小类) and each one's filing conditions."""
    categories = list(
        Category.objects.filter(active=True, standard__in=[Standard.GB_47678, Standard.LOCAL]).order_by(
            "kind", "major_code", "minor_code", "id"
        )
    )
    conditions: dict[int, list[dict]] = {}
    for fc in FilingCondition.objects.filter(category__in=categories).order_by("category_id", "seq", "id"):
        conditions.setdefault(fc.category_id, []).append(
            {"id": fc.pk, "text": fc.text, "urgent": fc.urgent, "limit": _limit_text(fc)}
        )
    majors: dict[tuple[str, str, str], dict] = {}
    for c in categories:
        key = (c.kind, c.major_code, c.major_name)
        if key not in majors:
            majors[key] = {
                "kind": c.kind,
                "kind_label": str(c.get_kind_display()),
                "code": c.major_code,
                "name": c.major_name,
                "minors": [],
            }
        majors[key]["minors"].append(
            {"id": c.pk, "code": c.minor_code, "name": c.minor_name, "conditions": conditions.get(c.pk, [])}
        )
    return list(majors.values())


def _forbidden(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "citykeeper/inspector/forbidden.html",
        {"message": _("城管通只对监督员开放。请用监督员账号登录。")},
        status=403,
    )


@login_required
def app(request: HttpRequest) -> HttpResponse:
    """城管通: report, draft, the offline outbox, verify and check tasks, self-disposal."""
    user = request.user
    if Role.INSPECTOR not in user.roles:
        return _forbidden(request)
    data = {
        "user": user.username,
        "codebook": codebook(),
        "phrases": {kind: [str(p) for p in phrases] for kind, phrases in PHRASES.items()},
        "messages": {key: str(text) for key, text in MESSAGES.items()},
        "tileUrl": basemap.first_tile_url(),
        "basemap": basemap.browser_config(),
        "center": _center(user),
    }
    get_token(request)  # the csrftoken cookie; the page itself carries no token, so it can be compared
    response = render(
        request,
        "citykeeper/inspector/app.html",
        {"data": _json_script(data), "shell_version": shell_version(), "leaflet": LEAFLET, "static_dir": STATIC},
    )
    # The service worker fetches the page from the network first; the phone may keep it but must
    # ask every time, and an unchanged page then costs a 304 instead of the whole codebook again.
    response["Cache-Control"] = "private, no-cache"
    set_response_etag(response)
    return get_conditional_response(request, etag=response["ETag"], response=response)


_SCRIPT_ESCAPES = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026"}


def _json_script(value) -> str:
    """Like the json_script filter, but with the Chinese text as it is: the codebook is a third
    smaller than with every character escaped as \\uXXXX."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":")).translate(_SCRIPT_ESCAPES)
    return format_html('<script id="ck-data" type="application/json">{}</script>', mark_safe(text))


def _center(user) -> list[float] | None:
    """Where the map starts before GPS answers: the centre of the inspector's area."""
    area = user.scope_area if user.scope_area_id else None
    while area is not None:
        if area.centroid_lon is not None and area.centroid_lat is not None:
            return [area.centroid_lon, area.centroid_lat]
        if area.geometry:
            from shapely.geometry import shape

            point = shape(area.geometry).representative_point()
            return [point.x, point.y]
        area = area.parent
    return None


def manifest(request: HttpRequest) -> JsonResponse:
    """The web app manifest: installable as 城管通, opening /m/ full screen."""
    icons = [
        {"src": static(icon), "sizes": f"{size}x{size}", "type": "image/png", "purpose": "any"} for size, icon in ICONS
    ]
    icons.append({"src": static(ICONS[-1][1]), "sizes": "512x512", "type": "image/png", "purpose": "maskable"})
    body = {
        "name": _("城管通"),
        "short_name": _("城管通"),
        "description": _("城市管家监督员手机端：上报、核实、核查、自行处置，离线也能用。"),
        "id": "/m/",
        "start_url": "/m/",
        "scope": "/m/",
        "display": "standalone",
        "orientation": "portrait",
        "lang": request.LANGUAGE_CODE,
        "background_color": "#f5f7fa",
        "theme_color": THEME,
        "icons": icons,
    }
    response = JsonResponse(body, json_dumps_params={"ensure_ascii": False})
    response["Content-Type"] = "application/manifest+json"
    response["Cache-Control"] = "public, max-age=3600"
    return response


def shell_version() -> str:
    """Changes whenever the app's own files change, so a deploy installs a new service worker
    (whose bytes then differ) and drops the old cache."""
    digest = hashlib.sha256(LEAFLET.encode())
    here = Path(__file__).resolve().parent / "templates" / "citykeeper" / "inspector"
    for name in ("app.html", "sw.js"):
        digest.update((here / name).read_bytes())
    for name in (f"{STATIC}app.js", f"{STATIC}app.css", BASEMAP_JS):
        found = finders.find(name)
        if found:
            digest.update(Path(found).read_bytes())
    return digest.hexdigest()[:16]


def service_worker(request: HttpRequest) -> HttpResponse:
    """The service worker, served from /m/ so that its scope is /m/."""
    shell = ["/m/", *(static(name) for name in SHELL_STATIC)]
    body = render_to_string(
        "citykeeper/inspector/sw.js",
        {"version": shell_version(), "shell": json.dumps(shell)},
    )
    response = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/m/"
    response["Cache-Control"] = "no-cache"
    return response


urlpatterns = [
    path("", app, name="inspector"),
    path("manifest.webmanifest", manifest, name="inspector-manifest"),
    path("sw.js", service_worker, name="inspector-sw"),
]
