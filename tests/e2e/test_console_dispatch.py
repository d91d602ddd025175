"""The dispatch screen in Chromium: a dispatcher logs in, sees the proposed unit with its load,
finds another unit with the search box, ticks two filed cases and sends them there in one
batch; then approves a unit's extension request, which moves its deadline."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from citykeeper.services import cases as case_service
from citykeeper.services.calendar import seed_calendar
from citykeeper.services.cases import MoveInput
from citykeeper.store.models import Case, RoutingRule
from tests.factories import make_city, make_personas, report_case


def _filed(city, people, minutes_ago):
    at = timezone.now() - dt.timedelta(minutes=minutes_ago)
    case = report_case(city, people, at=at)
    case = case_service.accept(case.number, actor=people.operator, version=case.version, at=at)
    return case_service.file(
        case.number, actor=people.shift_lead, version=case.version, at=at, data=MoveInput(condition=city.condition)
    )


@pytest.fixture
def dispatch_city(transactional_db):
    city = make_city()
    seed_calendar([timezone.localdate().year, timezone.localdate().year + 1])
    people = make_personas(city)
    RoutingRule.objects.create(kind="category_default", category=city.category, unit=city.unit)
    first, second = _filed(city, people, 9), _filed(city, people, 8)
    # One case already at 鼓楼区市政所, asking for two more working days.
    asking = _filed(city, people, 30)
    asking = case_service.dispatch(
        asking.number, actor=people.dispatcher, version=asking.version, at=timezone.now(), data=MoveInput()
    )
    asking = case_service.request_extension(
        asking.number,
        actor=people.handler,
        version=asking.version,
        at=timezone.now(),
        data=MoveInput(reason="需采购配件", extension_value=2, extension_unit="work_days"),
    )
    return city, people, first, second, asking


def test_the_dispatcher_batch_dispatches_and_approves_an_extension(live_server, page, dispatch_city):
    city, _people, first, second, asking = dispatch_city
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{live_server.url}/console/dispatch/")
    page.fill("input[name=username]", "dispatcher")
    page.fill("input[name=password]", "pw-dispatcher")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/dispatch/$"))

    # The proposed unit, its load (the case asking for an extension) and the rule behind it.
    row = page.locator(f"tr[data-number='{first.number}']")
    assert "鼓楼区市政所" in row.inner_text()
    assert "在办 1" in row.locator(".proposed .load").inner_text()
    assert "类别默认规则" in row.locator(".routing").inner_text()

    # Tick both, find 云龙区环卫所 by typing, send them there.
    page.check(f"input[name=pick][value^='{first.number}:']")
    page.check(f"input[name=pick][value^='{second.number}:']")
    assert page.inner_text("#picked-count") == "已选 2 件"
    page.fill("#unit-search", "云龙")
    visible = page.locator("#unit-list li:visible")
    assert visible.count() == 1 and "云龙区环卫所" in visible.inner_text()
    page.press("#unit-search", "Enter")  # the only match is picked
    assert page.locator("#unit-list input[type=radio]:checked").count() == 1
    page.click("#batch-unit")
    page.wait_for_url("**/console/dispatch/?result=**")
    result = page.locator("#dispatch-result")
    assert "成功 2 件" in result.inner_text()
    assert result.locator("[data-outcome=dispatched]").count() == 2
    assert page.locator("tbody tr").count() == 0
    assert set(Case.objects.filter(pk__in=[first.pk, second.pk]).values_list("unit_id", flat=True)) == {
        city.other_unit.pk
    }

    # Then the extension request.
    page.click("nav.tabs >> text=审批")
    page.wait_for_url("**/console/approvals/")
    card = page.locator(f"li.request[data-number='{asking.number}']")
    assert "申请延期：2 工作日" in card.inner_text() and "需采购配件" in card.inner_text()
    before = asking.stage_deadline_at
    card.locator("form.approve button").click()
    page.wait_for_url("**/console/approvals/?result=**")
    assert f"案件 {asking.number}：已同意延期。" in page.inner_text("#approval-result")
    asking.refresh_from_db()
    assert asking.state == "dispatched" and asking.stage_deadline_at > before
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
