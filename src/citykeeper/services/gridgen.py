"""``citykeeper grid generate``: street offices, communities and unit grids for a
district that has no survey data yet, cut from its stored boundary (see
``spatial.grid.generate_hierarchy``), stored as synthetic areas or written as GeoJSON."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass

import shapely
from django.db import transaction
from shapely.geometry import mapping

from citykeeper.domain.errors import InvalidInput
from citykeeper.services import basedata
from citykeeper.spatial import grid as gridgen
from citykeeper.store.models import Area


@dataclass
class GeneratedReport:
    district: str
    streets: int
    communities: int
    grids: int
    area_km2: float
    seconds: float
    written_to: str = ""


def generate_areas(
    district_code: str,
    *,
    streets: int,
    communities_per_street: int,
    cell_m: float = 100.0,
    core: tuple[float, float, float] | None = None,
    out: str | os.PathLike | None = None,
) -> GeneratedReport:
    """Divide a stored district into streets, communities and unit grids of ``cell_m``.

    ``core`` (lon, lat, side in metres) limits the division to a square urban core.
    With ``out`` the areas are written to that GeoJSON file (level, code, name, parent
    in each feature's properties) and nothing is stored; otherwise they are stored under
    the district, marked synthetic. A district that already has streets is refused.
    """
    started = time.perf_counter()
    district = (
        Area.objects.filter(code=district_code, level="district").only("code", "name", "path", "geometry").first()
    )
    if district is None:
        raise InvalidInput(f"No district with code {district_code}; import the districts first.", field="district")
    if not district.geometry:
        raise InvalidInput(f"District {district_code} has no boundary to divide.", field="district")
    if out is None and Area.objects.filter(parent=district).exists():
        raise InvalidInput(
            f"District {district_code} already has street offices; generate into a district without them, "
            f"or write to a file with --out.",
            field="district",
        )
    clip = gridgen.square_around(core[0], core[1], core[2]) if core else None
    tree = gridgen.generate_hierarchy(
        shapely.geometry.shape(district.geometry),
        district_code=district.code,
        district_name=district.name,
        street_count=streets,
        communities_per_street=communities_per_street,
        grid_cell_m=cell_m,
        clip_to=clip,
    )
    nodes = list(tree.walk())
    counts = {level: sum(1 for n in nodes if n.level == level) for level in ("street", "community", "grid")}
    report = GeneratedReport(
        district=district.code,
        streets=counts["street"],
        communities=counts["community"],
        grids=counts["grid"],
        area_km2=round(tree.area_m2 / 1e6, 2),
        seconds=0.0,
    )
    if out is not None:
        _write_geojson(out, district.code, tree)
        report.written_to = os.fspath(out)
    else:
        with transaction.atomic():
            _store(district, tree)
            basedata.bump()
    report.seconds = round(time.perf_counter() - started, 2)
    return report


def _parent_of(code: str, district: str) -> str:
    return district if len(code) == 9 else code[:-3]


def _write_geojson(out, district_code: str, tree: gridgen.GeneratedDistrict) -> None:
    features = [
        {
            "type": "Feature",
            "properties": {
                "level": n.level,
                "code": n.code,
                "name": n.name,
                "parent": _parent_of(n.code, district_code),
                "area_m2": round(n.area_m2, 1),
            },
            "geometry": mapping(n.geometry),  # full precision: rounding opens slivers between levels
        }
        for n in tree.walk()
    ]
    with open(out, "w", encoding="utf-8") as fh:
        json.dump({"type": "FeatureCollection", "features": features}, fh, ensure_ascii=False)


def _store(district: Area, tree: gridgen.GeneratedDistrict) -> None:
    paths = {district.code: district.path}
    by_level: dict[str, list] = {"street": [], "community": [], "grid": []}
    for node in tree.walk():
        by_level[node.level].append(node)
    for level in ("street", "community", "grid"):
        parents = {
            a.code: a
            for a in Area.objects.filter(code__in={_parent_of(n.code, district.code) for n in by_level[level]})
        }
        rows = []
        for node in by_level[level]:
            parent = parents[_parent_of(node.code, district.code)]
            point = node.geometry.representative_point()
            rows.append(
                Area(
                    code=node.code,
                    name=node.name,
                    level=level,
                    parent=parent,
                    path=f"{paths.get(parent.code, parent.path)}/{node.code}",
                    geometry=mapping(shapely.set_precision(node.geometry, 1e-7)),
                    centroid_lon=round(point.x, 7),
                    centroid_lat=round(point.y, 7),
                    area_m2=round(node.area_m2, 1),
                    synthetic=True,
                )
            )
        Area.objects.bulk_create(rows, batch_size=2000)
