"""A real browser for UI tests: Debian's Chromium driven by Playwright (no browser download)."""

from __future__ import annotations

import os

import pytest

CHROMIUM = os.environ.get("CITYKEEPER_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # A fake microphone for the handset's voice notes (there is no sound card here).
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]


@pytest.fixture(scope="session")
def browser():
    # Playwright's sync API runs its own event loop; Django must allow sync DB calls beside it.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1200, "height": 900})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def field_city(transactional_db, settings, tmp_path):
    """The test city with boundaries and a working calendar, its personas, and media in a
    temporary folder: for tests where people report and act in a browser."""
    from django.utils import timezone

    from citykeeper.services.calendar import seed_calendar
    from tests.factories import make_city, make_personas, map_city

    settings.MEDIA_ROOT = tmp_path / "media"
    year = timezone.localdate().year
    city = map_city(make_city())
    seed_calendar([year, year + 1])
    return city, make_personas(city)
