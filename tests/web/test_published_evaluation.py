"""The public page of published evaluations: only published region and unit runs, newest
period first; a run's ranking with grades, scheme version, data date and checksum, numbers
only (no cases); the period's published bulletins served from storage; periods and levels
in the reader's language."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest
from django.core.files.base import ContentFile
from django.test import Client

from citykeeper.domain.evaluation.periods import Period
from citykeeper.services.evaluation import publish, run
from citykeeper.store.models import Case, EvaluationBulletin
from tests.factories import local
from tests.web.test_console_evaluation import NOW, good_month

OCTOBER = Period.month(2026, 10)


def text(response) -> str:
    return unescape(response.content.decode())


@pytest.fixture
def published(city, people):
    good_month(city, people)
    october = publish(run(OCTOBER, "unit", by=people.leader, now=NOW).pk, by=people.leader, now=NOW)
    september = publish(run(Period.month(2026, 9), "unit", by=people.leader, now=NOW).pk, by=people.leader, now=NOW)
    return october, september


def test_the_list_shows_published_runs_newest_period_first_without_a_login(published, people):
    october, september = published
    unpublished = run(OCTOBER, "region-1", by=people.leader, now=NOW)
    response = Client().get("/evaluation/")
    assert response.status_code == 200
    page = text(response)
    assert page.index("2026年10月") < page.index("2026年9月")
    assert f'data-snapshot="{october.snapshot_id}"' in page and f'data-snapshot="{september.snapshot_id}"' in page
    assert f"/evaluation/{october.snapshot_id}/" in page
    assert unpublished.checksum[:10] not in page
    assert 'class="portal"' in page  # the portal's look


def test_a_published_run_shows_its_ranking_scheme_date_and_checksum_and_no_cases(published):
    october, _september = published
    page = text(Client().get(f"/evaluation/{october.snapshot_id}/"))
    assert "2026年10月" in page and "部门评价 v1" in page
    assert f"<code data-checksum>{october.checksum}</code>" in page
    assert f"<code data-snapshot>{october.snapshot_id}</code>" in page
    row = re.search(r'<tr data-subject="\d+">.*?鼓楼区市政所.*?</tr>', page, re.S).group(0)
    assert '<span data-figure="composite">94.00</span>' in row and "grade-A" in row
    numbers = Case.objects.values_list("number", flat=True)
    assert not any(n in page for n in numbers)
    assert 'href="/console/' not in page and "/evaluation/cases/" not in page


def test_an_english_reader_sees_the_periods_and_levels_in_english(published, people):
    october, _september = published
    street = publish(run(OCTOBER, "region-1", by=people.leader, now=NOW, level="street").pk, by=people.leader, now=NOW)
    index = text(Client().get("/evaluation/", HTTP_ACCEPT_LANGUAGE="en"))
    assert index.index("October 2026 (2026-10-01 to 2026-10-31)") < index.index("September 2026 (2026-09-01")
    assert "2026年" not in index and "街道" not in index
    assert re.search(rf'data-snapshot="{street.snapshot_id}"><a [^>]*>[^<]* · street</a>', index)
    detail = text(Client().get(f"/evaluation/{october.snapshot_id}/", HTTP_ACCEPT_LANGUAGE="en"))
    assert "<h1>October 2026 (2026-10-01 to 2026-10-31) " in detail and "2026年" not in detail
    # The Chinese page is unchanged.
    assert "<h1>2026年10月（2026-10-01 至 2026-10-31） " in text(Client().get(f"/evaluation/{october.snapshot_id}/"))


def test_unknown_snapshots_and_post_rankings_are_not_public(city, people):
    good_month(city, people)
    dispatcher = publish(run(OCTOBER, "dispatcher", by=people.leader, now=NOW).pk, by=people.leader, now=NOW)
    assert Client().get("/evaluation/no-such-snapshot/").status_code == 404
    assert Client().get(f"/evaluation/{dispatcher.snapshot_id}/").status_code == 404
    assert dispatcher.snapshot_id not in text(Client().get("/evaluation/"))


def test_the_periods_published_bulletins_are_linked_and_served_from_storage(published, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    october, _september = published

    def bulletin(provisional: bool) -> EvaluationBulletin:
        made = EvaluationBulletin(
            period_kind="month",
            period_start=dt.date(2026, 10, 1),
            period_end=dt.date(2026, 10, 31),
            title="2026年10月考评通报" + ("（暂定）" if provisional else ""),
            snapshot_ids=[october.snapshot_id],
            provisional=provisional,
            created_at=local(2026, 11, 21, 10, 0),
        )
        made.pdf.save("october.pdf", ContentFile(b"%PDF-1.4 bulletin"), save=False)
        made.xlsx.save("october.xlsx", ContentFile(b"PK excel"), save=False)
        made.save()
        return made

    final, draft = bulletin(False), bulletin(True)
    page = text(Client().get(f"/evaluation/{october.snapshot_id}/"))
    assert f'data-bulletin="{final.pk}"' in page and f'data-bulletin="{draft.pk}"' not in page
    pdf = Client().get(f"/evaluation/bulletins/{final.pk}/pdf/")
    assert pdf.status_code == 200 and b"".join(pdf.streaming_content) == b"%PDF-1.4 bulletin"
    xlsx = Client().get(f"/evaluation/bulletins/{final.pk}/xlsx/")
    assert xlsx.status_code == 200 and "attachment" in xlsx["Content-Disposition"]
    assert Client().get(f"/evaluation/bulletins/{draft.pk}/pdf/").status_code == 404
    assert Client().get(f"/evaluation/bulletins/{final.pk}/title/").status_code == 404
