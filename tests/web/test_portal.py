"""The citizen portal: report with photo and pin, follow by private link, rate, reopen, public map.

Every refused input must say why in Chinese and store nothing: no case, no event, no photo,
no follow link."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from citykeeper.services import cases as case_service
from citykeeper.services import public
from citykeeper.services.attachments import store_image
from citykeeper.services.cases import MoveInput
from citykeeper.store.models import Attachment, Case, CaseEvent, FollowLink
from citykeeper.web import portal
from tests.factories import MONDAY_9AM, map_city, report_case


def _jpeg(color=(200, 30, 30), size=(64, 48)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG")
    return out.getvalue()


JPEG = _jpeg()
OTHER_JPEG = _jpeg((30, 30, 200))
RESULT_JPEG = _jpeg((30, 200, 30))
# The first bytes of a JPEG and then 20 MB of nothing: too big before anything is decoded.
HUGE_JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * (20 * 1024 * 1024)
TEXT_AS_JPEG = "这不是照片，只是一段文字。\n".encode() * 20
# Inside the first district's western grid (117.17–117.18 E, 34.25–34.26 N).
LON, LAT = 117.176543, 34.254321


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    """The portal's clock, on an ordinary working Monday whose calendar the test city has."""
    current = Clock(MONDAY_9AM)
    monkeypatch.setattr(portal, "_now", current)
    return current


@pytest.fixture
def mapped(city):
    return map_city(city)


def counts() -> tuple[int, int, int, int]:
    return Case.objects.count(), CaseEvent.objects.count(), Attachment.objects.count(), FollowLink.objects.count()


def fields(city, **overrides) -> dict:
    data = {
        "key": portal.new_key(),
        "category": str(city.category.pk),
        "lon": f"{LON}",
        "lat": f"{LAT}",
        "place": "",
        "description": "井盖破损，晚上看不清，容易绊倒",
        "reporter_name": "",
        "reporter_phone": "",
    }
    data.update(overrides)
    return data


def send(client: Client, data: dict, *photos: tuple[str, bytes], **extra):
    files = [SimpleUploadedFile(name, content, content_type="image/jpeg") for name, content in photos]
    return client.post("/report/", {**data, "photos": files} if files else data, **extra)


def token_of(response) -> str:
    assert response.status_code == 302, response.content.decode()[:2000]
    found = re.fullmatch(r"/report/thanks/([A-Za-z0-9_-]+)/", response["Location"])
    assert found, response["Location"]
    return found.group(1)


def reported(client: Client, city, *photos, **overrides) -> tuple[Case, str]:
    token = token_of(send(client, fields(city, **overrides), *photos))
    case = portal.follow.case_for_link(token)
    assert case is not None
    return case, token


def page(client: Client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.status_code
    return response.content.decode()


# ---------------------------------------------------------------- reporting


def without_csrf(html: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html)


def test_an_anonymous_report_with_a_photo_and_a_phone_gets_a_number_and_a_private_link(mapped, client):
    form = page(client, "/report/")
    assert "污水井盖" in form and 'name="key"' in form and 'type="file"' in form and "multiple" in form
    assert 'accept="image/' in form and "csrfmiddlewaretoken" in form

    response = send(
        client, fields(mapped, reporter_name="王女士", reporter_phone="+86 139-1234-5678"), ("before.jpg", JPEG)
    )
    token = token_of(response)
    case = Case.objects.get()
    assert (case.source, case.reporter, case.state) == ("web", None, "reported")
    assert (case.reporter_name, case.reporter_phone) == ("王女士", "+86139-1234-5678")
    assert case.description == "井盖破损，晚上看不清，容易绊倒"
    assert (case.lon, case.lat, case.area.code) == (LON, LAT, mapped.grid.code)
    assert case.reported_at == MONDAY_9AM and case.idempotency_key.startswith("portal:")
    photo = Attachment.objects.get()
    report = case.events.get(kind="report")
    assert [ref["id"] for ref in report.attachments] == [photo.pk]
    # Only the hash of the private link is kept.
    link = FollowLink.objects.get()
    assert link.case == case and token not in link.token_hash

    thanks = page(client, response["Location"])
    assert case.number in thanks and f"/track/{token}/" in thanks and "复制链接" in thanks
    # A reload still shows the link (the same page but for the language switch's fresh CSRF mask).
    assert without_csrf(page(client, response["Location"])) == without_csrf(thanks)

    track = page(client, f"/track/{token}/")
    assert case.number in track and "污水井盖" in track and "已收到您的反映" in track
    assert "已收到，等待受理" in track and "井盖破损，晚上看不清" in track
    assert "王女士" not in track and "139" not in track
    own = f"/track/{token}/photos/{photo.pk}.jpg"
    assert own in track
    served = client.get(own)
    assert served.status_code == 200 and served["Content-Type"] == "image/jpeg"
    body = b"".join(served.streaming_content)
    assert body == photo.public_file.open("rb").read() and body != JPEG  # never the original
    thumb = client.get(f"/track/{token}/photos/{photo.pk}-thumb.jpg")
    assert thumb.status_code == 200
    assert b"".join(thumb.streaming_content) == photo.thumbnail.open("rb").read()


def test_the_private_pages_are_not_cached_indexed_or_referred(mapped, client):
    response = send(client, fields(mapped))
    for url in (response["Location"], f"/track/{token_of(response)}/"):
        got = client.get(url)
        assert got["Cache-Control"] == "private, no-store"
        assert got["Referrer-Policy"] == "same-origin" and "noindex" in got["X-Robots-Tag"]


def test_a_signed_in_citizen_reports_as_themself(mapped, people, client):
    client.force_login(people.citizen)
    case, _token = reported(client, mapped)
    assert case.reporter == people.citizen and case.source == "web"
    assert case.events.get(kind="report").actor_role == "citizen"


def test_staff_signed_in_on_the_portal_report_as_the_public(mapped, people, client):
    client.force_login(people.inspector)
    case, _token = reported(client, mapped)
    assert case.reporter is None and case.source == "web"


def test_the_address_is_written_from_the_pin_with_the_reporters_words(mapped, client):
    case, _token = reported(client, mapped, place="小区南门东侧")
    assert case.address.endswith("（小区南门东侧）")


OUTSIDE_GRIDS = (117.21, 34.255)  # in 泉山区, which has no unit grids


@pytest.mark.usefixtures("quanshan")
@pytest.mark.parametrize(
    "bad",
    [
        ({"lon": "", "lat": ""}, (), "问题位置", "请在地图上点选问题发生的位置"),
        ({"lat": ""}, (), "问题位置", "请在地图上点选问题发生的位置"),
        ({"lon": "abc"}, (), "问题位置", "经度和纬度必须是数字"),
        ({"lon": "nan"}, (), "问题位置", "经度和纬度必须是数字"),
        ({"lon": "200"}, (), "问题位置", "经度应在 -180 到 180 之间"),
        ({"lat": "-91"}, (), "问题位置", "纬度应在 -90 到 90 之间"),
        ({"lon": f"{OUTSIDE_GRIDS[0]}", "lat": f"{OUTSIDE_GRIDS[1]}"}, (), "问题位置", "不在本市城市管理网格范围内"),
        ({"lon": "2.35", "lat": "48.85"}, (), "问题位置", "不在本市城市管理网格范围内"),
        ({"description": ""}, (), "问题描述", "请描述您看到的问题"),
        ({"description": " \n\t "}, (), "问题描述", "请描述您看到的问题"),
        ({"description": "坏" * 1001}, (), "问题描述", "最多 1000 字（现在 1001 字）"),
        ({"category": ""}, (), "问题类别", "请选择问题类别"),
        ({"category": "999999"}, (), "问题类别", "请从列表中选择问题类别"),
        ({"reporter_phone": "call me"}, (), "联系电话", "只能包含数字"),
        ({"reporter_phone": "12345"}, (), "联系电话", "7 到 20 位数字"),
        ({}, (("big.jpg", HUGE_JPEG),), "照片", "第 1 张照片（big.jpg）超过 10 MB"),
        ({}, (("ok.jpg", JPEG), ("notes.jpg", TEXT_AS_JPEG)), "照片", "第 2 张照片（notes.jpg）不是可以识别的图片"),
        ({}, tuple((f"p{i}.jpg", _jpeg((i, i, i))) for i in range(4)), "照片", "最多上传 3 张照片（您选了 4 张）"),
    ],
    ids=[
        "no-coordinates",
        "no-latitude",
        "lon-not-a-number",
        "lon-nan",
        "lon-200",
        "lat-minus-91",
        "in-a-district-without-grids",
        "paris",
        "empty-description",
        "blank-description",
        "description-too-long",
        "no-category",
        "unknown-category",
        "phone-words",
        "phone-too-short",
        "photo-20mb",
        "text-named-jpg",
        "four-photos",
    ],
)
def test_bad_input_is_refused_with_a_message_naming_the_field_and_nothing_is_stored(mapped, client, media, bad):
    overrides, photos, field, message = bad
    before = counts()
    response = send(client, fields(mapped, **overrides), *photos)
    body = response.content.decode()
    assert response.status_code == 400
    assert "提交未成功" in body and f"{field}</a>：" in body and message in body, body[:3000]
    assert counts() == before
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))


def test_the_form_keeps_what_was_typed_and_asks_for_the_photos_again(mapped, client):
    body = send(client, fields(mapped, lon="", lat="", reporter_name="老张"), ("a.jpg", JPEG)).content.decode()
    assert "井盖破损，晚上看不清" in body and 'value="老张"' in body and "照片需要重新选择" in body


def test_html_and_script_are_stored_as_text_and_always_shown_escaped(mapped, client):
    script = '<script>alert("x")</script><b>井盖</b>'
    case, token = reported(client, mapped, description=script, place="<i>南门</i>", reporter_name="<img src=x>")
    assert case.description == script and case.reporter_name == "<img src=x>" and "<i>南门</i>" in case.address
    track = page(client, f"/track/{token}/")
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;b&gt;井盖&lt;/b&gt;" in track
    assert "&lt;i&gt;南门&lt;/i&gt;" in track
    assert "<script>alert" not in track and "<b>井盖" not in track and "<i>南门" not in track
    again = send(client, fields(mapped, lon="", description=script)).content.decode()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in again and "<script>alert" not in again


# ---------------------------------------------------------------- flooding and retries


def test_the_eleventh_report_from_one_address_in_an_hour_is_refused_and_stores_nothing(mapped, client, clock):
    for minute in range(10):
        clock.now = MONDAY_9AM + dt.timedelta(minutes=minute)
        token_of(send(client, fields(mapped)))
    before = counts()
    clock.now = MONDAY_9AM + dt.timedelta(minutes=30)
    refused = send(client, fields(mapped), ("a.jpg", JPEG))
    assert refused.status_code == 429 and refused["Retry-After"] == str(30 * 60 + 1)
    assert "提交太频繁" in refused.content.decode() and "每小时最多提交 10 条" in refused.content.decode()
    assert counts() == before
    # Another address is not held back, and the first one may report again after the hour.
    token_of(send(client, fields(mapped), REMOTE_ADDR="10.1.2.3"))
    clock.now = MONDAY_9AM + dt.timedelta(minutes=61)
    token_of(send(client, fields(mapped)))
    assert Case.objects.count() == 12


def test_a_double_submit_with_the_same_key_makes_one_case_and_both_answers_can_follow_it(mapped, client):
    data = fields(mapped)
    first = token_of(send(client, data, ("a.jpg", JPEG)))
    second = token_of(send(client, data, ("a.jpg", JPEG)))
    assert Case.objects.count() == 1 and Attachment.objects.count() == 1
    case = Case.objects.get()
    assert case.events.count() == 1
    assert first != second
    for token in (first, second):
        assert case.number in page(client, f"/report/thanks/{token}/")
        assert portal.follow.case_for_link(token) == case


def test_the_same_page_sent_again_with_other_words_is_not_taken_for_a_retry(mapped, client):
    data = fields(mapped)
    token_of(send(client, data))
    case = Case.objects.get()
    before = counts()
    response = send(client, {**data, "description": "另一个问题：路灯不亮"})
    body = response.content.decode()
    assert response.status_code == 400 and f"这张表单已经提交过（案卷号 {case.number}）" in body
    assert counts() == before
    new_key = re.search(r'name="key" value="([^"]+)"', body).group(1)
    assert new_key != data["key"]
    token_of(send(client, {**data, "key": new_key, "description": "另一个问题：路灯不亮"}))
    assert Case.objects.count() == 2


def test_a_missing_or_forged_key_still_reports(mapped, client):
    token_of(send(client, fields(mapped, key="")))
    token_of(send(client, fields(mapped, key="x' or 1=1 --")))
    keys = list(Case.objects.values_list("idempotency_key", flat=True))
    assert len(set(keys)) == 2 and all(re.fullmatch(r"portal:[A-Za-z0-9_-]{32}", k) for k in keys)


# ---------------------------------------------------------------- following a case


def walk_to_closed(city, people, case, *, at, result_photo: bytes | None = None) -> tuple[Case, Attachment | None]:
    """The whole way to 结案 with the unit's feedback photo, an urge and an internal note on the way."""
    minute = iter(range(1, 100))

    def step(verb, actor, data):
        nonlocal case
        case = verb(
            case.number, actor=actor, version=case.version, at=at + dt.timedelta(minutes=next(minute)), data=data
        )

    step(case_service.send_verify, people.operator, MoveInput(assignee=people.inspector))
    step(case_service.verify, people.inspector, MoveInput(found=True))
    step(case_service.accept, people.operator, MoveInput())
    step(case_service.file, people.shift_lead, MoveInput(condition=city.condition))
    step(case_service.urge, people.leader, MoveInput(reason="督办：请今天之内处理完"))
    step(case_service.note, people.operator, MoveInput(reason="内部备注：已电话联系市政所老李"))
    step(case_service.dispatch, people.dispatcher, MoveInput(unit=city.unit))
    attachment = None
    ids = []
    if result_photo is not None:
        attachment, _created = store_image(
            case, SimpleUploadedFile("after.jpg", result_photo, "image/jpeg"), by=people.handler
        )
        ids = [attachment.pk]
    step(
        case_service.dispose, people.handler, MoveInput(reason="已更换井盖，经办人赵师傅 13700001111", attachments=ids)
    )
    step(case_service.send_check, people.operator, MoveInput(assignee=people.inspector))
    step(case_service.check_pass, people.inspector, MoveInput())
    step(case_service.close, people.shift_lead, MoveInput())
    return case, attachment


@pytest.fixture
def named_staff(people):
    for user, name in (
        (people.operator, "李受理"),
        (people.shift_lead, "王值班"),
        (people.dispatcher, "刘派遣"),
        (people.handler, "陈处置"),
        (people.inspector, "张监督"),
        (people.leader, "赵领导"),
    ):
        user.display_name = name
        user.save(update_fields=["display_name"])
    return people


def test_the_timeline_is_in_plain_words_without_staff_names_notes_urges_or_phones(mapped, named_staff, client):
    case, token = reported(client, mapped, ("before.jpg", JPEG))
    case, _result = walk_to_closed(mapped, named_staff, case, at=MONDAY_9AM)
    track = page(client, f"/track/{token}/")
    for words in (
        "已收到您的反映",
        "已安排监督员到现场核实",
        "现场核实：问题属实",
        "已受理",
        "已立案",
        "已交由「鼓楼区市政所」处理",
        "处理单位已反馈处理结果",
        "现场核查：已处理到位",
        "已结案",
        "已办结",
    ):
        assert words in track, words
    for secret in (
        "李受理",
        "王值班",
        "刘派遣",
        "陈处置",
        "张监督",
        "赵领导",
        "督办",
        "内部备注",
        "老李",
        "赵师傅",
        "13700001111",
    ):
        assert secret not in track, secret


def test_result_photos_are_shown_only_once_published(mapped, people, client):
    case, token = reported(client, mapped, ("before.jpg", JPEG))
    case, result = walk_to_closed(mapped, people, case, at=MONDAY_9AM, result_photo=RESULT_JPEG)
    url = f"/track/{token}/photos/{result.pk}.jpg"
    assert url not in page(client, f"/track/{token}/")
    assert client.get(url).status_code == 404
    assert client.get(f"/public/photos/{result.pk}.jpg").status_code == 404

    public.publish_photo(result, by=people.operator, at=MONDAY_9AM + dt.timedelta(hours=1))
    track = page(client, f"/track/{token}/")
    assert url in track and "处理结果照片" in track
    served = client.get(url)
    assert served.status_code == 200
    assert b"".join(served.streaming_content) == result.public_file.open("rb").read()
    open_copy = client.get(f"/public/photos/{result.pk}.jpg")
    assert open_copy.status_code == 200 and "public" in open_copy["Cache-Control"]


def test_a_link_cannot_reach_another_cases_photos(mapped, people, client):
    _mine, token = reported(client, mapped, ("mine.jpg", JPEG))
    _theirs, _other = reported(client, mapped, ("theirs.jpg", OTHER_JPEG))
    theirs_photo = Attachment.objects.get(case=_theirs)
    assert client.get(f"/track/{token}/photos/{theirs_photo.pk}.jpg").status_code == 404
    public.publish_photo(theirs_photo, by=people.operator, at=MONDAY_9AM)
    assert client.get(f"/track/{token}/photos/{theirs_photo.pk}.jpg").status_code == 404
    assert client.get(f"/public/photos/{theirs_photo.pk}-thumb.jpg").status_code == 200


def test_the_reporter_rates_the_result_once(mapped, people, client, clock):
    case, token = reported(client, mapped)
    walk_to_closed(mapped, people, case, at=MONDAY_9AM)
    clock.now = MONDAY_9AM + dt.timedelta(hours=2)
    track = page(client, f"/track/{token}/")
    assert 'name="stars"' in track and 'value="rate"' in track and "问题没有解决？" in track

    bad = client.post(f"/track/{token}/", {"action": "rate", "stars": "9"})
    assert bad.status_code == 400 and "请选择 1 到 5 星" in bad.content.decode()
    assert not case.events.filter(kind="rate").exists()

    done = client.post(f"/track/{token}/", {"action": "rate", "stars": "4", "remark": "修得很快"}, follow=True)
    body = done.content.decode()
    assert "谢谢您的评价" in body and "您已评价：4 星" in body and "修得很快" in body
    rate = case.events.get(kind="rate")
    assert (rate.data["rating"], rate.reason, rate.actor_id) == (4, "修得很快", None)
    case.refresh_from_db()
    assert case.state == "closed"

    again = client.post(f"/track/{token}/", {"action": "rate", "stars": "1"})
    assert again.status_code == 400 and "已经评价过" in again.content.decode()
    assert case.events.filter(kind="rate").count() == 1


def test_not_fixed_reopens_the_case_for_the_operator(mapped, people, client, clock):
    case, token = reported(client, mapped)
    walk_to_closed(mapped, people, case, at=MONDAY_9AM)
    clock.now = MONDAY_9AM + dt.timedelta(days=3)

    empty = client.post(f"/track/{token}/", {"action": "reopen", "reason": "  "})
    assert empty.status_code == 400 and "请说明哪里还没有解决" in empty.content.decode()
    case.refresh_from_db()
    assert case.state == "closed"

    done = client.post(f"/track/{token}/", {"action": "reopen", "reason": "井盖还是松的"}, follow=True)
    body = done.content.decode()
    case.refresh_from_db()
    assert case.state == "reopened" and case.events.get(kind="reopen").reason == "井盖还是松的"
    assert "监督中心会重新核查" in body and "市民反映未解决，正在复查" in body and "井盖还是松的" in body
    again = client.post(f"/track/{token}/", {"action": "reopen", "reason": "还是没修"})
    assert again.status_code == 400 and "您已反映过问题未解决" in again.content.decode()
    assert case.events.filter(kind="reopen").count() == 1


def test_not_fixed_on_a_case_still_in_progress_says_so_and_changes_nothing(mapped, client):
    case, token = reported(client, mapped)
    events = case.events.count()
    response = client.post(f"/track/{token}/", {"action": "reopen", "reason": "还没修"})
    assert response.status_code == 400 and "案件还在办理中，办结后才能反映“未解决”" in response.content.decode()
    rate = client.post(f"/track/{token}/", {"action": "rate", "stars": "5"})
    assert rate.status_code == 400 and "案件办结后才能评价" in rate.content.decode()
    case.refresh_from_db()
    assert case.state == "reported" and case.events.count() == events


def test_not_fixed_more_than_thirty_days_after_closing_asks_for_a_new_report(mapped, people, client, clock):
    case, token = reported(client, mapped)
    walk_to_closed(mapped, people, case, at=MONDAY_9AM)
    clock.now = MONDAY_9AM + dt.timedelta(days=31)
    assert "结案已超过 30 天，无法重新打开，请重新上报" in page(client, f"/track/{token}/")
    response = client.post(f"/track/{token}/", {"action": "reopen", "reason": "又坏了"})
    assert response.status_code == 400 and "结案已超过 30 天" in response.content.decode()
    case.refresh_from_db()
    assert case.state == "closed"


def test_the_services_refusals_are_shown_in_chinese(mapped, people, client, clock, monkeypatch):
    # Should the page's own checks and the service's guards ever disagree, the service's
    # refusal still reaches the citizen in plain words.
    case, token = reported(client, mapped)
    walk_to_closed(mapped, people, case, at=MONDAY_9AM)
    monkeypatch.setattr(portal, "_reopen_refusal", lambda *a: "")
    clock.now = MONDAY_9AM + dt.timedelta(days=40)
    response = client.post(f"/track/{token}/", {"action": "reopen", "reason": "又坏了"})
    assert response.status_code == 400 and "结案已超过 30 天" in response.content.decode()


def test_an_unknown_link_is_a_chinese_404(mapped, client):
    for url in ("/track/not-a-real-token-at-all/", "/report/thanks/not-a-real-token/", "/track/" + "x" * 150 + "/"):
        response = client.get(url)
        assert response.status_code == 404 and "没有找到这个跟踪链接" in response.content.decode()
    assert client.post("/track/not-a-real-token/", {"action": "reopen", "reason": "x"}).status_code == 404
    assert client.get("/track/not-a-real-token/photos/1.jpg").status_code == 404


def test_a_merged_report_follows_the_case_it_was_merged_into(mapped, people, client):
    duplicate, token = reported(client, mapped)
    surviving = report_case(mapped, people)  # an inspector's report of the same problem
    case_service.merge(
        duplicate.number,
        actor=people.operator,
        version=duplicate.version,
        at=MONDAY_9AM + dt.timedelta(minutes=5),
        data=MoveInput(target=surviving),
    )
    surviving.refresh_from_db()
    case_service.accept(
        surviving.number,
        actor=people.operator,
        version=surviving.version,
        at=MONDAY_9AM + dt.timedelta(minutes=10),
        data=MoveInput(),
    )
    track = page(client, f"/track/{token}/")
    assert duplicate.number in track and surviving.number in track
    assert f"已与案件 {surviving.number} 合并处理" in track
    assert f"您的反映已与案件 {surviving.number} 合并处理" in track
    assert 'id="merged-timeline"' in track and "问题已登记" in track and "已受理" in track
    assert '<strong class="p-state p-state-accepted" id="case-state">已受理</strong>' in track


# ---------------------------------------------------------------- the public map


def _box(lon=LON, lat=LAT, d=0.01) -> str:
    return f"{lon - d},{lat - d},{lon + d},{lat + d}"


def test_the_public_map_shows_rounded_positions_and_published_photos_only(mapped, people, client):
    shown, _t = reported(client, mapped, ("a.jpg", JPEG), ("b.jpg", OTHER_JPEG))
    first, second = Attachment.objects.filter(case=shown).order_by("pk")
    public.publish_photo(second, by=people.operator, at=MONDAY_9AM)
    rejected, _t = reported(client, mapped, description="重复了")
    case_service.reject(
        rejected.number,
        actor=people.operator,
        version=rejected.version,
        at=MONDAY_9AM,
        data=MoveInput(reason="非城管职责"),
    )
    merged, _t = reported(client, mapped, description="同一个井盖")
    case_service.merge(
        merged.number, actor=people.operator, version=merged.version, at=MONDAY_9AM, data=MoveInput(target=shown)
    )
    voided, _t = reported(client, mapped, description="作废的")
    at = MONDAY_9AM
    for verb, actor, data in (
        (case_service.send_verify, people.operator, MoveInput(assignee=people.inspector)),
        (case_service.verify, people.inspector, MoveInput(found=True)),
        (case_service.accept, people.operator, MoveInput()),
        (case_service.void, people.shift_lead, MoveInput(reason="误报")),
    ):
        at += dt.timedelta(minutes=1)
        voided = verb(voided.number, actor=actor, version=voided.version, at=at, data=data)
    far = report_case(mapped, people)  # at 117.18, 34.26: outside the box asked for below
    Case.objects.filter(pk=far.pk).update(lon=117.30, lat=34.40)

    response = client.get("/map/cases.json", {"bbox": _box()})
    assert response.status_code == 200 and response["Content-Type"] == "application/geo+json"
    assert response["Cache-Control"] == "public, max-age=60"
    features = response.json()["features"]
    assert [f["properties"]["number"] for f in features] == [shown.number]
    feature = features[0]
    assert feature["geometry"] == {"type": "Point", "coordinates": [117.1765, 34.2543]}
    props = feature["properties"]
    assert set(props) == {"number", "category", "major", "state", "group", "reported", "closed", "photos"}
    assert (props["category"], props["state"], props["reported"]) == ("污水井盖", "已收到，等待受理", "2026-11-23")
    assert props["photos"] == [
        {"thumb": f"/public/photos/{second.pk}-thumb.jpg", "full": f"/public/photos/{second.pk}.jpg"}
    ]
    text = response.content.decode()
    assert "井盖破损" not in text and "description" not in text and "reporter" not in text
    assert client.get(f"/public/photos/{first.pk}-thumb.jpg").status_code == 404
    assert client.get(f"/public/photos/{second.pk}-thumb.jpg").status_code == 200


@pytest.mark.parametrize(
    "bbox",
    [
        "",
        "117.17,34.25,117.19",
        "a,b,c,d",
        "117.19,34.25,117.17,34.26",
        "117.17,34.26,117.19,34.25",
        "0,0,200,10",
        "nan,0,1,1",
        "1,2,3,4,5",
    ],
)
def test_a_bad_box_is_a_400_with_a_chinese_message(mapped, client, bbox):
    response = client.get("/map/cases.json", {"bbox": bbox})
    assert response.status_code == 400 and response.json()["field"] == "bbox"
    assert "bbox" in response.json()["detail"] and re.search(r"[\u4e00-\u9fff]", response.json()["detail"])
    assert client.get("/map/areas.json", {"bbox": bbox, "zoom": "15"}).status_code == 400


def test_the_map_page_and_its_outlines(mapped, client, settings):
    settings.CITYKEEPER = {**settings.CITYKEEPER, "MAP_TILE_URL": "https://tiles.example/{z}/{x}/{y}.png"}
    body = page(client, "/map/")
    assert "案件地图" in body and "leaflet.js" in body and "/map/cases.json" in body
    assert 'data-bounds="[117.17, 34.25, 117.19, 34.26]"' in body and "https://tiles.example/{z}/{x}/{y}.png" in body
    grids = client.get("/map/areas.json", {"bbox": "117.16,34.24,117.2,34.27", "zoom": "16"})
    assert grids.status_code == 200 and "max-age=300" in grids["Cache-Control"]
    assert sorted(f["properties"]["code"] for f in grids.json()["features"]) == ["320302001001001", "320302001001002"]
    again = client.get(
        "/map/areas.json", {"bbox": "117.16,34.24,117.2,34.27", "zoom": "16"}, HTTP_IF_NONE_MATCH=grids["ETag"]
    )
    assert again.status_code == 304
    districts = client.get("/map/areas.json", {"bbox": "117.16,34.24,117.2,34.27", "zoom": "10"}).json()
    assert [f["properties"]["name"] for f in districts["features"]] == ["鼓楼区"]
    for zoom in ("", "x", "23", "-1"):
        assert client.get("/map/areas.json", {"bbox": "117.16,34.24,117.2,34.27", "zoom": zoom}).status_code == 400


def test_the_form_checks_a_pin_at_once(mapped, quanshan, client):
    ok = client.get("/report/where.json", {"lon": LON, "lat": LAT})
    assert ok.status_code == 200 and "address" in ok.json()
    outside = client.get("/report/where.json", {"lon": 117.21, "lat": 34.255})
    assert outside.status_code == 400 and "不在本市城市管理网格范围内" in outside.json()["detail"]
    assert client.get("/report/where.json", {"lon": "x", "lat": "1"}).status_code == 400


def test_before_saving_the_reporter_sees_open_cases_of_the_category_nearby_without_their_words(mapped, people, client):
    from tests.factories import report_case

    earlier = report_case(mapped, people, source="citizen", description="张三家门口的井盖坏了，电话13800000000")
    earlier.lon, earlier.lat = LON + 0.0001, LAT
    earlier.save(update_fields=["lon", "lat"])
    found = client.get("/report/nearby.json", {"category": mapped.category.pk, "lon": LON, "lat": LAT})
    assert found.status_code == 200
    (only,) = found.json()["results"]
    assert only["number"] == earlier.number and 8 <= only["distance_m"] <= 11 and only["state"]
    assert "张三" not in found.content.decode("utf-8") and "13800000000" not in found.content.decode("utf-8")
    far = client.get("/report/nearby.json", {"category": mapped.category.pk, "lon": LON + 0.005, "lat": LAT})
    assert far.json()["results"] == []
    assert client.get("/report/nearby.json", {"category": "x", "lon": LON, "lat": LAT}).status_code == 400
    impossible = client.get("/report/nearby.json", {"category": mapped.category.pk, "lon": 200, "lat": LAT})
    assert impossible.status_code == 400


def test_zoomed_out_over_many_cases_the_map_shows_counts_per_cell(mapped, people, client, monkeypatch):
    from tests.factories import report_case

    monkeypatch.setattr(portal, "CLUSTER_FROM", 3)
    for i in range(4):
        case = report_case(mapped, people, source="citizen")
        case.lon, case.lat = LON + i * 0.00001, LAT
        case.save(update_fields=["lon", "lat"])
    box = {"bbox": "117.0,34.0,118.0,35.0"}
    far = client.get("/map/cases.json", {**box, "zoom": 12}).json()
    assert far["clustered"] and far["total"] == 4
    assert [f["properties"]["count"] for f in far["features"]] == [4]
    assert "number" not in far["features"][0]["properties"]
    near = client.get("/map/cases.json", {**box, "zoom": 17}).json()
    assert "clustered" not in near and len(near["features"]) == 4
    assert len(client.get("/map/cases.json", box).json()["features"]) == 4  # no zoom: every case
