"""Migrations that rewrite stored rows: what they write reads back as what was there."""

from __future__ import annotations

import datetime as dt
import importlib
import json

import pytest
from django.db import connection

from citykeeper.services import counters
from citykeeper.store.models import CaseContribution
from tests.factories import report_case

pytestmark = pytest.mark.django_db

as_text = importlib.import_module("citykeeper.store.migrations.0020_case_contribution_as_text")


class Editor:
    """What the migration's functions use of a schema editor, on the test's connection (SQLite
    refuses a real schema editor inside the test's transaction)."""

    connection = connection

    @staticmethod
    def execute(sql: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql)


def test_contributions_stored_as_a_json_list_become_the_text_the_counters_read_and_back(city, people):
    case = report_case(city, people)
    entries = [
        ["closed", "2026-10-05", "unit", 3, 41, 1],
        ["handling_seconds", "2026-10-05", "unit", 3, 0, 86400],
        ["reported", "2026-10-03", "grid", 12, 0, 1],
        ["reported", "2026-10-03", "inspector", 7, 0, 1],
    ]
    # After the column's type changed it holds the JSON's text (PostgreSQL's jsonb::text).
    CaseContribution.objects.filter(case=case).update(contributions=json.dumps(entries))

    as_text.to_text(None, Editor)  # on PostgreSQL its one UPDATE, on SQLite row by row

    text = CaseContribution.objects.get(case=case).contributions
    assert counters._from_text(text) == {
        (counter, dt.date.fromisoformat(day), kind, sid, key): value for counter, day, kind, sid, key, value in entries
    }
    as_text.to_json(None, Editor)
    assert json.loads(CaseContribution.objects.get(case=case).contributions) == entries


def test_a_case_that_contributed_nothing_keeps_an_empty_text_both_ways(city, people):
    case = report_case(city, people)
    CaseContribution.objects.filter(case=case).update(contributions="[]")
    as_text.to_text(None, Editor)
    assert CaseContribution.objects.get(case=case).contributions == ""
    as_text.to_json(None, Editor)
    assert CaseContribution.objects.get(case=case).contributions == "[]"
