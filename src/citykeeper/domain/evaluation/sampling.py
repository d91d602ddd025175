"""抽查: random re-verification of closed cases and of inspectors' patrol areas.

A figure is only as honest as the facts behind it: a unit can close a case that is not fixed,
an inspector can leave a grid unreported. So each period the evaluators draw, at random,

- **closed cases** (``cases``), stratified by the responsible unit that closed them: every
  unit gets its share (rounded up) with a minimum, so a small unit is checked too; someone
  goes and looks whether the problem is really fixed (合格 / 不合格);
- **patrol-area grids** (``patrol``), stratified by inspector: a number of grids of each
  inspector's patrol area, walked again to count the problems the inspector did not report
  (发现漏报, a count; none is 合格).

The draw must be checkable by anyone, so it is not ``random``'s (whose sequence depends on
the Python version and on the order the candidates come in): each candidate is ranked by
sha256("seed|stratum|candidate") and each stratum takes its first *n*. With the stored seed,
rule and candidate lists, anyone can redraw with any sha256 tool and get the same sample
(``draw``); the seed is made at random when the round is drawn (``new_seed``).

Results become counters (``COUNTS``) credited to the unit or inspector the item judges; the
indicators 抽查合格率 and 抽查漏报率 are their ratios (``indicators``). A closed case's re-check
also judges the inspector who passed its 核查 before the closing (``checker``): a case found not
fixed was passed untruly (核查失实, ``CHECKER_COUNTS``), and 核查失实率 is that inspector's ratio.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from fractions import Fraction

from citykeeper.domain.errors import InvalidInput


class SampleKind(StrEnum):
    CASES = "cases"  # closed cases, by responsible unit
    PATROL = "patrol"  # patrol-area grids, by inspector


class Result(StrEnum):
    PENDING = "pending"  # drawn, not yet checked
    PASSED = "passed"  # 合格: the case is really fixed / nothing unreported in the grid
    FAILED = "failed"  # 不合格: the closed case is not actually fixed
    MISSED = "missed"  # 发现漏报: problems the inspector did not report (a count ≥ 1)


# What a check can find, by kind: a closed case is fixed or not; a grid is clean or not.
RESULTS: dict[SampleKind, frozenset[Result]] = {
    SampleKind.CASES: frozenset({Result.PASSED, Result.FAILED}),
    SampleKind.PATROL: frozenset({Result.PASSED, Result.MISSED}),
}

# The most problems one re-check of one grid may record (a typo guard).
MAX_MISSED = 999

# The counters one checked item adds to the subject it judges; ``MISSED`` adds its count to
# ``sample_missed`` (see ``counts``).
COUNTS: dict[tuple[SampleKind, Result], dict[str, int]] = {
    (SampleKind.CASES, Result.PASSED): {"sample_cases": 1, "sample_passed": 1},
    (SampleKind.CASES, Result.FAILED): {"sample_cases": 1},
    (SampleKind.PATROL, Result.PASSED): {"sample_grids": 1},
    (SampleKind.PATROL, Result.MISSED): {"sample_grids": 1, "sample_grids_missed": 1},
}


# The counters a checked closed case adds to the inspector who passed its 核查 (``checker``).
CHECKER_COUNTS: dict[tuple[SampleKind, Result], dict[str, int]] = {
    (SampleKind.CASES, Result.PASSED): {"sample_checked": 1},
    (SampleKind.CASES, Result.FAILED): {"sample_checked": 1, "sample_checked_failed": 1},
}

# What ``checker`` reads of a case's events: the 核查 passed, the closing, and the moves after
# which a closing needs a new 核查 (a new disposal, a self-disposal, a reopening) or has none to
# follow (a failed 核查).
CHECK_PASS, CLOSE = "check_pass", "close"
CHECK_RESETS = frozenset({"dispose", "self_dispose", "check_fail", "reopen"})
CHECKER_KINDS = frozenset({CHECK_PASS, CLOSE, *CHECK_RESETS})


def kind_of(value: object) -> SampleKind:
    try:
        return SampleKind(value)
    except ValueError:
        kinds = " or ".join(k.value for k in SampleKind)
        raise InvalidInput(f"A sample is of {kinds}, not {value!r}.", field="kind") from None


def check_result(kind: SampleKind, result: object, missed: object = 0) -> tuple[Result, int]:
    """(result, number of problems found) of one check, refused when it does not fit the kind
    or the count is not a whole number (≥ 1 for 发现漏报, 0 otherwise)."""
    try:
        found = Result(result)
    except ValueError:
        found = None
    if found is None or found not in RESULTS[kind]:
        allowed = ", ".join(sorted(r.value for r in RESULTS[kind]))
        raise InvalidInput(f"A {kind.value} check finds {allowed}, not {result!r}.", field="result")
    if not isinstance(missed, int) or isinstance(missed, bool):
        raise InvalidInput(f"The number of problems found must be a whole number, not {missed!r}.", field="missed")
    if found is Result.MISSED and not 1 <= missed <= MAX_MISSED:
        raise InvalidInput(
            f"发现漏报 records 1 to {MAX_MISSED} problems, not {missed}.", field="missed", maximum=MAX_MISSED
        )
    if found is not Result.MISSED and missed != 0:
        raise InvalidInput(f"Only 发现漏报 records problems found ({missed} given).", field="missed")
    return found, missed


def counts(kind: SampleKind, result: Result, missed: int = 0) -> dict[str, int]:
    """The counters a checked item adds (nothing while it is pending)."""
    out = dict(COUNTS.get((kind, result), {}))
    if result is Result.MISSED:
        out["sample_missed"] = missed
    return out


def checker_counts(kind: SampleKind, result: Result) -> dict[str, int]:
    """The counters a checked item adds to the inspector who passed the case's 核查 (nothing
    for a grid or a pending item)."""
    return dict(CHECKER_COUNTS.get((kind, result), {}))


def checker(events: Iterable[tuple[str, date, int | None]], closed_on: date) -> int:
    """The inspector whose 核查通过 the case's closing on ``closed_on`` followed, from the case's
    events in order as (kind, local day, actor id): the last ``close`` dated on or before that
    day, and the last ``check_pass`` before it with no new disposal, self-disposal, failed
    check or reopening in between. 0 when that closing followed no 核查 (a self-disposed case)
    or the check has no actor."""
    passed = found = 0
    for kind, day, actor in events:
        if day > closed_on:
            break
        if kind == CHECK_PASS:
            passed = actor or 0
        elif kind == CLOSE:
            found, passed = passed, 0
        elif kind in CHECK_RESETS:
            passed = 0
    return found


@dataclass(frozen=True)
class Rule:
    """How many to draw from each stratum (a unit's closed cases, an inspector's grids):
    ``share`` of them rounded up, but at least ``minimum``; never more than there are."""

    share: Fraction = Fraction(0)
    minimum: int = 0

    def validate(self) -> Rule:
        if not isinstance(self.share, Fraction) or not 0 <= self.share <= 1:
            raise InvalidInput(f"The share drawn must be from 0 to 1, not {self.share}.", field="share")
        if not isinstance(self.minimum, int) or isinstance(self.minimum, bool) or self.minimum < 0:
            raise InvalidInput(f"The minimum must be a whole number ≥ 0, not {self.minimum!r}.", field="size")
        if self.share == 0 and self.minimum == 0:
            raise InvalidInput("A rule that draws nothing: give a share or a number per stratum.", field="size")
        return self

    def how_many(self, available: int) -> int:
        return min(available, max(self.minimum, math.ceil(self.share * available)))

    def as_dict(self) -> dict:
        share = self.share
        return {"share": f"{share.numerator}/{share.denominator}", "minimum": self.minimum}

    @classmethod
    def from_dict(cls, data: Mapping) -> Rule:
        try:
            return cls(Fraction(str(data.get("share", 0))), data.get("minimum", 0)).validate()
        except (ValueError, ZeroDivisionError):
            raise InvalidInput(f"The share drawn is not a number: {data.get('share')!r}.", field="share") from None

    @classmethod
    def of_size(cls, size: object) -> Rule:
        """Exactly ``size`` per stratum (or all of a smaller one)."""
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise InvalidInput(f"The sample size must be a whole number ≥ 1, not {size!r}.", field="size")
        return cls(Fraction(0), size)


# Defaults, overridden by configuration (the services read it): 5 % of each unit's closed
# cases and at least 2; 2 grids of each inspector's patrol area.
DEFAULT_RULES: dict[SampleKind, Rule] = {
    SampleKind.CASES: Rule(Fraction(1, 20), 2),
    SampleKind.PATROL: Rule(Fraction(0), 2),
}


def new_seed() -> str:
    """A fresh random seed (128 bits, hex) for a round."""
    return secrets.token_hex(16)


def rank_key(seed: str, stratum: str, candidate: str) -> str:
    """The candidate's place in the draw: sha256 of "seed|stratum|candidate", hex."""
    return hashlib.sha256(f"{seed}|{stratum}|{candidate}".encode()).hexdigest()


def draw(population: Mapping[str, Iterable[str]], rule: Rule, seed: str) -> dict[str, tuple[str, ...]]:
    """Per stratum, the candidates drawn, in draw order: those with the smallest rank keys.

    The same seed, rule and candidates give the same sample whatever order they come in, and
    adding a stratum leaves the others' samples as they were."""
    if not isinstance(seed, str) or not seed.strip():
        raise InvalidInput("A draw needs a seed.", field="seed")
    rule.validate()
    out: dict[str, tuple[str, ...]] = {}
    for stratum in sorted(population, key=str):
        candidates = sorted({str(c) for c in population[stratum]})
        n = rule.how_many(len(candidates))
        ranked = sorted(candidates, key=lambda c, s=str(stratum): (rank_key(seed, s, c), c))
        if n:
            out[str(stratum)] = tuple(ranked[:n])
    return out
