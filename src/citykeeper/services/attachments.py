"""Photos and media: checked by their bytes, stored once per case, content-addressed."""

from __future__ import annotations

import hashlib
import logging

from django.db import transaction
from django.utils import timezone

from citykeeper.domain.errors import DomainError
from citykeeper.store.models import Attachment, Case, User

log = logging.getLogger(__name__)

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
IMAGE_EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}


class TooLarge(DomainError):
    code = "file_too_large"
    status = 413


class UnsupportedMedia(DomainError):
    code = "unsupported_media_type"
    status = 415


def sniff_image(head: bytes) -> str | None:
    """The image type of a file by its first bytes (a name or a declared type proves nothing)."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def store_image(case: Case, file, *, by: User | None) -> tuple[Attachment, bool]:
    """Store an uploaded image for ``case``; returns (attachment, created). The same bytes
    uploaded again return the first row. Refuses more than 10 MB and anything not JPEG,
    PNG or WebP."""
    if file.size is None or file.size > MAX_ATTACHMENT_BYTES:
        raise TooLarge("An attachment may be at most 10 MB.", field="file")
    digest = hashlib.sha256()
    head = b""
    for chunk in file.chunks():
        if not head:
            head = chunk[:16]
        digest.update(chunk)
    content_type = sniff_image(head)
    if content_type is None:
        raise UnsupportedMedia("Only JPEG, PNG and WebP images are accepted.", field="file")
    sha256 = digest.hexdigest()
    existing = Attachment.objects.filter(case=case, sha256=sha256).first()
    if existing is not None:
        return existing, False
    file.seek(0)
    attachment = Attachment(
        case=case, content_type=content_type, sha256=sha256, size=file.size, uploaded_by=by, uploaded_at=timezone.now()
    )
    attachment.file.save(f"{sha256}{IMAGE_EXTENSIONS[content_type]}", file, save=False)
    try:
        with transaction.atomic():
            attachment.save()
    except Exception:
        attachment.file.delete(save=False)
        raise
    log.info("attachment stored", extra={"case": case.number, "attachment": attachment.pk})
    return attachment, True
