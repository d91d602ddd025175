"""Typed domain errors.

Every refusal the domain can make is one of these. Each carries a stable ``code``
(for API clients and tests), the ``field`` or rule it concerns, and an HTTP-like
``status`` hint that the adapters map onto their own responses. Messages are
English here; adapters translate them with Django's i18n.
"""

from __future__ import annotations


class DomainError(Exception):
    code = "domain_error"
    status = 400

    def __init__(self, message: str, *, field: str | None = None, **params: object) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.params = params

    def as_dict(self) -> dict[str, object]:
        body: dict[str, object] = {"code": self.code, "detail": self.message}
        if self.field:
            body["field"] = self.field
        return body


class InvalidInput(DomainError):
    code = "invalid"
    status = 422


class NotFound(DomainError):
    code = "not_found"
    status = 404


class IllegalMove(DomainError):
    """The action does not exist for the case's current state."""

    code = "illegal_move"
    status = 409


class NotPermitted(DomainError):
    """The actor's role may not take this action, or the case is outside their scope."""

    code = "not_permitted"
    status = 403


class StaleVersion(DomainError):
    """The case moved since the caller read it (optimistic concurrency)."""

    code = "stale_version"
    status = 409


class CalendarYearMissing(DomainError):
    """Working-time arithmetic reached a year that has no calendar rows."""

    code = "calendar_year_missing"
    status = 422

    def __init__(self, year: int) -> None:
        super().__init__(
            f"The working calendar has no rows for {year}; an administrator must enter "
            f"that year's holidays and swapped workdays before deadlines can reach it.",
            field="calendar",
            year=year,
        )
        self.year = year
