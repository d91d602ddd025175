"""The reporter's side of a case: a private follow link, the report from the public portal,
the rating of the result and "not fixed".

A member of the public needs no account: reporting gives a private link (shown once; only
its SHA-256 is kept, like API tokens). Whoever holds the link sees the case's progress in
plain words and may rate the result or say it is not fixed, which puts the case back in
front of the operator (the lifecycle table's ``reopen``). A report merged into another case
follows the surviving case.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets

from django.db import transaction

from citykeeper.domain.errors import InvalidInput
from citykeeper.services import cases as case_service
from citykeeper.services.attachments import CheckedMedia
from citykeeper.store.models import Area, Case, Category, FollowLink, User
from citykeeper.store.models.cases import Source

log = logging.getLogger(__name__)

MAX_PORTAL_PHOTOS = 3
_MAX_TOKEN_LENGTH = 100


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_link(case: Case, at: dt.datetime) -> str:
    """A new private link token for ``case``; the plaintext is returned once and never stored."""
    token = secrets.token_urlsafe(24)
    FollowLink.objects.create(case=case, token_hash=_hash(token), created_at=at)
    return token


def case_for_link(token: str) -> Case | None:
    """The case the link was issued for, or None for an unknown token."""
    if not token or len(token) > _MAX_TOKEN_LENGTH:
        return None
    link = FollowLink.objects.select_related("case").filter(token_hash=_hash(token)).first()
    return link.case if link is not None else None


def surviving(case: Case) -> Case:
    """The case that carries on the work: ``case`` itself, or the one it was merged into."""
    seen = {case.pk}
    while case.merged_into_id is not None and case.merged_into_id not in seen:
        seen.add(case.merged_into_id)
        case = Case.objects.select_related("category", "area", "unit").get(pk=case.merged_into_id)
    return case


def report(
    *,
    actor: User | None,
    category: Category,
    area: Area,
    lon: float,
    lat: float,
    at: dt.datetime,
    description: str,
    address: str = "",
    reporter_name: str = "",
    reporter_phone: str = "",
    photos: list[CheckedMedia] | None = None,
    idempotency_key: str | None = None,
) -> tuple[Case, str | None]:
    """A report from the public portal (source ``web``): the case and its follow link.

    A retry with the same idempotency key (a double-clicked submit) returns the first case
    and no new link (None)."""
    description = description.strip()
    if not description:
        raise InvalidInput("Say what the problem is.", field="description")
    if len(photos or []) > MAX_PORTAL_PHOTOS:
        raise InvalidInput(f"At most {MAX_PORTAL_PHOTOS} photos.", field="photos")
    if idempotency_key and Case.objects.filter(idempotency_key=idempotency_key).exists():
        return Case.objects.get(idempotency_key=idempotency_key), None
    with transaction.atomic():
        case = case_service.report(
            actor=actor,
            source=Source.WEB,
            category=category,
            area=area,
            at=at,
            description=description,
            address=address,
            lon=lon,
            lat=lat,
            reporter_name=reporter_name,
            reporter_phone=reporter_phone,
            photos=photos,
            idempotency_key=idempotency_key,
        )
        token = issue_link(case, at)
    log.info("portal report", extra={"case": case.number, "photos": len(photos or [])})
    return case, token


def rate(token: str, *, stars: int, remark: str, at: dt.datetime) -> Case:
    case = _linked(token)
    return case_service.rate(
        case.number, actor=None, version=case.version, at=at, data=case_service.MoveInput(reason=remark, rating=stars)
    )


def reopen(token: str, *, reason: str, at: dt.datetime) -> Case:
    case = _linked(token)
    return case_service.reopen(
        case.number, actor=None, version=case.version, at=at, data=case_service.MoveInput(reason=reason)
    )


def _linked(token: str) -> Case:
    case = case_for_link(token)
    if case is None:
        raise InvalidInput("This follow link is not valid.", field="token")
    return surviving(case)
