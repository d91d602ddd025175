"""Flood control counts requests per key and window in the database, so every process agrees."""

from __future__ import annotations

import datetime as dt

from citykeeper.services import throttle
from citykeeper.store.models import RateCounter
from tests.factories import MONDAY_9AM

HOUR = dt.timedelta(hours=1)


def test_a_key_gets_its_limit_then_is_refused_until_the_window_passes(db):
    key = throttle.address_key("portal", "203.0.113.7")
    answers = [throttle.allow(key, limit=3, window=HOUR, now=MONDAY_9AM + dt.timedelta(minutes=i)) for i in range(5)]
    assert answers == [True, True, True, False, False]
    assert throttle.retry_after(key, window=HOUR, now=MONDAY_9AM + dt.timedelta(minutes=30)) == 30 * 60 + 1
    assert throttle.allow(key, limit=3, window=HOUR, now=MONDAY_9AM + HOUR) is True
    assert RateCounter.objects.get(key=key).count == 1


def test_keys_are_counted_apart_and_addresses_are_stored_hashed(db):
    first = throttle.address_key("portal", "203.0.113.7")
    second = throttle.address_key("portal", "203.0.113.8")
    assert throttle.allow(first, limit=1, window=HOUR, now=MONDAY_9AM)
    assert not throttle.allow(first, limit=1, window=HOUR, now=MONDAY_9AM)
    assert throttle.allow(second, limit=1, window=HOUR, now=MONDAY_9AM)
    assert not RateCounter.objects.filter(key__contains="203.0.113").exists()


def test_behind_a_proxy_the_configured_header_names_the_client(settings):
    meta = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "203.0.113.7, 10.0.0.1"}
    assert throttle.client_address(meta) == "10.0.0.2"  # not trusted unless configured
    settings.CITYKEEPER = {**settings.CITYKEEPER, "CLIENT_ADDRESS_HEADER": "X-Forwarded-For"}
    assert throttle.client_address(meta) == "203.0.113.7"
    assert throttle.client_address({"REMOTE_ADDR": "10.0.0.2"}) == "10.0.0.2"
