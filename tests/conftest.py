from __future__ import annotations

import pytest

from tests.factories import make_city, make_personas


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Production hashing is deliberately slow (~0.3 s a password); tests make many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def city(db):
    return make_city()


@pytest.fixture
def people(city):
    return make_personas(city)
