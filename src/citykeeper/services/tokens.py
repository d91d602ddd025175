"""API tokens: issue, authenticate, revoke.

Only the SHA-256 of a token is stored (``ApiToken.key_hash``) together with its first
eight characters (``prefix``) so that people can tell their tokens apart in listings.
The plaintext is shown once, when the token is issued, and can never be read back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets

from django.db import transaction

from citykeeper.domain.errors import InvalidInput
from citykeeper.store.models import ApiToken, User

log = logging.getLogger(__name__)

# "ck_" marks CityKeeper tokens for secret scanners; 32 random bytes follow.
TOKEN_MARK = "ck_"
PREFIX_LENGTH = 8
_MAX_TOKEN_LENGTH = 200  # anything longer is not one of ours; do not hash megabytes


def hash_token(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def issue_token(user: User, name: str, at: dt.datetime) -> tuple[ApiToken, str]:
    """A new token for ``user``; returns the stored row and the plaintext (shown once)."""
    if not user.is_active:
        raise InvalidInput(f"User '{user.username}' is not active.", field="user")
    name = (name or "").strip()
    if len(name) > ApiToken._meta.get_field("name").max_length:
        raise InvalidInput("The token name is too long (at most 100 characters).", field="name")
    plaintext = TOKEN_MARK + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name,
            key_hash=hash_token(plaintext),
            prefix=plaintext[:PREFIX_LENGTH],
            created_at=at,
        )
    log.info("api token issued", extra={"user": user.pk, "token": token.pk, "prefix": token.prefix})
    return token, plaintext


def revoke_token(token: ApiToken, at: dt.datetime) -> ApiToken:
    """Revoke ``token`` (idempotent: an already revoked token keeps its first revocation time)."""
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=at)
    token.refresh_from_db(fields=["revoked_at"])
    log.info("api token revoked", extra={"user": token.user_id, "token": token.pk, "prefix": token.prefix})
    return token


def find_token(plaintext: str) -> ApiToken | None:
    """The live (not revoked) token row for ``plaintext``, with its user loaded."""
    if not plaintext or len(plaintext) > _MAX_TOKEN_LENGTH:
        return None
    return (
        ApiToken.objects.select_related("user", "user__scope_area", "user__scope_unit")
        .filter(key_hash=hash_token(plaintext), revoked_at__isnull=True)
        .first()
    )


def authenticate_token(plaintext: str) -> User | None:
    """The active user the token belongs to, or None (unknown, revoked, user inactive)."""
    token = find_token(plaintext)
    if token is None or not token.user.is_active:
        return None
    return token.user
