"""Which time limit applies: stage limits and disposal limits as stored.

Every move that starts a stage asks for its limit, so the rows are read once into a
``LimitTable`` per process rather than queried per move. The table is reloaded when
this process writes any limit row (the signals below, after commit too) and at the
latest ``_CACHE_SECONDS`` after it was read, so an edit made in another process (the
admin, an import) applies to stages started from then on.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from citykeeper.domain.clock import Limit, LimitUnit
from citykeeper.domain.workflow import Stage
from citykeeper.services.calendar import working_calendar
from citykeeper.store.models import Case, Category, DisposalLimit, FilingCondition, StageLimit

# Used when the row is missing. Vendor defaults seen in real systems
# (shared/standards/time_limits.md §3): accept 15 min, dispatch 15 min, verify and
# check 30 min; filing and closing review 15 min (Wuxi's rule).
DEFAULT_STAGE_LIMITS: dict[Stage, tuple[float, LimitUnit]] = {
    Stage.ACCEPT: (15, LimitUnit.MINUTES),
    Stage.VERIFY: (30, LimitUnit.MINUTES),
    Stage.FILE: (15, LimitUnit.MINUTES),
    Stage.DISPATCH: (15, LimitUnit.MINUTES),
    Stage.DISPOSE: (3, LimitUnit.WORK_DAYS),
    Stage.CHECK: (30, LimitUnit.MINUTES),
    Stage.CLOSE: (15, LimitUnit.MINUTES),
}
DEFAULT_WARN_RATIO = 0.8
_CACHE_SECONDS = 30

Row = tuple[float, str]  # (limit value, limit unit)


@dataclass(frozen=True)
class LimitTable:
    """The stored limits, as plain values: what ``limit_for`` reads."""

    stages: dict[str, tuple[float, str, float]]  # stage → (value, unit, warn ratio)
    conditions: dict[int, Row]  # filing condition id → its disposal limit
    overrides: dict[tuple[int, str], Row]  # (condition id, area class) → disposal limit
    emergency: frozenset[int]  # ids of categories that count round the clock

    @classmethod
    def load(cls) -> LimitTable:
        return cls(
            stages={s: (v, u, w) for s, v, u, w in StageLimit.objects.values_list(*_STAGE_COLUMNS)},
            conditions={pk: (v, u) for pk, v, u in FilingCondition.objects.values_list(*_LIMIT_COLUMNS)},
            overrides={
                (c, a): (v, u)
                for c, a, v, u in DisposalLimit.objects.values_list("condition_id", "area_class", *_LIMIT_COLUMNS[1:])
            },
            emergency=frozenset(Category.objects.filter(emergency=True).values_list("pk", flat=True)),
        )


_STAGE_COLUMNS = ("stage", "limit_value", "limit_unit", "warn_ratio")
_LIMIT_COLUMNS = ("pk", "limit_value", "limit_unit")
_lock = threading.Lock()
_cache: dict[str, object] = {}


def invalidate(**_signal_kwargs) -> None:
    with _lock:
        _cache.clear()


def limits_changed(**_signal_kwargs) -> None:
    """Call after writing limit rows without signals (bulk_create, update)."""
    # Now, for the rest of this transaction; after commit, in case the table was
    # reloaded inside the transaction from rows that a rollback would take back.
    invalidate()
    transaction.on_commit(invalidate)


for _model in (StageLimit, FilingCondition, DisposalLimit, Category):
    post_save.connect(limits_changed, sender=_model, dispatch_uid=f"limits-{_model.__name__}")
    post_delete.connect(limits_changed, sender=_model, dispatch_uid=f"limits-{_model.__name__}-d")


def limit_table(*, fresh: bool = False) -> LimitTable:
    now = time.monotonic()
    with _lock:
        table = _cache.get("table")
        if table is not None and not fresh and now - _cache["loaded_at"] < _CACHE_SECONDS:
            return table
    table = LimitTable.load()
    with _lock:
        _cache.update(table=table, loaded_at=now)
    return table


def to_limit(value: float, unit: str) -> Limit:
    return Limit.of(value, unit, standard_day_minutes=working_calendar().week.standard_day_minutes)


def stage_limit(stage: Stage) -> tuple[Limit, float]:
    row = limit_table().stages.get(stage)
    if row is None:
        value, unit = DEFAULT_STAGE_LIMITS[stage]
        return to_limit(value, unit), DEFAULT_WARN_RATIO
    value, unit, warn_ratio = row
    return to_limit(value, unit), warn_ratio


def disposal_limit(case: Case) -> tuple[Limit, float]:
    """处置时限: the filing condition's limit, overridden per area class; emergency
    categories count round the clock."""
    if case.condition_id is None:
        return stage_limit(Stage.DISPOSE)
    table = limit_table()
    if case.condition_id not in table.conditions:  # made in another process since the last load
        table = limit_table(fresh=True)
    _, warn_ratio = stage_limit(Stage.DISPOSE)
    row = table.conditions.get(case.condition_id)
    if row is None:  # the condition is gone; its case keeps the stage default
        return stage_limit(Stage.DISPOSE)
    value, unit = table.overrides.get((case.condition_id, case.area_class), row)
    limit = to_limit(value, unit)
    if case.category_id in table.emergency and not limit.around_the_clock:
        limit = Limit(limit.duration, around_the_clock=True)
    return limit, warn_ratio


def limit_for(stage: Stage, case: Case) -> tuple[Limit, float]:
    return disposal_limit(case) if stage == Stage.DISPOSE else stage_limit(stage)
