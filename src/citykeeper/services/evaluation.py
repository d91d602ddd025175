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
standard counts public reports the grid's inspectors should have made.

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
from citykeeper.domain.evaluation.counters import Subject
from citykeeper.domain.evaluation.periods import Period, PeriodKind, token
from citykeeper.domain.evaluation.scoring import (
    DEFAULT_SCHEMES,
    REGION_CLASS_OF_AREA_CLASS,
    Delta,
    Results,
    Scheme,
    compare,
    score,
)
from citykeeper.services import counters
from citykeeper.store.models import (
    Area,
    CaseContribution,
    CaseSubject,
    EvaluationRun,
    EvaluationScheme,
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
    ``read``: where the counter sums come from (the counters; publication passes the cases'
    own entries, to prove they add up to the same figures)."""
    read = read or counters.read
    today = timezone.localtime(now).date()
    period.validate(today)
    if scheme.subject is Subject.GRID and level not in LEVELS:
        raise InvalidInput(f"Regions are evaluated by {', '.join(LEVELS)}, not {level!r}.", field="level")
    level = level if scheme.subject is Subject.GRID else ""
    sums, subjects, grids = _gather(scheme, period, level, read)
    results = score(scheme, sums, {sid: info.group for sid, info in subjects.items()}, grids=grids or None)
    evaluation = Evaluation(period, scheme, level, results, subjects, now, period.provisional(today))
    if comparisons:
        for attr, other in (("month_on_month", period.previous()), ("year_on_year", period.year_ago())):
            before, _, before_grids = _gather(scheme, other, level, read)
            before_results = score(
                scheme, before, {sid: info.group for sid, info in subjects.items()}, grids=before_grids or None
            )
            setattr(evaluation, attr, compare(results, before_results))
    log.info(
        "evaluated",
        extra={"scheme": scheme.code, "period": f"{period.start}..{period.end}", "level": level, "subjects": len(sums)},
    )
    return evaluation


# ------------------------------------------------------------------ subjects


def _gather(scheme: Scheme, period: Period, level: str, read: Reader):
    """(sums per subject, subject info, grid counts per region) for one scheme and period."""
    if scheme.subject is Subject.GRID:
        return _regions(scheme, period, level, read)
    kind = scheme.subject.value
    found = read(period.start, period.end, subject_kind=kind)
    sums: dict[int, dict[tuple[str, int], int]] = {}
    if scheme.subject is Subject.UNIT:
        subjects = _units()
    else:
        subjects = _people(scheme.subject)
    for sid in subjects:
        sums[sid] = {}
    for (counter, _kind, sid, key), value in found.items():
        if sid in sums:
            sums[sid][(counter, key)] = sums[sid].get((counter, key), 0) + value
    if scheme.subject is Subject.INSPECTOR:
        _patrol_area_misses(period, sums, read)
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
        .select_related("user", "user__scope_area")
        .order_by("user__username")
    )
    out = {}
    for grant in grants:
        user = grant.user
        place = user.scope_area.name if user.scope_area_id else ""
        out[user.pk] = SubjectInfo(user.pk, user.display_name or user.username, "全市", place)
    return out


PATROL_AREA_COUNTERS = ("missed", "filed")


def patrol_grids(user_ids) -> dict[int, list[int]]:
    """Each inspector's patrol-area grids (``User.scope_area`` and below)."""
    paths = dict(Area.objects.filter(level="grid").values_list("pk", "path"))
    scopes = dict(
        User.objects.filter(pk__in=list(user_ids), scope_area__isnull=False).values_list("pk", "scope_area__path")
    )
    return {
        user_id: [g for g, path in paths.items() if path == scope or path.startswith(f"{scope}/")]
        for user_id, scope in scopes.items()
    }


def _patrol_area_misses(period: Period, sums: dict[int, dict[tuple[str, int], int]], read: Reader) -> None:
    """An inspector's 漏报数 and 立案数 for 漏报率: those of the grids of their patrol area."""
    grid_counts = read(period.start, period.end, counters=PATROL_AREA_COUNTERS, subject_kind="grid")
    by_grid: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (counter, _kind, grid_id, _key), value in grid_counts.items():
        by_grid[grid_id][counter] += value
    for user_id, inside in patrol_grids(sums).items():
        for counter in PATROL_AREA_COUNTERS:
            total = sum(by_grid[g][counter] for g in inside if g in by_grid)
            if total:
                sums[user_id][(counter, 0)] = total


def _region_class(area: Area, by_path: dict[str, Area]) -> str:
    """一类 ("1") or 二类 ("2"): the area's own class, else its nearest ancestor's."""
    path = area.path
    while path:
        cls = by_path[path].area_class if path in by_path else ""
        if cls:
            return REGION_CLASS_OF_AREA_CLASS.get(cls, DEFAULT_REGION_CLASS)
        path = path.rpartition("/")[0]
    return DEFAULT_REGION_CLASS


def _regions(scheme: Scheme, period: Period, level: str, read: Reader):
    areas = list(Area.objects.only("pk", "code", "name", "level", "path", "area_class", "parent_id"))
    by_path = {a.path: a for a in areas}
    by_id = {a.pk: a for a in areas}
    region_class = scheme.code.rpartition("-")[2]  # region-1 / region-2
    regions = {a.path: a for a in areas if a.level == level and _region_class(a, by_path) == region_class}
    # Each grid belongs to the region whose path is a prefix of its own.
    owner: dict[int, Area] = {}
    grids: dict[int, int] = defaultdict(int)
    for area in areas:
        if area.level != "grid":
            continue
        path = area.path
        while path and path not in regions:
            path = path.rpartition("/")[0]
        if path:
            owner[area.pk] = regions[path]
            grids[regions[path].pk] += 1
    found = read(period.start, period.end, subject_kind="grid")
    sums: dict[int, dict[tuple[str, int], int]] = {r.pk: {} for r in regions.values() if grids.get(r.pk)}
    for (counter, _kind, grid_id, key), value in found.items():
        region = owner.get(grid_id)
        if region is not None and region.pk in sums:
            bucket = sums[region.pk]
            bucket[(counter, key)] = bucket.get((counter, key), 0) + value
    label = "一类区域" if region_class == "1" else "二类区域"
    subjects = {}
    for pk in sums:
        region = by_id[pk]
        parent = by_id.get(region.parent_id)
        subjects[pk] = SubjectInfo(pk, region.name, f"{LEVEL_LABELS[level]} · {label}", parent.name if parent else "")
    return sums, subjects, {pk: grids[pk] for pk in sums}


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
                "items": [
                    {
                        "indicator": item.indicator,
                        "weight": _exact(item.weight),
                        "method": item.method.value,
                        "value": _exact(item.value),
                        "score": _exact(item.score),
                        "effective_weight": _exact(item.effective_weight),
                        "points": _exact(item.points),
                    }
                    for item in result.items
                ],
                "month_on_month": _change_json(evaluation.month_on_month.get(sid)),
                "year_on_year": _change_json(evaluation.year_on_year.get(sid)),
            }
        )
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
    }


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


def _figures(results: dict) -> list:
    """What a publication must reproduce: each subject's figures (not the comparisons)."""
    keep = ("id", "composite", "grade", "ranked", "rank", "group_size", "indicators", "items")
    return [{k: subject[k] for k in keep} for subject in results["subjects"]]


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
        # Freeze the cases behind every figure, and prove they add up to the run's figures:
        # a case moved since the run changed them, and the run must be computed again.
        scheme = Scheme.from_dict(stored.scheme.definition)
        found = entries(period, _sources(scheme, [s["id"] for s in stored.results["subjects"]], stored.level))
        proof = evaluate_with(
            scheme, period, now=stored.as_of, level=stored.level, comparisons=False, read=reader_of(found)
        )
        if _figures(results_json(proof)) != _figures(stored.results):
            raise InvalidInput(
                f"The figures of run {run_id} have changed since it was computed at {stored.as_of:%Y-%m-%d %H:%M} "
                f"(cases moved meanwhile); run the evaluation again and publish that.",
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


def _sources(scheme: Scheme, subject_ids, level: str) -> dict[str, dict[str, set[int]]]:
    """counter → {subject kind: ids} whose entries make the figures of ``subject_ids``
    ("*" for every counter not named)."""
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
        return {"*": {"grid": grids}}
    out = {"*": {scheme.subject.value: ids}}
    if scheme.subject is Subject.INSPECTOR:
        patrol = {g for grids in patrol_grids(ids).values() for g in grids}
        for counter in PATROL_AREA_COUNTERS:
            out[counter] = {"grid": patrol}
    return out


def entries(period: Period, sources: dict[str, dict[str, set[int]]]) -> list[Entry]:
    """Every case entry dated in ``period`` for the counters and subjects of ``sources``,
    read from the cases' stored contributions (the rows the counters are the sums of)."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for by_kind in sources.values():
        for kind, ids in by_kind.items():
            wanted[kind] |= ids
    where = Q(pk__in=[])
    for kind, ids in wanted.items():
        if ids:
            where |= Q(subject_kind=kind, subject_id__in=sorted(ids))
    cases = CaseSubject.objects.filter(where, last_day__gte=period.start, first_day__lte=period.end).values("case_id")
    rows = CaseContribution.objects.filter(case_id__in=cases).values_list("case__number", "contributions")
    start, end = period.start.isoformat(), period.end.isoformat()
    found = []
    for number, contributions in rows.iterator(chunk_size=2000):
        for counter, day, kind, sid, key, value in contributions:
            if not start <= day <= end:
                continue
            by_kind = sources.get(counter, sources["*"])
            if sid in by_kind.get(kind, ()):
                found.append(Entry(number, counter, kind, sid, key, value, dt.date.fromisoformat(day)))
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
    if scheme.subject not in found_in.subjects:
        raise InvalidInput(f"'{indicator_code}' is not an indicator of {scheme.subject.value}.", field="indicator")
    if not _is_subject(scheme, subject_id, level):
        raise NotFound(f"{scheme.label} has no subject {subject_id}.", field="subject")
    sources = _sources(scheme, [subject_id], level)
    if run_id is not None and stored.cases is not None:
        pool = [e for e in frozen_entries(stored) if e.counter in (*found_in.numerator, *found_in.denominator)]
        pool = [e for e in pool if e.subject_id in sources.get(e.counter, sources["*"]).get(e.subject_kind, ())]
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
