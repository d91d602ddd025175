"""The admin: every configuration screen opens, cases are read-only, calendar edits apply at once."""

from __future__ import annotations

import datetime as dt
import sys
import types

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from citykeeper.services import open311
from citykeeper.services.calendar import working_calendar
from citykeeper.store.models import (
    ApiToken,
    Area,
    CalendarDay,
    CalendarYear,
    Case,
    CaseEvent,
    Category,
    Component,
    FilingCondition,
    GazetteerEntry,
    ResponsibilityGrid,
    RoleGrant,
    RoutingRule,
    User,
)
from tests.factories import local, make_component, make_personas, report_case

READ_ONLY = {Case, CaseEvent}
NO_ADD = READ_ONLY | {ApiToken}


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_configuration_tables_are_registered():
    registered = set(admin.site._registry)
    for model_name in [
        "Category",
        "ClosingCondition",
        "FilingCondition",
        "StageLimit",
        "WorkPeriodRow",
        "CalendarDay",
        "CalendarYear",
        "Area",
        "Unit",
        "User",
        "ApiToken",
        "Case",
        "CaseEvent",
        "Component",
        "ResponsibilityGrid",
        "GazetteerEntry",
        "RoutingRule",
        "InspectionContractor",
        "ContractorMembership",
    ]:
        assert any(m.__name__ == model_name for m in registered), model_name


@pytest.mark.django_db
def test_every_changelist_add_and_change_page_opens(admin_client, city):
    people = make_personas(city)
    case = report_case(city, people)
    assert case.events.exists()
    ApiToken.objects.create(
        user=people.operator, name="t", key_hash="x" * 64, prefix="ck_abcd", created_at=timezone.now()
    )
    Group.objects.create(name="配置管理员")
    make_component(city)
    open311.issue_key("某市民App", at=timezone.now())
    from citykeeper.services import devices
    from citykeeper.store.models import DeviceEventType
    from tests.factories import map_city

    map_city(city)
    DeviceEventType.objects.create(event_type="garbage", category=city.category)
    devices.register("CAM-1", "球机", lon=117.175, lat=34.255)
    RoutingRule.objects.create(kind="area_category", area=city.district, category=city.category, unit=city.unit)
    ResponsibilityGrid.objects.create(
        code="R-GL-01", name="鼓楼一号责任网格", area=city.district, geometry={}, area_m2=1.0
    )
    GazetteerEntry.objects.create(
        kind="road", name="中山北路", geometry={"type": "Point", "coordinates": [117.18, 34.26]}, lon=117.18, lat=34.26
    )
    from citykeeper.services.evaluation import add_contractor, assign_inspector

    contractor = add_contractor("WB-01", "城巡公司", contract_start=dt.date(2026, 1, 1))
    assign_inspector(contractor, people.inspector, start=dt.date(2026, 1, 1))
    for model in admin.site._registry:
        response = admin_client.get(_url(model, "changelist"))
        assert response.status_code == 200, (model, response.status_code)
        response = admin_client.get(_url(model, "add"))
        assert response.status_code == (403 if model in NO_ADD else 200), (model, response.status_code)
        obj = model._default_manager.first()
        assert obj is not None, model
        response = admin_client.get(_url(model, "change", obj.pk))
        assert response.status_code == 200, (model, response.status_code)


@pytest.mark.django_db
def test_changelist_search_and_filters(admin_client, city):
    assert admin_client.get(_url(Category, "changelist"), {"q": "井盖", "kind__exact": "component"}).status_code == 200
    response = admin_client.get(_url(Category, "changelist"), {"q": "01002"})
    assert "污水井盖" in response.content.decode()
    response = admin_client.get(_url(Area, "changelist"), {"level__exact": "district", "q": "鼓楼"})
    body = response.content.decode()
    assert "鼓楼区" in body and "云龙区" not in body
    response = admin_client.get(_url(CalendarDay, "changelist"), {"year": "2026", "is_workday__exact": "0"})
    assert response.status_code == 200
    assert "2026" in response.content.decode()
    assert admin_client.get(_url(CalendarDay, "changelist"), {"year": "x"}).status_code == 200


@pytest.mark.django_db
def test_area_geometry_is_not_an_editable_field(admin_client, city):
    Area.objects.filter(pk=city.district.pk).update(
        geometry={
            "type": "Polygon",
            "coordinates": [[[117.1, 34.2], [117.2, 34.2], [117.2, 34.3], [117.1, 34.2]]],
        }
    )
    body = admin_client.get(_url(Area, "change", city.district.pk)).content.decode()
    assert 'name="geometry"' not in body
    assert "Polygon" in body
    # Code and parent of an existing area are fixed: the paths below it derive from them.
    assert 'name="code"' not in body and 'name="parent"' not in body


@pytest.mark.django_db
def test_user_admin_has_scope_fields_and_role_inline(admin_client, city):
    people = make_personas(city)
    body = admin_client.get(_url(User, "change", people.inspector.pk)).content.decode()
    for name in ["display_name", "phone", "scope_area", "scope_unit", "role_grants-0-role"]:
        assert f'name="{name}"' in body, name
    # The scope fields use autocomplete widgets.
    assert "admin-autocomplete" in body
    listing = admin_client.get(_url(User, "changelist"), {"role_grants__role": "inspector"}).content.decode()
    assert ">inspector</a>" in listing and ">dispatcher</a>" not in listing


@pytest.mark.django_db
def test_user_can_be_added_then_given_a_role(admin_client, city):
    response = admin_client.post(
        _url(User, "add"),
        {
            "username": "newop",
            "usable_password": "true",
            "password1": "a-long-pass-1",
            "password2": "a-long-pass-1",
            "display_name": "新受理员",
            "phone": "",
            "scope_area": city.district.pk,
            "scope_unit": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    user = User.objects.get(username="newop")
    assert user.display_name == "新受理员" and user.scope_area == city.district
    assert not RoleGrant.objects.filter(user=user).exists()


# --------------------------------------------------------------------------- cases are read-only


@pytest.fixture
def case(city):
    return report_case(city, make_personas(city))


@pytest.mark.django_db
@pytest.mark.parametrize("model", [Case, CaseEvent])
def test_cases_and_events_are_read_only(admin_client, case, model):
    obj = case if model is Case else case.events.first()
    listing = admin_client.get(_url(model, "changelist"), {"q": case.number})
    assert listing.status_code == 200
    assert case.number in listing.content.decode()
    assert 'value="delete_selected"' not in listing.content.decode()

    page = admin_client.get(_url(model, "change", obj.pk))
    assert page.status_code == 200
    body = page.content.decode()
    assert 'name="_save"' not in body and 'name="_continue"' not in body
    assert "deletelink" not in body

    assert admin_client.post(_url(model, "change", obj.pk), {"reason": "x"}).status_code == 403
    assert admin_client.get(_url(model, "delete", obj.pk)).status_code == 403
    assert admin_client.post(_url(model, "delete", obj.pk), {"post": "yes"}).status_code == 403
    assert admin_client.get(_url(model, "add")).status_code == 403
    assert admin_client.post(
        _url(model, "changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [obj.pk],
            "post": "yes",
        },
    ).status_code in (200, 302)
    assert model.objects.filter(pk=obj.pk).exists()


@pytest.mark.django_db
def test_case_filters_and_event_columns(admin_client, case):
    for params in [
        {"state__exact": "reported"},
        {"source__exact": "inspector"},
        {"stage_overdue__exact": "0"},
    ]:
        response = admin_client.get(_url(Case, "changelist"), params)
        assert response.status_code == 200
        assert case.number in response.content.decode()
    assert case.number not in admin_client.get(_url(Case, "changelist"), {"state__exact": "closed"}).content.decode()
    body = admin_client.get(_url(CaseEvent, "changelist")).content.decode()
    event = case.events.first()
    assert case.number in body and event.kind in body
    assert "待受理" in body  # the from → to column shows state labels


# --------------------------------------------------------------------------- API tokens


@pytest.mark.django_db
def test_revoke_action_calls_the_token_service(admin_client, city, monkeypatch):
    user = make_personas(city).operator
    live = ApiToken.objects.create(user=user, name="a", key_hash="a" * 64, prefix="ck_aaaa", created_at=timezone.now())
    gone = ApiToken.objects.create(
        user=user,
        name="b",
        key_hash="b" * 64,
        prefix="ck_bbbb",
        created_at=timezone.now(),
        revoked_at=timezone.now(),
    )
    calls = []

    def revoke_token(token, at):
        calls.append(token.pk)
        ApiToken.objects.filter(pk=token.pk).update(revoked_at=at)

    monkeypatch.setitem(sys.modules, "citykeeper.services.tokens", types.SimpleNamespace(revoke_token=revoke_token))
    response = admin_client.post(
        _url(ApiToken, "changelist"),
        {
            "action": "revoke",
            "_selected_action": [live.pk, gone.pk],
        },
        follow=True,
    )
    assert response.status_code == 200
    assert calls == [live.pk]
    live.refresh_from_db()
    assert live.revoked_at is not None
    assert "已吊销 1 个令牌" in response.content.decode()
    assert admin_client.get(_url(ApiToken, "delete", live.pk)).status_code == 403


# --------------------------------------------------------------------------- calendar


@pytest.fixture
def frozen_today(monkeypatch):
    def freeze(day: dt.date) -> None:
        monkeypatch.setattr("citykeeper.web.admin._today", lambda: day)

    freeze(dt.date(2026, 11, 23))
    return freeze


WARNING_2027 = "日历缺少 2027 年的节假日数据"


@pytest.mark.django_db
def test_calendar_warning_until_next_year_is_entered(admin_client, city, frozen_today):
    index = reverse("admin:index")
    body = admin_client.get(index).content.decode()
    assert WARNING_2027 in body
    assert "截止时间计算到该年时将被拒绝" in body
    assert reverse("admin:store_calendarday_changelist") in body
    for model in (CalendarDay, CalendarYear):
        assert WARNING_2027 in admin_client.get(_url(model, "changelist")).content.decode()
    assert WARNING_2027 not in admin_client.get(_url(Category, "changelist")).content.decode()

    response = admin_client.post(
        _url(CalendarYear, "add"), {"year": 2027, "source": "国办发明电〔2026〕号", "confirmed_by": ""}
    )
    assert response.status_code == 302
    assert CalendarYear.objects.get(year=2027).confirmed_by == "admin"
    assert WARNING_2027 not in admin_client.get(index).content.decode()
    assert "calendar-warning" not in admin_client.get(_url(CalendarDay, "changelist")).content.decode()


@pytest.mark.django_db
def test_calendar_warning_lists_every_missing_year(admin_client, city, frozen_today):
    frozen_today(dt.date(2027, 1, 4))
    assert "日历缺少 2027、2028 年的节假日数据" in admin_client.get(reverse("admin:index")).content.decode()
    frozen_today(dt.date(2026, 3, 1))
    CalendarYear.objects.create(year=2027)
    assert "calendar-warning" not in admin_client.get(reverse("admin:index")).content.decode()


@pytest.mark.django_db
def test_calendar_warning_in_english(admin_client, city, frozen_today):
    body = admin_client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "The calendar has no holiday data for 2027" in body


@pytest.mark.django_db
def test_calendar_edit_in_the_admin_applies_at_once(admin_client, city):
    national_day = local(2026, 10, 1, 10, 0)
    tuesday = local(2026, 11, 24, 10, 0)
    calendar = working_calendar()  # cached from here on
    assert not calendar.is_working(national_day)
    assert calendar.is_working(tuesday)

    # Changing an existing row leaves the row count and the highest id alone.
    row = CalendarDay.objects.get(day=dt.date(2026, 10, 1))
    response = admin_client.post(
        _url(CalendarDay, "change", row.pk),
        {
            "day": "2026-10-01",
            "is_workday": "on",
            "name": row.name,
            "source": "测试",
        },
    )
    assert response.status_code == 302
    assert working_calendar().is_working(national_day)

    response = admin_client.post(_url(CalendarDay, "add"), {"day": "2026-11-24", "name": "台风停工", "source": ""})
    assert response.status_code == 302
    assert not working_calendar().is_working(tuesday)

    added = CalendarDay.objects.get(day=dt.date(2026, 11, 24))
    response = admin_client.post(_url(CalendarDay, "delete", added.pk), {"post": "yes"})
    assert response.status_code == 302
    assert working_calendar().is_working(tuesday)


@pytest.mark.django_db
def test_filing_condition_inline_offers_only_its_category_closing_conditions(admin_client, city):
    other = Category.objects.create(
        kind="event", major_code="02", major_name="街面秩序", minor_code="02001", minor_name="无照经营"
    )
    other.closing_conditions.create(text="无照经营已取缔")
    body = admin_client.get(_url(Category, "change", city.category.pk)).content.decode()
    assert "更换或修复" in body and "无照经营已取缔" not in body
    body = admin_client.get(_url(FilingCondition, "change", city.condition.pk)).content.decode()
    assert "更换或修复" in body and "无照经营已取缔" not in body
    assert 'name="area_limits-TOTAL_FORMS"' in body


@pytest.mark.django_db
def test_the_routing_preview_names_the_unit_and_the_rule_or_the_triage_queue(admin_client, city):
    RoutingRule.objects.create(kind="area_category", area=city.district, category=city.category, unit=city.unit)
    url = reverse("admin:store_routingrule_preview")
    assert "确权预览" in admin_client.get(_url(RoutingRule, "changelist")).content.decode()
    page = admin_client.get(url, {"category": city.category.pk, "grid": city.grid.code}).content.decode()
    assert "鼓楼区市政所" in page and "区域×类别规则" in page
    page = admin_client.get(url, {"category": city.category.pk, "grid": city.other_grid.code}).content.decode()
    assert "待分拣" in page
    page = admin_client.get(url, {"category": city.category.pk, "grid": "999"}).content.decode()
    assert "没有代码为 999 的区域" in page


@pytest.mark.django_db
def test_a_component_edited_in_the_admin_gets_a_version_record(admin_client, city):
    from django.forms.models import model_to_dict

    component = make_component(city)
    form = {k: v for k, v in model_to_dict(component).items() if v is not None}
    form.update(state="damaged", geometry='{"type": "Point", "coordinates": [117.18, 34.26]}', attributes="{}")
    form.update({"versions-TOTAL_FORMS": 0, "versions-INITIAL_FORMS": 0})
    response = admin_client.post(_url(Component, "change", component.pk), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    component.refresh_from_db()
    assert component.version == 2 and component.state == "damaged"
    record = component.versions.get(version=2)
    assert record.via == "admin" and record.changes["state"] == ["intact", "damaged"]


@pytest.mark.django_db
def test_an_open311_key_issued_in_the_admin_is_shown_once_and_stored_as_a_hash(admin_client):
    from citykeeper.store.models import Open311Key

    response = admin_client.post(_url(Open311Key, "add"), {"name": "FixMyStreet", "rate_per_minute": 30}, follow=True)
    page = response.content.decode()
    key = Open311Key.objects.get(name="FixMyStreet")
    shown = page.split("o311_", 1)[1].split("<", 1)[0].split()[0]
    plaintext = "o311_" + shown
    assert key.rate_per_minute == 30 and key.key_hash not in page and plaintext.startswith(key.prefix)
    assert open311.authenticate(plaintext, now=timezone.now()) == key
