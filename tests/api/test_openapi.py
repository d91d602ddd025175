"""The OpenAPI document and the interactive docs, served without any CDN."""

from __future__ import annotations

import json
import re

from django.test import Client

from tests.api.conftest import API


def test_the_openapi_document_is_json_and_lists_every_endpoint_with_the_action_one(db):
    response = Client().get(f"{API}/openapi.json")
    assert response.status_code == 200
    doc = json.loads(response.content)
    assert doc["openapi"].startswith("3.") and doc["info"]["title"] == "CityKeeper API"
    paths = doc["paths"]
    action = paths["/api/v1/cases/{number}/actions/{action}"]["post"]
    assert action["operationId"] == "take_action"
    action_param = next(p for p in action["parameters"] if p["name"] == "action")
    assert {"accept", "dispatch", "close", "merge"} <= set(action_param["schema"]["enum"])
    assert {"200", "403", "404", "409", "422"} <= set(action["responses"])
    for path in [
        "/api/v1/cases",
        "/api/v1/cases/{number}",
        "/api/v1/cases/{number}/attachments",
        "/api/v1/auth/token",
        "/api/v1/codebook/categories",
        "/api/v1/codebook/categories/{category_id}",
        "/api/v1/areas",
        "/api/v1/areas/{code}",
        "/api/v1/units",
        "/api/v1/calendar",
        "/api/v1/calendar/deadline",
    ]:
        assert path in paths, path
    schemes = doc["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} == {"http", "apiKey"}
    assert "ErrorOut" in doc["components"]["schemas"]


def test_the_docs_page_loads_only_local_static_files(db):
    response = Client().get(f"{API}/docs")
    assert response.status_code == 200
    html = response.content.decode()
    urls = re.findall(r'<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]+)"', html)
    assert urls, "the page should reference its scripts and styles"
    for url in urls:
        assert url.startswith("/static/"), url
        assert "cdn" not in url.lower()
    assert "http://" not in html and "https://" not in html
    assert "cdn" not in html.lower()
    for url in urls:  # and they are really served from here
        asset = Client().get(url)
        assert asset.status_code == 200, url
