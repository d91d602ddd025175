"""综合评价 in the console: who may open it, the ranking of a past month worked out by hand,
every figure leading to its cases, bad periods, schemes and levels answered in Chinese with
a 400, runs and their publication (refusals, the same snapshot twice, frozen cases), the
schemes and a new version, the unit's own standing, and query budgets that do not grow
with the number of cases."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from citykeeper.domain.workflow import Role
from citykeeper.services import cases as case_service
from citykeeper.services import deadlines
from citykeeper.services.cases import MoveInput
from citykeeper.store.models import Case, EvaluationRun, EvaluationScheme
from citykeeper.web.console import evaluation as page
from tests.factories import local, make_user, report_case

URL = "/console/evaluation/"
CASES = "/console/evaluation/cases/"
NOW = local(2026, 11, 21, 9, 0)
MONDAY = local(2026, 10, 19, 9, 0)  # an ordinary working week
# Each with the adjustments' and the samples' reads; the ranking with the 2 reads of the unit
# flags' markers (units, unit events).
RANKING_BUDGET = 15
DRILL_BUDGET = 15


@pytest.fixture(autouse=True)
def _clock(monkeypatch):
    monkeypatch.setattr(page, "_now", lambda: NOW)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def text(response) -> str:
    return unescape(response.content.decode())


def _walk(case, steps, at):
    for minutes, (verb, actor, data) in enumerate(steps, start=1):
        case = verb(case.number, actor=actor, version=case.version, at=at + dt.timedelta(minutes=minutes), data=data)
    return case


def dispatched(city, people, unit, at):
    case = report_case(city, people, at=at)
    return _walk(
        case,
        [
            (case_service.accept, people.operator, MoveInput()),
            (case_service.file, people.shift_lead, MoveInput(condition=city.condition)),
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


def good_month(city, people, n: int = 5, start=MONDAY):
    """``n`` cases of 鼓楼区市政所, all disposed within the limit but the last one."""
    for i in range(n):
        at = start + dt.timedelta(minutes=10 * i)
        case = dispatched(city, people, city.unit, at)
        late = i == n - 1
        finished(people, case, people.handler, local(2026, 10, 20, 16, 0) if late else at + dt.timedelta(hours=1))


@pytest.fixture
def october(city, people):
    """As in tests/services/test_evaluation.py: 鼓楼区市政所 five cases, four disposed in time
    (94.00, A); 云龙区环卫所 five cases, two disposed in time, three never (64.00, C)."""
    good_month(city, people)
    for n in range(5):
        at = MONDAY + dt.timedelta(hours=1, minutes=10 * n)
        case = dispatched(city, people, city.other_unit, at)
        if n < 2:
            finished(people, case, people.other_handler, at + dt.timedelta(hours=1))
        else:
            assert "deadline_overdue" in deadlines.catch_up(case, now=local(2026, 10, 31, 12, 0))
    return city


@pytest.fixture
def evaluator(city):
    return make_user("evaluator", Role.EVALUATOR, area=city.city)


def row_of(page_text: str, name: str) -> str:
    rows = [r for r in re.findall(r'<tr data-subject="\d+">.*?</tr>', page_text, re.S) if f'class="name">{name}' in r]
    assert len(rows) == 1, name
    return rows[0]


def figure(row: str, code: str) -> str:
    return re.search(rf'data-figure="{code}">([^<]*)<', row).group(1)


def weights(*values: str) -> dict[str, str]:
    return {f"weight_{n}": v for n, v in enumerate(values)}


def late_disposal(city, people):
    """One of 云龙区环卫所's October cases disposed in November: October's live figures move."""
    late = Case.objects.filter(unit=city.other_unit, state="dispatched").first()
    case_service.dispose(
        late.number,
        actor=people.other_handler,
        version=late.version,
        at=local(2026, 11, 2, 10, 0),
        data=MoveInput(reason="补办"),
    )


# ------------------------------------------------------------------ access


def test_the_evaluation_asks_for_a_login(city):
    response = Client().get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=/console/evaluation/")


@pytest.mark.parametrize("persona", ["operator", "dispatcher", "handler", "inspector", "citizen"])
def test_people_who_do_not_evaluate_get_a_chinese_403(persona, city, people):
    response = client_for(getattr(people, persona)).get(URL)
    assert response.status_code == 403
    assert "综合评价只对考评员、领导和值班长开放" in text(response)


def test_an_evaluator_without_a_queue_is_sent_to_the_evaluation(city, evaluator):
    response = client_for(evaluator).get("/console/")
    assert response.status_code == 302 and response["Location"] == URL


def test_leaders_and_shift_leads_see_the_screen_link(city, people):
    page_text = text(client_for(people.shift_lead).get("/console/", follow=True))
    assert 'href="/console/evaluation/">综合评价<' in page_text


# ------------------------------------------------------------------ the ranking


def test_last_month_is_ranked_by_default_as_worked_out_by_hand(october, evaluator):
    response = client_for(evaluator).get(URL)
    assert response.status_code == 200
    page_text = text(response)
    assert "2026年10月（2026-10-01 至 2026-10-31）" in page_text and "部门评价 v1" in page_text
    good, poor = row_of(page_text, "鼓楼区市政所"), row_of(page_text, "云龙区环卫所")
    # 10 + 30 + 80 % × 30 + 30 = 94.00 → A, first of two; 10 + 40 % × 30 + 40 % × 30 + 30 = 64.00 → C.
    assert figure(good, "composite") == "94.00" and 'class="grade grade-A"' in good
    assert figure(poor, "composite") == "64.00" and 'class="grade grade-C"' in poor
    assert re.search(r'class="rank"><a [^>]*>1</a><span class="muted">/2', good)
    assert figure(good, "on_time_disposal_rate") == "80.00%" and figure(poor, "closure_rate") == "40.00%"
    assert figure(good, "dispatched") == "5" and "24.00 分" in good  # 按期处置率 80 % × 30
    # September had nothing due (its composite would be the volume band alone): no change shown.
    assert re.search(r'class="change mom"><a [^>]*>—<', poor)
    assert '<span class="tag provisional">' not in page_text


def test_the_current_month_is_provisional(october, evaluator):
    page_text = text(client_for(evaluator).get(URL, {"period": "2026-11"}))
    assert '<span class="tag provisional">暂定</span>' in page_text


def test_every_figure_links_to_its_cases_and_every_link_answers(october, evaluator):
    client = client_for(evaluator)
    page_text = text(client.get(URL, {"period": "2026-10", "scheme": "unit"}))
    kinds = r"item|composite|rank|grade grade-\w|change mom|change yoy"
    links = re.findall(rf'<td class="(?:{kinds})"[^>]*>.*?</td>', page_text, re.S)
    cells = re.findall(rf'<td class="(?:{kinds})"', page_text)
    assert len(links) == len(cells) == 2 * (4 + 5)
    for cell in links:
        hrefs = re.findall(r'href="([^"]+)"', cell)
        assert hrefs and all(h.startswith(CASES) for h in hrefs), cell
        for href in set(hrefs):
            assert client.get(unescape(href)).status_code == 200, href


def test_a_subject_below_the_minimum_volume_is_listed_with_the_reason_in_chinese(october, evaluator):
    page_text = text(client_for(evaluator).get(URL, {"period": "2026-10", "scheme": "dispatcher"}))
    assert "不参加排名" in page_text
    assert "派遣数 10 件，少于 50 件，不参加排名" in page_text


def test_regions_are_evaluated_at_the_chosen_level(october, evaluator):
    page_text = text(client_for(evaluator).get(URL, {"period": "2026-10", "scheme": "region-1", "level": "street"}))
    street = row_of(page_text, "鼓楼街道01")
    assert figure(street, "composite") == "55.00" and figure(street, "filed") == "10"
    assert "单元网格" in page_text and 'name="level"' in page_text


def test_a_custom_range_and_the_other_kinds_are_accepted(october, evaluator):
    client = client_for(evaluator)
    for params, label in [
        ({"from": "2026-10-01", "to": "2026-10-31"}, "2026-10-01至2026-10-31"),
        ({"period": "2026-W43"}, "2026年第43周"),
        ({"period": "2026-Q4"}, "2026年第4季度"),
        ({"period": "2026"}, "2026年"),
    ]:
        response = client.get(URL, params)
        assert response.status_code == 200 and label in text(response), params
    custom = text(client.get(URL, {"from": "2026-10-01", "to": "2026-10-31"}))
    assert figure(row_of(custom, "鼓楼区市政所"), "composite") == "94.00"


@pytest.mark.parametrize(
    "period, chinese, english",
    [
        ("2026-10", "2026年10月（2026-10-01 至 2026-10-31）", "October 2026 (2026-10-01 to 2026-10-31)"),
        ("2026-9", "2026年9月（2026-09-01 至 2026-09-30）", "September 2026 (2026-09-01 to 2026-09-30)"),
        ("2026-W43", "2026年第43周（2026-10-19 至 2026-10-25）", "Week 43 of 2026 (2026-10-19 to 2026-10-25)"),
        ("2026-W01", "2026年第1周（2025-12-29 至 2026-01-04）", "Week 1 of 2026 (2025-12-29 to 2026-01-04)"),
        ("2026-Q4", "2026年第4季度（2026-10-01 至 2026-12-31）", "Q4 2026 (2026-10-01 to 2026-12-31)"),
        ("2026", "2026年（2026-01-01 至 2026-12-31）", "2026 (2026-01-01 to 2026-12-31)"),
        ("2026-10-01..2026-10-15", "2026-10-01至2026-10-15", "2026-10-01 to 2026-10-15"),
    ],
)
def test_the_period_is_named_in_the_pages_language(city, evaluator, period, chinese, english):
    client = client_for(evaluator)
    assert chinese in text(client.get(URL, {"period": period}))
    in_english = text(client.get(URL, {"period": period}, HTTP_ACCEPT_LANGUAGE="en"))
    assert f'<span class="subtitle">{english} · ' in in_english
    assert chinese not in in_english


@pytest.mark.parametrize(
    "params, field, message",
    [
        ({"period": "2026-13"}, "period", "月份应为 1 到 12"),
        ({"period": "十月"}, "period", "考评周期“十月”无法识别"),
        ({"period": "2026-12"}, "period", "考评周期“2026-12”还没有开始"),
        ({"from": "2026-10-15", "to": "2026-10-01"}, "period", "结束日期早于开始日期"),
        ({"period": "2026-02-30..2026-03-01"}, "period", "无法识别"),
        ({"scheme": "no-such"}, "scheme", "没有考评方案“no-such”"),
        ({"scheme": "region-1", "level": "province"}, "level", "区域层级“province”无法识别"),
    ],
)
def test_bad_input_gets_the_chinese_message_of_its_field_and_a_400(city, evaluator, params, field, message):
    response = client_for(evaluator).get(URL, params)
    assert response.status_code == 400
    assert re.search(rf'data-problem="{field}">[^<]*{re.escape(message)}', text(response))


# ------------------------------------------------------------------ the drill-down


def subject_id(unit) -> str:
    return str(unit.pk)


def test_a_rate_lists_the_cases_of_its_numerator_and_denominator(october, evaluator):
    response = client_for(evaluator).get(
        CASES, {"period": "2026-10", "scheme": "unit", "subject": october.other_unit.pk, "indicator": "closure_rate"}
    )
    assert response.status_code == 200
    page_text = text(response)
    assert "结案率 = 结案数 / 应结案数 × 100%" in page_text
    assert 'data-figure="value">40.00%<' in page_text
    assert 'data-total="numerator">2<' in page_text and 'data-total="denominator">5<' in page_text
    numerator = re.search(r'data-side="numerator".*?</table>', page_text, re.S).group(0)
    denominator = re.search(r'data-side="denominator".*?</table>', page_text, re.S).group(0)
    closed = set(Case.objects.filter(unit=october.other_unit, state="closed").values_list("number", flat=True))
    everyone = set(Case.objects.filter(unit=october.other_unit).values_list("number", flat=True))
    assert set(re.findall(r'<tr data-number="([^"]+)"', numerator)) == closed
    assert set(re.findall(r'<tr data-number="([^"]+)"', denominator)) == everyone
    number = sorted(closed)[0]
    assert f'<a href="/console/cases/{number}/">{number}</a>' in numerator
    assert "污水井盖" in numerator and "结案数" in numerator and "2026-10-" in numerator
    assert "实时明细" in page_text


def test_a_subject_without_an_indicator_lists_all_its_figures(october, evaluator):
    page_text = text(
        client_for(evaluator).get(CASES, {"period": "2026-10", "scheme": "unit", "subject": october.unit.pk})
    )
    assert 'data-figure="composite">94.00<' in page_text and "专业部门第 1 名（共 2 个）" in page_text
    assert 'data-indicator="rework_rate"' in page_text and 'data-indicator="urged"' in page_text


def test_key_problems_weigh_their_factor_in_the_drill_down(october, evaluator, people):
    october.category.key_problem = True
    october.category.save()
    # The counters key cases by category when they are written: rebuild them with the new flag.
    from citykeeper.services import counters

    counters.rebuild()
    client = client_for(evaluator)
    response = client.post(
        "/console/evaluation/schemes/unit/edit/",
        {
            "weight_0": "10",
            "weight_1": "30",
            "weight_2": "30",
            "weight_3": "30",
            "min_volume": "5",
            f"multiplier_{october.category.pk}": "3",
            "reason": "占道经营类按 3 倍计",
        },
    )
    assert response.status_code == 302, text(response)
    page_text = text(
        client.get(
            CASES,
            {"period": "2026-10", "scheme": "unit", "subject": october.other_unit.pk, "indicator": "closure_rate"},
        )
    )
    # Every case is a key problem ×3: 2 × 3 = 6 of 5 × 3 = 15; the rate stays 40 %.
    assert "污水井盖 ×3" in page_text
    assert 'data-total="numerator">6<' in page_text and 'data-total="denominator">15<' in page_text
    assert '<td class="factor">×3</td><td class="value">3</td>' in page_text


@pytest.mark.parametrize(
    "params, field",
    [
        ({"subject": "999999", "indicator": "closure_rate"}, "subject"),
        ({"subject": "abc"}, "subject"),
        ({"indicator": "no_such"}, "indicator"),
        ({"indicator": "valid_report_rate"}, "indicator"),  # an inspector's rate, not a unit's
        ({"period": "2027-01"}, "period"),
        ({"run": "424242"}, "run"),
    ],
)
def test_a_bad_drill_down_is_answered_in_chinese_with_a_400(october, evaluator, params, field):
    query = {"period": "2026-10", "scheme": "unit", "subject": october.unit.pk, **params}
    response = client_for(evaluator).get(CASES, query)
    assert response.status_code == 400
    assert f'data-problem="{field}"' in text(response)


def test_a_handler_drills_into_their_own_unit_only(october, people):
    client = client_for(people.handler)
    own = {"period": "2026-10", "scheme": "unit", "subject": october.unit.pk, "indicator": "closure_rate"}
    assert client.get(CASES, own).status_code == 200
    assert client.get(CASES, {**own, "subject": october.other_unit.pk}).status_code == 403
    assert client.get(CASES, {**own, "scheme": "region-1", "level": "street"}).status_code == 403


def test_the_side_navigation_links_the_sampling_pages_for_those_who_may_see_them(october, evaluator, people):
    sampling = text(client_for(evaluator).get("/console/evaluation/sampling/"))
    assert '<a href="/console/evaluation/sampling/" class="current" aria-current="page">抽查</a>' in sampling
    ranking = text(client_for(people.shift_lead).get(URL, {"period": "2026-10"}))
    assert '<a href="/console/evaluation/sampling/">抽查</a>' in ranking
    assert '<a href="/console/evaluation/" class="current" aria-current="page">评价排名</a>' in ranking
    # A handler reaches the drill-down of their own unit, not the evaluation's other pages.
    own = {"period": "2026-10", "scheme": "unit", "subject": october.unit.pk}
    drill = text(client_for(people.handler).get(CASES, own))
    assert 'href="/console/evaluation/sampling/"' not in drill and 'href="/console/evaluation/runs/"' not in drill
    assert '<a href="/evaluation/">公开的考评结果</a>' in drill


# ------------------------------------------------------------------ runs and publication


def run_october(client, **extra) -> EvaluationRun:
    response = client.post("/console/evaluation/runs/", {"period": "2026-10", "scheme": "unit", **extra})
    assert response.status_code == 302, text(response)
    return EvaluationRun.objects.get(pk=int(response["Location"].rstrip("/").rsplit("/", 1)[1]))


def test_a_run_is_stored_listed_and_published_once_under_one_snapshot(october, evaluator):
    client = client_for(evaluator)
    stored = run_october(client)
    run_page = text(client.get(f"/console/evaluation/runs/{stored.pk}/"))
    assert figure(row_of(run_page, "鼓楼区市政所"), "composite") == "94.00"
    assert "部门评价 v1：系统 于" in run_page and "默认方案（GB/T 30428.4 体系）" in run_page
    assert stored.checksum in run_page and "未公布" in run_page
    listed = text(client.get("/console/evaluation/runs/"))
    assert stored.checksum[:12] in listed and "2026年10月" in listed and "evaluator" in listed
    response = client.post(f"/console/evaluation/runs/{stored.pk}/publish/")
    assert response.status_code == 302
    snapshot = EvaluationRun.objects.get(pk=stored.pk).snapshot_id
    assert snapshot.startswith("2026-10-unit-v1-")
    again = client.post(f"/console/evaluation/runs/{stored.pk}/publish/", follow=True)
    assert f"<code data-snapshot>{snapshot}</code>" in text(again)
    assert EvaluationRun.objects.get(pk=stored.pk).snapshot_id == snapshot
    assert f"<code data-snapshot>{snapshot}</code>" in text(client.get("/console/evaluation/runs/"))


def test_a_published_run_keeps_its_figures_and_cases_when_cases_move(october, evaluator, people):
    client = client_for(evaluator)
    stored = run_october(client)
    client.post(f"/console/evaluation/runs/{stored.pk}/publish/")
    late_disposal(october, people)
    live = text(client.get(URL, {"period": "2026-10"}))
    assert figure(row_of(live, "云龙区环卫所"), "composite") != "64.00"
    frozen = text(client.get(f"/console/evaluation/runs/{stored.pk}/"))
    assert figure(row_of(frozen, "云龙区环卫所"), "composite") == "64.00"
    drill = re.search(
        r'href="(/console/evaluation/cases/\?run=[^"]*indicator=on_time_disposal_rate)"', row_of(frozen, "云龙区环卫所")
    ).group(1)
    drilled = text(client.get(unescape(drill)))
    assert "冻结的案件明细" in drilled and 'data-total="denominator">5<' in drilled


def test_publishing_is_refused_in_chinese_for_a_replaced_scheme(october, evaluator):
    client = client_for(evaluator)
    stored = run_october(client)
    client.post(
        "/console/evaluation/schemes/unit/edit/",
        {
            "weight_0": "20",
            "weight_1": "20",
            "weight_2": "30",
            "weight_3": "30",
            "min_volume": "5",
            "reason": "加大立案数权重",
        },
    )
    response = client.post(f"/console/evaluation/runs/{stored.pk}/publish/")
    assert response.status_code == 400
    assert "这次评价使用的是方案“部门评价”v1，现行版本是 v2" in text(response)
    assert EvaluationRun.objects.get(pk=stored.pk).snapshot_id is None


def test_publishing_is_refused_for_a_period_not_over_and_for_figures_that_changed(october, evaluator, people):
    client = client_for(evaluator)
    november = run_october(client, period="2026-11")
    response = client.post(f"/console/evaluation/runs/{november.pk}/publish/")
    assert response.status_code == 400 and "还没有结束，2026-11-30 之后才能公布" in text(response)
    stale = run_october(client)
    late_disposal(october, people)
    response = client.post(f"/console/evaluation/runs/{stale.pk}/publish/")
    assert response.status_code == 400 and "数据已经过时" in text(response)
    # It says what can have moved since the run, so the evaluator knows to compute a new one.
    assert "案件的办理情况、抽查复核结果或人工调整（新增或撤销）有了变化" in text(response)
    assert "请重新评价，计算一次新的结果" in text(response)
    assert EvaluationRun.objects.get(pk=stale.pk).snapshot_id is None


def test_publishing_after_an_adjustment_is_refused_for_the_same_reason(october, evaluator):
    from citykeeper.domain.evaluation.periods import Period
    from citykeeper.services.evaluation import add_adjustment

    client = client_for(evaluator)
    stale = run_october(client)
    add_adjustment(
        Period.month(2026, 10), "unit", october.unit.pk, "-4", reason="市民投诉核实属实", by=evaluator, now=NOW
    )
    response = client.post(f"/console/evaluation/runs/{stale.pk}/publish/")
    assert response.status_code == 400 and "抽查复核结果或人工调整（新增或撤销）有了变化" in text(response)
    assert EvaluationRun.objects.get(pk=stale.pk).snapshot_id is None


def test_publishing_a_run_whose_stored_row_was_altered_is_refused_as_such(october, evaluator):
    client = client_for(evaluator)
    stored = run_october(client)
    results = stored.results
    results["subjects"][0]["composite"] = "100"
    EvaluationRun.objects.filter(pk=stored.pk).update(results=results)
    response = client.post(f"/console/evaluation/runs/{stored.pk}/publish/")
    assert response.status_code == 400 and "保存记录与它的校验值不一致" in text(response)
    assert "抽查复核结果" not in text(response)
    assert EvaluationRun.objects.get(pk=stored.pk).snapshot_id is None


def test_shift_leads_look_but_do_not_run_or_publish(october, people):
    client = client_for(people.shift_lead)
    assert client.get(URL, {"period": "2026-10"}).status_code == 200
    assert "保存为一次评价结果" not in text(client.get(URL, {"period": "2026-10"}))
    assert client.post("/console/evaluation/runs/", {"period": "2026-10", "scheme": "unit"}).status_code == 403
    assert not EvaluationRun.objects.exists()


def test_a_run_of_a_bad_period_is_refused_in_chinese(city, evaluator):
    response = client_for(evaluator).post("/console/evaluation/runs/", {"period": "2026-13", "scheme": "unit"})
    assert response.status_code == 400 and "月份应为 1 到 12" in text(response)
    assert not EvaluationRun.objects.exists()


# ------------------------------------------------------------------ schemes


def test_the_schemes_in_force_are_listed_with_their_items_and_history(city, evaluator):
    page_text = text(client_for(evaluator).get("/console/evaluation/schemes/"))
    for code in ("region-1", "region-2", "unit", "inspector", "operator", "shift_lead", "dispatcher"):
        assert f'data-scheme="{code}"' in page_text
    unit = re.search(r'data-scheme="unit".*?</section>', page_text, re.S).group(0)
    assert "按期处置率" in unit and "30%" in unit and "应结案数 ≥ 5" in unit and "A ≥ 90" in unit
    assert "0–50: 100" in unit and "默认方案（GB/T 30428.4 体系）" in unit


def test_weights_that_do_not_add_up_to_100_are_refused_and_nothing_is_saved(city, evaluator):
    client = client_for(evaluator)
    client.get("/console/evaluation/schemes/")
    response = client.post(
        "/console/evaluation/schemes/unit/edit/",
        {"weight_0": "25", "weight_1": "30", "weight_2": "30", "weight_3": "30", "min_volume": "5", "reason": "改权重"},
    )
    assert response.status_code == 400
    assert "各项权重合计为 115%，必须正好是 100%" in text(response)
    assert list(EvaluationScheme.objects.filter(code="unit").values_list("version", flat=True)) == [1]


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"reason": "  "}, "reason", "请填写修改理由"),
        ({"weight_0": "abc"}, "weights", "权重必须是大于 0 的数字"),
        ({"min_volume": "-1"}, "min_volume", "最低件数必须是不小于 0 的整数"),
        ({}, "definition", "方案没有改动"),
    ],
)
def test_a_bad_scheme_edit_says_why_in_chinese(city, evaluator, change, field, message):
    form = {"weight_0": "10", "weight_1": "30", "weight_2": "30", "weight_3": "30", "min_volume": "5", "reason": "检查"}
    response = client_for(evaluator).post("/console/evaluation/schemes/unit/edit/", {**form, **change})
    assert response.status_code == 400
    assert re.search(rf'data-problem="{field}">[^<]*{message}', text(response))
    assert EvaluationScheme.objects.filter(code="unit").count() == 1


def test_a_new_version_is_saved_with_who_and_why_and_shown_in_the_history(city, evaluator):
    client = client_for(evaluator)
    response = client.post(
        "/console/evaluation/schemes/unit/edit/",
        {
            "weight_0": "10",
            "weight_1": "30",
            "weight_2": "30",
            "weight_3": "30",
            "min_volume": "3",
            "reason": "小单位也排名",
        },
    )
    assert response.status_code == 302
    newest = EvaluationScheme.objects.get(code="unit", version=2)
    assert newest.created_by == evaluator and newest.definition["min_volume"]["threshold"] == 3
    unit = re.search(r'data-scheme="unit".*?</section>', text(client.get("/console/evaluation/schemes/")), re.S).group(
        0
    )
    assert "现行 v2" in unit and "小单位也排名" in unit and "应结案数 ≥ 3" in unit


def test_shift_leads_cannot_edit_schemes(city, people):
    assert client_for(people.shift_lead).get("/console/evaluation/schemes/unit/edit/").status_code == 403


# ------------------------------------------------------------------ the unit's own standing


def test_the_unit_workspace_loads_the_units_own_standing(city, people):
    workspace = text(client_for(people.handler).get("/console/unit/"))
    assert "本月考评（暂定）" in workspace and 'hx-get="/console/unit/standing/"' in workspace
    # Something dispatched this month: the volume band scores, the rates are 不适用.
    from django.utils import timezone

    dispatched(city, people, city.unit, timezone.now() - dt.timedelta(minutes=10))
    fragment = text(client_for(people.handler).get("/console/unit/standing/"))
    assert 'data-standing="composite">100.00<' in fragment and 'data-standing="grade">A<' in fragment
    assert "应结案数 0 件，少于 5 件，不参加排名" in fragment
    assert f"subject={city.unit.pk}" in fragment and "indicator=dispatched" in fragment
    assert "云龙区环卫所" not in fragment


MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October")
MONTHS += ("November", "December")


def test_the_units_standing_names_the_month_in_english_on_an_english_page(city, people):
    from django.utils import timezone

    client = client_for(people.handler)
    client.post("/i18n/setlang/", {"language": "en", "next": "/console/unit/"})
    today = timezone.localdate()
    fragment = text(client.get("/console/unit/standing/"))
    headline = re.search(r'<p class="headline">(.*?)</p>', fragment, re.S).group(1)
    assert headline.startswith(f"{MONTHS[today.month - 1]} {today.year} · ")
    assert f"{today.year}年" not in fragment and "暂定" not in headline


def test_a_handler_cannot_see_another_units_standing(city, people):
    response = client_for(people.handler).get("/console/unit/standing/", {"unit": city.other_unit.code})
    assert response.status_code == 403


# ------------------------------------------------------------------ query budgets


def test_the_ranking_and_the_drill_down_do_not_grow_with_the_cases(city, people, evaluator):
    client = client_for(evaluator)
    good_month(city, people, n=2)
    drill = {"period": "2026-10", "scheme": "unit", "subject": city.unit.pk, "indicator": "on_time_disposal_rate"}

    def queries(url, params) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url, params).status_code == 200
        return len(captured)

    queries(URL, {"period": "2026-10"})  # the first look stores the default scheme as v1
    few = queries(URL, {"period": "2026-10"}), queries(CASES, drill)
    good_month(city, people, n=6, start=MONDAY + dt.timedelta(hours=3))
    many = queries(URL, {"period": "2026-10"}), queries(CASES, drill)
    assert few == many, (few, many)
    assert many[0] <= RANKING_BUDGET and many[1] <= DRILL_BUDGET, many


def test_the_not_ranked_reason_reads_in_chinese_from_the_data_or_from_an_older_runs_text():
    from citykeeper.web.console.evaluation import reason_text

    english = "3 应结案数 (close_due) in the period, below the minimum of 5 for ranking"
    detail = {"why": "below_minimum", "indicator": "close_due", "count": 3, "minimum": 5}
    assert reason_text(english, detail) == "应结案数 3 件，少于 5 件，不参加排名"
    assert reason_text(english) == "应结案数 3 件，少于 5 件，不参加排名"  # a run stored before the data
    assert reason_text("nothing was due for any scored indicator in the period", {"why": "nothing_due"}).startswith(
        "本期各计分指标都没有应办事项"
    )
    assert reason_text(None) == ""
