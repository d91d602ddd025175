"""The hotline desk in Chromium: log in, find the place from the caller's words, see a possible
duplicate, save with the keyboard, and the case is in the queue with its channel."""

from __future__ import annotations

import pytest
from shapely.geometry import LineString, mapping

from citykeeper.services.calendar import seed_calendar
from citykeeper.store.models import Case, GazetteerEntry
from tests.factories import make_city, make_personas, map_city, report_case


@pytest.fixture
def desk_city(transactional_db):
    from django.utils import timezone

    city = map_city(make_city())
    seed_calendar([timezone.localdate().year, timezone.localdate().year + 1])
    people = make_personas(city)
    for name, line in (
        ("中山北路", LineString([(117.18, 34.251), (117.18, 34.259)])),
        ("黄河路", LineString([(117.171, 34.255), (117.189, 34.255)])),
    ):
        GazetteerEntry.objects.create(kind="road", name=name, geometry=mapping(line), lon=117.18, lat=34.255)
    earlier = report_case(city, people, at=timezone.now())
    earlier.lon, earlier.lat = 117.1801, 34.2551
    earlier.save(update_fields=["lon", "lat"])
    return city, people, earlier


def test_an_operator_takes_a_call_finds_the_place_sees_a_duplicate_and_saves(live_server, page, desk_city):
    city, _people, earlier = desk_city
    page.goto(f"{live_server.url}/desk/")
    assert "/login/" in page.url
    page.fill("input[name=username]", "operator")
    page.fill("input[name=password]", "pw-operator")
    page.click("button[type=submit]")
    page.wait_for_url("**/desk/")
    page.fill("#caller", "王女士")
    page.fill("#phone", "13912345678")
    page.fill("#address", "中山北路与黄河路交叉口")
    page.press("#address", "Enter")
    page.wait_for_selector("#candidates label")
    assert "中山北路与黄河路交叉口" in page.inner_text("#candidates")
    page.select_option("#category", str(city.category.pk))
    page.wait_for_function(f"document.getElementById('duplicates').textContent.includes('{earlier.number}')")
    page.fill("#description", "井盖破损，行人易绊倒")
    page.keyboard.press("Alt+S")
    page.wait_for_selector("#result.ok")
    number = page.inner_text("#result").rsplit("：", 1)[1].strip()
    case = Case.objects.get(number=number)
    assert (case.source, case.reporter_name, case.reporter_phone) == ("hotline", "王女士", "13912345678")
    assert case.address.startswith("中山北路与黄河路交叉口") and case.area.code in (
        "320302001001001",
        "320302001001002",
    )
    assert page.evaluate("document.activeElement.id") == "caller"  # ready for the next call


def test_a_desk_without_a_place_says_so_and_saves_nothing(live_server, page, desk_city):
    page.goto(f"{live_server.url}/login/?next=/desk/")
    page.fill("input[name=username]", "operator")
    page.fill("input[name=password]", "pw-operator")
    page.click("button[type=submit]")
    page.wait_for_url("**/desk/")
    before = Case.objects.count()
    page.fill("#address", "火星路")
    page.press("#address", "Enter")
    page.wait_for_function("document.getElementById('place').textContent.length > 0")
    assert "没有找到该地址" in page.inner_text("#place")
    page.fill("#description", "x")
    page.select_option("#category", index=1)
    page.click("#save")
    page.wait_for_function("document.getElementById('result').textContent.length > 0")
    assert "请先选择事发位置" in page.inner_text("#result")
    assert Case.objects.count() == before


def _login_operator(page, live_server):
    page.goto(f"{live_server.url}/login/?next=/desk/")
    page.fill("input[name=username]", "operator")
    page.fill("input[name=password]", "pw-operator")
    page.click("button[type=submit]")
    page.wait_for_url("**/desk/")


def test_a_caller_with_the_same_problem_is_recorded_and_merged_into_the_open_case(live_server, page, desk_city):
    city, _people, earlier = desk_city
    _login_operator(page, live_server)
    page.fill("#caller", "李先生")
    page.fill("#phone", "13700000000")
    page.fill("#address", "中山北路与黄河路交叉口")
    page.press("#address", "Enter")
    page.wait_for_selector("#candidates label")
    page.select_option("#category", str(city.category.pk))
    page.fill("#description", "井盖松动")
    page.click(f"#duplicates button.merge[data-target='{earlier.number}']")
    page.wait_for_function("document.getElementById('result').textContent.includes('合并')")
    assert "ok" in page.get_attribute("#result", "class")
    merged = Case.objects.exclude(pk=earlier.pk).get()
    assert (merged.state, merged.merged_into_id, merged.reporter_name) == ("merged", earlier.pk, "李先生")


def test_the_desk_lists_due_call_backs_and_records_one_with_a_click(live_server, page, desk_city):
    from tests.factories import close_case

    city, people, _earlier = desk_city
    from django.utils import timezone

    called = report_case(city, people, source="hotline", at=timezone.now(), reporter_phone="13600000000")
    close_case(city, people, called, at=timezone.now())
    _login_operator(page, live_server)
    row = page.locator(f"#callback-rows tr[data-number='{called.number}']")
    row.wait_for()
    row.locator("input.remark").fill("市民表示已修好")
    row.locator("button[data-outcome=satisfied]").click()
    page.wait_for_function("document.getElementById('callback-status').textContent.includes('已记录回访')")
    note = called.events.filter(kind="note").get()
    assert note.data["callback"] == "satisfied" and "市民表示已修好" in note.reason
    page.locator(f"#callback-rows tr[data-number='{called.number}']").wait_for(state="detached")
