"""Routing (确权): which responsible unit a case should go to, and why.

The steps are one table, tried in order; the first that names a unit wins:

1. the maintainer unit (养护单位) of the component the case is about;
2. that component's owner unit (权属单位);
3. an area × category rule: the rule whose area holds the case's place most closely
   (unit grid before community before street before district), then the lower
   priority number, then the older rule;
4. the category's default rule for the whole city;
5. nobody: the case waits in the dispatchers' triage queue (待分拣).

Pure: rules and facts come in as plain values, so the same function serves filing,
the admin's "which unit would get this?" preview and the tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum


class RuleKind(StrEnum):
    AREA_CATEGORY = "area_category"  # (grid or area) × category
    CATEGORY_DEFAULT = "category_default"  # category, anywhere in the city


class Step(StrEnum):
    """What chose the unit, in the order the steps are tried."""

    COMPONENT_MAINTAINER = "component_maintainer"
    COMPONENT_OWNER = "component_owner"
    AREA_CATEGORY = "area_category"
    CATEGORY_DEFAULT = "category_default"
    TRIAGE = "triage"


@dataclass(frozen=True)
class Rule:
    id: int
    kind: RuleKind
    category_id: int
    unit_id: int
    area_path: str | None = None  # the rule area's path ("320300/320302/…"); None for defaults
    priority: int = 100


@dataclass(frozen=True)
class CaseFacts:
    category_id: int
    area_path: str  # the case's unit grid path
    maintainer_unit_id: int | None = None  # of the component the case is about, if any
    owner_unit_id: int | None = None


@dataclass(frozen=True)
class Proposal:
    unit_id: int | None
    step: Step
    rule_id: int | None = None


def _inside(path: str, area_path: str) -> bool:
    return path == area_path or path.startswith(f"{area_path}/")


def _maintainer(facts: CaseFacts, rules: list[Rule]) -> Proposal | None:
    if facts.maintainer_unit_id is None:
        return None
    return Proposal(facts.maintainer_unit_id, Step.COMPONENT_MAINTAINER)


def _owner(facts: CaseFacts, rules: list[Rule]) -> Proposal | None:
    if facts.owner_unit_id is None:
        return None
    return Proposal(facts.owner_unit_id, Step.COMPONENT_OWNER)


def _area_category(facts: CaseFacts, rules: list[Rule]) -> Proposal | None:
    matches = [
        r
        for r in rules
        if r.kind == RuleKind.AREA_CATEGORY
        and r.category_id == facts.category_id
        and r.area_path is not None
        and _inside(facts.area_path, r.area_path)
    ]
    if not matches:
        return None
    # Deepest area first (more path segments = a smaller area), then priority, then age.
    best = min(matches, key=lambda r: (-r.area_path.count("/"), r.priority, r.id))
    return Proposal(best.unit_id, Step.AREA_CATEGORY, best.id)


def _category_default(facts: CaseFacts, rules: list[Rule]) -> Proposal | None:
    matches = [r for r in rules if r.kind == RuleKind.CATEGORY_DEFAULT and r.category_id == facts.category_id]
    if not matches:
        return None
    best = min(matches, key=lambda r: (r.priority, r.id))
    return Proposal(best.unit_id, Step.CATEGORY_DEFAULT, best.id)


STEPS: tuple[tuple[Step, Callable[[CaseFacts, list[Rule]], Proposal | None]], ...] = (
    (Step.COMPONENT_MAINTAINER, _maintainer),
    (Step.COMPONENT_OWNER, _owner),
    (Step.AREA_CATEGORY, _area_category),
    (Step.CATEGORY_DEFAULT, _category_default),
)


def propose(facts: CaseFacts, rules: Iterable[Rule]) -> Proposal:
    """The unit for a case with these facts under these (active) rules; see the module doc."""
    rules = list(rules)
    for _, step in STEPS:
        proposal = step(facts, rules)
        if proposal is not None:
            return proposal
    return Proposal(None, Step.TRIAGE)
