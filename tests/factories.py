"""Domain-named builders for tests: a small city, its units, one persona per role.

``make_city()`` builds two districts with one street, community and unit grid each,
so scoping tests have a "their district" and an "other district".
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from citykeeper.domain.workflow import Role
from citykeeper.services import cases as case_service
from citykeeper.services.calendar import invalidate, seed_calendar
from citykeeper.store.models import (
    Area,
    Case,
    Category,
    ClosingCondition,
    Component,
    FilingCondition,
    RoleGrant,
    StageLimit,
    Unit,
    User,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
_seq = itertools.count(1)


def local(*args) -> dt.datetime:
    """An aware instant in the city's time zone: ``local(2026, 11, 23, 9, 0)``."""
    return dt.datetime(*args, tzinfo=SHANGHAI)


# A Monday morning in an ordinary working week (no holiday nearby).
MONDAY_9AM = local(2026, 11, 23, 9, 0)


@dataclass
class City:
    city: Area
    district: Area
    other_district: Area
    grid: Area
    other_grid: Area
    unit: Unit
    other_unit: Unit
    category: Category
    condition: FilingCondition
    urgent_condition: FilingCondition


def make_area(code, name, level, parent=None, area_class=""):
    return Area.objects.create(code=code, name=name, level=level, parent=parent, area_class=area_class)


def make_city() -> City:
    seed_calendar([2025, 2026])
    invalidate()
    city = make_area("320300", "徐州市", "city")
    district = make_area("320302", "鼓楼区", "district", city, area_class="A")
    street = make_area("320302001", "鼓楼街道01", "street", district)
    community = make_area("320302001001", "第一社区", "community", street)
    grid = make_area("320302001001001", "320302001001001", "grid", community)
    other = make_area("320303", "云龙区", "district", city, area_class="B")
    other_street = make_area("320303001", "云龙街道01", "street", other)
    other_community = make_area("320303001001", "第一社区", "community", other_street)
    other_grid = make_area("320303001001001", "320303001001001", "grid", other_community)
    unit = Unit.objects.create(code="U-GL-SZ", name="鼓楼区市政所", kind="department", level="district", area=district)
    other_unit = Unit.objects.create(
        code="U-YL-HW", name="云龙区环卫所", kind="department", level="district", area=other
    )
    category = Category.objects.create(
        standard="GB/T 47678.5-2026",
        kind="component",
        major_code="01",
        major_name="市政公用设施",
        minor_code="01002",
        minor_name="污水井盖",
    )
    closing = ClosingCondition.objects.create(category=category, text="更换或修复")
    condition = FilingCondition.objects.create(
        category=category,
        seq=1,
        text="破损超过25c㎡",
        limit_value=4,
        limit_unit="work_hours",
        closing_condition=closing,
    )
    urgent_condition = FilingCondition.objects.create(
        category=category,
        seq=2,
        text="缺失、移位，存在安全隐患的",
        limit_value=2,
        limit_unit="natural_hours",
        urgent=True,
        closing_condition=closing,
    )
    for stage, value, unit_name in [
        ("accept", 15, "minutes"),
        ("verify", 30, "minutes"),
        ("file", 15, "minutes"),
        ("dispatch", 15, "minutes"),
        ("dispose", 3, "work_days"),
        ("check", 30, "minutes"),
        ("close", 15, "minutes"),
    ]:
        StageLimit.objects.create(stage=stage, limit_value=value, limit_unit=unit_name)
    return City(city, district, other, grid, other_grid, unit, other_unit, category, condition, urgent_condition)


def make_user(username: str, *roles: Role, area: Area | None = None, unit: Unit | None = None, **extra) -> User:
    user = User.objects.create_user(
        username=username, password="pw-" + username, display_name=username, scope_area=area, scope_unit=unit, **extra
    )
    for role in roles:
        RoleGrant.objects.create(user=user, role=role)
    return user


@dataclass
class Personas:
    """One person per role in the first district, plus a few outsiders."""

    inspector: User
    other_inspector: User
    operator: User
    shift_lead: User
    dispatcher: User
    handler: User
    other_handler: User
    leader: User
    citizen: User
    outside_operator: User
    city_operator: User


def make_personas(c: City) -> Personas:
    return Personas(
        inspector=make_user("inspector", Role.INSPECTOR, area=c.district),
        other_inspector=make_user("inspector2", Role.INSPECTOR, area=c.district),
        operator=make_user("operator", Role.OPERATOR, area=c.district),
        shift_lead=make_user("shiftlead", Role.SHIFT_LEAD, area=c.district),
        dispatcher=make_user("dispatcher", Role.DISPATCHER, area=c.district),
        handler=make_user("handler", Role.UNIT_HANDLER, unit=c.unit),
        other_handler=make_user("handler2", Role.UNIT_HANDLER, unit=c.other_unit),
        leader=make_user("leader", Role.LEADER, area=c.city),
        citizen=make_user("citizen", Role.CITIZEN),
        outside_operator=make_user("operator_yl", Role.OPERATOR, area=c.other_district),
        city_operator=make_user("operator_city", Role.OPERATOR, area=c.city),
    )


def report_case(c: City, p: Personas, *, at=MONDAY_9AM, source="inspector", grid=None, **kw) -> Case:
    reporter = p.inspector if source == "inspector" else (p.citizen if source == "citizen" else p.operator)
    return case_service.report(
        actor=kw.pop("actor", reporter),
        source=source,
        category=kw.pop("category", c.category),
        area=grid or c.grid,
        at=at,
        description=kw.pop("description", "井盖破损"),
        lon=117.18,
        lat=34.26,
        **kw,
    )


def make_component(city: City, *, maintainer=None, owner=None, code="32030201002000001") -> Component:
    """A 污水井盖 in the test grid."""
    return Component.objects.create(
        code=code,
        name="污水井盖",
        category=city.category,
        geometry_kind="point",
        geometry={"type": "Point", "coordinates": [117.18, 34.26]},
        lon=117.18,
        lat=34.26,
        grid=city.grid,
        area_path=city.grid.path,
        surveyed_on=dt.date(2026, 3, 1),
        maintainer_unit=maintainer,
        owner_unit=owner,
        updated_at=MONDAY_9AM,
    )


def map_city(c: City) -> City:
    """Give the test city boundaries: two 0.01° unit grids side by side in the first district,
    west (its grid …001, 117.17–117.18 E) and east (a new grid …002, 117.18–117.19 E),
    34.25–34.26 N; the district, street and community cover both."""
    from shapely.geometry import box, mapping

    from citykeeper.services import locating

    for area in Area.objects.filter(code__in=[c.district.code, "320302001", "320302001001"]):
        area.geometry = mapping(box(117.17, 34.25, 117.19, 34.26))
        area.save()
    c.grid.geometry = mapping(box(117.17, 34.25, 117.18, 34.26))
    c.grid.save()
    Area.objects.create(
        code="320302001001002",
        name="320302001001002",
        level="grid",
        parent=c.grid.parent,
        geometry=mapping(box(117.18, 34.25, 117.19, 34.26)),
    )
    locating.invalidate()
    return c


def close_case(c: City, p: Personas, case: Case, *, at=MONDAY_9AM) -> Case:
    """Walk a reported case the whole way to 结案 (verifying it first when its source needs it),
    a minute per step from ``at``."""
    from citykeeper.services.cases import FIRST_HAND_SOURCES, MoveInput

    steps = []
    if case.source not in FIRST_HAND_SOURCES:
        steps += [
            (case_service.send_verify, p.operator, MoveInput(assignee=p.inspector)),
            (case_service.verify, p.inspector, MoveInput(found=True)),
        ]
    steps += [
        (case_service.accept, p.operator, MoveInput()),
        (case_service.file, p.shift_lead, MoveInput(condition=c.condition)),
        (case_service.dispatch, p.dispatcher, MoveInput(unit=c.unit)),
        (case_service.dispose, p.handler, MoveInput(reason="已处理完毕")),
        (case_service.send_check, p.operator, MoveInput(assignee=p.inspector)),
        (case_service.check_pass, p.inspector, MoveInput()),
        (case_service.close, p.shift_lead, MoveInput()),
    ]
    for minutes, (verb, actor, data) in enumerate(steps, start=1):
        case = verb(case.number, actor=actor, version=case.version, at=at + dt.timedelta(minutes=minutes), data=data)
    return case
