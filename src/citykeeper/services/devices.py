"""Camera and AI events (视频/物联感知): a device reports what it saw; events of one type at
one place within the device's window fold into one pending case, which waits for an
operator to confirm it (accept) or dismiss it as a false alarm (reject).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
import secrets
from dataclasses import dataclass

from django.db import transaction

from citykeeper.domain.errors import InvalidInput, NotPermitted
from citykeeper.domain.workflow import State
from citykeeper.services import attachments, locating
from citykeeper.services import cases as case_service
from citykeeper.services.duplicates import metres
from citykeeper.store.models import Case, Device, DeviceEvent, DeviceEventType
from citykeeper.store.models.cases import Source

log = logging.getLogger(__name__)
KEY_MARK = "dev_"


def _hash(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def register(
    code: str, name: str, *, lon: float, lat: float, kind: str = "camera", plaintext: str | None = None, **options
) -> tuple[Device, str]:
    """A new device and its key (returned once; only the hash is kept). A given ``plaintext``
    is for the demo city only."""
    locating.grid_for(lon, lat)  # a device stands inside the city's grids
    plaintext = plaintext or KEY_MARK + secrets.token_urlsafe(24)
    device = Device.objects.create(
        code=code, name=name, kind=kind, lon=lon, lat=lat, key_hash=_hash(plaintext), prefix=plaintext[:12], **options
    )
    return device, plaintext


def authenticate(plaintext: str | None) -> Device:
    device = Device.objects.filter(key_hash=_hash((plaintext or "")[:200])).first() if plaintext else None
    if device is None or not device.active:
        raise NotPermitted("Unknown or disabled device key (send it in the X-Device-Key header).", field="key")
    return device


@dataclass(frozen=True)
class Received:
    event: DeviceEvent
    case: Case
    new_case: bool


def receive(
    device: Device,
    *,
    event_type: str,
    confidence: float,
    at: dt.datetime,
    now: dt.datetime,
    lon: float | None = None,
    lat: float | None = None,
    snapshot=None,
) -> Received:
    """Record one event; fold it into the device's pending case of that type nearby within
    the window, or open a new one. Nothing is stored when anything is refused."""
    mapping = DeviceEventType.objects.select_related("category").filter(event_type=event_type).first()
    if mapping is None:
        known = ", ".join(DeviceEventType.objects.values_list("event_type", flat=True)[:30])
        raise InvalidInput(
            f"Unknown event_type '{event_type}' (known: {known or 'none configured'}).", field="event_type"
        )
    if not (isinstance(confidence, int | float) and math.isfinite(confidence) and 0 <= confidence <= 1):
        raise InvalidInput("confidence must be a number from 0 to 1.", field="confidence")
    if confidence < device.min_confidence:
        raise InvalidInput(
            f"confidence {confidence:.2f} is below this device's threshold {device.min_confidence:.2f}; not reported.",
            field="confidence",
        )
    if at > now + dt.timedelta(minutes=5):
        raise InvalidInput("The event time lies in the future.", field="at")
    lon = device.lon if lon is None else lon
    lat = device.lat if lat is None else lat
    area = locating.grid_for(lon, lat)
    category = mapping.category
    checked = attachments.check_image(snapshot) if snapshot is not None else None
    with transaction.atomic():
        pending = (
            Case.objects.select_for_update()
            .filter(
                source=Source.CAMERA,
                source_detail=device.code,
                category=category,
                state=State.REPORTED,
                reported_at__gte=at - dt.timedelta(minutes=device.fold_minutes),
            )
            .order_by("-reported_at")
        )
        case = next((c for c in pending if metres(lon, lat, c.lon, c.lat) <= device.fold_radius_m), None)
        new_case = case is None
        if new_case:
            case = case_service.report(
                actor=None,
                source=Source.CAMERA,
                category=category,
                area=area,
                at=at,
                description=f"{device.name}识别：{category.minor_name}（置信度 {confidence:.2f}）",
                address=locating.describe(lon, lat)[1].text,
                lon=round(lon, 7),
                lat=round(lat, 7),
                source_detail=device.code,
                extra={"device": {"code": device.code, "event_type": event_type, "confidence": confidence}},
                photos=[checked] if checked is not None else None,
            )
        event = DeviceEvent.objects.create(
            device=device,
            event_type=event_type,
            at=at,
            received_at=now,
            confidence=confidence,
            lon=lon,
            lat=lat,
            case=case,
            new_case=new_case,
        )
        if checked is not None and not new_case:  # a folded event's snapshot joins the pending case
            attachments.save_checked(case, checked, by=None)
    log.info("device event", extra={"device": device.code, "case": case.number, "folded": not new_case})
    return Received(event, case, new_case)


def stats(device: Device) -> dict[str, float | int]:
    """Events, cases, and how many cases the operators confirmed or dismissed as false alarms."""
    cases = Case.objects.filter(source=Source.CAMERA, source_detail=device.code)
    decided_true = cases.exclude(state__in=[State.REPORTED, State.REJECTED]).count()
    false_alarms = cases.filter(state=State.REJECTED).count()
    decided = decided_true + false_alarms
    return {
        "events": device.events.count(),
        "cases": cases.count(),
        "pending": cases.filter(state=State.REPORTED).count(),
        "confirmed": decided_true,
        "false_alarms": false_alarms,
        "false_alarm_rate": round(false_alarms / decided, 3) if decided else 0.0,
    }
