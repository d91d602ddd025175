"""Loading the codebook from the shipped CSV copies: categories, real 运城 conditions,
defaults, idempotence, local extensions and refusals of broken files."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest

import citykeeper
from citykeeper.domain.errors import InvalidInput
from citykeeper.domain.workflow import Stage
from citykeeper.services import codebook
from citykeeper.services.codebook import add_local_category, load_codebook, seed_stage_limits
from citykeeper.store.models import Category, ClosingCondition, FilingCondition, StageLimit
from citykeeper.store.models.codebook import Kind, Standard

YUNCHENG = "运城"


def counts() -> tuple[int, int, int]:
    return Category.objects.count(), FilingCondition.objects.count(), ClosingCondition.objects.count()


def category(standard: Standard, kind: Kind, code: str) -> Category:
    return Category.objects.get(standard=standard, kind=kind, minor_code=code)


def conditions(cat: Category) -> list[FilingCondition]:
    return list(cat.filing_conditions.select_related("closing_condition").order_by("seq"))


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def real_rows(path: Path, n: int) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1 : n + 1]


# ------------------------------------------------------------------ the shipped files


def test_the_loader_reads_the_copies_shipped_inside_the_package():
    package = Path(citykeeper.__file__).resolve().parent
    for path in (codebook.CATEGORIES_CSV, codebook.TIME_LIMITS_CSV):
        assert path.is_file()
        assert package in path.parents
    assert (codebook.DATA_DIR / "SOURCES.md").is_file()
    assert (codebook.DATA_DIR / "time_limits.md").is_file()


def test_the_file_holds_153_gb_components_250_gb_matters_85_legacy_components_and_55_legacy_events(db):
    report = load_codebook()
    assert report.categories_created == 543 and report.categories_existing == 0
    by_set = {
        (standard, kind): Category.objects.filter(standard=standard, kind=kind).count()
        for standard in (Standard.GB_47678, Standard.LEGACY)
        for kind in (Kind.COMPONENT, Kind.EVENT)
    }
    assert by_set == {
        (Standard.GB_47678, Kind.COMPONENT): 153,
        (Standard.GB_47678, Kind.EVENT): 250,
        (Standard.LEGACY, Kind.COMPONENT): 85,
        (Standard.LEGACY, Kind.EVENT): 55,
    }
    assert not Category.objects.filter(emergency=True).exists()
    assert not Category.objects.filter(active=False).exists()


def test_a_loaded_category_keeps_its_names_and_code_status(db):
    load_codebook()
    cover = category(Standard.GB_47678, Kind.COMPONENT, "01002")
    assert (cover.major_code, cover.major_name, cover.minor_name) == ("01", "市政公用设施", "污水井盖")
    assert cover.code_status == "transcribed-from-standard (third-party)"
    legacy = category(Standard.LEGACY, Kind.COMPONENT, "0606")
    assert legacy.minor_name == "防汛墙" and "防洪墙" in legacy.note


def test_loading_the_whole_codebook_takes_well_under_five_seconds(db):
    started = time.perf_counter()
    load_codebook()
    assert time.perf_counter() - started < 5


# ------------------------------------------------------------------ real conditions


def test_gb_01002_sewage_cover_gets_the_four_yuncheng_conditions_with_a_two_hour_urgent_one(db):
    load_codebook()
    rows = conditions(category(Standard.GB_47678, Kind.COMPONENT, "01002"))
    assert [(c.limit_value, c.limit_unit, c.urgent) for c in rows] == [
        (2, "natural_hours", True),
        (4, "work_hours", False),
        (2, "work_days", False),
        (5, "work_days", False),
    ]
    urgent = rows[0]
    assert urgent.text == "缺失、移位、开裂，存在安全隐患的"
    assert urgent.limit_text_raw == "2紧急工作时"
    assert urgent.closing_condition.text == "恢复"
    assert YUNCHENG in urgent.source and "standards_preview.csv" in urgent.source


def test_legacy_0101_fresh_water_cover_gets_the_four_conditions_and_three_distinct_closing_conditions(db):
    load_codebook()
    cover = category(Standard.LEGACY, Kind.COMPONENT, "0101")
    assert cover.minor_name == "上水井盖"
    rows = conditions(cover)
    assert [(c.seq, c.limit_text_raw, c.limit_value, c.limit_unit, c.urgent) for c in rows] == [
        (1, "2紧急工作时", 2, "natural_hours", True),
        (2, "4工作时", 4, "work_hours", False),
        (3, "2工作日", 2, "work_days", False),
        (4, "5工作日", 5, "work_days", False),
    ]
    assert [c.closing_condition.text for c in rows] == ["恢复", "更换或修复", "更换或修复", "修复"]
    assert sorted(cover.closing_conditions.values_list("text", flat=True)) == sorted(["恢复", "更换或修复", "修复"])


def test_a_synonym_gives_gb_01001_fresh_water_cover_the_conditions_of_yuncheng_shangshui_cover(db):
    load_codebook()
    rows = conditions(category(Standard.GB_47678, Kind.COMPONENT, "01001"))
    assert rows[0].text == "缺失、移位、开裂，存在安全隐患的" and rows[0].urgent
    assert len(rows) == 4


def test_each_gb_facility_matter_gets_the_conditions_of_its_component(db):
    load_codebook()
    matter = category(Standard.GB_47678, Kind.EVENT, "01002")
    assert matter.minor_name == "污水井盖异常"
    component = category(Standard.GB_47678, Kind.COMPONENT, "01002")
    as_tuple = lambda rows: [(c.text, c.limit_value, c.limit_unit, c.urgent) for c in rows]  # noqa: E731
    assert as_tuple(conditions(matter)) == as_tuple(conditions(component))


def test_template_units_read_as_working_time_and_urgent_days_as_natural_days(db):
    load_codebook()
    # 暴露生活垃圾 (template "4小时") → GB 06010 暴露垃圾, working hours.
    garbage = conditions(category(Standard.GB_47678, Kind.EVENT, "06010"))
    assert [(c.limit_text_raw, c.limit_value, c.limit_unit, c.urgent) for c in garbage] == [
        ("4小时", 4, "work_hours", False)
    ]
    # 私搭乱建: "2紧急工作日" (urgent, natural days) and a "15天" (working days) row.
    building = conditions(category(Standard.GB_47678, Kind.EVENT, "06001"))
    units = {c.limit_text_raw: (c.limit_unit, c.urgent) for c in building}
    assert units["2紧急工作日"] == ("natural_days", True)
    assert units["15天"] == ("work_days", False)


def test_a_worded_limit_keeps_its_raw_text_and_says_so_in_the_source(db):
    load_codebook()
    tree = category(Standard.GB_47678, Kind.COMPONENT, "04002")
    missing = tree.filing_conditions.get(text="缺失")
    assert (missing.limit_value, missing.limit_unit, missing.limit_text_raw) == (
        15,
        "work_days",
        "种植季节15工作日",
    )
    assert "not a plain number+unit" in missing.source
    assert len(missing.source) <= 200


def test_rows_of_other_cities_are_reference_only_and_attached_to_nothing(db):
    report = load_codebook()
    assert report.reference_time_limit_rows == 19
    for word in ("广州", "泉州", "济源", "renrendoc", "iask", "dekahost", "jingyuhuahui"):
        assert not FilingCondition.objects.filter(source__contains=word).exists()


def test_the_report_accounts_for_every_yuncheng_row_and_names_the_unmatched_ones(db):
    report = load_codebook()
    assert report.time_limit_rows_matched + report.unmatched_time_limit_rows == 279 + 239
    assert report.unmatched_time_limit_rows > 0
    assert "event:突发事件" in report.unmatched_minor_names
    assert "component:上水井盖" not in report.unmatched_minor_names
    real = FilingCondition.objects.exclude(source=codebook.DEFAULT_CONDITION_SOURCE)
    for standard in (Standard.GB_47678, Standard.LEGACY):
        with_real = Category.objects.filter(standard=standard, filing_conditions__in=real).distinct().count()
        assert report.matched_categories[standard] == with_real
    assert report.filing_conditions_created == real.count()
    assert report.closing_conditions_created == ClosingCondition.objects.count()


# ------------------------------------------------------------------ defaults


def test_every_category_ends_with_at_least_one_filing_condition(db):
    report = load_codebook()
    assert not Category.objects.filter(filing_conditions__isnull=True).exists()
    defaults = FilingCondition.objects.filter(source=codebook.DEFAULT_CONDITION_SOURCE)
    assert report.defaults_added == defaults.count() > 0
    assert (
        not Category.objects.filter(filing_conditions__in=defaults)
        .exclude(filing_conditions__source=codebook.DEFAULT_CONDITION_SOURCE)
        .exists()
    )


def test_a_component_without_a_real_row_gets_the_three_work_day_default(db):
    load_codebook()
    # 01005 电力井盖 is not in 运城's table.
    (only,) = conditions(category(Standard.GB_47678, Kind.COMPONENT, "01005"))
    assert (only.text, only.limit_value, only.limit_unit, only.urgent) == (
        "符合本类别立案标准",
        3,
        "work_days",
        False,
    )
    assert only.source == "default (no real table row found)" and only.closing_condition is None


def test_an_event_without_a_real_row_gets_the_one_work_day_default(db):
    load_codebook()
    (only,) = conditions(category(Standard.LEGACY, Kind.EVENT, "0502"))  # 流浪乞讨, not in 运城's table
    assert (only.limit_value, only.limit_unit) == (1, "work_days")


# ------------------------------------------------------------------ idempotence and admin edits


def test_a_second_load_creates_nothing_and_reports_the_same_matching(db):
    first = load_codebook()
    before = counts()
    second = load_codebook()
    assert counts() == before
    assert (second.categories_created, second.categories_existing) == (0, 543)
    assert (second.filing_conditions_created, second.closing_conditions_created, second.defaults_added) == (
        0,
        0,
        0,
    )
    assert second.matched_categories == first.matched_categories
    assert second.unmatched_time_limit_rows == first.unmatched_time_limit_rows


def test_a_limit_and_a_name_an_administrator_edited_survive_a_reload(db):
    load_codebook()
    cover = category(Standard.GB_47678, Kind.COMPONENT, "01002")
    urgent = cover.filing_conditions.get(seq=1)
    urgent.limit_value, urgent.text = 1, "缺失（本市口径）"
    urgent.save()
    cover.filing_conditions.filter(seq=4).delete()
    cover.minor_name = "污水检查井井盖"
    cover.save()
    before = counts()

    load_codebook()

    assert counts() == before
    cover.refresh_from_db()
    assert cover.minor_name == "污水检查井井盖"
    assert [(c.seq, c.text, c.limit_value) for c in conditions(cover)] == [
        (1, "缺失（本市口径）", 1),
        (2, "破损超过25c㎡", 4),
        (3, "弹跳产生声响，翻盖明显影响安全", 2),
    ]


def test_a_deleted_category_comes_back_with_its_real_conditions(db):
    load_codebook()
    category(Standard.LEGACY, Kind.COMPONENT, "0101").delete()
    report = load_codebook()
    assert report.categories_created == 1
    assert len(conditions(category(Standard.LEGACY, Kind.COMPONENT, "0101"))) == 4


def test_a_category_an_administrator_added_by_hand_is_kept_and_given_a_default(db):
    hand = Category.objects.create(
        standard=Standard.LOCAL,
        kind=Kind.EVENT,
        major_code="21",
        major_name="扩展事件",
        minor_code="2101",
        minor_name="共享电单车乱停",
    )
    load_codebook()
    (only,) = conditions(hand)
    assert only.source == codebook.DEFAULT_CONDITION_SOURCE


# ------------------------------------------------------------------ local extensions


LOCAL = {
    "kind": "event",
    "major_code": "21",
    "major_name": "扩展事件",
    "minor_code": "2101",
    "minor_name": "共享电单车乱停",
}


def test_a_local_category_is_created_with_its_conditions_in_order(db):
    cat = add_local_category(
        **LOCAL,
        conditions=[
            ("堵塞盲道、消防通道", 2, "natural_hours", "清理"),
            ("占用人行道超过10辆", 4, "work_hours", "清理"),
            ("其他乱停放", 1, "work_days", None),
        ],
    )
    assert cat.standard == Standard.LOCAL and cat.is_local_extension
    assert (cat.kind, cat.minor_code, cat.minor_name) == ("event", "2101", "共享电单车乱停")
    rows = conditions(cat)
    assert [(c.seq, c.limit_value, c.limit_unit, c.urgent) for c in rows] == [
        (1, 2, "natural_hours", True),
        (2, 4, "work_hours", False),
        (3, 1, "work_days", False),
    ]
    assert [c.closing_condition and c.closing_condition.text for c in rows] == ["清理", "清理", None]
    assert cat.closing_conditions.count() == 1


def test_a_local_category_survives_a_codebook_load_untouched(db):
    cat = add_local_category(**LOCAL, conditions=[("乱停放", 1, "work_days", "清理")])
    load_codebook()
    assert [c.text for c in conditions(cat)] == ["乱停放"]


GOOD_CONDITION = ("乱停放", 1, "work_days", "清理")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "matter"}, "kind"),
        ({"major_code": "2A"}, "major_code"),
        ({"minor_code": "21-01"}, "minor_code"),
        ({"minor_code": "２１０１"}, "minor_code"),  # full-width digits are not ASCII digits
        ({"minor_code": "123456789"}, "minor_code"),
        ({"minor_name": "  "}, "minor_name"),
        ({"major_name": ""}, "major_name"),
        ({"conditions": []}, "conditions"),
        ({"conditions": [("", 1, "work_days", None)]}, "conditions[0].text"),
        ({"conditions": [GOOD_CONDITION, ("乱停放", 0, "work_days", None)]}, "conditions[1].value"),
        ({"conditions": [("乱停放", "两", "work_days", None)]}, "conditions[0].value"),
        ({"conditions": [("乱停放", 1, "工作日", None)]}, "conditions[0].unit"),
        ({"conditions": [("乱停放", 1)]}, "conditions[0]"),
    ],
)
def test_a_bad_local_category_is_refused_naming_the_field_and_nothing_is_written(db, change, field):
    before = counts()
    with pytest.raises(InvalidInput) as refused:
        add_local_category(**{**LOCAL, "conditions": [GOOD_CONDITION], **change})
    assert refused.value.field == field
    assert counts() == before


def test_a_local_code_already_in_use_is_refused_and_nothing_is_written(db):
    add_local_category(**LOCAL, conditions=[GOOD_CONDITION])
    before = counts()
    with pytest.raises(InvalidInput) as refused:
        add_local_category(**{**LOCAL, "minor_name": "另一个"}, conditions=[GOOD_CONDITION])
    assert refused.value.field == "minor_code"
    assert counts() == before


def test_the_same_local_code_may_be_used_once_per_kind(db):
    add_local_category(**LOCAL, conditions=[GOOD_CONDITION])
    other = add_local_category(**{**LOCAL, "kind": "component"}, conditions=[GOOD_CONDITION])
    assert other.kind == "component"


# ------------------------------------------------------------------ broken files


def test_a_categories_file_without_a_column_is_refused_at_line_one_and_nothing_is_written(db, tmp_path):
    header, rows = real_rows(codebook.CATEGORIES_CSV, 3)
    drop = header.index("minor_name")
    broken = write_csv(
        tmp_path / "categories.csv",
        [h for i, h in enumerate(header) if i != drop],
        [[v for i, v in enumerate(r) if i != drop] for r in rows],
    )
    with pytest.raises(InvalidInput) as refused:
        load_codebook(categories_csv=broken)
    message = refused.value.message
    assert "categories.csv" in message and "line 1" in message and "minor_name" in message
    assert refused.value.field == "minor_name"
    assert counts() == (0, 0, 0)


def test_a_non_numeric_limit_is_refused_with_its_line_and_column_and_nothing_is_written(db, tmp_path):
    header, rows = real_rows(codebook.TIME_LIMITS_CSV, 5)
    rows[3][header.index("disposal_limit_value")] = "两"
    broken = write_csv(tmp_path / "limits.csv", header, rows)
    with pytest.raises(InvalidInput) as refused:
        load_codebook(time_limits_csv=broken)
    assert refused.value.message.startswith("limits.csv, line 5, column 'disposal_limit_value'")
    assert refused.value.params["line"] == 5
    assert counts() == (0, 0, 0)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("disposal_limit_unit", "旬"),
        ("disposal_limit_value", "-1"),
        ("kind", "matter"),
        ("filing_condition", ""),
    ],
)
def test_a_bad_time_limit_cell_is_refused_naming_the_column(db, tmp_path, column, value):
    header, rows = real_rows(codebook.TIME_LIMITS_CSV, 3)
    rows[1][header.index(column)] = value
    broken = write_csv(tmp_path / "limits.csv", header, rows)
    with pytest.raises(InvalidInput) as refused:
        load_codebook(time_limits_csv=broken)
    assert f"line 3, column '{column}'" in refused.value.message
    assert counts() == (0, 0, 0)


@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("minor_code", "01O02", "digits"),
        ("standard", "GB 1234", "standard"),
        ("minor_code", "01001", "repeats"),
    ],
)
def test_a_bad_category_row_is_refused_with_its_line(db, tmp_path, column, value, problem):
    header, rows = real_rows(codebook.CATEGORIES_CSV, 4)
    rows[2][header.index(column)] = value
    broken = write_csv(tmp_path / "cats.csv", header, rows)
    with pytest.raises(InvalidInput) as refused:
        load_codebook(categories_csv=broken)
    assert f"cats.csv, line 4, column '{column}'" in refused.value.message
    assert problem in refused.value.message
    assert counts() == (0, 0, 0)


def test_a_row_with_a_missing_cell_is_refused(db, tmp_path):
    header, rows = real_rows(codebook.TIME_LIMITS_CSV, 2)
    rows[1] = rows[1][:5]
    broken = write_csv(tmp_path / "limits.csv", header, rows)
    with pytest.raises(InvalidInput, match="line 3"):
        load_codebook(time_limits_csv=broken)
    assert counts() == (0, 0, 0)


def test_a_missing_file_is_refused_by_name(db, tmp_path):
    with pytest.raises(InvalidInput, match=r"nowhere\.csv"):
        load_codebook(categories_csv=tmp_path / "nowhere.csv")
    assert counts() == (0, 0, 0)


def test_a_small_file_loads_only_what_it_holds(db, tmp_path):
    header, rows = real_rows(codebook.CATEGORIES_CSV, 2)  # GB components 01001, 01002
    small = write_csv(tmp_path / "cats.csv", header, rows)
    report = load_codebook(categories_csv=small)
    assert report.categories_created == 2
    assert len(conditions(category(Standard.GB_47678, Kind.COMPONENT, "01002"))) == 4


# ------------------------------------------------------------------ stage limits


def test_stage_limits_are_seeded_once_and_an_edited_one_is_kept(db):
    StageLimit.objects.create(stage=Stage.CHECK, limit_value=120, limit_unit="minutes")
    assert seed_stage_limits() == 6
    assert seed_stage_limits() == 0
    assert StageLimit.objects.get(stage=Stage.CHECK).limit_value == 120
    accept = StageLimit.objects.get(stage=Stage.ACCEPT)
    assert (accept.limit_value, accept.limit_unit, accept.warn_ratio) == (15, "minutes", 0.8)
    assert StageLimit.objects.count() == len(Stage)
