"""The inspector handset app (城管通) in Chromium, on a phone-sized screen with GPS: report with
a photo, report offline and send when the network returns, survive a lost answer without a
second case, answer a verify task, record a self-disposed case, and stop on a refusal."""

from __future__ import annotations

import io
import json
import re
from email import policy
from email.parser import BytesParser

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image
from playwright.sync_api import expect

from citykeeper.services import attachments
from citykeeper.services import cases as case_service
from citykeeper.store.models import Attachment, Case, CaseEvent, Category
from tests.factories import report_case

# Inside the west unit grid of map_city (117.17–117.18 E, 34.25–34.26 N).
WEST_GRID = "320302001001001"
HERE = {"latitude": 34.255, "longitude": 117.175}
TIMEOUT = 15_000  # ms; every wait ends as soon as its condition holds


def jpeg(width: int = 640, height: int = 480, colour=(200, 60, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "JPEG", quality=90)
    return out.getvalue()


def photo(name: str, width: int = 640, height: int = 480, colour=(200, 60, 40)) -> dict:
    return {"name": name, "mimeType": "image/jpeg", "buffer": jpeg(width, height, colour)}


@pytest.fixture
def handset(browser):
    context = browser.new_context(
        locale="zh-CN",
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        geolocation=HERE,
        permissions=["geolocation"],
    )
    context.set_default_timeout(TIMEOUT)
    yield context
    context.close()


def open_app(context, live_server):
    page = context.new_page()
    page.goto(f"{live_server.url}/m/")
    assert "/login/" in page.url
    page.fill("input[name=username]", "inspector")
    page.fill("input[name=password]", "pw-inspector")
    page.click("button[type=submit]")
    page.wait_for_url("**/m/")
    return page


def fill_report(page, city, *, photos=1, condition=None):
    """Category by search, the GPS place located, photos, a phrase and a description."""
    page.fill("#cat-search", "井盖")
    page.click(f"#cat-list button[data-category='{city.category.pk}']")
    expect(page.locator("#cat-chosen-text")).to_contain_text("污水井盖")
    if condition is not None:
        page.check(f"input[name=condition][value='{condition.pk}']")
    expect(page.locator("#place")).to_contain_text(WEST_GRID)
    page.set_input_files("#photo-input", files=[photo(f"p{i}.jpg", colour=(40 * i, 90, 200)) for i in range(photos)])
    expect(page.locator("#photos li")).to_have_count(photos)
    page.click("#phrases button:text('存在安全隐患')")
    page.fill("#description", page.input_value("#description") + "，雨水井盖破损")


def outbox_item(page, state: str):
    page.click("#nav-outbox")
    return page.locator(f"#outbox-list li[data-state={state}]")


def test_an_inspector_reports_with_a_photo_compressed_on_the_phone(live_server, handset, field_city):
    city, people = field_city
    page = open_app(handset, live_server)
    expect(page.locator(".top .who")).to_have_text("inspector")
    fill_report(page, city, photos=0, condition=city.urgent_condition)
    expect(page.locator("#urgent")).to_be_checked()  # the urgent filing condition marks it urgent
    page.set_input_files("#photo-input", files=[photo("big.jpg", 3200, 2400)])
    expect(page.locator("#photos li")).to_have_count(1)
    page.click("#submit")
    expect(page.locator("#form-msg")).to_contain_text("案卷号")
    number = page.inner_text("#form-msg").rsplit("：", 1)[1].strip()
    case = Case.objects.get(number=number)
    assert (case.source, case.reporter, case.area.code, case.urgent) == ("inspector", people.inspector, WEST_GRID, True)
    assert case.description == "存在安全隐患，雨水井盖破损"
    assert case.condition == city.urgent_condition  # the inspector's proposal, for the shift lead to confirm
    assert abs(case.lon - HERE["longitude"]) < 1e-6 and abs(case.lat - HERE["latitude"]) < 1e-6
    assert case.address  # written by the server from the point
    report = CaseEvent.objects.get(case=case, kind="report")
    assert len(report.attachments) == 1
    stored = Attachment.objects.get(pk=report.attachments[0]["id"])
    assert stored.content_type == "image/jpeg" and (stored.width, stored.height) == (1600, 1200)
    expect(outbox_item(page, "sent").locator(".number")).to_contain_text(number)
    # the form is ready for the next report
    page.click("#nav-report")
    expect(page.locator("#photos li")).to_have_count(0)
    expect(page.locator("#cat-picker")).to_be_visible()
    page.click("#logout button")  # nothing unsent: no question asked
    page.wait_for_url(f"{live_server.url}/")
    assert "/login/" in page.goto(f"{live_server.url}/m/").url


def test_a_report_made_offline_waits_on_the_phone_and_goes_when_the_network_returns(live_server, handset, field_city):
    city, _people = field_city
    page = open_app(handset, live_server)
    fill_report(page, city, photos=2)
    handset.set_offline(True)
    expect(page.locator("#net")).to_have_text("离线")
    page.click("#submit")
    expect(page.locator("#form-msg")).to_contain_text("联网后自动发送")
    expect(page.locator("#outbox-count")).to_have_text("1")
    queued = outbox_item(page, "pending")
    expect(queued).to_have_count(1)
    expect(queued.locator(".state")).to_have_text("待发送")
    assert Case.objects.count() == 0
    handset.set_offline(False)
    sent = page.locator("#outbox-list li[data-state=sent]")
    expect(sent).to_have_count(1, timeout=TIMEOUT)
    expect(page.locator("#outbox-count")).to_be_hidden()
    case = Case.objects.get()
    expect(sent.locator(".number")).to_contain_text(case.number)
    assert len(CaseEvent.objects.get(case=case, kind="report").attachments) == 2


def parts(request) -> list[tuple[str, bytes]]:
    """(field name, bytes) of each part of a multipart request, in order."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = BytesParser(policy=policy.HTTP).parsebytes(head + request.post_data_buffer)
    return [
        (part.get_param("name", header="content-disposition"), part.get_payload(decode=True))
        for part in message.iter_parts()
    ]


def test_a_lost_answer_is_retried_and_gives_the_same_case(live_server, handset, field_city):
    city, _people = field_city
    page = open_app(handset, live_server)
    fill_report(page, city, photos=2)
    sent = []

    def lose_the_first_answer(route):
        sent.append(route.request)
        if len(sent) > 1:
            route.continue_()
            return
        answer = route.fetch()  # the request reaches the server, which makes the case ...
        assert answer.status == 201, answer.text()
        route.abort("connectionreset")  # ... and the phone never hears back

    page.route("**/api/v1/cases/with-photos", lose_the_first_answer)
    page.click("#submit")
    waiting = outbox_item(page, "pending")
    expect(waiting.locator(".error")).to_contain_text("网络中断")
    first = Case.objects.get()
    done = page.locator("#outbox-list li[data-state=sent]")
    expect(done.locator(".number")).to_contain_text(first.number, timeout=TIMEOUT)  # retried after a back-off
    assert Case.objects.count() == 1 and Attachment.objects.count() == 2
    # the retry was the same request: the same key and fields, the same compressed photo bytes
    assert len(sent) == 2
    original, retry = parts(sent[0]), parts(sent[1])
    assert [name for name, _ in original] == ["case", "photos", "photos"]
    assert retry == original
    assert json.loads(original[0][1])["idempotency_key"] == first.idempotency_key


def test_a_refused_report_stops_retrying_shows_why_and_can_be_edited(live_server, handset, field_city):
    city, _people = field_city
    page = open_app(handset, live_server)
    fill_report(page, city)
    Category.objects.filter(pk=city.category.pk).update(active=False)  # retired after the page loaded
    sends = []
    page.on("request", lambda r: sends.append(r) if r.url.endswith("/with-photos") else None)
    page.click("#submit")
    failed = outbox_item(page, "failed")
    expect(failed.locator(".error")).to_contain_text("服务器拒收")
    expect(failed.locator(".error")).to_contain_text("not in use")
    expect(failed.locator(".state")).to_have_text("失败")
    page.click("#flush")  # "send now" leaves a refused report alone
    expect(page.locator("#outbox-list li[data-state=failed]")).to_have_count(1)
    assert len(sends) == 1 and Case.objects.count() == 0
    Category.objects.filter(pk=city.category.pk).update(active=True)
    failed.locator("button.edit").click()
    expect(page.locator("#tab-report")).to_be_visible()
    expect(page.locator("#photos li")).to_have_count(1)
    expect(page.locator("#cat-chosen-text")).to_contain_text("污水井盖")
    page.click("#submit")
    expect(page.locator("#form-msg")).to_contain_text("案卷号")
    assert Case.objects.count() == 1


@pytest.fixture
def verify_task(field_city):
    """A citizen's report with a photo, sent to the inspector to verify."""
    city, people = field_city
    now = timezone.now()
    reported = report_case(
        city,
        people,
        at=now,
        source="citizen",
        photos=[attachments.check_image(SimpleUploadedFile("c.jpg", jpeg(colour=(10, 10, 10))))],
    )
    return case_service.send_verify(
        reported.number,
        actor=people.operator,
        version=reported.version,
        at=now,
        data=case_service.MoveInput(assignee=people.inspector),
    )


def test_an_inspector_verifies_a_citizen_report_on_site_with_a_photo(live_server, handset, verify_task):
    task = verify_task
    page = open_app(handset, live_server)
    expect(page.locator("#task-count")).to_have_text("1")
    page.click("#nav-tasks")
    page.click(f"#task-list li[data-number='{task.number}'] button")
    expect(page.locator("#task-title")).to_have_text(f"核实 {task.number}")
    reference = page.locator("#compare-ref img")
    expect(reference).to_have_attribute("src", re.compile(r"variant=public"))
    page.wait_for_function("document.querySelector('#compare-ref img').naturalWidth > 0")
    page.check("#verify-choice input[value=true]")
    page.set_input_files("#task-photo-input", files=[photo("same-angle.jpg", colour=(10, 200, 10))])
    expect(page.locator("#task-photos li")).to_have_count(1)
    page.fill("#task-reason", "现场属实")
    page.click("#task-submit")
    expect(page.locator("#outbox-list li[data-state=done]")).to_have_count(1)
    case = Case.objects.get(number=task.number)
    assert (case.state, case.verification_found) == ("verified", True)
    verify = CaseEvent.objects.get(case=case, kind="verify")
    assert verify.reason == "现场属实" and len(verify.attachments) == 1
    page.click("#nav-tasks")
    expect(page.locator("#task-list li.empty")).to_contain_text("没有待办")


def test_a_verification_whose_answer_was_lost_is_not_sent_twice(live_server, handset, verify_task):
    task = verify_task
    page = open_app(handset, live_server)
    page.click("#nav-tasks")
    page.click(f"#task-list li[data-number='{task.number}'] button")
    expect(page.locator("#task-title")).to_have_text(f"核实 {task.number}")
    page.check("#verify-choice input[value=false]")
    page.set_input_files("#task-photo-input", files=[photo("nothing-there.jpg")])
    expect(page.locator("#task-photos li")).to_have_count(1)

    def lose_the_answer(route):
        assert route.fetch().status == 200  # the case is verified ...
        route.abort("connectionreset")  # ... but the phone does not know

    page.route("**/actions/verify", lose_the_answer, times=1)
    page.click("#task-submit")
    expect(page.locator("#outbox-list li[data-state=pending] .error")).to_contain_text("网络中断")
    # the retry finds the case already verified by this inspector with this photo: done, not an error
    expect(page.locator("#outbox-list li[data-state=done]")).to_have_count(1, timeout=TIMEOUT)
    case = Case.objects.get(number=task.number)
    assert (case.state, case.verification_found) == ("verified", False)
    assert CaseEvent.objects.filter(case=case, kind="verify").count() == 1
    assert Attachment.objects.filter(case=case).count() == 2  # the citizen's and the inspector's


def test_a_failed_check_compares_with_the_units_photo_and_needs_a_reason(live_server, handset, field_city):
    city, people = field_city
    now = timezone.now()
    case = report_case(city, people, at=now)
    steps = [
        ("accept", people.operator, {}),
        ("file", people.shift_lead, {"condition": city.condition}),
        ("dispatch", people.dispatcher, {"unit": city.unit}),
    ]
    for action, actor, data in steps:
        case = case_service.act(
            case.number, action, actor=actor, version=case.version, at=now, data=case_service.MoveInput(**data)
        )
    unit_photo, _ = attachments.store_image(
        case, SimpleUploadedFile("done.jpg", jpeg(colour=(250, 250, 0))), by=people.handler
    )
    for action, actor, data in [
        ("dispose", people.handler, {"reason": "已更换井盖", "attachments": [unit_photo.pk]}),
        ("send_check", people.operator, {"assignee": people.inspector}),
    ]:
        case = case_service.act(
            case.number, action, actor=actor, version=case.version, at=now, data=case_service.MoveInput(**data)
        )
    page = open_app(handset, live_server)
    page.click("#nav-tasks")
    page.click(f"#task-list li[data-number='{case.number}'] button")
    expect(page.locator("#task-title")).to_have_text(f"核查 {case.number}")
    expect(page.locator("#compare-ref img")).to_have_attribute("src", re.compile(rf"/attachments/{unit_photo.pk}\?"))
    page.check("#check-choice input[value=false]")
    page.set_input_files("#task-photo-input", files=[photo("still-broken.jpg")])
    expect(page.locator("#task-photos li")).to_have_count(1)
    page.click("#task-submit")
    expect(page.locator("#task-msg")).to_have_text("核查不通过须写明原因")
    page.fill("#task-reason", "井盖仍松动")
    page.click("#task-submit")
    expect(page.locator("#outbox-list li[data-state=done]")).to_have_count(1)
    case.refresh_from_db()
    assert case.state == "check_failed"
    failed = CaseEvent.objects.get(case=case, kind="check_fail")
    assert failed.reason == "井盖仍松动" and len(failed.attachments) == 1


def test_a_self_disposed_case_has_its_before_and_after_photos(live_server, handset, field_city):
    city, _people = field_city
    page = open_app(handset, live_server)
    fill_report(page, city)
    page.check("#self-dispose")
    page.set_input_files("#after-input", files=[photo("after.jpg", colour=(0, 120, 255))])
    expect(page.locator("#after-photos li")).to_have_count(1)
    page.fill("#self-note", "已将井盖复位")
    page.click("#submit")
    sent = outbox_item(page, "sent")
    expect(sent).to_have_count(1)
    case = Case.objects.get()
    assert case.state == "self_disposed"
    before = CaseEvent.objects.get(case=case, kind="report").attachments
    after = CaseEvent.objects.get(case=case, kind="self_dispose")
    assert len(before) == 1 and len(after.attachments) == 1 and after.reason == "已将井盖复位"
    assert before[0]["sha256"] != after.attachments[0]["sha256"]


def test_drafts_are_kept_on_the_phone_and_reopen(live_server, handset, field_city):
    city, _people = field_city
    page = open_app(handset, live_server)
    fill_report(page, city)
    page.click("#save-draft")
    expect(page.locator("#form-msg")).to_contain_text("草稿已保存")
    expect(page.locator("#draft-count")).to_have_text("1")
    page.reload()
    page.click("#nav-drafts")
    page.click("#draft-list button.open-draft")
    expect(page.locator("#photos li")).to_have_count(1)
    expect(page.locator("#description")).to_have_value("存在安全隐患，雨水井盖破损")
    page.click("#submit")
    expect(page.locator("#form-msg")).to_contain_text("案卷号")
    expect(page.locator("#draft-count")).to_be_hidden()
    assert Case.objects.count() == 1


def test_the_installed_app_opens_without_a_network(live_server, handset, field_city):
    page = open_app(handset, live_server)
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    handset.set_offline(True)
    page.reload()
    expect(page.locator("#nav-report")).to_be_visible()
    expect(page.locator("#net")).to_have_text("离线")
    page.wait_for_function("typeof L !== 'undefined'")  # Leaflet from the cache too


def test_open_cases_of_the_category_nearby_are_shown_before_reporting(live_server, handset, field_city):
    city, people = field_city
    earlier = report_case(city, people, source="citizen", at=timezone.now())
    earlier.lon, earlier.lat = HERE["longitude"] + 0.0001, HERE["latitude"]
    earlier.save(update_fields=["lon", "lat"])
    page = open_app(handset, live_server)
    fill_report(page, city)
    expect(page.locator("#dups")).to_be_visible()
    expect(page.locator("#dup-list")).to_contain_text(earlier.number)


def test_a_voice_note_recorded_on_the_phone_goes_with_the_report(live_server, browser, field_city):
    city, _people = field_city
    context = browser.new_context(
        locale="zh-CN",
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        geolocation=HERE,
        permissions=["geolocation", "microphone"],
    )
    context.set_default_timeout(TIMEOUT)
    try:
        page = open_app(context, live_server)
        fill_report(page, city)
        expect(page.locator("#voice-block")).to_be_visible()
        page.click("#voice-record")
        expect(page.locator("#voice-status")).to_contain_text("正在录音")
        page.wait_for_timeout(1500)  # a second and a half of the fake microphone's tone
        page.click("#voice-record")
        expect(page.locator("#voice-player")).to_be_visible()
        expect(page.locator("#voice-delete")).to_be_visible()
        page.click("#submit")
        expect(page.locator("#form-msg")).to_contain_text("案卷号")
        number = page.inner_text("#form-msg").rsplit("：", 1)[1].strip()
        report = CaseEvent.objects.get(case__number=number, kind="report")
        assert sorted(a["type"] for a in report.attachments) == ["audio/webm", "image/jpeg"]
        voice = Attachment.objects.get(case__number=number, content_type="audio/webm")
        assert voice.size > 1000 and not voice.public_file
    finally:
        context.close()
