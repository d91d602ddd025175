"""Saved queue filters (常用筛选): saving the current conditions under a name, replacing a
name only after confirming, the limit per queue, deleting only one's own, and the partial
the queue page shows them with."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.template.loader import render_to_string
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from citykeeper.services import queues
from citykeeper.store.models import SavedFilter
from citykeeper.web.console.filters import MAX_PER_QUEUE, clean_query, filters_context

SAVE = "/console/filters/"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def said(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def keep(user, name, query, queue="reported") -> SavedFilter:
    return SavedFilter.objects.create(user=user, queue=queue, name=name, query=query, created_at=timezone.now())


def test_only_the_filter_forms_keys_are_kept_in_a_fixed_order():
    assert clean_query("?after=123.4&q=井盖&poll=1&source=hotline&x=1") == "source=hotline&q=%E4%BA%95%E7%9B%96"
    assert clean_query("sort=reported&area=320302&within=2h&deadline=") == "area=320302&sort=reported&within=2h"
    assert clean_query("q=a&q=+b+") == "q=b"  # the last one, as the queue page reads it
    assert clean_query("after=1.2&poll=3") == ""


def test_saving_keeps_the_current_conditions_under_a_name(city, people):
    response = client_for(people.operator).post(
        SAVE, {"queue": "reported", "name": " 热线 今天 ", "query": "source=hotline&after=1.2&from=2026-11-21"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/console/queues/reported/?source=hotline&from=2026-11-21"
    saved = SavedFilter.objects.get(user=people.operator)
    assert (saved.queue, saved.name, saved.query) == ("reported", "热线 今天", "source=hotline&from=2026-11-21")
    assert said(response) == ["已保存常用筛选“热线 今天”。"]


@pytest.mark.parametrize("name", ["", "   ", "名" * 41])
def test_a_name_must_have_one_to_forty_characters(name, city, people):
    response = client_for(people.operator).post(SAVE, {"queue": "reported", "name": name, "query": "source=hotline"})
    assert response.status_code == 302 and response["Location"] == "/console/queues/reported/?source=hotline"
    assert said(response) == ["名称须为 1 到 40 个字。"]
    assert not SavedFilter.objects.exists()


def test_forty_characters_are_enough(city, people):
    client_for(people.operator).post(SAVE, {"queue": "reported", "name": "名" * 40, "query": "source=hotline"})
    assert SavedFilter.objects.get().name == "名" * 40


def test_nothing_to_save_without_conditions(city, people):
    response = client_for(people.operator).post(SAVE, {"queue": "reported", "name": "空", "query": "after=1.2"})
    assert said(response) == ["当前没有筛选条件，无需保存。"] and not SavedFilter.objects.exists()


def test_saving_an_existing_name_replaces_it_only_after_confirming(city, people):
    old = keep(people.operator, "热线", "source=hotline")
    client = client_for(people.operator)
    asked = client.post(SAVE, {"queue": "reported", "name": "热线", "query": "source=hotline&deadline=overdue"})
    page = asked.content.decode()
    assert asked.status_code == 200 and "已经有一个名为“热线”的常用筛选" in page
    assert '<input type="hidden" name="replace" value="1">' in page
    assert 'value="source=hotline&amp;deadline=overdue"' in page
    assert "<code>source=hotline</code>" in page and "<code>source=hotline · deadline=overdue</code>" in page
    old.refresh_from_db()
    assert old.query == "source=hotline"
    confirmed = client.post(
        SAVE, {"queue": "reported", "name": "热线", "query": "source=hotline&deadline=overdue", "replace": "1"}
    )
    assert confirmed.status_code == 302
    assert list(SavedFilter.objects.values_list("name", "query")) == [("热线", "source=hotline&deadline=overdue")]


def test_names_are_unique_per_user_and_queue_only(city, people):
    keep(people.operator, "热线", "source=hotline")
    client_for(people.operator).post(SAVE, {"queue": "reported", "name": "热线", "query": "q=1"})  # asks first
    client_for(people.operator).post(SAVE, {"queue": "verified", "name": "热线", "query": "q=2"})
    client_for(people.shift_lead).post(SAVE, {"queue": "reported", "name": "热线", "query": "q=3"})
    assert sorted(SavedFilter.objects.values_list("user__username", "queue", "query")) == [
        ("operator", "reported", "source=hotline"),
        ("operator", "verified", "q=2"),
        ("shiftlead", "reported", "q=3"),
    ]


def test_at_most_twenty_a_queue(city, people):
    for n in range(MAX_PER_QUEUE):
        keep(people.operator, f"筛选{n}", f"q={n}")
    client = client_for(people.operator)
    response = client.post(SAVE, {"queue": "reported", "name": "再来一个", "query": "q=x"})
    assert said(response) == ["每个队列最多保存 20 个常用筛选，请先删除不用的。"]
    assert SavedFilter.objects.count() == MAX_PER_QUEUE
    client.post(SAVE, {"queue": "reported", "name": "筛选3", "query": "q=new", "replace": "1"})  # replacing is fine
    assert SavedFilter.objects.get(name="筛选3").query == "q=new"
    client.post(SAVE, {"queue": "verified", "name": "再来一个", "query": "q=x"})  # another queue has room
    assert SavedFilter.objects.filter(queue="verified").count() == 1


def test_only_a_queue_of_ones_own_can_have_filters(city, people):
    client = client_for(people.operator)
    assert client.post(SAVE, {"queue": "filed", "name": "x", "query": "q=1"}).status_code == 404  # the dispatcher's
    assert client.post(SAVE, {"queue": "nothing", "name": "x", "query": "q=1"}).status_code == 404
    assert client_for(people.citizen).post(SAVE, {"queue": "reported", "name": "x", "query": "q=1"}).status_code == 404
    assert not SavedFilter.objects.exists()


def test_saving_and_deleting_need_a_login_and_a_post(city, people):
    assert Client().post(SAVE, {"queue": "reported", "name": "x", "query": "q=1"})["Location"].startswith("/login/")
    assert client_for(people.operator).get(SAVE).status_code == 405
    saved = keep(people.operator, "热线", "source=hotline")
    assert client_for(people.operator).get(f"/console/filters/{saved.pk}/delete/").status_code == 405
    assert SavedFilter.objects.filter(pk=saved.pk).exists()


def test_only_the_owner_deletes_a_filter(city, people):
    saved = keep(people.operator, "热线", "source=hotline")
    assert client_for(people.shift_lead).post(f"/console/filters/{saved.pk}/delete/").status_code == 404
    assert SavedFilter.objects.filter(pk=saved.pk).exists()
    response = client_for(people.operator).post(
        f"/console/filters/{saved.pk}/delete/", {"next": "/console/queues/reported/?q=1"}
    )
    assert response.status_code == 302 and response["Location"] == "/console/queues/reported/?q=1"
    assert not SavedFilter.objects.exists()
    assert said(response) == ["已删除常用筛选“热线”。"]


def test_deleting_never_redirects_to_another_site(city, people):
    saved = keep(people.operator, "热线", "source=hotline")
    response = client_for(people.operator).post(
        f"/console/filters/{saved.pk}/delete/", {"next": "https://evil.example/"}
    )
    assert response["Location"] == "/console/queues/reported/"


def render_partial(user, query: str, slug: str = "reported") -> str:
    request = RequestFactory().get(f"/console/queues/{slug}/?{query}")
    request.user = user
    context = {"request": request, "queue": queues.BY_SLUG[slug], **filters_context(request, slug)}
    return render_to_string("citykeeper/console/_filters.html", context, request=request)


def test_the_partial_lists_the_users_filters_for_the_queue_and_offers_to_save(city, people):
    keep(people.operator, "热线", "source=hotline")
    keep(people.operator, "超时", "deadline=overdue")
    keep(people.operator, "别的队列", "q=1", queue="verified")
    keep(people.shift_lead, "别人的", "q=2")
    html = render_partial(people.operator, "source=hotline&after=1.2")
    assert '<a href="/console/queues/reported/?deadline=overdue">超时</a>' in html
    assert '<a href="/console/queues/reported/?source=hotline" aria-current="true" class="current">热线</a>' in html
    assert "别的队列" not in html and "别人的" not in html
    assert '<input type="hidden" name="query" value="source=hotline">' in html
    assert '<label for="saved-filter-name">名称</label>' in html and "保存当前条件" in html
    assert html.index(">热线<") < html.index(">超时<")  # in the order they were saved
    assert "设置筛选条件后" in render_partial(people.operator, "")


def test_the_partial_costs_one_query(city, people):
    keep(people.operator, "热线", "source=hotline")
    request = RequestFactory().get("/console/queues/reported/?source=hotline")
    request.user = people.operator
    with CaptureQueriesContext(connection) as captured:
        context = filters_context(request, "reported")
    assert len(captured) == 1 and context["saved_filter_current"] == context["saved_filters"][0].pk
