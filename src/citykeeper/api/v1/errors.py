"""One error shape for the whole API.

Every refusal answers ``{"code": ..., "detail": ..., "field": ...}``:

- ``code``: stable, machine-readable (``not_found``, ``illegal_move``, ``stale_version``,
  ``validation_error``, ``malformed_json``, ``unauthenticated`` ...);
- ``detail``: a sentence for people;
- ``field``: the input field or rule concerned, or null.

Validation errors add ``errors``: one ``{"field", "message", "type"}`` per problem; a stale
version adds ``current_version``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser

from citykeeper.domain.errors import DomainError, StaleVersion

log = logging.getLogger(__name__)

# Name of the body parameter of every view that takes a JSON body; stripped from
# validation error paths so clients see "version", not "payload.version".
BODY_PARAM = "payload"

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "throttled",
}


class FieldError(Schema):
    field: str
    message: str
    type: str


class ErrorOut(Schema):
    """The body of every error response."""

    code: str
    detail: str
    field: str | None = None
    errors: list[FieldError] | None = None
    current_version: int | None = None


class ApiError(Exception):
    """A refusal made by the API layer itself (not by the domain)."""

    def __init__(self, status: int, code: str, detail: str, *, field: str | None = None, **extra: Any):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.field = field
        self.extra = extra


class MalformedJSON(ValueError):
    """The request body could not be parsed as JSON."""


class CsrfFailed(Exception):
    """A session-authenticated unsafe request came without a valid CSRF token."""


class JSONParser(Parser):
    """Ninja's parser, but keeping the reason a body is not JSON for the client."""

    def parse_body(self, request: HttpRequest) -> dict:
        try:
            return json.loads(request.body)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
            raise MalformedJSON(str(exc)) from exc


def error_body(code: str, detail: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "detail": detail, "field": field}
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def _field_path(loc: tuple | list) -> str:
    parts = list(loc)
    source = parts.pop(0) if parts else ""
    if source == "body" and parts and parts[0] == BODY_PARAM:
        parts.pop(0)
    if not parts:
        return "body" if source == "body" else str(source)
    return ".".join(str(p) for p in parts)


def _validation_message(error: dict[str, Any], field: str) -> str:
    message = str(error.get("msg", "invalid value"))
    if error.get("type") == "missing" and field == "body":
        return "A JSON object body is required."
    return message


def _on_validation_error(request: HttpRequest, exc: ValidationError, api: NinjaAPI) -> HttpResponse:
    errors = []
    for error in exc.errors:
        field = _field_path(error.get("loc", ()))
        errors.append({"field": field, "message": _validation_message(error, field), "type": error.get("type", "")})
    summary = "; ".join(f"{e['field']}: {e['message'].rstrip('.')}" for e in errors)
    body = error_body(
        "validation_error",
        f"The request is not valid: {summary}.",
        errors[0]["field"] if errors else None,
        errors=errors,
    )
    return api.create_response(request, body, status=422)


def _on_domain_error(request: HttpRequest, exc: DomainError, api: NinjaAPI) -> HttpResponse:
    extra: dict[str, Any] = {}
    if isinstance(exc, StaleVersion):
        extra["current_version"] = exc.params.get("current")
    return api.create_response(request, error_body(exc.code, exc.message, exc.field, **extra), status=exc.status)


def _on_api_error(request: HttpRequest, exc: ApiError, api: NinjaAPI) -> HttpResponse:
    return api.create_response(request, error_body(exc.code, exc.detail, exc.field, **exc.extra), status=exc.status)


def _on_authentication_error(request: HttpRequest, exc: AuthenticationError, api: NinjaAPI) -> HttpResponse:
    detail = str(exc)
    if detail == "Unauthorized":  # ninja's default: nobody presented any credentials
        detail = (
            "Authentication required: send 'Authorization: Bearer <token>' (POST /api/v1/auth/token) "
            "or log in for a session."
        )
    response = api.create_response(request, error_body("unauthenticated", detail), status=401)
    response["WWW-Authenticate"] = 'Bearer realm="citykeeper"'
    return response


def _on_csrf_failed(request: HttpRequest, exc: CsrfFailed, api: NinjaAPI) -> HttpResponse:
    detail = (
        "CSRF check failed: a session-authenticated request that changes data needs the "
        "'X-CSRFToken' header matching the csrftoken cookie (or use a Bearer token)."
    )
    return api.create_response(request, error_body("csrf_failed", detail), status=403)


def _on_http_error(request: HttpRequest, exc: HttpError, api: NinjaAPI) -> HttpResponse:
    if isinstance(exc.__cause__, MalformedJSON):
        body = error_body("malformed_json", f"The request body is not valid JSON: {exc.__cause__}")
        return api.create_response(request, body, status=400)
    code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    return api.create_response(request, error_body(code, str(exc)), status=exc.status_code)


def _on_404(request: HttpRequest, exc: Http404, api: NinjaAPI) -> HttpResponse:
    return api.create_response(request, error_body("not_found", "Not found."), status=404)


def install(api: NinjaAPI) -> None:
    """Register the handlers that turn every refusal into the one error shape."""

    def bind(handler):
        return lambda request, exc: handler(request, exc, api)

    api.add_exception_handler(ValidationError, bind(_on_validation_error))
    api.add_exception_handler(DomainError, bind(_on_domain_error))
    api.add_exception_handler(ApiError, bind(_on_api_error))
    api.add_exception_handler(AuthenticationError, bind(_on_authentication_error))
    api.add_exception_handler(CsrfFailed, bind(_on_csrf_failed))
    api.add_exception_handler(HttpError, bind(_on_http_error))
    api.add_exception_handler(Http404, bind(_on_404))


def not_found_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Catch-all for unknown paths under the API prefix: JSON, not Django's HTML 404."""
    body = error_body("not_found", f"No API endpoint at {request.path}; see /api/v1/docs.")
    return HttpResponse(json.dumps(body), status=404, content_type="application/json")
