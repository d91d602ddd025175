"""The demo city's base data: streets, a gazetteer, components along the streets,
responsibility grids and routing rules.

All of it is generated inside the gridded urban cores (see ``demo.city``) and is as
synthetic as the grids: roads follow the 300 m lines of the grid lattice, named from
the district's real road names, with doorplates and landmarks; street furniture is
placed along the roads at the spacings a survey would find, each piece with a 17-digit
GB/T 47678.5 code, its grid and its maintainer unit.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

import numpy as np
import shapely

from citykeeper.demo import catalog
from citykeeper.demo.city import CORE_SIDE_M, GRIDDED, DemoCity
from citykeeper.domain.routing import RuleKind
from citykeeper.services import locating
from citykeeper.spatial import grid as gridgen
from citykeeper.spatial.address import Gazetteer
from citykeeper.spatial.streets import StreetNetwork, generate_street_network, points_along
from citykeeper.store.bulk import insert_rows
from citykeeper.store.models import (
    Area,
    Category,
    Component,
    ComponentVersion,
    GazetteerEntry,
    ResponsibilityGrid,
    RoutingRule,
)
from citykeeper.store.models.codebook import Kind, Standard

SURVEYED_ON = dt.date(2025, 6, 30)  # the demo's component survey (部件普查)


@dataclass(frozen=True)
class Furniture:
    """One kind of street furniture: its category, spacing along a road and offset from the
    centre line (0: in the carriageway), how many rows (1: one side, 2: both sides) and the
    unit that maintains it."""

    minor_name: str
    step_m: float
    offset_m: float
    rows: int
    unit: str


FURNITURE = (
    Furniture("行道树", 8, 6, 2, "yllh"),
    Furniture("路灯", 35, 7, 2, "ldgl"),
    Furniture("雨水箅子", 30, 7, 2, "drain"),
    Furniture("污水井盖", 40, 0, 1, "drain"),
    Furniture("雨水井盖", 45, 2, 1, "drain"),
    Furniture("垃圾箱", 60, 7, 2, "srhw"),
    Furniture("交通护栏", 50, 1, 1, "szgc"),
    Furniture("供水井盖", 80, 3, 1, "water"),
    Furniture("电力井盖", 120, 4, 1, "power"),
    Furniture("通信井盖", 120, 5, 1, "telecom"),
    Furniture("燃气井盖", 150, 3, 1, "gas"),
    Furniture("消防设施", 150, 7, 1, "water"),
    Furniture("路名牌", 300, 8, 1, "szgc"),
    Furniture("公交站设施", 400, 8, 1, "szgc"),
)


@dataclass
class BaseDataResult:
    roads: int = 0
    doorplates: int = 0
    pois: int = 0
    components: int = 0
    responsibility_grids: int = 0
    routing_rules: int = 0
    gazetteers: dict[str, Gazetteer] = field(default_factory=dict)  # district code → gazetteer


def _point(lon: float, lat: float) -> dict:
    return {"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]}


def build_streets(demo: DemoCity, seed: int) -> tuple[BaseDataResult, dict[str, StreetNetwork]]:
    """Roads, doorplates and landmarks for each gridded core, stored as the gazetteer."""
    result = BaseDataResult()
    networks: dict[str, StreetNetwork] = {}
    entries: list[GazetteerEntry] = []
    for i, spec in enumerate(GRIDDED):
        district = Area.objects.only("geometry").get(pk=demo.districts[spec.code].pk)
        region = shapely.intersection(
            shapely.geometry.shape(district.geometry), gridgen.square_around(*spec.centre, CORE_SIDE_M)
        )
        net = generate_street_network(region, road_names=spec.roads, seed=seed + i, fill_prefix=spec.short)
        networks[spec.code] = net
        result.gazetteers[spec.code] = Gazetteer.build(net.roads, net.doorplates, net.pois)
        for road in net.roads:
            point = road.geometry.interpolate(0.5, normalized=True)
            geometry = json.loads(shapely.to_geojson(shapely.set_precision(road.geometry, 1e-7)))
            entries.append(GazetteerEntry(kind="road", name=road.name, geometry=geometry, lon=point.x, lat=point.y))
        entries += [
            GazetteerEntry(
                kind="doorplate", name=d.road, number=d.number, geometry=_point(d.lon, d.lat), lon=d.lon, lat=d.lat
            )
            for d in net.doorplates
        ]
        entries += [
            GazetteerEntry(
                kind="poi", name=p.name, poi_kind=p.kind, geometry=_point(p.lon, p.lat), lon=p.lon, lat=p.lat
            )
            for p in net.pois
        ]
        result.roads += len(net.roads)
        result.doorplates += len(net.doorplates)
        result.pois += len(net.pois)
    GazetteerEntry.objects.bulk_create(entries, batch_size=2000)
    return result, networks


def build_components(demo: DemoCity, networks: dict[str, StreetNetwork], seed: int, now: dt.datetime) -> int:
    """Street furniture along every road, in its grid, with codes, units and a first version."""
    categories = {
        c.minor_name: c
        for c in Category.objects.filter(
            standard=Standard.GB_47678, kind=Kind.COMPONENT, minor_name__in=[f.minor_name for f in FURNITURE]
        )
    }
    locating.invalidate()  # the grids just went in by bulk insert
    areas = locating.indexes().areas
    grid_rows = {g.area.code: g.area for g in demo.grids}
    rng = np.random.default_rng(seed)
    rows: list[tuple] = []
    for d, spec in enumerate(GRIDDED):
        roads = networks[spec.code].roads
        for f, furniture in enumerate(FURNITURE):
            category = categories.get(furniture.minor_name)
            if category is None:  # an unfamiliar codebook: skip what it lacks
                continue
            unit_id = demo.units[furniture.unit].pk
            placed = []
            for side in range(furniture.rows):
                placed += points_along(
                    roads, furniture.step_m, furniture.offset_m, seed=seed + 1000 * d + 10 * f + side
                )
            if not placed:
                continue
            lons = np.round(np.fromiter((p[1] for p in placed), float, len(placed)), 7)
            lats = np.round(np.fromiter((p[2] for p in placed), float, len(placed)), 7)
            codes = areas.grid_codes(areas.locate_many(lons, lats))
            # Numbered west to east, north to south within the district and category.
            order = np.lexsort((lons, -np.round(lats, 4)))
            prefix = f"{spec.code}{category.minor_code}"
            seq = 0
            states = rng.choice(["intact", "damaged", "lost"], size=len(placed), p=[0.97, 0.025, 0.005])
            for k in order:
                grid = grid_rows.get(codes[k])
                if grid is None:
                    continue
                seq += 1
                lon, lat = float(lons[k]), float(lats[k])
                rows.append(
                    (
                        f"{prefix}{seq:06d}",
                        furniture.minor_name,
                        category.pk,
                        "point",
                        {"type": "Point", "coordinates": [lon, lat]},
                        lon,
                        lat,
                        str(states[k]),
                        unit_id,
                        unit_id,
                        grid.pk,
                        grid.path,
                        SURVEYED_ON,
                        "实测",
                        "",
                        {"road": placed[k][0]},
                        1,
                        now,
                    )
                )
    insert_rows(Component, COMPONENT_COLUMNS, rows)
    insert_rows(
        ComponentVersion,
        ("component_id", "version", "changed_at", "via", "changes"),
        ((pk, 1, now, "demo survey", {}) for pk in Component.objects.values_list("id", flat=True).iterator(5000)),
    )
    return len(rows)


COMPONENT_COLUMNS = (
    "code",
    "name",
    "category_id",
    "geometry_kind",
    "geometry",
    "lon",
    "lat",
    "state",
    "competent_unit_id",
    "maintainer_unit_id",
    "grid_id",
    "area_path",
    "surveyed_on",
    "data_source",
    "note",
    "attributes",
    "version",
    "updated_at",
)


def build_responsibility_grids(demo: DemoCity) -> int:
    """One patrol beat per community, walked by the district's inspectors."""
    rows = []
    communities = Area.objects.filter(level="community", synthetic=True).select_related("parent")
    for community in communities.only("code", "name", "geometry", "area_m2", "parent__code", "parent__path"):
        rows.append(
            ResponsibilityGrid(
                code=f"ZR{community.code}",
                name=f"{community.name}责任网格",
                area=community.parent,
                geometry=community.geometry,
                area_m2=community.area_m2 or 0.0,
            )
        )
    ResponsibilityGrid.objects.bulk_create(rows)
    by_code = {r.code: r for r in ResponsibilityGrid.objects.all()}
    through = ResponsibilityGrid.inspectors.through
    links = []
    for spec in GRIDDED:
        for beat in (b for code, b in by_code.items() if code[2:8] == spec.code):
            links += [through(responsibilitygrid_id=beat.pk, user_id=u.pk) for u in demo.district_inspectors[spec.code]]
    through.objects.bulk_create(links)
    return len(rows)


def build_routing_rules(demo: DemoCity) -> int:
    """确权 as the catalogue knows it: city departments by category everywhere; topics
    that belong to the street offices by street."""
    names = {t.name for t in catalog.TOPICS}
    categories = {
        (c.kind, c.minor_name): c for c in Category.objects.filter(standard=Standard.GB_47678, minor_name__in=names)
    }
    streets = Area.objects.filter(level="street", synthetic=True).only("id", "code", "path")
    rules = []
    for topic in catalog.TOPICS:
        category = categories.get((topic.kind, topic.name))
        if category is None:
            continue
        if topic.unit == catalog.STREET:
            rules += [
                RoutingRule(
                    kind=RuleKind.AREA_CATEGORY,
                    area=street,
                    category=category,
                    unit=demo.street_units[street.code],
                    note="属地街道",
                )
                for street in streets
            ]
        else:
            rules.append(
                RoutingRule(
                    kind=RuleKind.CATEGORY_DEFAULT, category=category, unit=demo.units[topic.unit], note="行业主管"
                )
            )
    RoutingRule.objects.bulk_create(rules)
    return len(rules)


def build_base_data(demo: DemoCity, *, seed: int, now: dt.datetime) -> BaseDataResult:
    result, networks = build_streets(demo, seed)
    result.components = build_components(demo, networks, seed, now)
    result.responsibility_grids = build_responsibility_grids(demo)
    result.routing_rules = build_routing_rules(demo)
    return result
