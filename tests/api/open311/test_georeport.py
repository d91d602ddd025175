"""Open311 GeoReport v2, spoken the way real clients speak it: XML by default, form-encoded
POST with the key in the query string, empty jurisdiction, attribute[CODE] keys, paging."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from django.test import Client
from django.utils import timezone

from citykeeper.services import open311
from citykeeper.store.models import Case, CaseEvent
from tests.factories import map_city

BASE = "/open311/v2"


@pytest.fixture
def mapped(city, people):
    from citykeeper.services.calendar import seed_calendar

    seed_calendar([timezone.localdate().year, timezone.localdate().year + 1])
    return map_city(city)


@pytest.fixture
def key(db):
    return open311.issue_key("测试客户端", at=timezone.now(), rate_per_minute=5)[1]


def code(city) -> str:
    return open311.service_code(city.category)


def post_form(client, query: str, **fields):
    return client.post(f"{BASE}/requests.xml?{query}", fields)


def xml(response):
    assert response["Content-Type"].startswith("text/xml"), response["Content-Type"]
    return ET.fromstring(response.content)


def test_discovery_and_services_answer_xml_without_a_suffix_and_json_with_one(mapped):
    client = Client()
    root = xml(client.get(f"{BASE}/discovery"))
    assert root.tag == "discovery" and root.find("endpoints/endpoint/specification").text.endswith("GeoReport_v2")
    services = xml(client.get(f"{BASE}/services.xml"))
    codes = [s.findtext("service_code") for s in services.findall("service")]
    assert code(mapped) in codes
    listed = client.get(f"{BASE}/services.json").json()
    mine = next(s for s in listed if s["service_code"] == code(mapped))
    assert mine["service_name"] == "污水井盖" and mine["metadata"] is True and mine["group"] == "市政公用设施"


def test_a_service_definition_offers_the_filing_conditions_as_values(mapped):
    body = Client().get(f"{BASE}/services/{code(mapped)}.json").json()
    attribute = body["attributes"][0]
    assert attribute["code"] == "CONDITION" and attribute["datatype"] == "singlevaluelist"
    assert {v["key"] for v in attribute["values"]} == {str(mapped.condition.pk), str(mapped.urgent_condition.pk)}
    missing = Client().get(f"{BASE}/services/E99999.xml")
    assert missing.status_code == 404 and xml(missing).findtext("error/code") == "404"


def test_a_form_encoded_post_with_the_key_in_the_query_and_an_empty_jurisdiction_creates_a_case(mapped, key):
    client = Client()
    response = post_form(
        client,
        f"api_key={key}&jurisdiction_id=",
        service_code=code(mapped),
        lat="34.255",
        long="117.175",
        description="井盖破损，有塌陷危险",
        first_name="三",
        last_name="张",
        phone="13800000000",
        **{"attribute[CONDITION]": str(mapped.urgent_condition.pk)},
    )
    assert response.status_code == 201, response.content
    number = xml(response).findtext("request/service_request_id")
    case = Case.objects.get(number=number)
    assert (case.source, case.source_detail, case.area.code) == ("open311", "测试客户端", "320302001001001")
    assert case.urgent and case.reporter_name == "三 张" and case.reporter_phone == "13800000000"
    report = case.events.get(kind="report")
    assert report.data["open311"]["attributes"] == {"CONDITION": [str(mapped.urgent_condition.pk)]}


def test_a_json_post_with_the_key_in_the_body_works_too(mapped, key):
    response = Client().post(
        f"{BASE}/requests.json",
        json.dumps({"api_key": key, "service_code": code(mapped), "lat": 34.255, "long": 117.185, "description": "x"}),
        content_type="application/json",
    )
    assert response.status_code == 201
    number = response.json()[0]["service_request_id"]
    assert Case.objects.get(number=number).area.code == "320302001001002"


@pytest.mark.parametrize(
    ("query", "fields", "expected"),
    [
        ("", {"lat": "34.255", "long": "117.175", "description": "x"}, (403, "api_key")),
        ("api_key=o311_nope", {"lat": "34.255", "long": "117.175", "description": "x"}, (403, "Invalid api_key")),
        ("KEY&jurisdiction_id=sf.gov", {"lat": "34.255", "long": "117.175", "description": "x"}, (404, "jurisdiction")),
        (
            "KEY",
            {"service_code": "E99999", "lat": "34.255", "long": "117.175", "description": "x"},
            (404, "service_code"),
        ),
        ("KEY", {"lat": "34.255", "long": "117.175", "description": ""}, (400, "description")),
        ("KEY", {"lat": "34.255", "long": "117.175", "description": "<script>alert(1)</script>"}, (400, "HTML")),
        ("KEY", {"description": "x"}, (400, "location")),
        ("KEY", {"lat": "north", "long": "117.175", "description": "x"}, (400, "lat")),
        ("KEY", {"lat": "34.255", "long": "117.9", "description": "x"}, (400, "outside the city")),
        ("KEY", {"lat": "117.175", "long": "34.255", "description": "x"}, (400, "lat")),
        (
            "KEY",
            {"lat": "34.255", "long": "117.175", "description": "x", "attribute[CONDITION]": "9999"},
            (400, "CONDITION"),
        ),
    ],
)
def test_bad_requests_get_the_spec_error_list_and_store_nothing(mapped, key, query, fields, expected):
    status, words = expected
    fields.setdefault("service_code", code(mapped))
    before = (Case.objects.count(), CaseEvent.objects.count())
    response = post_form(Client(), query.replace("KEY", f"api_key={key}"), **fields)
    assert response.status_code == status, response.content
    error = xml(response).find("error")
    assert error.findtext("code") == str(status) and words in error.findtext("description")
    assert (Case.objects.count(), CaseEvent.objects.count()) == before


def test_a_key_is_limited_per_minute_and_a_revoked_key_is_refused(mapped):
    row, plaintext = open311.issue_key("限速客户端", at=timezone.now(), rate_per_minute=2)
    fields = {"service_code": code(mapped), "lat": "34.255", "long": "117.175", "description": "x"}
    client = Client()
    assert [post_form(client, f"api_key={plaintext}", **fields).status_code for _ in range(3)] == [201, 201, 429]
    row.revoked_at = timezone.now()
    row.save()
    assert post_form(client, f"api_key={plaintext}", **fields).status_code == 403


def test_get_requests_filters_pages_and_reads_one(mapped, key):
    client = Client()
    numbers = []
    for lon in (117.172, 117.175, 117.178):
        r = post_form(client, f"api_key={key}", service_code=code(mapped), lat="34.255", long=str(lon), description="y")
        numbers.append(xml(r).findtext("request/service_request_id"))
    listed = client.get(f"{BASE}/requests.json", {"service_code": code(mapped), "status": "open"}).json()
    assert [r["service_request_id"] for r in listed] == list(reversed(numbers))
    assert (
        listed[0]["status"] == "open"
        and listed[0]["lat"] == 34.255
        and listed[0]["requested_datetime"].endswith("+08:00")
    )
    page = client.get(f"{BASE}/requests.json", {"page": 2, "page_size": 2}).json()
    assert [r["service_request_id"] for r in page] == [numbers[0]]
    assert client.get(f"{BASE}/requests.json", {"status": "closed"}).json() == []
    picked = client.get(f"{BASE}/requests.json", {"service_request_id": numbers[1], "status": "closed"}).json()
    assert [r["service_request_id"] for r in picked] == [numbers[1]]  # ids override other filters
    one = xml(client.get(f"{BASE}/requests/{numbers[2]}.xml", {"extensions": "true"}))
    assert one.findtext("request/extended_attributes/state") == "reported"
    assert client.get(f"{BASE}/requests/20990101000001.json").status_code == 404
    bad = client.get(
        f"{BASE}/requests.json", {"start_date": "2026-01-01T00:00:00+08:00", "end_date": "2026-06-01T00:00:00+08:00"}
    )
    assert bad.status_code == 400 and "90 days" in bad.json()[0]["description"]


def test_a_token_finds_its_request_and_updates_list_lifecycle_events(mapped, key):
    client = Client()
    r = post_form(client, f"api_key={key}", service_code=code(mapped), lat="34.255", long="117.175", description="z")
    case = Case.objects.get(number=xml(r).findtext("request/service_request_id"))
    token = case.events.get(kind="report").data["open311"]["token"]
    found = client.get(f"{BASE}/tokens/{token}.json").json()
    assert found == [{"service_request_id": case.number, "token": token}]
    assert client.get(f"{BASE}/tokens/nope.json").status_code == 404
    updates = client.get(f"{BASE}/servicerequestupdates.json", {"api_key": key}).json()
    assert any(u["service_request_id"] == case.number and u["extended_status"] == "report" for u in updates)
    assert client.get(f"{BASE}/servicerequestupdates.json").status_code == 403


def test_a_multipart_photo_joins_the_report_and_becomes_media_url_once_staff_publish_it(
    mapped, key, people, settings, tmp_path
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from citykeeper.services import public
    from tests.api.test_attachments import JPEG

    settings.MEDIA_ROOT = tmp_path / "media"
    client = Client()
    photo = SimpleUploadedFile("IMG_0001.jpg", JPEG, content_type="image/jpeg")
    fields = dict(service_code=code(mapped), lat="34.255", long="117.175", description="路灯杆倾斜", media=photo)
    response = client.post(f"{BASE}/requests.json?api_key={key}", fields)
    assert response.status_code == 201, response.content
    number = response.json()[0]["service_request_id"]
    case = Case.objects.get(number=number)
    report = case.events.get(kind="report")
    assert len(report.attachments) == 1
    assert client.get(f"{BASE}/requests/{number}.json").json()[0]["media_url"] == ""
    public.publish_photo(case.attachment_set.get(), by=people.operator, at=timezone.now())
    url = client.get(f"{BASE}/requests/{number}.json").json()[0]["media_url"]
    assert url == f"http://testserver/public/photos/{case.attachment_set.get().pk}.jpg"
    listed = client.get(f"{BASE}/requests.json", {"service_request_id": number}).json()
    assert listed[0]["media_url"] == url


def test_a_text_file_sent_as_media_is_refused_and_nothing_is_stored(mapped, key):
    from django.core.files.uploadedfile import SimpleUploadedFile

    before = (Case.objects.count(), CaseEvent.objects.count())
    fake = SimpleUploadedFile("photo.jpg", b"this is not an image", content_type="image/jpeg")
    fields = dict(service_code=code(mapped), lat="34.255", long="117.175", description="x", media=fake)
    response = Client().post(f"{BASE}/requests.json?api_key={key}", fields)
    assert response.status_code in (400, 415), response.content
    assert response.json()[0]["code"] == response.status_code and "JPEG" in response.json()[0]["description"]
    assert (Case.objects.count(), CaseEvent.objects.count()) == before
