"""The public map shows rounded positions and only the photos staff published."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from citykeeper.domain.errors import NotPermitted
from citykeeper.services import attachments, public
from citykeeper.services import cases as svc
from citykeeper.services.cases import MoveInput
from tests.factories import MONDAY_9AM, report_case

BOX = (117.0, 34.0, 118.0, 35.0)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def jpeg() -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 120, 10)).save(out, "JPEG")
    return SimpleUploadedFile("p.jpg", out.getvalue(), content_type="image/jpeg")


def test_rejected_voided_and_merged_reports_are_not_on_the_public_map(city, people):
    shown = report_case(city, people, source="citizen")
    rejected = report_case(city, people, source="citizen")
    svc.reject(rejected.number, actor=people.operator, version=1, at=MONDAY_9AM, data=MoveInput(reason="重复"))
    merged = report_case(city, people, source="citizen")
    svc.merge(merged.number, actor=people.operator, version=1, at=MONDAY_9AM, data=MoveInput(target=shown))
    numbers = [c.number for c in public.public_cases(BOX, now=MONDAY_9AM + dt.timedelta(hours=1))]
    assert numbers == [shown.number]
    assert public.public_cases(BOX, now=MONDAY_9AM + dt.timedelta(days=91)).count() == 0
    assert public.rounded(117.123456) == 117.1235


def test_a_photo_is_public_only_after_staff_publish_it(city, people):
    case = report_case(city, people, source="citizen")
    photo, _ = attachments.store_image(case, jpeg(), by=people.citizen)
    assert list(public.published_photos(case)) == []
    with pytest.raises(NotPermitted):
        public.publish_photo(photo, by=people.handler, at=MONDAY_9AM)
    public.publish_photo(photo, by=people.operator, at=MONDAY_9AM)
    assert list(public.published_photos(case)) == [photo] and photo.published_by == people.operator
    public.publish_photo(photo, by=people.operator, at=MONDAY_9AM, publish=False)
    assert list(public.published_photos(case)) == []
