"""Camera and AI events: folding into one pending case, confirmation, false alarms, refusals."""

from __future__ import annotations

import base64
import datetime as dt

from django.test import Client
from django.utils import timezone

from citykeeper.services import cases as svc
from citykeeper.services import devices
from citykeeper.store.models import Case, DeviceEventType
from tests.factories import map_city

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def camera(city):
    map_city(city)
    DeviceEventType.objects.create(event_type="manhole_broken", category=city.category)
    return devices.register("CAM-GL-001", "彭城路口球机", lon=117.175, lat=34.255, fold_minutes=30, fold_radius_m=30)


def send(key, **body):
    return Client().post("/api/v1/devices/events", body, content_type="application/json", headers={"X-Device-Key": key})


def test_events_of_one_type_nearby_fold_into_one_pending_case_with_the_snapshot(api, city, people):
    _device, key = camera(city)
    first = send(key, event_type="manhole_broken", confidence=0.91, snapshot_base64=base64.b64encode(PNG).decode())
    assert first.status_code == 201, first.json()
    again = send(key, event_type="manhole_broken", confidence=0.88, lon=117.1751, lat=34.2550)
    assert again.status_code == 200 and again.json()["case"] == first.json()["case"]
    case = Case.objects.get(number=first.json()["case"])
    assert (case.source, case.source_detail, case.state) == ("camera", "CAM-GL-001", "reported")
    assert case.attachment_set.count() == 1 and case.device_events.count() == 2
    elsewhere = send(key, event_type="manhole_broken", confidence=0.9, lon=117.185, lat=34.255)
    assert elsewhere.status_code == 201 and elsewhere.json()["case"] != case.number


def test_an_operator_confirms_one_case_and_dismisses_another_and_the_false_alarm_rate_follows(api, city, people):
    _device, key = camera(city)
    kept = send(key, event_type="manhole_broken", confidence=0.9).json()["case"]
    dismissed = send(key, event_type="manhole_broken", confidence=0.9, lon=117.185, lat=34.255).json()["case"]
    at = timezone.now()
    svc.accept(kept, actor=people.operator, version=1, at=at)  # a snapshot is first-hand: no verify task
    svc.reject(dismissed, actor=people.operator, version=1, at=at, data=svc.MoveInput(reason="误报：阴影"))
    stats = api(people.operator).get("/devices/CAM-GL-001/stats").json()
    assert stats == {"events": 2, "cases": 2, "pending": 0, "confirmed": 1, "false_alarms": 1, "false_alarm_rate": 0.5}


def test_unknown_keys_types_low_confidence_bad_snapshots_and_positions_outside_store_nothing(api, city, people):
    device, key = camera(city)
    assert send("dev_nope", event_type="manhole_broken", confidence=0.9).status_code == 401
    cases = [
        ({"event_type": "ufo", "confidence": 0.9}, "event_type"),
        ({"event_type": "manhole_broken", "confidence": 0.2}, "confidence"),
        ({"event_type": "manhole_broken", "confidence": 0.9, "snapshot_base64": "%%%"}, "snapshot_base64"),
        ({"event_type": "manhole_broken", "confidence": 0.9, "lon": 117.9, "lat": 34.1}, "location"),
        (
            {"event_type": "manhole_broken", "confidence": 0.9, "snapshot_base64": base64.b64encode(b"hello").decode()},
            "file",
        ),
        (
            {
                "event_type": "manhole_broken",
                "confidence": 0.9,
                "at": (timezone.now() + dt.timedelta(hours=2)).isoformat(),
            },
            "at",
        ),
    ]
    for body, field in cases:
        response = send(key, **body)
        assert response.status_code in (413, 415, 422), (body, response.status_code)
        assert response.json().get("field") == field, (body, response.json())
    assert not Case.objects.exists() and not device.events.exists()


def test_a_device_flooding_the_webhook_is_refused_after_its_budget_and_stores_nothing_more(
    api, city, people, monkeypatch
):
    from citykeeper.api.v1 import devices as device_api
    from citykeeper.store.models import DeviceEvent

    monkeypatch.setattr(device_api, "DEVICE_EVENTS_PER_MINUTE", 3)
    _device, key = camera(city)
    codes = [send(key, event_type="manhole_broken", confidence=0.9).status_code for _ in range(4)]
    assert codes == [201, 200, 200, 429]
    assert DeviceEvent.objects.count() == 3
    refused = send(key, event_type="manhole_broken", confidence=0.9)
    assert refused.json()["code"] == "throttled" and "retry in" in refused.json()["detail"]
