"""监督员外包公司 in the admin: the list with how many inspectors work for each today, a
contractor added with its inspectors in one form, and the rules of the service refused with a
Chinese message naming the field, nothing saved: a contract ending before it starts, someone
who is not an inspector, and an inspector working for two contractors on the same day."""

from __future__ import annotations

import datetime as dt
from html import unescape

import pytest
from django.urls import reverse

from citykeeper.services.evaluation import add_contractor, assign_inspector
from citykeeper.store.models import ContractorMembership, InspectionContractor

CONTRACTORS = reverse("admin:store_inspectioncontractor_changelist")
ADD_CONTRACTOR = reverse("admin:store_inspectioncontractor_add")
ADD_MEMBERSHIP = reverse("admin:store_contractormembership_add")


def page(response) -> str:
    return unescape(response.content.decode())


def contractor_form(*rows: dict, code="WB-02", contract_end="", initial=0, **fields) -> dict:
    """The contractor's add or change form, with its inline membership rows."""
    form = {
        "code": code,
        "name": "安城公司",
        "contract_start": "2026-01-01",
        "contract_end": contract_end,
        "active": "on",
        "memberships-TOTAL_FORMS": str(len(rows)),
        "memberships-INITIAL_FORMS": str(initial),
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
        **fields,
    }
    for n, row in enumerate(rows):
        form.update({f"memberships-{n}-{k}": v for k, v in row.items()})
    return form


@pytest.fixture
def first(city, people):
    """城巡公司, with the inspector on its books since 1 January and no end."""
    contractor = add_contractor("WB-01", "城巡公司", contract_start=dt.date(2026, 1, 1))
    assign_inspector(contractor, people.inspector, start=dt.date(2026, 1, 1))
    return contractor


@pytest.mark.django_db
def test_the_list_counts_the_inspectors_of_today_and_searches_by_name(admin_client, first, people):
    assign_inspector(first, people.other_inspector, start=dt.date(2020, 1, 1), end=dt.date(2020, 12, 31))
    listing = page(admin_client.get(CONTRACTORS))
    assert "监督员外包公司" in listing and "城巡公司" in listing
    assert '<td class="field-inspectors_now">1</td>' in listing  # the 2020 span is over
    assert "城巡公司" not in page(admin_client.get(CONTRACTORS, {"q": "安城"}))
    spans = page(admin_client.get(reverse("admin:store_contractormembership_changelist"), {"q": "inspector2"}))
    assert "2020" in spans and "2026" not in spans.split("<tbody>", 1)[1]


@pytest.mark.django_db
def test_a_contractor_is_added_with_its_inspectors(admin_client, city, people):
    add_page = page(admin_client.get(ADD_CONTRACTOR))
    assert 'name="memberships-TOTAL_FORMS"' in add_page and "外包监督员" in add_page
    form = contractor_form({"inspector": people.other_inspector.pk, "start": "2026-10-01", "end": ""})
    response = admin_client.post(ADD_CONTRACTOR, form)
    assert response.status_code == 302, page(response)[:3000]
    added = InspectionContractor.objects.get(code="WB-02")
    assert [(m.inspector, m.start, m.end) for m in added.memberships.all()] == [
        (people.other_inspector, dt.date(2026, 10, 1), None)
    ]


@pytest.mark.django_db
def test_an_inspector_on_another_contractors_books_is_refused_and_nothing_is_saved(admin_client, first, people):
    form = contractor_form({"inspector": people.inspector.pk, "start": "2026-10-01", "end": "2026-12-31"})
    response = admin_client.post(ADD_CONTRACTOR, form)
    assert response.status_code == 200
    assert "inspector 已经为“城巡公司”工作（2026-01-01 起，未结束），同一时间只能为一家外包公司工作" in page(response)
    assert not InspectionContractor.objects.filter(code="WB-02").exists()
    assert ContractorMembership.objects.count() == 1


@pytest.mark.django_db
def test_two_overlapping_rows_of_one_form_are_refused(admin_client, city, people):
    rows = (
        {"inspector": people.other_inspector.pk, "start": "2026-01-01", "end": "2026-06-30"},
        {"inspector": people.other_inspector.pk, "start": "2026-06-30", "end": ""},
    )
    response = admin_client.post(ADD_CONTRACTOR, contractor_form(*rows))
    assert response.status_code == 200
    assert "inspector2 已经为“安城公司”工作（2026-01-01 至 2026-06-30）" in page(response)
    assert not InspectionContractor.objects.filter(code="WB-02").exists()


@pytest.mark.django_db
def test_a_span_is_ended_and_the_next_one_begun_in_one_save(admin_client, first, people):
    """The stored span is judged by its new end, not by the one it had."""
    held = first.memberships.get()
    rows = (
        {"id": held.pk, "contractor": first.pk, "inspector": people.inspector.pk, "start": "2026-01-01"},
        {"contractor": first.pk, "inspector": people.other_inspector.pk, "start": "2026-10-01", "end": ""},
    )
    rows[0]["end"] = "2026-09-30"
    form = contractor_form(*rows, code="WB-01", initial=1, name="城巡公司")
    response = admin_client.post(reverse("admin:store_inspectioncontractor_change", args=[first.pk]), form)
    assert response.status_code == 302, page(response)[:3000]
    held.refresh_from_db()
    assert held.end == dt.date(2026, 9, 30) and first.memberships.count() == 2


@pytest.mark.django_db
def test_a_contract_that_ends_before_it_starts_is_refused(admin_client, city):
    response = admin_client.post(ADD_CONTRACTOR, contractor_form(contract_end="2025-12-31"))
    assert response.status_code == 200
    assert "合同结束日期（2025-12-31）早于合同开始日期（2026-01-01）" in page(response)
    assert not InspectionContractor.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "refused",
    [
        ("inspector", "", "inspector 已经为“城巡公司”工作（2026-01-01 起，未结束）"),
        ("operator", "", "operator 不是监督员：外包公司只登记监督员。"),
        ("other_inspector", "2026-10-31", "结束日期（2026-10-31）早于开始日期（2026-11-01）。"),
    ],
)
def test_a_membership_added_on_its_own_page_follows_the_same_rules(admin_client, first, people, refused):
    who, end, message = refused
    second = add_contractor("WB-02", "安城公司", contract_start=dt.date(2026, 1, 1))
    form = {"contractor": second.pk, "inspector": getattr(people, who).pk, "start": "2026-11-01", "end": end}
    response = admin_client.post(ADD_MEMBERSHIP, form)
    assert response.status_code == 200 and message in page(response)
    assert not second.memberships.exists()


@pytest.mark.django_db
def test_a_membership_added_on_its_own_page_after_the_last_span_ended(admin_client, first, people):
    held = first.memberships.get()
    change = reverse("admin:store_contractormembership_change", args=[held.pk])
    edited = {"contractor": first.pk, "inspector": people.inspector.pk, "start": "2026-01-01", "end": "2026-10-31"}
    assert admin_client.post(change, edited).status_code == 302  # its own stored span is no obstacle
    second = add_contractor("WB-02", "安城公司", contract_start=dt.date(2026, 1, 1))
    form = {"contractor": second.pk, "inspector": people.inspector.pk, "start": "2026-11-01", "end": ""}
    assert admin_client.post(ADD_MEMBERSHIP, form).status_code == 302
    assert [m.contractor for m in ContractorMembership.objects.filter(inspector=people.inspector)] == [first, second]


@pytest.mark.django_db
def test_the_inspector_picker_offers_inspectors_only(admin_client, city, people):
    query = {"app_label": "store", "model_name": "contractormembership", "field_name": "inspector", "term": ""}
    offered = {r["text"] for r in admin_client.get(reverse("admin:autocomplete"), query).json()["results"]}
    assert {"inspector", "inspector2"} <= offered and "operator" not in offered
