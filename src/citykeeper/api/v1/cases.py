"""Cases: report, list, detail with timeline, every lifecycle action, attachments.

Scoping: every read goes through ``Case.objects.restrict(user, ...)``. A case outside
the caller's view scope answers 404 whether or not it exists, for reads and actions
alike, so numbers cannot be probed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from typing import Any, Literal

from django.db.models import F, Q
from django.http import FileResponse, HttpRequest
from django.utils import timezone
from ninja import File, Form, Query, Router, Schema, Status, UploadedFile
from pydantic import Field, ValidationError

from citykeeper.api.v1.errors import ApiError, ErrorOut
from citykeeper.api.v1.schemas import (
    ActionIn,
    AttachmentOut,
    CaseDetail,
    CaseFilters,
    CaseIn,
    CasePage,
    Strict,
)
from citykeeper.domain.errors import DomainError, InvalidInput, NotFound
from citykeeper.domain.workflow import Action, Role, allowed_actions
from citykeeper.services import attachments, locating, public
from citykeeper.services import cases as case_service
from citykeeper.services.calendar import calendar_for
from citykeeper.store.labels import choice_labels
from citykeeper.store.models import (
    Area,
    Attachment,
    Case,
    CaseEvent,
    Category,
    FilingCondition,
    Unit,
    User,
)
from citykeeper.store.models.cases import Source

log = logging.getLogger(__name__)

router = Router(tags=["cases"])


_ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


# ---------------------------------------------------------------- helpers


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """A naive date-time from a client means the city's local time."""
    if value is not None and timezone.is_naive(value):
        return timezone.make_aware(value)
    return value


def _not_found(number: str) -> NotFound:
    return NotFound(f"No case numbered {number}.", field="number")


def _detail_queryset():
    return Case.objects.select_related("category", "condition", "area", "unit", "assignee", "merged_into")


def visible_case(user: User, number: str) -> Case:
    """The case if ``user`` may see it; 404 otherwise (existence is not revealed)."""
    case = _detail_queryset().restrict(user, "view").filter(number=number).first()
    if case is None:
        raise _not_found(number)
    return case


def _category_ref(category: Category) -> dict[str, Any]:
    return {
        "id": category.pk,
        "standard": category.standard,
        "kind": category.kind,
        "major_code": category.major_code,
        "major_name": category.major_name,
        "minor_code": category.minor_code,
        "minor_name": category.minor_name,
    }


def _area_ref(area: Area) -> dict[str, Any]:
    return {"code": area.code, "name": area.name, "level": area.level}


def _unit_ref(unit: Unit | None) -> dict[str, Any] | None:
    return {"code": unit.code, "name": unit.name} if unit is not None else None


def case_summary(case: Case) -> dict[str, Any]:
    return {
        "number": case.number,
        "state": case.state,
        "state_label": choice_labels(Case, "state").get(case.state, case.state),
        "version": case.version,
        "source": case.source,
        "category": _category_ref(case.category),
        "area": _area_ref(case.area),
        "unit": _unit_ref(case.unit),
        "description": case.description,
        "address": case.address,
        "urgent": case.urgent,
        "reported_at": case.reported_at,
        "stage": case.stage or None,
        "stage_deadline_at": case.stage_deadline_at,
        "stage_overdue": case.stage_overdue,
    }


def _remaining_seconds(case: Case, now: dt.datetime) -> int | None:
    if not case.stage:
        return None
    if case.stage_remaining_seconds is not None:  # paused
        return case.stage_remaining_seconds
    if case.stage_deadline_at is None:
        return None
    try:
        calendar = calendar_for(case.stage_around_the_clock)
        return int(calendar.between(now, case.stage_deadline_at).total_seconds())
    except DomainError:  # e.g. the calendar lacks a year: unknown, not an error of the read
        return None


def _clock(case: Case, now: dt.datetime) -> dict[str, Any]:
    return {
        "stage": case.stage or None,
        "started_at": case.stage_started_at,
        "deadline_at": case.stage_deadline_at,
        "warn_at": case.stage_warn_at,
        "limit_seconds": case.stage_limit_seconds,
        "around_the_clock": case.stage_around_the_clock,
        "paused": case.stage_remaining_seconds is not None,
        "remaining_seconds": _remaining_seconds(case, now),
        "warned": case.stage_warned,
        "overdue": case.stage_overdue,
    }


def _event(event: CaseEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "kind": event.kind,
        "at": event.at,
        "actor": event.actor.username if event.actor_id else None,
        "actor_name": event.actor_name,
        "role": event.actor_role,
        "from_state": event.from_state,
        "to_state": event.to_state,
        "stage": event.stage,
        "stage_deadline_at": event.stage_deadline_at,
        "outcome": event.outcome,
        "reason": event.reason,
        "data": event.data,
        "attachments": event.attachments,
    }


def actions_for(case: Case, user: User) -> list[str]:
    """Table rows for the case's state that the user's roles may take, if the case is in
    the user's acting scope. Guards are not evaluated."""
    if not Case.objects.restrict(user, "act").filter(pk=case.pk).exists():
        return []
    return [a.value for a in allowed_actions(case.state, user.roles)]


def case_detail(case: Case, user: User, now: dt.datetime) -> dict[str, Any]:
    events = CaseEvent.objects.filter(case_id=case.pk).select_related("actor").order_by("seq")
    return {
        **case_summary(case),
        "city_code": case.city_code,
        "condition": (
            {
                "id": case.condition.pk,
                "text": case.condition.text,
                "limit_value": case.condition.limit_value,
                "limit_unit": case.condition.limit_unit,
                "urgent": case.condition.urgent,
            }
            if case.condition_id
            else None
        ),
        "lon": case.lon,
        "lat": case.lat,
        "area_path": case.area_path,
        "area_class": case.area_class,
        "reporter_name": case.reporter_name,
        "reporter_phone": case.reporter_phone,
        "assignee": ({"username": case.assignee.username, "name": str(case.assignee)} if case.assignee_id else None),
        "verification_found": case.verification_found,
        "merged_into": case.merged_into.number if case.merged_into_id else None,
        "rework_count": case.rework_count,
        "return_count": case.return_count,
        "extension_count": case.extension_count,
        "suspension_count": case.suspension_count,
        "urge_count": case.urge_count,
        "filed_at": case.filed_at,
        "dispatched_at": case.dispatched_at,
        "closed_at": case.closed_at,
        "updated_at": case.updated_at,
        "clock": _clock(case, now),
        "timeline": [_event(e) for e in events],
        "allowed_actions": actions_for(case, user),
    }


def _fresh_detail(number: str, user: User) -> dict[str, Any]:
    return case_detail(_detail_queryset().get(number=number), user, timezone.now())


def _lookup(model, field: str, label: str, **filters):
    obj = model.objects.filter(**filters).first()
    if obj is None:
        value = next(iter(filters.values()))
        raise InvalidInput(f"Unknown {label} {value!r}.", field=field)
    return obj


def _default_source(user: User) -> str:
    roles = user.roles
    if Role.INSPECTOR in roles:
        return Source.INSPECTOR
    if Role.CITIZEN in roles:
        return Source.CITIZEN
    if Role.LEADER in roles:
        return Source.LEADER
    return Source.HOTLINE


# ---------------------------------------------------------------- create


@router.post(
    "",
    response={200: CaseDetail, 201: CaseDetail, **_ERRORS},
    summary="Report a case",
)
def create_case(request: HttpRequest, payload: CaseIn):
    """上报: a new case enters the acceptance queue (state ``reported``) with the accept clock
    running. The place is ``lon``/``lat`` (in ``crs``, stored as WGS84), located to its unit grid,
    or an ``area`` code. With an ``idempotency_key`` already used by the same user, the case that
    request made is returned with status 200."""
    return _create(request.auth, payload, [])


MAX_REPORT_PHOTOS = 9


@router.post(
    "/with-photos",
    response={200: CaseDetail, 201: CaseDetail, 413: ErrorOut, 415: ErrorOut, **_ERRORS},
    summary="Report a case with its photos in one request",
)
def create_case_with_photos(
    request: HttpRequest,
    case: Form[str],
    photos: list[UploadedFile] = File(default=None),  # noqa: B008
    voice: UploadedFile = File(default=None),  # noqa: B008
):
    """上报 with photos, as a handset sends it: ``multipart/form-data`` with the field ``case``
    (the JSON body of ``POST /cases``) and up to nine ``photos`` (JPEG, PNG or WebP, at most
    10 MB each, checked by their bytes) and an optional ``voice`` note (WebM, Ogg, M4A, MP3,
    AAC or WAV, at most 5 MB; staff only, never public). They are named by the case's first
    event. One bad file refuses the whole report and nothing is stored. The
    ``idempotency_key`` works as in ``POST /cases``; a retry must send the same files (they are
    part of what is compared)."""
    try:
        payload = CaseIn.model_validate_json(case)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "case"
        raise InvalidInput(f"case: {where}: {first.get('msg', 'invalid')}", field=f"case.{where}") from None
    photos = photos or []
    if len(photos) > MAX_REPORT_PHOTOS:
        raise InvalidInput(f"At most {MAX_REPORT_PHOTOS} photos per report ({len(photos)} sent).", field="photos")
    checked = []
    for index, photo in enumerate(photos):
        try:
            checked.append(attachments.check_image(photo))
        except (attachments.TooLarge, attachments.UnsupportedMedia) as exc:
            raise ApiError(
                exc.status, exc.code, f"Photo {index + 1} ({photo.name}): {exc.message}", field="photos"
            ) from None
    if voice is not None:
        try:
            checked.append(attachments.check_audio(voice))
        except (attachments.TooLarge, attachments.UnsupportedMedia) as exc:
            raise ApiError(exc.status, exc.code, f"Voice note ({voice.name}): {exc.message}", field="voice") from None
    return _create(request.auth, payload, checked)


def _create(user: User, payload: CaseIn, photos: list) -> Status:
    category = _lookup(Category, "category", "category id", pk=payload.category)
    lon, lat = payload.lon, payload.lat
    if lon is not None and lat is not None:
        lon, lat = locating.to_wgs84(lon, lat, payload.crs)
    address = payload.address
    if payload.area:
        area = _lookup(Area, "area", "area code", code=payload.area)
    elif lon is not None and lat is not None:
        area = locating.grid_for(lon, lat)
        if not address.strip():  # written from the position, as a case sheet would
            address = locating.describe(lon, lat)[1].text
    else:
        raise InvalidInput("Give where the problem is: a point (lon and lat) or an area code (area).", field="lon")
    # What the request says, so that a retry can be told from a different report that
    # reuses the key (an offline queue's retry must not become a second case, and a
    # different report must not silently come back as the first one).
    said = payload.dict(exclude={"idempotency_key"})
    if photos:
        said["photos"] = [p.sha256 for p in photos]
    fingerprint = hashlib.sha256(json.dumps(said, sort_keys=True, default=str).encode()).hexdigest()
    if payload.idempotency_key:
        existing = Case.objects.filter(idempotency_key=payload.idempotency_key).first()
        if existing is not None:
            if existing.reporter_id != user.pk:
                raise ApiError(
                    409,
                    "idempotency_conflict",
                    "This idempotency key was already used.",
                    field="idempotency_key",
                )
            first = existing.events.filter(kind="report").values_list("data", flat=True).first() or {}
            if first.get("request_fingerprint", fingerprint) != fingerprint:
                raise ApiError(
                    409,
                    "idempotency_conflict",
                    f"This idempotency key was used for a different report (case {existing.number}); "
                    f"send a new key for a new report.",
                    field="idempotency_key",
                )
            return Status(200, _fresh_detail(existing.number, user))
    case = case_service.report(
        actor=user,
        source=payload.source or _default_source(user),
        category=category,
        area=area,
        at=timezone.now(),
        description=payload.description,
        address=address,
        lon=lon,
        lat=lat,
        urgent=payload.urgent,
        reporter_name=payload.reporter_name,
        reporter_phone=payload.reporter_phone,
        idempotency_key=payload.idempotency_key,
        attachments=payload.attachments,
        extra={"request_fingerprint": fingerprint} if payload.idempotency_key else None,
        photos=photos,
        condition=(
            _lookup(FilingCondition, "condition", "filing condition id", pk=payload.condition)
            if payload.condition is not None
            else None
        ),
    )
    return Status(201, _fresh_detail(case.number, user))


# ---------------------------------------------------------------- list


_ORDERINGS = {
    "reported_at": ("reported_at", "id"),
    "-reported_at": ("-reported_at", "-id"),
    "stage_deadline_at": (F("stage_deadline_at").asc(nulls_last=True), "id"),
    "-stage_deadline_at": (F("stage_deadline_at").desc(nulls_last=True), "-id"),
}


@router.get("", response={200: CasePage, **_ERRORS}, summary="List cases")
def list_cases(request: HttpRequest, filters: Query[CaseFilters]):
    """Cases the caller may see, filtered and paged (newest first by default)."""
    user: User = request.auth
    qs = Case.objects.restrict(user, "view")
    if filters.state:
        qs = qs.filter(state__in=filters.state.split(","))
    if filters.category is not None:
        qs = qs.filter(category_id=filters.category)
    if filters.area:
        area = _lookup(Area, "area", "area code", code=filters.area)
        qs = qs.filter(Q(area_path=area.path) | Q(area_path__startswith=f"{area.path}/"))
    if filters.unit:
        qs = qs.filter(unit__code=filters.unit)
    if filters.source:
        qs = qs.filter(source=filters.source)
    if filters.assignee:
        assignee = user if filters.assignee == "me" else _lookup(User, "assignee", "user", username=filters.assignee)
        qs = qs.filter(assignee=assignee)
    if filters.reporter == "me":
        qs = qs.filter(reporter=user)
    if filters.overdue is not None:
        qs = qs.filter(stage_overdue=filters.overdue)
    if filters.q:
        q = filters.q.strip()
        qs = qs.filter(Q(number__icontains=q) | Q(address__icontains=q) | Q(description__icontains=q))
    if filters.reported_after:
        qs = qs.filter(reported_at__gte=aware(filters.reported_after))
    if filters.reported_before:
        qs = qs.filter(reported_at__lt=aware(filters.reported_before))
    qs = qs.order_by(*_ORDERINGS[filters.ordering])
    count = qs.count()
    start = (filters.page - 1) * filters.page_size
    rows = qs.select_related("category", "area", "unit")[start : start + filters.page_size]
    return {
        "count": count,
        "page": filters.page,
        "page_size": filters.page_size,
        "results": [case_summary(c) for c in rows],
    }


# ---------------------------------------------------------------- detail and actions


@router.get("/{number}", response={200: CaseDetail, **_ERRORS}, summary="A case with its timeline")
def get_case(request: HttpRequest, number: str):
    """All fields, the stage clock, the timeline (events in order) and the actions the caller
    may take. A case outside the caller's scope answers 404."""
    user: User = request.auth
    return case_detail(visible_case(user, number), user, timezone.now())


@router.post(
    "/{number}/actions/{action}",
    response={200: CaseDetail, **_ERRORS},
    summary="Take a lifecycle action on a case",
)
def take_action(request: HttpRequest, number: str, action: Action, payload: ActionIn):
    """Move the case (accept, file, dispatch, dispose, send_check, check_pass, close, ...).
    ``version`` must be the version you read (409 ``stale_version`` otherwise, with
    ``current_version``). A move the state does not have answers 409 ``illegal_move``; a role
    that may not take it, 403 ``not_permitted``. Returns the case as it is after the move."""
    user: User = request.auth
    case = visible_case(user, number)
    data = case_service.MoveInput(
        reason=payload.reason,
        attachments=payload.attachments,
        unit=_lookup(Unit, "unit", "unit code", code=payload.unit) if payload.unit else None,
        condition=(
            _lookup(FilingCondition, "condition", "filing condition id", pk=payload.condition)
            if payload.condition is not None
            else None
        ),
        category=(
            _lookup(Category, "category", "category id", pk=payload.category) if payload.category is not None else None
        ),
        assignee=_lookup(User, "assignee", "user", username=payload.assignee) if payload.assignee else None,
        found=payload.found,
        extension_value=payload.extension_value,
        extension_unit=payload.extension_unit.value if payload.extension_unit else None,
        target=_target(user, payload.target) if payload.target else None,
        reply_due_at=aware(payload.reply_due_at),
        rating=payload.rating,
    )
    case_service.act(case.number, action, actor=user, version=payload.version, at=timezone.now(), data=data)
    return _fresh_detail(case.number, user)


def _target(user: User, number: str) -> Case:
    # A merge target the user cannot see is "unknown", like one that does not exist.
    target = Case.objects.restrict(user, "view").filter(number=number).first()
    if target is None:
        raise InvalidInput(f"Unknown case number {number!r} (target).", field="target")
    return target


# ---------------------------------------------------------------- attachments


@router.post(
    "/{number}/attachments",
    response={200: AttachmentOut, 201: AttachmentOut, 413: ErrorOut, 415: ErrorOut, **_ERRORS},
    summary="Upload a photo or a voice note to a case",
)
def upload_attachment(request: HttpRequest, number: str, file: UploadedFile = File(...)):  # noqa: B008
    """Multipart upload of one image (JPEG, PNG or WebP, at most 10 MB) or voice note (WebM, Ogg,
    M4A, MP3, AAC or WAV, at most 5 MB), checked by its bytes. Returns the attachment id to send
    with an action (``note``, ``dispose``, ...), where it enters the case's timeline. Uploading the
    same file twice returns the first row (200)."""
    user: User = request.auth
    case = visible_case(user, number)
    try:
        attachment, created = attachments.save_checked(case, attachments.check_upload(file), by=user)
    except (attachments.TooLarge, attachments.UnsupportedMedia) as exc:
        raise ApiError(exc.status, exc.code, exc.message, field="file") from None
    if created:
        log.info("attachment uploaded", extra={"case": case.number, "attachment": attachment.pk, "user": user.pk})
    return Status(201 if created else 200, _attachment_out(attachment))


def _attachment_out(attachment: Attachment) -> dict[str, Any]:
    return {
        "id": attachment.pk,
        "sha256": attachment.sha256,
        "content_type": attachment.content_type,
        "size": attachment.size,
    }


@router.get(
    "/{number}/attachments/{attachment_id}",
    response={401: ErrorOut, 404: ErrorOut},
    summary="Download an attachment",
    openapi_extra={"responses": {"200": {"description": "The image", "content": {"image/*": {}}}}},
)
def download_attachment(
    request: HttpRequest,
    number: str,
    attachment_id: int,
    variant: Literal["original", "public", "thumbnail"] = "original",
):
    """The stored file for a case the caller may see: the ``original`` (evidence, with its
    metadata), the ``public`` copy (no GPS or camera data, at most 2048 px) or a ``thumbnail``."""
    case = visible_case(request.auth, number)
    attachment = Attachment.objects.filter(case=case, pk=attachment_id).first()
    if attachment is None:
        raise NotFound(f"Case {number} has no attachment {attachment_id}.", field="attachment_id")
    if variant != "original":
        stored = attachment.public_file if variant == "public" else attachment.thumbnail
        if stored:
            return FileResponse(stored.open("rb"), content_type="image/jpeg")
    return FileResponse(attachment.file.open("rb"), content_type=attachment.content_type)


class PublishIn(Strict):
    published: bool = Field(..., description="true: show the public copy to the public; false: withdraw it.")


class PublishedOut(Schema):
    id: int
    published: bool
    published_at: dt.datetime | None
    published_by: str | None


@router.post(
    "/{number}/attachments/{attachment_id}/publication",
    response={200: PublishedOut, **_ERRORS},
    summary="Publish a photo for the public, or withdraw it",
)
def publish_attachment(request: HttpRequest, number: str, attachment_id: int, payload: PublishIn):
    """Photos reach the public map, the reporter's follow page and Open311 ``media_url`` only
    when an operator, shift lead or admin has looked at them and published them (faces and
    number plates stay private). Only the public copy (no metadata, at most 2048 px) is shown."""
    user: User = request.auth
    case = visible_case(user, number)
    attachment = Attachment.objects.filter(case=case, pk=attachment_id).first()
    if attachment is None:
        raise NotFound(f"Case {number} has no attachment {attachment_id}.", field="attachment_id")
    attachment = public.publish_photo(attachment, by=user, at=timezone.now(), publish=payload.published)
    return {
        "id": attachment.pk,
        "published": attachment.published_at is not None,
        "published_at": attachment.published_at,
        "published_by": attachment.published_by.username if attachment.published_by_id else None,
    }


# ---------------------------------------------------------------- call-backs (回访)


class CallbackIn(Strict):
    version: int = Field(..., description="The case version you read (409 if it moved since).")
    outcome: Literal["satisfied", "unsatisfied", "unreachable"]
    remark: str = Field("", max_length=500)


class CallbackDue(Schema):
    number: str
    version: int
    category: str
    reporter_name: str
    reporter_phone: str
    closed_at: dt.datetime


@router.get("/callbacks/due", response={200: list[CallbackDue], **_ERRORS}, summary="Closed cases awaiting a call-back")
def callbacks_due(request: HttpRequest, limit: int = 100):
    """回访: closed cases reported by callers (hotline, citizens, Open311 apps) with a phone number
    that nobody has called back yet, oldest first, within your scope."""
    user: User = request.auth
    qs = case_service.awaiting_callback(Case.objects.restrict(user, "view")).select_related("category")
    rows = qs.order_by("closed_at", "id")[: max(1, min(limit, 500))]
    return [
        {
            "number": c.number,
            "version": c.version,
            "category": c.category.minor_name,
            "reporter_name": c.reporter_name,
            "reporter_phone": c.reporter_phone,
            "closed_at": c.closed_at,
        }
        for c in rows
    ]


@router.post("/{number}/callback", response={200: CaseDetail, **_ERRORS}, summary="Record a call-back")
def record_callback(request: HttpRequest, number: str, payload: CallbackIn):
    """回访结果: the caller was satisfied, unsatisfied or unreachable; kept on the case's record."""
    user: User = request.auth
    case = visible_case(user, number)
    case_service.record_callback(
        case.number,
        actor=user,
        version=payload.version,
        at=timezone.now(),
        outcome=payload.outcome,
        remark=payload.remark,
    )
    return _fresh_detail(case.number, user)
