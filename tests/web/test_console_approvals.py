"""Approvals and urging in the console: the pending requests with who asked, why, the time
asked for and the photos; approving and denying with the version shown; urge threads with
replies and overdue replies in red; staff-only attachments; bad input and query budgets."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from PIL import Image

from citykeeper.services import attachments
from citykeeper.services import cases as case_service
from citykeeper.services.cases import MoveInput
from citykeeper.store.models import Case, CaseEvent
from tests.factories import report_case

APPROVALS = "/console/approvals/"
URGES = "/console/approvals/urges/"
QUERY_BUDGET = 12


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def at_unit(city, people, *, minutes_ago=30) -> Case:
    """A case dispatched to the unit ``minutes_ago`` minutes ago."""
    at = timezone.now() - dt.timedelta(minutes=minutes_ago)
    case = report_case(city, people, at=at)
    steps = [
        (case_service.accept, people.operator, MoveInput()),
        (case_service.file, people.shift_lead, MoveInput(condition=city.condition)),
        (case_service.dispatch, people.dispatcher, MoveInput(unit=city.unit)),
    ]
    for i, (verb, actor, data) in enumerate(steps, start=1):
        case = verb(case.number, actor=actor, version=case.version, at=at + dt.timedelta(seconds=i), data=data)
    return case


def photo(case, color=(200, 30, 30)):
    out = io.BytesIO()
    Image.new("RGB", (320, 240), color).save(out, "JPEG")
    upload = SimpleUploadedFile("p.jpg", out.getvalue(), content_type="image/jpeg")
    attachment, _ = attachments.save_checked(case, attachments.check_image(upload), by=None)
    return attachment


def extension_requested(city, people, **kw) -> tuple[Case, int]:
    case = at_unit(city, people, **kw)
    picture = photo(case)
    case = case_service.request_extension(
        case.number,
        actor=people.handler,
        version=case.version,
        at=timezone.now() - dt.timedelta(minutes=5),
        data=MoveInput(
            reason="需采购配件，厂家三天后到货", extension_value=2, extension_unit="work_days", attachments=[picture.pk]
        ),
    )
    return case, picture.pk


def token_for(client, url, number) -> str:
    page = client.get(url).content.decode()
    block = page[page.index(f'data-number="{number}"') :]
    return re.search(r'name="token" value="([^"]+)"', block).group(1)


def decide(client, case, action, *, reason="", version=None, token=None):
    return client.post(
        APPROVALS,
        {
            "token": token or token_for(client, APPROVALS, case.number),
            "number": case.number,
            "version": str(case.version if version is None else version),
            "action": action,
            "reason": reason,
        },
        follow=True,
    )


# ------------------------------------------------------------------ approvals


@pytest.mark.parametrize("persona", ["operator", "handler", "leader", "inspector", "citizen"])
def test_approvals_are_for_dispatchers_and_shift_leads_only(persona, city, people):
    response = client_for(getattr(people, persona)).get(APPROVALS)
    assert response.status_code == 403 and "审批页面只对派遣员和值班长开放" in response.content.decode()


def test_a_pending_extension_shows_who_asked_when_why_how_long_and_the_photo(city, people):
    case, picture = extension_requested(city, people)
    page = client_for(people.dispatcher).get(APPROVALS).content.decode()
    assert "延期申请" in page and f'href="/console/cases/{case.number}/"' in page
    assert "申请单位：鼓楼区市政所 · 申请人：handler · 申请时间：" in page
    assert "需采购配件，厂家三天后到货" in page
    assert "申请延期：<strong>2 工作日</strong>" in page
    assert f'src="/console/cases/{case.number}/attachments/{picture}/?v=thumb"' in page
    assert "同意延期" in page and "不同意延期" in page


def test_approving_an_extension_moves_the_deadline(city, people):
    case, _ = extension_requested(city, people)
    before = case.stage_deadline_at
    response = decide(client_for(people.dispatcher), case, "approve_extension", reason="同意")
    assert f"案件 {case.number}：已同意延期。" in response.content.decode()
    case.refresh_from_db()
    assert case.state == "dispatched" and case.extension_count == 1
    assert case.stage_deadline_at > before + dt.timedelta(hours=8)
    assert "没有待审批的申请" in response.content.decode()


def test_the_approver_grants_less_time_than_was_asked(city, people):
    asked, _ = extension_requested(city, people)
    as_asked, _ = extension_requested(city, people)
    client = client_for(people.dispatcher)
    page = client.get(APPROVALS).content.decode()
    block = page[page.index(f'data-number="{asked.number}"') :]
    assert re.search(r'name="extension_value"[^>]*value="2"', block)
    assert '<option value="work_days" selected>' in block
    token = token_for(client, APPROVALS, asked.number)
    response = client.post(
        APPROVALS,
        {
            "token": token,
            "number": asked.number,
            "version": str(asked.version),
            "action": "approve_extension",
            "extension_value": "4",
            "extension_unit": "work_hours",
        },
        follow=True,
    )
    assert f"案件 {asked.number}：已同意延期。" in response.content.decode()
    granted = CaseEvent.objects.filter(case=asked, kind="approve_extension").get()
    assert granted.data["extension"] == {"value": 4.0, "unit": "work_hours"}
    decide(client, as_asked, "approve_extension")  # no value sent: as asked
    full = CaseEvent.objects.filter(case=as_asked, kind="approve_extension").get()
    assert "extension" not in full.data  # the request's own figure applies
    asked.refresh_from_db()
    as_asked.refresh_from_db()
    # Both were dispatched together; four working hours end well before two working days.
    assert asked.stage_deadline_at < as_asked.stage_deadline_at


@pytest.mark.parametrize(
    "value, unit, message",
    [
        ("abc", "work_days", "延期时长要填数字"),
        ("0", "work_days", "延期时长要大于 0"),
        ("2", "fortnights", "未知的时间单位"),
    ],
)
def test_a_bad_granted_extension_is_refused_and_the_request_stays(value, unit, message, city, people):
    case, _ = extension_requested(city, people)
    client = client_for(people.dispatcher)
    response = client.post(
        APPROVALS,
        {
            "token": token_for(client, APPROVALS, case.number),
            "number": case.number,
            "version": str(case.version),
            "action": "approve_extension",
            "extension_value": value,
            "extension_unit": unit,
        },
        follow=True,
    )
    assert message in response.content.decode()
    assert Case.objects.get(pk=case.pk).state == "extension_requested"


def test_a_denial_needs_a_reason(city, people):
    case, _ = extension_requested(city, people)
    client = client_for(people.dispatcher)
    response = decide(client, case, "deny_extension", reason="  ")
    assert "不同意时请填写理由" in response.content.decode()
    assert Case.objects.get(pk=case.pk).state == "extension_requested"
    response = decide(client, case, "deny_extension", reason="配件可就近采购")
    assert "已不同意延期" in response.content.decode()
    assert Case.objects.get(pk=case.pk).state == "dispatched"


def test_return_and_suspension_requests_are_decided_the_same_way(city, people):
    returned = at_unit(city, people)
    returned = case_service.request_return(
        returned.number,
        actor=people.handler,
        version=returned.version,
        at=timezone.now(),
        data=MoveInput(reason="非本单位职责"),
    )
    suspended = at_unit(city, people)
    suspended = case_service.request_suspension(
        suspended.number,
        actor=people.handler,
        version=suspended.version,
        at=timezone.now(),
        data=MoveInput(reason="等待施工许可"),
    )
    client = client_for(people.shift_lead)
    page = client.get(APPROVALS).content.decode()
    assert "回退申请" in page and "挂账/缓办申请" in page and "申请延期" not in page
    decide(client, returned, "approve_return")
    decide(client, suspended, "approve_suspension")
    assert Case.objects.get(pk=returned.pk).state == "filed"
    assert Case.objects.get(pk=suspended.pk).state == "suspended"


def test_a_request_decided_meanwhile_says_by_whom(city, people):
    case, _ = extension_requested(city, people)
    client = client_for(people.dispatcher)
    token = token_for(client, APPROVALS, case.number)
    case_service.approve_extension(case.number, actor=people.shift_lead, version=case.version, at=timezone.now())
    response = decide(client, case, "deny_extension", reason="不行", token=token)
    page = response.content.decode()
    assert re.search(rf"案件 {case.number} 已被他人处理：shiftlead 于 [\d-]+ [\d:]+ 同意延期", page)
    assert Case.objects.get(pk=case.pk).extension_count == 1
    assert not CaseEvent.objects.filter(case=case, kind="deny_extension").exists()


def test_the_same_decision_sent_twice_is_taken_once(city, people):
    case, _ = extension_requested(city, people)
    client = client_for(people.dispatcher)
    token = token_for(client, APPROVALS, case.number)
    decide(client, case, "approve_extension", token=token)
    again = decide(client, case, "approve_extension", token=token)
    assert "这次提交已经处理过（重复提交），没有重复操作" in again.content.decode()
    other_tab = decide(client, case, "approve_extension", token="another-tab")
    assert "重复提交：dispatcher 于" in other_tab.content.decode()
    assert CaseEvent.objects.filter(case=case, kind="approve_extension").count() == 1


def test_a_decision_that_is_not_one_or_without_a_version_is_refused(city, people):
    case, _ = extension_requested(city, people)
    client = client_for(people.dispatcher)
    for action, version in (("close", case.version), ("dispatch", case.version), ("approve_extension", "")):
        response = client.post(
            APPROVALS,
            {"token": f"t-{action}-{version}", "number": case.number, "version": version, "action": action},
            follow=True,
        )
        assert "请求不完整" in response.content.decode()
    response = decide(client, case, "approve_return")  # a decision for another kind of request
    assert "案件当前状态不能进行这个操作" in response.content.decode()
    assert Case.objects.get(pk=case.pk).state == "extension_requested"


def test_requests_outside_the_scope_are_not_shown_and_refused(city, people):
    case, _ = extension_requested(city, people)
    from citykeeper.domain.workflow import Role
    from tests.factories import make_user

    outsider = make_user("dispatcher_yl", Role.DISPATCHER, area=city.other_district)
    client = client_for(outsider)
    assert case.number not in client.get(APPROVALS).content.decode()
    response = decide(client, case, "approve_extension", token="outside")
    assert "案件不在您的管辖范围内" in response.content.decode()
    assert Case.objects.get(pk=case.pk).state == "extension_requested"


def _queries(client, url, marker, expected) -> int:
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.content.decode().count(marker) == expected
    return len(queries)


def test_the_approvals_page_takes_the_same_few_queries_for_few_or_many_requests(city, people):
    client = client_for(people.dispatcher)
    extension_requested(city, people)
    few = _queries(client, APPROVALS, 'class="request"', 1)
    for _ in range(5):
        extension_requested(city, people)
    many = _queries(client, APPROVALS, 'class="request"', 6)
    assert few == many <= QUERY_BUDGET


# ------------------------------------------------------------------ attachments


def test_staff_who_see_the_case_get_its_photo_and_others_get_404(city, people):
    case, picture = extension_requested(city, people)
    url = f"/console/cases/{case.number}/attachments/{picture}/"
    response = client_for(people.dispatcher).get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"
    thumb = client_for(people.handler).get(url + "?v=thumb")
    assert thumb.status_code == 200
    assert client_for(people.outside_operator).get(url).status_code == 404
    assert client_for(people.citizen).get(url).status_code == 404
    assert client_for(people.dispatcher).get(f"/console/cases/{case.number}/attachments/999999/").status_code == 404
    assert Client().get(url).status_code == 302


# ------------------------------------------------------------------ urging


def urged(city, people, *, due_in: dt.timedelta, reason="请今天内处理") -> Case:
    case = at_unit(city, people)
    return case_service.urge(
        case.number,
        actor=people.leader,
        version=case.version,
        at=timezone.now() - dt.timedelta(minutes=10),
        data=MoveInput(reason=reason, reply_due_at=timezone.now() + due_in),
    )


def reply(client, case, seq, text="已安排人员到场", token=None):
    return client.post(
        URGES,
        {
            "token": token or token_for(client, URGES, case.number),
            "op": "reply",
            "number": case.number,
            "version": str(case.version),
            "reply_to": str(seq),
            "reason": text,
        },
        follow=True,
    )


def test_the_urges_page_is_for_the_centre_and_the_units(city, people):
    for persona in ("dispatcher", "shift_lead", "leader", "handler", "operator"):
        assert client_for(getattr(people, persona)).get(URGES).status_code == 200
    for persona in ("inspector", "citizen"):
        response = client_for(getattr(people, persona)).get(URGES)
        assert response.status_code == 403 and "督办页面只对" in response.content.decode()


def test_an_urge_past_its_reply_due_without_a_reply_is_red(city, people):
    late = urged(city, people, due_in=-dt.timedelta(minutes=1), reason="居民投诉多次")
    waiting = urged(city, people, due_in=dt.timedelta(hours=2))
    page = client_for(people.dispatcher).get(URGES).content.decode()
    late_block = page[page.index(f'data-number="{late.number}"') : page.index(f'data-number="{waiting.number}"')]
    assert f'<li class="request urge late" data-number="{late.number}">' in page
    assert f'<li class="request urge" data-number="{waiting.number}">' in page
    assert "（已逾期未回复）" in late_block
    assert "居民投诉多次" in late_block and "leader 于" in late_block and "尚未回复" in late_block
    waiting_block = page[page.index(f'data-number="{waiting.number}"') :]
    assert "urge late" not in waiting_block and "已逾期" not in waiting_block


def test_the_unit_replies_to_an_urge_and_the_thread_shows_it(city, people):
    case = urged(city, people, due_in=dt.timedelta(hours=2))
    urge_seq = case.chain_seq
    client = client_for(people.handler)
    response = reply(client, case, urge_seq)
    page = response.content.decode()
    assert f"案件 {case.number}：已回复督办。" in page
    assert "handler 于" in page and "回复：已安排人员到场" in page and "尚未回复" not in page
    note = CaseEvent.objects.get(case=case, kind="note")
    assert note.data["reply_to"] == urge_seq and note.reason == "已安排人员到场"


def test_a_reply_past_the_due_time_is_no_longer_waiting_but_marked_late(city, people):
    case = urged(city, people, due_in=-dt.timedelta(minutes=1))
    reply(client_for(people.handler), case, case.chain_seq)
    page = client_for(people.dispatcher).get(URGES).content.decode()
    assert "（逾期回复）" in page and "urge late" not in page


def test_a_reply_to_something_that_is_not_an_urge_is_refused(city, people):
    case = urged(city, people, due_in=dt.timedelta(hours=2))
    response = reply(client_for(people.handler), case, 1)  # the report event
    assert "没有找到要回复的督办" in response.content.decode()
    assert not CaseEvent.objects.filter(case=case, kind="note").exists()


def test_a_reply_on_a_case_moved_meanwhile_says_what_happened(city, people):
    case = urged(city, people, due_in=dt.timedelta(hours=2))
    client = client_for(people.handler)
    token = token_for(client, URGES, case.number)
    case_service.receive(case.number, actor=people.handler, version=case.version, at=timezone.now())
    response = reply(client, case, case.chain_seq, token=token)
    assert re.search(r"已被他人处理：handler 于 [\d-]+ [\d:]+ 签收", response.content.decode())


def test_a_leader_urges_a_case_by_its_number_with_a_reply_due(city, people):
    case = at_unit(city, people)
    due = timezone.localtime(timezone.now() + dt.timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
    client = client_for(people.leader)
    fields = {"token": "new-urge", "op": "urge", "number": case.number, "reason": "尽快处理", "reply_due": due}
    response = client.post(URGES, fields, follow=True)
    assert f"案件 {case.number}：已督办。" in response.content.decode()
    event = CaseEvent.objects.get(case=case, kind="urge")
    assert event.reason == "尽快处理" and event.data["reply_due_at"].startswith(due.replace("T", "T")[:13])
    again = client.post(URGES, fields, follow=True)  # double submission
    assert "重复提交" in again.content.decode()
    assert CaseEvent.objects.filter(case=case, kind="urge").count() == 1


@pytest.mark.parametrize(
    ("persona", "fields", "message"),
    [
        ("handler", {"reply_due": "2099-01-01T10:00"}, "只有值班长和领导可以督办"),
        ("leader", {"reply_due": ""}, "请填写回复期限"),
        ("leader", {"reply_due": "2020-01-01T10:00"}, "回复期限应晚于现在"),
        ("leader", {"reply_due": "2099-01-01T10:00", "reason": ""}, "请填写内容"),
        ("leader", {"reply_due": "2099-01-01T10:00", "number": "2026000000001"}, "没有这个案件"),
    ],
)
def test_bad_urges_are_refused_in_chinese(persona, fields, message, city, people):
    case = at_unit(city, people)
    data = {"token": "t", "op": "urge", "number": case.number, "reason": "尽快处理", **fields}
    response = client_for(getattr(people, persona)).post(URGES, data, follow=True)
    assert message in response.content.decode()
    assert not CaseEvent.objects.filter(kind="urge").exists()


def test_urged_cases_outside_the_scope_are_not_shown(city, people):
    mine = urged(city, people, due_in=dt.timedelta(hours=2))
    page = client_for(people.other_handler).get(URGES).content.decode()
    assert mine.number not in page and "没有督办中的案件" in page


def test_the_urges_page_takes_the_same_few_queries_for_few_or_many_urges(city, people):
    client = client_for(people.dispatcher)
    case = urged(city, people, due_in=dt.timedelta(hours=2))
    reply(client_for(people.handler), case, case.chain_seq)
    few = _queries(client, URGES, 'class="urge-item"', 1)
    for _ in range(5):
        case = urged(city, people, due_in=-dt.timedelta(hours=1))
        reply(client_for(people.handler), case, case.chain_seq)
    many = _queries(client, URGES, 'class="urge-item"', 6)
    assert few == many <= QUERY_BUDGET


@pytest.mark.parametrize("url", [APPROVALS, URGES])
def test_long_lists_page_by_deadline_with_the_total_in_the_heading(url, city, people, monkeypatch):
    from citykeeper.web.console import approvals

    monkeypatch.setattr(approvals, "PAGE_SIZE", 2)
    if url == APPROVALS:
        cases = [extension_requested(city, people, minutes_ago=60 - i)[0] for i in range(5)]
    else:
        cases = [urged(city, people, due_in=dt.timedelta(hours=2)) for _ in range(5)]
    expected = [c.number for c in sorted(cases, key=lambda c: (c.stage_deadline_at, c.pk))]
    client = client_for(people.dispatcher)
    seen, page_url, pages = [], url, 0
    while page_url:
        page = client.get(page_url).content.decode()
        assert '<span class="count some">5</span>' in page
        seen += re.findall(r'<li class="request[^"]*" data-number="([^"]+)"', page)
        next_link = re.search(r'<a href="([^"]+)" rel="next">', page)
        page_url = next_link.group(1).replace("&amp;", "&") if next_link else None
        pages += 1
        if pages > 1:
            assert f'<a href="{url}" rel="first">' in page
    assert seen == expected and pages == 3
