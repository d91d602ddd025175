"""Photos and media: checked by their bytes and by decoding them, stored once per case,
content-addressed, with a public copy (upright, at most 2048 px, every metadata field
removed: no GPS position, no camera serial) and a thumbnail for lists and maps.

Voice notes (语音说明, from the inspector's handset) are audio files checked by their
container's signature; they have no public copy and are never shown to the public."""

from __future__ import annotations

import hashlib
import io
import logging
import warnings
from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageOps, UnidentifiedImageError

from citykeeper.domain.errors import DomainError
from citykeeper.store.models import Attachment, Case, User

log = logging.getLogger(__name__)

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
IMAGE_EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}
AUDIO_EXTENSIONS = {
    "audio/webm": ".webm",  # Chrome and Android MediaRecorder (Opus)
    "audio/ogg": ".ogg",  # Firefox MediaRecorder
    "audio/mp4": ".m4a",  # iOS Safari MediaRecorder (AAC)
    "audio/mpeg": ".mp3",
    "audio/wav": ".wav",
    "audio/aac": ".aac",
}
MAX_VOICE_BYTES = 5 * 1024 * 1024  # about five minutes of speech in Opus or AAC
PUBLIC_MAX_PX = 2048
THUMBNAIL_PX = 320
# A 10 MB file can still claim a huge canvas (a decompression bomb); 60 megapixels is
# far beyond any phone camera.
MAX_PIXELS = 60_000_000


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


@dataclass(frozen=True)
class CheckedMedia:
    """An upload (a photo or a voice note) that passed every check and is ready to be stored
    (nothing written yet)."""

    file: object
    size: int
    sha256: str
    content_type: str
    public: bytes | None  # None for audio: it has no public copy
    thumbnail: bytes | None
    width: int | None
    height: int | None

    @property
    def extension(self) -> str:
        return IMAGE_EXTENSIONS.get(self.content_type) or AUDIO_EXTENSIONS[self.content_type]


def check_image(file) -> CheckedMedia:
    """Check an uploaded image by its bytes and by decoding it, and make its public copy and
    thumbnail, without storing anything: a report with several photos checks them all first,
    so that one bad photo refuses the whole report and nothing is stored half."""
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
    file.seek(0)
    public, thumbnail, (width, height) = _variants(file.read())
    file.seek(0)
    return CheckedMedia(file, file.size, digest.hexdigest(), content_type, public, thumbnail, width, height)


def save_checked(case: Case, image: CheckedMedia, *, by: User | None) -> tuple[Attachment, bool]:
    """Store a checked image for ``case``; the same bytes stored again return the first row."""
    existing = Attachment.objects.filter(case=case, sha256=image.sha256).first()
    if existing is not None:
        return existing, False
    attachment = Attachment(
        case=case,
        content_type=image.content_type,
        sha256=image.sha256,
        size=image.size,
        uploaded_by=by,
        uploaded_at=timezone.now(),
        width=image.width,
        height=image.height,
    )
    attachment.file.save(f"{image.sha256}{image.extension}", image.file, save=False)
    if image.public is not None:
        attachment.public_file.save(f"{image.sha256}-public.jpg", ContentFile(image.public), save=False)
        attachment.thumbnail.save(f"{image.sha256}-thumb.jpg", ContentFile(image.thumbnail), save=False)
    try:
        with transaction.atomic():
            attachment.save()
    except Exception:
        discard(attachment)
        raise
    log.info("attachment stored", extra={"case": case.number, "attachment": attachment.pk})
    return attachment, True


def discard(attachment: Attachment) -> None:
    """Delete the stored files of an attachment whose row was not (or will not be) kept."""
    for stored in (attachment.file, attachment.public_file, attachment.thumbnail):
        if stored:
            stored.delete(save=False)


def sniff_audio(head: bytes) -> str | None:
    """The audio container of a file by its first bytes."""
    if head.startswith(b"\x1aE\xdf\xa3"):  # EBML: WebM / Matroska
        return "audio/webm"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if len(head) >= 12 and head[4:8] == b"ftyp":  # ISO base media: M4A / MP4 audio
        return "audio/mp4"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mpeg"
    if head[:2] in (b"\xff\xf1", b"\xff\xf9"):  # ADTS
        return "audio/aac"
    return None


def check_audio(file) -> CheckedMedia:
    """Check a voice note by its container signature (at most 5 MB); nothing is stored."""
    if file.size is None or file.size > MAX_VOICE_BYTES:
        raise TooLarge(f"A voice note may be at most {MAX_VOICE_BYTES // (1024 * 1024)} MB.", field="voice")
    digest = hashlib.sha256()
    head = b""
    for chunk in file.chunks():
        if not head:
            head = chunk[:16]
        digest.update(chunk)
    content_type = sniff_audio(head)
    if content_type is None or file.size < 64:
        raise UnsupportedMedia(
            "A voice note must be a WebM, Ogg, M4A, MP3, AAC or WAV audio file.", field="voice", rule="not_audio"
        )
    file.seek(0)
    return CheckedMedia(file, file.size, digest.hexdigest(), content_type, None, None, None, None)


def check_upload(file) -> CheckedMedia:
    """An image or a voice note, told apart by the bytes (never by the name)."""
    file.seek(0)
    head = file.read(16)
    file.seek(0)
    if sniff_audio(head) is not None and sniff_image(head) is None:
        return check_audio(file)
    return check_image(file)


def store_image(case: Case, file, *, by: User | None) -> tuple[Attachment, bool]:
    """Store an uploaded image for ``case``; returns (attachment, created). The same bytes
    uploaded again return the first row. Refuses more than 10 MB and anything not JPEG,
    PNG or WebP."""
    return save_checked(case, check_image(file), by=by)


def _variants(data: bytes) -> tuple[bytes, bytes, tuple[int, int]]:
    """(public JPEG, thumbnail JPEG, (width, height)) of an image, or UnsupportedMedia when the
    bytes do not decode as the image they claim to be."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                if probe.width * probe.height > MAX_PIXELS:
                    raise UnsupportedMedia(
                        f"The image is {probe.width}×{probe.height} pixels; at most {MAX_PIXELS // 1_000_000} "
                        f"megapixels are accepted.",
                        field="file",
                        rule="too_many_pixels",
                    )
                probe.verify()
            with Image.open(io.BytesIO(data)) as image:
                upright = ImageOps.exif_transpose(image).convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning):  # fmt: skip
        raise UnsupportedMedia("The file is not a readable JPEG, PNG or WebP image.", field="file") from None
    size = upright.size
    public = upright.copy()
    public.thumbnail((PUBLIC_MAX_PX, PUBLIC_MAX_PX))
    thumb = upright.copy()
    thumb.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
    # A fresh JPEG carries no EXIF, XMP or ICC text: nothing of where or with what it was taken.
    return _jpeg(public, 85), _jpeg(thumb, 80), size


def _jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()
