"""Routing precedence: component units, then the closest area rule, then the default, then triage."""

from __future__ import annotations

from citykeeper.domain.routing import CaseFacts, Rule, RuleKind, Step, propose

GRID = "320300/320302/320302001/320302001001/320302001001001"
CAT, OTHER_CAT = 7, 8
DISTRICT_RULE = Rule(1, RuleKind.AREA_CATEGORY, CAT, unit_id=101, area_path="320300/320302")
STREET_RULE = Rule(2, RuleKind.AREA_CATEGORY, CAT, unit_id=102, area_path="320300/320302/320302001")
GRID_RULE = Rule(3, RuleKind.AREA_CATEGORY, CAT, unit_id=103, area_path=GRID)
DEFAULT_RULE = Rule(4, RuleKind.CATEGORY_DEFAULT, CAT, unit_id=104)
OTHER_DISTRICT_RULE = Rule(5, RuleKind.AREA_CATEGORY, CAT, unit_id=105, area_path="320300/320303")
ALL = [DISTRICT_RULE, STREET_RULE, GRID_RULE, DEFAULT_RULE, OTHER_DISTRICT_RULE]


def facts(**kw):
    return CaseFacts(category_id=kw.pop("category_id", CAT), area_path=kw.pop("area_path", GRID), **kw)


def test_the_components_maintainer_comes_before_every_rule():
    p = propose(facts(maintainer_unit_id=900, owner_unit_id=901), ALL)
    assert (p.unit_id, p.step, p.rule_id) == (900, Step.COMPONENT_MAINTAINER, None)


def test_the_components_owner_is_next_when_it_has_no_maintainer():
    p = propose(facts(owner_unit_id=901), ALL)
    assert (p.unit_id, p.step) == (901, Step.COMPONENT_OWNER)


def test_the_rule_of_the_smallest_area_holding_the_case_wins():
    assert propose(facts(), ALL).rule_id == GRID_RULE.id
    assert propose(facts(), [DISTRICT_RULE, STREET_RULE, DEFAULT_RULE]).rule_id == STREET_RULE.id
    assert propose(facts(), [DISTRICT_RULE, DEFAULT_RULE]).unit_id == DISTRICT_RULE.unit_id


def test_a_rule_of_a_sibling_area_whose_code_is_a_prefix_does_not_match():
    sibling = Rule(6, RuleKind.AREA_CATEGORY, CAT, unit_id=106, area_path="320300/320302/32030200")
    p = propose(facts(), [sibling])
    assert p.step == Step.TRIAGE


def test_among_rules_of_the_same_area_the_lower_priority_number_then_the_older_rule_wins():
    later = Rule(10, RuleKind.AREA_CATEGORY, CAT, unit_id=110, area_path=GRID, priority=5)
    earlier = Rule(9, RuleKind.AREA_CATEGORY, CAT, unit_id=109, area_path=GRID, priority=5)
    urgent = Rule(11, RuleKind.AREA_CATEGORY, CAT, unit_id=111, area_path=GRID, priority=1)
    assert propose(facts(), [later, earlier]).rule_id == 9
    assert propose(facts(), [later, earlier, urgent]).rule_id == 11


def test_the_category_default_applies_where_no_area_rule_holds_the_case():
    p = propose(facts(area_path="320300/320303/320303001"), [DISTRICT_RULE, STREET_RULE, DEFAULT_RULE])
    assert (p.unit_id, p.step) == (DEFAULT_RULE.unit_id, Step.CATEGORY_DEFAULT)


def test_rules_of_another_category_never_match_and_the_case_awaits_triage():
    p = propose(facts(category_id=OTHER_CAT), ALL)
    assert (p.unit_id, p.step, p.rule_id) == (None, Step.TRIAGE, None)
