"""Tokens and sessions: how a client proves who it is."""

from __future__ import annotations

import hashlib

from django.test import Client
from django.utils import timezone

from citykeeper.services.tokens import authenticate_token, issue_token, revoke_token
from citykeeper.store.models import ApiToken, Case
from tests.api.conftest import API, ApiClient
from tests.factories import report_case


def test_a_token_is_stored_only_as_its_sha256_with_an_eight_character_prefix(city, people):
    token, plaintext = issue_token(people.operator, "laptop", timezone.now())
    stored = ApiToken.objects.get(pk=token.pk)
    assert stored.key_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    assert plaintext not in {stored.key_hash, stored.prefix, stored.name}
    assert stored.prefix == plaintext[:8] and len(stored.prefix) == 8
    assert authenticate_token(plaintext) == people.operator


def test_revoked_tokens_and_disabled_users_do_not_authenticate(city, people):
    token, plaintext = issue_token(people.operator, "", timezone.now())
    _, other = issue_token(people.dispatcher, "", timezone.now())
    revoke_token(token, timezone.now())
    assert authenticate_token(plaintext) is None
    people.dispatcher.is_active = False
    people.dispatcher.save()
    assert authenticate_token(other) is None
    assert authenticate_token("ck_not-a-token") is None
    assert authenticate_token("") is None


def test_a_username_and_password_get_a_token_that_then_authenticates(city, people):
    client = Client()
    response = client.post(
        f"{API}/auth/token",
        {"username": "operator", "password": "pw-operator", "name": "script"},
        content_type="application/json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["user"]["username"] == "operator" and body["user"]["roles"] == ["operator"]
    assert body["prefix"] == body["token"][:8]
    me = Client(headers={"Authorization": f"Bearer {body['token']}"}).get(f"{API}/auth/me")
    assert me.status_code == 200
    assert me.json()["username"] == "operator" and me.json()["auth"] == "token"


def test_a_wrong_password_gets_401_with_a_clear_message_and_no_token(city, people):
    response = Client().post(
        f"{API}/auth/token", {"username": "operator", "password": "nope"}, content_type="application/json"
    )
    assert response.status_code == 401
    assert response.json() == {
        "code": "bad_credentials",
        "detail": "Wrong username or password, or the account is disabled.",
        "field": None,
    }
    assert not ApiToken.objects.exists()


def test_a_revoked_token_is_refused_with_401(api, people):
    client = api(people.operator)
    assert client.get("/cases").status_code == 200
    assert client.delete("/auth/token").status_code == 204
    response = client.get("/cases")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    assert "revoked" in response.json()["detail"]


def test_every_endpoint_but_the_token_endpoint_and_the_docs_needs_authentication(anonymous, city):
    for path in ["/cases", "/cases/2026112100001", "/codebook/categories", "/areas", "/units", "/calendar", "/auth/me"]:
        response = anonymous.get(path)
        assert response.status_code == 401, path
        assert response.json()["code"] == "unauthenticated"
        assert response["WWW-Authenticate"].startswith("Bearer")
    response = anonymous.post("/cases", {"category": city.category.pk, "area": city.grid.code})
    assert response.status_code == 401
    assert not Case.objects.exists()
    assert anonymous.get("/openapi.json").status_code == 200
    assert anonymous.get("/docs").status_code == 200


def test_an_unknown_bearer_token_is_refused_even_with_a_live_session(city, people):
    client = Client(headers={"Authorization": "Bearer ck_forged"})
    client.force_login(people.operator)
    response = client.get(f"{API}/cases")
    assert response.status_code == 401


def test_a_logged_in_session_reads_the_api(city, people):
    client = Client()
    client.force_login(people.operator)
    response = client.get(f"{API}/auth/me")
    assert response.status_code == 200
    assert response.json()["auth"] == "session"
    assert client.get(f"{API}/cases").status_code == 200


def test_a_session_post_without_the_csrf_token_is_refused_and_writes_nothing(city, people):
    client = Client(enforce_csrf_checks=True)
    client.force_login(people.inspector)
    response = client.post(
        f"{API}/cases", {"category": city.category.pk, "area": city.grid.code}, content_type="application/json"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    assert not Case.objects.exists()


def test_a_session_post_with_the_csrf_token_goes_through(city, people, api):
    client = Client(enforce_csrf_checks=True)
    client.force_login(people.inspector)
    client.get(f"{API}/auth/me")  # sets the csrftoken cookie, as the console would
    csrf = client.cookies["csrftoken"].value
    response = client.post(
        f"{API}/cases",
        {"category": city.category.pk, "area": city.grid.code},
        content_type="application/json",
        headers={"X-CSRFToken": csrf},
    )
    assert response.status_code == 201, response.json()


def test_token_requests_need_no_csrf_token(city, people, api):
    case = report_case(city, people)
    client = ApiClient(people.operator, enforce_csrf_checks=True)
    response = client.act(case.number, "accept", case.version)
    assert response.status_code == 200, response.json()


def test_revoking_needs_a_bearer_token(city, people):
    client = Client()
    client.force_login(people.operator)
    response = client.delete(f"{API}/auth/token")
    assert response.status_code == 400
    assert response.json()["code"] == "no_token"


def test_password_guessing_from_one_address_is_stopped_after_twenty_attempts(city, people):
    from citykeeper.api.v1.auth import TOKEN_ATTEMPTS

    client = Client(REMOTE_ADDR="198.51.100.9")
    guess = {"username": "operator", "password": "nope"}
    codes = [
        client.post(f"{API}/auth/token", guess, content_type="application/json").status_code
        for _ in range(TOKEN_ATTEMPTS + 1)
    ]
    assert codes == [401] * TOKEN_ATTEMPTS + [429]
    refused = client.post(
        f"{API}/auth/token", {"username": "operator", "password": "pw-operator"}, content_type="application/json"
    )
    assert refused.status_code == 429 and "try again in" in refused.json()["detail"]
    other = Client(REMOTE_ADDR="198.51.100.10").post(
        f"{API}/auth/token", {"username": "operator", "password": "pw-operator"}, content_type="application/json"
    )
    assert other.status_code == 201 and ApiToken.objects.count() == 1
