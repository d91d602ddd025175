"""The demo's machine channels, with fixed keys that ``citykeeper demo`` prints so anyone can
try a real Open311 client or post a camera event at once: one Open311 key for the demo app,
and in each gridded district a video-analytics camera whose event types map to categories.

These keys are public (they are in this file): never load the demo city into a production
database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from citykeeper.demo.city import GRIDDED
from citykeeper.services import devices, open311
from citykeeper.store.models import Category, DeviceEventType
from citykeeper.store.models.codebook import Standard

OPEN311_CLIENT = "徐州城市管家App（Open311）"
DEMO_OPEN311_KEY = "o311_citykeeper-demo"

# What the video-analytics boxes recognise, and the category each event becomes.
EVENT_TYPES = (
    ("garbage_exposed", "暴露垃圾"),
    ("garbage_overflow", "垃圾站（箱）满溢"),
    ("street_vending", "占道经营"),
    ("shop_outside", "店外经营"),
    ("bicycle_parking", "非机动车乱停放"),
    ("outdoor_barbecue", "露天烧烤"),
)


@dataclass(frozen=True)
class DemoCamera:
    code: str
    name: str
    key: str


def camera_code(district_code: str) -> str:
    return f"CAM-{district_code}-01"


def camera_key(district_code: str) -> str:
    return f"dev_citykeeper-demo-{district_code}"


def build_channels(city, *, now: dt.datetime) -> list[DemoCamera]:
    """The Open311 key, the event types and one camera at the centre of each gridded core."""
    open311.issue_key(OPEN311_CLIENT, at=now, rate_per_minute=120, plaintext=DEMO_OPEN311_KEY)
    for event_type, minor_name in EVENT_TYPES:
        category = (
            Category.objects.filter(
                minor_name=minor_name, active=True, standard__in=[Standard.GB_47678, Standard.LOCAL]
            )
            .order_by("pk")
            .first()
        )
        if category is not None:
            DeviceEventType.objects.create(event_type=event_type, category=category)
    cameras = []
    seen: set[str] = set()
    for grid in city.grids:
        district = grid.district
        if not grid.is_core or district.code in seen:
            continue
        seen.add(district.code)
        point = grid.geometry.representative_point()
        name = camera_name(district)
        devices.register(
            camera_code(district.code),
            name,
            lon=round(point.x, 6),
            lat=round(point.y, 6),
            plaintext=camera_key(district.code),
        )
        cameras.append(DemoCamera(camera_code(district.code), name, camera_key(district.code)))
    return cameras


def camera_name(district) -> str:
    return f"{district.short}区 路口智能球机01"


def demo_cameras() -> list[DemoCamera]:
    """The demo's cameras, one per gridded district (for the banner; no database needed)."""
    return [DemoCamera(camera_code(d.code), camera_name(d), camera_key(d.code)) for d in GRIDDED]


def event_types_by_category() -> dict[int, str]:
    return dict(DeviceEventType.objects.values_list("category_id", "event_type"))
