"""抽查: how many are drawn from each stratum, a draw anyone can repeat from its seed, and
what a re-check may find."""

from __future__ import annotations

import datetime as dt
import hashlib
from fractions import Fraction

import pytest

from citykeeper.domain.errors import InvalidInput
from citykeeper.domain.evaluation.sampling import (
    DEFAULT_RULES,
    Result,
    Rule,
    SampleKind,
    check_result,
    checker,
    checker_counts,
    counts,
    draw,
    kind_of,
    new_seed,
)

FIVE_PERCENT_AT_LEAST_TWO = Rule(Fraction(1, 20), 2)


@pytest.mark.parametrize("available, drawn", [(0, 0), (1, 1), (2, 2), (10, 2), (40, 2), (41, 3), (100, 5)])
def test_a_unit_gets_its_share_rounded_up_but_at_least_the_minimum_and_never_more_than_it_has(available, drawn):
    # 41 × 5 % = 2.05, rounded up to 3; 10 × 5 % = 0.5 → 1, raised to the minimum of 2.
    assert FIVE_PERCENT_AT_LEAST_TWO.how_many(available) == drawn


def test_the_defaults_are_five_percent_of_each_units_closed_cases_and_two_grids_per_inspector():
    assert DEFAULT_RULES[SampleKind.CASES] == Rule(Fraction(1, 20), 2)
    assert DEFAULT_RULES[SampleKind.PATROL].how_many(30) == 2


def test_anyone_can_redraw_with_sha256_of_seed_stratum_and_candidate():
    population = {"7": ["C3", "C1", "C2", "C4"], "9": ["C9"]}
    drawn = draw(population, Rule.of_size(2), "abc")

    def key(stratum, candidate):
        return hashlib.sha256(f"abc|{stratum}|{candidate}".encode()).hexdigest()

    assert drawn["7"] == tuple(sorted(["C1", "C2", "C3", "C4"], key=lambda c: key("7", c))[:2])
    assert drawn["9"] == ("C9",)  # a stratum smaller than the size gives all it has


def test_the_same_seed_gives_the_same_sample_whatever_order_the_candidates_come_in():
    forward = {"1": [f"N{i:03d}" for i in range(50)], "2": [f"M{i:03d}" for i in range(20)]}
    backward = {"2": list(reversed(forward["2"])), "1": list(reversed(forward["1"]))}
    assert draw(forward, FIVE_PERCENT_AT_LEAST_TWO, "seed-1") == draw(backward, FIVE_PERCENT_AT_LEAST_TWO, "seed-1")
    # 50 × 5 % = 2.5 → 3 cases; 20 × 5 % = 1 → the minimum of 2.
    assert [len(v) for v in draw(forward, FIVE_PERCENT_AT_LEAST_TWO, "seed-1").values()] == [3, 2]


def test_another_seed_draws_another_sample_and_a_new_stratum_leaves_the_others_alone():
    population = {"1": [f"N{i:03d}" for i in range(50)]}
    assert draw(population, Rule.of_size(5), "seed-1") != draw(population, Rule.of_size(5), "seed-2")
    more = {**population, "2": ["X1", "X2", "X3"]}
    assert draw(more, Rule.of_size(5), "seed-1")["1"] == draw(population, Rule.of_size(5), "seed-1")["1"]


def test_fresh_seeds_are_128_random_bits():
    seeds = {new_seed() for _ in range(5)}
    assert len(seeds) == 5 and all(len(s) == 32 for s in seeds)


def test_a_rule_survives_its_json():
    assert Rule.from_dict(FIVE_PERCENT_AT_LEAST_TWO.as_dict()) == FIVE_PERCENT_AT_LEAST_TWO
    assert FIVE_PERCENT_AT_LEAST_TWO.as_dict() == {"share": "1/20", "minimum": 2}


@pytest.mark.parametrize(
    "make, field",
    [
        (lambda: Rule(Fraction(3, 2), 0).validate(), "share"),
        (lambda: Rule(Fraction(0), -1).validate(), "size"),
        (lambda: Rule(Fraction(0), 0).validate(), "size"),
        (lambda: Rule.of_size(0), "size"),
        (lambda: Rule.from_dict({"share": "a lot"}), "share"),
        (lambda: draw({"1": ["A"]}, Rule.of_size(1), " "), "seed"),
        (lambda: kind_of("everything"), "kind"),
    ],
)
def test_bad_rules_seeds_and_kinds_are_refused_naming_the_field(make, field):
    with pytest.raises(InvalidInput) as refused:
        make()
    assert refused.value.field == field


# -- results ----------------------------------------------------------------------------------


def test_a_closed_case_is_fixed_or_not_and_a_grid_is_clean_or_has_problems_unreported():
    assert check_result(SampleKind.CASES, "passed") == (Result.PASSED, 0)
    assert check_result(SampleKind.CASES, "failed") == (Result.FAILED, 0)
    assert check_result(SampleKind.PATROL, "missed", 3) == (Result.MISSED, 3)
    assert counts(SampleKind.CASES, Result.PASSED) == {"sample_cases": 1, "sample_passed": 1}
    assert counts(SampleKind.CASES, Result.FAILED) == {"sample_cases": 1}
    assert counts(SampleKind.PATROL, Result.PASSED) == {"sample_grids": 1}
    assert counts(SampleKind.PATROL, Result.MISSED, 3) == {
        "sample_grids": 1,
        "sample_grids_missed": 1,
        "sample_missed": 3,
    }
    assert counts(SampleKind.CASES, Result.PENDING) == {}


@pytest.mark.parametrize(
    "kind, result, missed, field",
    [
        (SampleKind.CASES, "missed", 1, "result"),  # a closed case has no 漏报
        (SampleKind.PATROL, "failed", 0, "result"),  # a grid is not "not fixed"
        (SampleKind.CASES, "pending", 0, "result"),  # a check finds something
        (SampleKind.CASES, "maybe", 0, "result"),
        (SampleKind.PATROL, "missed", 0, "missed"),  # 发现漏报 of nothing
        (SampleKind.PATROL, "missed", 1000, "missed"),
        (SampleKind.PATROL, "missed", "2", "missed"),
        (SampleKind.PATROL, "passed", 2, "missed"),  # problems found in a clean grid
    ],
)
def test_a_result_that_does_not_fit_the_kind_or_a_bad_count_is_refused(kind, result, missed, field):
    with pytest.raises(InvalidInput) as refused:
        check_result(kind, result, missed)
    assert refused.value.field == field


# -- the inspector who passed the 核查 of a sampled case --------------------------------------

MON, TUE = dt.date(2026, 10, 19), dt.date(2026, 10, 20)
CHECKED = [("dispose", MON, 5), ("check_pass", MON, 7), ("close", MON, 3)]


def test_a_closed_case_found_not_fixed_counts_against_the_inspector_who_passed_its_check():
    assert checker_counts(SampleKind.CASES, Result.PASSED) == {"sample_checked": 1}
    assert checker_counts(SampleKind.CASES, Result.FAILED) == {"sample_checked": 1, "sample_checked_failed": 1}
    # A grid's re-check and a pending item judge no 核查.
    assert checker_counts(SampleKind.PATROL, Result.MISSED) == checker_counts(SampleKind.CASES, Result.PENDING) == {}


@pytest.mark.parametrize(
    "events, closed_on, inspector",
    [
        (CHECKED, MON, 7),
        # A failed check, rework and a new disposal: the check that passed counts, not the failed one.
        (
            [
                ("dispose", MON, 5),
                ("check_fail", MON, 8),
                ("dispose", MON, 5),
                ("check_pass", MON, 7),
                ("close", MON, 3),
            ],
            MON,
            7,
        ),
        # Reopened by the reporter the next day and checked again by another inspector: the
        # closing on Monday followed inspector 7's check, Tuesday's followed inspector 9's.
        ([*CHECKED, ("reopen", TUE, None), ("check_pass", TUE, 9), ("close", TUE, 3)], MON, 7),
        ([*CHECKED, ("reopen", TUE, None), ("check_pass", TUE, 9), ("close", TUE, 3)], TUE, 9),
        # Reopened and re-checked on the day it closed: that day's standing closing is the last.
        ([*CHECKED, ("reopen", MON, None), ("check_pass", MON, 9), ("close", MON, 3)], MON, 9),
        # Reopened, then the centre upholds the closing (no new check, no new close event).
        ([*CHECKED, ("reopen", TUE, None)], TUE, 7),
        # Disposed on the spot by the inspector and closed: no 核查, nobody.
        ([("self_dispose", MON, 7), ("close", MON, 3)], MON, 0),
        # A check without an actor (an import), and a closing after the day asked about.
        ([("dispose", MON, 5), ("check_pass", MON, None), ("close", MON, 3)], MON, 0),
        ([("dispose", MON, 5), ("check_pass", TUE, 7), ("close", TUE, 3)], MON, 0),
    ],
)
def test_the_checker_is_the_inspector_of_the_last_passed_check_before_that_days_closing(events, closed_on, inspector):
    assert checker(events, closed_on) == inspector
