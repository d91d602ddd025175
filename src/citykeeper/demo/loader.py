"""``load_demo``: the demo city of 徐州 with about 90 days of history, in one transaction."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import time
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from citykeeper.demo.basedata import BaseDataResult, build_base_data
from citykeeper.demo.channels import build_channels
from citykeeper.demo.city import CITY_CODE, DEMO_PASSWORD, LOGINS, Login, build_city, demo_usernames
from citykeeper.demo.evaluations import history_days, publish_months
from citykeeper.demo.history import History
from citykeeper.jobs.ticker import tick
from citykeeper.services import basedata, counters
from citykeeper.services.calendar import PROVISIONAL_SOURCE, invalidate, seed_calendar, working_calendar
from citykeeper.services.codebook import load_codebook, seed_stage_limits
from citykeeper.store.models import (
    Area,
    CalendarYear,
    Case,
    CaseEvent,
    Component,
    GazetteerEntry,
    ResponsibilityGrid,
    RoutingRule,
    Unit,
    User,
)

# By default the history covers three whole months and this one so far (``history_days``),
# so the demo can publish three months of evaluations.
DEFAULT_DAYS = None
DEFAULT_SEED = 20261121


# Sized so the whole load stays under a minute on a small (2-core) machine; raise it on a
# faster one with CITYKEEPER_DEMO_CASES_PER_DAY or `citykeeper load-demo --cases-per-day`.
def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, str(default))
    if not value.isdigit():
        raise ValueError(f"{name} must be a whole number, not {value!r}")
    return int(value)


DEFAULT_CASES_PER_DAY = _env_int("CITYKEEPER_DEMO_CASES_PER_DAY", 28)


class DemoConflict(Exception):
    """The database holds data the demo would collide with."""


@dataclass
class DemoSummary:
    loaded: bool
    message: str
    seconds: float = 0.0
    areas: dict[str, int] = field(default_factory=dict)
    units: int = 0
    users: int = 0
    cases: int = 0
    events: int = 0
    by_state: dict[str, int] = field(default_factory=dict)
    components: int = 0
    roads: int = 0
    doorplates: int = 0
    responsibility_grids: int = 0
    routing_rules: int = 0
    deadline_marks: int = 0
    refused_steps: int = 0
    refused: list[str] = field(default_factory=list)
    evaluations: int = 0  # published evaluation runs (every scheme, each whole month)
    warnings: list[str] = field(default_factory=list)
    logins: tuple[Login, ...] = LOGINS
    password: str = DEMO_PASSWORD


def is_loaded() -> bool:
    return Area.objects.filter(code=CITY_CODE).exists()


@contextlib.contextmanager
def _quiet(name: str = "citykeeper"):
    """Thousands of historic moves would each log "case moved" on commit; keep warnings only."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _calendar_years(first: int, last: int) -> list[str]:
    seed_calendar(range(first, last + 1))
    have = set(CalendarYear.objects.values_list("year", flat=True))
    warnings = []
    for year in range(first, last + 1):
        if year not in have:
            CalendarYear.objects.create(year=year, source=PROVISIONAL_SOURCE)
            warnings.append(
                f"calendar year {year}: holidays unknown to chinese-calendar; "
                f"the demo uses the default week — enter its holidays in the admin"
            )
    invalidate()
    return warnings


def load_demo(
    *,
    now: dt.datetime,
    days: int | None = DEFAULT_DAYS,
    seed: int = DEFAULT_SEED,
    cases_per_day: int = DEFAULT_CASES_PER_DAY,
    base_data: bool = True,
) -> DemoSummary:
    """Load the demo city and ``days`` of history ending at ``now``; a no-op when it is there.

    Everything is one transaction: a failure leaves the database as it was.
    Deterministic for a given ``seed``, ``now``, ``days``, ``cases_per_day`` and ``base_data``.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    if is_loaded():
        return summarize(
            DemoSummary(loaded=False, message=f"The demo city ({CITY_CODE}) is already loaded; nothing changed.")
        )
    taken = sorted(User.objects.filter(username__in=demo_usernames()).values_list("username", flat=True))
    if taken:
        raise DemoConflict(
            f"The demo creates its own users, but these usernames exist already: {', '.join(taken)}. "
            f"Load the demo into an empty database."
        )
    started = time.perf_counter()
    days = history_days(now) if days is None else days
    start = now - dt.timedelta(days=days)
    with _quiet(), transaction.atomic():
        # Deadlines of the open cases reach a few weeks past now.
        warnings = _calendar_years(start.year, (now + dt.timedelta(days=45)).year)
        load_codebook()
        seed_stage_limits()
        city = build_city()
        # Streets, gazetteer, ~90,000 components, beats and routing rules (tests of the
        # history alone may leave them out: they take a few seconds).
        base = build_base_data(city, seed=seed, now=now) if base_data else BaseDataResult()
        # The Open311 key and the cameras: the machine channels, with keys the banner prints.
        build_channels(city, now=now)
        history = History(
            city,
            now=now,
            days=days,
            cases_per_day=cases_per_day,
            seed=seed,
            calendar=working_calendar(),
            gazetteers=base.gazetteers,
        )
        with counters.deferred():  # rebuilt once at the end: the same rows, much faster
            result = history.run()
            tick(now)
        snapshots = publish_months(first=timezone.localtime(start).date(), now=now)
        basedata.bump(now)  # the areas went in by bulk insert: tell running processes' indexes
    summary = DemoSummary(
        loaded=True,
        message="The demo city of 徐州 is loaded.",
        seconds=round(time.perf_counter() - started, 1),
        deadline_marks=result.deadline_marks,
        refused_steps=result.failures,
        refused=result.failed,
        warnings=warnings,
        evaluations=len(snapshots),
    )
    return summarize(summary)


def summarize(summary: DemoSummary) -> DemoSummary:
    """Fill in the counts as they are in the database."""
    summary.areas = dict(Area.objects.values_list("level").annotate(n=Count("id")).order_by())
    summary.units = Unit.objects.count()
    summary.users = User.objects.count()
    summary.cases = Case.objects.count()
    summary.events = CaseEvent.objects.count()
    summary.by_state = dict(Case.objects.values_list("state").annotate(n=Count("id")).order_by("-n"))
    summary.components = Component.objects.count()
    summary.roads = GazetteerEntry.objects.filter(kind="road").values("name").distinct().count()
    summary.doorplates = GazetteerEntry.objects.filter(kind="doorplate").count()
    summary.responsibility_grids = ResponsibilityGrid.objects.count()
    summary.routing_rules = RoutingRule.objects.count()
    return summary
