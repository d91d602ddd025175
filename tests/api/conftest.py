"""Fixtures for the HTTP API: clients that authenticate as each persona."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.utils import timezone

from citykeeper.services.calendar import invalidate
from citykeeper.services.tokens import issue_token
from citykeeper.store.models import CalendarYear, Case, CaseEvent

API = "/api/v1"


class ApiClient:
    """A test client bound to one user's Bearer token, speaking JSON."""

    def __init__(self, user=None, **client_kwargs):
        headers = {}
        if user is not None:
            _, plaintext = issue_token(user, "tests", timezone.now())
            headers["Authorization"] = f"Bearer {plaintext}"
            self.token = plaintext
        self.user = user
        self.client = Client(headers=headers, **client_kwargs)

    def get(self, path, params=None, **kw):
        return self.client.get(API + path, params or {}, **kw)

    def post(self, path, body=None, **kw):
        data = json.dumps(body if body is not None else {}, ensure_ascii=False)
        return self.client.post(API + path, data, content_type="application/json", **kw)

    def raw_post(self, path, data, content_type="application/json", **kw):
        return self.client.post(API + path, data, content_type=content_type, **kw)

    def delete(self, path, **kw):
        return self.client.delete(API + path, **kw)

    def act(self, number, action, version, **fields):
        return self.post(f"/cases/{number}/actions/{action}", {"version": version, **fields})


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    """The personas' passwords need not resist brute force in tests (PBKDF2 costs ~0.3 s each)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def api(city, people):
    """``api(user)`` → a JSON client authenticated with a fresh token for ``user``.

    Actions run at the real "now", so the working calendar must know this year and the
    next whatever day the suite runs (holiday rows are not needed for these tests).
    """
    today = timezone.localdate()
    for year in (today.year, today.year + 1):
        CalendarYear.objects.get_or_create(year=year, defaults={"source": "tests"})
    invalidate()
    return ApiClient


@pytest.fixture
def anonymous(db):
    return ApiClient()


def row_counts():
    return Case.objects.count(), CaseEvent.objects.count()
