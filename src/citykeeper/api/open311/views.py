"""Open311 GeoReport v2 endpoints (plain Django views: the spec's suffix formats, form
bodies with ``attribute[CODE]`` keys and its own error list do not fit the JSON API).

Every endpoint answers ``.xml`` (the default when no suffix is given) and ``.json``.
``jurisdiction_id`` may be absent, empty or this city's; anything else is 404. GET needs
no key; POST needs an ``api_key`` (query string or body), counted against its rate.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt

from citykeeper.api.open311.render import errors, respond
from citykeeper.domain.errors import DomainError, InvalidInput, NotFound
from citykeeper.domain.workflow import OPEN_STATES, Stage
from citykeeper.services import open311
from citykeeper.store.models import Case, CaseEvent
from citykeeper.store.models.cases import STATE_LABELS

log = logging.getLogger(__name__)

SPEC = "http://wiki.open311.org/GeoReport_v2"
DEFAULT_PAGE_SIZE = 1000
_ATTRIBUTE = re.compile(r"^attribute\[([^\]]+)\](\[\])?$")
_STATUS = {404: 404, 403: 403, 429: 429}


def _jurisdiction() -> str:
    return settings.CITYKEEPER.get("OPEN311_JURISDICTION", settings.CITYKEEPER["CITY_CODE"])


def _params(request: HttpRequest) -> dict:
    """Query string, then form or JSON body (a body value wins); lists kept for attributes."""
    values: dict = {k: request.GET.getlist(k) for k in request.GET}
    if request.method == "POST":
        if request.content_type == "application/json":
            try:
                body = json.loads(request.body or b"{}")
            except ValueError:
                raise InvalidInput("The JSON body does not parse.", field="body") from None
            if not isinstance(body, dict):
                raise InvalidInput("The JSON body must be an object.", field="body")
            for k, v in body.items():
                if k == "attribute" and isinstance(v, dict):
                    for code, value in v.items():
                        values[f"attribute[{code}]"] = value if isinstance(value, list) else [value]
                else:
                    values[k] = v if isinstance(v, list) else [v]
        else:
            values.update({k: request.POST.getlist(k) for k in request.POST})
    return values


def _one(values: dict, name: str) -> str:
    got = values.get(name) or [""]
    value = got[-1]
    return "" if value is None else str(value).strip()


def endpoint(view):
    """Format from the suffix, jurisdiction check, and the spec's error list for refusals."""

    @csrf_exempt
    def wrapped(request: HttpRequest, *args, fmt: str = "xml", **kwargs) -> HttpResponse:
        fmt = fmt or "xml"
        try:
            values = _params(request)
            jurisdiction = _one(values, "jurisdiction_id")
            if jurisdiction and jurisdiction != _jurisdiction():
                raise NotFound(f"Unknown jurisdiction_id '{jurisdiction}'; this endpoint serves '{_jurisdiction()}'.")
            return view(request, values, fmt, *args, **kwargs)
        except DomainError as exc:
            status = _STATUS.get(exc.status, 400)
            return errors(fmt, status, exc.message)

    return wrapped


def _iso(value: dt.datetime | None) -> str:
    return timezone.localtime(value).isoformat(timespec="seconds") if value else ""


def _status(case: Case) -> str:
    return "open" if case.state in {s.value for s in OPEN_STATES} else "closed"


def _media_urls(request: HttpRequest, cases) -> dict[int, str]:
    """Case id → the public URL of its first photo that staff published (one query for a page)."""
    from citykeeper.store.models import Attachment

    first: dict[int, int] = {}
    rows = Attachment.objects.filter(case_id__in=[c.pk for c in cases], published_at__isnull=False)
    for case_id, attachment_id in rows.order_by("uploaded_at", "pk").values_list("case_id", "pk"):
        first.setdefault(case_id, attachment_id)
    return {case_id: request.build_absolute_uri(f"/public/photos/{pk}.jpg") for case_id, pk in first.items()}


def request_dict(case: Case, *, extensions: bool = False, precise: bool = False, media_url: str = "") -> dict:
    """A case as a GeoReport ``request``. Public reads get positions to 4 decimals (~10 m); the
    ``media_url`` is the first photo staff published (never an unreviewed one)."""
    digits = 7 if precise else 4
    expected = case.stage_deadline_at if case.stage == Stage.DISPOSE else None
    out = {
        "service_request_id": case.number,
        "status": _status(case),
        "status_notes": str(STATE_LABELS.get(case.state, case.state)),
        "service_name": case.category.minor_name,
        "service_code": open311.service_code(case.category),
        "description": case.description,
        "agency_responsible": case.unit.name if case.unit_id else "",
        "service_notice": "",
        "requested_datetime": _iso(case.reported_at),
        "updated_datetime": _iso(case.closed_at or case.updated_at),
        "expected_datetime": _iso(expected),
        "address": case.address,
        "address_id": "",
        "zipcode": "",
        "lat": round(case.lat, digits) if case.lat is not None else "",
        "long": round(case.lon, digits) if case.lon is not None else "",
        "media_url": media_url,
    }
    if extensions:
        out["extended_attributes"] = {
            "state": case.state,
            "stage": case.stage,
            "stage_deadline": _iso(case.stage_deadline_at),
            "overdue": case.stage_overdue,
            "channel": case.source,
            "grid": case.area_path.rsplit("/", 1)[-1],
            "urgent": case.urgent,
        }
    return out


# ---------------------------------------------------------------- discovery and services


@endpoint
def discovery(request, values, fmt):
    base = request.build_absolute_uri("/open311/v2/")
    return respond(
        fmt,
        {
            "changeset": "2026-11-21T00:00:00+08:00",
            "contact": "城市管理监督指挥中心 (12319)",
            "key_service": "Ask the city's supervision centre for an api_key (issued in the CityKeeper admin).",
            "endpoints": [
                {
                    "specification": SPEC,
                    "url": base,
                    "changeset": "2026-11-21T00:00:00+08:00",
                    "type": "production",
                    "formats": ["text/xml", "application/json"],
                }
            ],
        },
        root="discovery",
    )


def _service(category) -> dict:
    return {
        "service_code": open311.service_code(category),
        "service_name": category.minor_name,
        "description": f"{category.get_kind_display()} · {category.major_name} · {category.minor_name}",
        "metadata": True,
        "type": "realtime",
        "keywords": f"{category.major_name},{category.minor_name}",
        "group": category.major_name,
    }


@endpoint
def services(request, values, fmt):
    return respond(fmt, [_service(c) for c in open311.services()], root="services", item="service")


@endpoint
def service_definition(request, values, fmt, code):
    category = open311.category_for(code)
    conditions = list(category.filing_conditions.order_by("seq"))
    definition = {
        "service_code": open311.service_code(category),
        "attributes": [
            {
                "variable": True,
                "code": open311.CONDITION_ATTRIBUTE,
                "datatype": "singlevaluelist",
                "required": False,
                "datatype_description": "Which of these best describes the problem (立案条件).",
                "order": 1,
                "description": "立案条件",
                "values": [{"key": str(c.pk), "name": c.text} for c in conditions],
            }
        ],
    }
    return respond(fmt, definition, root="service_definition")


# ---------------------------------------------------------------- requests


def _submission(values: dict) -> open311.Submission:
    sub = open311.Submission(**{name: _one(values, name) for name in _SUBMISSION_FIELDS})
    for key, got in values.items():
        match = _ATTRIBUTE.match(key)
        if match:
            sub.attributes.setdefault(match.group(1), []).extend(str(v) for v in got)
    return sub


_SUBMISSION_FIELDS = (
    "service_code",
    "lat",
    "long",
    "address_string",
    "address_id",
    "description",
    "email",
    "phone",
    "first_name",
    "last_name",
    "device_id",
    "account_id",
    "media_url",
)


def _date(values: dict, name: str) -> dt.datetime | None:
    raw = _one(values, name)
    if not raw:
        return None
    parsed = parse_datetime(raw.replace(" ", "+")) if "T" in raw else None
    if parsed is None or parsed.tzinfo is None:
        raise InvalidInput(f"{name} must be a W3C date-time with a time zone, e.g. 2026-11-01T00:00:00+08:00.")
    return parsed


def _list(values: dict, name: str) -> list[str]:
    return [v.strip() for v in _one(values, name).split(",") if v.strip()]


@endpoint
def requests(request, values, fmt):
    if request.method == "POST":
        now = timezone.now()
        key = open311.authenticate(_one(values, "api_key"), now=now)
        case, _token = open311.submit(_submission(values), key=key, media=request.FILES.get("media"), now=now)
        return respond(
            fmt,
            [{"service_request_id": case.number, "service_notice": "", "account_id": _one(values, "account_id")}],
            root="service_requests",
            item="request",
            status=201,
        )
    qs = open311.find_requests(
        ids=_list(values, "service_request_id"),
        codes=_list(values, "service_code"),
        start=_date(values, "start_date"),
        end=_date(values, "end_date"),
        statuses=_list(values, "status"),
        now=timezone.now(),
    )
    page = _positive(values, "page", 1)
    size = min(_positive(values, "page_size", DEFAULT_PAGE_SIZE), DEFAULT_PAGE_SIZE)
    rows = qs[(page - 1) * size : page * size]
    extensions = _one(values, "extensions").lower() == "true"
    rows = list(rows)
    media = _media_urls(request, rows)
    payload = [request_dict(c, extensions=extensions, media_url=media.get(c.pk, "")) for c in rows]
    return respond(fmt, payload, root="service_requests", item="request")


def _positive(values: dict, name: str, default: int) -> int:
    raw = _one(values, name)
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise InvalidInput(f"{name} must be a positive whole number.")
    return int(raw)


@endpoint
def request_detail(request, values, fmt, number):
    case = Case.objects.select_related("category", "unit").filter(number=number).first()
    if case is None:
        raise NotFound(f"Unknown service_request_id '{number}'.")
    extensions = _one(values, "extensions").lower() == "true"
    media_url = _media_urls(request, [case]).get(case.pk, "")
    return respond(
        fmt, [request_dict(case, extensions=extensions, media_url=media_url)], root="service_requests", item="request"
    )


@endpoint
def token(request, values, fmt, token):
    case = open311.case_for_token(token)
    return respond(fmt, [{"service_request_id": case.number, "token": token}], root="service_requests", item="request")


@endpoint
def service_request_updates(request, values, fmt):
    """mySociety's extension: the lifecycle events of cases as ``request_update`` items."""
    open311.authenticate(_one(values, "api_key"), now=timezone.now())
    end = _date(values, "end_date") or timezone.now()
    start = _date(values, "start_date") or end - dt.timedelta(days=1)
    if end - start > dt.timedelta(days=90):
        raise InvalidInput("start_date to end_date may span at most 90 days.")
    events = (
        CaseEvent.objects.filter(at__gte=start, at__lte=end)
        .exclude(kind__in=["deadline_warning", "deadline_overdue"])
        .select_related("case")
        .order_by("at", "id")[:DEFAULT_PAGE_SIZE]
    )
    closed = {"close", "reject", "void", "merge"}
    payload = [
        {
            "update_id": str(e.pk),
            "service_request_id": e.case.number,
            "status": "closed" if e.kind in closed else "open",
            "extended_status": e.kind,
            "updated_datetime": _iso(e.at),
            "description": e.reason,
            "media_url": "",
        }
        for e in events
    ]
    return respond(fmt, payload, root="service_request_updates", item="request_update")
