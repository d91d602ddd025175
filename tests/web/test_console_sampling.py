"""抽查 and 人工调整 in the console: drawing a month's sample and recording re-checks, a
manual adjustment added on the run page with its reason, shown on the run and on the
published run; bad input answered in Chinese with a 400 and nothing stored; people who only
look get a 403."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from citykeeper.domain.workflow import Role
from citykeeper.services import deadlines
from citykeeper.store.models import CaseEvent, EvaluationAdjustment, EvaluationRun, SamplingItem, SamplingRound
from citykeeper.web.console import evaluation as page
from tests.factories import local, make_user
from tests.web.test_console_evaluation import MONDAY, NOW, client_for, dispatched, figure, good_month, row_of, text

SAMPLING = "/console/evaluation/sampling/"


@pytest.fixture(autouse=True)
def _clock(monkeypatch):
    monkeypatch.setattr(page, "_now", lambda: NOW)


@pytest.fixture
def month(city, people):
    """鼓楼区市政所 closes five cases in October (94.00, A); 云龙区环卫所 leaves one
    undisposed past its deadline."""
    good_month(city, people)
    late = dispatched(city, people, city.other_unit, MONDAY + dt.timedelta(hours=2))
    deadlines.catch_up(late, now=local(2026, 10, 31, 12, 0))
    return city


@pytest.fixture
def evaluator(city):
    return make_user("evaluator", Role.EVALUATOR, area=city.city)


def run_october(client) -> EvaluationRun:
    response = client.post("/console/evaluation/runs/", {"period": "2026-10", "scheme": "unit"})
    assert response.status_code == 302, text(response)
    return EvaluationRun.objects.get(pk=int(response["Location"].rstrip("/").rsplit("/", 1)[1]))


# ------------------------------------------------------------------ adjustments


def test_an_adjustment_is_added_on_the_run_page_and_shown_with_its_reason_on_the_published_run(month, evaluator):
    client = client_for(evaluator)
    stale = run_october(client)
    page_text = text(client.get(f"/console/evaluation/runs/{stale.pk}/"))
    assert "新增人工调整" in page_text and "本次结果没有人工调整" in page_text
    response = client.post(
        f"/console/evaluation/runs/{stale.pk}/adjustments/",
        {"subject": month.unit.pk, "indicator": "", "points": "-4", "reason": "市民投诉核实属实"},
    )
    assert response.status_code == 302 and response["Location"].endswith("#adjustments")
    changed = text(client.get(f"/console/evaluation/runs/{stale.pk}/"))
    assert 'data-problem="adjustments-changed"' in changed and 'data-live-adjustment="' in changed
    assert client.post(f"/console/evaluation/runs/{stale.pk}/publish/").status_code == 400  # figures changed
    fresh = run_october(client)
    assert client.post(f"/console/evaluation/runs/{fresh.pk}/publish/").status_code == 302
    published = text(client.get(f"/console/evaluation/runs/{fresh.pk}/"))
    assert figure(row_of(published, "鼓楼区市政所"), "composite") == "90.00"  # 94.00 − 4
    recorded = re.search(r'data-adjustments="recorded".*?</table>', published, re.S).group(0)
    assert "鼓楼区市政所" in recorded and "综合指标值" in recorded and "−4.00" in recorded
    assert "市民投诉核实属实" in recorded and "evaluator" in recorded and "已计入" in recorded
    assert "新增人工调整" not in published  # a published run is not adjusted


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"reason": "  "}, "reason", "请填写调整理由"),
        ({"points": "20"}, "points", "调整分值必须是 −10 到 +10 之间、不为 0 的数字"),
        ({"points": "两分"}, "points", "调整分值必须是"),
        ({"subject": "999999"}, "subject", "这次评价中没有这个评价对象"),
        ({"indicator": "valid_report_rate"}, "indicator", "这个方案不计这一项指标"),
    ],
)
def test_a_bad_adjustment_is_answered_in_chinese_and_nothing_is_stored(month, evaluator, change, field, message):
    client = client_for(evaluator)
    stored = run_october(client)
    form = {"subject": month.unit.pk, "indicator": "", "points": "2", "reason": "理由", **change}
    response = client.post(f"/console/evaluation/runs/{stored.pk}/adjustments/", form)
    assert response.status_code == 400
    assert re.search(rf'data-problem="{field}">[^<]*{re.escape(message)}', text(response))
    assert not EvaluationAdjustment.objects.exists()


def test_an_adjustment_is_withdrawn_with_a_reason(month, evaluator):
    client = client_for(evaluator)
    stored = run_october(client)
    client.post(
        f"/console/evaluation/runs/{stored.pk}/adjustments/",
        {"subject": month.unit.pk, "indicator": "rework_rate", "points": "5", "reason": "加分"},
    )
    added = EvaluationAdjustment.objects.get()
    refused = client.post(f"/console/evaluation/adjustments/{added.pk}/withdraw/", {"run": stored.pk, "reason": ""})
    assert refused.status_code == 400 and "请填写撤销理由" in text(refused)
    assert EvaluationAdjustment.objects.count() == 1
    response = client.post(
        f"/console/evaluation/adjustments/{added.pk}/withdraw/", {"run": stored.pk, "reason": "误加"}
    )
    assert response.status_code == 302
    assert EvaluationAdjustment.objects.get(withdraws=added).reason == "误加"
    assert 'data-live-adjustment="' not in text(client.get(f"/console/evaluation/runs/{stored.pk}/"))


def test_shift_leads_see_the_run_but_do_not_adjust(month, evaluator, people):
    stored = run_october(client_for(evaluator))
    client = client_for(people.shift_lead)
    assert "新增人工调整" not in text(client.get(f"/console/evaluation/runs/{stored.pk}/"))
    response = client.post(
        f"/console/evaluation/runs/{stored.pk}/adjustments/",
        {"subject": month.unit.pk, "points": "2", "reason": "想加分"},
    )
    assert response.status_code == 403 and not EvaluationAdjustment.objects.exists()


# ------------------------------------------------------------------ 抽查


def test_a_sample_is_drawn_and_its_rechecks_recorded_in_the_console(month, evaluator):
    client = client_for(evaluator)
    assert 'class="sampling-form"' in text(client.get(SAMPLING))
    response = client.post(SAMPLING, {"period": "2026-10", "kind": "cases", "size": "2"})
    assert response.status_code == 302
    row = SamplingRound.objects.get()
    round_page = text(client.get(response["Location"]))
    assert f"<code data-seed>{row.seed}</code>" in round_page and 'data-verified="yes"' in round_page
    assert "鼓楼区市政所" in round_page and "每个责任单位 2 件" in round_page
    # Each drawn case names the inspector who passed its 核查: a failed re-check counts against them.
    assert "核查通过的监督员" in round_page
    for drawn in row.items.all():
        checked = CaseEvent.objects.filter(case=drawn.case, kind="check_pass").order_by("-seq").first()
        name = checked.actor.display_name or checked.actor.username
        assert re.search(rf'data-item="{drawn.pk}".*?<td data-passed-check>{name}</td>', round_page, re.S)
    item = row.items.order_by("pk").first()
    recorded = client.post(f"{SAMPLING}items/{item.pk}/", {"result": "failed", "note": "井盖仍破损"})
    assert recorded.status_code == 302
    assert SamplingItem.objects.get(pk=item.pk).result == "failed"
    after = text(client.get(response["Location"]))
    assert re.search(rf'data-item="{item.pk}" data-result="failed">.*?不合格.*?井盖仍破损', after, re.S)
    listed = text(client.get(SAMPLING))
    assert "2026年10月" in listed and "结案抽查" in listed
    assert re.search(rf'href="/console/evaluation/sampling/{row.pk}/"', text(client.get(SAMPLING)))
    stored = run_october(client)
    assert f'href="/console/evaluation/sampling/{row.pk}/"' in text(
        client.get(f"/console/evaluation/runs/{stored.pk}/")
    )


@pytest.mark.parametrize(
    "form, field, message",
    [
        ({"period": "2026-11", "kind": "cases"}, "period", "还没有结束，结束后才能抽查"),
        ({"period": "2026-13", "kind": "cases"}, "period", "月份应为 1 到 12"),
        ({"period": "2026-10", "kind": "all"}, "kind", "请选择抽查类型"),
        ({"period": "2026-10", "kind": "cases", "size": "0"}, "size", "抽查数量必须是不小于 1 的整数"),
        ({"period": "2026-10", "kind": "cases", "size": "x"}, "size", "抽查数量必须是不小于 1 的整数"),
    ],
)
def test_a_bad_draw_is_answered_in_chinese_and_nothing_is_drawn(month, evaluator, form, field, message):
    response = client_for(evaluator).post(SAMPLING, form)
    assert response.status_code == 400
    assert re.search(rf'data-problem="{field}">[^<]*{message}', text(response))
    assert not SamplingRound.objects.exists()


def test_a_second_draw_of_the_month_and_a_bad_recheck_are_refused_in_chinese(month, evaluator):
    client = client_for(evaluator)
    client.post(SAMPLING, {"period": "2026-10", "kind": "patrol"})
    again = client.post(SAMPLING, {"period": "2026-10", "kind": "patrol"})
    assert again.status_code == 400 and "这一周期的巡查区域抽查已经抽取过" in text(again)
    item = SamplingItem.objects.order_by("pk").first()
    response = client.post(f"{SAMPLING}items/{item.pk}/", {"result": "missed", "missed": "0"})
    assert response.status_code == 400 and "发现漏报时请填写 1 到 999 之间的问题数" in text(response)
    assert SamplingItem.objects.get(pk=item.pk).result == "pending"
    assert client.post(f"{SAMPLING}items/{item.pk}/", {"result": "missed", "missed": "3"}).status_code == 302
    twice = client.post(f"{SAMPLING}items/{item.pk}/", {"result": "passed"})
    assert twice.status_code == 400 and "这一项的复核结果已经登记，不能修改" in text(twice)
    assert SamplingItem.objects.get(pk=item.pk).missed == 3


def test_shift_leads_look_at_samples_but_do_not_draw_or_record(month, evaluator, people):
    client_for(evaluator).post(SAMPLING, {"period": "2026-10", "kind": "cases"})
    item = SamplingItem.objects.order_by("pk").first()
    client = client_for(people.shift_lead)
    assert client.get(SAMPLING).status_code == 200 and 'class="sampling-form"' not in text(client.get(SAMPLING))
    assert client.post(SAMPLING, {"period": "2026-09", "kind": "patrol"}).status_code == 403
    assert client.post(f"{SAMPLING}items/{item.pk}/", {"result": "passed"}).status_code == 403
    assert SamplingRound.objects.count() == 1 and SamplingItem.objects.get(pk=item.pk).result == "pending"
    assert client_for(people.handler).get(SAMPLING).status_code == 403


def test_a_sampled_figure_opens_the_sampled_cases_and_contractors_have_their_ranking(month, evaluator, people):
    from citykeeper.services.evaluation import add_contractor, assign_inspector

    client = client_for(evaluator)
    client.post(SAMPLING, {"period": "2026-10", "kind": "cases", "size": "1"})
    item = SamplingItem.objects.select_related("case").get(unit=month.unit)
    client.post(f"{SAMPLING}items/{item.pk}/", {"result": "passed"})
    drill = client.get(
        "/console/evaluation/cases/",
        {"period": "2026-10", "scheme": "unit", "subject": month.unit.pk, "indicator": "sample_pass_rate"},
    )
    assert drill.status_code == 200
    assert f'data-number="{item.case.number}"' in text(drill) and "抽查合格数" in text(drill)
    contractor = add_contractor("WB-01", "城巡公司", contract_start=dt.date(2026, 1, 1))
    assign_inspector(contractor, people.inspector, start=dt.date(2026, 1, 1))
    ranking = text(client.get("/console/evaluation/", {"period": "2026-10", "scheme": "contractor"}))
    # The inspector's six reports (five for 鼓楼区市政所, one for 云龙区环卫所), all valid.
    assert figure(row_of(ranking, "城巡公司"), "valid_report_rate") == "100.00%"
