"""One case walked through its whole lifecycle in Chromium, each persona logging in and out:
the inspector reports on the handset, the operator accepts, the shift lead files, the
dispatcher dispatches, the unit receives and disposes with a photo, the operator sends the
check, the inspector passes it on the handset, and the shift lead closes. Then a returned, an
extended and a reworked case, each decided on the console's case page.

With ``CITYKEEPER_SCREENSHOTS=<dir>`` (``make screenshots``) every role's queue and the case page
are saved there as PNG files."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from citykeeper.services import cases as case_service
from citykeeper.services.cases import MoveInput
from citykeeper.store.models import Case, CaseEvent
from tests.e2e.test_inspector_app import fill_report, open_app, photo
from tests.factories import report_case

TIMEOUT = 15_000
SHOTS = os.environ.get("CITYKEEPER_SCREENSHOTS", "")


@pytest.fixture
def desk(browser):
    """A 1366×768 office screen."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 768})
    context.set_default_timeout(TIMEOUT)
    yield context
    context.close()


def shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def log_in(context, live_server, username: str):
    page = context.new_page()
    page.goto(f"{live_server.url}/console/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f"pw-{username}")
    page.click("button[type=submit]")
    page.wait_for_url("**/console/queues/**")
    return page


def log_out(page) -> None:
    page.click("header.bar form[action='/logout/'] button")
    page.wait_for_url("**/")
    page.close()


def open_from_queue(page, slug: str, number: str, *, shot_name: str = "") -> None:
    page.click(f".queues a[data-queue={slug}]")
    page.wait_for_url(f"**/console/queues/{slug}/")
    row = page.locator(f"tr[data-number='{number}']")
    expect(row).to_be_visible()
    if shot_name:
        shot(page, shot_name)
    row.locator("td.number a").click()
    page.wait_for_url(f"**/console/cases/{number}/**")


def take(page, action: str, *, fill: dict | None = None, select: dict | None = None, files=None, key: str = ""):
    """Open an action's form (by its shortcut key when given), fill it in and send it."""
    if key:
        page.keyboard.press(key)
    else:
        page.click(f"details.act[data-action={action}] > summary")
    form = page.locator(f"details.act[data-action={action}] form")
    expect(form).to_be_visible()
    for name, value in (select or {}).items():
        form.locator(f"[name={name}]").select_option(value)
    for name, value in (fill or {}).items():
        form.locator(f"[name={name}]").fill(value)
    if files:
        form.locator("input[name=photos]").set_input_files(files)
    form.locator("button[type=submit]").click()
    expect(page.locator(".messages .success")).to_be_visible()


def state_of(number: str) -> str:
    return Case.objects.get(number=number).state


def test_one_case_walks_the_whole_lifecycle_through_the_console(live_server, browser, desk, field_city):
    city, _people = field_city
    handset = browser.new_context(
        locale="zh-CN",
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        geolocation={"latitude": 34.255, "longitude": 117.175},
        permissions=["geolocation"],
    )
    handset.set_default_timeout(TIMEOUT)
    # The inspector reports on the handset, proposing the filing condition.
    phone = open_app(handset, live_server)
    fill_report(phone, city, photos=1, condition=city.condition)
    phone.click("#submit")
    expect(phone.locator("#form-msg")).to_contain_text("案卷号")
    number = phone.inner_text("#form-msg").rsplit("：", 1)[1].strip()
    assert state_of(number) == "reported"

    # The operator accepts it from the 待受理 queue, with the keyboard.
    page = log_in(desk, live_server, "operator")
    open_from_queue(page, "reported", number, shot_name="queue-operator")
    shot(page, "case-reported")
    take(page, "accept", key="a")
    assert state_of(number) == "accepted"
    log_out(page)

    # The shift lead files it: the inspector's proposed condition is already chosen.
    page = log_in(desk, live_server, "shiftlead")
    open_from_queue(page, "accepted", number, shot_name="queue-shift-lead")
    take(page, "file", key="f")
    assert state_of(number) == "filed"
    log_out(page)

    # The dispatcher dispatches to the unit.
    page = log_in(desk, live_server, "dispatcher")
    open_from_queue(page, "filed", number, shot_name="queue-dispatcher")
    take(page, "dispatch", select={"unit": str(city.unit.pk)})
    assert state_of(number) == "dispatched"
    log_out(page)

    # The unit receives it and reports what it did, with a photo.
    page = log_in(desk, live_server, "handler")
    open_from_queue(page, "unit_new", number, shot_name="queue-unit")
    take(page, "receive", key="s")
    take(page, "dispose", fill={"reason": "已更换井盖"}, files=[photo("done.jpg", colour=(250, 250, 0))])
    assert state_of(number) == "disposed"
    log_out(page)

    # The operator sends the inspector to check.
    page = log_in(desk, live_server, "operator")
    open_from_queue(page, "disposed", number)
    take(page, "send_check", select={"assignee": "inspector"})
    assert state_of(number) == "checking"
    log_out(page)

    # The inspector passes the check on the handset.
    phone.click("#nav-tasks")
    phone.click(f"#task-list li[data-number='{number}'] button")
    phone.check("#check-choice input[value=true]")
    phone.set_input_files("#task-photo-input", files=[photo("fixed.jpg", colour=(0, 160, 0))])
    expect(phone.locator("#task-photos li")).to_have_count(1)
    phone.click("#task-submit")
    expect(phone.locator("#outbox-list li[data-state=done]")).to_have_count(1)
    assert state_of(number) == "checked"
    handset.close()

    # The shift lead closes it, confirming the question.
    page = log_in(desk, live_server, "shiftlead")
    open_from_queue(page, "checked", number)
    page.once("dialog", lambda dialog: dialog.accept())
    take(page, "close", key="c")
    assert state_of(number) == "closed"
    expect(page.locator(".casehead .state")).to_have_attribute("data-state", "closed")
    kinds = list(CaseEvent.objects.filter(case__number=number).order_by("seq").values_list("kind", flat=True))
    assert kinds == ["report", "accept", "file", "dispatch", "receive", "dispose", "send_check", "check_pass", "close"]
    expect(page.locator(".timeline tbody tr")).to_have_count(len(kinds))
    # Before and after, side by side: the report's photo and the unit's and the check's.
    expect(page.locator(".photos > div").nth(0).locator("img")).to_have_count(1)
    expect(page.locator(".photos > div").nth(1).locator("img")).to_have_count(2)
    shot(page, "case-closed")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def _dispatched(city, people, description: str) -> Case:
    now = timezone.now() - dt.timedelta(minutes=30)
    case = report_case(city, people, at=now, description=description)
    for verb, actor, data in [
        (case_service.accept, people.operator, MoveInput()),
        (case_service.file, people.shift_lead, MoveInput(condition=city.condition)),
        (case_service.dispatch, people.dispatcher, MoveInput(unit=city.unit)),
    ]:
        now += dt.timedelta(minutes=1)
        case = verb(case.number, actor=actor, version=case.version, at=now, data=data)
    return case


def test_a_return_an_extension_and_a_rework_are_decided_on_the_case_page(live_server, desk, field_city):
    city, people = field_city
    returned = _dispatched(city, people, "占道经营，不属本单位")
    extended = _dispatched(city, people, "路面塌陷，需要多天施工")
    reworked = _dispatched(city, people, "井盖破损")

    # The unit asks: return one, extend another (in the console, with reasons).
    page = log_in(desk, live_server, "handler")
    page.goto(f"{live_server.url}/console/cases/{returned.number}/")
    take(page, "request_return", fill={"reason": "属市场监管部门职责"}, key="t")
    page.goto(f"{live_server.url}/console/cases/{extended.number}/")
    take(page, "request_extension", fill={"extension_value": "3", "reason": "需要封路施工"}, key="e")
    shot(page, "case-extension-requested")
    log_out(page)
    assert state_of(returned.number) == "return_requested"
    before = Case.objects.get(number=extended.number).stage_deadline_at

    # The dispatcher approves both from the 待审批 queue.
    page = log_in(desk, live_server, "dispatcher")
    open_from_queue(page, "requests", returned.number, shot_name="queue-requests")
    expect(page.locator(".timeline")).to_contain_text("属市场监管部门职责")
    take(page, "approve_return", key="y")
    page.goto(f"{live_server.url}/console/cases/{extended.number}/")
    take(page, "approve_extension", key="y")
    log_out(page)
    assert state_of(returned.number) == "filed"  # back to the dispatcher, to dispatch again
    after = Case.objects.get(number=extended.number)
    assert after.state == "dispatched" and after.stage_deadline_at > before

    # The reworked case: disposed, checked and failed; the shift lead orders rework.
    now = timezone.now() - dt.timedelta(minutes=10)
    case = reworked
    for verb, actor, data in [
        (case_service.dispose, people.handler, MoveInput(reason="已处理")),
        (case_service.send_check, people.operator, MoveInput(assignee=people.inspector)),
        (case_service.check_fail, people.inspector, MoveInput(reason="井盖仍松动")),
    ]:
        now += dt.timedelta(minutes=1)
        case = verb(case.number, actor=actor, version=case.version, at=now, data=data)
    page = log_in(desk, live_server, "shiftlead")
    open_from_queue(page, "check_failed", case.number)
    take(page, "rework", key="w")
    log_out(page)
    case.refresh_from_db()
    assert case.state == "dispatched" and case.rework_count == 1 and case.received_at is None

    # The unit sees it again in 返工.
    page = log_in(desk, live_server, "handler")
    expect(page.locator("[data-count=unit_rework]")).to_have_text("1")
    log_out(page)


def test_a_draft_survives_an_expired_session(live_server, desk, field_city):
    city, people = field_city
    case = report_case(city, people, at=timezone.now() - dt.timedelta(minutes=5))
    page = log_in(desk, live_server, "operator")
    page.goto(f"{live_server.url}/console/cases/{case.number}/")
    page.keyboard.press("x")
    page.fill("details.act[data-action=reject] textarea[name=reason]", "不属于城管职责，已告知市民拨打 12345")
    desk.clear_cookies(name="sessionid")  # the session ends while the form is open
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("details.act[data-action=reject] button[type=submit]")
    page.wait_for_url("**/login/**")
    expect(page.locator("body")).to_contain_text("登录已过期")
    page.fill("input[name=username]", "operator")
    page.fill("input[name=password]", "pw-operator")
    page.click("button[type=submit]")
    page.wait_for_url(f"**/console/cases/{case.number}/")
    reason = page.locator("details.act[data-action=reject] textarea[name=reason]")
    expect(reason).to_have_value("不属于城管职责，已告知市民拨打 12345")
    expect(page.locator(".restored")).to_be_visible()
    assert state_of(case.number) == "reported"
