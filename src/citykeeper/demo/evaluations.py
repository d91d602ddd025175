"""The demo's evaluations: every scheme for each whole month of the history, published, so
the console's 综合评价, the public rankings and the bulletin have something to show."""

from __future__ import annotations

import datetime as dt
import logging

from django.utils import timezone

from citykeeper.domain.evaluation.periods import Period
from citykeeper.domain.evaluation.scoring import DEFAULT_SCHEMES
from citykeeper.reports import bulletin
from citykeeper.services import evaluation
from citykeeper.store.models import User

log = logging.getLogger(__name__)

MONTHS = 3


def history_days(now: dt.datetime, months: int = MONTHS) -> int:
    """Days of history from the 1st of the month ``months`` before ``now``'s month: that many
    whole months, and this month so far."""
    today = timezone.localtime(now).date()
    year, month = today.year, today.month - months
    while month < 1:
        year, month = year - 1, month + 12
    return (today - dt.date(year, month, 1)).days + 1


def whole_months(first: dt.date, today: dt.date) -> list[Period]:
    """The calendar months that lie wholly between ``first`` and yesterday."""
    out = []
    year, month = first.year, first.month
    while True:
        period = Period.month(year, month)
        if period.end >= today:
            return out
        if period.start >= first:
            out.append(period)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def publish_months(*, first: dt.date, now: dt.datetime) -> list[str]:
    """Run and publish every default scheme for each whole month since ``first`` (regions at
    street level), as the demo's evaluator, and store the bulletin of the last of them;
    returns the snapshot ids."""
    by = User.objects.filter(username="evaluator").first()
    published = []
    months = whole_months(first, timezone.localtime(now).date())
    for period in months:
        for code in DEFAULT_SCHEMES:
            run = evaluation.run(period, code, by=by, now=now, level="street")
            published.append(evaluation.publish(run.pk, by=by, now=now).snapshot_id)
    if months:
        bulletin.store(bulletin.gather(months[-1], now=now), by=by, now=now)
    log.info("demo evaluations published", extra={"snapshots": len(published), "bulletins": int(bool(months))})
    return published
