"""The demo's evaluations: every scheme for each whole month of the history, published, so
the console's 综合评价, the public rankings and the bulletin have something to show.

Before the runs: two inspection contractors (监督员外包公司) employ the district inspectors;
the unit, inspector and contractor schemes get the recommended version 2 that scores the 抽查
results (``sampling.adopt_weights``, reason "加入抽查指标", as a city would); each
whole month has a 抽查 round of closed cases and one of patrol-area grids (seeded from the
month, so the demo is the same every time), most of them re-checked; and the last month has
one manual adjustment (人工调整).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging

from django.utils import timezone

from citykeeper.demo.city import GRIDDED
from citykeeper.domain.errors import InvalidInput
from citykeeper.domain.evaluation.periods import Period, token
from citykeeper.domain.evaluation.sampling import Result, SampleKind
from citykeeper.domain.evaluation.scoring import DEFAULT_SCHEMES
from citykeeper.reports import bulletin
from citykeeper.services import evaluation, sampling
from citykeeper.store.models import SamplingItem, Unit, User

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


# Two contractors and the districts (by GRIDDED's order) whose inspectors work for them.
CONTRACTORS = (
    ("WB-01", "徐州城巡监督服务有限公司", (0, 1)),
    ("WB-02", "江苏安城城市管理外包有限公司", (2,)),
)

ADJUSTMENT_REASON = "承担市级重大活动保障任务，经考评领导小组研究加 2 分"


def hire_inspectors(*, first: dt.date) -> int:
    """The contractors, each employing the inspectors of its districts from ``first``; returns
    how many inspectors were assigned."""
    assigned = 0
    for code, name, districts in CONTRACTORS:
        contractor = evaluation.add_contractor(code, name, contract_start=first)
        slugs = [GRIDDED[i].slug for i in districts if i < len(GRIDDED)]
        usernames = [f"{slug}_{suffix}" for slug in slugs for suffix in ("inspector", "inspector2")]
        for inspector in User.objects.filter(username__in=usernames).order_by("username"):
            evaluation.assign_inspector(contractor, inspector, start=first)
            assigned += 1
    return assigned


def _share(seed: str, item: SamplingItem) -> int:
    """A number 0–99 fixed by the round's seed and the item: the demo's dice."""
    return int(hashlib.sha256(f"{seed}|{item.pk}|{item.position}".encode()).hexdigest()[:8], 16) % 100


def sample_month(period: Period, *, by: User | None, now: dt.datetime, checked: int = 90) -> int:
    """Draw the month's two 抽查 rounds and record the re-check of about ``checked`` % of the
    items: one closed case in ten not really fixed, one grid in four with 1–3 unreported
    problems. Returns the number of items drawn."""
    drawn = 0
    for kind in SampleKind:
        try:
            row = sampling.draw(period, kind.value, by=by, now=now, seed=f"demo-{token(period)}-{kind.value}")
        except InvalidInput as exc:
            if exc.params.get("reason") == "empty":  # a short demo may close nothing in a month
                continue
            raise
        for item in row.items.order_by("pk"):
            drawn += 1
            dice = _share(row.seed, item)
            if dice >= checked:
                continue  # left for the evaluator to check
            if kind is SampleKind.CASES:
                result, missed, note = (Result.FAILED, 0, "现场问题仍在") if dice % 10 == 0 else (Result.PASSED, 0, "")
            elif dice % 4 == 0:
                result, missed, note = Result.MISSED, 1 + dice % 3, "复查发现未上报的问题"
            else:
                result, missed, note = Result.PASSED, 0, ""
            sampling.record_result(item.pk, result.value, by=by, now=now, missed=missed, note=note)
    return drawn


def adjust_one(period: Period, *, by: User | None, now: dt.datetime) -> None:
    """One manual adjustment: +2 points for the first unit (by code) in ``period``."""
    unit = Unit.objects.filter(active=True).order_by("code").first()
    if unit is not None:
        evaluation.add_adjustment(period, "unit", unit.pk, "2", reason=ADJUSTMENT_REASON, by=by, now=now)


def publish_months(*, first: dt.date, now: dt.datetime) -> list[str]:
    """Run and publish every default scheme for each whole month since ``first`` (regions at
    street level), as the demo's evaluator, and store the bulletin of the last of them;
    returns the snapshot ids. Contractors, 抽查 rounds and an adjustment come first (above)."""
    by = User.objects.filter(username="evaluator").first()
    published = []
    months = whole_months(first, timezone.localtime(now).date())
    hire_inspectors(first=first)
    if months:
        sampling.adopt_weights(by=by, now=now)
    for period in months:
        sample_month(period, by=by, now=now)
        if period == months[-1]:
            adjust_one(period, by=by, now=now)
        for code in DEFAULT_SCHEMES:
            run = evaluation.run(period, code, by=by, now=now, level="street")
            published.append(evaluation.publish(run.pk, by=by, now=now).snapshot_id)
    if months:
        bulletin.store(bulletin.gather(months[-1], now=now), by=by, now=now)
    log.info("demo evaluations published", extra={"snapshots": len(published), "bulletins": int(bool(months))})
    return published
