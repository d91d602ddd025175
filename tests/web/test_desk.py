"""Who may open the hotline desk."""

from __future__ import annotations

from django.test import Client


def test_the_desk_asks_for_a_login_and_is_for_operators_only(city, people):
    client = Client()
    assert client.get("/desk/")["Location"].startswith("/login/?next=/desk/")
    client.force_login(people.citizen)
    assert client.get("/desk/").status_code == 403
    client.force_login(people.operator)
    page = client.get("/desk/").content.decode()
    assert "热线坐席" in page and f'value="{city.category.pk}"' in page


def test_the_login_page_refuses_a_wrong_password_with_a_message(city, people):
    response = Client().post("/login/", {"username": "operator", "password": "wrong"})
    assert response.status_code == 200 and "用户名或密码不正确" in response.content.decode()
