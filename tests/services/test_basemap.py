"""The base map each deployment configures: one row per provider, and a clear message (naming
the setting) for each way to get it wrong, at start-up (the system check) and on the maps."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from citykeeper.services import basemap
from citykeeper.services.basemap import BasemapError, from_settings

KEY = "0123456789abcdef0123456789abcdef"


def test_nothing_configured_means_the_vector_base_map_only():
    config = basemap.browser_config({})
    assert (config["provider"], config["layers"], config["crs"], config["error"]) == ("none", [], "wgs84", "")
    assert config["messages"]["fallback"] == "底图无法加载，已切换为矢量底图"


def test_the_default_settings_need_no_network(settings):
    assert from_settings().provider == "none"
    assert basemap.check_basemap() == []


@pytest.mark.parametrize(
    ("values", "provider", "crs", "urls", "subdomains", "max_zoom"),
    [
        ({"BASEMAP": "none", "MAP_TILE_URL": "https://t.example/{z}/{x}/{y}.png"}, "none", "wgs84", [], [], 20),
        ({"BASEMAP": "osm"}, "osm", "wgs84", ["https://tile.openstreetmap.org/{z}/{x}/{y}.png"], [""], 19),
        (
            {"BASEMAP": "amap"},
            "amap",
            "gcj02",
            ["https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}"],
            ["1234"],
            18,
        ),
        (
            {"MAP_TILE_URL": "https://tiles.example.gov.cn/{z}/{x}/{y}.png"},  # as before BASEMAP existed
            "custom",
            "wgs84",
            ["https://tiles.example.gov.cn/{z}/{x}/{y}.png"],
            [""],
            18,
        ),
        (
            {
                "BASEMAP": "custom",
                "MAP_TILE_URL": "/tiles/{z}/{x}/{-y}.png",
                "MAP_TILE_CRS": "GCJ02",
                "MAP_TILE_MAX_ZOOM": "17",
            },
            "custom",
            "gcj02",
            ["/tiles/{z}/{x}/{-y}.png"],
            [""],
            17,
        ),
        (
            {"BASEMAP": "custom", "MAP_TILE_URL": "https://{s}.t.example/{z}/{x}/{y}.png"},
            "custom",
            "wgs84",
            ["https://{s}.t.example/{z}/{x}/{y}.png"],
            ["abc"],
            18,
        ),
    ],
)
def test_each_provider_makes_its_tile_layers(*, values, provider, crs, urls, subdomains, max_zoom):
    config = basemap.browser_config(values)
    assert config["provider"] == provider and config["crs"] == crs and config["maxZoom"] == max_zoom
    assert [layer["url"] for layer in config["layers"]] == urls
    assert [layer["subdomains"] for layer in config["layers"]] == subdomains
    assert config["error"] == ""


def test_tianditu_draws_the_vector_map_and_its_labels_in_web_mercator_with_the_key():
    config = basemap.browser_config({"BASEMAP": "tianditu", "BASEMAP_KEY": KEY})
    vec, cva = config["layers"]
    assert vec["url"].startswith("https://t{s}.tianditu.gov.cn/vec_w/wmts?") and "LAYER=vec" in vec["url"]
    assert cva["url"].startswith("https://t{s}.tianditu.gov.cn/cva_w/wmts?") and "LAYER=cva" in cva["url"]
    for layer in (vec, cva):
        assert "TILEMATRIXSET=w" in layer["url"] and layer["url"].endswith("&tk=" + KEY)
        assert "TILEMATRIX={z}&TILEROW={y}&TILECOL={x}" in layer["url"] and layer["subdomains"] == "01234567"
    assert config["crs"] == "wgs84" and "天地图" in vec["attribution"]


def test_osm_and_amap_carry_their_attribution():
    assert "OpenStreetMap" in basemap.browser_config({"BASEMAP": "osm"})["layers"][0]["attribution"]
    assert "高德" in basemap.browser_config({"BASEMAP": "amap"})["layers"][0]["attribution"]


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"BASEMAP": "google"}, ["CITYKEEPER_BASEMAP", "google", "tianditu"]),
        ({"BASEMAP": "tianditu"}, ["CITYKEEPER_BASEMAP_KEY", "天地图"]),
        ({"BASEMAP": "tianditu", "BASEMAP_KEY": "a key&x=1"}, ["CITYKEEPER_BASEMAP_KEY"]),
        ({"BASEMAP": "custom"}, ["CITYKEEPER_MAP_TILE_URL"]),
        ({"MAP_TILE_URL": "https://tiles.example/tile.png?z={z}"}, ["CITYKEEPER_MAP_TILE_URL", "{x}"]),
        ({"MAP_TILE_URL": "tiles.example/{z}/{x}/{y}.png"}, ["CITYKEEPER_MAP_TILE_URL", "https://"]),
        ({"MAP_TILE_URL": "//tiles.example/{z}/{x}/{y}.png"}, ["CITYKEEPER_MAP_TILE_URL"]),
        ({"MAP_TILE_URL": "https://t.example/{z}/{x}/{y}.png", "MAP_TILE_CRS": "bd09"}, ["CITYKEEPER_MAP_TILE_CRS"]),
        ({"MAP_TILE_URL": "https://t.example/{z}/{x}/{y}.png", "MAP_TILE_MAX_ZOOM": "30"}, ["MAX_ZOOM"]),
        ({"MAP_TILE_URL": "https://{s}.t.example/{z}/{x}/{y}", "MAP_TILE_SUBDOMAINS": "a,b"}, ["SUBDOMAINS"]),
    ],
)
def test_a_misconfiguration_is_an_error_that_names_the_setting(values, words):
    with pytest.raises(BasemapError) as caught:
        from_settings(values)
    for word in words:
        assert word in str(caught.value)
    # The maps keep working on the outlines and say what is wrong.
    config = basemap.browser_config(values)
    assert config["provider"] == "none" and config["layers"] == []
    assert config["error"] == str(caught.value)


def test_a_misconfiguration_stops_the_system_check_at_start_up(settings):
    settings.CITYKEEPER = {**settings.CITYKEEPER, "BASEMAP": "tianditu", "BASEMAP_KEY": ""}
    errors = basemap.check_basemap()
    assert [e.id for e in errors] == ["citykeeper.E301"] and "CITYKEEPER_BASEMAP_KEY" in errors[0].msg
    with pytest.raises(SystemCheckError, match="CITYKEEPER_BASEMAP_KEY"):
        call_command("check")
    settings.CITYKEEPER = {**settings.CITYKEEPER, "BASEMAP_KEY": KEY}
    assert basemap.check_basemap() == []
    call_command("check")
