"""异常模式提示 in the console: the month's flags grouped by detector with the subject's name,
its figure against the city's, the ratio, the count, the threshold and the domain's sentence;
each flag opens its cases; unknown detectors, subject kinds and unflagged subjects are 404s
that say which; the ranking marks a flagged subject; English pages; query budgets that do
not grow with the flags."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from citykeeper.domain.workflow import Role
from citykeeper.web.console import evaluation as page
from tests.factories import local, make_user
from tests.services.test_flags import flagged_week as build_flagged_week
from tests.services.test_flags import inspector_report, voided
from tests.web.test_console_evaluation import client_for, text

FLAGS = "/console/evaluation/flags/"
NOVEMBER = {"period": "2026-11"}
NOW = local(2026, 12, 1, 9, 0)  # November is over: "last month"
THURSDAY = local(2026, 11, 26, 14, 0)
# The login's, the navigation's, the flags' own reads (6, services.flags), a name query per
# subject kind, the cases. The inspectors' markers on the ranking: the 4 reads of their flags.
LIST_BUDGET = 12
DETAIL_BUDGET = 9
INSPECTOR_MARKERS_BUDGET = 4
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")


@pytest.fixture(autouse=True)
def _clock(monkeypatch):
    monkeypatch.setattr(page, "_now", lambda: NOW)


@pytest.fixture
def evaluator(city):
    return make_user("evaluator", Role.EVALUATOR, area=city.city)


@pytest.fixture
def week(city, people):
    """The flagged week of tests/services/test_flags.py: 鼓楼区市政所 gets all five extensions
    with a third of the dispatches; the patroller reports 5 of 7 times outside the west grid;
    inspector2's three voided cases are reported again nearby the next day."""
    return build_flagged_week(city, people)


def section(page_text: str, detector: str) -> str:
    return re.search(rf'<section class="flag-detector" data-detector="{detector}".*?</section>', page_text, re.S)[0]


def flag_row(page_text: str, detector: str, subject_kind: str, subject_id) -> str:
    rows = re.findall(
        rf'<tr data-flag="{detector}" data-subject-kind="{subject_kind}" data-subject="{subject_id}">.*?</tr>',
        page_text,
        re.S,
    )
    assert len(rows) == 1, (detector, subject_kind, subject_id)
    return rows[0]


def value(fragment: str, name: str) -> str:
    return re.search(rf'data-value="{name}">([^<]*)<', fragment)[1]


def row_named(page_text: str, name: str) -> str:
    """The ranking's row of the subject called exactly ``name``."""
    rows = re.findall(r'<tr data-subject="\d+">.*?</tr>', page_text, re.S)
    found = [r for r in rows if re.search(rf'class="name">{re.escape(name)}[< ]', r)]
    assert len(found) == 1, name
    return found[0]


def chinese_left(page_text: str, *data: str) -> list[str]:
    """The Chinese on an English page but for the language switch, the domain's sentences
    and the names of the city's places and units (``data``)."""
    body = re.sub(r'<form[^>]*class="inline lang-switch".*?</form>', "", page_text, flags=re.S)
    body = re.sub(r'<(td|p) class="explanation" lang="zh-Hans"[^>]*>.*?</\1>', "", body, flags=re.S)
    for d in data:
        body = body.replace(d, "")
    return CJK.findall(body)


# ------------------------------------------------------------------ access


def test_the_flags_ask_for_a_login_and_are_shown_to_those_who_see_the_evaluation(city, people, evaluator):
    from django.test import Client

    assert Client().get(FLAGS)["Location"].startswith("/login/?next=/console/evaluation/flags/")
    refused = client_for(people.operator).get(FLAGS, NOVEMBER)
    assert refused.status_code == 403 and "综合评价只对考评员、领导和值班长开放" in text(refused)
    detail = f"{FLAGS}extensions_concentrated/unit/{city.unit.pk}/"
    assert client_for(people.handler).get(detail, NOVEMBER).status_code == 403
    for who in (evaluator, people.leader, people.shift_lead):
        assert client_for(who).get(FLAGS, NOVEMBER).status_code == 200


def test_the_evaluation_navigation_links_the_flags(city, evaluator):
    page_text = text(client_for(evaluator).get("/console/evaluation/", NOVEMBER))
    assert f'href="{FLAGS}">异常模式提示</a>' in page_text
    assert f'href="{FLAGS}?period=2026-11" class="flags-link">本期异常模式提示</a>' in page_text


# ------------------------------------------------------------------ the list


def test_the_months_flags_are_listed_by_detector_with_their_numbers_and_sentence(city, people, week, evaluator):
    response = client_for(evaluator).get(FLAGS, NOVEMBER)
    assert response.status_code == 200
    page_text = text(response)
    assert "2026年11月（2026-11-01 至 2026-11-30）" in page_text and "本期共 4 条提示" in page_text
    # Every detector is listed with its rule, flagged or not.
    assert re.findall(r'data-detector="(\w+)"', page_text) == [
        "last_minute_disposal",
        "reports_off_patrol_area",
        "voided_then_rereported",
        "extensions_concentrated",
    ]
    assert "本期没有这类提示" in section(page_text, "last_minute_disposal")
    assert "至少 10 件，且单侧检验 z ≥ 2.33" in section(page_text, "last_minute_disposal")

    # All 5 extensions with a third of the dispatches: 3 times its share.
    unit = flag_row(page_text, "extensions_concentrated", "unit", city.unit.pk)
    assert "鼓楼区市政所" in unit and "责任单位" in unit
    assert [value(unit, v) for v in ("figure", "baseline", "ratio", "count", "threshold")] == [
        "100%",
        "33.33%",
        "3.0 倍",
        "5 件",
        "≥ 2 倍",
    ]
    assert "延期占全市 100%，派遣仅占 33%（3.0 倍），共延期 5 件" in unit
    assert f'href="{FLAGS}extensions_concentrated/unit/{city.unit.pk}/?period=2026-11">5 件案件</a>' in unit

    # 5 of the patroller's 7 reports outside; 5 of the city's 28 inspector reports.
    off = flag_row(page_text, "reports_off_patrol_area", "inspector", week["patroller"].pk)
    assert "patroller" in off and "监督员" in off
    assert [value(off, v) for v in ("figure", "baseline", "count", "threshold")] == [
        "71.43%",
        "17.86%",
        "5 件",
        "≥ 20%",
    ]

    # Three pairs, for the inspector and for the grid they were reported in.
    pairs = section(page_text, "voided_then_rereported")
    inspector = flag_row(pairs, "voided_then_rereported", "inspector", people.other_inspector.pk)
    grid = flag_row(pairs, "voided_then_rereported", "grid", city.grid.pk)
    assert "inspector2" in inspector and city.grid.name in grid and "单元网格" in grid
    assert value(inspector, "count") == "3 对" and value(grid, "threshold") == "≥ 3 对"
    assert "作废后 7 天内在 50 米内重报同类问题 3 对" in inspector


def test_a_month_without_flags_says_so_and_keeps_the_period_picker(city, people, evaluator):
    page_text = text(client_for(evaluator).get(FLAGS))  # last month by default
    assert "本期未发现异常模式" in page_text and 'value="2026-11"' in page_text
    assert page_text.count("本期没有这类提示") == 4
    assert f'href="{FLAGS}?period=2026-W49">本周</a>' in page_text


@pytest.mark.parametrize(
    "params, message",
    [
        ({"period": "2026-13"}, "月份应为 1 到 12"),
        ({"period": "2027-01"}, "还没有开始"),
        ({"from": "2026-11-20", "to": "2026-11-01"}, "结束日期早于开始日期"),
    ],
)
def test_a_bad_period_is_answered_in_chinese_with_a_400(city, evaluator, params, message):
    response = client_for(evaluator).get(FLAGS, params)
    assert response.status_code == 400
    assert re.search(rf'data-problem="period">[^<]*{message}', text(response))


def test_a_week_or_a_custom_range_finds_the_same_flags(city, people, week, evaluator):
    client = client_for(evaluator)
    for params in ({"period": "2026-W48"}, {"from": "2026-11-23", "to": "2026-11-27"}):
        page_text = text(client.get(FLAGS, params))
        assert "本期共 4 条提示" in page_text, params
    assert "2026年第48周" in text(client.get(FLAGS, {"period": "2026-W48"}))
    # The week before has none.
    assert "本期未发现异常模式" in text(client.get(FLAGS, {"period": "2026-W47"}))


# ------------------------------------------------------------------ one flag and its cases


def test_a_flag_lists_its_cases_each_linked_to_its_case_page(city, people, week, evaluator):
    url = f"{FLAGS}extensions_concentrated/unit/{city.unit.pk}/"
    response = client_for(evaluator).get(url, NOVEMBER)
    assert response.status_code == 200
    page_text = text(response)
    assert "鼓楼区市政所 · 延期集中" in page_text
    assert value(page_text, "ratio") == "3.0 倍" and value(page_text, "count") == "5 件"
    assert "延期占全市 100%" in value(page_text, "explanation")
    numbers = re.findall(r'<tr data-number="([^"]+)"', page_text)
    assert numbers == sorted(c.number for c in week["extended"])
    for number in numbers:
        assert f'<a href="/console/cases/{number}/">{number}</a>' in page_text
    assert page_text.count("获批延期") >= 5 and "污水井盖" in page_text
    assert f'href="{FLAGS}?period=2026-11">回到异常模式提示</a>' in page_text


def test_a_re_report_flag_lists_each_voided_case_then_its_new_report(city, people, week, evaluator):
    url = f"{FLAGS}voided_then_rereported/inspector/{people.other_inspector.pk}/"
    page_text = text(client_for(evaluator).get(url, NOVEMBER))
    rows = re.findall(r'<tr data-number="([^"]+)">.*?<td class="nowrap">([^<]+)</td>', page_text, re.S)
    assert [n for n, _role in rows] == week["pairs"]
    assert [role for _n, role in rows] == ["作废的案件", "重报的案件"] * 3


@pytest.mark.parametrize(
    "path, field, message",
    [
        ("no_such/unit/1/", "detector", "没有这种异常模式提示（no_such）"),
        (
            "extensions_concentrated/inspector/1/",
            "subject_kind",
            "“延期集中”不针对这类评价对象（inspector），只针对责任单位",
        ),
        ("extensions_concentrated/grid/1/", "subject_kind", "（grid），只针对责任单位"),
        ("extensions_concentrated/unit/{other}/", "subject", "没有对这个评价对象（编号 {other}）的“延期集中”提示"),
        ("voided_then_rereported/unit/1/", "subject_kind", "只针对监督员、单元网格"),
    ],
)
@pytest.mark.usefixtures("week")
def test_an_unknown_flag_is_a_404_that_says_which(city, evaluator, path, field, message):
    other = city.other_unit.pk
    response = client_for(evaluator).get(FLAGS + path.format(other=other), NOVEMBER)
    assert response.status_code == 404
    assert re.search(rf'data-problem="{field}">[^<]*{re.escape(message.format(other=other))}', text(response))


def test_a_flag_of_a_bad_period_is_a_400(city, people, evaluator):
    response = client_for(evaluator).get(f"{FLAGS}extensions_concentrated/unit/{city.unit.pk}/", {"period": "x"})
    assert response.status_code == 400 and 'data-problem="period"' in text(response)


# ------------------------------------------------------------------ markers on the ranking


def test_the_ranking_marks_a_flagged_subject_with_a_link_to_its_flag(city, people, week, evaluator):
    client = client_for(evaluator)
    units = text(client.get("/console/evaluation/", {**NOVEMBER, "scheme": "unit"}))
    marker = re.search(r'<a class="flag-marker" href="([^"]+)" data-flag="(\w+)"', row_named(units, "鼓楼区市政所"))
    assert marker[2] == "extensions_concentrated"
    assert marker[1] == f"{FLAGS}extensions_concentrated/unit/{city.unit.pk}/?period=2026-11"
    assert client.get(marker[1].replace("&amp;", "&")).status_code == 200
    assert "⚑ 异常提示" in row_named(units, "鼓楼区市政所") and "flag-marker" not in row_named(units, "云龙区环卫所")

    inspectors = text(client.get("/console/evaluation/", {**NOVEMBER, "scheme": "inspector"}))
    assert re.findall(r'data-flag="(\w+)"', row_named(inspectors, "patroller")) == ["reports_off_patrol_area"]
    assert re.findall(r'data-flag="(\w+)"', row_named(inspectors, "inspector2")) == ["voided_then_rereported"]
    assert "flag-marker" not in row_named(inspectors, "inspector")

    # Regions carry the grids' flags at the grid level only (a street is not a grid).
    def regions(level: str) -> str:
        return "".join(
            text(client.get("/console/evaluation/", {**NOVEMBER, "scheme": s, "level": level}))
            for s in ("region-1", "region-2")
        )

    grids = regions("grid")
    assert re.findall(r'data-flag="(\w+)"', row_named(grids, city.grid.name)) == ["voided_then_rereported"]
    assert grids.count("flag-marker") == 1 and "flag-marker" not in regions("street")


# ------------------------------------------------------------------ English


def test_the_flags_pages_in_english_keep_the_domains_sentence_as_data(city, people, week, evaluator):
    client = client_for(evaluator)
    page_text = text(client.get(FLAGS, NOVEMBER, HTTP_ACCEPT_LANGUAGE="en"))
    assert "November 2026 (2026-11-01 to 2026-11-30)" in page_text
    assert "Extensions concentrated" in page_text and "4 flags in this period." in page_text
    unit = flag_row(page_text, "extensions_concentrated", "unit", city.unit.pk)
    assert value(unit, "ratio") == "3.0×" and value(unit, "count") == "5 cases" and value(unit, "threshold") == "≥ 2×"
    assert '<td class="explanation" lang="zh-Hans">延期占全市 100%' in unit
    assert not chinese_left(page_text, "鼓楼区市政所", city.grid.name)
    detail = text(
        client.get(f"{FLAGS}no_such/unit/1/", NOVEMBER, HTTP_ACCEPT_LANGUAGE="en"),
    )
    assert "There is no such anti-gaming flag (no_such)" in detail


# ------------------------------------------------------------------ query budgets


def more_re_reports(city, people):
    """The first inspector's three voided cases, reported again nearby the same day."""
    for i, lat in enumerate((34.2515, 34.2535, 34.2555)):
        first = inspector_report(
            city, people.inspector, lon=117.172, lat=lat, at=THURSDAY + i * dt.timedelta(minutes=1)
        )
        voided(city, people, first, at=THURSDAY + dt.timedelta(hours=1, minutes=i))
        inspector_report(
            city, people.inspector, lon=117.172, lat=lat + 0.0001, at=THURSDAY + dt.timedelta(hours=3, minutes=i)
        )


def test_the_flag_pages_and_the_markers_do_not_grow_with_the_flags(city, people, week, evaluator, monkeypatch):
    client = client_for(evaluator)
    detail = f"{FLAGS}voided_then_rereported/grid/{city.grid.pk}/"

    def queries(url, params) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url, params).status_code == 200
        return len(captured)

    pages = ((FLAGS, NOVEMBER), (detail, NOVEMBER), ("/console/evaluation/", {**NOVEMBER, "scheme": "inspector"}))
    queries(*pages[2])  # the first look stores the default scheme as v1
    few = [queries(*p) for p in pages]
    more_re_reports(city, people)
    flagged = text(client.get(FLAGS, NOVEMBER))
    flag_row(flagged, "voided_then_rereported", "inspector", people.inspector.pk)  # one more flag, 6 more cases
    many = [queries(*p) for p in pages]
    assert few == many, (few, many)
    assert many[0] <= LIST_BUDGET and many[1] <= DETAIL_BUDGET, many
    monkeypatch.setattr(page, "flag_markers", lambda *args, **kwargs: {})
    without_markers = queries(*pages[2])
    assert many[2] - without_markers <= INSPECTOR_MARKERS_BUDGET, (many[2], without_markers)
