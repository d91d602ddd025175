"""A handset's report: the case and its photos in one multipart request, idempotent on retry."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from citykeeper.store.models import Attachment, Case
from tests.api.conftest import API, row_counts
from tests.api.test_attachments import JPEG, PNG


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def send(client, body, *photos):
    files = [SimpleUploadedFile(name, content, content_type="image/jpeg") for name, content in photos]
    return client.client.post(f"{API}/cases/with-photos", {"case": json.dumps(body), "photos": files})


def body_for(city, **kw):
    return {"category": city.category.pk, "area": city.grid.code, "description": "井盖缺失", **kw}


def test_the_photos_arrive_with_the_case_and_are_named_by_its_first_event(api, city, people):
    response = send(api(people.inspector), body_for(city), ("before-1.jpg", JPEG), ("before-2.png", PNG))
    assert response.status_code == 201, response.json()
    detail = response.json()
    report = detail["timeline"][0]
    assert report["kind"] == "report" and len(report["attachments"]) == 2
    stored = Attachment.objects.filter(case__number=detail["number"])
    assert {a.content_type for a in stored} == {"image/jpeg", "image/png"}
    assert {a["id"] for a in report["attachments"]} == {a.pk for a in stored}
    assert detail["source"] == "inspector"


def test_a_retry_of_the_same_report_and_photos_returns_the_first_case(api, city, people):
    client = api(people.inspector)
    body = body_for(city, idempotency_key="handset-7-0001")
    first = send(client, body, ("a.jpg", JPEG))
    again = send(client, body, ("a.jpg", JPEG))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["number"] == first.json()["number"]
    assert Case.objects.count() == 1 and Attachment.objects.count() == 1


def test_the_same_key_with_other_photos_is_a_conflict(api, city, people):
    client = api(people.inspector)
    body = body_for(city, idempotency_key="handset-7-0002")
    assert send(client, body, ("a.jpg", JPEG)).status_code == 201
    other = send(client, body, ("b.png", PNG))
    assert other.status_code == 409 and other.json()["code"] == "idempotency_conflict"
    assert Attachment.objects.count() == 1


def test_one_bad_photo_refuses_the_whole_report_and_stores_nothing(api, city, people, media):
    before = row_counts()
    response = send(api(people.inspector), body_for(city), ("good.jpg", JPEG), ("notes.jpg", b"just some text"))
    assert response.status_code == 415, response.json()
    assert "Photo 2 (notes.jpg)" in response.json()["detail"]
    assert row_counts() == before and Attachment.objects.count() == 0
    assert not media.exists() or not any(p.is_file() for p in media.rglob("*"))


def test_ten_photos_are_refused(api, city, people):
    photos = [(f"p{i}.jpg", JPEG) for i in range(10)]
    response = send(api(people.inspector), body_for(city), *photos)
    assert response.status_code == 422 and response.json()["field"] == "photos"
    assert Case.objects.count() == 0


def test_a_case_field_that_is_not_json_names_the_problem(api, city, people):
    client = api(people.inspector)
    response = client.client.post(f"{API}/cases/with-photos", {"case": "{category: 1"})
    assert response.status_code == 422 and response.json()["field"].startswith("case")
    missing = send(client, {"area": city.grid.code})
    assert missing.status_code == 422 and "category" in missing.json()["field"]
    assert Case.objects.count() == 0


def test_a_task_list_shows_only_the_callers_own_tasks(api, city, people):
    from tests.factories import report_case

    operator = api(people.operator)
    mine = report_case(city, people, source="citizen")
    theirs = report_case(city, people, source="citizen")
    assert operator.act(mine.number, "send_verify", mine.version, assignee="inspector").status_code == 200
    assert operator.act(theirs.number, "send_verify", theirs.version, assignee="inspector2").status_code == 200
    listed = api(people.inspector).get("/cases", {"assignee": "me", "state": "verifying"}).json()
    assert [c["number"] for c in listed["results"]] == [mine.number]
    own = api(people.citizen).get("/cases", {"reporter": "me"}).json()
    assert {c["number"] for c in own["results"]} == {mine.number, theirs.number}


def test_the_reporters_filing_condition_is_kept_for_the_shift_lead_to_confirm(api, city, people):
    from citykeeper.store.models import Category, FilingCondition

    client = api(people.inspector)
    response = send(client, body_for(city, condition=city.urgent_condition.pk), ("a.jpg", JPEG))
    assert response.status_code == 201, response.json()
    case = Case.objects.get(number=response.json()["number"])
    assert case.condition == city.urgent_condition
    assert case.events.get(kind="report").data["condition"] == city.urgent_condition.pk
    other = Category.objects.create(
        standard=city.category.standard,
        kind="component",
        major_code="01",
        major_name="市政公用设施",
        minor_code="01003",
        minor_name="雨水井盖",
    )
    foreign = FilingCondition.objects.create(category=other, text="破损", limit_value=1, limit_unit="work_days")
    refused = send(client, body_for(city, condition=foreign.pk))
    assert refused.status_code == 422 and refused.json()["field"] == "condition"
    assert Case.objects.count() == 1


# The first bytes of a WebM (EBML) and an M4A (ISO base media) file, as MediaRecorder writes them.
WEBM = b"\x1aE\xdf\xa3\x9fB\x86\x81\x01B\xf7\x81\x01B\xf2\x81\x04" + b"\x00" * 200
M4A = b"\x00\x00\x00\x1cftypM4A \x00\x00\x00\x00M4A isommp42" + b"\x00" * 200


def test_a_voice_note_comes_with_the_report_and_stays_with_staff(api, city, people):
    client = api(people.inspector)
    voice = SimpleUploadedFile("voice.webm", WEBM, content_type="audio/webm")
    response = client.client.post(
        f"{API}/cases/with-photos",
        {"case": json.dumps(body_for(city)), "photos": [SimpleUploadedFile("a.jpg", JPEG)], "voice": voice},
    )
    assert response.status_code == 201, response.json()
    refs = response.json()["timeline"][0]["attachments"]
    assert sorted(r["type"] for r in refs) == ["audio/webm", "image/jpeg"]
    note = Attachment.objects.get(content_type="audio/webm")
    assert note.file.name.endswith(".webm") and not note.public_file and not note.thumbnail
    download = client.client.get(f"{API}/cases/{response.json()['number']}/attachments/{note.pk}")
    assert download["Content-Type"] == "audio/webm" and b"".join(download.streaming_content) == WEBM
    publish = client.post(f"/cases/{response.json()['number']}/attachments/{note.pk}/publication", {"published": True})
    assert publish.status_code == 403  # only operators publish, and a voice note has no public copy anyway


def test_a_voice_note_may_be_added_later_and_a_text_file_is_not_a_voice_note(api, city, people):
    from tests.factories import report_case

    case = report_case(city, people)
    client = api(people.inspector)
    added = client.client.post(f"{API}/cases/{case.number}/attachments", {"file": SimpleUploadedFile("note.m4a", M4A)})
    assert added.status_code == 201 and added.json()["content_type"] == "audio/mp4"
    before = row_counts()
    fake = SimpleUploadedFile("voice.webm", b"not audio at all" * 10, content_type="audio/webm")
    refused = client.client.post(f"{API}/cases/with-photos", {"case": json.dumps(body_for(city)), "voice": fake})
    assert refused.status_code == 415 and refused.json()["field"] == "voice"
    assert row_counts() == before


def test_staff_cannot_publish_a_voice_note(api, city, people):
    from tests.factories import report_case

    case = report_case(city, people, source="citizen")
    uploaded = api(people.operator).client.post(
        f"{API}/cases/{case.number}/attachments", {"file": SimpleUploadedFile("v.webm", WEBM)}
    )
    path = f"/cases/{case.number}/attachments/{uploaded.json()['id']}/publication"
    refused = api(people.operator).post(path, {"published": True})
    assert refused.status_code == 422 and "no public copy" in refused.json()["detail"]
