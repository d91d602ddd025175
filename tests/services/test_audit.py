"""The event log cannot be rewritten quietly."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import DatabaseError, connection, transaction

from citykeeper.services import cases as svc
from citykeeper.services.audit import verify_chains
from citykeeper.store.models import CaseEvent
from citykeeper.store.querysets import AppendOnlyError
from tests.factories import MONDAY_9AM, report_case


def a_case_with_history(city, people):
    case = report_case(city, people)
    case = svc.accept(case.number, actor=people.operator, version=1, at=MONDAY_9AM + dt.timedelta(minutes=2))
    return svc.file(
        case.number,
        actor=people.shift_lead,
        version=2,
        at=MONDAY_9AM + dt.timedelta(minutes=4),
        data=svc.MoveInput(condition=city.condition),
    )


def test_an_untouched_history_verifies(city, people):
    a_case_with_history(city, people)
    checked, broken = verify_chains()
    assert (checked, broken) == (1, [])


def test_the_model_refuses_to_change_or_delete_an_event(city, people):
    event = a_case_with_history(city, people).events.first()
    event.reason = "改写"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        CaseEvent.objects.filter(pk=event.pk).update(reason="改写")
    with pytest.raises(AppendOnlyError):
        CaseEvent.objects.filter(pk=event.pk).delete()


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE store_case_event SET reason = 'rewritten' WHERE id = %s",
        "DELETE FROM store_case_event WHERE id = %s",
    ],
)
def test_the_database_refuses_raw_sql_that_changes_or_deletes_an_event(sql, city, people):
    event = a_case_with_history(city, people).events.first()
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [event.pk])
    assert CaseEvent.objects.get(pk=event.pk).reason == event.reason


def test_verify_names_the_case_whose_event_was_rewritten_behind_the_guards(city, people):
    tampered = a_case_with_history(city, people)
    clean = report_case(city, people)
    event = tampered.events.get(seq=2)
    _rewrite(f"UPDATE store_case_event SET reason = 'nothing happened' WHERE id = {event.pk}")
    checked, broken = verify_chains()
    assert checked == 2
    assert [(b.case_number, b.seq) for b in broken] == [(tampered.number, 2)]
    assert clean.number not in {b.case_number for b in broken}


def test_verify_finds_a_deleted_event(city, people):
    tampered = a_case_with_history(city, people)
    event = tampered.events.get(seq=2)
    _rewrite(f"DELETE FROM store_case_event WHERE id = {event.pk}")
    _, broken = verify_chains()
    assert [(b.case_number, b.seq) for b in broken] == [(tampered.number, 3)]
    assert "missing" in broken[0].reason


def test_verify_finds_the_newest_events_removed(city, people):
    tampered = a_case_with_history(city, people)
    newest = tampered.events.get(seq=3)
    _rewrite(f"DELETE FROM store_case_event WHERE id = {newest.pk}")
    _, broken = verify_chains()
    assert [(b.case_number, b.seq) for b in broken] == [(tampered.number, 3)]
    assert "newest events were removed" in broken[0].reason


def test_verify_finds_a_case_row_whose_chain_head_was_rewritten(city, people):
    from citykeeper.store.models import Case

    tampered = a_case_with_history(city, people)
    Case.objects.filter(pk=tampered.pk).update(chain_head="f" * 64)
    _, broken = verify_chains()
    assert [(b.case_number, b.seq) for b in broken] == [(tampered.number, 3)]
    assert "chain head" in broken[0].reason


def test_each_move_records_the_chain_head_on_the_case(city, people):
    case = a_case_with_history(city, people)
    last = case.events.order_by("-seq").first()
    assert (case.chain_seq, case.chain_head) == (3, last.hash)
    assert last.prev_hash == case.events.get(seq=2).hash


def _rewrite(sql: str) -> None:
    """What someone with full database rights could do: lift the guard, rewrite, restore it."""
    import importlib

    guard = importlib.import_module("citykeeper.store.migrations.0002_append_only_events")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Django's deferred foreign-key checks would block ALTER TABLE in this transaction.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE store_case_event DISABLE TRIGGER case_event_append_only")
            cursor.execute(sql)
            cursor.execute("ALTER TABLE store_case_event ENABLE TRIGGER case_event_append_only")
        else:
            cursor.execute("DROP TRIGGER case_event_no_update")
            cursor.execute("DROP TRIGGER case_event_no_delete")
            cursor.execute(sql)
            for statement in guard.SQLITE:
                cursor.execute(statement)
