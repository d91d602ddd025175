"""The webhook for cameras, video-analytics boxes and IoT sensors (视频/物联感知), and each
device's record of confirmed events and false alarms."""

from __future__ import annotations

import base64
import binascii
import datetime as dt

from django.core.files.base import ContentFile
from django.http import HttpRequest
from django.utils import timezone
from ninja import Router, Schema
from ninja.responses import Status
from ninja.security import APIKeyHeader
from pydantic import Field

from citykeeper.api.v1.errors import ApiError, ErrorOut
from citykeeper.domain.errors import InvalidInput, NotFound
from citykeeper.services import devices, throttle
from citykeeper.store.models import Device


class DeviceKey(APIKeyHeader):
    param_name = "X-Device-Key"

    def authenticate(self, request: HttpRequest, key: str | None):
        try:
            return devices.authenticate(key)
        except Exception:  # unknown or disabled: ninja answers 401
            return None


router = Router(tags=["devices"])
_ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 413: ErrorOut, 415: ErrorOut, 422: ErrorOut, 429: ErrorOut}


class EventIn(Schema):
    event_type: str = Field(..., max_length=50, description="The analytics' event type, mapped to a category.")
    confidence: float = Field(..., ge=0, le=1)
    at: dt.datetime | None = Field(None, description="When it was seen (default: now).")
    lon: float | None = Field(None, ge=-180, le=180, description="WGS84; default: the device's own position.")
    lat: float | None = Field(None, ge=-90, le=90)
    snapshot_base64: str | None = Field(None, description="A JPEG/PNG/WebP snapshot, base64.")


class EventOut(Schema):
    case: str = Field(..., description="The case the event was folded into.")
    new_case: bool
    event_id: int


DEVICE_EVENTS_PER_MINUTE = 120


@router.post(
    "/devices/events",
    auth=DeviceKey(),
    response={201: EventOut, 200: EventOut, **_ERRORS},
    summary="Report a device event",
)
def device_event(request: HttpRequest, payload: EventIn):
    """A camera or sensor reports what it saw, with its `X-Device-Key`. Events of the same type
    near the same place within the device's window fold into one pending case (answer 200);
    otherwise a new case waits for an operator's confirmation (201)."""
    now = timezone.now()
    # A box stuck in a loop must not fill the event table: each device gets a budget per minute.
    key = f"device:{request.auth.code}"
    if not throttle.allow(key, limit=DEVICE_EVENTS_PER_MINUTE, window=dt.timedelta(minutes=1), now=now):
        wait = throttle.retry_after(key, window=dt.timedelta(minutes=1), now=now)
        raise ApiError(
            429,
            "throttled",
            f"This device sent more than {DEVICE_EVENTS_PER_MINUTE} events this minute; retry in {wait} seconds.",
        )
    snapshot = None
    if payload.snapshot_base64:
        try:
            snapshot = ContentFile(base64.b64decode(payload.snapshot_base64, validate=True), name="snapshot")
        except (binascii.Error, ValueError):
            raise InvalidInput("snapshot_base64 is not valid base64.", field="snapshot_base64") from None
    at = payload.at or now
    if timezone.is_naive(at):
        at = timezone.make_aware(at)
    got = devices.receive(
        request.auth,
        event_type=payload.event_type,
        confidence=payload.confidence,
        at=at,
        now=now,
        lon=payload.lon,
        lat=payload.lat,
        snapshot=snapshot,
    )
    return Status(
        201 if got.new_case else 200, {"case": got.case.number, "new_case": got.new_case, "event_id": got.event.pk}
    )


class StatsOut(Schema):
    events: int
    cases: int
    pending: int
    confirmed: int
    false_alarms: int
    false_alarm_rate: float


@router.get(
    "/devices/{code}/stats", response={200: StatsOut, **_ERRORS}, summary="A device's confirmed events and false alarms"
)
def device_stats(request: HttpRequest, code: str):
    device = Device.objects.filter(code=code).first()
    if device is None:
        raise NotFound(f"No device with code {code}.", field="code")
    return devices.stats(device)
