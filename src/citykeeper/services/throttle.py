"""Flood control: at most N requests per key (an address, an API client) and window.

One counter row per key, moved with compare-and-set updates, so every process of every
machine counts the same requests (a per-process cache would let a flood through N times).
Addresses are stored hashed: the table must not become a log of who reported what.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from django.db import IntegrityError, transaction
from django.db.models import F

from citykeeper.store.models import RateCounter


def client_address(meta: dict) -> str:
    """The client's address of a request (its ``META``). Behind a reverse proxy every request
    comes from the proxy, so a deployment names the header its proxy sets
    (``CITYKEEPER_CLIENT_ADDRESS_HEADER=X-Real-IP``); only that proxy must be able to reach us."""
    from django.conf import settings

    header = settings.CITYKEEPER.get("CLIENT_ADDRESS_HEADER", "")
    if header:
        value = meta.get("HTTP_" + header.upper().replace("-", "_"), "")
        # X-Forwarded-For lists every hop; the first is the client as the proxy saw it.
        first = value.split(",")[0].strip()
        if first:
            return first
    return meta.get("REMOTE_ADDR") or "unknown"


def address_key(scope: str, address: str) -> str:
    return f"{scope}:{hashlib.sha256(address.encode()).hexdigest()[:40]}"


def allow(key: str, *, limit: int, window: dt.timedelta, now: dt.datetime) -> bool:
    """Count one request for ``key``; False when the key already made ``limit`` in this window."""
    counters = RateCounter.objects.filter(key=key)
    # A window that has passed starts again with this request.
    if counters.filter(window_start__lte=now - window).update(window_start=now, count=1):
        return True
    if counters.filter(count__lt=limit).update(count=F("count") + 1):
        return True
    if counters.exists():
        return False
    try:
        with transaction.atomic():
            RateCounter.objects.create(key=key, window_start=now, count=1)
        return True
    except IntegrityError:  # another request created it first: count against that row
        return bool(counters.filter(count__lt=limit).update(count=F("count") + 1))


def retry_after(key: str, *, window: dt.timedelta, now: dt.datetime) -> int:
    """Seconds until ``key``'s window restarts (0 if it has none)."""
    start = RateCounter.objects.filter(key=key).values_list("window_start", flat=True).first()
    if start is None:
        return 0
    return max(0, int((start + window - now).total_seconds()) + 1)
