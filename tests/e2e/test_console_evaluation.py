"""综合评价 in Chromium: an evaluator logs in and lands on last month's ranking, clicks a
figure and sees the cases behind it, saves the run and publishes it, and the public page
shows the published ranking; the pages fit the screen with labelled controls."""

from __future__ import annotations

import pytest

from citykeeper.domain.workflow import Role
from citykeeper.services.calendar import seed_calendar
from citykeeper.web.console import evaluation as evaluation_page
from tests.e2e.test_console_unit import UNLABELLED, fits, log_in
from tests.factories import make_city, make_personas, make_user
from tests.web.test_console_evaluation import NOW, good_month


@pytest.fixture
def october(transactional_db, monkeypatch):
    """鼓楼区市政所's October 2026: five cases, four disposed in time (94.00, A); the console's
    clock is 21 November 2026, so "last month" is October whatever day the test runs."""
    monkeypatch.setattr(evaluation_page, "_now", lambda: NOW)
    city = make_city()
    seed_calendar([2025, 2026, 2027])
    people = make_personas(city)
    good_month(city, people)
    make_user("evaluator", Role.EVALUATOR, area=city.city)
    return city, people


def test_the_evaluator_drills_runs_publishes_and_the_public_sees_it(live_server, page, october):
    page.set_viewport_size({"width": 1366, "height": 768})
    log_in(page, f"{live_server.url}/console/", "evaluator")
    page.wait_for_url("**/console/evaluation/")
    assert "2026年10月" in page.inner_text("h1")
    row = page.locator("tr[data-subject]", has_text="鼓楼区市政所")
    assert row.locator("[data-figure=composite]").inner_text() == "94.00"
    assert fits(page) and page.evaluate(UNLABELLED) == []
    # A figure leads to its cases: 按期处置率 4 of 5.
    row.locator("a[data-figure=on_time_disposal_rate]").click()
    page.wait_for_url("**/console/evaluation/cases/**")
    assert page.inner_text("[data-figure=value]") == "80.00%"
    assert page.inner_text("[data-total=numerator]") == "4" and page.inner_text("[data-total=denominator]") == "5"
    assert page.locator("table[data-side=denominator] tbody tr").count() == 5
    first = page.locator("table[data-side=denominator] tbody tr td.number a").first
    assert first.get_attribute("href").startswith("/console/cases/")
    # Back to the ranking: save it as a run and publish it.
    page.go_back()
    page.click("form.run-form button[type=submit]")
    page.wait_for_url("**/console/evaluation/runs/*/")
    assert "未公布" in page.inner_text("dl.run-facts")
    page.click("form.publish-form button[type=submit]")
    page.wait_for_selector("code[data-snapshot]")
    snapshot = page.inner_text("code[data-snapshot]")
    assert snapshot.startswith("2026-10-unit-v1-")
    # Publishing again keeps the snapshot id.
    page.click("form.publish-form button[type=submit]")
    page.wait_for_selector("code[data-snapshot]")
    assert page.inner_text("code[data-snapshot]") == snapshot
    # The public page, without the console.
    page.click(f"a[href='/evaluation/{snapshot}/']")
    page.wait_for_url(f"**/evaluation/{snapshot}/")
    assert page.inner_text("code[data-snapshot]") == snapshot
    public_row = page.locator("tr[data-subject]", has_text="鼓楼区市政所")
    assert public_row.locator("[data-figure=composite]").inner_text() == "94.00"
    assert page.locator("a[href*='/console/']").count() == 0
    page.goto(f"{live_server.url}/evaluation/")
    assert page.locator(f"li[data-snapshot='{snapshot}']").count() == 1


def test_a_bad_period_is_answered_in_chinese_on_a_page_that_fits(live_server, page, october):
    page.set_viewport_size({"width": 768, "height": 1024})
    log_in(page, f"{live_server.url}/login/?next=/console/evaluation/", "evaluator")
    page.wait_for_url("**/console/evaluation/")
    page.fill("#ev-period", "2026-13")
    page.click("form.evaluation-picker button[type=submit]")
    page.wait_for_selector("[data-problem=period]")
    assert "月份应为 1 到 12" in page.inner_text("[data-problem=period]")
    assert fits(page) and page.evaluate(UNLABELLED) == []
