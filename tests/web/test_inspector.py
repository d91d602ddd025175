"""The inspector handset app (城管通) under /m/: who may open it, the manifest, the service worker,
and the codebook the page carries for the offline category picker."""

from __future__ import annotations

import json
import re

from django.contrib.staticfiles import finders
from django.test import Client
from PIL import Image

from citykeeper.store.models import Category
from citykeeper.web import inspector


def embedded(response) -> dict:
    body = response.content.decode()
    found = re.search(r'<script id="ck-data" type="application/json">(.*?)</script>', body, re.S)
    assert found, "the page carries its data as JSON"
    return json.loads(found.group(1))


def test_the_app_asks_anonymous_users_to_log_in(city, people):
    response = Client().get("/m/")
    assert response.status_code == 302 and response["Location"] == "/login/?next=/m/"


def test_the_app_is_for_inspectors_only(city, people):
    client = Client()
    for other in (people.operator, people.citizen, people.handler):
        client.force_login(other)
        response = client.get("/m/")
        assert response.status_code == 403
        assert "城管通只对监督员开放" in response.content.decode()


def test_an_inspector_gets_the_app_with_manifest_worker_and_scripts(city, people):
    client = Client()
    client.force_login(people.inspector)
    response = client.get("/m/")
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-cache"
    body = response.content.decode()
    assert 'rel="manifest" href="/m/manifest.webmanifest"' in body
    assert 'capture="environment"' in body and 'accept="image/*"' in body
    for asset in ("citykeeper/inspector/app.js", "citykeeper/inspector/app.css", "leaflet-1.9.4/leaflet.js"):
        assert asset in body
    assert "cdn" not in body.lower()
    data = embedded(response)
    assert data["user"] == "inspector"
    assert data["tileUrl"] == ""  # no tile server by default: a vector map of the areas


def test_an_unchanged_page_is_not_sent_again(city, people):
    client = Client()
    client.force_login(people.inspector)
    first = client.get("/m/")
    assert "csrftoken" in first.cookies  # the script sends the cookie's token; the page has none
    assert 'name="csrfmiddlewaretoken" value=""' in first.content.decode()
    again = client.get("/m/", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again.content == b""
    client.force_login(people.other_inspector)  # another user, another page
    assert client.get("/m/", HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 200


def test_the_page_carries_the_codebook_with_filing_conditions(city, people):
    Category.objects.create(
        standard="CJ/T 214-2007 / GB/T 30428.2-2013",
        kind="component",
        major_code="01",
        major_name="公用设施",
        minor_code="0101",
        minor_name="上水井盖",
    )
    Category.objects.create(
        standard="local",
        kind="event",
        major_code="99",
        major_name="本地事件",
        minor_code="99001",
        minor_name="共享单车乱停",
    )
    Category.objects.create(
        standard="local",
        kind="event",
        major_code="99",
        major_name="本地事件",
        minor_code="99002",
        minor_name="停用的类别",
        active=False,
    )
    client = Client()
    client.force_login(people.inspector)
    data = embedded(client.get("/m/"))
    minors = {m["code"]: (major, m) for major in data["codebook"] for m in major["minors"]}
    assert set(minors) == {"01002", "99001"}  # the current standard and local ones, active only
    major, sewer = minors["01002"]
    assert (major["code"], major["name"], major["kind"]) == ("01", "市政公用设施", "component")
    assert sewer["id"] == city.category.pk and sewer["name"] == "污水井盖"
    assert [(c["id"], c["text"], c["urgent"]) for c in sewer["conditions"]] == [
        (city.condition.pk, "破损超过25c㎡", False),
        (city.urgent_condition.pk, "缺失、移位，存在安全隐患的", True),
    ]
    assert sewer["conditions"][0]["limit"] == "4 工作时"
    assert minors["99001"][1]["conditions"] == []
    # the phrases and every message the script shows come translated from the server
    assert "存在安全隐患" in data["phrases"][""] and "破损" in data["phrases"]["component"]
    assert set(data["messages"]) == set(inspector.MESSAGES) and data["messages"]["pending"] == "待发送"


def test_the_map_uses_a_tile_server_when_one_is_configured(city, people, settings):
    settings.CITYKEEPER = {**settings.CITYKEEPER, "MAP_TILE_URL": "https://tiles.example.gov.cn/{z}/{x}/{y}.png"}
    client = Client()
    client.force_login(people.inspector)
    assert embedded(client.get("/m/"))["tileUrl"] == "https://tiles.example.gov.cn/{z}/{x}/{y}.png"


def test_the_manifest_makes_the_app_installable(db):
    response = Client().get("/m/manifest.webmanifest")  # browsers fetch it without cookies
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    manifest = json.loads(response.content)
    assert manifest["name"] == "城管通" and manifest["short_name"] == "城管通"
    assert (manifest["start_url"], manifest["scope"], manifest["display"]) == ("/m/", "/m/", "standalone")
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        assert icon["src"].startswith("/static/") and icon["type"] == "image/png"
        path = finders.find(icon["src"].removeprefix("/static/"))
        assert path, icon["src"]
        with Image.open(path) as image:
            assert image.format == "PNG" and f"{image.width}x{image.height}" == icon["sizes"]


def test_the_service_worker_is_served_for_the_scope_of_the_app(db):
    response = Client().get("/m/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == "/m/"
    assert response["Cache-Control"] == "no-cache"
    script = response.content.decode()
    shell = json.loads(re.search(r"const SHELL_URLS = (\[.*?\]);", script).group(1))
    assert "/m/" in shell
    for url in shell[1:]:
        assert finders.find(url.removeprefix("/static/")), url  # everything cached at install exists
    assert any(url.endswith("leaflet.js") for url in shell) and any(url.endswith("app.js") for url in shell)
    assert f'const VERSION = "{inspector.shell_version()}"' in script
    assert 'request.method !== "GET"' in script  # POSTs are never cached nor answered from a cache


def test_a_new_app_script_changes_the_service_worker(db, monkeypatch, tmp_path):
    before = Client().get("/m/sw.js").content
    assert Client().get("/m/sw.js").content == before  # the same deploy: no reinstall
    changed = tmp_path / "app.js"
    changed.write_text("// a new release\n")
    real = finders.find
    monkeypatch.setattr(
        inspector.finders,
        "find",
        lambda path, **kw: str(changed) if path.endswith("inspector/app.js") else real(path, **kw),
    )
    assert Client().get("/m/sw.js").content != before  # so browsers install it and drop the old shell
