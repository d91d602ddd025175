from __future__ import annotations

import pytest

from tests.factories import make_city, make_personas


@pytest.fixture
def city(db):
    return make_city()


@pytest.fixture
def people(city):
    return make_personas(city)
