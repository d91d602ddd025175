"""Reference data: codebook, areas, units, the working calendar and deadline previews."""

from __future__ import annotations

from django.utils import timezone

from citykeeper.store.models import CalendarYear, Category, DisposalLimit


def test_categories_are_listed_filtered_and_paged(api, city, people):
    Category.objects.create(
        kind="event",
        major_code="02",
        major_name="环境卫生",
        minor_code="02001",
        minor_name="暴露垃圾",
        standard="GB/T 47678.5-2026",
    )
    Category.objects.create(
        kind="component",
        major_code="01",
        major_name="公用设施",
        minor_code="0101",
        minor_name="上水井盖",
        standard="CJ/T 214-2007 / GB/T 30428.2-2013",
        active=False,
    )
    client = api(people.operator)
    everything = client.get("/codebook/categories").json()
    assert everything["count"] == 3 and everything["page"] == 1 and everything["page_size"] == 20
    assert [c["minor_code"] for c in client.get("/codebook/categories", {"kind": "event"}).json()["results"]] == [
        "02001"
    ]
    legacy = client.get("/codebook/categories", {"standard": "CJ/T 214-2007 / GB/T 30428.2-2013"}).json()
    assert [c["minor_name"] for c in legacy["results"]] == ["上水井盖"]
    assert [c["minor_code"] for c in client.get("/codebook/categories", {"q": "井盖"}).json()["results"]] == [
        "0101",
        "01002",
    ]
    assert client.get("/codebook/categories", {"active": "false"}).json()["count"] == 1
    paged = client.get("/codebook/categories", {"page_size": 2, "page": 2}).json()
    assert paged["count"] == 3 and len(paged["results"]) == 1
    assert client.get("/codebook/categories", {"kind": "thing"}).status_code == 422


def test_a_category_shows_its_filing_conditions_with_limits_and_closing_condition(api, city, people):
    DisposalLimit.objects.create(condition=city.condition, area_class="A", limit_value=2, limit_unit="work_hours")
    body = api(people.operator).get(f"/codebook/categories/{city.category.pk}").json()
    assert body["minor_name"] == "污水井盖" and body["closing_conditions"] == ["更换或修复"]
    first, second = body["filing_conditions"]
    assert first == {
        "id": city.condition.pk,
        "seq": 1,
        "text": "破损超过25c㎡",
        "limit_value": 4.0,
        "limit_unit": "work_hours",
        "urgent": False,
        "closing_condition": "更换或修复",
        "area_limits": [{"area_class": "A", "limit_value": 2.0, "limit_unit": "work_hours"}],
    }
    assert second["urgent"] is True and second["limit_unit"] == "natural_hours"
    missing = api(people.operator).get("/codebook/categories/999999")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_areas_are_listed_by_level_and_parent(api, city, people):
    client = api(people.operator)
    districts = client.get("/areas", {"level": "district"}).json()
    assert [a["code"] for a in districts["results"]] == ["320302", "320303"]
    assert districts["results"][0]["parent"] == "320300" and districts["results"][0]["area_class"] == "A"
    children = client.get("/areas", {"parent": "320303"}).json()
    assert [a["code"] for a in children["results"]] == ["320303001"]
    assert client.get("/areas").json()["count"] == 9
    assert "geometry" not in districts["results"][0]


def test_an_area_shows_its_children_and_its_geometry_only_when_asked(api, city, people):
    square = {"type": "Polygon", "coordinates": [[[117, 34], [117.01, 34], [117.01, 34.01], [117, 34]]]}
    city.grid.geometry = square
    city.grid.save()
    client = api(people.operator)
    district = client.get("/areas/320302").json()
    assert district["children"] == ["320302001"] and district["geometry"] is None
    assert client.get(f"/areas/{city.grid.code}").json()["geometry"] is None
    assert client.get(f"/areas/{city.grid.code}", {"geometry": "true"}).json()["geometry"] == square
    assert client.get("/areas/000").status_code == 404


def test_units_are_listed_with_their_area(api, city, people):
    body = api(people.operator).get("/units").json()
    assert [(u["code"], u["area"]) for u in body["results"]] == [("U-GL-SZ", "320302"), ("U-YL-HW", "320303")]
    filtered = api(people.operator).get("/units", {"area": "320303"}).json()
    assert [u["name"] for u in filtered["results"]] == ["云龙区环卫所"]


def test_the_calendar_shows_the_week_the_years_rows_and_warns_about_missing_years(api, city, people):
    next_year = timezone.localdate().year + 1
    CalendarYear.objects.filter(year=next_year).delete()
    body = api(people.operator).get("/calendar", {"year": 2026}).json()
    assert body["year"] == 2026 and body["year_known"] is True
    assert {"weekday": 0, "start": "08:30", "end": "12:00"} in body["week"]
    assert not [p for p in body["week"] if p["weekday"] >= 5]
    national_day = [d for d in body["days"] if d["day"] == "2026-10-01"]
    assert national_day == [{"day": "2026-10-01", "is_workday": False, "name": "国庆节", "source": "chinese-calendar"}]
    assert any(d["is_workday"] for d in body["days"])  # swapped workdays (调休) are listed too
    assert 2025 in body["known_years"] and 2026 in body["known_years"]
    assert next_year in body["missing_years"] and next_year not in body["known_years"]
    assert str(next_year) in body["warning"]
    unknown_year = api(people.operator).get("/calendar", {"year": 2030}).json()
    assert unknown_year["year_known"] is False and unknown_year["days"] == []


def test_a_deadline_preview_counts_working_hours_over_the_lunch_break(api, city, people):
    client = api(people.operator)
    body = client.get(
        "/calendar/deadline", {"start": "2026-11-23T09:00:00+08:00", "value": 4, "unit": "work_hours"}
    ).json()
    assert body["deadline"] == "2026-11-23T14:30:00+08:00"
    assert body["duration_seconds"] == 4 * 3600 and body["around_the_clock"] is False
    friday = client.get("/calendar/deadline", {"start": "2026-11-27T16:00", "value": 1, "unit": "work_days"}).json()
    assert friday["deadline"] == "2026-11-30T16:00:00+08:00"  # 1.5 h Friday + 6 h Monday (7.5 h a day)
    natural = client.get(
        "/calendar/deadline", {"start": "2026-11-28T23:00", "value": 2, "unit": "natural_hours"}
    ).json()
    assert natural["deadline"] == "2026-11-29T01:00:00+08:00" and natural["around_the_clock"] is True


def test_a_deadline_reaching_a_year_without_calendar_rows_is_422(api, city, people):
    response = api(people.operator).get(
        "/calendar/deadline", {"start": "2031-03-02T09:00", "value": 1, "unit": "work_hours"}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "calendar_year_missing" and response.json()["field"] == "calendar"


def test_a_deadline_preview_needs_a_known_unit(api, city, people):
    response = api(people.operator).get("/calendar/deadline", {"value": 1, "unit": "fortnights"})
    assert response.status_code == 422 and response.json()["field"] == "unit"
