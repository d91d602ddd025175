"""The dispatch screen: who may open it, the filed cases with their proposed unit, its load
and the rule behind it, one-click and batch dispatch, cases moved meanwhile, double
submission, bad input, scope, and a query budget that does not grow with the rows."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from citykeeper.domain.workflow import Role
from citykeeper.services import cases as case_service
from citykeeper.services.cases import MoveInput
from citykeeper.store.models import Case, CaseEvent, RoutingRule, Unit
from tests.factories import make_user, report_case

URL = "/console/dispatch/"
QUERY_BUDGET = 14


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def routed(city):
    """Every 污水井盖 case goes to 鼓楼区市政所 by the category's default rule."""
    return RoutingRule.objects.create(kind="category_default", category=city.category, unit=city.unit)


def filed(city, people, *, minutes_ago=5, grid=None) -> Case:
    at = timezone.now() - dt.timedelta(minutes=minutes_ago)
    case = report_case(city, people, at=at, grid=grid)
    actor_area = people.operator if grid is None else people.city_operator
    case = case_service.accept(case.number, actor=actor_area, version=case.version, at=at + dt.timedelta(seconds=10))
    lead = people.shift_lead
    if grid is not None:  # the other district: a city-wide shift lead files it
        lead = make_user(f"lead-{case.number}", Role.SHIFT_LEAD, area=city.city)
    return case_service.file(
        case.number,
        actor=lead,
        version=case.version,
        at=at + dt.timedelta(seconds=20),
        data=MoveInput(condition=city.condition),
    )


def numbers_on(page: str) -> list[str]:
    return re.findall(r'<tr data-number="([^"]+)"', page)


def outcomes(response) -> dict[str, str]:
    return dict(re.findall(r'data-number="([^"]+)" data-outcome="([^"]+)"', response.content.decode()))


def form_token(client) -> str:
    return re.search(r'name="token" value="([^"]+)"', client.get(URL).content.decode()).group(1)


def post(client, **fields):
    fields.setdefault("token", form_token(client))
    return client.post(URL, fields, follow=True)


def test_the_screen_asks_for_a_login_and_is_only_for_dispatchers_and_shift_leads(city, people):
    assert Client().get(URL)["Location"].startswith("/login/?next=/console/dispatch/")
    for persona in ("operator", "handler", "citizen", "inspector"):
        response = client_for(getattr(people, persona)).get(URL)
        assert response.status_code == 403
        assert "派遣页面只对派遣员和值班长开放" in response.content.decode()
    assert client_for(people.dispatcher).get(URL).status_code == 200
    assert client_for(people.shift_lead).get(URL).status_code == 200


def test_the_filed_cases_in_scope_are_listed_by_deadline_with_the_proposed_unit_its_load_and_rule(city, people, routed):
    older = filed(city, people, minutes_ago=10)
    newer = filed(city, people, minutes_ago=2)
    elsewhere = filed(city, people, grid=city.other_grid)
    at_unit = filed(city, people)
    case_service.dispatch(
        at_unit.number, actor=people.dispatcher, version=at_unit.version, at=timezone.now(), data=MoveInput()
    )

    page = client_for(people.dispatcher).get(URL).content.decode()

    assert numbers_on(page) == [older.number, newer.number]  # the earliest deadline first
    assert elsewhere.number not in page
    assert f'href="/console/cases/{older.number}/"' in page
    assert "类别默认规则：全市 × 污水井盖 → 鼓楼区市政所" in page
    assert "在办 1" in page and "超时 0" in page and "本月无处置" in page
    assert 'class="sla ok"' in page and "剩 " in page
    assert page.count("派遣到建议单位") == 2
    # The unit picker lists the active units with their load.
    assert 'data-search="云龙区环卫所 U-YL-HW"' in page and 'data-search="鼓楼区市政所 U-GL-SZ"' in page


def test_a_case_without_a_proposal_says_so_and_has_no_one_click_button(city, people):
    case = filed(city, people)
    page = client_for(people.dispatcher).get(URL).content.decode()
    assert numbers_on(page) == [case.number]
    assert "无建议单位" in page and "无匹配规则，待分拣" in page
    assert 'name="one"' not in page


def test_one_click_sends_the_case_to_its_proposed_unit_and_redirects_with_the_answer(city, people, routed):
    case = filed(city, people)
    client = client_for(people.dispatcher)
    response = client.post(URL, {"token": form_token(client), "one": f"{case.number}:{case.version}"})
    assert response.status_code == 302 and response["Location"].startswith("/console/dispatch/?result=")
    page = client.get(response["Location"])
    assert outcomes(page) == {case.number: "dispatched"}
    assert "成功 1 件" in page.content.decode()
    case.refresh_from_db()
    assert case.state == "dispatched" and case.unit_id == city.unit.pk


def test_a_batch_goes_to_the_chosen_unit_and_a_case_moved_meanwhile_is_left_alone(city, people, routed):
    first, second, third = (filed(city, people, minutes_ago=m) for m in (9, 8, 7))
    # Someone else dispatches the second one after the page was shown.
    other_dispatcher = make_user("李派遣", Role.DISPATCHER, area=city.district)
    case_service.dispatch(
        second.number, actor=other_dispatcher, version=second.version, at=timezone.now(), data=MoveInput()
    )
    client = client_for(people.dispatcher)

    response = post(
        client,
        pick=[f"{c.number}:{c.version}" for c in (first, second, third)],
        unit=str(city.other_unit.pk),
        batch="unit",
    )

    assert outcomes(response) == {first.number: "dispatched", second.number: "moved", third.number: "dispatched"}
    page = response.content.decode()
    assert "成功 2 件，已被他人处理 1 件" in page
    assert re.search(r"已被他人处理</span>：李派遣 于 \d{4}-\d\d-\d\d \d\d:\d\d 派遣", page)
    units = dict(Case.objects.filter(pk__in=[first.pk, second.pk, third.pk]).values_list("number", "unit__code"))
    assert units == {first.number: "U-YL-HW", second.number: "U-GL-SZ", third.number: "U-YL-HW"}


def test_the_same_batch_sent_twice_dispatches_once_and_says_so(city, people, routed):
    cases = [filed(city, people, minutes_ago=m) for m in (6, 5)]
    client = client_for(people.dispatcher)
    fields = {
        "token": form_token(client),
        "pick": [f"{c.number}:{c.version}" for c in cases],
        "unit": str(city.unit.pk),
        "batch": "unit",
    }
    first = client.post(URL, fields, follow=True)
    again = client.post(URL, fields, follow=True)  # a double click: same form, same token
    assert set(outcomes(first).values()) == {"dispatched"}
    assert "这次提交已经处理过（重复提交），没有重复派遣" in again.content.decode()
    assert outcomes(again) == outcomes(first)
    # A second tab: another token, the versions it showed are now stale.
    other_tab = client.post(URL, {**fields, "token": "another-tab"}, follow=True)
    assert set(outcomes(other_tab).values()) == {"duplicate"}
    assert "重复提交，未重复派遣" in other_tab.content.decode()
    assert CaseEvent.objects.filter(kind="dispatch", case__in=cases).count() == 2


def test_each_to_its_own_proposal_in_a_batch(city, people, routed):
    case = filed(city, people)
    response = post(client_for(people.dispatcher), pick=[f"{case.number}:{case.version}"], batch="proposed")
    assert outcomes(response) == {case.number: "dispatched"}
    assert Case.objects.get(pk=case.pk).unit_id == city.unit.pk


@pytest.mark.parametrize("unit", ["", "999999", "abc", "inactive"])
def test_a_batch_to_an_unknown_or_inactive_unit_dispatches_nothing(unit, city, people, routed):
    case = filed(city, people)
    if unit == "inactive":
        gone = Unit.objects.create(code="U-OLD", name="撤销的单位", kind="department", level="district", active=False)
        unit = str(gone.pk)
    response = post(client_for(people.dispatcher), pick=[f"{case.number}:{case.version}"], unit=unit, batch="unit")
    assert "请选择派遣单位：没有这个单位或它已停用" in response.content.decode()
    assert Case.objects.get(pk=case.pk).state == "filed"


def test_a_batch_without_ticked_cases_asks_for_them(city, people):
    response = post(client_for(people.dispatcher), unit=str(city.unit.pk), batch="unit")
    assert "请先勾选要派遣的案件" in response.content.decode()


def test_a_case_outside_the_scope_is_not_shown_and_refused(city, people, routed):
    elsewhere = filed(city, people, grid=city.other_grid)
    client = client_for(people.dispatcher)
    assert elsewhere.number not in client.get(URL).content.decode()
    response = post(client, one=f"{elsewhere.number}:{elsewhere.version}")
    assert outcomes(response) == {elsewhere.number: "refused"}
    assert "案件不在您的管辖范围内" in response.content.decode()
    assert Case.objects.get(pk=elsewhere.pk).state == "filed"


def test_a_shift_lead_sees_the_screen_but_dispatching_is_the_dispatchers(city, people, routed):
    case = filed(city, people)
    client = client_for(people.shift_lead)
    page = client.get(URL).content.decode()
    assert numbers_on(page) == [case.number]
    assert "派遣由派遣员操作" in page and 'name="one"' not in page
    response = post(client, one=f"{case.number}:{case.version}")
    assert outcomes(response) == {case.number: "refused"}
    assert "您的角色不能进行这个操作" in response.content.decode()


def test_an_unknown_case_number_is_refused_in_chinese(city, people):
    response = post(client_for(people.dispatcher), one="2026000000001:1")
    assert outcomes(response) == {"2026000000001": "refused"}
    assert "没有这个案件" in response.content.decode()


def test_a_post_without_a_token_changes_nothing(city, people, routed):
    case = filed(city, people)
    response = client_for(people.dispatcher).post(URL, {"one": f"{case.number}:{case.version}"})
    assert response.status_code == 302 and response["Location"] == URL
    assert Case.objects.get(pk=case.pk).state == "filed"


def test_the_form_is_protected_against_cross_site_posts(city, people, routed):
    case = filed(city, people)
    client = Client(enforce_csrf_checks=True)
    client.force_login(people.dispatcher)
    response = client.post(URL, {"token": "x", "one": f"{case.number}:{case.version}"})
    assert response.status_code == 403
    assert Case.objects.get(pk=case.pk).state == "filed"


def _queries_for_page(client, expected_rows) -> int:
    client.get(URL)  # warm the per-process caches
    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL)
    assert len(numbers_on(response.content.decode())) == expected_rows
    return len(queries)


def test_the_page_takes_the_same_few_queries_for_few_or_many_cases_and_units(city, people, routed):
    client = client_for(people.dispatcher)
    for _ in range(2):
        filed(city, people)
    few = _queries_for_page(client, 2)
    for i in range(12):
        filed(city, people)
        Unit.objects.create(code=f"U-{i}", name=f"单位{i}", kind="department", level="district")
    many = _queries_for_page(client, 14)
    assert few == many <= QUERY_BUDGET
