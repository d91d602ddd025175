from __future__ import annotations

import pytest

from tests.factories import make_city, make_personas


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Production hashing is deliberately slow (~0.3 s a password); tests make many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _default_language():
    # The test client runs views in this thread, and LocaleMiddleware leaves the language it
    # activated for a request in place after the response: an English request in one test
    # would turn the next test's messages English. Each test starts and ends in the default.
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture
def city(db):
    return make_city()


@pytest.fixture
def people(city):
    return make_personas(city)


@pytest.fixture
def quanshan(city):
    """A third district, 泉山区, with a boundary (117.20–117.22 E, 34.25–34.26 N) and no streets yet."""
    from shapely.geometry import box, mapping

    from citykeeper.store.models import Area

    return Area.objects.create(
        code="320311",
        name="泉山区",
        level="district",
        parent=city.city,
        geometry=mapping(box(117.20, 34.25, 117.22, 34.26)),
    )
