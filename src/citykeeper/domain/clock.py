"""Stage clocks: deadlines, warnings, pauses and the on-time outcome of each stage.

A clock knows nothing about the database. The service stores its fields on the case
and asks for the next instant the ticker must look at (``next_due``). Every function
takes ``at`` (now) and the calendar the clock runs on, so tests pin time exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from citykeeper.domain.calendar import WorkingCalendar
from citykeeper.domain.errors import InvalidInput


class LimitUnit(StrEnum):
    MINUTES = "minutes"  # 分钟, natural
    NATURAL_HOURS = "natural_hours"  # 自然小时 / 紧急工作时: the clock runs day and night
    WORK_HOURS = "work_hours"  # 工作时
    WORK_DAYS = "work_days"  # 工作日
    NATURAL_DAYS = "natural_days"  # 自然日


# unit → (minutes per unit or None for "one standard working day", runs round the clock)
_UNIT_RULES: dict[LimitUnit, tuple[int | None, bool]] = {
    LimitUnit.MINUTES: (1, True),
    LimitUnit.NATURAL_HOURS: (60, True),
    LimitUnit.WORK_HOURS: (60, False),
    LimitUnit.WORK_DAYS: (None, False),
    LimitUnit.NATURAL_DAYS: (1440, True),
}


@dataclass(frozen=True)
class Limit:
    """A time limit reduced to a duration on one kind of calendar."""

    duration: timedelta
    around_the_clock: bool

    @classmethod
    def of(cls, value: float, unit: LimitUnit | str, *, standard_day_minutes: int) -> Limit:
        try:
            unit = LimitUnit(unit)
        except ValueError as exc:
            units = ", ".join(u.value for u in LimitUnit)
            raise InvalidInput(f"Unknown time-limit unit '{unit}' (use one of: {units}).", field="unit") from exc
        if value is None or value <= 0:
            raise InvalidInput("A time limit must be a positive number.", field="value")
        per_unit, around = _UNIT_RULES[unit]
        minutes = standard_day_minutes if per_unit is None else per_unit
        return cls(timedelta(minutes=value * minutes), around)


@dataclass(frozen=True)
class StageOutcome:
    """What evaluation needs about one finished stage, recorded on the event."""

    stage: str
    started_at: datetime
    deadline_at: datetime | None
    ended_at: datetime
    on_time: bool
    used: timedelta  # working time spent (on the clock's own calendar)
    limit: timedelta

    def as_dict(self) -> dict[str, object]:
        return {
            "stage": self.stage,
            "started_at": self.started_at.isoformat(),
            "deadline_at": self.deadline_at.isoformat() if self.deadline_at else None,
            "ended_at": self.ended_at.isoformat(),
            "on_time": self.on_time,
            "used_seconds": int(self.used.total_seconds()),
            "limit_seconds": int(self.limit.total_seconds()),
        }


@dataclass(frozen=True)
class StageClock:
    stage: str
    started_at: datetime
    limit: timedelta  # total allowed working time, extensions included
    around_the_clock: bool
    deadline_at: datetime | None  # None while paused
    warn_at: datetime | None
    remaining: timedelta | None = None  # set while paused
    warned: bool = False
    overdue: bool = False

    @property
    def paused(self) -> bool:
        return self.remaining is not None

    def next_due(self) -> datetime | None:
        """The next instant the ticker must act on: the warning, then the deadline."""
        if self.paused:
            return None
        if not self.warned and self.warn_at is not None:
            return self.warn_at
        if not self.overdue:
            return self.deadline_at
        return None


def start(stage: str, limit: Limit, *, at: datetime, calendar: WorkingCalendar, warn_ratio: float = 0.8) -> StageClock:
    deadline = calendar.add(at, limit.duration)
    warn_at = calendar.add(at, limit.duration * warn_ratio) if 0 < warn_ratio < 1 else None
    return StageClock(stage, at, limit.duration, limit.around_the_clock, deadline, warn_at)


def stop(clock: StageClock, *, at: datetime, calendar: WorkingCalendar) -> StageOutcome:
    if clock.paused:
        used = clock.limit - clock.remaining
        on_time = not clock.overdue
    else:
        used = calendar.between(clock.started_at, at) if at > clock.started_at else timedelta(0)
        on_time = clock.deadline_at is None or at <= clock.deadline_at
    return StageOutcome(clock.stage, clock.started_at, clock.deadline_at, at, on_time, used, clock.limit)


def extend(
    clock: StageClock, extra: timedelta, *, at: datetime, calendar: WorkingCalendar, warn_ratio: float = 0.8
) -> StageClock:
    """延期: the deadline moves by ``extra`` working time; the warning is recomputed."""
    if extra <= timedelta(0):
        raise InvalidInput("An extension must add a positive amount of time.", field="extension")
    limit = clock.limit + extra
    if clock.paused:
        return replace(clock, limit=limit, remaining=clock.remaining + extra)
    deadline = calendar.add(clock.deadline_at, extra)
    warn_at = calendar.add(clock.started_at, limit * warn_ratio) if 0 < warn_ratio < 1 else None
    return replace(
        clock,
        limit=limit,
        deadline_at=deadline,
        warn_at=warn_at,
        warned=clock.warned and warn_at is not None and warn_at <= at,
        overdue=clock.overdue and deadline <= at,
    )


def pause(clock: StageClock, *, at: datetime, calendar: WorkingCalendar) -> StageClock:
    """挂账: keep the working time that was left; an overdue clock keeps none."""
    if clock.paused:
        return clock
    left = calendar.between(at, clock.deadline_at) if clock.deadline_at > at else timedelta(0)
    return replace(clock, remaining=left, deadline_at=None, warn_at=None)


def resume(clock: StageClock, *, at: datetime, calendar: WorkingCalendar, warn_ratio: float = 0.8) -> StageClock:
    if not clock.paused:
        return clock
    deadline = calendar.add(at, clock.remaining)
    # The warning falls where it would have, measured back from the deadline.
    before_deadline = clock.limit * (1 - warn_ratio)
    warn_at = None
    if not clock.warned and 0 < warn_ratio < 1:
        warn_at = calendar.add(at, max(clock.remaining - before_deadline, timedelta(0)))
    return replace(clock, deadline_at=deadline, warn_at=warn_at, remaining=None, warned=warn_at is None)
