"""The console's case page: everything about a case, the actions the user may take now,
and every way an action can go wrong without losing what the user typed."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from PIL import Image

from citykeeper.domain.workflow import Role
from citykeeper.services import cases as case_service
from citykeeper.services.cases import MoveInput
from citykeeper.store.models import Case, CaseEvent, RoleGrant
from tests.factories import close_case, map_city, report_case

QUERY_BUDGET = 30


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def recent(city, people, **kw) -> Case:
    return report_case(city, people, at=kw.pop("at", timezone.now() - dt.timedelta(minutes=30)), **kw)


def actions_on(response) -> list[str]:
    return re.findall(r'<details class="act[^"]*" data-action="([a-z_]+)"', response.content.decode())


def page_of(user, case) -> str:
    response = client_for(user).get(f"/console/cases/{case.number}/")
    assert response.status_code == 200
    return response.content.decode()


def jpeg_upload(name="photo.jpg", color=(200, 40, 40)):
    out = io.BytesIO()
    Image.new("RGB", (320, 240), color).save(out, "JPEG")
    out.seek(0)
    out.name = name
    return out


def move(case, verb, actor, **data) -> Case:
    case.refresh_from_db()
    return verb(case.number, actor=actor, version=case.version, at=timezone.now(), data=MoveInput(**data))


# ------------------------------------------------------------------ reading


def test_the_case_page_asks_for_a_login(city, people):
    case = recent(city, people)
    response = Client().get(f"/console/cases/{case.number}/")
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=/console/cases/")


def test_a_case_outside_the_users_scope_is_not_found(city, people):
    case = recent(city, people)
    response = client_for(people.outside_operator).get(f"/console/cases/{case.number}/")
    assert response.status_code == 404


def test_a_citizen_follows_their_case_on_the_portal_not_on_the_console(city, people):
    case = recent(city, people, source="citizen")
    assert case.reporter == people.citizen
    assert client_for(people.citizen).get(f"/console/cases/{case.number}/").status_code == 404


def test_the_operator_sees_the_facts_and_only_the_moves_of_the_operator(city, people):
    case = recent(city, people, description="井盖破损，行人易绊倒", address="解放路 12 号")
    response = client_for(people.operator).get(f"/console/cases/{case.number}/")
    html = response.content.decode()
    assert case.number in html and "井盖破损，行人易绊倒" in html and "解放路 12 号" in html
    assert set(actions_on(response)) == {"accept", "reject", "send_verify", "merge", "note"}
    # A shift lead may urge; the operator may not, and does not see the form.
    assert "urge" in actions_on(client_for(people.shift_lead).get(f"/console/cases/{case.number}/"))


def test_a_hotline_report_does_not_offer_accept_before_it_is_verified(city, people):
    case = recent(city, people, source="hotline")
    actions = actions_on(client_for(people.operator).get(f"/console/cases/{case.number}/"))
    assert "send_verify" in actions and "accept" not in actions


def test_the_timeline_shows_who_did_what_and_each_stage_against_its_limit(city, people):
    case = close_case(city, people, recent(city, people), at=timezone.now() - dt.timedelta(minutes=20))
    html = page_of(people.shift_lead, case)
    rows = re.findall(r'<tr data-seq="(\d+)" data-kind="([a-z_]+)">', html)
    assert [kind for _seq, kind in rows] == [
        "report", "accept", "file", "dispatch", "dispose", "send_check", "check_pass", "close",
    ]  # fmt: skip
    assert "shiftlead" in html and "值班长" in html
    # The accept event closed the accept stage: used one minute of its limit, on time.
    accept_row = html[html.index('data-kind="accept"') :]
    accept_row = accept_row[: accept_row.index("</tr>")]
    assert re.search(r'class="stage-span ok" data-used="\d+" data-limit="\d+">受理 用时 ', accept_row)
    assert "按时" in accept_row
    assert "案件已结束" in html


def test_photos_of_the_report_and_of_the_disposal_stand_side_by_side(city, people):
    case = recent(city, people)
    note = client_for(people.operator).post(
        f"/console/cases/{case.number}/do/note/",
        {"version": case.version, "reason": "现场照片", "photos": [jpeg_upload()]},
    )
    assert note.status_code == 302
    move(case, case_service.accept, people.operator)
    move(case, case_service.file, people.shift_lead, condition=city.condition)
    move(case, case_service.dispatch, people.dispatcher, unit=city.unit)
    case.refresh_from_db()
    handler = client_for(people.handler)
    response = handler.post(
        f"/console/cases/{case.number}/do/dispose/",
        {
            "version": case.version,
            "reason": "已更换井盖",
            "photos": [jpeg_upload("a.jpg"), jpeg_upload("b.jpg", (0, 90, 0))],
        },
    )
    assert response.status_code == 302
    html = page_of(people.shift_lead, case)
    after = html[html.index("处置后") :]
    assert after.count("?v=thumb") == 2
    first = re.search(r"/console/cases/[^/]+/attachments/(\d+)/\?v=thumb", after).group(1)
    for variant in ("thumb", "public"):
        image = client_for(people.shift_lead).get(f"/console/cases/{case.number}/attachments/{first}/?v={variant}")
        assert image.status_code == 200 and image["Content-Type"] == "image/jpeg"
    # Someone outside the case's scope gets nothing.
    outside = client_for(people.outside_operator).get(f"/console/cases/{case.number}/attachments/{first}/")
    assert outside.status_code == 404


def test_the_proposed_unit_and_its_rule_are_shown_to_the_dispatcher(city, people):
    case = recent(city, people)
    move(case, case_service.accept, people.operator)
    move(case, case_service.file, people.shift_lead, condition=city.condition)
    case.refresh_from_db()
    html = page_of(people.dispatcher, case)
    assert "建议单位" in html and "依据：" in html
    assert "dispatch" in re.findall(r'data-action="([a-z_]+)"', html)


def test_merged_reports_and_possible_duplicates_are_listed(city, people):
    map_city(city)
    first = recent(city, people, description="路灯不亮")
    second = recent(city, people, description="路灯坏了", at=timezone.now() - dt.timedelta(minutes=10))
    html = page_of(people.operator, second)
    assert "疑似重复" in html and f'data-number="{first.number}"' in html
    move(second, case_service.merge, people.operator, target=first)
    assert second.number in page_of(people.operator, first)
    assert "已合并的重复上报" in page_of(people.operator, first)


def test_the_case_page_stays_within_its_query_budget_however_long_the_history(city, people):
    short = recent(city, people)
    long = close_case(city, people, recent(city, people), at=timezone.now() - dt.timedelta(minutes=20))
    client = client_for(people.shift_lead)
    counts = []
    for case in (short, long):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/console/cases/{case.number}/").status_code == 200
        counts.append(len(queries))
    assert max(counts) <= QUERY_BUDGET
    assert counts[1] - counts[0] <= 2  # a longer history adds no queries per event


# ------------------------------------------------------------------ acting


def test_an_action_moves_the_case_and_comes_back_to_the_case(city, people):
    case = recent(city, people)
    client = client_for(people.operator)
    response = client.post(f"/console/cases/{case.number}/do/accept/", {"version": case.version, "from": "reported"})
    assert response.status_code == 302 and response["Location"] == f"/console/cases/{case.number}/?from=reported"
    case.refresh_from_db()
    assert case.state == "accepted"
    follow = client.get(response["Location"]).content.decode()
    assert f"已受理：{case.number}" in follow and 'href="/console/queues/reported/"' in follow


def test_a_required_reason_is_asked_for_in_chinese_and_nothing_moves(city, people):
    case = recent(city, people)
    response = client_for(people.operator).post(f"/console/cases/{case.number}/do/reject/", {"version": case.version})
    assert response.status_code == 400
    assert "请填写理由或意见。" in response.content.decode()
    case.refresh_from_db()
    assert case.state == "reported" and case.version == 1


def test_a_double_submission_is_done_once_and_reported_as_done(city, people):
    case = recent(city, people)
    client = client_for(people.operator)
    form = {"version": case.version, "reason": "不属于城管范围"}
    assert client.post(f"/console/cases/{case.number}/do/reject/", form).status_code == 302
    again = client.post(f"/console/cases/{case.number}/do/reject/", form, follow=True)
    assert again.status_code == 200
    assert "这个操作已经完成，重复的提交没有再执行。" in again.content.decode()
    assert case.events.filter(kind="reject").count() == 1


def test_acting_on_a_case_someone_just_moved_shows_what_changed_and_keeps_the_text(city, people):
    case = recent(city, people)
    seen = case.version
    move(case, case_service.accept, people.city_operator)
    response = client_for(people.operator).post(
        f"/console/cases/{case.number}/do/reject/", {"version": seen, "reason": "重复上报，请核对"}
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert "案件在你打开页面后已被他人办理" in html
    assert 'data-kind="accept"' in html and "operator_city" in html
    assert 'data-state="accepted"' in html  # the page shows the case as it is now
    assert "重复上报，请核对" in html  # what the user typed is still there
    assert case.events.filter(kind="reject").count() == 0


def test_a_user_whose_role_was_taken_away_is_told_and_loses_nothing(city, people):
    case = recent(city, people)
    client = client_for(people.operator)
    assert "reject" in actions_on(client.get(f"/console/cases/{case.number}/"))
    RoleGrant.objects.filter(user=people.operator, role=Role.OPERATOR).update(role=Role.INSPECTOR)
    response = client.post(
        f"/console/cases/{case.number}/do/reject/", {"version": case.version, "reason": "不属于城管范围"}
    )
    assert response.status_code == 403
    html = response.content.decode()
    assert "你现在的角色或管辖范围不允许这个操作" in html
    case.refresh_from_db()
    assert case.state == "reported"


def test_an_expired_session_goes_to_the_login_and_back_to_the_case(city, people):
    case = recent(city, people)
    response = Client().post(f"/console/cases/{case.number}/do/accept/", {"version": case.version})
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next=/console/cases/{case.number}/"
    case.refresh_from_db()
    assert case.state == "reported"


def test_a_bad_photo_refuses_the_disposal_and_stores_nothing(city, people):
    case = recent(city, people)
    move(case, case_service.accept, people.operator)
    move(case, case_service.file, people.shift_lead, condition=city.condition)
    move(case, case_service.dispatch, people.dispatcher, unit=city.unit)
    case.refresh_from_db()
    fake = io.BytesIO(b"not really a jpeg")
    fake.name = "photo.jpg"
    response = client_for(people.handler).post(
        f"/console/cases/{case.number}/do/dispose/",
        {"version": case.version, "reason": "已处理", "photos": [jpeg_upload(), fake]},
    )
    assert response.status_code == 400
    assert "不是 JPEG、PNG 或 WebP 照片" in response.content.decode()
    assert "已处理" in response.content.decode()  # the text is still in the form
    case.refresh_from_db()
    assert case.state == "dispatched" and case.attachment_set.count() == 0


def test_an_unknown_unit_is_refused_with_the_field_named(city, people):
    case = recent(city, people)
    move(case, case_service.accept, people.operator)
    move(case, case_service.file, people.shift_lead, condition=city.condition)
    case.refresh_from_db()
    response = client_for(people.dispatcher).post(
        f"/console/cases/{case.number}/do/dispatch/", {"version": case.version, "unit": "999999"}
    )
    assert response.status_code == 400 and "所选单位不存在或已停用" in response.content.decode()
    case.refresh_from_db()
    assert case.state == "filed"


def test_the_unit_receives_a_dispatch_once(city, people):
    case = recent(city, people)
    move(case, case_service.accept, people.operator)
    move(case, case_service.file, people.shift_lead, condition=city.condition)
    move(case, case_service.dispatch, people.dispatcher, unit=city.unit)
    case.refresh_from_db()
    client = client_for(people.handler)
    assert "receive" in actions_on(client.get(f"/console/cases/{case.number}/"))
    assert client.post(f"/console/cases/{case.number}/do/receive/", {"version": case.version}).status_code == 302
    case.refresh_from_db()
    assert case.received_at is not None and case.state == "dispatched"
    assert "receive" not in actions_on(client.get(f"/console/cases/{case.number}/"))


def test_the_approver_starts_from_the_requested_extension_and_may_change_it(city, people):
    case = recent(city, people)
    move(case, case_service.accept, people.operator)
    move(case, case_service.file, people.shift_lead, condition=city.condition)
    move(case, case_service.dispatch, people.dispatcher, unit=city.unit)
    case.refresh_from_db()
    move(
        case,
        case_service.request_extension,
        people.handler,
        reason="等配件",
        extension_value=3,
        extension_unit="work_days",
    )
    case.refresh_from_db()
    client = client_for(people.dispatcher)
    page = client.get(f"/console/cases/{case.number}/").content.decode()
    form = page[page.index('data-action="approve_extension"') :]
    form = form[: form.index("</details>")]
    assert "批准延长" in form and re.search(r'name="extension_value"[^>]*value="3"', form)
    assert '<option value="work_days" selected>' in form
    refused = client.post(
        f"/console/cases/{case.number}/do/approve_extension/",
        {"version": case.version, "extension_value": "-1", "extension_unit": "work_days"},
    )
    assert refused.status_code == 400 and "延期时长要大于 0" in refused.content.decode()
    assert Case.objects.get(pk=case.pk).state == "extension_requested"
    granted = client.post(
        f"/console/cases/{case.number}/do/approve_extension/",
        {"version": case.version, "extension_value": "1", "extension_unit": "work_days"},
    )
    assert granted.status_code == 302
    event = CaseEvent.objects.get(case=case, kind="approve_extension")
    assert event.data["extension"] == {"value": 1.0, "unit": "work_days"}


@pytest.mark.parametrize("action", ["rate", "reopen", "verify", "no_such_action"])
def test_actions_that_are_not_the_consoles_answer_not_found(city, people, action):
    case = recent(city, people)
    response = client_for(people.operator).post(f"/console/cases/{case.number}/do/{action}/", {"version": 1})
    assert response.status_code == 404


def test_the_tickers_warning_and_overdue_marks_show_in_the_timeline_as_the_system(city, people):
    from citykeeper.services import deadlines

    case = recent(city, people, at=timezone.now() - dt.timedelta(days=3))
    fired = deadlines.catch_up(case, now=timezone.now())
    assert fired  # the accept stage's 15 minutes ran out days ago
    page = page_of(people.operator, case)
    timeline = page[page.index('class="timeline"') :]
    assert timeline.count("系统") >= len(fired)
