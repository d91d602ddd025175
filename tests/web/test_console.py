"""The console's queue pages: who may open them, filters, search, sorting, key paging,
escaping and a query budget that does not grow with the number of cases."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from citykeeper.store.models import Case
from tests.factories import report_case

QUERY_BUDGET = 12


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def numbers_on(response) -> list[str]:
    return re.findall(r'<tr data-number="([^"]+)"[ >]', response.content.decode())


def report(city, people, **kw) -> Case:
    return report_case(city, people, at=kw.pop("at", timezone.now() - dt.timedelta(minutes=5)), **kw)


def test_the_console_asks_for_a_login(city, people):
    response = Client().get("/console/")
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=/console/")
    response = Client().get("/console/queues/reported/")
    assert response["Location"].startswith("/login/?next=/console/queues/reported/")


@pytest.mark.parametrize("persona", ["citizen", "inspector"])
def test_people_without_a_queue_get_a_chinese_403(persona, city, people):
    client = client_for(getattr(people, persona))
    for url in ("/console/", "/console/queues/reported/"):
        response = client.get(url)
        assert response.status_code == 403
        assert "工作台只对受理员" in response.content.decode()


def test_the_console_opens_the_first_queue_of_each_role(city, people):
    assert client_for(people.operator).get("/console/")["Location"] == "/console/queues/reported/"
    assert client_for(people.dispatcher).get("/console/")["Location"] == "/console/queues/filed/"
    assert client_for(people.handler).get("/console/")["Location"] == "/console/queues/unit_new/"
    assert client_for(people.leader).get("/console/")["Location"] == "/console/queues/urged/"


def test_an_unknown_queue_or_another_roles_queue_is_404(city, people):
    client = client_for(people.operator)
    assert client.get("/console/queues/nothing/").status_code == 404
    assert client.get("/console/queues/filed/").status_code == 404  # the dispatcher's
    assert client.get("/console/queues/unit_new/").status_code == 404


def test_the_page_lists_the_queue_with_counts_in_the_navigation(city, people):
    cases = [report(city, people) for _ in range(3)]
    report(city, people, grid=city.other_grid)  # another district: not the operator's
    response = client_for(people.operator).get("/console/queues/reported/")
    page = response.content.decode()
    assert response.status_code == 200
    assert sorted(numbers_on(response)) == sorted(c.number for c in cases)
    assert 'data-count="reported">3<' in page and 'data-count="disposed">0<' in page
    assert f'href="/console/cases/{cases[0].number}/?from=reported"' in page
    assert "污水井盖" in page and "监督员上报" in page and "受理" in page
    assert 'class="sla ok"' in page and "剩 " in page


def test_filters_and_search_narrow_the_rows(city, people):
    by_inspector = report(city, people, description="井盖破损，行人易绊倒", address="中山北路109号")
    by_phone = report(city, people, source="hotline", description="窨井盖缺失", address="黄河路与中山北路交叉口")
    by_citizen = report(
        city, people, source="citizen", description="路灯不亮", at=timezone.now() - dt.timedelta(days=3)
    )
    client = client_for(people.operator)
    url = "/console/queues/reported/"
    assert numbers_on(client.get(url, {"source": "hotline"})) == [by_phone.number]
    assert numbers_on(client.get(url, {"q": "109号"})) == [by_inspector.number]
    assert numbers_on(client.get(url, {"q": "路灯"})) == [by_citizen.number]
    assert numbers_on(client.get(url, {"q": by_phone.number})) == [by_phone.number]
    assert numbers_on(client.get(url, {"q": "没有这种描述"})) == []
    assert "没有符合条件的案件" in client.get(url, {"q": "没有这种描述"}).content.decode()
    today = timezone.localdate().isoformat()
    assert sorted(numbers_on(client.get(url, {"from": today}))) == sorted([by_inspector.number, by_phone.number])
    assert numbers_on(client.get(url, {"to": (timezone.localdate() - dt.timedelta(days=1)).isoformat()})) == [
        by_citizen.number
    ]
    Case.objects.filter(pk=by_citizen.pk).update(stage_overdue=True, stage_warned=True)
    assert numbers_on(client.get(url, {"deadline": "overdue"})) == [by_citizen.number]
    assert by_citizen.number not in numbers_on(client.get(url, {"deadline": "ok"}))
    assert numbers_on(client.get(url, {"category": str(city.category.pk), "source": "citizen"})) == [by_citizen.number]
    assert numbers_on(client.get(url, {"category": "999999"})) == []
    # Garbage in the form is ignored, not an error.
    assert len(numbers_on(client.get(url, {"from": "2026-13-45", "deadline": "x", "unit": "abc"}))) == 3


def test_the_area_filter_narrows_to_a_district_the_user_can_see(city, people):
    here = report(city, people)
    there = report(city, people, grid=city.other_grid)
    client = client_for(people.city_operator)
    url = "/console/queues/reported/"
    assert sorted(numbers_on(client.get(url))) == sorted([here.number, there.number])
    assert numbers_on(client.get(url, {"area": city.other_district.code})) == [there.number]
    assert numbers_on(client.get(url, {"area": "320302001"})) == [here.number]  # a street office
    # A district operator is offered only their own district and cannot filter into another.
    page = client_for(people.operator).get(url, {"area": city.other_district.code})
    assert f'value="{city.other_district.code}"' not in page.content.decode() and numbers_on(page) == [here.number]


def test_rows_are_sorted_by_deadline_by_default_and_by_reported_time_on_request(city, people):
    now = timezone.now()
    cases = [report(city, people, at=now - dt.timedelta(minutes=m)) for m in (30, 20, 10)]
    for case, hours in zip(cases, (5, 1, 3), strict=True):
        Case.objects.filter(pk=case.pk).update(stage_deadline_at=now + dt.timedelta(hours=hours))
    client = client_for(people.operator)
    url = "/console/queues/reported/"
    assert numbers_on(client.get(url)) == [cases[1].number, cases[2].number, cases[0].number]
    assert numbers_on(client.get(url, {"sort": "reported"})) == [cases[2].number, cases[1].number, cases[0].number]


def test_the_sla_badges_are_green_yellow_red_and_grey(city, people):
    now = timezone.now()
    ok, warn, late, paused = (report(city, people) for _ in range(4))
    Case.objects.filter(pk=ok.pk).update(stage_deadline_at=now + dt.timedelta(hours=1, minutes=20, seconds=30))
    Case.objects.filter(pk=warn.pk).update(
        stage_deadline_at=now + dt.timedelta(minutes=9, seconds=30), stage_warned=True
    )
    Case.objects.filter(pk=late.pk).update(stage_deadline_at=now - dt.timedelta(hours=3, seconds=5), stage_overdue=True)
    Case.objects.filter(pk=paused.pk).update(stage_deadline_at=None, stage_warn_at=None, stage_remaining_seconds=7200)
    page = client_for(people.operator).get("/console/queues/reported/").content.decode()

    def cell(case):
        return re.search(rf'data-number="{case.number}">.*?<td class="stage">(.*?)</td>', page, re.S).group(1)

    assert 'class="sla ok"' in cell(ok) and "剩 1 小时 20 分" in cell(ok)
    assert 'class="sla warn"' in cell(warn) and "剩 9 分" in cell(warn)
    assert 'class="sla overdue"' in cell(late) and "超时 3 小时 0 分" in cell(late)
    assert 'class="sla paused"' in cell(paused) and "2 小时 0 分" in cell(paused)


def test_key_paging_shows_fifty_rows_a_page_without_gaps_or_repeats(city, people):
    now = timezone.now()
    cases = [report(city, people) for _ in range(60)]
    # Ties on the deadline and cases without one must page correctly too.
    for i, case in enumerate(cases):
        deadline = None if i % 7 == 0 else now + dt.timedelta(minutes=i // 3)
        Case.objects.filter(pk=case.pk).update(stage_deadline_at=deadline)
    client = client_for(people.operator)
    for params in ({}, {"sort": "reported"}):
        first = client.get("/console/queues/reported/", params)
        page_one = numbers_on(first)
        assert len(page_one) == 50
        next_url = re.search(r'<a href="([^"]+)" rel="next">', first.content.decode()).group(1).replace("&amp;", "&")
        second = client.get(next_url)
        page_two = numbers_on(second)
        assert len(page_two) == 10 and not set(page_one) & set(page_two)
        assert set(page_one + page_two) == {c.number for c in cases}
        assert 'rel="next"' not in second.content.decode() and 'rel="first"' in second.content.decode()
    ordered = list(
        Case.objects.filter(state="reported").order_by("stage_deadline_at", "id").values_list("number", flat=True)
    )
    with_deadline = [n for n in ordered if Case.objects.get(number=n).stage_deadline_at is not None]
    first = numbers_on(client.get("/console/queues/reported/"))
    assert first == with_deadline[:50]
    assert client.get("/console/queues/reported/", {"after": "garbage"}).status_code == 200


def test_the_page_escapes_what_people_typed(city, people):
    report(city, people, description="<script>alert('x')</script>", address="<b>路口</b>")
    page = client_for(people.operator).get("/console/queues/reported/", {"q": "<script>"}).content.decode()
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page
    assert "<b>路口</b>" not in page and "&lt;b&gt;路口&lt;/b&gt;" in page
    assert 'value="&lt;script&gt;"' in page


def _queries_for_page(user, cases: int, city, people) -> int:
    have = Case.objects.filter(state="reported").count()
    for _ in range(cases - have):
        report(city, people)
    client = client_for(user)
    client.get("/console/queues/reported/")  # warm the caches that are per process, not per request
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/console/queues/reported/")
    assert response.status_code == 200 and len(numbers_on(response)) == min(cases, 50)
    return len(queries)


def test_the_queue_page_answers_in_a_fixed_small_number_of_queries(city, people, django_assert_max_num_queries):
    client = client_for(people.operator)
    with django_assert_max_num_queries(QUERY_BUDGET):
        client.get("/console/queues/reported/")
    with_ten = _queries_for_page(people.operator, 10, city, people)
    with_sixty = _queries_for_page(people.operator, 60, city, people)
    assert with_ten == with_sixty <= QUERY_BUDGET


# ------------------------------------------------------------------ live updates

LIVE = "/console/queues/reported/live/"


def test_the_live_fragment_has_a_strong_etag_and_answers_304_when_nothing_changed(city, people):
    report(city, people)
    report(city, people)
    client = client_for(people.operator)
    page = client.get("/console/queues/reported/")
    first = client.get(LIVE)
    etag = first["ETag"]
    assert first.status_code == 200 and etag.startswith('"') and not etag.startswith("W/")
    assert first["Cache-Control"] == "private, no-cache"
    body = first.content.decode()
    assert len(numbers_on(first)) == 2 and 'data-count="reported">2<' in body
    assert '<ul id="queue-nav" hx-swap-oob="true">' in body and "<html" not in body
    # The page carries the same ETag, so its first poll is already a 304.
    assert 'data-etag="{}"'.format(etag.replace('"', "&quot;")) in page.content.decode()
    again = client.get(LIVE, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again["ETag"] == etag and again.content == b""
    assert client.get(LIVE, HTTP_IF_NONE_MATCH=f'"other", {etag}').status_code == 304


def test_the_live_fragment_stays_304_while_only_the_countdown_moves(city, people):
    case = report(city, people)
    client = client_for(people.operator)
    first = client.get(LIVE)
    etag = first["ETag"]
    # Minutes pass (the same as moving the deadline closer without a transition): the badge's
    # text would read differently, but the browser counts it down itself, so still a 304.
    soon = timezone.now() + dt.timedelta(minutes=40)
    Case.objects.filter(pk=case.pk).update(stage_deadline_at=soon, stage_warn_at=soon - dt.timedelta(minutes=10))
    later = client.get(LIVE)
    assert later["ETag"] == etag and numbers_on(later) == [case.number]
    assert re.search(
        rf'class="sla ok"[^>]*data-ticks="left" data-deadline="{int(soon.timestamp() * 1000)}"',
        later.content.decode(),
    )
    assert client.get(LIVE, HTTP_IF_NONE_MATCH=etag).status_code == 304
    # The badge turns yellow (the warning time has passed): that is news.
    Case.objects.filter(pk=case.pk).update(stage_warn_at=timezone.now() - dt.timedelta(minutes=1))
    turned = client.get(LIVE, HTTP_IF_NONE_MATCH=etag)
    assert turned.status_code == 200 and 'class="sla warn"' in turned.content.decode()


def test_the_queue_page_gives_the_browser_the_countdowns_words(city, people):
    report(city, people)
    page = client_for(people.operator).get("/console/queues/reported/").content.decode()
    assert '<script id="countdown-formats" type="application/json">' in page
    assert '"left": "\\u5269 {time}"' in page and '"days": "{d} \\u5929 {h} \\u5c0f\\u65f6"' in page
    english = client_for(people.operator).get("/console/queues/reported/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '"over": "{time} overdue"' in english and '"left": "{time} left"' in english


def test_the_live_fragment_changes_when_a_case_enters_the_queue_or_changes(city, people):
    report(city, people)
    client = client_for(people.operator)
    etag = client.get(LIVE)["ETag"]
    urgent = report(city, people, urgent=True)
    changed = client.get(LIVE, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert urgent.number in numbers_on(changed) and 'data-count="reported">2<' in changed.content.decode()
    assert f'<tr data-number="{urgent.number}" data-urgent>' in changed.content.decode()
    # An edit that bumps the version (and keeps the counts) changes the ETag too.
    newer = changed["ETag"]
    Case.objects.filter(pk=urgent.pk).update(version=urgent.version + 1)
    assert client.get(LIVE, HTTP_IF_NONE_MATCH=newer).status_code == 200


def test_the_live_fragment_keeps_the_users_scope_and_filters(city, people):
    here = report(city, people)
    phoned = report(city, people, source="hotline")
    client = client_for(people.operator)
    etag = client.get(LIVE)["ETag"]
    report(city, people, grid=city.other_grid)  # another district: nothing changes for this operator
    assert client.get(LIVE, HTTP_IF_NONE_MATCH=etag).status_code == 304
    filtered = client.get(LIVE, {"source": "hotline"})
    assert numbers_on(filtered) == [phoned.number] and here.number not in filtered.content.decode()
    assert filtered["ETag"] != etag
    page = client.get("/console/queues/reported/", {"source": "hotline"}).content.decode()
    assert 'hx-get="/console/queues/reported/live/?source=hotline"' in page
    assert 'hx-trigger="every 15s"' in page
    assert 'hx-trigger="every 1s"' in client.get("/console/queues/reported/", {"poll": "1"}).content.decode()
    # The city operator sees both districts, so the same report is news there.
    everywhere = client_for(people.city_operator).get(LIVE)
    assert len(numbers_on(everywhere)) == 3


def test_the_live_fragment_is_for_the_queues_users_only(city, people):
    assert Client().get(LIVE).status_code == 401
    assert client_for(people.citizen).get(LIVE).status_code == 403
    assert client_for(people.operator).get("/console/queues/filed/live/").status_code == 404


def _queries_for_live(user, cases: int, city, people, *, not_modified: bool = False) -> int:
    have = Case.objects.filter(state="reported").count()
    for _ in range(cases - have):
        report(city, people)
    client = client_for(user)
    client.get(LIVE)  # warm the per-process caches
    headers = {"HTTP_IF_NONE_MATCH": client.get(LIVE)["ETag"]} if not_modified else {}
    with CaptureQueriesContext(connection) as queries:
        response = client.get(LIVE, **headers)
    assert response.status_code == (304 if not_modified else 200)
    return len(queries)


def test_the_live_fragment_stays_within_the_pages_query_budget(city, people):
    with_ten = _queries_for_live(people.operator, 10, city, people)
    with_sixty = _queries_for_live(people.operator, 60, city, people)
    unchanged = _queries_for_live(people.operator, 60, city, people, not_modified=True)
    assert with_ten == with_sixty <= QUERY_BUDGET and unchanged <= with_sixty
