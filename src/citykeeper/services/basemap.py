"""The base map (底图) of every map in CityKeeper: one tile provider per deployment.

The portal, the handset app (城管通) and the console all draw the city's own area outlines
(``services.maplayers``) as a vector base that needs no network; a raster tile layer goes
under them when the deployment configures one:

==========  ============================================  ======  =============================
provider    tiles                                         CRS     settings
==========  ============================================  ======  =============================
none        no tiles: the outlines only (the default)     —       —
osm         OpenStreetMap standard tiles                  wgs84   —
tianditu    天地图 vec_w + cva_w (Web Mercator)           wgs84   ``BASEMAP_KEY`` (the tk key)
amap        高德 webrd tiles                               gcj02   —
custom      ``MAP_TILE_URL`` ({z}/{x}/{y} template)       either  ``MAP_TILE_CRS`` (wgs84|gcj02)
==========  ============================================  ======  =============================

Settings (``settings.CITYKEEPER``, from ``CITYKEEPER_*`` environment variables): ``BASEMAP``,
``BASEMAP_KEY``, ``MAP_TILE_URL``, ``MAP_TILE_CRS``, ``MAP_TILE_SUBDOMAINS``,
``MAP_TILE_ATTRIBUTION``, ``MAP_TILE_MAX_ZOOM``. Without ``BASEMAP``, a ``MAP_TILE_URL`` means
``custom`` (as before there was a choice) and nothing at all means ``none``: this works on a
closed government network and on a machine without internet.

Tiles in GCJ-02 (高德) are drawn under WGS-84 data by the browser (``static/citykeeper/basemap.js``
projects every WGS-84 position through GCJ-02 before Web Mercator), so stored positions stay WGS-84.

A misconfiguration (an unknown provider, 天地图 without a key, a URL without {z}/{x}/{y}, an
unknown CRS) is a ``BasemapError`` with a message that names the setting. It is reported by the
system check ``check_basemap`` (``manage.py check``, at start-up) and, as the pages never break on
it, on every map: the map falls back to the outlines and shows the message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.conf import settings
from django.core import checks
from django.utils.translation import gettext as _

log = logging.getLogger(__name__)

PROVIDERS = ("none", "osm", "tianditu", "amap", "custom")
CRSES = ("wgs84", "gcj02")
DEFAULT_MAX_ZOOM = 18

OSM_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = "© OpenStreetMap contributors"
TIANDITU_URL = (
    "https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={layer}"
    "&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}"
)
TIANDITU_SUBDOMAINS = "01234567"
TIANDITU_ATTRIBUTION = "© 天地图 国家地理信息公共服务平台"
AMAP_URL = "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}"
AMAP_SUBDOMAINS = "1234"
AMAP_ATTRIBUTION = "© 高德地图"

_KEY = re.compile(r"^[A-Za-z0-9]{8,64}$")
_SUBDOMAINS = re.compile(r"^[A-Za-z0-9]{1,16}$")


class BasemapError(ValueError):
    """The base-map settings do not make a usable tile layer; the message names the setting."""


@dataclass(frozen=True)
class TileLayer:
    url: str  # a Leaflet URL template
    subdomains: str = ""
    attribution: str = ""


@dataclass(frozen=True)
class Basemap:
    provider: str
    layers: tuple[TileLayer, ...] = ()
    crs: str = "wgs84"
    max_zoom: int = DEFAULT_MAX_ZOOM
    notes: tuple[str, ...] = field(default=())

    def as_browser(self, *, error: str = "") -> dict:
        """The one JSON object every map reads (``static/citykeeper/basemap.js``)."""
        return {
            "provider": self.provider,
            "layers": [
                {"url": layer.url, "subdomains": layer.subdomains, "attribution": layer.attribution}
                for layer in self.layers
            ],
            "crs": self.crs,
            "maxZoom": self.max_zoom,
            "error": error,
            "messages": {
                "fallback": _("底图无法加载，已切换为矢量底图"),
                "error": _("底图配置有误，已使用矢量底图："),
            },
        }


NONE = Basemap("none", max_zoom=20)  # only the outlines: zoom as close as a pin needs


def _text(values: Mapping, key: str) -> str:
    return str(values.get(key, "") or "").strip()


def _max_zoom(values: Mapping, default: int) -> int:
    raw = _text(values, "MAP_TILE_MAX_ZOOM")
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= 22:
        raise BasemapError(
            _("CITYKEEPER_MAP_TILE_MAX_ZOOM 应为 1 到 22 之间的整数，现在是「%(value)s」。") % {"value": raw}
        )
    return int(raw)


def _custom(values: Mapping) -> Basemap:
    url = _text(values, "MAP_TILE_URL")
    if not url:
        raise BasemapError(_("底图为 custom 时必须设置 CITYKEEPER_MAP_TILE_URL（含 {z}、{x}、{y} 的瓦片地址模板）。"))
    if not (url.startswith(("https://", "http://")) or (url.startswith("/") and not url.startswith("//"))):
        raise BasemapError(
            _("CITYKEEPER_MAP_TILE_URL 应以 https://、http:// 或 / 开头，现在是「%(url)s」。") % {"url": url}
        )
    if "{z}" not in url or "{x}" not in url or ("{y}" not in url and "{-y}" not in url):
        raise BasemapError(
            _("CITYKEEPER_MAP_TILE_URL 必须包含 {z}、{x} 和 {y}（或 {-y}），现在是「%(url)s」。") % {"url": url}
        )
    crs = _text(values, "MAP_TILE_CRS").lower() or "wgs84"
    if crs not in CRSES:
        raise BasemapError(
            _("CITYKEEPER_MAP_TILE_CRS 应为 wgs84 或 gcj02（高德、腾讯等火星坐标瓦片），现在是「%(crs)s」。")
            % {"crs": crs}
        )
    subdomains = _text(values, "MAP_TILE_SUBDOMAINS") or ("abc" if "{s}" in url else "")
    if subdomains and not _SUBDOMAINS.match(subdomains):
        raise BasemapError(
            _("CITYKEEPER_MAP_TILE_SUBDOMAINS 应为字母或数字，如 abc 或 1234，现在是「%(value)s」。")
            % {"value": subdomains}
        )
    layer = TileLayer(url, subdomains, _text(values, "MAP_TILE_ATTRIBUTION"))
    return Basemap("custom", (layer,), crs, _max_zoom(values, DEFAULT_MAX_ZOOM))


def from_settings(values: Mapping | None = None) -> Basemap:
    """The base map the settings describe (``settings.CITYKEEPER`` by default); BasemapError
    when they do not describe a usable one."""
    values = settings.CITYKEEPER if values is None else values
    provider = _text(values, "BASEMAP").lower()
    if not provider:
        provider = "custom" if _text(values, "MAP_TILE_URL") else "none"
    if provider not in PROVIDERS:
        raise BasemapError(
            _("未知的底图 CITYKEEPER_BASEMAP=「%(provider)s」，可选：%(choices)s。")
            % {"provider": provider, "choices": ", ".join(PROVIDERS)}
        )
    if provider == "none":
        return NONE
    if provider == "custom":
        return _custom(values)
    if provider == "osm":
        return Basemap("osm", (TileLayer(OSM_URL, "", OSM_ATTRIBUTION),), "wgs84", _max_zoom(values, 19))
    if provider == "amap":
        layer = TileLayer(AMAP_URL, AMAP_SUBDOMAINS, AMAP_ATTRIBUTION)
        return Basemap("amap", (layer,), "gcj02", _max_zoom(values, DEFAULT_MAX_ZOOM))
    # 天地图: the vector map and its annotation layer, in Web Mercator (the _w matrix set).
    key = _text(values, "BASEMAP_KEY")
    if not key:
        raise BasemapError(_("天地图底图需要密钥：请设置 CITYKEEPER_BASEMAP_KEY（在天地图开发者平台申请的 tk）。"))
    if not _KEY.match(key):
        raise BasemapError(_("CITYKEEPER_BASEMAP_KEY 应为 8 到 64 位字母或数字（天地图的 tk）。"))
    layers = tuple(
        TileLayer(TIANDITU_URL.replace("{layer}", name).replace("{key}", key), TIANDITU_SUBDOMAINS, attribution)
        for name, attribution in (("vec", TIANDITU_ATTRIBUTION), ("cva", ""))
    )
    return Basemap("tianditu", layers, "wgs84", _max_zoom(values, DEFAULT_MAX_ZOOM))


def browser_config(values: Mapping | None = None) -> dict:
    """The JSON config for the browser. Never raises: a misconfigured base map becomes the
    vector base map with the error message, so the page still works and says what is wrong."""
    try:
        return from_settings(values).as_browser()
    except BasemapError as exc:
        log.error("base map misconfigured: %s", exc)
        return NONE.as_browser(error=str(exc))


def first_tile_url(values: Mapping | None = None) -> str:
    """The URL template of the base layer ('' without tiles or when misconfigured)."""
    layers = browser_config(values)["layers"]
    return layers[0]["url"] if layers else ""


@checks.register()
def check_basemap(app_configs=None, **kwargs) -> list:
    """Django system check: a misconfigured base map is an error at start-up (``manage.py check``,
    ``runserver``, ``migrate``); registered when this module is imported (``ServicesConfig.ready``)."""
    try:
        from_settings()
    except BasemapError as exc:
        return [checks.Error(str(exc), hint=_("见 docs/basemaps.md。"), id="citykeeper.E301")]
    return []
