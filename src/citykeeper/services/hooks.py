"""Side effects after a case changes, registered in one place.

Services call ``case_changed`` from ``transaction.on_commit``, so a hook never sees
a change that was rolled back. Notification channels (SMS, WeChat, Open311 updates)
register here as they are built.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

_listeners: list[Callable[..., None]] = []


def on_case_changed(fn: Callable[..., None]) -> Callable[..., None]:
    _listeners.append(fn)
    return fn


def case_changed(**event: object) -> None:
    for fn in list(_listeners):
        try:
            fn(**event)
        except Exception:  # one broken channel must not break the others
            log.exception("case hook failed", extra={"hook": getattr(fn, "__name__", fn), **event})
