"""Routing (确权) as stored: rules from the database, facts from the case, the choice
from ``domain.routing.propose``."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from citykeeper.domain.errors import InvalidInput
from citykeeper.domain.routing import CaseFacts, Proposal, Rule, RuleKind, Step, propose
from citykeeper.store.models import Area, Case, Category, Component, RoutingRule, Unit
from citykeeper.store.models.basedata import ROUTING_STEP_LABELS


def rules_for(category_id: int) -> tuple[list[Rule], dict[int, str]]:
    """The active rules of one category as the domain reads them, and their units' codes."""
    rows = RoutingRule.objects.filter(category_id=category_id, active=True).values_list(
        "id", "kind", "category_id", "unit_id", "area__path", "priority", "unit__code"
    )
    rules = [Rule(pk, RuleKind(kind), cat, unit, path, prio) for pk, kind, cat, unit, path, prio, _ in rows]
    return rules, {row[3]: row[6] for row in rows}


def facts_of(category_id: int, area_path: str, component: Component | None) -> CaseFacts:
    return CaseFacts(
        category_id=category_id,
        area_path=area_path,
        maintainer_unit_id=component.maintainer_unit_id if component else None,
        owner_unit_id=component.owner_unit_id if component else None,
    )


def propose_for(case: Case) -> tuple[Proposal, str | None]:
    """The unit routing proposes for ``case`` now (its category, place and component), with
    the unit's code."""
    component = case.component if case.component_id else None
    rules, codes = rules_for(case.category_id)
    proposal = propose(facts_of(case.category_id, case.area_path, component), rules)
    if proposal.unit_id is None:
        return proposal, None
    code = codes.get(proposal.unit_id)
    if code is None:  # a component's own unit
        code = Unit.objects.filter(pk=proposal.unit_id).values_list("code", flat=True).first()
    return proposal, code


@dataclass(frozen=True)
class Preview:
    """The answer to "which unit would get this?"."""

    unit: Unit | None
    step: Step
    rule: RoutingRule | None
    explanation: str


def explain(proposal: Proposal, unit: Unit | None, rule: RoutingRule | None) -> str:
    label = str(ROUTING_STEP_LABELS[proposal.step])
    if unit is None:
        return label
    if rule is not None:
        return _("%(step)s：%(rule)s") % {"step": label, "rule": rule}
    return _("%(step)s：%(unit)s") % {"step": label, "unit": unit.name}


def preview(*, category: Category, area: Area, component: Component | None = None) -> Preview:
    """Which unit a case of ``category`` at ``area`` (a unit grid) about ``component`` would get."""
    if component is not None and component.grid_id != area.pk:
        raise InvalidInput(
            f"Component {component.code} lies in grid {component.grid.code}, not in {area.code}.", field="component"
        )
    proposal = propose(facts_of(category.pk, area.path, component), rules_for(category.pk)[0])
    unit = Unit.objects.filter(pk=proposal.unit_id).first() if proposal.unit_id else None
    rule = (
        RoutingRule.objects.select_related("area", "category", "unit").filter(pk=proposal.rule_id).first()
        if proposal.rule_id
        else None
    )
    return Preview(unit, proposal.step, rule, explain(proposal, unit, rule))
