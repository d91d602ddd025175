"""The work queues in Chromium: the operator logs in, opens the console, sees the 待受理 count
and the rows, filters by source, and an overdue case wears a red badge."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from citykeeper.services.calendar import seed_calendar
from citykeeper.store.models import Case
from tests.factories import make_city, make_personas, report_case


@pytest.fixture
def queue_city(transactional_db):
    city = make_city()
    seed_calendar([timezone.localdate().year, timezone.localdate().year + 1])
    people = make_personas(city)
    now = timezone.now()
    by_inspector = report_case(city, people, at=now - dt.timedelta(minutes=5), description="井盖破损")
    by_phone = report_case(city, people, source="hotline", at=now - dt.timedelta(minutes=3), description="井盖缺失")
    late = report_case(city, people, at=now - dt.timedelta(hours=4), description="井盖松动")
    Case.objects.filter(pk=late.pk).update(
        stage_deadline_at=now - dt.timedelta(hours=3), stage_overdue=True, stage_warned=True
    )
    return city, people, by_inspector, by_phone, late


def test_the_operator_works_the_queue_in_a_browser(live_server, page, queue_city):
    _city, _people, by_inspector, by_phone, late = queue_city
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{live_server.url}/console/")
    assert "/login/" in page.url
    page.fill("input[name=username]", "operator")
    page.fill("input[name=password]", "pw-operator")
    page.click("button[type=submit]")
    page.wait_for_url("**/console/queues/reported/")
    assert page.inner_text("h1") == "待受理"
    assert page.inner_text("[data-count=reported]") == "3"
    assert page.locator("tbody tr").count() == 3
    # The most urgent first, and it is red.
    first = page.locator("tbody tr").first
    assert first.get_attribute("data-number") == late.number
    badge = first.locator(".sla")
    assert "overdue" in badge.get_attribute("class") and badge.inner_text().startswith("超时 3 小时")
    color = badge.evaluate("el => getComputedStyle(el).color")
    assert color == "rgb(171, 9, 30)"
    # Filter by source with the form.
    page.select_option("select[name=source]", "hotline")
    page.click(".filters button[type=submit]")
    page.wait_for_url("**source=hotline**")
    rows = page.locator("tbody tr")
    assert rows.count() == 1 and rows.first.get_attribute("data-number") == by_phone.number
    assert page.input_value("select[name=source]") == "hotline"
    assert by_inspector.number not in page.inner_text("table")
    # The table fits the 1366 px screen without a horizontal scroll bar.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
