"""The unit handler's workspace: the unit's queues with counts, its month beside the month
before, the daily chart's figures, its overdue cases; who may look at which unit; bad
months; and a query budget that does not grow with the number of cases."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from citykeeper.services import cases as case_service
from citykeeper.services.cases import MoveInput
from citykeeper.store.models import Case
from citykeeper.web.console.unit import may_open_workspace
from tests.factories import local, report_case

QUERY_BUDGET = 13
URL = "/console/unit/"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def dispatched(city, people, at: dt.datetime, *, unit=None) -> Case:
    """A case reported, accepted, filed and dispatched (to the test unit) a minute apart from ``at``."""
    case = report_case(city, people, at=at)
    case = case_service.accept(
        case.number, actor=people.operator, version=case.version, at=at + dt.timedelta(minutes=1)
    )
    case = case_service.file(
        case.number,
        actor=people.shift_lead,
        version=case.version,
        at=at + dt.timedelta(minutes=2),
        data=MoveInput(condition=city.condition),
    )
    return case_service.dispatch(
        case.number,
        actor=people.dispatcher,
        version=case.version,
        at=at + dt.timedelta(minutes=3),
        data=MoveInput(unit=unit or city.unit),
    )


def received(people, case: Case, at: dt.datetime) -> Case:
    return case_service.receive(case.number, actor=people.handler, version=case.version, at=at)


def disposed(people, case: Case, at: dt.datetime) -> Case:
    return case_service.dispose(
        case.number, actor=people.handler, version=case.version, at=at, data=MoveInput(reason="已处理完毕")
    )


def figure(page: str, key: str) -> tuple[str, str, str]:
    row = re.search(
        rf'<tr data-figure="{key}">.*?<td class="now">(.*?)</td><td class="before">(.*?)</td>'
        rf'<td class="change">(.*?)</td>',
        page,
        re.S,
    )
    return row.group(1), row.group(2), row.group(3)


def daily(page: str, day: str) -> tuple[int, int]:
    row = re.search(
        rf'<tr data-day="{day}">.*?<td class="dispatched">(\d+)</td><td class="disposed">(\d+)</td>', page, re.S
    )
    return int(row.group(1)), int(row.group(2))


@pytest.fixture
def november(city, people):
    """鼓楼区市政所's October (one dispatch, disposed on time) and November 2026 (three
    dispatches on the 2nd and 3rd: one disposed within its 4 working hours, one a week late, one
    still open and received)."""
    october = dispatched(city, people, local(2026, 10, 12, 9, 0))
    disposed(people, received(people, october, local(2026, 10, 12, 10, 0)), local(2026, 10, 12, 11, 0))
    quick = dispatched(city, people, local(2026, 11, 2, 9, 0))
    disposed(people, received(people, quick, local(2026, 11, 2, 9, 30)), local(2026, 11, 2, 11, 0))
    slow = dispatched(city, people, local(2026, 11, 2, 10, 0))
    disposed(people, slow, local(2026, 11, 10, 15, 0))
    still_open = dispatched(city, people, local(2026, 11, 3, 9, 0))
    received(people, still_open, local(2026, 11, 3, 10, 0))
    return october, quick, slow, still_open


def test_the_workspace_asks_for_a_login(city, people):
    response = Client().get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=/console/unit/")


@pytest.mark.parametrize("persona", ["operator", "dispatcher", "inspector", "citizen"])
def test_people_who_are_not_unit_handlers_or_overseers_get_the_consoles_403(persona, city, people):
    response = client_for(getattr(people, persona)).get(URL)
    assert response.status_code == 403
    assert "本单位工作台只对处置单位人员、值班长和领导开放" in response.content.decode()


def test_the_handler_sees_the_units_name_and_its_queues_with_counts_and_links(city, people):
    new = dispatched(city, people, timezone.now() - dt.timedelta(hours=1))
    dispatched(city, people, timezone.now() - dt.timedelta(hours=1), unit=city.other_unit)  # not theirs
    taken = received(people, dispatched(city, people, timezone.now() - dt.timedelta(hours=2)), timezone.now())
    response = client_for(people.handler).get(URL)
    page = response.content.decode()
    assert response.status_code == 200
    assert "<h1>鼓楼区市政所" in page
    assert 'data-unit-count="unit_new">1<' in page and 'data-unit-count="unit_in_progress">1<' in page
    assert 'data-unit-count="unit_overdue">0<' in page
    assert 'href="/console/queues/unit_new/" data-unit-queue="unit_new"' in page
    assert new.number not in page and taken.number not in page  # neither is overdue


def test_the_month_is_shown_beside_the_month_before(city, people, november):
    page = client_for(people.handler).get(URL, {"month": "2026-11"}).content.decode()
    assert "2026 年 11 月" in page and "2026 年 10 月" in page
    assert figure(page, "dispatched") == ("3", "1", "+2")
    assert figure(page, "received") == ("2", "1", "+1")
    assert figure(page, "disposed") == ("2", "1", "+1")
    assert figure(page, "on_time") == ("1", "1", "0")
    assert figure(page, "on_time_rate") == ("50.0%", "100.0%", "-50.0 个百分点")
    assert re.search(r'<strong data-figure="rate">50.0%</strong>', page)
    assert re.search(r'<strong data-figure="open_now">1</strong>', page)
    october = client_for(people.handler).get(URL, {"month": "2026-10"}).content.decode()
    assert figure(october, "dispatched") == ("1", "0", "+1")
    assert figure(october, "on_time_rate")[0] == "100.0%"


def test_the_daily_chart_carries_dispatched_and_disposed_per_day(city, people, november):
    page = client_for(people.handler).get(URL, {"month": "2026-11"}).content.decode()
    assert daily(page, "2026-11-01") == (0, 0)
    assert daily(page, "2026-11-02") == (2, 1)
    assert daily(page, "2026-11-03") == (1, 0)
    assert daily(page, "2026-11-10") == (0, 1)
    data = json.loads(re.search(r'<script id="unit-chart-data" type="application/json">(.*?)</script>', page).group(1))
    assert data["days"][:3] == [1, 2, 3]
    assert data["dispatched"][:3] == [0, 2, 1] and data["disposed"][9] == 1
    assert len(data["days"]) == len(data["dispatched"]) == len(data["disposed"])
    assert 'id="unit-chart"' in page and "vendor/echarts-5.6.0/echarts.min.js" in page
    # A past month is drawn whole.
    october = client_for(people.handler).get(URL, {"month": "2026-10"}).content.decode()
    assert daily(october, "2026-10-31") == (0, 0) and daily(october, "2026-10-12") == (1, 1)


def test_the_overdue_cases_of_the_unit_are_listed_with_links_to_the_case_page(city, people):
    now = timezone.now()
    late = dispatched(city, people, now - dt.timedelta(days=10))
    on_time = dispatched(city, people, now - dt.timedelta(hours=1))
    elsewhere = dispatched(city, people, now - dt.timedelta(days=10), unit=city.other_unit)
    Case.objects.filter(pk__in=[late.pk, elsewhere.pk]).update(
        stage_deadline_at=now - dt.timedelta(hours=5), stage_overdue=True
    )
    Case.objects.filter(pk=on_time.pk).update(stage_deadline_at=now + dt.timedelta(days=1), stage_overdue=False)
    page = client_for(people.handler).get(URL).content.decode()
    overdue = page[page.index('id="unit-overdue-title"') :]
    assert f'<a href="/console/cases/{late.number}/">{late.number}</a>' in overdue
    assert 'class="sla overdue"' in overdue and "超时 5 小时" in overdue
    assert on_time.number not in page and elsewhere.number not in page
    assert 'data-unit-count="unit_overdue">1<' in page


def test_no_overdue_case_says_so(city, people):
    assert "没有超时的案件。" in client_for(people.handler).get(URL).content.decode()


@pytest.mark.parametrize(
    ("month", "message"),
    [
        ("2026-13", "月份“2026-13”无法识别"),
        ("november", "月份“november”无法识别"),
        ("2026-1", "月份“2026-1”无法识别"),
        ("3000-01", "3000 年 1 月还没有到，无法统计"),
    ],
)
def test_a_bad_or_future_month_gets_a_chinese_message_not_an_error(month, message, city, people):
    response = client_for(people.handler).get(URL, {"month": month})
    page = response.content.decode()
    assert response.status_code == 400
    assert message in page and 'role="alert"' in page
    assert 'name="month"' in page and "unit-chart-data" not in page
    assert "没有超时的案件。" in page  # what is overdue now does not depend on the month


def test_next_month_is_offered_only_up_to_the_current_one(city, people):
    this_month = timezone.localtime().strftime("%Y-%m")
    page = client_for(people.handler).get(URL).content.decode()
    assert f'value="{this_month}"' in page and 'rel="prev"' in page and 'rel="next"' not in page
    page = client_for(people.handler).get(URL, {"month": "2026-10"}).content.decode()
    assert 'month=2026-11" rel="next"' in page and 'month=2026-09" rel="prev"' in page


def test_a_handler_cannot_look_at_another_unit(city, people):
    response = client_for(people.handler).get(URL, {"unit": city.other_unit.code})
    assert response.status_code == 403 and "无权查看" in response.content.decode()
    assert client_for(people.handler).get(URL, {"unit": city.unit.code}).status_code == 200


def test_leaders_and_shift_leads_look_at_units_in_their_scope(city, people, november):
    leader = client_for(people.leader)
    units = leader.get(URL).content.decode()
    assert '<a href="?unit=U-GL-SZ">鼓楼区市政所</a>' in units and '<a href="?unit=U-YL-HW">云龙区环卫所</a>' in units
    page = leader.get(URL, {"unit": "U-GL-SZ", "month": "2026-11"}).content.decode()
    assert "<h1>鼓楼区市政所" in page and figure(page, "dispatched") == ("3", "1", "+2")
    # The unit's queues are not the leader's: counts without links, and the month picker keeps the unit.
    assert 'data-unit-count="unit_in_progress">1<' in page and 'href="/console/queues/unit_new/"' not in page
    assert '<input type="hidden" name="unit" value="U-GL-SZ">' in page
    shift_lead = client_for(people.shift_lead)  # 鼓楼区 only
    assert shift_lead.get(URL, {"unit": "U-GL-SZ"}).status_code == 200
    assert shift_lead.get(URL, {"unit": "U-YL-HW"}).status_code == 403
    assert "云龙区环卫所" not in shift_lead.get(URL).content.decode()
    assert shift_lead.get(URL, {"unit": "NO-SUCH"}).status_code == 403


def test_the_query_budget_does_not_grow_with_the_cases(city, people):
    now = timezone.now()
    client = client_for(people.handler)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(URL).status_code == 200
        return len(captured)

    few = queries()
    for hours in (30, 20, 10):
        case = dispatched(city, people, now - dt.timedelta(hours=hours))
        Case.objects.filter(pk=case.pk).update(stage_deadline_at=now - dt.timedelta(hours=1), stage_overdue=True)
    many = queries()
    assert few == many <= QUERY_BUDGET, (few, many)
    leader = client_for(people.leader)
    with CaptureQueriesContext(connection) as captured:
        assert leader.get(URL, {"unit": "U-GL-SZ"}).status_code == 200
    assert len(captured) <= QUERY_BUDGET + 3  # the scope check and the unit's own counts
    with CaptureQueriesContext(connection) as captured:
        assert leader.get(URL).status_code == 200
    assert len(captured) <= 10


def test_the_console_links_the_workspace_for_those_who_may_open_it(city, people):
    assert [may_open_workspace(getattr(people, p)) for p in ("handler", "leader", "shift_lead")] == [True] * 3
    assert [may_open_workspace(getattr(people, p)) for p in ("operator", "dispatcher", "citizen")] == [False] * 3
    page = client_for(people.handler).get(URL).content.decode()
    assert '<a href="/console/unit/" aria-current="page" class="current">本单位工作台</a>' in page
