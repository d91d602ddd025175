"""The unit workspace in Chromium: a unit handler logs in, sees 新派遣 with its count, opens
the workspace, sees the month's figures and the chart, switches to English and back; and
the console pages fit a 1366×768 screen and a 768×1024 tablet, with labelled controls and
visible keyboard focus."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from citykeeper.services import cases as case_service
from citykeeper.services.calendar import seed_calendar
from citykeeper.services.cases import MoveInput
from tests.factories import make_city, make_personas, report_case

SCREENS = [{"width": 1366, "height": 768}, {"width": 768, "height": 1024}]

# Every visible form control has a name a screen reader can read: a <label>, aria-label or,
# for a button, its text.
UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea, button')]
  .filter(el => el.type !== 'hidden' && el.offsetParent !== null)
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                && !(el.tagName === 'BUTTON' && el.textContent.trim()))
  .map(el => el.outerHTML)"""


def dispatch(city, people, at):
    case = report_case(city, people, at=at)
    case = case_service.accept(case.number, actor=people.operator, version=case.version, at=at)
    case = case_service.file(
        case.number, actor=people.shift_lead, version=case.version, at=at, data=MoveInput(condition=city.condition)
    )
    return case_service.dispatch(
        case.number, actor=people.dispatcher, version=case.version, at=at, data=MoveInput(unit=city.unit)
    )


@pytest.fixture
def unit_city(transactional_db):
    city = make_city()
    seed_calendar([timezone.localdate().year, timezone.localdate().year + 1])
    people = make_personas(city)
    # Two dispatches this month (early on the 1st, so both are in it whatever today is): one new,
    # one received and disposed.
    start = timezone.make_aware(dt.datetime.combine(timezone.localdate().replace(day=1), dt.time(0, 5)))
    new = dispatch(city, people, start)
    done = dispatch(city, people, start + dt.timedelta(minutes=1))
    done = case_service.receive(
        done.number, actor=people.handler, version=done.version, at=start + dt.timedelta(minutes=2)
    )
    case_service.dispose(
        done.number,
        actor=people.handler,
        version=done.version,
        at=start + dt.timedelta(minutes=3),
        data=MoveInput(reason="已处理完毕"),
    )
    return city, people, new


def log_in(page, url, username):
    page.goto(url)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f"pw-{username}")
    page.click("form.card button[type=submit]")


def fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_the_unit_handler_works_through_the_workspace(live_server, page, unit_city):
    _city, _people, new = unit_city
    page.set_viewport_size(SCREENS[0])
    log_in(page, f"{live_server.url}/console/", "handler")
    page.wait_for_url("**/console/queues/unit_new/")
    assert page.inner_text("h1") == "新派遣（待签收）"
    assert page.inner_text("[data-count=unit_new]") == "1"
    assert page.locator(f"tr[data-number='{new.number}']").count() == 1
    page.goto(f"{live_server.url}/console/unit/")
    assert page.inner_text("h1").startswith("鼓楼区市政所")
    assert page.inner_text("[data-unit-count=unit_new]") == "1"
    today = timezone.localdate()
    assert page.inner_text("#unit-month-title") == f"{today.year} 年 {today.month} 月"
    assert page.inner_text("tr[data-figure=dispatched] td.now") == "2"
    assert page.inner_text("tr[data-figure=disposed] td.now") == "1"
    assert page.inner_text("strong[data-figure=rate]") == "100.0%"
    # The chart is drawn on a canvas by the vendored ECharts.
    page.wait_for_selector("#unit-chart[data-ready=true] canvas")
    assert page.locator("#unit-chart canvas").first.bounding_box()["height"] > 200
    assert fits(page)
    # The month's queue card leads to the queue.
    page.click("a[data-unit-queue=unit_new]")
    page.wait_for_url("**/console/queues/unit_new/")
    page.go_back()
    # English and back, on the same page.
    page.click("button[name=language][value=en]")
    page.wait_for_function("document.documentElement.lang === 'en'")
    assert page.url.endswith("/console/unit/")
    assert "Log out" in page.inner_text("header")
    page.click("button[name=language][value=zh-hans]")
    page.wait_for_function("document.documentElement.lang === 'zh-hans'")
    assert page.url.endswith("/console/unit/") and "退出" in page.inner_text("header")


@pytest.mark.parametrize("screen", SCREENS, ids=["1366x768", "768x1024"])
def test_the_console_pages_fit_the_screen_with_labels_and_visible_focus(screen, live_server, page, unit_city):
    page.set_viewport_size(screen)
    log_in(page, f"{live_server.url}/login/?next=/console/unit/", "handler")
    page.wait_for_url("**/console/unit/")
    for url in ("/console/queues/unit_new/", "/console/unit/", "/console/unit/?month=2000-13"):
        page.goto(f"{live_server.url}{url}")
        assert fits(page), url
        assert page.evaluate(UNLABELLED) == [], url
    # The first Tab shows the skip link; following it moves to the main content.
    page.goto(f"{live_server.url}/console/unit/")
    page.keyboard.press("Tab")
    skip = page.locator(".skip-link")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    assert skip.bounding_box()["y"] >= 0
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    # Keyboard focus on a control is outlined.
    page.focus("#unit-month")
    page.keyboard.press("Tab")
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineWidth") == "3px"


def test_the_operators_queue_page_fits_a_tablet(live_server, page, unit_city):
    city, people, _new = unit_city
    for minutes in range(5):
        report_case(
            city, people, at=timezone.now() - dt.timedelta(minutes=minutes + 1), address="黄河路与中山北路交叉口东北角"
        )
    page.set_viewport_size(SCREENS[1])
    log_in(page, f"{live_server.url}/console/", "operator")
    page.wait_for_url("**/console/queues/reported/")
    assert page.locator("tbody tr").count() == 5
    assert fits(page)
    assert page.evaluate(UNLABELLED) == []
