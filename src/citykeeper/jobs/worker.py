"""``citykeeper worker``: the periodic work of a deployment, declared in one place.

Any number of workers may run: each job claims its rows with compare-and-set.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from citykeeper.jobs.ticker import tick

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every_seconds: float
    run: Callable[[], object]


def _tick_now() -> object:
    return tick(timezone.now())


JOBS = [
    PeriodicJob("deadline-ticker", settings.CITYKEEPER["TICKER_INTERVAL_SECONDS"], _tick_now),
]


def run(stop: threading.Event | None = None, *, once: bool = False) -> None:
    """Run every job on its interval until ``stop`` is set (or once, for tests/cron)."""
    stop = stop or threading.Event()
    next_run = {job.name: 0.0 for job in JOBS}
    log.info("worker started", extra={"jobs": ",".join(j.name for j in JOBS)})
    while not stop.is_set():
        for job in JOBS:
            if time.monotonic() >= next_run[job.name]:
                close_old_connections()
                try:
                    job.run()
                except Exception:  # a failing run is logged and retried next interval
                    log.exception("job failed", extra={"job": job.name})
                next_run[job.name] = time.monotonic() + job.every_seconds
        if once:
            return
        stop.wait(1.0)
