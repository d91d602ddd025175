"""The duplicate rate (重复率): merged reports over all reports of a period, per channel."""

from __future__ import annotations

from citykeeper.services import cases as svc
from citykeeper.services.cases import MoveInput
from tests.factories import MONDAY_9AM, report_case


def test_merged_reports_over_reports_per_source_within_the_period_and_scope(api, city, people):
    survivor = report_case(city, people, source="citizen")
    for _ in range(2):
        duplicate = report_case(city, people, source="citizen")
        svc.merge(duplicate.number, actor=people.operator, version=1, at=MONDAY_9AM, data=MoveInput(target=survivor))
    report_case(city, people)  # an inspector's report, not merged
    body = api(people.operator).get("/duplicates/rate", {"start": "2026-11-23", "end": "2026-11-23"}).json()
    assert (body["reports"], body["merged"], body["rate"]) == (4, 2, 0.5)
    assert {s["source"]: (s["reports"], s["merged"]) for s in body["by_source"]} == {
        "citizen": (3, 2),
        "inspector": (1, 0),
    }
    elsewhere = api(people.outside_operator).get("/duplicates/rate", {"start": "2026-11-23", "end": "2026-11-23"})
    assert elsewhere.json()["reports"] == 0
    before = api(people.operator).get("/duplicates/rate", {"start": "2026-11-22", "end": "2026-11-22"}).json()
    assert before["reports"] == 0 and before["rate"] == 0.0


def test_a_period_that_ends_before_it_starts_is_refused(api, city, people):
    response = api(people.operator).get("/duplicates/rate", {"start": "2026-11-23", "end": "2026-11-01"})
    assert response.status_code == 422 and response.json()["field"] == "end"
