"""The work queues in Chromium: the operator logs in, opens the console, sees the 待受理 count
and the rows, filters by source, and an overdue case wears a red badge; a new urgent case
shows up (count, highlighted row, cue) without a reload."""

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


def test_a_new_urgent_case_appears_without_a_reload(live_server, page, queue_city):
    city, people, _by_inspector, _by_phone, _late = queue_city
    live = []
    page.on("response", lambda r: live.append(r.status) if "/live/" in r.url else None)
    page.goto(f"{live_server.url}/login/?next=/console/queues/reported/%3Fpoll%3D1")
    page.fill("input[name=username]", "operator")
    page.fill("input[name=password]", "pw-operator")
    page.click("button[type=submit]")
    page.wait_for_url("**/console/queues/reported/?poll=1")
    assert page.get_attribute("#queue-rows", "hx-trigger") == "every 1s"
    assert page.inner_text("[data-count=reported]") == "3"
    page.evaluate("window.stillTheSamePage = true")
    # Nothing changed yet: the polls are answered 304 and the page stays as it is.
    for _ in range(50):
        if 304 in live:
            break
        page.wait_for_timeout(100)
    assert 304 in live and 200 not in live
    assert page.locator("tbody tr").count() == 3 and page.locator("tr.fresh").count() == 0
    assert page.inner_text("#queue-cue") == ""

    urgent = report_case(city, people, urgent=True, at=timezone.now(), description="井盖缺失，车辆危险")
    page.wait_for_selector(f'tr.fresh[data-number="{urgent.number}"]', timeout=10_000)
    assert page.inner_text("[data-count=reported]") == "4"
    assert page.locator("tbody tr").count() == 4
    assert page.inner_text("#queue-cue") == f"有新的紧急案件 {urgent.number}"
    assert page.locator("tr.fresh").count() == 1  # the rows that were there before are not flagged
    assert page.evaluate("window.stillTheSamePage === true")
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    assert 200 in live


def test_the_badges_count_down_in_the_browser_while_the_polls_stay_304(live_server, page, queue_city):
    _city, _people, by_inspector, _by_phone, _late = queue_city
    soon = timezone.now() + dt.timedelta(minutes=30)
    Case.objects.filter(pk=by_inspector.pk).update(stage_deadline_at=soon, stage_warn_at=soon - dt.timedelta(minutes=5))
    live = []
    page.on("response", lambda r: live.append(r.status) if "/live/" in r.url else None)
    page.clock.install()
    page.goto(f"{live_server.url}/login/?next=/console/queues/reported/")
    page.fill("input[name=username]", "operator")
    page.fill("input[name=password]", "pw-operator")
    page.click("button[type=submit]")
    page.wait_for_url("**/console/queues/reported/")
    badge = page.locator(f'tr[data-number="{by_inspector.number}"] .sla')
    assert badge.inner_text() in ("剩 29 分", "剩 30 分") and "ok" in badge.get_attribute("class")
    # Twelve minutes later in the browser: the text has moved, the row was not fetched again.
    page.clock.run_for("12:00")
    page.wait_for_function(
        f"document.querySelector('tr[data-number=\"{by_inspector.number}\"] .sla').textContent.startsWith('剩 1')"
    )
    assert badge.inner_text() in ("剩 17 分", "剩 18 分")
    for _ in range(50):
        if live:
            break
        page.wait_for_timeout(100)
    assert 304 in live and 200 not in live
    # Past the deadline the badge turns red and counts up, before the server says so.
    page.clock.run_for("20:00")
    page.wait_for_function(
        f"document.querySelector('tr[data-number=\"{by_inspector.number}\"] .sla').classList.contains('overdue')"
    )
    assert badge.inner_text().startswith("超时 ")
