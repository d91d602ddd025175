"""The demo city of 徐州: real district outlines, generated grids, units and people.

Districts and the city outline are real (GCJ-02 files converted to WGS84). Street
offices, communities and unit grids are generated inside an urban core of the three
central districts (鼓楼, 云龙, 泉山) and marked ``synthetic``; see
``data/geo/SOURCES.md``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import shapely
from django.contrib.auth.hashers import make_password
from shapely.geometry.base import BaseGeometry

from citykeeper.domain.workflow import Role
from citykeeper.spatial import crs
from citykeeper.spatial import grid as gridgen
from citykeeper.store.models import Area, RoleGrant, Unit, User

CITY_CODE = "320300"
CITY_NAME = "徐州市"
DEMO_PASSWORD = "citykeeper-demo"

CITY_FILE = gridgen.BUNDLED_GEO_DIR / "320300_xuzhou_city.geojson"
DISTRICTS_FILE = gridgen.BUNDLED_GEO_DIR / "320300_xuzhou_districts.geojson"


@dataclass(frozen=True)
class GriddedDistrict:
    """A central district whose urban core gets streets, communities and unit grids."""

    code: str
    slug: str  # ASCII, for usernames
    short: str
    centre: tuple[float, float]  # WGS84 lon/lat of the gridded core's centre
    streets: int
    communities_per_street: int
    roads: tuple[str, ...]  # road names used in generated addresses


# Centres chosen inside each district near the old city centre (彭城广场, about
# 117.19E 34.26N), where a 3 km square stays ~99 % inside the district.
GRIDDED = (
    GriddedDistrict(
        "320302",
        "gulou",
        "鼓楼",
        (117.190, 34.290),
        4,
        4,
        ("中山北路", "黄河北路", "民主北路", "复兴北路", "煤港路", "下淀路", "平山路", "琵琶路"),
    ),
    GriddedDistrict(
        "320303",
        "yunlong",
        "云龙",
        (117.215, 34.260),
        3,
        4,
        ("淮海东路", "建国东路", "和平路", "民主南路", "解放南路", "子房路", "大马路", "户部山路"),
    ),
    GriddedDistrict(
        "320311",
        "quanshan",
        "泉山",
        (117.160, 34.260),
        4,
        3,
        ("湖北路", "建国西路", "中山南路", "矿山路", "淮海西路", "泰山路", "二环西路", "三环西路"),
    ),
)
CORE_SIDE_M = 3000.0
GRID_CELL_M = 100.0
# Unit grids whose centre lies this close to the core's centre are class A (核心区).
CLASS_A_RADIUS_M = 1000.0


@dataclass(frozen=True)
class UnitSpec:
    key: str
    code: str
    name: str
    kind: str
    group: str


# City-level departments and utilities (责任单位). Names are generic, not real bodies.
UNIT_SPECS = (
    UnitSpec("szgc", "XZ-SZGC", "徐州市市政工程处", "department", "市级专业部门"),
    UnitSpec("srhw", "XZ-SRHW", "徐州市市容环卫处", "department", "市级专业部门"),
    UnitSpec("yllh", "XZ-YLLH", "徐州市园林绿化处", "department", "市级专业部门"),
    UnitSpec("cgzf", "XZ-CGZF", "徐州市城管执法支队", "department", "市级专业部门"),
    UnitSpec("ldgl", "XZ-LDGL", "徐州市路灯管理处", "department", "市级专业部门"),
    UnitSpec("water", "XZ-GS", "徐州供水公司", "company", "公用事业企业"),
    UnitSpec("drain", "XZ-PS", "徐州排水公司", "company", "公用事业企业"),
    UnitSpec("gas", "XZ-RQ", "徐州燃气公司", "company", "公用事业企业"),
    UnitSpec("power", "XZ-DL", "徐州供电公司", "company", "公用事业企业"),
    UnitSpec("telecom", "XZ-TX", "徐州通信管线公司", "company", "公用事业企业"),
)
STREET_OFFICE_GROUP = "街道办事处"


@dataclass(frozen=True)
class Login:
    role: str
    username: str
    display_name: str
    note: str = ""


# The one login per role that `citykeeper demo` prints.
LOGINS = (
    Login("inspector", "inspector", "张伟", "监督员（全市）"),
    Login("operator", "operator", "李娜", "受理员（全市）"),
    Login("shift_lead", "shiftlead", "王强", "值班长"),
    Login("dispatcher", "dispatcher", "刘洋", "派遣员"),
    Login("unit_handler", "handler", "陈刚", "处置单位：徐州市市政工程处"),
    Login("leader", "leader", "赵敏", "领导"),
    Login("evaluator", "evaluator", "孙丽", "考评员"),
    Login("admin", "admin", "周杰", "系统管理员（超级用户）"),
    Login("citizen", "citizen", "吴芳", "市民"),
)
# District-scoped logins (same password), printed as one line.
DISTRICT_LOGINS = (
    "gulou_operator",
    "gulou_inspector",
    "yunlong_operator",
    "yunlong_inspector",
    "quanshan_operator",
    "quanshan_inspector",
)

# District staff: (suffix, role, display name); usernames are "<slug>_<suffix>".
DISTRICT_STAFF = (
    ("inspector", Role.INSPECTOR, "监督员甲"),
    ("inspector2", Role.INSPECTOR, "监督员乙"),
    ("operator", Role.OPERATOR, "受理员"),
)

_SURNAMES = "张王李赵刘陈杨黄周吴徐孙马朱胡郭何林高罗"
_GIVEN = (
    "建国",
    "海涛",
    "秀英",
    "志强",
    "晓东",
    "丽华",
    "红梅",
    "文博",
    "子涵",
    "国庆",
    "春雷",
    "雪梅",
    "立新",
    "玉兰",
    "永刚",
    "静怡",
    "明辉",
    "淑珍",
)


@dataclass
class GridInfo:
    area: Area
    district: GriddedDistrict
    street_code: str
    community_name: str
    geometry: BaseGeometry
    is_core: bool


@dataclass
class DemoCity:
    city: Area
    districts: dict[str, Area]
    grids: list[GridInfo]
    units: dict[str, Unit]
    street_units: dict[str, Unit]
    users: dict[str, User]
    area_counts: dict[str, int] = field(default_factory=dict)
    # Users by district code: inspectors and operators who cover it (city staff included).
    inspectors: dict[str, list[User]] = field(default_factory=dict)
    district_inspectors: dict[str, list[User]] = field(default_factory=dict)
    operators: dict[str, list[User]] = field(default_factory=dict)
    handlers: dict[int, User] = field(default_factory=dict)  # unit pk -> handler


# ------------------------------------------------------------------------ geometry


def _rounded(geom: BaseGeometry, digits: int = 7) -> BaseGeometry:
    # 1e-7 degree is ~1 cm: plenty for boundaries, and keeps the JSON compact.
    return shapely.transform(geom, lambda coords: np.round(coords, digits))


def _geojson(geom: BaseGeometry) -> dict:
    return json.loads(shapely.to_geojson(_rounded(geom)))


def _centroid(geom: BaseGeometry) -> tuple[float, float]:
    point = geom.centroid
    if not geom.contains(point):  # a ring-shaped district (铜山) has its centroid outside
        point = geom.point_on_surface()
    return round(point.x, 7), round(point.y, 7)


def _area_row(
    code: str,
    name: str,
    level: str,
    parent: Area | None,
    geom: BaseGeometry,
    *,
    area_m2: float | None = None,
    area_class: str = "",
    synthetic: bool = False,
) -> Area:
    lon, lat = _centroid(geom)
    row = Area(
        code=code,
        name=name,
        level=level,
        parent=parent,
        area_class=area_class,
        geometry=_geojson(geom),
        centroid_lon=lon,
        centroid_lat=lat,
        area_m2=round(area_m2 if area_m2 is not None else crs.area_m2(geom), 1),
        synthetic=synthetic,
    )
    row.path = f"{parent.path}/{code}" if parent is not None else code
    return row


def build_areas() -> tuple[Area, dict[str, Area], list[GridInfo], dict[str, Area], dict[str, int]]:
    """City, the ten real districts, and the generated tree of the three central ones."""
    ((_, city_geom),) = gridgen.load_geojson_features(CITY_FILE, transform=crs.gcj02_to_wgs84)
    city = _area_row(CITY_CODE, CITY_NAME, "city", None, city_geom)
    city.save()

    gridded = {d.code: d for d in GRIDDED}
    features = gridgen.load_geojson_features(DISTRICTS_FILE, transform=crs.gcj02_to_wgs84)
    district_rows, district_geoms = [], {}
    for props, geom in sorted(features, key=lambda f: f[0]["adcode"]):
        code = props["adcode"]
        district_geoms[code] = geom
        district_rows.append(
            _area_row(code, props["name"], "district", city, geom, area_class="B" if code in gridded else "C")
        )
    Area.objects.bulk_create(district_rows)
    districts = {a.code: a for a in Area.objects.filter(level="district", parent=city)}

    streets: dict[str, Area] = {}
    grids: list[GridInfo] = []
    counts = {"city": 1, "district": len(districts), "street": 0, "community": 0, "grid": 0}
    for spec in GRIDDED:
        district = districts[spec.code]
        generated = gridgen.generate_hierarchy(
            district_geoms[spec.code],
            district_code=spec.code,
            district_name=district.name,
            street_count=spec.streets,
            communities_per_street=spec.communities_per_street,
            grid_cell_m=GRID_CELL_M,
            clip_to=gridgen.square_around(*spec.centre, CORE_SIDE_M),
        )
        epsg = generated.epsg
        centre_xy = crs.to_projected(shapely.Point(*spec.centre), epsg)

        street_rows = [
            _area_row(s.code, s.name, "street", district, s.geometry, area_m2=s.area_m2, synthetic=True)
            for s in generated.streets
        ]
        Area.objects.bulk_create(street_rows)
        street_by_code = {a.code: a for a in street_rows}
        streets.update(street_by_code)

        community_rows, community_children = [], []
        for s in generated.streets:
            for c in s.children:
                community_rows.append(
                    _area_row(
                        c.code,
                        c.name,
                        "community",
                        street_by_code[s.code],
                        c.geometry,
                        area_m2=c.area_m2,
                        synthetic=True,
                    )
                )
                community_children.append(c)
        Area.objects.bulk_create(community_rows)

        grid_rows, grid_meta = [], []
        for community, c in zip(community_rows, community_children, strict=True):
            centres = crs.to_projected(shapely.centroid(np.asarray([g.geometry for g in c.children])), epsg)
            for g, centre in zip(c.children, centres, strict=True):
                core = shapely.distance(centre, centre_xy) <= CLASS_A_RADIUS_M
                grid_rows.append(
                    _area_row(
                        g.code,
                        g.name,
                        "grid",
                        community,
                        g.geometry,
                        area_m2=g.area_m2,
                        area_class="A" if core else "B",
                        synthetic=True,
                    )
                )
                grid_meta.append((spec, community.parent.code, community.name, g.geometry, core))
        Area.objects.bulk_create(grid_rows, batch_size=500)
        for row, (d, street_code, community_name, geom, core) in zip(grid_rows, grid_meta, strict=True):
            grids.append(GridInfo(row, d, street_code, community_name, geom, core))
        counts["street"] += len(street_rows)
        counts["community"] += len(community_rows)
        counts["grid"] += len(grid_rows)
    return city, districts, grids, streets, counts


# ------------------------------------------------------------------------ units


def build_units(city: Area, streets: dict[str, Area]) -> tuple[dict[str, Unit], dict[str, Unit]]:
    rows = [
        Unit(code=s.code, name=s.name, kind=s.kind, level="city", evaluation_group=s.group, area=city)
        for s in UNIT_SPECS
    ]
    street_rows = [
        Unit(
            code=f"JD-{street.code}",
            name=f"{street.name}办事处",
            kind="street_office",
            level="street",
            evaluation_group=STREET_OFFICE_GROUP,
            area=street,
        )
        for street in sorted(streets.values(), key=lambda a: a.code)
    ]
    Unit.objects.bulk_create(rows + street_rows)
    by_code = {u.code: u for u in Unit.objects.all()}
    units = {s.key: by_code[s.code] for s in UNIT_SPECS}
    street_units = {code: by_code[f"JD-{code}"] for code in streets}
    return units, street_units


# ------------------------------------------------------------------------ people


def _phone(n: int) -> str:
    return f"1385216{n:04d}"


def build_people(
    city: Area, districts: dict[str, Area], units: dict[str, Unit], street_units: dict[str, Unit]
) -> tuple[dict[str, User], dict[int, User]]:
    """One login per role (city scope), district staff, and one handler per unit.

    Every account gets the demo password; it is hashed once and shared, because
    hashing it per user would cost most of a second each.
    """
    password = make_password(DEMO_PASSWORD)
    users: list[tuple[User, list[str]]] = []
    n = 0

    def add(username, display, roles, *, area=None, unit=None, **extra):
        nonlocal n
        n += 1
        user = User(
            username=username,
            display_name=display,
            password=password,
            scope_area=area,
            scope_unit=unit,
            phone=_phone(n),
            **extra,
        )
        users.append((user, [str(r) for r in roles]))
        return user

    for login in LOGINS:
        role = Role(login.role)
        if role == Role.UNIT_HANDLER:
            add(login.username, login.display_name, [role], unit=units["szgc"])
        elif role == Role.CITIZEN:
            add(login.username, login.display_name, [role])
        elif role == Role.ADMIN:
            add(login.username, login.display_name, [role], area=city, is_staff=True, is_superuser=True)
        else:
            add(login.username, login.display_name, [role], area=city, is_staff=False)
    for spec in GRIDDED:
        for suffix, role, label in DISTRICT_STAFF:
            name = _SURNAMES[n % len(_SURNAMES)] + _GIVEN[n % len(_GIVEN)]
            add(f"{spec.slug}_{suffix}", f"{name}（{spec.short}{label}）", [role], area=districts[spec.code])
    for spec in UNIT_SPECS:
        if spec.key == "szgc":
            continue  # the printed `handler` login
        name = _SURNAMES[n % len(_SURNAMES)] + _GIVEN[(n * 7) % len(_GIVEN)]
        add(f"handler_{spec.key}", f"{name}（{spec.name}）", [Role.UNIT_HANDLER], unit=units[spec.key])
    for code, unit in sorted(street_units.items()):
        name = _SURNAMES[n % len(_SURNAMES)] + _GIVEN[(n * 5) % len(_GIVEN)]
        add(f"handler_{code}", f"{name}（{unit.name}）", [Role.UNIT_HANDLER], unit=unit)
    for i in range(1, 4):
        add(f"citizen{i + 1}", f"市民{_SURNAMES[(n + i) % len(_SURNAMES)]}先生", [Role.CITIZEN])

    User.objects.bulk_create([u for u, _ in users])
    saved = {
        u.username: u
        for u in User.objects.filter(username__in=[u.username for u, _ in users]).select_related(
            "scope_area", "scope_unit"
        )
    }
    grants = [RoleGrant(user=saved[u.username], role=r) for u, roles in users for r in roles]
    RoleGrant.objects.bulk_create(grants)
    for u, roles in users:
        saved[u.username]._roles_cache = frozenset(Role(r) for r in roles)
    handlers = {}
    for user in saved.values():
        if user.scope_unit_id is not None and Role.UNIT_HANDLER in user.roles:
            handlers.setdefault(user.scope_unit_id, user)
    handlers[units["szgc"].pk] = saved["handler"]
    return saved, handlers


def demo_usernames() -> list[str]:
    """Every username the demo creates (they must be free)."""
    names = [login.username for login in LOGINS]
    names += [f"{d.slug}_{suffix}" for d in GRIDDED for suffix, _, _ in DISTRICT_STAFF]
    names += [f"handler_{s.key}" for s in UNIT_SPECS if s.key != "szgc"]
    names += [f"handler_{d.code}{i:03d}" for d in GRIDDED for i in range(1, d.streets + 1)]
    names += [f"citizen{i}" for i in range(2, 5)]
    return names


def build_city() -> DemoCity:
    city, districts, grids, streets, counts = build_areas()
    units, street_units = build_units(city, streets)
    users, handlers = build_people(city, districts, units, street_units)
    demo = DemoCity(city, districts, grids, units, street_units, users, counts, handlers=handlers)
    for spec in GRIDDED:
        local_inspectors = [users[f"{spec.slug}_inspector"], users[f"{spec.slug}_inspector2"]]
        demo.district_inspectors[spec.code] = local_inspectors
        demo.inspectors[spec.code] = [*local_inspectors, users["inspector"]]
        demo.operators[spec.code] = [users[f"{spec.slug}_operator"], users["operator"]]
    return demo
