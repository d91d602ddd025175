"""About 90 days of case history, made through the services.

Every report and every move is a real service call at a simulated instant, so the
events, hash chains, stage clocks and on-time outcomes are the ones the platform
itself would have written. Each case's life is a generator that yields its next
step (an instant and a service call); a scheduler runs all steps of all cases in
time order, fires the deadline marks that fell due before each move
(``deadlines.catch_up``), and stops at ``now``: whatever has not happened by then is
the open work the queues show.
"""

from __future__ import annotations

import bisect
import datetime as dt
import heapq
import itertools
import logging
import random
from collections import Counter
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import shapely
from django.conf import settings

from citykeeper.demo import catalog
from citykeeper.demo.channels import OPEN311_CLIENT, camera_code, event_types_by_category
from citykeeper.demo.city import DemoCity, GridInfo
from citykeeper.domain.calendar import WorkingCalendar
from citykeeper.domain.errors import DomainError
from citykeeper.services import cases as svc
from citykeeper.services import deadlines
from citykeeper.services.cases import MoveInput
from citykeeper.spatial.address import Gazetteer
from citykeeper.store.models import Case, Category, Device, DeviceEvent, FilingCondition, Unit, User
from citykeeper.store.models.cases import Source
from citykeeper.store.models.codebook import Standard

log = logging.getLogger(__name__)

SOURCE_MIX = (
    (Source.INSPECTOR, 0.64),
    (Source.HOTLINE, 0.14),
    (Source.CITIZEN, 0.12),  # a third of them anonymous, through the web portal
    (Source.CAMERA, 0.05),
    (Source.OPEN311, 0.04),
    (Source.LEADER, 0.01),
)
# Report hours (local) and their weights: patrols peak mid-morning and mid-afternoon.
INSPECTOR_HOURS = {7: 3, 8: 8, 9: 10, 10: 10, 11: 7, 12: 3, 13: 4, 14: 8, 15: 9, 16: 8, 17: 5, 18: 2}
PUBLIC_HOURS = {
    h: w
    for h, w in zip(
        range(24),
        (1, 0.5, 0.3, 0.3, 0.3, 0.5, 1, 3, 5, 6, 6, 5, 4, 4, 5, 5, 5, 5, 5, 5, 4, 3, 2, 1.5),
        strict=True,
    )
}
# The supervision and command centres work in shifts; inspectors patrol in two shifts.
CENTRE_HOURS = (7, 22)
INSPECTOR_DUTY = (7, 21)

# Rates of the less common paths (per case that reaches the point where they apply).
P = {
    "self_dispose": 0.08,
    "refuse_self": 0.10,
    "void": 0.025,
    "reject_direct": 0.06,
    "not_found": 0.15,
    "duplicate": 0.04,
    "return": 0.05,
    "deny_return": 0.2,
    "extension": 0.06,
    "deny_extension": 0.15,
    "suspension": 0.03,
    "deny_suspension": 0.15,
    "check_fail": 0.08,
    "urge_late": 0.4,
    "urge": 0.02,
    "note": 0.04,
    "late_check": 0.05,
    "late_centre": 0.03,
    "urgent_condition": 0.12,
    "rate": 0.4,
    "callback": 0.9,
    "false_alarm": 0.12,
    "reopen": 0.04,
}

# The first cases of the history take these paths, so even a short demo shows each one.
COVERAGE: tuple[tuple[str, frozenset[str]], ...] = tuple(
    (source, frozenset(flags))
    for source, flags in (
        # First, so that even a short history has time to close them before a reporter reacts.
        (Source.WEB, {"rate"}),
        (Source.WEB, {"reopen"}),
        (Source.INSPECTOR, {"return"}),
        (Source.INSPECTOR, {"extension"}),
        (Source.INSPECTOR, {"check_fail"}),
        (Source.INSPECTOR, {"suspension"}),
        (Source.INSPECTOR, {"self_dispose"}),
        (Source.HOTLINE, set()),
        (Source.INSPECTOR, {"duplicate"}),
        (Source.CITIZEN, {"not_found"}),
        (Source.INSPECTOR, {"void"}),
        (Source.INSPECTOR, {"urge"}),
        (Source.HOTLINE, {"reject_direct"}),
        (Source.INSPECTOR, {"return", "deny_return"}),
        (Source.INSPECTOR, {"extension", "deny_extension"}),
        (Source.INSPECTOR, {"suspension", "deny_suspension"}),
        (Source.INSPECTOR, {"self_dispose", "refuse_self"}),
        (Source.INSPECTOR, {"note"}),
        (Source.OPEN311, set()),
        (Source.LEADER, set()),
        (Source.CAMERA, set()),
        (Source.CAMERA, {"false_alarm"}),
    )
)

# Recent cases that stop in a given state, so every queue has something in it:
# (state, flags the path needs, non-inspector source?, working hours before now (min, max)).
# Counted in working hours, so a load at night or on a weekend still finds the
# previous working day's work waiting, as a centre would on Monday morning.
STALLS: tuple[tuple[str, frozenset[str], bool, tuple[float, float]], ...] = tuple(
    (state, frozenset(flags), public, hours)
    for state, flags, public, hours in (
        ("reported", set(), False, (0.2, 2)),
        ("verifying", set(), True, (0.2, 2)),
        ("verified", set(), True, (0.5, 3)),
        ("self_disposed", {"self_dispose"}, False, (0.2, 2)),
        ("accepted", set(), False, (0.2, 2)),
        ("filed", set(), False, (0.2, 3)),
        ("dispatched", set(), False, (2, 16)),
        ("return_requested", {"return"}, False, (2, 16)),
        ("extension_requested", {"extension"}, False, (6, 24)),
        ("suspension_requested", {"suspension"}, False, (6, 24)),
        ("suspended", {"suspension"}, False, (16, 80)),
        ("disposed", set(), False, (8, 40)),
        ("checking", set(), False, (8, 40)),
        ("check_failed", {"check_fail"}, False, (16, 64)),
        ("checked", set(), False, (8, 48)),
        ("reopened", {"reopen"}, True, (24, 96)),
    )
)
STALLS_PER_STATE = 2
_PLANNED = object()  # "the plan's own reporter"


@dataclass(frozen=True)
class TopicChoice:
    topic: catalog.Topic
    category: Category
    conditions: tuple[FilingCondition, ...]
    urgent_conditions: tuple[FilingCondition, ...]


@dataclass
class Plan:
    reported_at: dt.datetime
    source: str
    grid: GridInfo
    choice: TopicChoice
    condition: FilingCondition
    reporter: User | None
    flags: frozenset[str]
    stall: str = ""


@dataclass
class Step:
    """A service call due at ``at``; ``run`` gets the case and the instant it happens."""

    at: dt.datetime
    run: Callable[[Case | None, dt.datetime], Case]


@dataclass
class Runner:
    gen: Generator[Step, Case, None]
    step: Step
    stall: str = ""
    case: Case | None = None
    last_at: dt.datetime | None = None


@dataclass
class HistoryResult:
    cases: int = 0
    steps: int = 0
    failures: int = 0
    deadline_marks: int = 0
    failed: list[str] = field(default_factory=list)


def load_topics() -> list[TopicChoice]:
    """The catalogue's topics that the loaded codebook knows, with their filing conditions."""
    names = {t.name for t in catalog.TOPICS}
    cats = {
        (c.kind, c.minor_name): c
        for c in Category.objects.filter(standard=Standard.GB_47678, active=True, minor_name__in=names)
    }
    conds: dict[int, list[FilingCondition]] = {}
    for cond in FilingCondition.objects.filter(category__in=list(cats.values())).order_by("category_id", "seq"):
        conds.setdefault(cond.category_id, []).append(cond)
    choices = []
    for topic in catalog.TOPICS:
        category = cats.get((topic.kind, topic.name))
        if category is None or category.pk not in conds:
            continue
        all_conds = conds[category.pk]
        plain = tuple(c for c in all_conds if not c.urgent) or tuple(all_conds)
        choices.append(TopicChoice(topic, category, plain, tuple(c for c in all_conds if c.urgent)))
    if not choices:  # an unfamiliar codebook: any categories with conditions, routed to 市政
        for category in Category.objects.filter(active=True, filing_conditions__isnull=False).distinct()[:20]:
            all_conds = tuple(category.filing_conditions.order_by("seq"))
            topic = catalog.Topic(
                category.kind,
                category.minor_name,
                1,
                "szgc",
                "srhw",
                f"发现{category.minor_name}问题",
                "已处置完毕",
            )
            choices.append(TopicChoice(topic, category, all_conds, ()))
    return choices


class History:
    def __init__(
        self,
        city: DemoCity,
        *,
        now: dt.datetime,
        days: int,
        cases_per_day: int,
        seed: int,
        calendar: WorkingCalendar,
        gazetteers: dict[str, Gazetteer] | None = None,
    ) -> None:
        self.city = city
        self.gazetteers = gazetteers or {}
        self.now = now
        self.days = days
        self.cases_per_day = cases_per_day
        self.rng = random.Random(seed)
        self.cal = calendar
        self.cal24 = WorkingCalendar.around_the_clock(settings.TIME_ZONE)
        self.tz = ZoneInfo(settings.TIME_ZONE)
        self.topics = load_topics()
        self.topic_weights = list(itertools.accumulate(t.topic.weight for t in self.topics))
        # What the demo cameras recognise (demo.channels): category id → event type.
        self.camera_types = event_types_by_category()
        self.camera_topics = [t for t in self.topics if t.category.pk in self.camera_types]
        self.cameras = {d.code: d for d in Device.objects.filter(code__startswith="CAM-")}
        self.grid_weights = list(itertools.accumulate(3.0 if g.is_core else 1.0 for g in city.grids))
        self.late_rate = {
            u.pk: self.rng.uniform(0.04, 0.24) for u in [*city.units.values(), *city.street_units.values()]
        }
        self.users = city.users
        self.day_minutes = calendar.week.standard_day_minutes
        self._heap: list[tuple[dt.datetime, int, Runner]] = []
        self._seq = itertools.count()
        self.result = HistoryResult()
        self.sources = Counter()

    # ------------------------------------------------------------------ plans

    def plans(self) -> list[Plan]:
        rng = self.rng
        start_day = (self.now - dt.timedelta(days=self.days)).astimezone(self.tz).date()
        today = self.now.astimezone(self.tz).date()
        plans: list[Plan] = []
        day = start_day
        while day <= today:
            noon = dt.datetime(day.year, day.month, day.day, 12, tzinfo=self.tz)
            factor = 1.0 if self.cal.is_working(noon - dt.timedelta(hours=2)) else 0.65
            count = max(0, round(rng.gauss(self.cases_per_day * factor, self.cases_per_day * 0.12)))
            for _ in range(count):
                source = self._pick_source()
                hours = INSPECTOR_HOURS if source == Source.INSPECTOR else PUBLIC_HOURS
                hour = rng.choices(list(hours), weights=list(hours.values()))[0]
                at = dt.datetime(day.year, day.month, day.day, hour, tzinfo=self.tz) + dt.timedelta(
                    seconds=rng.randrange(3600)
                )
                if at >= self.now or at < self.now - dt.timedelta(days=self.days):
                    continue
                plans.append(self._plan(at, source, self._flags(source)))
            day += dt.timedelta(days=1)
        plans.sort(key=lambda p: p.reported_at)
        for plan, (source, flags) in zip(plans, COVERAGE, strict=False):
            replacement = self._plan(plan.reported_at, source, flags)
            plan.__dict__.update(replacement.__dict__)
        for state, flags, public, (lo, hi) in STALLS:
            for _ in range(STALLS_PER_STATE):
                at = self._working_before(self.now, dt.timedelta(hours=rng.uniform(lo, hi)))
                at = max(at, self.now - dt.timedelta(days=self.days) + dt.timedelta(hours=1))  # a short history
                # A reopening needs a public reporter who can follow the case (the web portal).
                source = (Source.WEB if "reopen" in flags else Source.HOTLINE) if public else Source.INSPECTOR
                plan = self._plan(at, source, flags)
                plan.stall = state
                plans.append(plan)
        plans.sort(key=lambda p: p.reported_at)
        return plans

    def _pick_source(self) -> str:
        r = self.rng.random()
        for source, share in SOURCE_MIX:
            if r < share:
                return source
            r -= share
        return Source.INSPECTOR

    def _flags(self, source: str) -> frozenset[str]:
        rng, flags = self.rng, set()

        def maybe(name):
            if rng.random() < P[name]:
                flags.add(name)
                return True
            return False

        if source == Source.CAMERA and maybe("false_alarm"):
            return frozenset(flags)
        if source == Source.INSPECTOR:
            if maybe("self_dispose"):
                maybe("refuse_self")
            maybe("duplicate")
        elif not maybe("reject_direct"):
            maybe("not_found")
            if source in (Source.CITIZEN, Source.WEB):
                maybe("reopen")
        maybe("void")
        if maybe("return"):
            maybe("deny_return")
        if maybe("extension"):
            maybe("deny_extension")
        if maybe("suspension"):
            maybe("deny_suspension")
        maybe("check_fail")
        maybe("urge")
        maybe("note")
        return frozenset(flags)

    def _plan(self, at: dt.datetime, source: str, flags: frozenset[str]) -> Plan:
        rng = self.rng
        grid = self.city.grids[self._weighted(self.grid_weights)]
        choice = self.topics[self._weighted(self.topic_weights)]
        if source == Source.CAMERA and self.camera_topics:
            choice = rng.choice(self.camera_topics)  # what a video-analytics box recognises
        if choice.urgent_conditions and rng.random() < P["urgent_condition"]:
            condition = rng.choice(choice.urgent_conditions)
        else:
            condition = rng.choice(choice.conditions)
        district = grid.district.code
        if source == Source.INSPECTOR:
            pool = self.city.district_inspectors[district]
            reporter = self.users["inspector"] if rng.random() < 0.25 else rng.choice(pool)
        elif source == Source.CITIZEN:
            r = rng.random()
            if r < 0.35:
                reporter = self.users["citizen"]
            elif r < 0.6:
                reporter = self.users[f"citizen{rng.randint(2, 4)}"]
            else:
                reporter = None  # anonymous, from the public portal (网站门户)
                source = Source.WEB
        elif source == Source.WEB:
            reporter = None  # anonymous, from the public portal
        elif source == Source.OPEN311:
            reporter = None  # an app's user, known to the app, not to us
        elif source == Source.LEADER:
            reporter = self.users["leader"]  # 领导交办: first-hand, no verification needed
        elif source == Source.CAMERA and camera_code(district) in self.cameras:
            reporter = None  # the district's camera reports through its own key
        else:  # hotline reports (and camera reports without a camera) are entered by an operator
            reporter = rng.choice(self.city.operators[district])
        return Plan(at, source, grid, choice, condition, reporter, flags)

    def _weighted(self, cumulative: list[float]) -> int:
        return bisect.bisect_right(cumulative, self.rng.random() * cumulative[-1])

    # ------------------------------------------------------------------ the scheduler

    def run(self) -> HistoryResult:
        for plan in self.plans():
            self._spawn(self._life(plan), plan.stall)
        while self._heap:
            _, _, runner = heapq.heappop(self._heap)
            step = runner.step
            if step.at > self.now:
                if not runner.stall or runner.last_at is None:
                    continue  # not happened yet: the case waits in its current state
                # A case meant to wait at a given stage gets there before now, a little
                # faster than planned, so the queue it stands for is never empty.
                step.at = self._squeeze(runner.last_at)
            case = runner.case
            if case is not None and case.next_deadline_at is not None and case.next_deadline_at <= step.at:
                self.result.deadline_marks += len(deadlines.catch_up(case, now=step.at))
            try:
                runner.case = step.run(case, step.at.astimezone(dt.UTC))
            except DomainError as exc:
                self.result.failures += 1
                if len(self.result.failed) < 20:
                    self.result.failed.append(f"{case.number if case else 'report'}: {exc.message}")
                log.warning("demo step refused", extra={"case": case.number if case else "", "error": exc.message})
                continue
            self.result.steps += 1
            runner.last_at = step.at
            if case is None:
                self.result.cases += 1
            if runner.stall and runner.case.state == runner.stall:
                continue
            try:
                following = runner.gen.send(runner.case)
            except StopIteration:
                continue
            if following.at < step.at:
                following.at = step.at + dt.timedelta(seconds=30)
            runner.step = following
            heapq.heappush(self._heap, (following.at, next(self._seq), runner))
        return self.result

    def _spawn(self, gen: Generator[Step, Case, None], stall: str = "") -> None:
        first = next(gen)
        runner = Runner(gen, first, stall)
        heapq.heappush(self._heap, (first.at, next(self._seq), runner))

    # ------------------------------------------------------------------ time

    def _squeeze(self, last: dt.datetime) -> dt.datetime:
        """An instant between ``last`` and now, for a step that would come after now."""
        room = self.now - last
        return last + max(room * self.rng.uniform(0.2, 0.6), min(room / 2, dt.timedelta(seconds=20)))

    def _working_before(self, end: dt.datetime, working: dt.timedelta) -> dt.datetime:
        """The latest instant with ``working`` working time between it and ``end``."""
        lo, hi = end - dt.timedelta(days=45), end
        if self.cal.between(lo, end) < working:
            return lo
        while hi - lo > dt.timedelta(seconds=1):  # between(x, end) shrinks as x grows
            mid = lo + (hi - lo) / 2
            if self.cal.between(mid, end) >= working:
                lo = mid
            else:
                hi = mid
        return lo.replace(microsecond=0)

    def _local(self, t: dt.datetime) -> dt.datetime:
        return t.astimezone(self.tz)

    def _on_duty(self, t: dt.datetime, hours: tuple[int, int]) -> dt.datetime:
        local = self._local(t)
        opens, closes = hours
        if opens <= local.hour < closes:
            return t
        day = local.date() if local.hour < opens else local.date() + dt.timedelta(days=1)
        return dt.datetime(day.year, day.month, day.day, opens, tzinfo=self.tz) + dt.timedelta(
            minutes=self.rng.uniform(1, 25)
        )

    def _minutes(self, t: dt.datetime, lo: float, hi: float, hours=CENTRE_HOURS) -> dt.datetime:
        return self._on_duty(t + dt.timedelta(minutes=self.rng.uniform(lo, hi)), hours)

    def _in_stage(
        self,
        case: Case,
        after: dt.datetime,
        *,
        who: str,
        on_time: bool = True,
        lo: float = 0.15,
        hi: float = 0.85,
    ) -> dt.datetime:
        """An instant for the next move of ``who`` ("centre", "inspector", "unit"), inside the
        running stage's limit when ``on_time``, past its deadline otherwise."""
        around = case.stage_around_the_clock
        cal = self.cal24 if around else self.cal
        deadline = case.stage_deadline_at
        if deadline is None:
            t = after + dt.timedelta(minutes=self.rng.uniform(5, 30))
        else:
            remaining = cal.between(after, deadline) if deadline > after else dt.timedelta(0)
            if on_time and remaining > dt.timedelta(0):
                t = cal.add(after, remaining * self.rng.uniform(lo, hi))
            else:
                limit = dt.timedelta(seconds=case.stage_limit_seconds or 900)
                over = max(limit * self.rng.uniform(0.1, 0.8), dt.timedelta(minutes=3))
                t = cal.add(max(after, deadline), over)
        if who == "centre":
            t = self._on_duty(t, CENTRE_HOURS)
        elif who == "inspector":
            t = self._on_duty(t, INSPECTOR_DUTY)
        elif not around:
            t = self.cal.next_working_instant(t)
        return max(t, after + dt.timedelta(seconds=20))

    def _centre(self, case: Case, after: dt.datetime) -> dt.datetime:
        return self._in_stage(case, after, who="centre", on_time=self.rng.random() >= P["late_centre"], lo=0.1, hi=0.7)

    # ------------------------------------------------------------------ people

    def _operator(self, plan: Plan) -> User:
        return self.rng.choice(self.city.operators[plan.grid.district.code])

    def _inspector(self, plan: Plan) -> User:
        return self.rng.choice(self.city.inspectors[plan.grid.district.code])

    def _unit(self, plan: Plan, key: str) -> Unit:
        if key == catalog.STREET:
            return self.city.street_units[plan.grid.street_code]
        return self.city.units[key]

    def _handler(self, unit: Unit) -> User:
        return self.city.handlers[unit.pk]

    # ------------------------------------------------------------------ lives

    @staticmethod
    def _move(at: dt.datetime, verb, actor: User, **data) -> Step:
        move_input = MoveInput(**data)

        def run(case, instant):
            return verb(case.number, actor=actor, version=case.version, at=instant, data=move_input)

        return Step(at, run)

    def _report(
        self,
        plan: Plan,
        at: dt.datetime,
        *,
        source: str | None = None,
        reporter: object = _PLANNED,
        near: tuple[float, float] | None = None,
    ) -> Step:
        rng = self.rng
        source = source or plan.source
        if reporter is _PLANNED:
            reporter = plan.reporter
        topic = plan.choice.topic
        lon, lat = self._point_in(plan.grid) if near is None else self._point_near(plan.grid, near)
        road = rng.choice(plan.grid.district.roads)
        address = f"{plan.grid.district.short}区{road}{rng.randint(1, 300)}号附近"
        gazetteer = self.gazetteers.get(plan.grid.district.code)
        if gazetteer is not None:  # written from the position, the way a case sheet is
            address = gazetteer.describe(lon, lat, district=f"{plan.grid.district.short}区").text
        text = topic.found
        if plan.condition.text and plan.condition.text != "符合本类别立案标准":
            text = f"{text}（{plan.condition.text[:60]}）"
        if source != Source.INSPECTOR:
            text = rng.choice(catalog.CITIZEN_WORDS) + text
        name, phone = "", ""
        if source in (Source.HOTLINE, Source.OPEN311, Source.WEB) or (source == Source.CITIZEN and reporter is None):
            name = rng.choice("王李张刘陈杨赵黄周吴") + rng.choice(("女士", "先生"))
            phone = f"1{rng.choice('3578')}{rng.randrange(10**9):09d}"
        self.sources[source] += 1
        category, area = plan.choice.category, plan.grid.area

        camera = self.cameras.get(camera_code(plan.grid.district.code)) if source == Source.CAMERA else None
        event_type = self.camera_types.get(category.pk) if camera is not None else None
        confidence = round(rng.uniform(0.62, 0.98), 2)
        if camera is not None and event_type is not None and reporter is None:
            text = f"{camera.name}识别：{category.minor_name}（置信度 {confidence:.2f}）"

        def run(_, instant):
            detail = OPEN311_CLIENT if source == Source.OPEN311 else ""
            extra = None
            if camera is not None and event_type is not None and reporter is None:
                detail = camera.code
                extra = {"device": {"code": camera.code, "event_type": event_type, "confidence": confidence}}
            case = svc.report(
                actor=reporter,
                source=source,
                category=category,
                area=area,
                at=instant,
                description=text,
                address=address,
                lon=round(lon, 6),
                lat=round(lat, 6),
                urgent=plan.condition.urgent,
                reporter_name=name,
                reporter_phone=phone,
                source_detail=detail,
                extra=extra,
            )
            if extra is not None:
                DeviceEvent.objects.create(
                    device=camera,
                    event_type=event_type,
                    at=instant,
                    received_at=instant,
                    confidence=confidence,
                    lon=case.lon,
                    lat=case.lat,
                    case=case,
                    new_case=True,
                )
            return case

        return Step(at, run)

    def _point_near(self, grid: GridInfo, near: tuple[float, float]) -> tuple[float, float]:
        """A point within ~20 m of ``near`` and inside the same grid (a second report of one problem)."""
        for _ in range(20):
            x, y = near[0] + self.rng.uniform(-0.0002, 0.0002), near[1] + self.rng.uniform(-0.0002, 0.0002)
            if shapely.contains_xy(grid.geometry, x, y):
                return x, y
        return near

    def _point_in(self, grid: GridInfo) -> tuple[float, float]:
        minx, miny, maxx, maxy = grid.geometry.bounds
        for _ in range(50):
            x, y = self.rng.uniform(minx, maxx), self.rng.uniform(miny, maxy)
            if shapely.contains_xy(grid.geometry, x, y):
                return x, y
        point = grid.geometry.point_on_surface()
        return point.x, point.y

    def _life(self, p: Plan):
        rng, users, flags = self.rng, self.users, p.flags
        shift_lead, dispatcher = users["shiftlead"], users["dispatcher"]
        case = yield self._report(p, p.reported_at)
        t = p.reported_at
        if "duplicate" in flags:
            self._spawn(self._duplicate(p, case))

        # 受理, with verification for reports that are not first-hand
        operator = self._operator(p)
        if p.source not in svc.FIRST_HAND_SOURCES:
            if "reject_direct" in flags:
                t = self._centre(case, t)
                yield self._move(t, svc.reject, operator, reason=rng.choice(catalog.REJECT_NO_VERIFY))
                return
            inspector = self._inspector(p)
            t = self._centre(case, t)
            case = yield self._move(t, svc.send_verify, operator, assignee=inspector)
            t = self._in_stage(case, t, who="inspector", on_time=rng.random() >= P["late_check"])
            found = "not_found" not in flags
            case = yield self._move(
                t,
                svc.verify,
                inspector,
                found=found,
                reason="现场核实，问题属实" if found else "现场未发现所反映问题",
            )
            t = self._centre(case, t)
            if not found:
                yield self._move(t, svc.reject, operator, reason=rng.choice(catalog.REJECT_NOT_FOUND))
                return
            case = yield self._move(t, svc.accept, operator)
        elif "self_dispose" in flags:
            t = self._in_stage(case, t, who="inspector", lo=0.1, hi=0.6)
            case = yield self._move(t, svc.self_dispose, p.reporter, reason=rng.choice(catalog.SELF_DISPOSE_REASONS))
            t = self._centre(case, t)
            if "refuse_self" not in flags:
                yield self._move(t, svc.close, shift_lead)
                return
            case = yield self._move(
                t, svc.refuse_self_disposal, shift_lead, reason=rng.choice(catalog.REFUSE_SELF_DISPOSAL)
            )
        else:
            t = self._centre(case, t)
            if "false_alarm" in flags:  # 视频误报: the operator dismisses what the camera saw
                yield self._move(t, svc.reject, operator, reason=rng.choice(catalog.FALSE_ALARM_REASONS))
                return
            case = yield self._move(t, svc.accept, operator)

        # 立案 or 作废
        t = self._centre(case, t)
        if "void" in flags:
            yield self._move(t, svc.void, shift_lead, reason=rng.choice(catalog.VOID_REASONS))
            return
        case = yield self._move(t, svc.file, shift_lead, condition=p.condition)
        if "note" in flags:
            t = self._minutes(t, 1, 5)
            case = yield self._move(t, svc.note, operator, reason=rng.choice(catalog.NOTE_REASONS))

        # 派遣, with a mistaken first dispatch on the return path
        right = self._unit(p, p.choice.topic.unit)
        unit = self._unit(p, p.choice.topic.wrong_unit) if "return" in flags else right
        t = self._centre(case, t)
        case = yield self._move(t, svc.dispatch, dispatcher, unit=unit)
        if "return" in flags:
            t = self._in_stage(case, t, who="unit", lo=0.05, hi=0.3)
            case = yield self._move(
                t, svc.request_return, self._handler(unit), reason=rng.choice(catalog.RETURN_REASONS)
            )
            t = self._minutes(t, 10, 60)
            if "deny_return" in flags:
                case = yield self._move(t, svc.deny_return, dispatcher, reason=rng.choice(catalog.DENY_RETURN))
            else:
                case = yield self._move(t, svc.approve_return, dispatcher)
                t = self._centre(case, t)
                unit = right
                case = yield self._move(t, svc.dispatch, dispatcher, unit=unit)

        case, t = yield from self._disposal(p, case, t, unit, first=True)

        # 核查, with the rework loop
        failed_once = False
        while True:
            t = self._centre(case, t)
            inspector = self._inspector(p)
            case = yield self._move(t, svc.send_check, operator, assignee=inspector)
            t = self._in_stage(case, t, who="inspector", on_time=rng.random() >= P["late_check"])
            if "check_fail" in flags and not failed_once:
                failed_once = True
                case = yield self._move(t, svc.check_fail, inspector, reason=rng.choice(catalog.CHECK_FAIL_REASONS))
                t = self._centre(case, t)
                case = yield self._move(t, svc.rework, rng.choice((dispatcher, shift_lead)))
                case, t = yield from self._disposal(p, case, t, unit, first=False)
                continue
            case = yield self._move(t, svc.check_pass, inspector, reason="现场核查，已处置到位")
            break
        t = self._centre(case, t)
        case = yield self._move(t, svc.close, shift_lead)
        if "rate" in p.flags:  # a keen reporter rates at once, before the call-back
            case, t = yield from self._reporter_verdict(p, case, t, operator, shift_lead)
            yield from self._call_back(p, case, t)
        else:
            case, t = yield from self._call_back(p, case, t)
            yield from self._reporter_verdict(p, case, t, operator, shift_lead)

    def _call_back(self, p: Plan, case: Case, t: dt.datetime):
        """回访: the desk calls a caller back within a day or so of closing."""
        rng = self.rng
        if p.source not in svc.CALLBACK_SOURCES or not case.reporter_phone or rng.random() >= P["callback"]:
            return case, t
        t = self._minutes(t, 30, 60 * 20)
        outcome = rng.choices(("satisfied", "unsatisfied", "unreachable"), weights=(80, 8, 12))[0]
        caller = self._operator(p)

        def call_back(c, instant):
            return svc.record_callback(c.number, actor=caller, version=c.version, at=instant, outcome=outcome)

        case = yield Step(t, call_back)
        return case, t

    def _reporter_verdict(self, p: Plan, case: Case, t: dt.datetime, operator: User, shift_lead: User):
        """A public reporter rates the result (市民评价), or says it is not fixed: the centre then
        sends an inspector to look again, or upholds the closing with its reason."""
        rng = self.rng
        if p.source not in (Source.CITIZEN, Source.WEB) or (p.source == Source.CITIZEN and p.reporter is None):
            return case, t
        t = self._minutes(t, 10, 90) if "rate" in p.flags else self._minutes(t, 60, 60 * 30)
        if "reopen" in p.flags:
            case = yield self._move(t, svc.reopen, p.reporter, reason=rng.choice(catalog.NOT_FIXED_REASONS))
            t = self._centre(case, t)
            if rng.random() < 0.5:
                case = yield self._move(t, svc.uphold, operator, reason=rng.choice(catalog.UPHOLD_REASONS))
                return case, t
            inspector = self._inspector(p)
            case = yield self._move(t, svc.send_check, operator, assignee=inspector)
            t = self._in_stage(case, t, who="inspector", lo=0.1, hi=0.8)
            case = yield self._move(t, svc.check_pass, inspector, reason="再次核查，已处置到位")
            t = self._centre(case, t)
            case = yield self._move(t, svc.close, shift_lead)
        elif "rate" in p.flags or rng.random() < P["rate"]:
            stars = rng.choices((5, 4, 3, 2, 1), weights=(55, 25, 10, 6, 4))[0]
            case = yield self._move(t, svc.rate, p.reporter, rating=stars, reason=catalog.RATING_WORDS[stars])
        return case, t

    def _disposal(self, p: Plan, case: Case, t: dt.datetime, unit: Unit, *, first: bool):
        """The unit's part: optional extension or suspension, maybe an urge, then the feedback."""
        rng, flags, dispatcher = self.rng, p.flags, self.users["dispatcher"]
        handler = self._handler(unit)
        if first and "extension" in flags:
            t = self._in_stage(case, t, who="unit", lo=0.3, hi=0.7)
            case = yield self._move(
                t,
                svc.request_extension,
                handler,
                reason=rng.choice(catalog.EXTENSION_REASONS),
                extension_value=rng.choice((1, 2, 3)),
                extension_unit="work_days",
            )
            t = self._minutes(t, 10, 90)
            if "deny_extension" in flags:
                case = yield self._move(t, svc.deny_extension, dispatcher, reason=rng.choice(catalog.DENY_EXTENSION))
            else:
                case = yield self._move(t, svc.approve_extension, dispatcher)
        if first and "suspension" in flags:
            t = self._in_stage(case, t, who="unit", lo=0.2, hi=0.6)
            case = yield self._move(t, svc.request_suspension, handler, reason=rng.choice(catalog.SUSPENSION_REASONS))
            t = self._minutes(t, 10, 120)
            if "deny_suspension" in flags:
                case = yield self._move(t, svc.deny_suspension, dispatcher, reason=rng.choice(catalog.DENY_SUSPENSION))
            else:
                case = yield self._move(t, svc.approve_suspension, dispatcher)
                paused = dt.timedelta(minutes=self.day_minutes * rng.randint(2, 12))
                t = self.cal.add(t, paused)
                case = yield self._move(t, svc.resume, handler, reason=rng.choice(catalog.RESUME_REASONS))
        late = rng.random() < (self.late_rate[unit.pk] if first else 0.1)
        done_at = self._in_stage(case, t, who="unit", on_time=not late, lo=0.15, hi=0.95)
        urge = ("urge" in flags and first) or (late and rng.random() < P["urge_late"])
        if urge and case.stage_deadline_at is not None:
            start = max(t, case.stage_deadline_at) if late else t
            if done_at - start > dt.timedelta(minutes=10):
                at = self._on_duty(start + (done_at - start) * rng.uniform(0.1, 0.6), CENTRE_HOURS)
                if at < done_at:
                    t = at
                    leader = rng.choice((self.users["leader"], self.users["shiftlead"]))
                    case = yield self._move(t, svc.urge, leader, reason=rng.choice(catalog.URGE_REASONS))
        t = max(done_at, t + dt.timedelta(minutes=1))
        case = yield self._move(t, svc.dispose, handler, reason=p.choice.topic.done)
        return case, t

    def _duplicate(self, p: Plan, target: Case):
        """Someone else reports the same problem; the operator merges it into the first case."""
        rng = self.rng
        at = p.reported_at + dt.timedelta(minutes=rng.uniform(10, 90))
        source = rng.choice((Source.HOTLINE, Source.CITIZEN))
        operator = self._operator(p)
        reporter = operator if source == Source.HOTLINE else None
        case = yield self._report(p, at, source=source, reporter=reporter, near=(target.lon, target.lat))
        t = self._centre(case, at)
        runner_case = self._latest(target)

        def run(dup: Case, instant: dt.datetime) -> Case:
            current = runner_case()
            if current.is_open:
                return svc.merge(
                    dup.number,
                    actor=operator,
                    version=dup.version,
                    at=instant,
                    data=MoveInput(target=current, reason=f"与案件{current.number}为同一问题，合并处理"),
                )
            return svc.reject(
                dup.number,
                actor=operator,
                version=dup.version,
                at=instant,
                data=MoveInput(reason="重复举报，该问题已处理完毕"),
            )

        yield Step(t, run)

    def _latest(self, case: Case) -> Callable[[], Case]:
        """The target's current row, read when the merge happens."""
        return lambda: Case.objects.get(pk=case.pk)
