"""The language switch in the header: Chinese by default, English after posting to Django's
set_language from any page, which comes back to the same page; and the skip link."""

from __future__ import annotations

import pytest
from django.test import Client

SWITCH = "/i18n/setlang/"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_pages_are_chinese_by_default_with_an_english_switch_that_keeps_the_path(city, people):
    page = client_for(people.operator).get("/console/queues/reported/?source=hotline").content.decode()
    assert '<html lang="zh-hans">' in page and "退出" in page
    assert f'action="{SWITCH}"' in page
    assert '<input type="hidden" name="next" value="/console/queues/reported/?source=hotline">' in page
    assert '<button name="language" value="en" lang="en"' in page and ">English</button>" in page


def test_switching_to_english_and_back(city, people):
    client = client_for(people.operator)
    response = client.post(SWITCH, {"language": "en", "next": "/console/queues/reported/?source=hotline"})
    assert response.status_code == 302 and response["Location"] == "/console/queues/reported/?source=hotline"
    page = client.get(response["Location"]).content.decode()
    assert '<html lang="en">' in page
    assert "Awaiting acceptance" in page and "Log out" in page and "CityKeeper" in page
    assert "退出" not in page and "待受理" not in page
    assert '<button name="language" value="zh-hans" lang="zh-Hans"' in page
    client.post(SWITCH, {"language": "zh-hans", "next": "/console/queues/reported/"})
    page = client.get("/console/queues/reported/").content.decode()
    assert '<html lang="zh-hans">' in page and "待受理" in page and "Log out" not in page


@pytest.mark.parametrize("url", ["/console/unit/", "/console/unit/?month=2026-11"])
def test_the_unit_workspace_follows_the_switch(url, city, people):
    client = client_for(people.handler)
    client.post(SWITCH, {"language": "en", "next": url})
    page = client.get(url).content.decode()
    assert '<html lang="en">' in page and "Log out" in page and "CityKeeper" in page


def test_the_login_page_has_the_switch_too(db):
    client = Client()
    page = client.get("/login/").content.decode()
    assert ">English</button>" in page
    client.post(SWITCH, {"language": "en", "next": "/login/"})
    assert '<html lang="en">' in client.get("/login/").content.decode()


def test_the_switch_never_sends_you_to_another_site(db):
    response = Client().post(SWITCH, {"language": "en", "next": "https://evil.example/"})
    assert response.status_code == 302 and "evil.example" not in response["Location"]


def test_every_console_page_starts_with_a_skip_link_to_the_main_content(city, people):
    for client, url in ((client_for(people.operator), "/console/queues/reported/"), (Client(), "/login/")):
        page = client.get(url).content.decode()
        body = page[page.index("<body>") :]
        assert body.index('<a class="skip-link" href="#main">跳到主要内容</a>') < body.index("<header")
        assert '<main id="main" tabindex="-1">' in page


@pytest.mark.parametrize("url", ["/", "/report/", "/map/"])
def test_the_home_page_and_the_citizens_portal_have_the_switch(url, city):
    client = Client()
    page = client.get(url).content.decode()
    assert f'action="{SWITCH}"' in page and ">English</button>" in page
    assert f'<input type="hidden" name="next" value="{url}">' in page
    client.post(SWITCH, {"language": "en", "next": url})
    english = client.get(url).content.decode()
    assert '<html lang="en">' in english and ">中文</button>" in english


def test_the_handset_app_has_the_switch_with_the_token_filled_from_the_cookie(city, people):
    page = client_for(people.inspector).get("/m/").content.decode()
    switch = page[page.index('id="lang"') - 80 :]
    switch = switch[: switch.index("</form>")]
    assert f'action="{SWITCH}"' in switch and '<input type="hidden" name="csrfmiddlewaretoken" value="">' in switch
    assert '<input type="hidden" name="next" value="/m/">' in switch
