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

AREA_LEVELS = ("city", "district", "street", "community", "grid", "responsibility")
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
    # A file of several levels (``grid generate --out`` writes one) gives each feature a
    # "level" property: take this level's features only.
    if any("level" in f.properties for f in features):
        features = [f for f in features if f.properties.get("level") == level]
        if not features:
            raise InvalidInput(f"{name} has no features of level {level}.", field="level")
    if level == "city":
        return _import_cities(
            features, name, code_field=code_field, name_field=name_field, dry_run=dry_run, started=started
        )
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


def _import_cities(features, name, *, code_field, name_field, dry_run, started) -> ImportReport:
    """The top of the tree: each city outline with its 6-digit administrative code (GB/T 2260)."""
    problems = []
    existing = set(Area.objects.filter(level="city").values_list("code", flat=True))
    seen: dict[str, int] = {}
    layer = []
    for f in features:
        code = _pick(f.properties, code_field, CODE_FIELDS)
        label = _pick(f.properties, name_field, NAME_FIELDS)
        where = f"feature {f.number} ({code or 'no code'})"
        if not (len(code) == 6 and code.isdigit()):
            problems.append(f"{where}: a city needs its 6-digit administrative code (e.g. 320300)")
        elif code in existing or Area.objects.filter(code=code).exists():
            problems.append(f"{where}: code {code} is already in the area tree")
        elif code in seen:
            problems.append(f"{where}: code {code} is used again (first by feature {seen[code]})")
        seen.setdefault(code, f.number)
        if not label:
            problems.append(f"{where}: the name is missing")
        if not f.geometry.is_valid:
            problems.append(f"{where}: invalid geometry: {shapely.is_valid_reason(f.geometry)}")
        layer.append(topology.AreaFeature(f.number, code, label, "city", None, f.geometry))
    if problems:
        raise ImportRefused(name, problems)
    report = ImportReport(file=name, level="city", dry_run=dry_run)
    if not dry_run:
        with transaction.atomic():
            for f in layer:
                point = f.geometry.representative_point()
                Area.objects.create(
                    code=f.code,
                    name=f.name,
                    level="city",
                    geometry=mapping(f.geometry),
                    centroid_lon=round(point.x, 7),
                    centroid_lat=round(point.y, 7),
                    area_m2=round(crs_mod.area_m2(f.geometry), 1),
                )
            basedata.bump()
        report.created = len(layer)
    report.seconds = round(time.perf_counter() - started, 2)
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


# ---------------------------------------------------------------- components

# GB/T 47678.5-2026 field names first, then plain ones.
COMPONENT_FIELDS = {
    "code": ("GLBJBSM", "BJBSM", "code", "标识码", "部件标识码"),
    "name": ("GLBJMC", "BJMC", "name", "名称", "部件名称"),
    "category": ("category", "XLDM", "小类代码", "类别"),
    "state": ("GLBJZT", "BJZT", "state", "状态", "部件状态"),
    "competent": ("ZGBMDM", "competent", "主管部门代码"),
    "owner": ("QSDWDM", "owner", "权属单位代码"),
    "maintainer": ("YHDWDM", "maintainer", "养护单位代码"),
    "surveyed_on": ("CSRQ", "ORDATE", "surveyed_on", "初始日期"),
    "changed_on": ("BGRQ", "CHDATE", "changed_on", "变更日期"),
    "data_source": ("SJLY", "data_source", "数据来源"),
    "note": ("BZ", "note", "备注"),
}
# Names the standard leaves to the unit and tree tables; not kept as extra attributes.
_DERIVED = {"ZGBMMC", "QSDWMC", "YHDWMC", "SZDYWGBSM", "SZJDDM", "SZJDMC", "SZSQDM", "SZSQMC"}
STATES = {
    "完好": "intact",
    "破损": "damaged",
    "丢失": "lost",
    "废弃": "abandoned",
    "移除": "removed",
    **{v: v for v in ("intact", "damaged", "lost", "abandoned", "removed")},
}
_MINOR_DIGITS = {17: 5, 16: 4}  # GB/T 47678.5-2026: 6+2+3+6; legacy CJ/T 214: 6+2+2+6


@dataclass
class ComponentReport:
    file: str
    created: int = 0
    generated_codes: int = 0
    seconds: float = 0.0
    dry_run: bool = False


def _date(value: str, line: str, column: str, problems: list[str]):
    import datetime as dt

    if not value:
        return None
    text = value.replace("-", "").replace("/", "")[:8]
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        problems.append(f"{line}: {column} '{value}' is not a date (YYYYMMDD or YYYY-MM-DD)")
        return None


def import_components(
    path: str | os.PathLike,
    *,
    crs: str | None = None,
    standard: str | None = None,
    dry_run: bool = False,
    by=None,
    encoding: str | None = None,
    surveyed_on=None,
) -> ComponentReport:
    """Import components (部件) from a GeoJSON, Shapefile or CSV file; all or nothing.

    Each needs a category (the ``category`` column, a minor code, or the code's own
    category digits), a place inside a unit grid (assigned from the geometry), known unit
    codes and a state. Missing codes are generated: the grid's district code + the
    category's minor code + the next free 6-digit sequence.
    """
    from django.utils import timezone

    from citykeeper.services import locating
    from citykeeper.store.bulk import insert_rows
    from citykeeper.store.models import Category, Component, ComponentVersion, Unit
    from citykeeper.store.models.codebook import Kind, Standard

    started = time.perf_counter()
    name = os.path.basename(os.fspath(path))
    features, _ = read_features(path, crs=crs, encoding=encoding)
    problems: list[str] = []
    unit_ids = dict(Unit.objects.values_list("code", "id"))
    categories = {
        (std, minor): pk
        for std, minor, pk in Category.objects.filter(kind=Kind.COMPONENT, active=True).values_list(
            "standard", "minor_code", "id"
        )
    }
    existing = set(Component.objects.values_list("code", flat=True))
    points = [f.geometry if f.geometry.geom_type == "Point" else f.geometry.representative_point() for f in features]
    grid_codes = locating.locate_many([p.x for p in points], [p.y for p in points]) if points else []
    grids = {a.code: a for a in Area.objects.filter(code__in={c for c in grid_codes if c})}
    seen: dict[str, int] = {}
    rows: list[dict] = []
    unit_of = {"competent": "competent_unit_id", "owner": "owner_unit_id", "maintainer": "maintainer_unit_id"}
    for feature, point, grid_code in zip(features, points, grid_codes, strict=True):
        line = (
            f"{name} feature {feature.number}" if not name.lower().endswith(".csv") else f"{name} row {feature.number}"
        )
        props = feature.properties
        value = {key: _pick(props, None, names) for key, names in COMPONENT_FIELDS.items()}
        row: dict = {"number": feature.number, "line": line, "geometry": feature.geometry, "point": point}
        code = value["code"]
        if code:
            if not (code.isdigit() and len(code) in _MINOR_DIGITS):
                problems.append(f"{line}: code '{code}' is not 17 digits (GB/T 47678.5) or 16 (legacy CJ/T 214)")
            elif code in existing:
                problems.append(f"{line}: code {code} is already in use by a stored component")
            elif code in seen:
                problems.append(f"{line}: code {code} is used again (first at feature/row {seen[code]})")
            else:
                seen[code] = feature.number
        std = standard or (Standard.LEGACY if len(code) == 16 else Standard.GB_47678)
        minor = value["category"] or (code[6 : 6 + _MINOR_DIGITS[len(code)]] if len(code) in _MINOR_DIGITS else "")
        category_id = categories.get((std, minor))
        if category_id is None:
            problems.append(
                f"{line}: unknown component category '{minor or '(none)'}' in {std}; give a minor code of the codebook"
            )
        elif code and len(code) in _MINOR_DIGITS and value["category"] and code[6 : 6 + len(minor)] != minor:
            problems.append(f"{line}: code {code} does not carry its category {minor}")
        row["category_id"] = category_id
        row["minor"] = minor
        state = STATES.get(value["state"] or "完好")
        if state is None:
            problems.append(f"{line}: state '{value['state']}' is not one of 完好, 破损, 丢失, 废弃, 移除")
        row["state"] = state
        for key, column in unit_of.items():
            unit_code = value[key]
            if unit_code and unit_code not in unit_ids:
                problems.append(f"{line}: unknown {key} unit code '{unit_code}'")
            row[column] = unit_ids.get(unit_code) if unit_code else None
        if grid_code is None:
            try:
                locating.locate(point.x, point.y)
                problems.append(f"{line}: ({point.x:.6f}, {point.y:.6f}) lies in no unit grid")
            except InvalidInput as exc:
                problems.append(f"{line}: {exc.message}")
        row["grid"] = grids.get(grid_code)
        row["surveyed_on"] = _date(value["surveyed_on"], line, "survey date", problems) or surveyed_on
        if row["surveyed_on"] is None:
            problems.append(f"{line}: the survey date (CSRQ / 初始日期) is missing")
        row["changed_on"] = _date(value["changed_on"], line, "change date", problems)
        row.update(code=code, name=value["name"][:30], data_source=value["data_source"][:30], note=value["note"])
        row["attributes"] = {
            k: v for k, v in props.items() if v not in (None, "") and k not in _DERIVED and not _is_known(k)
        }
        rows.append(row)
    if problems:
        raise ImportRefused(name, problems)
    report = ComponentReport(file=name, dry_run=dry_run)
    report.generated_codes = _generate_component_codes(rows, existing)
    if dry_run:
        report.seconds = round(time.perf_counter() - started, 2)
        return report
    now = timezone.now()
    kinds = {"Point": "point", "MultiPoint": "point", "LineString": "line", "MultiLineString": "line"}
    with transaction.atomic():
        columns = (
            "code", "name", "category_id", "geometry_kind", "geometry", "lon", "lat", "state",
            "competent_unit_id", "owner_unit_id", "maintainer_unit_id", "grid_id", "area_path",
            "surveyed_on", "changed_on", "data_source", "note", "attributes", "version", "updated_at",
        )  # fmt: skip
        insert_rows(
            Component,
            columns,
            (
                (
                    r["code"],
                    r["name"] or r["minor"],
                    r["category_id"],
                    kinds.get(r["geometry"].geom_type, "polygon"),
                    mapping(r["geometry"]),
                    round(r["point"].x, 7),
                    round(r["point"].y, 7),
                    r["state"],
                    r["competent_unit_id"],
                    r["owner_unit_id"],
                    r["maintainer_unit_id"],
                    r["grid"].pk,
                    r["grid"].path,
                    r["surveyed_on"],
                    r["changed_on"],
                    r["data_source"],
                    r["note"],
                    r["attributes"],
                    1,
                    now,
                )
                for r in rows
            ),
        )
        codes = [r["code"] for r in rows]
        ids = {}
        for i in range(0, len(codes), 5000):  # IN lists stay below every SQLite build's limit
            ids.update(Component.objects.filter(code__in=codes[i : i + 5000]).values_list("code", "id"))
        insert_rows(
            ComponentVersion,
            ("component_id", "version", "changed_at", "changed_by_id", "via", "changes"),
            ((ids[c], 1, now, by.pk if by else None, f"import {name}", {"created": [None, c]}) for c in codes),
        )
        basedata.bump(now)
    report.created = len(rows)
    report.seconds = round(time.perf_counter() - started, 2)
    log.info("components imported", extra={"file": name, "components": report.created, "seconds": report.seconds})
    return report


def _is_known(key: str) -> bool:
    return any(key in names for names in COMPONENT_FIELDS.values())


def _generate_component_codes(rows: list[dict], existing: set[str]) -> int:
    """Codes for rows without one: district code + minor code + next free sequence."""
    from citykeeper.store.models import Component

    missing = [r for r in rows if not r["code"]]
    if not missing:
        return 0
    prefixes = {r["grid"].code[:6] + r["minor"] for r in missing}
    taken = {c for c in existing if c[: len(next(iter(prefixes)))] in prefixes} | {r["code"] for r in rows if r["code"]}
    next_seq: dict[str, int] = {}
    for prefix in prefixes:
        stored = Component.objects.filter(code__startswith=prefix).order_by("-code").values_list("code", flat=True)
        last = max(
            [int(c[len(prefix) :]) for c in stored[:1]]
            + [int(c[len(prefix) :]) for c in taken if c.startswith(prefix)]
            + [0]
        )
        next_seq[prefix] = last + 1
    # West to east, north to south within each prefix, like grid numbering.
    for r in sorted(missing, key=lambda r: (-round(r["point"].y, 4), r["point"].x)):
        prefix = r["grid"].code[:6] + r["minor"]
        r["code"] = f"{prefix}{next_seq[prefix]:06d}"
        next_seq[prefix] += 1
    return len(missing)


# ---------------------------------------------------------------- gazetteer

GAZETTEER_KINDS = {"road": ("line",), "doorplate": ("point",), "poi": ("point",)}
GAZETTEER_FIELDS = {
    "name": ("name", "NAME", "名称", "road", "道路名称", "街路巷名", "MC"),
    "number": ("number", "门牌号", "MPH", "NO"),
    "poi_kind": ("poi_kind", "kind", "类别", "LB"),
}


@dataclass
class GazetteerReport:
    file: str
    kind: str
    created: int = 0
    seconds: float = 0.0
    dry_run: bool = False


def import_gazetteer(
    path: str | os.PathLike,
    *,
    kind: str,
    crs: str | None = None,
    name_field: str | None = None,
    number_field: str | None = None,
    dry_run: bool = False,
    encoding: str | None = None,
) -> GazetteerReport:
    """Import roads (centre lines), doorplates (points with road name and number) or
    points of interest (name and kind) for address description; all or nothing."""
    from citykeeper.services import locating
    from citykeeper.store.bulk import insert_rows
    from citykeeper.store.models import GazetteerEntry

    if kind not in GAZETTEER_KINDS:
        raise InvalidInput(f"Unknown gazetteer kind '{kind}' (use road, doorplate or poi).", field="kind")
    started = time.perf_counter()
    name = os.path.basename(os.fspath(path))
    features, _ = read_features(path, crs=crs, kinds=GAZETTEER_KINDS[kind], encoding=encoding)
    problems: list[str] = []
    taken = (
        set(GazetteerEntry.objects.filter(kind="doorplate").values_list("name", "number"))
        if kind == "doorplate"
        else set()
    )
    areas = locating.indexes().areas
    rows = []
    for feature in features:
        line = f"{name} {'row' if name.lower().endswith('.csv') else 'feature'} {feature.number}"
        label = _pick(feature.properties, name_field, GAZETTEER_FIELDS["name"])
        number = _pick(feature.properties, number_field, GAZETTEER_FIELDS["number"]) if kind == "doorplate" else ""
        poi_kind = _pick(feature.properties, None, GAZETTEER_FIELDS["poi_kind"]) if kind == "poi" else ""
        if not label:
            problems.append(f"{line}: the name is missing")
        if kind == "doorplate":
            if not number:
                problems.append(f"{line}: the doorplate number is missing")
            elif (label, number) in taken:
                problems.append(f"{line}: {label}{number}号 is already in the gazetteer or earlier in the file")
            taken.add((label, number))
        point = feature.geometry if kind != "road" else feature.geometry.interpolate(0.5, normalized=True)
        try:
            areas.locate(point.x, point.y)
        except InvalidInput as exc:
            problems.append(f"{line}: {exc.message}")
        rows.append((kind, label[:100], number[:20], poi_kind[:30], mapping(feature.geometry), point.x, point.y))
    if problems:
        raise ImportRefused(name, problems)
    report = GazetteerReport(file=name, kind=kind, dry_run=dry_run)
    if not dry_run:
        with transaction.atomic():
            report.created = insert_rows(
                GazetteerEntry, ("kind", "name", "number", "poi_kind", "geometry", "lon", "lat"), rows
            )
            basedata.bump()
    report.seconds = round(time.perf_counter() - started, 2)
    log.info("gazetteer imported", extra={"file": name, "entries": report.created, "seconds": report.seconds})
    return report
