"""Loading the codebook: categories, filing conditions, disposal limits, closing conditions.

Two files shipped in ``citykeeper/data/standards`` (see ``SOURCES.md`` there) seed it:

* ``categories.csv``: the GB/T 47678.5-2026 set (管理部件 and 管理事项) and the legacy
  CJ/T 214 / GB/T 30428.2 numbering as deployed;
* ``time_limits.csv``: real 立案条件 → 处置时限 → 结案条件 rows. Only the 运城 rows (the
  city's official table and its import template) seed conditions; the few rows of other
  cities are kept as reference and attached to nothing, so no category mixes two cities'
  rules.

The load is additive and safe to repeat: a missing category is created, an existing one is
never changed; conditions are written only for a category that has none, so whatever an
administrator edited survives. Every active category ends with at least one filing
condition (a conservative default where no real row matched), so a case of any category can
be filed. The whole load is one transaction, and every row of both files is checked before
anything is written: a bad file is refused with its line and column, and nothing changes.
"""

from __future__ import annotations

import csv
import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction

from citykeeper.domain.clock import LimitUnit
from citykeeper.domain.errors import InvalidInput
from citykeeper.services.limits import DEFAULT_STAGE_LIMITS, DEFAULT_WARN_RATIO, limits_changed
from citykeeper.store.models import Category, ClosingCondition, FilingCondition, StageLimit
from citykeeper.store.models.codebook import Kind, Standard

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "standards"
CATEGORIES_CSV = DATA_DIR / "categories.csv"
TIME_LIMITS_CSV = DATA_DIR / "time_limits.csv"

DEFAULT_CONDITION_TEXT = "符合本类别立案标准"
DEFAULT_CONDITION_SOURCE = "default (no real table row found)"
# Conservative defaults where no real row matched: repairs of components are mostly 1–5
# 工作日 in the 运城 table (3 is its median), events mostly 1 工作日 or less.
DEFAULT_LIMITS: dict[str, tuple[float, LimitUnit]] = {
    Kind.COMPONENT: (3, LimitUnit.WORK_DAYS),
    Kind.EVENT: (1, LimitUnit.WORK_DAYS),
}
LOCAL_CONDITION_SOURCE = "local (entered by an administrator)"

# The CSV's ``standard`` column → the stored standard. The model's own values are accepted too.
_STANDARDS: dict[str, Standard] = {
    "GB/T 47678.5-2026": Standard.GB_47678,
    "CJ/T 214-2007 / GB/T 30428.2-2013 (legacy numbering as deployed)": Standard.LEGACY,
    Standard.LEGACY.value: Standard.LEGACY,
}
_KINDS: dict[str, Kind] = {Kind.COMPONENT.value: Kind.COMPONENT, Kind.EVENT.value: Kind.EVENT}

# Rows whose ``standard_or_city`` starts with this seed conditions; the others are reference.
SEED_CITY_PREFIX = "运城"

_CATEGORY_COLUMNS = ("kind", "standard", "major_code", "major_name", "minor_code", "minor_name")
_LIMIT_COLUMNS = (
    "kind",
    "standard_or_city",
    "minor_code",
    "minor_name",
    "filing_condition",
    "urgency_or_class",
    "disposal_limit_value",
    "disposal_limit_unit",
    "closing_condition",
    "source",
    "limit_text_raw",
)

# Field sizes of the store models, checked before writing so a long cell is refused with
# its line number instead of failing (PostgreSQL) or being stored whole (SQLite).
_MAX = {
    "major_code": 4,
    "major_name": 50,
    "minor_code": 8,
    "minor_name": 80,
    "code_status": 80,
    "note": 300,
    "condition": 300,
    "closing": 300,
    "limit_text_raw": 100,
    "source": 200,
}

# ------------------------------------------------------------------ units

# 时限 words of the 运城 table → stored units. The CSV normalises "N紧急工作时" to unit 小时
# with urgency 紧急, and "N紧急工作日" to 天 with urgency 紧急 (time_limits.md §2).
#
# * 工作时 → work hours; 工作日 → work days; 分钟 → minutes; 自然日 → natural days.
# * 小时 + 紧急 (紧急工作时) → natural hours, urgent: 运城's docs say the clock runs day and
#   night, at weekends and on holidays.
# * 天 + 紧急 (紧急工作日) → natural days, urgent: the source repository's own parser maps it
#   to natural_day (CSV note on those 4 rows).
# * 小时 / 天 without 紧急 appear only in the import template (source B), which rewrote the
#   official sheet's units. For the 275 component rows the template shares with the
#   official sheet, 271 read 工作时/工作日 there (time_limits.md §1, marked [INF]), so we take
#   the template's 小时 as work hours and 天 as work days rather than natural time.
_PLAIN_UNITS: dict[str, LimitUnit] = {
    "分钟": LimitUnit.MINUTES,
    "工作时": LimitUnit.WORK_HOURS,
    "小时": LimitUnit.WORK_HOURS,
    "工作日": LimitUnit.WORK_DAYS,
    "天": LimitUnit.WORK_DAYS,
    "自然日": LimitUnit.NATURAL_DAYS,
    "自然小时": LimitUnit.NATURAL_HOURS,
}
_URGENT_UNITS: dict[str, LimitUnit] = {
    "分钟": LimitUnit.MINUTES,
    "工作时": LimitUnit.NATURAL_HOURS,
    "小时": LimitUnit.NATURAL_HOURS,
    "自然小时": LimitUnit.NATURAL_HOURS,
    "工作日": LimitUnit.NATURAL_DAYS,
    "天": LimitUnit.NATURAL_DAYS,
    "自然日": LimitUnit.NATURAL_DAYS,
}
URGENT_WORD = "紧急"
# A limit text that is just "<number><unit>" (e.g. "4工作时", "2紧急工作时", "7个工作日").
_PLAIN_LIMIT_TEXT = re.compile(r"\d+(\.\d+)?个?(紧急)?(工作时|工作日|小时|天|自然日|分钟)")

# ------------------------------------------------------------------ matching
#
# The 运城 codes are that city's own 4-digit 大类+小类 numbers: they agree with the legacy
# numbering only for a few early items (0101–0111 and so on) and never with GB/T 47678.5.
# So a 运城 小类 is attached by NAME, within the same kind, to categories of both sets:
#
# 1. exact name (after Unicode NFKC and removing spaces, so "（" equals "(");
# 2. the explicit synonym table below: only names that mean the same object or matter,
#    or, where marked "close", a slightly different wording whose conditions fit (several
#    of those also share the legacy code, e.g. 0409 绿地附属设施 / 绿地维护设施);
# 3. GB/T 47678.5 管理事项 classes 01–05 are one "<部件>异常" matter per 管理部件: a GB
#    component that got 运城 conditions gives the same conditions to its "<name>异常"
#    matter;
# 4. a few 运城 components that GB/T 47678.5 lists as 管理事项 of damage (class 06), where
#    every 运城 condition is a damage condition.
#
# Not matched on purpose: broader or narrower names (商业噪音 vs 噪声扰民, 垃圾中转站 vs
# 垃圾间（楼）, 公益性宣传品 vs 公益性宣传品缺损 whose conditions include "not set up"), and
# catch-alls (突发事件, 其他…). Those categories get the default condition instead.
_SYNONYMS: dict[tuple[str, str], tuple[str, ...]] = {
    # components
    (Kind.COMPONENT, "上水井盖"): ("供水井盖",),
    (Kind.COMPONENT, "通讯交接箱"): ("通信交接箱",),
    (Kind.COMPONENT, "监控电子眼"): ("监控电子眼设施",),
    (Kind.COMPONENT, "岗亭（治安亭）"): ("治安岗亭",),
    (Kind.COMPONENT, "充电站（桩）"): ("充电桩",),
    (Kind.COMPONENT, "户外健身设施"): ("健身设施",),
    (Kind.COMPONENT, "公交站亭（牌）"): ("公交站设施", "公交站亭"),
    (Kind.COMPONENT, "限高架（杆）"): ("限高架标志",),  # close
    (Kind.COMPONENT, "立交桥"): ("高架立交桥",),
    (Kind.COMPONENT, "垃圾箱（果皮箱、桶）"): ("垃圾箱",),
    (Kind.COMPONENT, "牌匾标识"): ("广告牌匾",),  # close; legacy code 0307 agrees
    (Kind.COMPONENT, "花钵花架"): ("花架花钵",),
    (Kind.COMPONENT, "街头座椅"): ("街头坐椅",),
    (Kind.COMPONENT, "绿地附属设施"): ("绿地维护设施",),  # close; legacy code 0409 agrees
    (Kind.COMPONENT, "综合管廊设施"): ("综合管廊附属设施",),
    (Kind.COMPONENT, "树池树篦"): ("树池树穴",),  # close; its one condition is 破损
    # events
    (Kind.EVENT, "临街建筑物外立面不洁"): ("建筑物外立面不洁", "建筑物外立面污损"),  # close
    (Kind.EVENT, "擅自在临街建筑物上挂彩旗"): ("擅自在临街的建筑物上挂彩旗",),
    (Kind.EVENT, "暴露生活垃圾"): ("暴露垃圾",),
    (Kind.EVENT, "道路遗撒"): ("道路遗撒（洒）",),
    (Kind.EVENT, "非装饰性吊挂"): ("非装饰性树挂",),  # close; its conditions are about trees
    (Kind.EVENT, "焚烧垃圾、树叶"): ("焚烧树叶、垃圾",),
    (Kind.EVENT, "动物尸体"): ("动物尸体清理",),
    (Kind.EVENT, "乱堆物堆料"): ("乱堆杂物",),
    (Kind.EVENT, "私设地桩、地锁、停车杆"): ("私设地锁、阻车桩",),
    (Kind.EVENT, "垃圾满溢"): ("垃圾站（箱）满溢",),
    (Kind.EVENT, "施工工地围挡"): ("施工工地围挡问题",),
    (Kind.EVENT, "预埋件裸露钢筋"): ("预埋件设施裸露",),  # close
    (Kind.EVENT, "占道废品收购"): ("废品收购乱象",),
    (Kind.EVENT, "农贸市场管理"): ("农贸市场秩序问题",),
    (Kind.EVENT, "共享单车管理"): ("共享单车乱象",),
    (Kind.EVENT, "占道清洗装潢车辆"): ("占道洗车",),  # close
    (Kind.EVENT, "桥下空间管理"): ("违规占用桥下空间",),
    (Kind.EVENT, "供水管道破裂"): ("自来水管破裂",),
    (Kind.EVENT, "排水管道堵塞、破裂"): ("下水道堵塞或破损",),
    (Kind.EVENT, "道路积雪、积冰"): ("道路积雪、结冰", "道路积雪结冰"),
    (Kind.EVENT, "架空线缆脱落"): ("架空线缆损坏",),  # close
}
# Rule 4: 运城 component → GB/T 47678.5 管理事项 names.
_COMPONENT_AS_GB_MATTER: dict[str, tuple[str, ...]] = {
    "边坡、挡土墙": ("边坡（挡土墙）破损",),
    "台阶": ("台阶破损",),
    "无障碍坡道及盲道": ("盲道缺损", "无障碍坡道破损"),
    "路沿石": ("路缘石缺损",),
}
_FACILITY_MATTER_MAJORS = frozenset({"01", "02", "03", "04", "05"})
_FACILITY_MATTER_SUFFIX = "异常"


def _norm(name: str) -> str:
    return "".join(unicodedata.normalize("NFKC", name).split())


# ------------------------------------------------------------------ report


@dataclass(frozen=True)
class CodebookReport:
    """What one load did. ``*_created`` and ``defaults_added`` count this run's writes (zero
    on a repeated load); the matching figures describe the files and are the same each run."""

    categories_created: int = 0
    categories_existing: int = 0  # already present: left exactly as they were
    filing_conditions_created: int = 0  # from the real table
    closing_conditions_created: int = 0
    defaults_added: int = 0  # default filing conditions for categories without a real row
    time_limit_rows_matched: int = 0  # seed (运城) rows attached to at least one category
    unmatched_time_limit_rows: int = 0  # seed rows that matched no category
    reference_time_limit_rows: int = 0  # rows of other cities: checked, not attached
    matched_categories: dict[str, int] = field(default_factory=dict)  # per standard
    unmatched_minor_names: tuple[str, ...] = ()


# ------------------------------------------------------------------ reading the files


@dataclass(frozen=True)
class _CategoryRow:
    line: int
    standard: Standard
    kind: Kind
    major_code: str
    major_name: str
    minor_code: str
    minor_name: str
    code_status: str
    note: str


@dataclass(frozen=True)
class _LimitRow:
    line: int
    kind: Kind
    seed: bool
    minor_name: str
    text: str
    value: float
    unit: LimitUnit
    urgent: bool
    closing: str
    source: str
    raw: str


def _bad(path: Path, line: int, column: str, problem: str) -> InvalidInput:
    return InvalidInput(
        f"{path.name}, line {line}, column '{column}': {problem}",
        field=column,
        file=str(path),
        line=line,
        column=column,
    )


def _rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, row) with every required cell present; refuse a malformed file."""
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise InvalidInput(
            f"{path.name}: cannot open the file ({exc.strerror}).", field="file", file=str(path)
        ) from exc
    with handle:
        reader = csv.DictReader(handle)
        try:
            header = reader.fieldnames or []
            missing = [c for c in required if c not in header]
            if missing:
                raise _bad(path, 1, missing[0], f"missing column(s): {', '.join(missing)}.")
            for row in reader:
                line = reader.line_num
                if row.get(None):  # more cells than header columns
                    raise _bad(path, line, header[-1], "the row has more cells than the header.")
                short = [c for c in header if row.get(c) is None]
                if short:
                    raise _bad(path, line, short[0], "the row has fewer cells than the header.")
                yield line, {k: (v or "").strip() for k, v in row.items()}
        except csv.Error as exc:
            raise _bad(path, reader.line_num, "file", f"unreadable CSV ({exc}).") from exc
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"{path.name}: not UTF-8 text.", field="file", file=str(path)) from exc


def _text(path: Path, line: int, row: dict[str, str], column: str, size: str, *, required: bool) -> str:
    value = row.get(column, "")
    if required and not value:
        raise _bad(path, line, column, "must not be empty.")
    if len(value) > _MAX[size]:
        raise _bad(path, line, column, f"longer than {_MAX[size]} characters.")
    return value


def _digits(path: Path, line: int, row: dict[str, str], column: str) -> str:
    value = _text(path, line, row, column, column, required=True)
    if not (value.isascii() and value.isdigit()):
        raise _bad(path, line, column, f"'{value}' is not a code of digits.")
    return value


def _kind(path: Path, line: int, value: str) -> Kind:
    if value not in _KINDS:
        raise _bad(path, line, "kind", f"'{value}' is not one of: {', '.join(_KINDS)}.")
    return _KINDS[value]


def _read_categories(path: Path) -> list[_CategoryRow]:
    rows: list[_CategoryRow] = []
    seen: dict[tuple[str, str, str], int] = {}
    for line, row in _rows(path, _CATEGORY_COLUMNS):
        if row["standard"] not in _STANDARDS:
            raise _bad(path, line, "standard", f"'{row['standard']}' is not one of: {', '.join(_STANDARDS)}.")
        parsed = _CategoryRow(
            line=line,
            standard=_STANDARDS[row["standard"]],
            kind=_kind(path, line, row["kind"]),
            major_code=_digits(path, line, row, "major_code"),
            major_name=_text(path, line, row, "major_name", "major_name", required=True),
            minor_code=_digits(path, line, row, "minor_code"),
            minor_name=_text(path, line, row, "minor_name", "minor_name", required=True),
            code_status=_text(path, line, row, "code_status", "code_status", required=False),
            note=_text(path, line, row, "note", "note", required=False),
        )
        key = (parsed.standard, parsed.kind, parsed.minor_code)
        if key in seen:
            raise _bad(path, line, "minor_code", f"code {parsed.minor_code} repeats line {seen[key]}.")
        seen[key] = line
        rows.append(parsed)
    return rows


def _limit_value(path: Path, line: int, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise _bad(path, line, "disposal_limit_value", f"'{raw}' is not a number.") from None
    if not math.isfinite(value) or value <= 0:
        raise _bad(path, line, "disposal_limit_value", f"'{raw}' is not a positive number.")
    return value


def _read_time_limits(path: Path) -> list[_LimitRow]:
    rows: list[_LimitRow] = []
    for line, row in _rows(path, _LIMIT_COLUMNS):
        kind = _kind(path, line, row["kind"])
        value = _limit_value(path, line, row["disposal_limit_value"])
        unit_word = row["disposal_limit_unit"]
        raw = _text(path, line, row, "limit_text_raw", "limit_text_raw", required=False)
        urgent = row["urgency_or_class"] == URGENT_WORD or URGENT_WORD in raw
        units = _URGENT_UNITS if urgent else _PLAIN_UNITS
        if unit_word not in units:
            raise _bad(path, line, "disposal_limit_unit", f"'{unit_word}' is not one of: {', '.join(units)}.")
        source = row["source"] or row["standard_or_city"]
        if raw and not _PLAIN_LIMIT_TEXT.fullmatch(raw):
            # Seasonal or worded limits ("种植季节15工作日", "1紧急工作时制止"): the table's
            # value and unit columns hold the number and unit; say so next to the source.
            remark = " | limit text not a plain number+unit: value/unit columns used"
            source = source[: _MAX["source"] - len(remark)] + remark
        rows.append(
            _LimitRow(
                line=line,
                kind=kind,
                seed=row["standard_or_city"].startswith(SEED_CITY_PREFIX),
                minor_name=_text(path, line, row, "minor_name", "minor_name", required=True),
                text=_text(path, line, row, "filing_condition", "condition", required=True),
                value=value,
                unit=units[unit_word],
                urgent=urgent,
                closing=_text(path, line, row, "closing_condition", "closing", required=False),
                source=source[: _MAX["source"]],
                raw=raw,
            )
        )
    return rows


# ------------------------------------------------------------------ loading


def _targets(row: _LimitRow, by_name: dict[tuple[str, str, str], list[Category]]) -> list[Category]:
    """The categories a 运城 row applies to (rules 1–4 above), each once, in a stable order."""
    names = [row.minor_name, *_SYNONYMS.get((row.kind, row.minor_name), ())]
    found: list[Category] = []
    for standard in (Standard.GB_47678, Standard.LEGACY):
        for name in names:
            found.extend(by_name.get((standard, row.kind, _norm(name)), ()))
    if row.kind == Kind.COMPONENT:
        for component in [c for c in found if c.standard == Standard.GB_47678]:
            if component.major_code in _FACILITY_MATTER_MAJORS:
                matter = component.minor_name + _FACILITY_MATTER_SUFFIX
                found.extend(
                    c
                    for c in by_name.get((Standard.GB_47678, Kind.EVENT, _norm(matter)), ())
                    if c.major_code == component.major_code
                )
        for matter in _COMPONENT_AS_GB_MATTER.get(row.minor_name, ()):
            found.extend(by_name.get((Standard.GB_47678, Kind.EVENT, _norm(matter)), ()))
    unique = {c.pk: c for c in found}
    return list(unique.values())


def load_codebook(*, categories_csv: Path | None = None, time_limits_csv: Path | None = None) -> CodebookReport:
    """Create missing categories and seed filing conditions; see the module docstring."""
    category_rows = _read_categories(Path(categories_csv or CATEGORIES_CSV))
    limit_rows = _read_time_limits(Path(time_limits_csv or TIME_LIMITS_CSV))

    with transaction.atomic():
        existing = set(Category.objects.values_list("standard", "kind", "minor_code"))
        new = [
            Category(
                standard=r.standard,
                kind=r.kind,
                major_code=r.major_code,
                major_name=r.major_name,
                minor_code=r.minor_code,
                minor_name=r.minor_name,
                code_status=r.code_status,
                note=r.note,
            )
            for r in category_rows
            if (r.standard, r.kind, r.minor_code) not in existing
        ]
        Category.objects.bulk_create(new)

        categories = list(Category.objects.only("id", "standard", "kind", "major_code", "minor_name", "active"))
        by_name: dict[tuple[str, str, str], list[Category]] = defaultdict(list)
        for c in categories:
            if c.standard in (Standard.GB_47678, Standard.LEGACY):
                by_name[(c.standard, c.kind, _norm(c.minor_name))].append(c)
        has_conditions = set(FilingCondition.objects.values_list("category_id", flat=True).distinct())

        planned: dict[int, list[_LimitRow]] = defaultdict(list)
        planned_keys: set[tuple[int, str, float, str, bool]] = set()
        matched_categories: dict[str, set[int]] = defaultdict(set)
        matched_rows = unmatched_rows = reference_rows = 0
        unmatched_names: dict[str, None] = {}
        for row in limit_rows:
            if not row.seed:
                reference_rows += 1
                continue
            targets = _targets(row, by_name)
            if not targets:
                unmatched_rows += 1
                unmatched_names[f"{row.kind}:{row.minor_name}"] = None
                continue
            matched_rows += 1
            for category in targets:
                matched_categories[category.standard].add(category.pk)
                key = (category.pk, row.text, row.value, row.unit, row.urgent)
                if category.pk in has_conditions or key in planned_keys:
                    continue
                planned_keys.add(key)
                planned[category.pk].append(row)

        closings_created = _create_closings(planned)
        closing_ids = {
            (category_id, text): pk
            for pk, category_id, text in ClosingCondition.objects.filter(category_id__in=planned).values_list(
                "pk", "category_id", "text"
            )
        }
        conditions = [
            FilingCondition(
                category_id=category_id,
                seq=seq,
                text=row.text,
                limit_value=row.value,
                limit_unit=row.unit,
                urgent=row.urgent,
                closing_condition_id=closing_ids.get((category_id, row.closing)) if row.closing else None,
                limit_text_raw=row.raw,
                source=row.source,
            )
            for category_id, rows in planned.items()
            for seq, row in enumerate(rows, start=1)
        ]
        FilingCondition.objects.bulk_create(conditions)

        defaults = []
        for c in categories:
            if c.active and c.pk not in has_conditions and c.pk not in planned:
                value, unit = DEFAULT_LIMITS[c.kind]
                defaults.append(
                    FilingCondition(
                        category_id=c.pk,
                        seq=1,
                        text=DEFAULT_CONDITION_TEXT,
                        limit_value=value,
                        limit_unit=unit,
                        source=DEFAULT_CONDITION_SOURCE,
                    )
                )
        FilingCondition.objects.bulk_create(defaults)
        limits_changed()

    return CodebookReport(
        categories_created=len(new),
        categories_existing=len(category_rows) - len(new),
        filing_conditions_created=len(conditions),
        closing_conditions_created=closings_created,
        defaults_added=len(defaults),
        time_limit_rows_matched=matched_rows,
        unmatched_time_limit_rows=unmatched_rows,
        reference_time_limit_rows=reference_rows,
        matched_categories={str(s): len(ids) for s, ids in sorted(matched_categories.items())},
        unmatched_minor_names=tuple(unmatched_names),
    )


def _create_closings(planned: dict[int, list[_LimitRow]]) -> int:
    """One ClosingCondition per (category, text), reusing any that already exist."""
    have = set(ClosingCondition.objects.filter(category_id__in=planned).values_list("category_id", "text"))
    wanted: dict[tuple[int, str], None] = {}
    for category_id, rows in planned.items():
        for row in rows:
            if row.closing and (category_id, row.closing) not in have:
                wanted[(category_id, row.closing)] = None
    ClosingCondition.objects.bulk_create(ClosingCondition(category_id=c, text=t) for c, t in wanted)
    return len(wanted)


# ------------------------------------------------------------------ local extensions


def add_local_category(
    *,
    kind: str,
    major_code: str,
    major_name: str,
    minor_code: str,
    minor_name: str,
    conditions: list[tuple[str, float, str, str | None]],
) -> Category:
    """Create a 本地扩展 category with its filing conditions: ``(text, limit value, limit unit,
    closing condition or None)`` each. Unit is a ``LimitUnit`` value; ``natural_hours`` is how
    the codebook spells 紧急工作时, so such a condition is marked urgent. Refuses bad input
    with ``InvalidInput`` naming the field; nothing is written then."""
    if kind not in _KINDS:
        raise InvalidInput(f"Kind must be one of: {', '.join(_KINDS)}.", field="kind")
    for name, value in (("major_code", major_code), ("minor_code", minor_code)):
        if not isinstance(value, str) or not (value.isascii() and value.isdigit()):
            raise InvalidInput(f"The {name.replace('_', ' ')} must be digits only.", field=name)
        if len(value) > _MAX[name]:
            raise InvalidInput(f"The {name.replace('_', ' ')} has at most {_MAX[name]} digits.", field=name)
    for name, value in (("major_name", major_name), ("minor_name", minor_name)):
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput(f"The {name.replace('_', ' ')} must not be empty.", field=name)
        if len(value.strip()) > _MAX[name]:
            raise InvalidInput(f"The {name.replace('_', ' ')} has at most {_MAX[name]} characters.", field=name)
    if not conditions:
        raise InvalidInput("A category needs at least one filing condition.", field="conditions")
    checked = [_check_condition(i, c) for i, c in enumerate(conditions)]

    with transaction.atomic():
        if Category.objects.filter(standard=Standard.LOCAL, kind=kind, minor_code=minor_code).exists():
            raise InvalidInput(f"A local {kind} category with code {minor_code} already exists.", field="minor_code")
        category = Category.objects.create(
            standard=Standard.LOCAL,
            kind=kind,
            major_code=major_code,
            major_name=major_name.strip(),
            minor_code=minor_code,
            minor_name=minor_name.strip(),
            code_status="local extension",
        )
        closings: dict[str, ClosingCondition] = {}
        for seq, (text, value, unit, closing) in enumerate(checked, start=1):
            if closing and closing not in closings:
                closings[closing] = ClosingCondition.objects.create(category=category, text=closing)
            FilingCondition.objects.create(
                category=category,
                seq=seq,
                text=text,
                limit_value=value,
                limit_unit=unit,
                urgent=unit == LimitUnit.NATURAL_HOURS,
                closing_condition=closings.get(closing) if closing else None,
                source=LOCAL_CONDITION_SOURCE,
            )
    return category


def _check_condition(index: int, condition: object) -> tuple[str, float, LimitUnit, str]:
    where = f"conditions[{index}]"
    if not isinstance(condition, (tuple, list)) or len(condition) != 4:
        raise InvalidInput(
            f"Condition {index + 1} must be (text, limit value, limit unit, closing condition).", field=where
        )
    text, value, unit, closing = condition
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput(f"Condition {index + 1} needs its text.", field=f"{where}.text")
    if len(text.strip()) > _MAX["condition"]:
        raise InvalidInput(
            f"Condition {index + 1} is longer than {_MAX['condition']} characters.", field=f"{where}.text"
        )
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise InvalidInput(f"Condition {index + 1} needs a positive time limit.", field=f"{where}.value")
    try:
        unit = LimitUnit(unit)
    except ValueError:
        units = ", ".join(u.value for u in LimitUnit)
        raise InvalidInput(
            f"Condition {index + 1} has unknown time-limit unit '{unit}' (use one of: {units}).",
            field=f"{where}.unit",
        ) from None
    if closing is not None and not isinstance(closing, str):
        raise InvalidInput(f"Condition {index + 1}: the closing condition must be text.", field=f"{where}.closing")
    closing = (closing or "").strip()
    if len(closing) > _MAX["closing"]:
        raise InvalidInput(
            f"Condition {index + 1}: the closing condition is longer than {_MAX['closing']} characters.",
            field=f"{where}.closing",
        )
    return text.strip(), float(value), unit, closing


# ------------------------------------------------------------------ stage limits


def seed_stage_limits() -> int:
    """Create the 环节时限 rows missing from the table with the defaults; return how many."""
    with transaction.atomic():
        have = set(StageLimit.objects.values_list("stage", flat=True))
        rows = [
            StageLimit(stage=stage, limit_value=value, limit_unit=unit, warn_ratio=DEFAULT_WARN_RATIO)
            for stage, (value, unit) in DEFAULT_STAGE_LIMITS.items()
            if stage not in have
        ]
        StageLimit.objects.bulk_create(rows)
        limits_changed()
    return len(rows)
