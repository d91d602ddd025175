"""The citizen portal in Chromium on a phone-sized screen: pick a category, pin the place on the
map (or use the phone's position), attach a photo, submit, keep the link, follow the case, and
find it on the public map."""

from __future__ import annotations

import datetime as dt
import io

import pytest

from citykeeper.services import follow
from citykeeper.store.models import Attachment, Case
from citykeeper.web import portal
from tests.factories import MONDAY_9AM, close_case, make_city, make_personas, map_city

PHONE = {"width": 390, "height": 844}


def _jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (320, 240), (180, 40, 40)).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def portal_world(transactional_db, settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = tmp_path / "media"
    # The portal's clock on a working Monday the test city's calendar knows.
    monkeypatch.setattr(portal, "_now", lambda: MONDAY_9AM)
    city = map_city(make_city())
    return city, make_personas(city)


@pytest.fixture
def portal_city(portal_world):
    return portal_world[0]


@pytest.fixture
def closed_case(portal_world):
    """A portal report walked to 结案 the morning before, and its private link."""
    city, people = portal_world
    case, token = follow.report(
        actor=None,
        category=city.category,
        area=city.grid,
        lon=117.175,
        lat=34.255,
        at=MONDAY_9AM - dt.timedelta(hours=1),
        description="垃圾桶满了没人清",
    )
    return close_case(city, people, case, at=MONDAY_9AM - dt.timedelta(minutes=50)), token


def phone_page(browser, **options):
    context = browser.new_context(
        locale="zh-CN", viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, **options
    )
    return context, context.new_page()


@pytest.fixture
def phone(browser):
    context, page = phone_page(browser)
    yield page
    context.close()


def test_a_citizen_reports_with_a_photo_and_a_pin_then_follows_the_case(live_server, phone, portal_city):
    page = phone
    page.goto(f"{live_server.url}/report/")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # no sideways scrolling

    page.fill("#category-filter", "井盖")
    assert page.input_value("#id_category") == str(portal_city.category.pk)  # the only match is chosen

    box = page.locator("#pin-map").bounding_box()
    # A quarter in from the left of a map fitted to 117.17–117.19 E: the western grid.
    page.locator("#pin-map").click(position={"x": box["width"] * 0.3, "y": box["height"] * 0.5})
    page.wait_for_selector("#pin-status.p-ok")
    assert "已选位置" in page.inner_text("#pin-status")
    lon, lat = float(page.input_value("#id_lon")), float(page.input_value("#id_lat"))
    assert 117.17 < lon < 117.18 and 34.25 < lat < 34.26

    page.fill("#id_description", "人行道上的井盖缺了一角，晚上很危险")
    page.set_input_files("#id_photos", files=[{"name": "manhole.jpg", "mimeType": "image/jpeg", "buffer": _jpeg()}])
    page.wait_for_selector("#photo-previews img")
    page.click("#submit-report")
    page.wait_for_url("**/report/thanks/**")

    number = page.inner_text("#case-number").strip()
    link = page.input_value("#track-link")
    case = Case.objects.get(number=number)
    assert (case.source, case.reporter_name, case.reporter_phone) == ("web", "", "")
    assert case.description == "人行道上的井盖缺了一角，晚上很危险"
    assert case.area.code == portal_city.grid.code and Attachment.objects.filter(case=case).count() == 1
    assert link.startswith(live_server.url + "/track/")
    page.click("[data-copy]")
    page.wait_for_function("document.querySelector('[data-copy]').textContent.trim() !== '复制链接'")

    page.click("#open-track")
    page.wait_for_url(link)
    assert number in page.inner_text("#case-number")
    assert page.inner_text("#case-state") == "已收到，等待受理"
    assert "已收到您的反映" in page.inner_text("#timeline")
    page.wait_for_function(
        "document.querySelector('#timeline img') && document.querySelector('#timeline img').complete"
    )
    assert page.evaluate("document.querySelector('#timeline img').naturalWidth") > 0

    page.goto(f"{live_server.url}/map/")
    page.wait_for_selector("path.p-case")
    assert page.locator("path.p-case").count() == 1
    assert number in page.text_content("#cases-list")
    page.locator("path.p-case").click()
    popup = page.wait_for_selector(".p-popup")
    assert "污水井盖" in popup.inner_text() and "已收到，等待受理" in popup.inner_text()


def test_the_phones_position_places_the_pin_and_a_place_outside_the_city_is_refused(live_server, browser, portal_city):
    inside = {"longitude": 117.185, "latitude": 34.2555}
    context, page = phone_page(browser, geolocation=inside, permissions=["geolocation"])
    try:
        page.goto(f"{live_server.url}/report/")
        page.click("#locate-me")
        page.wait_for_selector("#pin-status.p-ok")
        assert (page.input_value("#id_lon"), page.input_value("#id_lat")) == ("117.185000", "34.255500")

        context.set_geolocation({"longitude": 117.30, "latitude": 34.40})  # outside every grid
        page.click("#locate-me")
        page.wait_for_selector("#pin-status.p-error")
        assert "不在本市城市管理网格范围内" in page.inner_text("#pin-status")
        page.select_option("#id_category", str(portal_city.category.pk))
        page.fill("#id_description", "路灯不亮")
        page.click("#submit-report")
        page.wait_for_selector("#form-errors")
        assert "问题位置" in page.inner_text("#form-errors")
        assert "不在本市城市管理网格范围内" in page.inner_text("#form-errors")
        assert not Case.objects.exists()
    finally:
        context.close()


def test_the_reporter_rates_the_result_and_says_it_is_not_fixed(live_server, phone, closed_case):
    case, token = closed_case
    page = phone
    page.goto(f"{live_server.url}/track/{token}/")
    assert page.inner_text("#case-state") == "已办结"
    page.click("label[for=star-2]")
    page.fill("#rate-remark", "只清了一半")
    with page.expect_navigation():
        page.click("#rate button[type=submit]")
    assert "谢谢您的评价" in page.inner_text(".p-messages")
    assert "您已评价：2 星" in page.inner_text("#rating-given")

    page.fill("#reopen-reason", "第二天又满了，还有异味")
    with page.expect_navigation():
        page.click("#reopen button[type=submit]")
    assert "监督中心会重新核查" in page.inner_text(".p-messages")
    assert page.inner_text("#case-state") == "市民反映未解决，正在复查"
    case.refresh_from_db()
    assert case.state == "reopened"
    assert list(case.events.filter(kind__in=["rate", "reopen"]).values_list("kind", "reason")) == [
        ("rate", "只清了一半"),
        ("reopen", "第二天又满了，还有异味"),
    ]


def test_a_second_reporter_is_shown_the_open_case_nearby_before_saving(live_server, phone, portal_world):
    city, _people = portal_world
    page = phone
    page.goto(f"{live_server.url}/report/")
    box = page.locator("#pin-map").bounding_box()
    page.locator("#pin-map").click(position={"x": box["width"] * 0.3, "y": box["height"] * 0.5})
    page.wait_for_selector("#pin-status.p-ok")
    lon, lat = float(page.input_value("#id_lon")), float(page.input_value("#id_lat"))
    earlier, _token = follow.report(
        actor=None,
        category=city.category,
        area=city.grid,
        lon=lon + 0.0001,
        lat=lat,
        at=MONDAY_9AM - dt.timedelta(hours=2),
        description="井盖缺失",
    )
    assert page.is_hidden("#nearby")
    page.select_option("#id_category", str(city.category.pk))
    page.wait_for_selector("#nearby:not([hidden])")
    assert earlier.number in page.inner_text("#nearby-list")
