"""Open311 GeoReport v2 behind the wire format: client keys, services, service requests.

Services are the active categories of the current codebook (GB/T 47678.5-2026 and local
extensions), each with its filing conditions as the values of one attribute. A request
becomes a case reported through the ``open311`` channel, with the client's name as its
source detail and everything else the client sent kept on the report event.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import secrets
import uuid
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F, Q

from citykeeper.domain.errors import DomainError, InvalidInput, NotFound, NotPermitted
from citykeeper.services import attachments, locating
from citykeeper.services import cases as case_service
from citykeeper.store.models import Case, Category, Open311Key
from citykeeper.store.models.cases import Source
from citykeeper.store.models.codebook import Kind, Standard

log = logging.getLogger(__name__)

KEY_MARK = "o311_"
MAX_DESCRIPTION = 4000
CONDITION_ATTRIBUTE = "CONDITION"
_KIND_LETTER = {Kind.COMPONENT: "C", Kind.EVENT: "E"}
_LETTER_KIND = {v: k for k, v in _KIND_LETTER.items()}
_TAG = re.compile(r"<\s*/?\s*[a-zA-Z!][^>]*>")


class RateLimited(DomainError):
    code = "rate_limited"
    status = 429


# ---------------------------------------------------------------- keys


def _hash(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def issue_key(
    name: str, *, at: dt.datetime, rate_per_minute: int = 60, plaintext: str | None = None
) -> tuple[Open311Key, str]:
    """A new client key; returns the row and the plaintext (shown once, never stored). A given
    ``plaintext`` is for the demo city only, whose key is printed for anyone to try."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput("Name the client the key is for.", field="name")
    plaintext = plaintext or KEY_MARK + secrets.token_urlsafe(24)
    key = Open311Key.objects.create(
        name=name[:100],
        key_hash=_hash(plaintext),
        prefix=plaintext[:12],
        rate_per_minute=rate_per_minute,
        created_at=at,
    )
    log.info("open311 key issued", extra={"key": key.pk, "client": key.name})
    return key, plaintext


def authenticate(plaintext: str | None, *, now: dt.datetime) -> Open311Key:
    """The active key behind ``plaintext``, counted against its per-minute limit."""
    if not plaintext:
        raise NotPermitted("An api_key is required to submit a service request.", field="api_key")
    key = Open311Key.objects.filter(key_hash=_hash(plaintext[:200])).first()
    if key is None or key.revoked_at is not None:
        raise NotPermitted("Invalid api_key received -- can't proceed with create_request.", field="api_key")
    window = now.replace(second=0, microsecond=0)
    # Fixed one-minute windows, counted with compare-and-set so every process shares them.
    if key.window_start != window:
        Open311Key.objects.filter(pk=key.pk).exclude(window_start=window).update(window_start=window, window_count=0)
    counted = Open311Key.objects.filter(pk=key.pk, window_start=window, window_count__lt=key.rate_per_minute).update(
        window_count=F("window_count") + 1
    )
    if not counted:
        raise RateLimited(
            f"Too many requests with this api_key: at most {key.rate_per_minute} a minute; try again shortly.",
            field="api_key",
        )
    return key


# ---------------------------------------------------------------- services


def service_code(category: Category) -> str:
    return f"{_KIND_LETTER.get(category.kind, 'E')}{category.minor_code}"


def services():
    """Categories offered to Open311 clients, in code order."""
    return (
        Category.objects.filter(active=True, standard__in=[Standard.GB_47678, Standard.LOCAL])
        .order_by("kind", "minor_code")
        .prefetch_related("filing_conditions")
    )


def category_for(code: str | None) -> Category:
    code = (code or "").strip()
    if not code:
        raise InvalidInput("service_code is required.", field="service_code")
    kind = _LETTER_KIND.get(code[:1])
    category = services().filter(kind=kind, minor_code=code[1:]).first() if kind is not None else None
    if category is None:
        raise NotFound(f"Unknown service_code '{code}'; GET services for the list.", field="service_code")
    return category


# ---------------------------------------------------------------- requests


@dataclass
class Submission:
    """What a client POSTed, already read from the form or JSON body."""

    service_code: str | None = None
    lat: str | None = None
    long: str | None = None
    address_string: str = ""
    address_id: str = ""
    description: str = ""
    email: str = ""
    phone: str = ""
    first_name: str = ""
    last_name: str = ""
    device_id: str = ""
    account_id: str = ""
    media_url: str = ""
    attributes: dict[str, list[str]] = field(default_factory=dict)


def _number(value: str | None, name: str, low: float, high: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name} must be a number, not {value!r}.", field=name) from None
    if not low <= number <= high:
        raise InvalidInput(f"{name} {number} is outside {low}..{high}.", field=name)
    return number


def _plain(text: str, name: str, limit: int) -> str:
    text = (text or "").strip()
    if _TAG.search(text):
        raise InvalidInput(f"{name} may not contain HTML or script; send plain text.", field=name)
    if len(text) > limit:
        raise InvalidInput(f"{name} is longer than {limit} characters.", field=name)
    return text


def submit(sub: Submission, *, key: Open311Key, media=None, now: dt.datetime) -> tuple[Case, str]:
    """Create the case for a service request; returns it and its token. Nothing is stored
    when anything is refused."""
    category = category_for(sub.service_code)
    description = _plain(sub.description, "description", MAX_DESCRIPTION)
    if not description:
        raise InvalidInput("description is required: say what the problem is.", field="description")
    address = _plain(sub.address_string, "address_string", 256)
    if sub.lat not in (None, "") or sub.long not in (None, ""):
        lat = _number(sub.lat, "lat", -90, 90)
        lon = _number(sub.long, "long", -180, 180)
    elif address:
        found = locating.geocode(address, limit=1)
        if not found:
            raise InvalidInput(f"address_string '{address}' was not found; send lat and long.", field="address_string")
        lon, lat = found[0].lon, found[0].lat
    elif sub.address_id:
        raise InvalidInput("address_id is not supported here; send lat and long or address_string.", field="address_id")
    else:
        raise InvalidInput("A location is required: lat and long, or address_string.", field="lat")
    area = locating.grid_for(lon, lat)
    if not address:
        address = locating.describe(lon, lat)[1].text
    conditions = {str(c.pk): c for c in category.filing_conditions.all()}
    chosen = [v for v in sub.attributes.get(CONDITION_ATTRIBUTE, []) if v]
    unknown = [v for v in chosen if v not in conditions]
    if unknown:
        raise InvalidInput(
            f"attribute[{CONDITION_ATTRIBUTE}] value {unknown[0]!r} is not one of this service's values.",
            field=f"attribute[{CONDITION_ATTRIBUTE}]",
        )
    name = " ".join(p for p in (_plain(sub.first_name, "first_name", 40), _plain(sub.last_name, "last_name", 40)) if p)
    token = uuid.uuid4().hex
    extra = {
        "open311": {
            k: v
            for k, v in {
                "client": key.name,
                "email": _plain(sub.email, "email", 200),
                "device_id": sub.device_id[:100],
                "account_id": sub.account_id[:100],
                "media_url": sub.media_url[:500],
                "attributes": sub.attributes,
                "token": token,
            }.items()
            if v
        }
    }
    photos = [attachments.check_image(media)] if media is not None else None
    with transaction.atomic():
        case = case_service.report(
            actor=None,
            source=Source.OPEN311,
            category=category,
            area=area,
            at=now,
            description=description,
            address=address,
            lon=round(lon, 7),
            lat=round(lat, 7),
            urgent=any(conditions[v].urgent for v in chosen),
            reporter_name=name[:50],
            reporter_phone=_plain(sub.phone, "phone", 30),
            idempotency_key=f"open311:{token}",
            source_detail=key.name,
            extra=extra,
            photos=photos,
        )
    log.info("open311 request", extra={"case": case.number, "client": key.name})
    return case, token


def case_for_token(token: str) -> Case:
    case = Case.objects.filter(idempotency_key=f"open311:{token}").select_related("category").first()
    if case is None:
        raise NotFound(f"Unknown token '{token}'.", field="token")
    return case


def find_requests(
    *,
    ids: list[str],
    codes: list[str],
    start: dt.datetime | None,
    end: dt.datetime | None,
    statuses: list[str],
    now: dt.datetime,
):
    """Cases as the spec selects them: ``ids`` override every other filter; otherwise the
    dates default to the last 90 days and a range may not be longer than 90 days."""
    from citykeeper.domain.workflow import OPEN_STATES

    qs = Case.objects.select_related("category", "unit").order_by("-reported_at", "-id")
    if ids:
        return qs.filter(number__in=ids)
    if codes:
        wanted = Q(pk__in=[])
        for code in codes:
            kind = _LETTER_KIND.get(code[:1])
            if kind is None:
                raise NotFound(f"Unknown service_code '{code}'.", field="service_code")
            wanted |= Q(category__kind=kind, category__minor_code=code[1:])
        qs = qs.filter(wanted)
    if end is None:
        end = now
    if start is None:
        start = end - dt.timedelta(days=90)
    if end - start > dt.timedelta(days=90):
        raise InvalidInput("start_date to end_date may span at most 90 days.", field="start_date")
    qs = qs.filter(reported_at__gte=start, reported_at__lte=end)
    open_values = [s.value for s in OPEN_STATES]
    unknown = [s for s in statuses if s not in ("open", "closed")]
    if unknown:
        raise InvalidInput(f"status must be open or closed, not {unknown[0]!r}.", field="status")
    if statuses == ["open"]:
        qs = qs.filter(state__in=open_values)
    elif statuses == ["closed"]:
        qs = qs.exclude(state__in=open_values)
    return qs
