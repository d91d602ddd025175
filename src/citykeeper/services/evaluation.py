"""综合评价: evaluate a period with a scheme, from the counters (``services.counters``);
keep scheme versions; store runs and publish them as frozen snapshots; drill down from
any figure to the cases that make it.

``evaluate`` reads the period's counter sums of one subject kind, finds the subjects and
their peer groups in the database (regions at a level with their area class, units with
their evaluation group, people with their post) and hands both to the pure scoring
(``domain.evaluation.scoring``). Nothing here decides a number: the formulas live in the
domain, the facts in the counters. This module only says *who* is evaluated and *with whom*
they are compared.

Regions are rolled up from grid counters: a street's 立案数 is the sum over its grids. An
inspector's 漏报 is the 漏报 of the grids of their patrol area (``User.scope_area``), as the
standard counts public reports the grid's inspectors should have made. An inspection
contractor (监督员外包公司) is rolled up from its inspectors' counters, each for the days they
worked for it (``ContractorMembership``), and its 漏报 from the grids of their patrol areas
(each grid and day once).

Besides the counters, the sums hold the results of 抽查 (random re-verification,
``services.sampling``): checked sampled cases credited to units, checked patrol-area grids to
inspectors. They are entries like the cases' own: read with the counters, frozen with a
published run and listed by the drill-down. Manual adjustments (人工调整,
``EvaluationAdjustment``) are applied after scoring, in the order the domain documents
(``scoring``), and every one, withdrawn ones included, is stored with the run.

The drill-down reads the cases' own contributions (``CaseContribution``, found through
``CaseSubject``), the rows the counters are the sums of, so a figure and its list of cases
always agree. Publishing evaluates the run again from those entries alone: the same figures
prove nothing moved since the run, and the entries are frozen with the snapshot.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import zlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from citykeeper.domain.errors import InvalidInput, NotFound
from citykeeper.domain.evaluation.counters import BY_NAME, SAMPLE_COUNTERS, Subject
from citykeeper.domain.evaluation.indicators import applies
from citykeeper.domain.evaluation.periods import Period, PeriodKind, token
from citykeeper.domain.evaluation.scoring import (
    DEFAULT_SCHEMES,
    REGION_CLASS_OF_AREA_CLASS,
    Adjustment,
    Delta,
    Results,
    Scheme,
    check_adjustment,
    compare,
    score,
)
from citykeeper.services import counters, sampling
from citykeeper.store.models import (
    Area,
    CaseContribution,
    CaseSubject,
    ContractorMembership,
    EvaluationAdjustment,
    EvaluationRun,
    EvaluationScheme,
    InspectionContractor,
    RoleGrant,
    Unit,
    User,
)

log = logging.getLogger(__name__)

# 区域评价 levels, finest first; a region at any level is the sum of its grids.
LEVELS = ("grid", "community", "street", "district")
LEVEL_LABELS = {"grid": "单元网格", "community": "社区", "street": "街道", "district": "区县"}
# An area without a class of its own takes its nearest ancestor's; without any, 二类.
DEFAULT_REGION_CLASS = "2"


# (first day, last day, counters=, subject_kind=) → {(counter, kind, subject id, key): sum}
Reader = Callable[..., dict[tuple[str, str, int, int], int]]
# subject id → the (first, last) days its entries count on; None: the whole period
Spans = dict[int, list[tuple[dt.date, dt.date]] | None]
# The subject kinds 抽查 results are credited to.
SAMPLED_KINDS = frozenset(s.value for c in SAMPLE_COUNTERS for s in BY_NAME[c].subjects)
# All inspection contractors are ranked together.
CONTRACTOR_GROUP = "外包公司"


@dataclass(frozen=True)
class SubjectInfo:
    id: int
    name: str
    group: str  # the peer group it is ranked in
    parent: str = ""  # where it belongs (a street's district, a person's unit or area)


@dataclass
class Evaluation:
    period: Period
    scheme: Scheme
    level: str  # region level, "" for units and posts
    results: Results
    subjects: dict[int, SubjectInfo]
    as_of: dt.datetime
    provisional: bool
    month_on_month: dict[object, Delta] = field(default_factory=dict)
    year_on_year: dict[object, Delta] = field(default_factory=dict)
    # Every manual adjustment of the period's subjects, withdrawn ones included (as JSON).
    adjustments: list[dict] = field(default_factory=list)


# ------------------------------------------------------------------ schemes


def _stored(scheme: Scheme, *, at: dt.datetime, by: User | None, reason: str) -> EvaluationScheme:
    return EvaluationScheme.objects.create(
        code=scheme.code,
        version=scheme.version,
        subject=scheme.subject.value,
        label=scheme.label,
        definition=scheme.as_dict(),
        fingerprint=scheme.fingerprint(),
        created_at=at,
        created_by=by,
        reason=reason,
    )


def scheme_row(code: str) -> EvaluationScheme:
    """The version of scheme ``code`` in force (the newest). The defaults of
    ``domain.evaluation.scoring`` are stored as version 1 the first time they are asked for."""
    row = EvaluationScheme.objects.filter(code=code).order_by("-version").first()
    if row is not None:
        return row
    if code not in DEFAULT_SCHEMES:
        known = ", ".join(sorted(set(DEFAULT_SCHEMES) | set(EvaluationScheme.objects.values_list("code", flat=True))))
        raise NotFound(f"There is no evaluation scheme '{code}' (known: {known}).", field="scheme")
    with transaction.atomic():
        row = EvaluationScheme.objects.select_for_update().filter(code=code).order_by("-version").first()
        if row is None:
            row = _stored(DEFAULT_SCHEMES[code], at=timezone.now(), by=None, reason="默认方案（GB/T 30428.4 体系）")
    return row


def scheme_for(code: str) -> Scheme:
    """The scheme in force under ``code``."""
    return Scheme.from_dict(scheme_row(code).definition)


def save_scheme(definition: dict, *, by: User | None, reason: str, at: dt.datetime) -> EvaluationScheme:
    """A new version of a scheme: validated (weights to 100 %, known indicators, bands without
    gaps…), numbered after the newest, recorded with who and why. An unchanged scheme is refused."""
    if not (reason or "").strip():
        raise InvalidInput("Say why the scheme changes (reason).", field="reason")
    code = str(definition.get("code", ""))
    current = scheme_row(code)
    scheme = Scheme.from_dict({**definition, "version": current.version + 1})
    if scheme.subject.value != current.subject:
        raise InvalidInput(
            f"Scheme '{code}' evaluates {current.subject}; a new version cannot evaluate {scheme.subject.value}.",
            field="subject",
        )
    if Scheme.from_dict({**definition, "version": current.version}).fingerprint() == current.fingerprint:
        raise InvalidInput(f"This is scheme '{code}' v{current.version} unchanged.", field="definition")
    with transaction.atomic():
        row = _stored(scheme, at=at, by=by, reason=reason.strip())
    log.info("scheme saved", extra={"scheme": code, "version": row.version, "by": getattr(by, "username", None)})
    return row


def evaluate(
    period: Period,
    scheme_code: str,
    *,
    now: dt.datetime,
    level: str = "street",
    comparisons: bool = True,
) -> Evaluation:
    """Score ``period`` with the scheme ``scheme_code`` as the counters stand at ``now``."""
    period.validate(timezone.localtime(now).date())
    return evaluate_with(scheme_for(scheme_code), period, now=now, level=level, comparisons=comparisons)


def evaluate_with(
    scheme: Scheme,
    period: Period,
    *,
    now: dt.datetime,
    level: str = "street",
    comparisons: bool = True,
    read: Reader | None = None,
) -> Evaluation:
    """:func:`evaluate` with a given scheme (a stored version or one being tried out).
    ``read``: where the counter sums come from (the counters and the 抽查 results; publication
    passes the cases' and the samples' own entries, to prove they add up to the same figures)."""
    today = timezone.localtime(now).date()
    period.validate(today)
    if scheme.subject is Subject.GRID and level not in LEVELS:
        raise InvalidInput(f"Regions are evaluated by {', '.join(LEVELS)}, not {level!r}.", field="level")
    level = level if scheme.subject is Subject.GRID else ""
    others = (("month_on_month", period.previous()), ("year_on_year", period.year_ago())) if comparisons else ()
    read = read or live_reader(min(p.start for p in (period, *(o for _, o in others))), period.end)
    by_hand = _adjustment_rows(scheme.code, [period, *(o for _, o in others)])
    known: dict = {}  # who the subjects are and where their grids lie: read once for all the periods
    sums, subjects, grids = _gather(scheme, period, level, read, known)
    groups = {sid: info.group for sid, info in subjects.items()}
    mine = by_hand.get((period.start, period.end), [])
    results = score(scheme, sums, groups, grids=grids or None, adjustments=_applying(mine, sums))
    evaluation = Evaluation(period, scheme, level, results, subjects, now, period.provisional(today))
    evaluation.adjustments = [_adjustment_json(a, subjects, results) for a in mine if a.subject_id in sums]
    for attr, other in others:
        before, _, before_grids = _gather(scheme, other, level, read, known)
        # The same subjects as now (a contractor may not have been under contract then).
        before = {sid: before.get(sid, {}) for sid in sums}
        then = _applying(by_hand.get((other.start, other.end), []), before)
        before_results = score(scheme, before, groups, grids=before_grids or None, adjustments=then)
        setattr(evaluation, attr, compare(results, before_results))
    log.info(
        "evaluated",
        extra={"scheme": scheme.code, "period": f"{period.start}..{period.end}", "level": level, "subjects": len(sums)},
    )
    return evaluation


def live_reader(first: dt.date | None = None, last: dt.date | None = None) -> Reader:
    """The counters' sums with the checked 抽查 items added. The items from ``first`` to
    ``last`` (the span an evaluation reads) are fetched once, when first needed."""
    cache: dict[str, list] = {}

    def sampled(a: dt.date, b: dt.date) -> list:
        if first is None or last is None or not first <= a <= b <= last:
            return sampling.contributions(a, b)
        if "span" not in cache:
            cache["span"] = sampling.contributions(first, last)
        return cache["span"]

    def read(a, b, counters=None, subject_kind=None):
        sums = _counter_sums(a, b, counters=counters, subject_kind=subject_kind)
        if subject_kind is not None and subject_kind not in SAMPLED_KINDS:
            return sums
        if counters is not None and not set(counters) & set(SAMPLE_COUNTERS):
            return sums
        for _number, counter, kind, sid, key, value, day in sampled(a, b):
            if a <= day <= b and (counters is None or counter in counters):
                if subject_kind is None or kind == subject_kind:
                    sums[(counter, kind, sid, key)] = sums.get((counter, kind, sid, key), 0) + value
        return sums

    return read


def _counter_sums(a, b, **kw):
    return counters.read(a, b, **kw)


# ------------------------------------------------------------------ subjects


def _gather(scheme: Scheme, period: Period, level: str, read: Reader, known: dict | None = None):
    """(sums per subject, subject info, grid counts per region) for one scheme and period.
    ``known``: what does not depend on the period (the subjects, the regions' grids, the
    patrol areas), kept there for the next period of the same evaluation."""
    known = {} if known is None else known
    if scheme.subject is Subject.GRID:
        if "regions" not in known:
            known["regions"] = _region_layout(scheme, level)
        return _regions(known["regions"], period, read)
    if scheme.subject is Subject.CONTRACTOR:
        return _contractor_sums(period, read)
    kind = scheme.subject.value
    found = read(period.start, period.end, subject_kind=kind)
    if "subjects" not in known:
        known["subjects"] = _units() if scheme.subject is Subject.UNIT else _people(scheme.subject)
    subjects = known["subjects"]
    sums: dict[int, dict[tuple[str, int], int]] = {sid: {} for sid in subjects}
    for (counter, _kind, sid, key), value in found.items():
        bucket = sums.get(sid)
        if bucket is not None:
            bucket[(counter, key)] = bucket.get((counter, key), 0) + value
    if scheme.subject is Subject.INSPECTOR:
        if "patrol" not in known:
            known["patrol"] = patrol_grids(sums)
        _patrol_area_misses(period, sums, read, known["patrol"])
    return sums, subjects, {}


def _units() -> dict[int, SubjectInfo]:
    kinds = dict(Unit._meta.get_field("kind").choices)
    return {
        u.pk: SubjectInfo(u.pk, u.name, u.evaluation_group or str(kinds.get(u.kind, u.kind)))
        for u in Unit.objects.filter(active=True).only("pk", "name", "kind", "evaluation_group").order_by("code")
    }


def _people(post: Subject) -> dict[int, SubjectInfo]:
    grants = (
        RoleGrant.objects.filter(role=post.value, user__is_active=True)
        .order_by("user__username")
        .values_list("user_id", "user__display_name", "user__username", "user__scope_area__name")
    )
    return {
        pk: SubjectInfo(pk, display_name or username, "全市", place or "")
        for pk, display_name, username, place in grants
    }


PATROL_AREA_COUNTERS = ("missed", "filed")


def patrol_grids(user_ids) -> dict[int, list[int]]:
    """Each inspector's patrol-area grids (``User.scope_area`` and below), in path order."""
    scopes = dict(
        User.objects.filter(pk__in=list(user_ids), scope_area__isnull=False).values_list("pk", "scope_area__path")
    )
    wanted = set(scopes.values())
    below: dict[str, list[int]] = defaultdict(list)
    for grid, grid_path in Area.objects.filter(level="grid").values_list("pk", "path"):
        path = grid_path
        while path:  # the grid itself and each of its ancestors
            if path in wanted:
                below[path].append(grid)
            path = path.rpartition("/")[0]
    return {user_id: list(below.get(scope, ())) for user_id, scope in scopes.items()}


def _patrol_area_misses(
    period: Period, sums: dict[int, dict[tuple[str, int], int]], read: Reader, patrol: dict[int, list[int]]
) -> None:
    """An inspector's 漏报数 and 立案数 for 漏报率: those of the grids of their patrol area."""
    grid_counts = read(period.start, period.end, counters=PATROL_AREA_COUNTERS, subject_kind="grid")
    by_counter: dict[str, dict[int, int]] = {counter: defaultdict(int) for counter in PATROL_AREA_COUNTERS}
    for (counter, _kind, grid_id, _key), value in grid_counts.items():
        if counter in by_counter:
            by_counter[counter][grid_id] += value
    for user_id, inside in patrol.items():
        for counter, by_grid in by_counter.items():
            total = sum(map(by_grid.__getitem__, inside))  # 0 for a grid without any
            if total:
                sums[user_id][(counter, 0)] = total


def _merged(spans) -> list[tuple[dt.date, dt.date]]:
    """Day spans joined where they overlap or touch, in order: each day once."""
    out: list[tuple[dt.date, dt.date]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1] + dt.timedelta(days=1):
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


@dataclass
class _Contracts:
    """The contractors under contract in a period, and the days each counts its inspectors'
    counters and its patrol-area grids' 漏报."""

    subjects: dict[int, SubjectInfo]
    inspectors: dict[tuple[int, int], list[tuple[dt.date, dt.date]]]  # (contractor, inspector) → spans
    grids: dict[tuple[int, int], list[tuple[dt.date, dt.date]]]  # (contractor, grid) → spans


def _contracts(period: Period, ids=None) -> _Contracts:
    rows = InspectionContractor.objects.filter(active=True, contract_start__lte=period.end).filter(
        Q(contract_end__isnull=True) | Q(contract_end__gte=period.start)
    )
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    contractors = list(rows.order_by("code"))
    subjects = {c.pk: SubjectInfo(c.pk, c.name, CONTRACTOR_GROUP, c.code) for c in contractors}
    # A membership counts within the contract and the period.
    bounds = {
        c.pk: (max(c.contract_start, period.start), min(c.contract_end or period.end, period.end)) for c in contractors
    }
    members = (
        ContractorMembership.objects.filter(contractor_id__in=list(subjects), start__lte=period.end)
        .filter(Q(end__isnull=True) | Q(end__gte=period.start))
        .values_list("contractor_id", "inspector_id", "start", "end")
    )
    spans: dict[tuple[int, int], list] = defaultdict(list)
    for contractor, inspector, start, end in members:
        low, high = bounds[contractor]
        first, last = max(start, low), min(end or high, high)
        if first <= last:
            spans[(contractor, inspector)].append((first, last))
    inspectors = {pair: _merged(s) for pair, s in spans.items()}
    patrol = patrol_grids({inspector for _, inspector in inspectors})
    grid_spans: dict[tuple[int, int], list] = defaultdict(list)
    for (contractor, inspector), s in inspectors.items():
        for grid in patrol.get(inspector, ()):
            grid_spans[(contractor, grid)].extend(s)
    return _Contracts(subjects, inspectors, {pair: _merged(s) for pair, s in grid_spans.items()})


def _by_span(spans: dict[tuple[int, int], list]) -> dict[tuple[dt.date, dt.date], dict[int, list[int]]]:
    """span → {inspector or grid: [contractors]}: one read per distinct span."""
    out: dict[tuple[dt.date, dt.date], dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for (contractor, sid), s in spans.items():
        for span in s:
            out[span][sid].append(contractor)
    return out


def _contractor_sums(period: Period, read: Reader):
    """A contractor's sums: its inspectors' counters on the days they worked for it, and the
    漏报数 and 立案数 of their patrol-area grids on those days (each grid and day once)."""
    contracts = _contracts(period)
    sums: dict[int, dict[tuple[str, int], int]] = {c: {} for c in contracts.subjects}
    for (first, last), owners in _by_span(contracts.inspectors).items():
        for (counter, _kind, sid, key), value in read(first, last, subject_kind="inspector").items():
            for contractor in owners.get(sid, ()):
                bucket = sums[contractor]
                bucket[(counter, key)] = bucket.get((counter, key), 0) + value
    for (first, last), owners in _by_span(contracts.grids).items():
        found = read(first, last, counters=PATROL_AREA_COUNTERS, subject_kind="grid")
        for (counter, _kind, grid, _key), value in found.items():
            for contractor in owners.get(grid, ()):
                bucket = sums[contractor]
                bucket[(counter, 0)] = bucket.get((counter, 0), 0) + value
    return sums, contracts.subjects, {}


def _region_classes(classes: dict[str, str]) -> dict[str, str]:
    """path → 一类 ("1") or 二类 ("2") for each area path (and its ancestors): the area's own
    class, else its nearest ancestor's."""
    out: dict[str, str] = {}

    def of(path: str) -> str:
        if not path:
            return DEFAULT_REGION_CLASS
        found = out.get(path)
        if found is None:
            own = classes.get(path, "")
            found = REGION_CLASS_OF_AREA_CLASS.get(own, DEFAULT_REGION_CLASS) if own else of(path.rpartition("/")[0])
            out[path] = found
        return found

    for path in classes:
        of(path)
    return out


@dataclass
class _RegionLayout:
    """The regions of one level and class that have unit grids, and the grids of each."""

    subjects: dict[int, SubjectInfo]  # in path order
    owner: dict[int, int]  # grid → its region
    grids: dict[int, int]  # region → its number of grids


def _region_layout(scheme: Scheme, level: str) -> _RegionLayout:
    areas = list(Area.objects.values_list("pk", "name", "level", "path", "area_class", "parent_id"))
    classes = _region_classes({path: area_class for _, _, _, path, area_class, _ in areas})
    region_class = scheme.code.rpartition("-")[2]  # region-1 / region-2
    regions = {path: pk for pk, _, lvl, path, _, _ in areas if lvl == level and classes[path] == region_class}
    # Each grid belongs to the region whose path is a prefix of its own.
    owner: dict[int, int] = {}
    grids: dict[int, int] = defaultdict(int)
    for pk, _, lvl, grid_path, _, _ in areas:
        if lvl != "grid":
            continue
        path = grid_path
        while path and path not in regions:
            path = path.rpartition("/")[0]
        if path:
            owner[pk] = regions[path]
            grids[regions[path]] += 1
    names = {pk: name for pk, name, *_ in areas}
    parents = {pk: parent for pk, *_, parent in areas}
    group = f"{LEVEL_LABELS[level]} · {'一类区域' if region_class == '1' else '二类区域'}"
    subjects = {
        pk: SubjectInfo(pk, names[pk], group, names.get(parents[pk], "")) for pk in regions.values() if grids.get(pk)
    }
    return _RegionLayout(subjects, owner, {pk: grids[pk] for pk in subjects})


def _regions(layout: _RegionLayout, period: Period, read: Reader):
    """A region's sums are those of its grids."""
    found = read(period.start, period.end, subject_kind="grid")
    sums: dict[int, dict[tuple[str, int], int]] = {pk: {} for pk in layout.subjects}
    owner = layout.owner
    for (counter, _kind, grid_id, key), value in found.items():
        region = owner.get(grid_id)
        if region is not None:
            bucket = sums[region]
            bucket[(counter, key)] = bucket.get((counter, key), 0) + value
    return sums, layout.subjects, dict(layout.grids)


# ------------------------------------------------------------------ manual adjustments (人工调整)


def _adjustment_rows(code: str, periods: list[Period]) -> dict[tuple[dt.date, dt.date], list[EvaluationAdjustment]]:
    """The adjustments (not the withdrawal rows) of scheme ``code`` in each period, with who
    withdrew them: one query for all the periods."""
    where = Q(pk__in=[])
    for p in periods:
        where |= Q(period_start=p.start, period_end=p.end)
    rows = (
        EvaluationAdjustment.objects.filter(where, scheme_code=code, withdraws__isnull=True)
        .select_related("created_by", "withdrawal", "withdrawal__created_by")
        .order_by("created_at", "pk")
    )
    out: dict[tuple[dt.date, dt.date], list[EvaluationAdjustment]] = defaultdict(list)
    for row in rows:
        out[(row.period_start, row.period_end)].append(row)
    return out


def _withdrawn(row: EvaluationAdjustment) -> EvaluationAdjustment | None:
    try:
        return row.withdrawal
    except EvaluationAdjustment.DoesNotExist:
        return None


def _applying(rows: list[EvaluationAdjustment], subjects) -> dict[object, tuple[Adjustment, ...]]:
    """The adjustments in force (not withdrawn) per subject, as the scoring takes them."""
    out: dict[object, list[Adjustment]] = defaultdict(list)
    for row in rows:
        if row.subject_id in subjects and _withdrawn(row) is None:
            out[row.subject_id].append(Adjustment(row.pk, row.points, row.indicator))
    return {sid: tuple(a) for sid, a in out.items()}


def _who(user: User | None) -> str:
    return "" if user is None else (user.display_name or user.username)


def _adjustment_json(row: EvaluationAdjustment, subjects: dict[int, SubjectInfo], results: Results | None) -> dict:
    """One adjustment as a run stores and shows it: whose, what, how many points, who, when,
    why; whether the scoring could apply it; and its withdrawal, if any."""
    withdrawal = _withdrawn(row)
    result = results.subjects.get(row.subject_id) if results is not None else None
    applied = result is not None and any(a.id == row.pk and a.applied for a in result.adjustments)
    info = subjects.get(row.subject_id)
    return {
        "id": row.pk,
        "subject": row.subject_id,
        "name": info.name if info else str(row.subject_id),
        "indicator": row.indicator,
        "points": _exact(row.points),
        "reason": row.reason,
        "by": _who(row.created_by),
        "at": row.created_at.isoformat(),
        "applied": applied,
        "withdrawn": None
        if withdrawal is None
        else {
            "id": withdrawal.pk,
            "reason": withdrawal.reason,
            "by": _who(withdrawal.created_by),
            "at": withdrawal.created_at.isoformat(),
        },
    }


def _level_of(scheme: Scheme, subject_id: int) -> str:
    """The region level of a region subject ("" for the others); NotFound when it is none of
    the scheme's subjects."""
    level = ""
    if scheme.subject is Subject.GRID:
        level = Area.objects.filter(pk=subject_id).values_list("level", flat=True).first() or ""
    if (scheme.subject is Subject.GRID and level not in LEVELS) or not _is_subject(scheme, subject_id, level):
        raise NotFound(f"{scheme.label} has no subject {subject_id}.", field="subject", subject=subject_id)
    return level


def _refuse_published(code: str, period: Period, level: str) -> None:
    published = EvaluationRun.objects.filter(
        scheme__code=code, period_start=period.start, period_end=period.end, level=level, snapshot_id__isnull=False
    ).values_list("snapshot_id", flat=True)
    snapshot = published.first()
    if snapshot:
        raise InvalidInput(
            f"The evaluation was published already ({snapshot}); a published evaluation is not adjusted.",
            field="published",
            snapshot=snapshot,
        )


def add_adjustment(
    period: Period,
    scheme_code: str,
    subject_id: int,
    points: object,
    *,
    reason: str,
    by: User | None,
    now: dt.datetime,
    indicator: str = "",
) -> EvaluationAdjustment:
    """人工调整: add ``points`` (±, at most ``MAX_ADJUSTMENT``) to one subject's composite, or
    to the 分值 of one item the scheme scores, for a period not yet published; a reason is
    required. Evaluations apply it after scoring (``scoring``); a run made before it can no
    longer be published."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why the score is adjusted (reason).", field="reason")
    period.validate(timezone.localtime(now).date())
    scheme = scheme_for(scheme_code)
    value = check_adjustment(scheme, points, (indicator or "").strip())
    level = _level_of(scheme, subject_id)
    with transaction.atomic():
        _refuse_published(scheme.code, period, level)
        row = EvaluationAdjustment.objects.create(
            scheme_code=scheme.code,
            period_kind=period.kind.value,
            period_start=period.start,
            period_end=period.end,
            level=level,
            subject_id=subject_id,
            indicator=(indicator or "").strip(),
            points=value,
            reason=reason,
            created_by=by,
            created_at=now,
        )
    log.info("evaluation adjusted", extra={"adjustment": row.pk, "scheme": scheme.code, "subject": subject_id})
    return row


def withdraw_adjustment(adjustment_id: int, *, reason: str, by: User | None, now: dt.datetime) -> EvaluationAdjustment:
    """Withdraw an adjustment before publication: a new row saying who, when and why (the
    adjustment itself stays on record)."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why the adjustment is withdrawn (reason).", field="reason")
    with transaction.atomic():
        row = EvaluationAdjustment.objects.select_for_update().filter(pk=adjustment_id).first()
        if row is None:
            raise NotFound(f"There is no adjustment {adjustment_id}.", field="adjustment")
        if row.withdraws_id is not None:
            raise InvalidInput(f"{adjustment_id} is a withdrawal, not an adjustment.", field="adjustment")
        if EvaluationAdjustment.objects.filter(withdraws=row).exists():
            raise InvalidInput(f"Adjustment {adjustment_id} was withdrawn already.", field="adjustment")
        period = Period(row.period_start, row.period_end, PeriodKind(row.period_kind))
        _refuse_published(row.scheme_code, period, row.level)
        withdrawal = EvaluationAdjustment.objects.create(
            scheme_code=row.scheme_code,
            period_kind=row.period_kind,
            period_start=row.period_start,
            period_end=row.period_end,
            level=row.level,
            subject_id=row.subject_id,
            indicator=row.indicator,
            points=row.points,
            reason=reason,
            created_by=by,
            created_at=now,
            withdraws=row,
        )
    log.info("evaluation adjustment withdrawn", extra={"adjustment": row.pk, "withdrawal": withdrawal.pk})
    return withdrawal


def adjustments_now(stored: EvaluationRun) -> list[dict]:
    """The adjustments of a run's scheme, period and subjects as they stand now (for a run not
    yet published: to show what changed since it was computed)."""
    period = period_of(stored)
    names = {s["id"]: SubjectInfo(s["id"], s["name"], s["group"]) for s in stored.results["subjects"]}
    rows = _adjustment_rows(stored.scheme.code, [period]).get((period.start, period.end), [])
    return [_adjustment_json(row, names, None) for row in rows if row.subject_id in names]


# ------------------------------------------------------------------ inspection contractors (监督员外包公司)


def add_contractor(
    code: str, name: str, *, contract_start: dt.date, contract_end: dt.date | None = None
) -> InspectionContractor:
    code, name = (code or "").strip(), (name or "").strip()
    if not code or not name:
        raise InvalidInput("A contractor needs a code and a name.", field="code" if not code else "name")
    if contract_end is not None and contract_end < contract_start:
        raise InvalidInput(f"The contract ends ({contract_end}) before it starts ({contract_start}).", field="end")
    if InspectionContractor.objects.filter(code=code).exists():
        raise InvalidInput(f"There is a contractor '{code}' already.", field="code")
    return InspectionContractor.objects.create(
        code=code, name=name, contract_start=contract_start, contract_end=contract_end
    )


def assign_inspector(
    contractor: InspectionContractor, inspector: User, *, start: dt.date, end: dt.date | None = None
) -> ContractorMembership:
    """An inspector works for ``contractor`` from ``start`` to ``end`` (open-ended without it):
    refused for someone who is not an inspector, and over days they work for a contractor already."""
    if not RoleGrant.objects.filter(user=inspector, role=Subject.INSPECTOR.value).exists():
        raise InvalidInput(f"{inspector} is not an inspector.", field="inspector")
    if end is not None and end < start:
        raise InvalidInput(f"The assignment ends ({end}) before it starts ({start}).", field="end")
    with transaction.atomic():
        overlapping = (
            ContractorMembership.objects.select_for_update()
            .filter(inspector=inspector)
            .filter(Q(end__isnull=True) | Q(end__gte=start))
        )
        if end is not None:
            overlapping = overlapping.filter(start__lte=end)
        taken = overlapping.select_related("contractor").order_by("start").first()
        if taken is not None:
            raise InvalidInput(f"{inspector} works for {taken.contractor} from {taken.start} already.", field="start")
        return ContractorMembership.objects.create(contractor=contractor, inspector=inspector, start=start, end=end)


# ------------------------------------------------------------------ runs and snapshots


def _exact(value) -> str | None:
    """Fractions as "p/q" (exact, so a stored run can be checked), decimals as written."""
    if value is None:
        return None
    if isinstance(value, Fraction):
        return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _change_json(delta: Delta | None) -> dict | None:
    if delta is None:
        return None
    return {
        "composite": _exact(delta.composite),
        "rank_change": delta.rank_change,
        "grade_before": delta.grade_before,
        "same_scheme": delta.same_scheme,
        "indicators": {
            code: {"before": _exact(c.before), "difference": _exact(c.difference)}
            for code, c in sorted(delta.indicators.items())
        },
    }


def results_json(evaluation: Evaluation) -> dict:
    """The whole evaluation as plain JSON, in a fixed order: what a run stores and hashes."""
    period, scheme = evaluation.period, evaluation.scheme
    subjects = []
    for sid, result in evaluation.results.subjects.items():
        info = evaluation.subjects[sid]
        subjects.append(
            {
                "id": sid,
                "name": info.name,
                "group": info.group,
                "parent": info.parent,
                "composite": _exact(result.composite),
                "grade": result.grade,
                "ranked": result.ranked,
                "reason": result.reason,
                "not_ranked": None if result.not_ranked is None else dataclasses.asdict(result.not_ranked),
                "rank": result.rank,
                "group_size": result.group_size,
                "indicators": {
                    code: {
                        "value": _exact(v.value),
                        "display": _exact(v.display()),
                        "numerator": _exact(v.numerator),
                        "denominator": _exact(v.denominator),
                        "weighted": v.weighted,
                    }
                    for code, v in sorted(result.indicators.items())
                },
                "items": [_item_json(item) for item in result.items],
                "month_on_month": _change_json(evaluation.month_on_month.get(sid)),
                "year_on_year": _change_json(evaluation.year_on_year.get(sid)),
            }
        )
        if result.adjustments:
            subjects[-1]["unadjusted"] = _exact(result.unadjusted)
            subjects[-1]["adjustments"] = [
                {"id": a.id, "indicator": a.indicator, "points": _exact(a.points), "applied": a.applied}
                for a in result.adjustments
            ]
    return {
        "scheme": {
            "code": scheme.code,
            "version": scheme.version,
            "label": scheme.label,
            "fingerprint": scheme.fingerprint(),
        },
        "period": {
            "kind": period.kind.value,
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "label": period.label(),
            "token": token(period),
        },
        "level": evaluation.level,
        "as_of": evaluation.as_of.isoformat(),
        "provisional": evaluation.provisional,
        "subjects": subjects,
        "adjustments": evaluation.adjustments,
    }


def _item_json(item) -> dict:
    out = {
        "indicator": item.indicator,
        "weight": _exact(item.weight),
        "method": item.method.value,
        "value": _exact(item.value),
        "score": _exact(item.score),
        "effective_weight": _exact(item.effective_weight),
        "points": _exact(item.points),
    }
    if item.adjustment is not None:  # only then, so runs without adjustments read as before
        out["adjustment"] = _exact(item.adjustment)
    return out


def checksum(results: dict) -> str:
    text = json.dumps(results, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def run(period: Period, scheme_code: str, *, by: User | None, now: dt.datetime, level: str = "street") -> EvaluationRun:
    """Evaluate and store the result (not yet published)."""
    row = scheme_row(scheme_code)
    evaluation = evaluate_with(Scheme.from_dict(row.definition), period, now=now, level=level)
    results = results_json(evaluation)
    stored = EvaluationRun.objects.create(
        scheme=row,
        period_kind=period.kind.value,
        period_start=period.start,
        period_end=period.end,
        level=evaluation.level,
        as_of=now,
        computed_by=by,
        provisional=evaluation.provisional,
        results=results,
        checksum=checksum(results),
    )
    log.info(
        "evaluation run",
        extra={"run": stored.pk, "scheme": row.code, "version": row.version, "period": token(period)},
    )
    return stored


def _figures(results: dict) -> dict:
    """What a publication must reproduce: each subject's figures (not the comparisons) and
    every manual adjustment, as recorded at the run."""
    keep = ("id", "composite", "grade", "ranked", "rank", "group_size", "indicators", "items")
    return {
        "subjects": [
            {**{k: subject[k] for k in keep}, "adjustments": subject.get("adjustments", [])}
            for subject in results["subjects"]
        ],
        "adjustments": results.get("adjustments", []),
    }


def period_of(stored: EvaluationRun) -> Period:
    return Period(stored.period_start, stored.period_end, PeriodKind(stored.period_kind))


def publish(run_id: int, *, by: User | None, now: dt.datetime) -> EvaluationRun:
    """公布: freeze a run under a snapshot id. Publishing it again gives the same id. Refused
    for a period that is not over, and for a run computed with a scheme version that has
    since been replaced (run it again with the scheme in force)."""
    with transaction.atomic():
        stored = EvaluationRun.objects.select_for_update().select_related("scheme").filter(pk=run_id).first()
        if stored is None:
            raise NotFound(f"There is no evaluation run {run_id}.", field="run")
        if stored.snapshot_id:
            return stored
        current = scheme_row(stored.scheme.code)
        if current.pk != stored.scheme_id:
            raise InvalidInput(
                f"Run {run_id} was computed with scheme '{current.code}' v{stored.scheme.version}; "
                f"v{current.version} is in force now. Run the evaluation again and publish that.",
                field="scheme",
            )
        period = period_of(stored)
        if period.provisional(timezone.localtime(now).date()):
            raise InvalidInput(
                f"The period {period.start}…{period.end} is not over yet; publish it after {period.end}.",
                field="period",
            )
        if checksum(stored.results) != stored.checksum:  # belt and braces: the row was altered
            raise InvalidInput(f"Run {run_id} no longer matches its checksum; run it again.", field="run")
        # Freeze the cases (and 抽查 results) behind every figure, and prove they add up to the
        # run's figures: a case moved, a re-check recorded or an adjustment made since the run
        # changed them, and the run must be computed again.
        scheme = Scheme.from_dict(stored.scheme.definition)
        found = entries(period, _sources(scheme, [s["id"] for s in stored.results["subjects"]], stored.level, period))
        proof = evaluate_with(
            scheme, period, now=stored.as_of, level=stored.level, comparisons=False, read=reader_of(found)
        )
        if _figures(results_json(proof)) != _figures(stored.results):
            raise InvalidInput(
                f"The figures of run {run_id} have changed since it was computed at {stored.as_of:%Y-%m-%d %H:%M} "
                f"(cases moved, re-checks or adjustments were recorded meanwhile); run the evaluation again "
                f"and publish that.",
                field="run",
            )
        stored.cases = _pack(found)
        stored.snapshot_id = f"{token(period)}-{current.code}-v{current.version}-{stored.checksum[:10]}"
        if stored.level:
            stored.snapshot_id += f"-{stored.level}"
        stored.published_at = now
        stored.published_by = by
        stored.save(update_fields=["snapshot_id", "published_at", "published_by", "cases"])
    log.info("evaluation published", extra={"run": stored.pk, "snapshot": stored.snapshot_id})
    return stored


# ------------------------------------------------------------------ drill-down (穿透到案件)


@dataclass(frozen=True)
class Entry:
    """One case's share of one counter: what a figure is the sum of."""

    number: str
    counter: str
    subject_kind: str
    subject_id: int
    key: int  # key-problem category id, or 0
    value: int
    day: dt.date


def _sources(scheme: Scheme, subject_ids, level: str, period: Period) -> dict[str, dict[str, Spans]]:
    """counter → {subject kind: {id: days}} whose entries make the figures of ``subject_ids``
    ("*" for every counter not named; days None for the whole period)."""
    ids = set(subject_ids)
    if scheme.subject is Subject.GRID:
        regions = set(Area.objects.filter(pk__in=ids).values_list("path", flat=True))
        grids = set()
        for grid, grid_path in Area.objects.filter(level="grid").values_list("pk", "path"):
            path = grid_path
            while path and path not in regions:
                path = path.rpartition("/")[0]
            if path:
                grids.add(grid)
        return {"*": {"grid": dict.fromkeys(grids)}}
    if scheme.subject is Subject.CONTRACTOR:
        contracts = _contracts(period, ids)
        return {
            "*": {"inspector": _union(contracts.inspectors)},
            **{counter: {"grid": _union(contracts.grids)} for counter in PATROL_AREA_COUNTERS},
        }
    out: dict[str, dict[str, Spans]] = {"*": {scheme.subject.value: dict.fromkeys(ids)}}
    if scheme.subject is Subject.INSPECTOR:
        patrol = {g for grids in patrol_grids(ids).values() for g in grids}
        for counter in PATROL_AREA_COUNTERS:
            out[counter] = {"grid": dict.fromkeys(patrol)}
    return out


def _union(spans: dict[tuple[int, int], list]) -> Spans:
    """{(contractor, id): spans} → {id: the days of any of those contractors}."""
    out: dict[int, list] = defaultdict(list)
    for (_contractor, sid), s in spans.items():
        out[sid].extend(s)
    return {sid: _merged(s) for sid, s in out.items()}


def _covers(by_kind: dict[str, Spans], kind: str, sid: int, day) -> bool:
    """Whether an entry of ``kind``/``sid`` on ``day`` is one of ``by_kind``'s (``day`` and the
    spans compared as they are: dates, or ISO texts)."""
    ids = by_kind.get(kind)
    if not ids or sid not in ids:
        return False
    spans = ids[sid]
    return spans is None or any(a <= day <= b for a, b in spans)


def _as_text(sources: dict[str, dict[str, Spans]]) -> dict[str, dict[str, Spans]]:
    """The sources with their spans as ISO texts, to compare with stored entries' days."""
    return {
        counter: {
            kind: {sid: None if s is None else [(a.isoformat(), b.isoformat()) for a, b in s] for sid, s in ids.items()}
            for kind, ids in by_kind.items()
        }
        for counter, by_kind in sources.items()
    }


def entries(period: Period, sources: dict[str, dict[str, Spans]], *, sampled: bool = True) -> list[Entry]:
    """Every entry dated in ``period`` for the counters and subjects of ``sources``: read from
    the cases' stored contributions (the rows the counters are the sums of) and, unless
    ``sampled`` is False, from the checked 抽查 items."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for by_kind in sources.values():
        for kind, ids in by_kind.items():
            wanted[kind] |= set(ids)
    where = Q(pk__in=[])
    for kind, ids in wanted.items():
        if ids:
            where |= Q(subject_kind=kind, subject_id__in=sorted(ids))
    cases = CaseSubject.objects.filter(where, last_day__gte=period.start, first_day__lte=period.end).values("case_id")
    rows = CaseContribution.objects.filter(case_id__in=cases).values_list("case__number", "contributions")
    start, end = period.start.isoformat(), period.end.isoformat()
    texts = _as_text(sources)
    found = []
    for number, contributions in rows.iterator(chunk_size=2000):
        for counter, day, kind, sid, key, value in counters.entries_of(contributions):
            if not start <= day <= end:
                continue
            if _covers(texts.get(counter, texts["*"]), kind, sid, day):
                found.append(Entry(number, counter, kind, sid, key, value, dt.date.fromisoformat(day)))
    if sampled and any(kind in SAMPLED_KINDS for kind in wanted):
        for number, counter, kind, sid, key, value, day in sampling.contributions(period.start, period.end):
            if _covers(sources.get(counter, sources["*"]), kind, sid, day):
                found.append(Entry(number, counter, kind, sid, key, value, day))
    found.sort(key=lambda e: (e.counter, e.day, e.number))
    return found


def reader_of(found: list[Entry]) -> Reader:
    """A counter reader (as ``counters.read``) over entries: sums of exactly these cases."""

    def read(first, last, counters=None, subject_kind=None):
        sums: dict[tuple[str, str, int, int], int] = defaultdict(int)
        for e in found:
            if first <= e.day <= last and (counters is None or e.counter in counters):
                if subject_kind is None or e.subject_kind == subject_kind:
                    sums[(e.counter, e.subject_kind, e.subject_id, e.key)] += e.value
        return {k: v for k, v in sums.items() if v}

    return read


@dataclass
class Drill:
    """The cases behind one figure: the entries of its numerator's and denominator's counters."""

    indicator: str
    numerator: list[Entry]
    denominator: list[Entry]
    factors: dict[int, Fraction]  # key-problem multipliers, when the figure is weighted


def drilldown(
    period: Period,
    scheme_code: str,
    subject_id: int,
    indicator_code: str,
    *,
    now: dt.datetime,
    level: str = "street",
    run_id: int | None = None,
) -> Drill:
    """The cases that make one cell of an evaluation table: live, or from a published run
    (as they were counted when it was published)."""
    from citykeeper.domain.evaluation.indicators import factors, indicator

    found_in = indicator(indicator_code)
    if run_id is not None:
        stored = EvaluationRun.objects.select_related("scheme").filter(pk=run_id).first()
        if stored is None:
            raise NotFound(f"There is no evaluation run {run_id}.", field="run")
        scheme, period, level = Scheme.from_dict(stored.scheme.definition), period_of(stored), stored.level
    else:
        period.validate(timezone.localtime(now).date())
        scheme = scheme_for(scheme_code)
    if not applies(found_in, scheme.subject):
        raise InvalidInput(f"'{indicator_code}' is not an indicator of {scheme.subject.value}.", field="indicator")
    if not _is_subject(scheme, subject_id, level):
        raise NotFound(f"{scheme.label} has no subject {subject_id}.", field="subject")
    sources = _sources(scheme, [subject_id], level, period)
    if run_id is not None and stored.cases is not None:
        pool = [e for e in frozen_entries(stored) if e.counter in (*found_in.numerator, *found_in.denominator)]
        pool = [e for e in pool if _covers(sources.get(e.counter, sources["*"]), e.subject_kind, e.subject_id, e.day)]
    else:
        pool = entries(period, sources)
    weighted = found_in.code in scheme.weighted_rates and scheme.multipliers
    return Drill(
        indicator=found_in.code,
        numerator=[e for e in pool if e.counter in found_in.numerator],
        denominator=[e for e in pool if e.counter in found_in.denominator],
        factors=factors(dict(scheme.multipliers)) if weighted else {},
    )


def _is_subject(scheme: Scheme, subject_id, level: str) -> bool:
    if scheme.subject is Subject.GRID:
        return Area.objects.filter(pk=subject_id, level=level).exists()
    if scheme.subject is Subject.UNIT:
        return Unit.objects.filter(pk=subject_id).exists()
    if scheme.subject is Subject.CONTRACTOR:
        return InspectionContractor.objects.filter(pk=subject_id).exists()
    return RoleGrant.objects.filter(user_id=subject_id, role=scheme.subject.value).exists()


def _pack(found: list[Entry]) -> bytes:
    numbers = sorted({e.number for e in found})
    index = {n: i for i, n in enumerate(numbers)}
    rows = [
        [index[e.number], e.counter, e.subject_kind, e.subject_id, e.key, e.value, e.day.isoformat()] for e in found
    ]
    return zlib.compress(json.dumps({"cases": numbers, "rows": rows}, separators=(",", ":")).encode(), 6)


def frozen_entries(stored: EvaluationRun) -> list[Entry]:
    data = json.loads(zlib.decompress(bytes(stored.cases)))
    numbers = data["cases"]
    return [Entry(numbers[i], c, k, s, key, v, dt.date.fromisoformat(d)) for i, c, k, s, key, v, d in data["rows"]]
