"""The deadline ticker: fire what is due, nothing else.

Cost grows with what is due, not with what is open: one indexed query for due
rows, one compare-and-set per fired mark.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from citykeeper.services.deadlines import OVERDUE, WARNING, due_cases, fire_due

log = logging.getLogger(__name__)


@dataclass
class TickReport:
    warnings: int = 0
    overdue: int = 0
    lost_races: int = 0


def tick(now: dt.datetime, *, batch: int = 200) -> TickReport:
    """Fire all marks due by ``now``. Loops until nothing due is left (a case may
    have its warning and its deadline both past)."""
    report = TickReport()
    while True:
        due = due_cases(now, limit=batch)
        if not due:
            break
        progress = False
        for case_id, expected in due:
            kind = fire_due(case_id, expected_due=expected, now=now)
            if kind == WARNING:
                report.warnings += 1
                progress = True
            elif kind == OVERDUE:
                report.overdue += 1
                progress = True
            else:
                report.lost_races += 1
        if not progress:  # everything we saw was taken by another ticker
            break
    if report.warnings or report.overdue:
        log.info("tick", extra={"warnings": report.warnings, "overdue": report.overdue})
    return report
