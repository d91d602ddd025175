"""Which time limit applies: stage limits and disposal limits as stored."""

from __future__ import annotations

from citykeeper.domain.clock import Limit, LimitUnit
from citykeeper.domain.workflow import Stage
from citykeeper.services.calendar import working_calendar
from citykeeper.store.models import Case, DisposalLimit, StageLimit

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


def to_limit(value: float, unit: str) -> Limit:
    return Limit.of(value, unit, standard_day_minutes=working_calendar().week.standard_day_minutes)


def stage_limit(stage: Stage) -> tuple[Limit, float]:
    row = StageLimit.objects.filter(stage=stage).first()
    if row is None:
        value, unit = DEFAULT_STAGE_LIMITS[stage]
        return to_limit(value, unit), DEFAULT_WARN_RATIO
    return to_limit(row.limit_value, row.limit_unit), row.warn_ratio


def disposal_limit(case: Case) -> tuple[Limit, float]:
    """处置时限: the filing condition's limit, overridden per area class; emergency
    categories count round the clock."""
    _, warn_ratio = stage_limit(Stage.DISPOSE)
    condition = case.condition
    if condition is None:
        return stage_limit(Stage.DISPOSE)
    value, unit = condition.limit_value, condition.limit_unit
    if case.area_class:
        override = DisposalLimit.objects.filter(condition=condition, area_class=case.area_class).first()
        if override is not None:
            value, unit = override.limit_value, override.limit_unit
    limit = to_limit(value, unit)
    if case.category.emergency and not limit.around_the_clock:
        limit = Limit(limit.duration, around_the_clock=True)
    return limit, warn_ratio


def limit_for(stage: Stage, case: Case) -> tuple[Limit, float]:
    return disposal_limit(case) if stage == Stage.DISPOSE else stage_limit(stage)
