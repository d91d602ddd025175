"""The two wire formats of GeoReport v2: JSON, and XML without a namespace."""

from __future__ import annotations

import json
from typing import Any
from xml.sax.saxutils import escape

from django.http import HttpResponse

CONTENT_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}


def _xml_value(tag: str, value: Any) -> str:
    if value is None:
        return f"<{tag}/>"
    if isinstance(value, dict):
        return f"<{tag}>{''.join(_xml_value(k, v) for k, v in value.items())}</{tag}>"
    if isinstance(value, list):
        singular = tag[:-1] if tag.endswith("s") else "item"
        return f"<{tag}>{''.join(_xml_value(singular, v) for v in value)}</{tag}>"
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"<{tag}>{escape(str(value))}</{tag}>"


def to_xml(root: str, item: str | None, payload: Any) -> str:
    """``payload`` is a list of dicts (each one ``<item>`` under ``<root>``) or one dict."""
    if isinstance(payload, list):
        body = "".join(_xml_value(item or "item", entry) for entry in payload)
    else:
        body = "".join(_xml_value(k, v) for k, v in payload.items())
    return f'<?xml version="1.0" encoding="utf-8"?><{root}>{body}</{root}>'


def respond(fmt: str, payload: Any, *, root: str, item: str | None = None, status: int = 200) -> HttpResponse:
    if fmt == "json":
        text = json.dumps(payload, ensure_ascii=False)
    else:
        text = to_xml(root, item, payload)
    return HttpResponse(text, status=status, content_type=CONTENT_TYPES[fmt])


def errors(fmt: str, status: int, description: str) -> HttpResponse:
    """The spec's error list: an array of {code, description} with the HTTP status set."""
    return respond(fmt, [{"code": status, "description": description}], root="errors", item="error", status=status)
