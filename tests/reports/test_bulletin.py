"""The monthly bulletin of a small October: its numbers are the evaluation's (the contractors'
ranking too), the city's totals add up, the most overdue cases are listed per unit, the 抽查
rounds are counted with their cases found not fixed and grids with problems unreported, the
anti-gaming flags are printed with their subjects, numbers and cases (or said to be none), and
both files open and say it in Chinese with the fonts inside; an empty month still makes a
bulletin, a future one is refused."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from decimal import Decimal

import pypdf
import pytest
from pypdf.generic import ContentStream

from citykeeper.domain.errors import InvalidInput
from citykeeper.domain.evaluation.periods import Period
from citykeeper.reports import bulletin
from citykeeper.services import cases as case_service
from citykeeper.services import deadlines
from citykeeper.services.cases import MoveInput
from citykeeper.services.evaluation import add_contractor, assign_inspector, evaluate
from citykeeper.services.sampling import draw as draw_sample
from citykeeper.services.sampling import record_result
from citykeeper.store.models import Category, FilingCondition
from tests.factories import local, report_case
from tests.services.test_flags import flagged_week

OCTOBER = Period.month(2026, 10)
NOW = local(2026, 11, 21, 9, 0)
MONDAY = local(2026, 10, 19, 9, 0)  # an ordinary working week


def _walk(case, steps, at):
    for minutes, (verb, actor, data) in enumerate(steps, start=1):
        case = verb(case.number, actor=actor, version=case.version, at=at + dt.timedelta(minutes=minutes), data=data)
    return case


def dispatched(city, people, unit, at, condition=None, **kw):
    case = report_case(city, people, at=at, category=condition.category if condition else city.category, **kw)
    return _walk(
        case,
        [
            (case_service.accept, people.operator, MoveInput()),
            (case_service.file, people.shift_lead, MoveInput(condition=condition or city.condition)),
            (case_service.dispatch, people.dispatcher, MoveInput(unit=unit)),
        ],
        at,
    )


def finished(people, case, handler, disposed_at):
    case = case_service.dispose(
        case.number, actor=handler, version=case.version, at=disposed_at, data=MoveInput(reason="已修复")
    )
    return _walk(
        case,
        [
            (case_service.send_check, people.operator, MoveInput(assignee=people.inspector)),
            (case_service.check_pass, people.inspector, MoveInput()),
            (case_service.close, people.shift_lead, MoveInput()),
        ],
        disposed_at,
    )


@pytest.fixture
def october(city, people):
    """鼓楼区市政所: five 污水井盖 cases, four disposed in time, one late. 云龙区环卫所: two
    finished in time, three never disposed (overdue since October), all 暴露垃圾 cases. One
    more 暴露垃圾 report was rejected. Everything happens in 鼓楼街道01's grid."""
    garbage = Category.objects.create(
        standard="GB/T 47678.5-2026",
        kind="event",
        major_code="01",
        major_name="市容环境",
        minor_code="01001",
        minor_name="暴露垃圾",
    )
    garbage_condition = FilingCondition.objects.create(
        category=garbage, seq=1, text="垃圾堆积", limit_value=4, limit_unit="work_hours"
    )
    for n in range(5):
        at = MONDAY + dt.timedelta(minutes=10 * n)
        case = dispatched(city, people, city.unit, at, address=f"中山北路{n + 1}号")
        disposed_at = local(2026, 10, 20, 16, 0) if n == 4 else at + dt.timedelta(hours=1)
        finished(people, case, people.handler, disposed_at)
    for n in range(5):
        at = MONDAY + dt.timedelta(hours=1, minutes=10 * n)
        case = dispatched(city, people, city.other_unit, at, condition=garbage_condition, address=f"淮海路{n + 1}号")
        if n < 2:
            finished(people, case, people.other_handler, at + dt.timedelta(hours=1))
        else:
            marked = deadlines.catch_up(case, now=local(2026, 10, 31, 12, 0))
            assert any("overdue" in kind for kind in marked)
    rejected = report_case(city, people, at=MONDAY + dt.timedelta(hours=3), category=garbage)
    case_service.reject(
        rejected.number,
        actor=people.operator,
        version=rejected.version,
        at=MONDAY + dt.timedelta(hours=4),
        data=MoveInput(reason="重复上报"),
    )
    return city


@pytest.fixture
def october_bulletin(october):
    return bulletin.gather(OCTOBER, now=NOW)


# ---------------------------------------------------------------- the numbers


def _rows(rankings):
    return {row.subject_id: row for r in rankings for row in (*r.ranked, *r.unranked)}


def test_the_unit_ranking_is_the_evaluation_of_the_unit_scheme(october_bulletin):
    evaluation = evaluate(OCTOBER, "unit", now=NOW)
    rows = _rows(october_bulletin.units)
    assert set(rows) == set(evaluation.results.subjects)
    for sid, result in evaluation.results.subjects.items():
        row = rows[sid]
        assert (row.name, row.rank, row.composite, row.grade) == (
            evaluation.subjects[sid].name,
            result.rank,
            result.composite,
            result.grade,
        )
        assert row.composite_change == evaluation.month_on_month[sid].composite
    (group,) = october_bulletin.units
    assert [r.name for r in group.ranked] == ["鼓楼区市政所", "云龙区环卫所"]
    # 派遣数, 结案率, 按期处置率, 返工率 as printed.
    assert group.columns == ("派遣数", "结案率", "按期处置率", "返工率")
    assert group.ranked[1].values == ("5", "40.00%", "40.00%", "0.00%")


def test_streets_and_posts_are_the_evaluations_of_their_schemes(october_bulletin, people):
    for code in ("region-1", "region-2"):
        evaluation = evaluate(OCTOBER, code, now=NOW, level="street")
        rows = _rows(october_bulletin.regions[evaluation.scheme.label])
        assert {sid: (r.rank, r.composite, r.grade) for sid, r in rows.items()} == {
            sid: (r.rank, r.composite, r.grade) for sid, r in evaluation.results.subjects.items()
        }
    (street,) = _rows(october_bulletin.regions["区域评价（一类区域）"]).values()
    assert (street.name, street.parent) == ("鼓楼街道01", "鼓楼区")
    dispatchers = next(p for p in october_bulletin.posts if p.label == "派遣员评价")
    evaluation = evaluate(OCTOBER, "dispatcher", now=NOW)
    mine = next(r for r in dispatchers.unranked if r.subject_id == people.dispatcher.pk)
    assert mine.composite == evaluation.results.subjects[people.dispatcher.pk].composite
    # 10 dispatches are too few to rank: said in Chinese, with the numbers.
    assert mine.reason == "派遣数10件，低于参与排名的最低数量50件"
    assert dispatchers.top == [] and dispatchers.unranked_total == dispatchers.evaluated


def test_the_summary_and_the_trend_are_the_citys_grid_counters(october_bulletin):
    by = {f.code: f for f in october_bulletin.summary}
    assert (by["reported"].now.value, by["filed"].now.value, by["closed"].now.value) == (11, 10, 7)
    # 按期结案率: 6 closed on time of 10 due (three overdue, one late); nothing in September.
    assert by["on_time_closure_rate"].shown() == "60.00%"
    assert by["on_time_closure_rate"].change(by["on_time_closure_rate"].before) == "—"
    assert by["reported"].change(by["reported"].before) == "+11件"
    assert [p.label for p in october_bulletin.trend] == [f"2026年{m}月" for m in range(5, 11)]
    assert october_bulletin.trend[-1].on_time_closure_rate == Decimal("60.00")
    assert october_bulletin.trend[-1].reported == 11 and october_bulletin.trend[0].reported == 0
    assert not october_bulletin.no_cases and october_bulletin.provisional is False


def test_category_mix_and_top_problems_count_the_cases_reported_in_the_period(october_bulletin):
    assert [(s.label, s.count, s.percent) for s in october_bulletin.categories] == [
        ("事件·市容环境", 6, Decimal("54.55")),
        ("部件·市政公用设施", 5, Decimal("45.45")),
    ]
    assert [(p.minor, p.count) for p in october_bulletin.problems] == [("暴露垃圾", 6), ("污水井盖", 5)]


def test_the_most_overdue_open_cases_are_listed_per_unit_oldest_deadline_first(october_bulletin):
    (unit,) = october_bulletin.overdue
    assert (unit.unit, unit.total) == ("云龙区环卫所", 3)
    assert [c.address for c in unit.cases] == ["淮海路3号", "淮海路4号", "淮海路5号"]
    assert all(c.overdue > dt.timedelta(days=20) for c in unit.cases)
    assert unit.cases[0].deadline < unit.cases[1].deadline


def test_the_footer_names_each_scheme_with_its_fingerprint_and_the_data_time(october_bulletin):
    footer = october_bulletin.footer()
    unit = evaluate(OCTOBER, "unit", now=NOW, comparisons=False).results
    assert f"unit v1 {unit.fingerprint[:12]}" in footer
    assert "数据截至 2026-11-21 09:00" in footer and "暂定" not in footer
    assert len(october_bulletin.schemes) == 8
    assert f"contractor v1 {evaluate(OCTOBER, 'contractor', now=NOW).results.fingerprint[:12]}" in footer


# ---------------------------------------------------------------- the files


def _xlsx(path):
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        workbook = z.read("xl/workbook.xml").decode()
        strings = z.read("xl/sharedStrings.xml").decode()
    return names, re.findall(r'<sheet name="([^"]+)"', workbook), strings


def _pdf_text(path) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(path).pages)


def _text_without_a_font(path) -> list[int]:
    """Pages that show text while no font is set (strict readers refuse to draw it)."""
    reader = pypdf.PdfReader(path)
    pages = []
    for number, page in enumerate(reader.pages, start=1):
        font, saved = None, []
        for operands, operator in ContentStream(page.get_contents(), reader).operations:
            if operator == b"q":
                saved.append(font)
            elif operator == b"Q":
                font = saved.pop()
            elif operator == b"Tf":
                font = operands[0]
            elif operator in (b"Tj", b"TJ") and font is None:
                pages.append(number)
    return pages


def test_the_workbook_has_a_sheet_per_section_the_rankings_and_native_charts(october_bulletin, tmp_path):
    path = bulletin.write_xlsx(october_bulletin, tmp_path / "b.xlsx")
    names, sheets, strings = _xlsx(path)
    assert sheets == [
        "总体情况",
        "部门评价排名",
        "区域评价排名",
        "岗位评价",
        "监督员外包公司排名",
        "抽查情况",
        "异常模式提示",
        "问题分析",
        "超期案件",
    ]
    for text in ("月度通报", "2026年10月", "鼓楼区市政所", "云龙区环卫所", "鼓楼街道01", "暴露垃圾", "淮海路3号"):
        assert text in strings, text
    # Trend, category mix, top problems, most overdue units.
    assert len([n for n in names if n.startswith("xl/charts/chart")]) == 4


def test_the_pdf_embeds_its_fonts_and_reads_as_chinese(october_bulletin, tmp_path):
    path = bulletin.write_pdf(october_bulletin, tmp_path / "b.pdf")
    data = path.read_bytes()
    assert data.startswith(b"%PDF")
    assert data.count(b"/FontFile2") == 2  # Droid Sans Fallback and DejaVu Sans, subset
    assert _text_without_a_font(path) == []
    text = _pdf_text(path)
    for words in ("月度通报", "一、总体情况", "九、超期案件", "鼓楼区市政所", "云龙区环卫所", "94.00", "淮海路3号"):
        assert words in text, words
    # After the rankings (四、岗位评价, 五、监督员外包公司排名) and 六、抽查情况, before 八、问题分析.
    order = ("四、岗位评价", "五、监督员外包公司排名", "六、抽查情况", "七、异常模式提示", "八、问题分析")
    assert [text.index(words) for words in order] == sorted(text.index(words) for words in order)
    assert "本期未发现异常模式" in text and "本期无参评外包公司" in text and "本期无抽查项" in text


def test_both_files_are_written_into_one_folder(october_bulletin, tmp_path):
    written = bulletin.write_all(october_bulletin, tmp_path / "out")
    assert [p.name for p in written] == ["月度通报-2026-10.xlsx", "月度通报-2026-10.pdf"]


# ---------------------------------------------------------------- contractors and 抽查


@pytest.fixture
def contracted(october, people):
    """WB-01 employs inspector (who reported, checked and passed every case) all October; WB-02
    employs inspector2, who did nothing."""
    first = add_contractor("WB-01", "徐州城巡监督服务有限公司", contract_start=dt.date(2026, 1, 1))
    second = add_contractor("WB-02", "江苏安城城市管理外包有限公司", contract_start=dt.date(2026, 1, 1))
    assign_inspector(first, people.inspector, start=dt.date(2026, 10, 1))
    assign_inspector(second, people.other_inspector, start=dt.date(2026, 10, 1))
    return first, second


def test_the_contractors_are_ranked_with_grades_as_the_contractor_scheme_scores_them(contracted, tmp_path):
    first, second = contracted
    made = bulletin.gather(OCTOBER, now=NOW)
    evaluation = evaluate(OCTOBER, "contractor", now=NOW)
    (group,) = made.contractors
    assert group.columns == ("有效上报率", "漏报率", "按时核实率", "按时核查率")
    assert [(r.subject_id, r.rank, r.grade) for r in group.ranked] == [(first.pk, 1, "A")]
    # WB-01: 有效上报率 10/11 (one report rejected) → 90.91 × 40; 漏报率 0/10 → 100 × 20; nothing to
    # verify (不适用); 按时核查率 7/7 → 100 × 20.  (3636.36 + 2000 + 2000) / 80 = 95.45.
    assert group.ranked[0].composite == Decimal("95.45")
    assert group.ranked[0].values == ("90.91%", "0.00%", "不适用", "100.00%")
    # WB-02's inspector reported nothing: listed, not ranked, with the reason.
    (idle,) = group.unranked
    assert (idle.subject_id, idle.rank, idle.reason) == (second.pk, None, "上报数0件，低于参与排名的最低数量10件")
    for row in (*group.ranked, *group.unranked):
        result = evaluation.results.subjects[row.subject_id]
        assert (row.composite, row.grade, row.parent) == (result.composite, result.grade, "")
    _names, _sheets, strings = _xlsx(bulletin.write_xlsx(made, tmp_path / "b.xlsx"))
    assert "徐州城巡监督服务有限公司" in strings and "外包公司（1个参与排名）" in strings
    text = re.sub(r"\s+", "", _pdf_text(bulletin.write_pdf(made, tmp_path / "b.pdf")))  # cells wrap
    section = text[text.index("五、监督员外包公司排名") : text.index("六、抽查情况")]
    assert "徐州城巡监督服务有限公司" in section and "95.45" in section and "江苏安城城市管理外包有限公司" in section


@pytest.fixture
def sampled(october, people):
    """October's two rounds. Closed cases, two per unit: 鼓楼区市政所's first not fixed, its
    second fixed; 云龙区环卫所's first fixed, its second not yet re-checked. Patrol grids: the one
    grid of each inspector, three problems found unreported in inspector's, none in inspector2's.
    Returns the case found not fixed."""
    cases = draw_sample(OCTOBER, "cases", by=people.leader, now=NOW, size=2)
    items = list(cases.items.select_related("case", "unit").order_by("unit__code", "position"))
    assert [i.unit.name for i in items] == ["鼓楼区市政所", "鼓楼区市政所", "云龙区环卫所", "云龙区环卫所"]
    record_result(items[0].pk, "failed", by=people.leader, now=NOW, note="井盖仍缺失")
    record_result(items[1].pk, "passed", by=people.leader, now=NOW)
    record_result(items[2].pk, "passed", by=people.leader, now=NOW)
    patrol = draw_sample(OCTOBER, "patrol", by=people.leader, now=NOW)
    for item in patrol.items.all():
        if item.inspector_id == people.inspector.pk:
            record_result(item.pk, "missed", by=people.leader, now=NOW, missed=3, note="复查发现未上报的占道经营")
        else:
            record_result(item.pk, "passed", by=people.leader, now=NOW)
    return items[0].case


def test_the_sampling_section_counts_each_round_and_lists_what_the_rechecks_found(sampled, city, tmp_path):
    made = bulletin.gather(OCTOBER, now=NOW)
    rounds = made.sampling.rounds
    assert [(r.kind, r.period, r.drawn, r.checked, r.passed, r.failed, r.missed, r.problems) for r in rounds] == [
        ("结案抽查", "2026年10月", 4, 3, 2, 1, 0, 0),
        ("巡查区域抽查", "2026年10月", 2, 2, 1, 0, 1, 3),
    ]
    assert [r.pass_rate() for r in rounds] == ["66.67%", "50.00%"]
    # The case found not fixed names the inspector who passed its 核查 (every case's, here).
    assert [(c.number, c.unit, c.inspector, c.note) for c in made.sampling.failed] == [
        (sampled.number, "鼓楼区市政所", "inspector", "井盖仍缺失")
    ]
    assert [(g.grid, g.inspector, g.count) for g in made.sampling.missed] == [
        (city.grid.code, "inspector", 3)  # the test grid is named by its code
    ]
    assert (made.sampling.failed_total, made.sampling.missed_total) == (1, 1)
    _names, _sheets, strings = _xlsx(bulletin.write_xlsx(made, tmp_path / "b.xlsx"))
    for words in ("结案抽查", "巡查区域抽查", "66.67%", sampled.number, "井盖仍缺失", "复查发现未上报的占道经营"):
        assert words in strings, words
    pdf = bulletin.write_pdf(made, tmp_path / "b.pdf")
    assert _text_without_a_font(pdf) == []
    text = re.sub(r"\s+", "", _pdf_text(pdf))
    section = text[text.index("六、抽查情况") : text.index("七、异常模式提示")]
    for words in ("结案抽查", "66.67%", "50.00%", sampled.number, "井盖仍缺失", city.grid.code, "核查通过的监督员"):
        assert words in section, words


def test_a_month_without_sampling_says_so_and_lists_nothing(october_bulletin):
    assert (october_bulletin.sampling.rounds, october_bulletin.sampling.failed) == ([], [])


# ---------------------------------------------------------------- anti-gaming flags


def test_a_month_without_flags_says_so(october_bulletin, tmp_path):
    assert october_bulletin.flags == []
    assert "本期未发现异常模式" in _xlsx(bulletin.write_xlsx(october_bulletin, tmp_path / "b.xlsx"))[2]


@pytest.fixture
def flagged_november(city, people):
    """The flagged week of tests/services/test_flags.py (23–27 November 2026), in November's bulletin."""
    week = flagged_week(city, people)
    return week, bulletin.gather(Period.month(2026, 11), now=local(2026, 12, 1, 9, 0))


def test_the_flags_are_printed_with_subject_sentence_figures_and_first_cases(city, people, flagged_november):
    week, november = flagged_november
    assert [(f.title, f.subject) for f in november.flags] == [
        ("上报点位偏离巡查区域", "patroller（监督员）"),
        ("作废后重报", f"{city.grid.name}（单元网格）"),
        ("作废后重报", "inspector2（监督员）"),
        ("延期集中", "鼓楼区市政所（责任单位）"),
    ]
    off, _grid, pairs, extensions = november.flags
    assert off.figure == "巡查区域外上报占比 71.43%，全市 17.86%（4.0倍）"
    assert extensions.figure == "占全市延期比例 100.00%，派遣占比 33.33%（3.0倍）"
    assert extensions.explanation.startswith("延期占全市 100%，派遣仅占 33%（3.0 倍），共延期 5 件")
    # Five cases shown of five; of the six cases of the three pairs, the first five and the total.
    assert extensions.cases == tuple(sorted(c.number for c in week["extended"])) and extensions.total_cases == 5
    assert pairs.cases == tuple(week["pairs"][:5]) and pairs.cases_text().endswith(" 等6件")


def test_both_files_print_the_flags_after_the_rankings(flagged_november, tmp_path):
    week, november = flagged_november
    first_cases = (week["pairs"][0], sorted(c.number for c in week["extended"])[0])
    _names, _sheets, strings = _xlsx(bulletin.write_xlsx(november, tmp_path / "n.xlsx"))
    for words in (
        "异常模式提示",
        "鼓楼区市政所（责任单位）",
        "延期占全市 100%",
        "占全市延期比例 100.00%",
        *first_cases,
    ):
        assert words in strings, words
    assert "本期未发现异常模式" not in strings
    pdf = bulletin.write_pdf(november, tmp_path / "n.pdf")
    assert _text_without_a_font(pdf) == []
    text = re.sub(r"\s+", "", _pdf_text(pdf))  # the table wraps its cells
    section = text[text.index("七、异常模式提示") : text.index("八、问题分析")]
    for words in ("鼓楼区市政所（责任单位）", "延期占全市100%", "派遣占比33.33%", "patroller（监督员）", *first_cases):
        assert words in section, words
    assert "本期未发现异常模式" not in text


# ---------------------------------------------------------------- edges


def test_an_empty_month_still_makes_a_bulletin_that_says_there_were_no_cases(city, people, tmp_path):
    empty = bulletin.gather(OCTOBER, now=NOW)
    assert empty.no_cases and empty.categories == [] and empty.problems == [] and empty.overdue == []
    assert all(not r.ranked for r in empty.units) and all(f.now.value in (0, None) for f in empty.summary)
    xlsx = bulletin.write_xlsx(empty, tmp_path / "e.xlsx")
    assert "本期无上报案件" in _xlsx(xlsx)[2]
    pdf = bulletin.write_pdf(empty, tmp_path / "e.pdf")
    assert pdf.read_bytes().startswith(b"%PDF") and "本期无上报案件" in _pdf_text(pdf)


def test_a_period_not_over_is_marked_provisional(city, people):
    november = bulletin.gather(Period.month(2026, 11), now=NOW)
    assert november.provisional and "暂定" in november.footer()


def test_a_period_in_the_future_is_refused(city):
    with pytest.raises(InvalidInput) as refused:
        bulletin.gather(Period.month(2026, 12), now=NOW)
    assert refused.value.field == "start"


def test_a_stored_bulletin_keeps_both_files_and_the_published_snapshots(october, people, settings, tmp_path):
    from citykeeper.services.evaluation import publish, run
    from citykeeper.store.models import EvaluationBulletin

    settings.MEDIA_ROOT = tmp_path
    snapshot = publish(run(OCTOBER, "unit", by=people.leader, now=NOW).pk, by=people.leader, now=NOW).snapshot_id
    row = bulletin.store(bulletin.gather(OCTOBER, now=NOW), by=people.leader, now=NOW)
    assert EvaluationBulletin.objects.get() == row and row.snapshot_ids == [snapshot] and not row.provisional
    assert row.xlsx.name.endswith(".xlsx") and row.pdf.name.endswith(".pdf")
    with row.pdf.open("rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
    with row.xlsx.open("rb") as xlsx:
        assert zipfile.is_zipfile(xlsx)


def test_the_command_line_writes_the_files_or_refuses_the_period(october, tmp_path, capsys):
    import argparse

    from citykeeper.cli import cmd_bulletin

    assert cmd_bulletin(argparse.Namespace(period="2026-10", out=str(tmp_path))) == 0
    written = capsys.readouterr().out.split()
    assert [p.rsplit(".", 1)[1] for p in written] == ["xlsx", "pdf"]
    assert cmd_bulletin(argparse.Namespace(period="2099-01", out=str(tmp_path))) == 2
    assert "refused (start)" in capsys.readouterr().err
