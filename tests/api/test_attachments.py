"""Photos: uploaded to a case, checked by their bytes, then attached to a move."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from citykeeper.store.models import Attachment
from tests.api.conftest import API
from tests.factories import report_case


def _image(fmt: str, size=(64, 48), **save) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, fmt, **save)
    return out.getvalue()


PNG = _image("PNG")
JPEG = _image("JPEG")
WEBP = _image("WEBP")
# The right first bytes and nothing behind them: a renamed or truncated file.
FAKE_PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def upload(client, number, content, name="photo.png", content_type="image/png"):
    return client.client.post(
        f"{API}/cases/{number}/attachments", {"file": SimpleUploadedFile(name, content, content_type=content_type)}
    )


def test_an_image_is_stored_with_its_sha256_and_uploader(api, city, people):
    case = report_case(city, people)
    response = upload(api(people.inspector), case.number, PNG)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert body["content_type"] == "image/png" and body["size"] == len(PNG)
    row = Attachment.objects.get(pk=body["id"])
    assert row.case == case and row.uploaded_by == people.inspector and row.uploaded_at is not None
    assert row.file.read() == PNG


def test_jpeg_and_webp_are_accepted_by_their_bytes_whatever_the_declared_type(api, city, people):
    case = report_case(city, people)
    client = api(people.inspector)
    assert upload(client, case.number, JPEG, "a.bin", "application/octet-stream").json()["content_type"] == "image/jpeg"
    assert upload(client, case.number, WEBP, "b.webp", "image/webp").json()["content_type"] == "image/webp"


def test_the_same_file_twice_returns_the_first_row(api, city, people):
    case = report_case(city, people)
    client = api(people.inspector)
    first, second = upload(client, case.number, PNG), upload(client, case.number, PNG)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert Attachment.objects.count() == 1


def test_a_file_that_is_not_a_jpeg_png_or_webp_image_is_415(api, city, people):
    case = report_case(city, people)
    response = upload(api(people.inspector), case.number, b"GIF89a" + b"\x00" * 32, "x.png", "image/png")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type" and response.json()["field"] == "file"
    assert not Attachment.objects.exists()


def test_a_file_over_ten_megabytes_is_413(api, city, people):
    case = report_case(city, people)
    big = PNG + b"\x00" * (10 * 1024 * 1024)
    response = upload(api(people.inspector), case.number, big)
    assert response.status_code == 413 and response.json()["code"] == "file_too_large"
    assert not Attachment.objects.exists()


def test_a_missing_file_is_422_naming_file(api, city, people):
    case = report_case(city, people)
    response = api(people.inspector).client.post(f"{API}/cases/{case.number}/attachments", {})
    assert response.status_code == 422 and response.json()["field"] == "file"


def test_uploading_to_a_case_outside_the_callers_scope_is_404(api, city, people):
    case = report_case(city, people)
    response = upload(api(people.outside_operator), case.number, PNG)
    assert response.status_code == 404
    assert not Attachment.objects.exists()


def test_an_uploaded_photo_enters_the_timeline_with_a_note_and_can_be_downloaded(api, city, people):
    case = report_case(city, people)
    client = api(people.inspector)
    attachment = upload(client, case.number, PNG).json()
    response = client.act(case.number, "note", case.version, reason="补充照片", attachments=[attachment["id"]])
    assert response.status_code == 200, response.json()
    assert response.json()["timeline"][-1]["attachments"] == [
        {"id": attachment["id"], "sha256": attachment["sha256"], "type": "image/png"}
    ]
    download = client.get(f"/cases/{case.number}/attachments/{attachment['id']}")
    assert download.status_code == 200 and download["Content-Type"] == "image/png"
    assert b"".join(download.streaming_content) == PNG
    assert api(people.outside_operator).get(f"/cases/{case.number}/attachments/{attachment['id']}").status_code == 404


def test_an_attachment_of_another_case_cannot_be_attached(api, city, people):
    case, other = report_case(city, people), report_case(city, people)
    client = api(people.inspector)
    attachment = upload(client, other.number, PNG).json()
    response = client.act(case.number, "note", case.version, reason="补充", attachments=[attachment["id"]])
    assert response.status_code == 422 and response.json()["field"] == "attachments"


def test_a_file_with_an_image_header_that_does_not_decode_is_refused(api, city, people):
    case = report_case(city, people)
    response = upload(api(people.inspector), case.number, FAKE_PNG)
    assert response.status_code == 415 and "readable" in response.json()["detail"]
    assert not Attachment.objects.exists()


def test_the_public_copy_has_no_gps_and_is_upright_and_the_thumbnail_is_small(api, city, people):
    import io

    from PIL import Image

    source = Image.new("RGB", (3000, 2000), (10, 120, 60))
    exif = source.getexif()
    exif[0x0110] = "SecretCam"
    exif[0x0112] = 6  # rotated: shown upright it is 2000 wide, 3000 high
    exif[0x8825] = {1: "N", 2: (34.0, 15.0, 30.0), 3: "E", 4: (117.0, 10.0, 5.0)}
    raw = io.BytesIO()
    source.save(raw, "JPEG", exif=exif)
    case = report_case(city, people)
    body = upload(api(people.inspector), case.number, raw.getvalue(), name="p.jpg", content_type="image/jpeg").json()
    row = Attachment.objects.get(pk=body["id"])
    assert (row.width, row.height) == (2000, 3000)
    with Image.open(row.public_file) as public:
        assert public.size == (1365, 2048) and not public.getexif()  # no GPS, no camera
    with Image.open(row.thumbnail) as thumb:
        assert max(thumb.size) == 320
    assert row.file.read() == raw.getvalue()  # the original stays as evidence for staff
    client = api(people.operator).client
    url = f"{API}/cases/{case.number}/attachments/{row.pk}"
    thumb_bytes = b"".join(client.get(url, {"variant": "thumbnail"}).streaming_content)
    assert thumb_bytes == row.thumbnail.open("rb").read()
    assert b"".join(client.get(url).streaming_content) == raw.getvalue()


def test_staff_publish_a_photo_and_may_withdraw_it_but_a_unit_handler_may_not(api, city, people):
    case = report_case(city, people, source="citizen")
    photo = upload(api(people.operator), case.number, JPEG).json()["id"]
    path = f"/cases/{case.number}/attachments/{photo}/publication"
    published = api(people.operator).post(path, {"published": True})
    assert published.status_code == 200 and published.json()["published_by"] == "operator"
    assert Attachment.objects.get(pk=photo).published_at is not None
    assert api(people.operator).post(path, {"published": False}).json()["published"] is False
    assert Attachment.objects.get(pk=photo).published_at is None
    refused = api(people.handler).post(path, {"published": True})
    assert refused.status_code == 404  # a unit handler does not see an undispatched case at all
