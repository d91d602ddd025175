"""Importing base data from GIS files: area layers (districts, street offices,
communities, unit grids, responsibility grids).

Each import reads the whole file (``spatial.readers``), checks it against the stored
tree (``spatial.topology``), and writes in one transaction only when nothing is wrong:
an import with problems writes nothing and lists every problem with its feature
number and reason. ``fix=True`` first repairs what is safely repairable and reports
each change.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import shapely
from django.db import transaction
from shapely.geometry import mapping

from citykeeper.domain.errors import InvalidInput
from citykeeper.services import basedata
from citykeeper.spatial import crs as crs_mod
from citykeeper.spatial import topology
from citykeeper.spatial.readers import read_features
from citykeeper.store.models import Area, ResponsibilityGrid

log = logging.getLogger(__name__)

AREA_LEVELS = ("district", "street", "community", "grid", "responsibility")
PARENT_LEVELS = {
    "district": ("city",),
    "street": ("district",),
    "community": ("street",),
    "grid": ("community",),
    "responsibility": ("street", "district"),
}
# Property names tried, in order, when the caller names none (GB/T 47678.5 and common
# GIS exports use these).
CODE_FIELDS = ("code", "CODE", "adcode", "BGID", "DYWGBSM", "WGBM", "编码", "代码")
NAME_FIELDS = ("name", "NAME", "名称", "MC")
PARENT_FIELDS = ("parent", "parent_code", "PARENT", "上级代码")
CLASS_FIELDS = ("area_class", "class", "CLASS", "区域类别")
MAX_LISTED = 200


class ImportRefused(InvalidInput):
    """The file has problems; nothing was written. ``problems`` lists them all."""

    code = "import_refused"

    def __init__(self, path: str, problems: Sequence[str], fixes: Sequence[str] = ()) -> None:
        listed = list(problems)[:MAX_LISTED]
        more = len(problems) - len(listed)
        head = "; ".join(listed[:5])
        super().__init__(
            f"{os.path.basename(path)}: {len(problems)} problem(s), nothing imported: {head}"
            + (" …" if len(problems) > 5 else ""),
            field="file",
        )
        self.problems = listed + ([f"… and {more} more"] if more else [])
        self.fixes = list(fixes)


@dataclass
class ImportReport:
    file: str
    level: str
    created: int = 0
    fixes: list[str] = field(default_factory=list)
    generated_codes: int = 0
    seconds: float = 0.0
    dry_run: bool = False


# Straight edges in lon/lat are slightly curved in metres: a 2 km edge of a parent and the
# same edge cut at a child's corner differ by centimetres, enough for a false gap or
# overlap of tens of m². Edges longer than ~50 m get intermediate vertices before checking.
_MAX_EDGE_DEGREES = 0.0005


def _densified(geometry):
    return shapely.segmentize(geometry, _MAX_EDGE_DEGREES)


def _pick(props: dict, wanted: str | None, candidates: Sequence[str]) -> str:
    if wanted:
        value = props.get(wanted)
        return "" if value is None else str(value).strip()
    for name in candidates:
        if props.get(name) not in (None, ""):
            return str(props[name]).strip()
    return ""


def _parents(level: str, under: str | None) -> dict[str, shapely.Geometry]:
    qs = Area.objects.filter(level__in=PARENT_LEVELS[level]).exclude(geometry=None)
    if under:
        root = Area.objects.filter(code=under).first()
        if root is None:
            raise InvalidInput(f"No area with code {under} to import under.", field="parent")
        qs = qs.filter(path__startswith=root.path)
    return {code: shapely.geometry.shape(geom) for code, geom in qs.values_list("code", "geometry")}


def import_areas(
    path: str | os.PathLike,
    *,
    level: str,
    crs: str | None = None,
    parent: str | None = None,
    code_field: str | None = None,
    name_field: str | None = None,
    parent_field: str | None = None,
    fix: bool = False,
    require_tiling: bool = True,
    tolerance_m2: float = 1.0,
    dry_run: bool = False,
    encoding: str | None = None,
) -> ImportReport:
    """Import one area layer of ``level`` from a GeoJSON, Shapefile or CSV (WKT) file.

    ``parent`` limits the parents to one subtree (e.g. the district whose streets these
    are); ``require_tiling`` wants the children to cover their parents without gaps.
    Missing codes are generated (parent code + sequence, west to east, north to south).
    Raises ``ReadError`` or ``ImportRefused`` (nothing written) on any problem.
    """
    if level not in AREA_LEVELS:
        raise InvalidInput(f"Unknown level '{level}' (use one of: {', '.join(AREA_LEVELS)}).", field="level")
    started = time.perf_counter()
    name = os.path.basename(os.fspath(path))
    features, _source = read_features(path, crs=crs, kinds=("polygon",), encoding=encoding)
    parents = {code: _densified(geom) for code, geom in _parents(level, parent).items()}
    if not parents:
        wanted = " or ".join(PARENT_LEVELS[level])
        raise InvalidInput(f"There is no {wanted} with a boundary to import {level} areas under.", field="level")
    layer = [
        topology.AreaFeature(
            number=f.number,
            code=_pick(f.properties, code_field, CODE_FIELDS) or None,
            name=_pick(f.properties, name_field, NAME_FIELDS),
            level=level,
            parent_code=_pick(f.properties, parent_field, PARENT_FIELDS) or None,
            geometry=_densified(f.geometry),
        )
        for f in features
    ]
    classes = {f.number: _pick(f.properties, None, CLASS_FIELDS).upper() for f in features}
    existing = set((ResponsibilityGrid if level == "responsibility" else Area).objects.values_list("code", flat=True))
    report = ImportReport(file=name, level=level, dry_run=dry_run)
    problems = [str(p) for p in topology.assign_parents(layer, parents=parents, tolerance_m2=tolerance_m2)]
    problems += _parents_already_filled(layer, level)
    if fix:
        layer, fixes = topology.fix_layer(layer, parents=parents, tolerance_m2=tolerance_m2)
        report.fixes += [str(f) for f in fixes]
    if level not in ("district", "responsibility"):
        try:
            generated = topology.assign_codes(layer, level=level, existing_codes=existing)
        except InvalidInput as exc:
            problems += [str(p) for p in exc.params.get("problems", [])] or [exc.message]
            generated = []
        report.generated_codes = len(generated)
        report.fixes += [str(g) for g in generated]
    for feature in layer:
        if not feature.name:
            feature.name = feature.code or ""
        if classes.get(feature.number) not in ("", "A", "B", "C"):
            problems.append(f"feature {feature.number}: area class '{classes[feature.number]}' is not A, B or C")
    problems += [
        str(p)
        for p in topology.check_layer(
            layer,
            parents=parents,
            existing_codes=existing,
            tolerance_m2=tolerance_m2,
            require_tiling=require_tiling and level != "responsibility",
        )
    ]
    if problems:
        # assign_parents and check_layer both name a feature without a parent: say it once.
        raise ImportRefused(name, list(dict.fromkeys(problems)), report.fixes)
    if not dry_run:
        with transaction.atomic():
            _write(layer, level, classes)
            basedata.bump()
        report.created = len(layer)
    report.seconds = round(time.perf_counter() - started, 2)
    log.info(
        "areas imported",
        extra={"file": name, "level": level, "areas": report.created, "seconds": report.seconds},
    )
    return report


def _parents_already_filled(layer: list[topology.AreaFeature], level: str) -> list[str]:
    """A parent's children of one level come in one file: new ones cannot be checked
    against stored siblings for overlaps and gaps, so a parent that has some is refused."""
    if level == "responsibility":
        return []
    wanted = {f.parent_code for f in layer if f.parent_code}
    filled = sorted(
        set(Area.objects.filter(level=level, parent__code__in=wanted).values_list("parent__code", flat=True))
    )
    return [
        f"{code} already has {level} areas; import all of its {level} areas in one file, "
        f"or remove the stored ones first"
        for code in filled
    ]


def _write(layer: list[topology.AreaFeature], level: str, classes: dict[int, str]) -> None:
    parent_rows = {a.code: a for a in Area.objects.filter(code__in={f.parent_code for f in layer})}
    areas = [crs_mod.area_m2(f.geometry) for f in layer]
    if level == "responsibility":
        ResponsibilityGrid.objects.bulk_create(
            ResponsibilityGrid(
                code=f.code,
                name=f.name,
                area=parent_rows[f.parent_code],
                geometry=mapping(f.geometry),
                area_m2=round(a, 1),
            )
            for f, a in zip(layer, areas, strict=True)
        )
        return
    rows = []
    for f, a in zip(layer, areas, strict=True):
        point = f.geometry.representative_point()
        parent = parent_rows[f.parent_code]
        rows.append(
            Area(
                code=f.code,
                name=f.name,
                level=level,
                parent=parent,
                path=f"{parent.path}/{f.code}",
                area_class=classes.get(f.number, ""),
                geometry=mapping(f.geometry),
                centroid_lon=round(point.x, 7),
                centroid_lat=round(point.y, 7),
                area_m2=round(a, 1),
            )
        )
    Area.objects.bulk_create(rows, batch_size=2000)
