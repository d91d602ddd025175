"""抽查 (random re-verification): draw a period's sample, record what the re-checks found, and
hand the results to the evaluation as counter entries.

``draw`` takes the candidates from the facts the evaluation counts: the cases whose ``closed``
counter falls in the period, stratified by the unit credited with closing them; the unit grids
of each active inspector's patrol area (``User.scope_area``). The draw itself is the domain's
(``domain.evaluation.sampling``): seeded, and stored with its seed, rule and every candidate,
so anyone can draw again and compare (``verify``). A period is drawn once per kind: rounds of
one kind may not overlap, so nobody can draw again until the sample suits them.

``record_result`` stores one re-check, once. ``contributions`` gives the checked items as the
evaluation's entries (case number or grid code, counter, subject, day, value): the evaluation
adds them to the counters' sums, freezes them with a published run and lists them in the
drill-down, exactly like the cases' own entries. A checked closed case is an entry of the unit
that closed it and one of the inspector who passed its 核查 before that closing, read from the
case's events (``checkers``): a case found not fixed counts as that inspector's 核查失实.

Sample sizes come from configuration: ``settings.CITYKEEPER["SAMPLING"]``, e.g.
``{"cases": {"share": "1/20", "minimum": 2}, "patrol": {"share": "0", "minimum": 2}}``;
the domain's ``DEFAULT_RULES`` without it.

The default schemes (version 1) are the standard's and score no 抽查 result. ``adopt_weights``
saves the recommended next versions that do (``scoring.with_sampling``), with the reason
"加入抽查指标", who and when: ``citykeeper evaluate --sampling-weights``, or the demo.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from citykeeper.domain.errors import InvalidInput, NotFound
from citykeeper.domain.evaluation import sampling as domain
from citykeeper.domain.evaluation.periods import Period, PeriodKind, token
from citykeeper.domain.evaluation.sampling import Result, Rule, SampleKind
from citykeeper.domain.evaluation.scoring import SAMPLING_REASON, SAMPLING_WEIGHTS, with_sampling
from citykeeper.services import evaluation
from citykeeper.store.models import (
    Area,
    Case,
    CaseEvent,
    EvaluationScheme,
    RoleGrant,
    SamplingItem,
    SamplingRound,
    Unit,
    User,
)

log = logging.getLogger(__name__)

NOTE_MAX = 2000


def rule_for(kind: SampleKind, *, size: int | None = None) -> Rule:
    """The rule of a draw: exactly ``size`` per stratum when given, else the configured one."""
    if size is not None:
        return Rule.of_size(size)
    configured = (settings.CITYKEEPER.get("SAMPLING") or {}).get(kind.value)
    return Rule.from_dict(configured) if configured else domain.DEFAULT_RULES[kind]


def period_of(row: SamplingRound) -> Period:
    return Period(row.period_start, row.period_end, PeriodKind(row.period_kind))


def _over(period: Period, now: dt.datetime, verb: str) -> None:
    today = timezone.localtime(now).date()
    period.validate(today)
    if period.provisional(today):
        raise InvalidInput(
            f"The period {period.start}…{period.end} is not over yet; {verb} after {period.end}.",
            field="period",
            reason="open",
            start=period.start,
            end=period.end,
        )


# ------------------------------------------------------------------ the candidates


@dataclass(frozen=True)
class _Candidate:
    stratum: int  # unit or inspector id
    day: dt.date
    target: int  # case or grid id


def _closed_cases(period: Period) -> dict[str, _Candidate]:
    """Case number → the unit that closed it in the period and the day (the last closing, if
    it was closed twice)."""
    units = set(Unit.objects.filter(active=True).values_list("pk", flat=True))
    found = evaluation.entries(period, {"*": {}, "closed": {"unit": dict.fromkeys(units)}}, sampled=False)
    last: dict[str, tuple[dt.date, int]] = {}
    for e in found:
        if e.counter == "closed" and (e.number not in last or e.day >= last[e.number][0]):
            last[e.number] = (e.day, e.subject_id)
    ids = dict(Case.objects.filter(number__in=list(last)).values_list("number", "pk"))
    return {number: _Candidate(unit, day, ids[number]) for number, (day, unit) in last.items()}


def _patrol_grids(period: Period) -> dict[tuple[int, str], _Candidate]:
    """(inspector, grid code) → the grid, for every active inspector with a patrol area."""
    inspectors = RoleGrant.objects.filter(role="inspector", user__is_active=True).values_list("user_id", flat=True)
    patrol = evaluation.patrol_grids(list(inspectors))
    codes = dict(Area.objects.filter(level="grid").values_list("pk", "code"))
    return {
        (user_id, codes[grid]): _Candidate(user_id, period.end, grid)
        for user_id, grids in patrol.items()
        for grid in grids
    }


# ------------------------------------------------------------------ drawing


def draw(
    period: Period,
    kind: str,
    *,
    by: User | None,
    now: dt.datetime,
    size: int | None = None,
    seed: str | None = None,
) -> SamplingRound:
    """Draw a period's sample of closed cases (per unit) or patrol-area grids (per inspector)
    and store it with its seed, rule and candidates. Refused for a period that is not over,
    one already drawn for that kind, or nothing to draw from."""
    sample_kind = domain.kind_of(kind)
    rule = rule_for(sample_kind, size=size)
    _over(period, now, "draw its sample")
    seed = domain.new_seed() if seed is None else seed
    with transaction.atomic():
        taken = (
            SamplingRound.objects.select_for_update()
            .filter(kind=sample_kind.value, period_start__lte=period.end, period_end__gte=period.start)
            .first()
        )
        if taken is not None:
            raise InvalidInput(
                f"The {sample_kind.value} sample of {taken.period_start}…{taken.period_end} was drawn already "
                f"(round {taken.pk}); a period is drawn once.",
                field="period",
                reason="drawn",
                round=taken.pk,
            )
        if sample_kind is SampleKind.CASES:
            by_number = _closed_cases(period)
            candidates = {(c.stratum, number): c for number, c in by_number.items()}
        else:
            candidates = _patrol_grids(period)
        population: dict[str, list[str]] = defaultdict(list)
        for stratum, label in sorted(candidates):
            population[str(stratum)].append(label)
        if not population:
            what = "closed cases" if sample_kind is SampleKind.CASES else "inspectors with a patrol area"
            raise InvalidInput(
                f"There are no {what} in {period.start}…{period.end} to draw from.", field="period", reason="empty"
            )
        drawn = domain.draw(population, rule, seed)
        try:
            with transaction.atomic():
                row = SamplingRound.objects.create(
                    kind=sample_kind.value,
                    period_kind=period.kind.value,
                    period_start=period.start,
                    period_end=period.end,
                    seed=seed,
                    rule=rule.as_dict(),
                    population=dict(population),
                    drawn_by=by,
                    drawn_at=now,
                )
        except IntegrityError:  # drawn by someone else a moment ago
            raise InvalidInput(
                f"The {sample_kind.value} sample of {period.start}…{period.end} was drawn already.",
                field="period",
                reason="drawn",
                round=None,
            ) from None
        items = []
        for stratum, labels in drawn.items():
            for position, label in enumerate(labels, start=1):
                c = candidates[(int(stratum), label)]
                items.append(
                    SamplingItem(
                        round=row,
                        position=position,
                        case_id=c.target if sample_kind is SampleKind.CASES else None,
                        grid_id=c.target if sample_kind is SampleKind.PATROL else None,
                        unit_id=c.stratum if sample_kind is SampleKind.CASES else None,
                        inspector_id=c.stratum if sample_kind is SampleKind.PATROL else None,
                        day=c.day,
                    )
                )
        SamplingItem.objects.bulk_create(items)
    log.info(
        "sample drawn",
        extra={"round": row.pk, "kind": sample_kind.value, "period": token(period), "items": len(items)},
    )
    return row


def verify(row: SamplingRound) -> bool:
    """Whether the round's items are exactly what its seed, rule and candidates draw."""
    drawn = domain.draw(row.population, Rule.from_dict(row.rule), row.seed)
    mine: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for position, case, grid, unit, inspector in row.items.values_list(
        "position", "case__number", "grid__code", "unit_id", "inspector_id"
    ):
        stratum = unit if row.kind == SampleKind.CASES else inspector
        mine[str(stratum)].append((position, case if row.kind == SampleKind.CASES else grid))
    return {s: tuple(label for _, label in sorted(v)) for s, v in mine.items()} == drawn


# ------------------------------------------------------------------ results


def record_result(
    item_id: int,
    result: str,
    *,
    by: User | None,
    now: dt.datetime,
    missed: int = 0,
    note: str = "",
) -> SamplingItem:
    """Record what the re-check of one drawn item found: 合格 or 不合格 for a closed case, 合格
    or 发现漏报 (with the number of problems) for a grid. Once: a recorded result stays."""
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise InvalidInput(f"The note is longer than {NOTE_MAX} characters.", field="note")
    with transaction.atomic():
        item = (
            SamplingItem.objects.select_for_update(of=("self",))
            .select_related("round")
            .filter(pk=item_id)
            .order_by()
            .first()
        )
        if item is None:
            raise NotFound(f"There is no sampled item {item_id}.", field="item")
        if item.result != Result.PENDING:
            raise InvalidInput(
                f"The result of item {item_id} was recorded already ({item.result}, {item.checked_at:%Y-%m-%d %H:%M}).",
                field="item",
                reason="recorded",
            )
        _over(period_of(item.round), now, "record its re-checks")
        found, count = domain.check_result(SampleKind(item.round.kind), result, missed)
        item.result, item.missed, item.note = found.value, count, note
        item.checked_by, item.checked_at = by, now
        item.save(update_fields=["result", "missed", "note", "checked_by", "checked_at"])
    log.info("sample checked", extra={"item": item.pk, "round": item.round_id, "result": found.value})
    return item


# ------------------------------------------------------------------ the evaluation's entries


CHECKER_CHUNK = 2000  # cases per read of their events


def checkers(pairs) -> dict[tuple[int, dt.date], int]:
    """(case id, closing day) → the inspector who passed the 核查 that closing followed (0: none),
    for sampled cases given as (case id, the item's day): their events are read once."""
    wanted = set(pairs)
    ids = sorted({case_id for case_id, _day in wanted})
    events: dict[int, list[tuple[str, dt.date, int | None]]] = defaultdict(list)
    for n in range(0, len(ids), CHECKER_CHUNK):
        rows = (
            CaseEvent.objects.filter(case_id__in=ids[n : n + CHECKER_CHUNK], kind__in=sorted(domain.CHECKER_KINDS))
            .order_by("case_id", "seq")
            .values_list("case_id", "kind", "at", "actor_id")
        )
        for case_id, kind, at, actor in rows:
            events[case_id].append((kind, timezone.localtime(at).date(), actor))
    return {(case_id, day): domain.checker(events.get(case_id, ()), day) for case_id, day in wanted}


def contributions(first: dt.date, last: dt.date) -> list[tuple[str, str, str, int, int, int, dt.date]]:
    """The checked items dated from ``first`` to ``last`` as counter entries:
    (case number or grid code, counter, subject kind, subject id, key 0, value, day). A closed
    case counts for the unit that closed it and for the inspector who passed its 核查."""
    rows = list(
        SamplingItem.objects.filter(day__gte=first, day__lte=last)
        .exclude(result=Result.PENDING)
        .values_list(
            "round__kind", "result", "missed", "case_id", "case__number", "grid__code", "unit_id", "inspector_id", "day"
        )
        .order_by("day", "pk")
    )
    checked_by = checkers((row[3], row[-1]) for row in rows if row[3] is not None)
    out = []
    for kind, result, missed, case_id, number, grid, unit, inspector, day in rows:
        sample_kind, found = SampleKind(kind), Result(result)
        subject = ("unit", unit) if sample_kind is SampleKind.CASES else ("inspector", inspector)
        label = number if sample_kind is SampleKind.CASES else grid
        for counter, value in domain.counts(sample_kind, found, missed).items():
            if value:
                out.append((label, counter, subject[0], subject[1], 0, value, day))
        for counter, value in domain.checker_counts(sample_kind, found).items():
            out.append((label, counter, "inspector", checked_by[(case_id, day)], 0, value, day))
    return out


# ------------------------------------------------------------------ the schemes that score 抽查


def adopt_weights(*, by: User | None, now: dt.datetime) -> list[EvaluationScheme]:
    """Save the recommended versions of the unit, inspector and contractor schemes that score
    抽查 (``scoring.SAMPLING_WEIGHTS``), each recorded with the reason "加入抽查指标", who and
    when; returns the new versions. A scheme that scores 抽查 already is left as it is. All or
    nothing: refused, with nothing saved, when one of them was changed by hand otherwise."""
    planned = []
    for code in SAMPLING_WEIGHTS:
        try:
            planned.append(with_sampling(evaluation.scheme_for(code)))
        except InvalidInput as exc:
            if exc.params.get("reason") != "sampled":
                raise
    with transaction.atomic():
        saved = [evaluation.save_scheme(s.as_dict(), by=by, reason=SAMPLING_REASON, at=now) for s in planned]
    log.info("sampling weights adopted", extra={"schemes": [f"{r.code} v{r.version}" for r in saved]})
    return saved
