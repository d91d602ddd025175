"""Authentication: Bearer tokens and Django sessions, and the token endpoints.

- ``Authorization: Bearer <token>``: tokens come from ``POST /auth/token``; only their
  SHA-256 is stored. A presented but unknown or revoked token is refused at once (no
  fall-back to the session), so a client never acts as someone it did not mean to.
- Django session (the console's login): CSRF is enforced for unsafe methods, as with
  ninja's ``django_auth``; a request without any credentials answers 401, not a CSRF 403.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.utils import timezone
from ninja import Field, Router, Schema, Status
from ninja.errors import AuthenticationError
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from citykeeper.api.v1.errors import ApiError, CsrfFailed, ErrorOut
from citykeeper.services import throttle, tokens

TOKEN_ATTEMPTS = 20
TOKEN_WINDOW = dt.timedelta(minutes=5)


class TokenAuth(HttpBearer):
    """``Authorization: Bearer <token>``."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = tokens.authenticate_token(token.strip())
        if user is None:
            raise AuthenticationError(401, "The API token is unknown, revoked, or its user is disabled.")
        request.user = user
        request.api_token = token.strip()
        return user


class SessionAuth(APIKeyCookie):
    """Django's session cookie; CSRF enforced for unsafe methods of a logged-in session."""

    param_name: str = settings.SESSION_COOKIE_NAME

    def _get_key(self, request: HttpRequest) -> str | None:
        # The CSRF check moves to ``authenticate``: only a live session needs it, and an
        # anonymous request must be told to authenticate (401), not that CSRF failed.
        return request.COOKIES.get(self.param_name)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.is_active:
            return None
        if self.csrf and not getattr(request, "_ninja_csrf_exempt", False) and check_csrf(request):
            raise CsrfFailed()
        return user


token_auth = TokenAuth()
session_auth = SessionAuth()
AUTH = [token_auth, session_auth]


# ---------------------------------------------------------------- endpoints

router = Router(tags=["auth"])


class TokenIn(Schema):
    username: str = Field(..., min_length=1, max_length=150)
    password: str = Field(..., min_length=1, max_length=1024)
    name: str = Field("", max_length=100, description="A label for the token, e.g. the device or script.")


class UserOut(Schema):
    username: str
    display_name: str
    roles: list[str]
    scope_area: str | None = Field(None, description="Code of the area the user covers.")
    scope_unit: str | None = Field(None, description="Code of the unit the user belongs to.")


class TokenOut(Schema):
    token: str = Field(..., description="The token itself. Shown once: only its SHA-256 is stored.")
    prefix: str
    name: str
    created_at: dt.datetime
    user: UserOut


class MeOut(UserOut):
    auth: str = Field(..., description="'token' or 'session'.")


def user_out(user) -> dict[str, Any]:
    return {
        "username": user.username,
        "display_name": str(user),
        "roles": sorted(r.value for r in user.roles),
        "scope_area": user.scope_area.code if user.scope_area_id else None,
        "scope_unit": user.scope_unit.code if user.scope_unit_id else None,
    }


@router.post(
    "/token",
    auth=None,
    response={201: TokenOut, 401: ErrorOut, 422: ErrorOut, 429: ErrorOut},
    summary="Issue an API token for a username and password",
)
def issue_token(request: HttpRequest, payload: TokenIn):
    """Exchange a username and password for a new Bearer token. The token is shown only in
    this response; keep it secret and revoke it with ``DELETE /auth/token``. At most
    ``TOKEN_ATTEMPTS`` attempts per client address in ``TOKEN_WINDOW`` (429 after that), so
    passwords cannot be guessed at speed."""
    now = timezone.now()
    key = throttle.address_key("auth-token", throttle.client_address(request.META))
    if not throttle.allow(key, limit=TOKEN_ATTEMPTS, window=TOKEN_WINDOW, now=now):
        wait = throttle.retry_after(key, window=TOKEN_WINDOW, now=now)
        raise ApiError(429, "throttled", f"Too many token requests from this address; try again in {wait} seconds.")
    user = authenticate(request, username=payload.username, password=payload.password)
    if user is None or not user.is_active:
        raise ApiError(401, "bad_credentials", "Wrong username or password, or the account is disabled.")
    token, plaintext = tokens.issue_token(user, payload.name, timezone.now())
    return Status(
        201,
        {
            "token": plaintext,
            "prefix": token.prefix,
            "name": token.name,
            "created_at": token.created_at,
            "user": user_out(user),
        },
    )


@router.delete(
    "/token",
    auth=AUTH,
    response={204: None, 400: ErrorOut, 401: ErrorOut},
    summary="Revoke the Bearer token of this request",
)
def revoke_token(request: HttpRequest):
    """Revoke the token presented in the ``Authorization`` header; later requests with it get 401."""
    plaintext = getattr(request, "api_token", None)
    token = tokens.find_token(plaintext) if plaintext else None
    if token is None:
        raise ApiError(400, "no_token", "This request was not made with a Bearer token; nothing to revoke.")
    tokens.revoke_token(token, timezone.now())
    return Status(204, None)


@router.get("/me", auth=AUTH, response={200: MeOut, 401: ErrorOut}, summary="Who am I")
def me(request: HttpRequest):
    """The authenticated user, roles and scope. Also sets the ``csrftoken`` cookie that session
    clients send back in the ``X-CSRFToken`` header."""
    get_token(request)
    user = request.auth
    return {**user_out(user), "auth": "token" if getattr(request, "api_token", None) else "session"}
