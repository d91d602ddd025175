/* The base map of every CityKeeper map (portal, 城管通, console), from the one JSON config of
   services/basemap.py: {provider, layers: [{url, subdomains, attribution}], crs, maxZoom, error,
   messages}.

   - Tiles (none, OSM, 天地图, 高德, a custom URL) go under the data; the city's own area outlines
     (outlines()) are the vector base that always works, on a closed network too.
   - Tiles in GCJ-02 (高德): the map gets a CRS that projects WGS-84 through GCJ-02 before Web
     Mercator, so every WGS-84 point and shape lands on the right spot of the GCJ-02 tiles and a
     click reads back as WGS-84 (the inverse is iterated, as in citykeeper.spatial.crs).
   - When most tiles fail (or none arrives for 10 s), the tile layers are removed and a note
     says "底图无法加载，已切换为矢量底图"; a misconfigured base map says what is wrong.

   No dependencies but Leaflet; window.CityKeeperBasemap. */
(function () {
  "use strict";

  // ------------------------------------------------------------ WGS-84 <-> GCJ-02
  // The public algorithm (Krasovsky ellipsoid), as citykeeper/spatial/crs.py.
  const A = 6378245.0;
  const EE = 0.00669342162296594323;
  const CHINA = [72.004, 0.8293, 137.8347, 55.8271];

  function inChina(lon, lat) {
    return lon >= CHINA[0] && lon <= CHINA[2] && lat >= CHINA[1] && lat <= CHINA[3];
  }

  function offset(lon, lat) {
    const x = lon - 105.0;
    const y = lat - 35.0;
    const pi = Math.PI;
    const sinX = 20.0 * Math.sin(6.0 * x * pi) + 20.0 * Math.sin(2.0 * x * pi);
    let dLatM = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
    dLatM += (sinX * 2.0) / 3.0;
    dLatM += ((20.0 * Math.sin(y * pi) + 40.0 * Math.sin((y / 3.0) * pi)) * 2.0) / 3.0;
    dLatM += ((160.0 * Math.sin((y / 12.0) * pi) + 320.0 * Math.sin((y * pi) / 30.0)) * 2.0) / 3.0;
    let dLonM = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
    dLonM += (sinX * 2.0) / 3.0;
    dLonM += ((20.0 * Math.sin(x * pi) + 40.0 * Math.sin((x / 3.0) * pi)) * 2.0) / 3.0;
    dLonM += ((150.0 * Math.sin((x / 12.0) * pi) + 300.0 * Math.sin((x / 30.0) * pi)) * 2.0) / 3.0;
    const radLat = (lat / 180.0) * pi;
    const sinLat = Math.sin(radLat);
    const magic = 1.0 - EE * sinLat * sinLat;
    const sqrtMagic = Math.sqrt(magic);
    const dLat = (dLatM * 180.0) / (((A * (1.0 - EE)) / (magic * sqrtMagic)) * pi);
    const dLon = (dLonM * 180.0) / ((A / sqrtMagic) * Math.cos(radLat) * pi);
    return [dLon, dLat];
  }

  function wgs84ToGcj02(lon, lat) {
    if (!inChina(lon, lat)) return [lon, lat];
    const d = offset(lon, lat);
    return [lon + d[0], lat + d[1]];
  }

  function gcj02ToWgs84(lon, lat) {
    if (!inChina(lon, lat)) return [lon, lat];
    let x = lon;
    let y = lat;
    for (let i = 0; i < 30; i++) {
      const d = offset(x, y);
      const eLon = x + d[0] - lon;
      const eLat = y + d[1] - lat;
      x -= eLon;
      y -= eLat;
      if (!(Math.max(Math.abs(eLon), Math.abs(eLat)) >= 1e-12)) break;
    }
    return [x, y];
  }

  // ------------------------------------------------------------ the CRS

  let gcjCrs = null;

  function crsFor(config) {
    if (!config || config.crs !== "gcj02") return L.CRS.EPSG3857;
    if (gcjCrs) return gcjCrs;
    const sm = L.Projection.SphericalMercator;
    const projection = {
      R: sm.R,
      MAX_LATITUDE: sm.MAX_LATITUDE,
      bounds: sm.bounds,
      project: function (latlng) {
        const g = wgs84ToGcj02(latlng.lng, latlng.lat);
        return sm.project(L.latLng(g[1], g[0]));
      },
      unproject: function (point) {
        const g = sm.unproject(point);
        const w = gcj02ToWgs84(g.lng, g.lat);
        return L.latLng(w[1], w[0]);
      },
    };
    gcjCrs = L.extend({}, L.CRS.EPSG3857, { code: "CityKeeper:GCJ02", projection: projection });
    return gcjCrs;
  }

  // ------------------------------------------------------------ config, tiles, the note

  function readConfig(source) {
    if (source && typeof source === "object") return source;
    if (typeof source !== "string" || !source) return { provider: "none", layers: [], crs: "wgs84" };
    const node = document.getElementById(source);
    try {
      return JSON.parse(node ? node.textContent : source);
    } catch (err) {
      return { provider: "none", layers: [], crs: "wgs84" };
    }
  }

  const Note = L.Control.extend({
    options: { position: "bottomleft" },
    onAdd: function () {
      const div = L.DomUtil.create("div", "ck-basemap-note");
      div.setAttribute("role", "status");
      div.style.cssText =
        "background:#fffbea;color:#8d5a00;border:1px solid #f0b429;border-radius:4px;padding:2px 8px;font-size:12px;max-width:28rem";
      div.textContent = this.options.text;
      return div;
    },
  });

  function note(map, text) {
    if (map._ckNote) map.removeControl(map._ckNote);
    map._ckNote = new Note({ text: text }).addTo(map);
    return map._ckNote;
  }

  // Most tiles failing means the tile server is out of reach: drop the tiles, keep the outlines.
  const MIN_ERRORS = 4;
  const SILENT_MS = 10000;

  function addTiles(map, config) {
    const messages = config.messages || {};
    const state = { shown: false, failed: false, loads: 0, errors: 0, starts: 0, layers: [] };
    if (config.error) note(map, (messages.error || "") + config.error);
    const specs = config.layers || [];
    if (!specs.length) return state;
    let timer = null;
    function fallback() {
      if (state.failed) return;
      state.failed = true;
      state.shown = false;
      clearTimeout(timer);
      state.layers.forEach((layer) => map.removeLayer(layer));
      note(map, messages.fallback || "");
      map.getContainer().classList.add("ck-basemap-failed");
      map.fire("basemapfallback");
    }
    specs.forEach((spec) => {
      const layer = L.tileLayer(spec.url, {
        subdomains: spec.subdomains || "abc",
        attribution: spec.attribution || "",
        maxZoom: config.maxZoom || 18,
        maxNativeZoom: config.maxZoom || 18,
        crossOrigin: false,
      });
      layer.on("tileloadstart", () => {
        state.starts += 1;
        if (timer === null) {
          timer = setTimeout(() => {
            if (state.loads === 0) fallback();
          }, SILENT_MS);
        }
      });
      layer.on("tileload", () => {
        state.loads += 1;
      });
      layer.on("tileerror", () => {
        state.errors += 1;
        if (state.errors >= MIN_ERRORS && state.errors > state.loads) fallback();
      });
      layer.addTo(map);
      state.layers.push(layer);
    });
    state.shown = true;
    return state;
  }

  function createMap(el, config, options) {
    config = readConfig(config);
    const hasTiles = (config.layers || []).length > 0;
    const map = L.map(
      el,
      Object.assign({ crs: crsFor(config), attributionControl: hasTiles, maxZoom: config.maxZoom || 19 }, options || {})
    );
    if (map.attributionControl) map.attributionControl.setPrefix(false);
    map.basemap = addTiles(map, config);
    map.basemapConfig = config;
    return map;
  }

  // ------------------------------------------------------------ outlines (the vector base)

  function bboxOf(map) {
    const b = map.getBounds();
    const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
    return [
      clamp(b.getWest(), -180, 180),
      clamp(b.getSouth(), -90, 90),
      clamp(b.getEast(), -180, 180),
      clamp(b.getNorth(), -90, 90),
    ]
      .map((v) => v.toFixed(5))
      .join(",");
  }

  function debounce(fn, ms) {
    let timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  }

  // The city's area outlines for the view (districts … unit grids by zoom) from an areas.json
  // endpoint (?bbox=…&zoom=…); filled lightly when no tiles are shown.
  function outlines(map, url) {
    const tiles = () => Boolean(map.basemap && map.basemap.shown);
    const layer = L.geoJSON(null, {
      interactive: false,
      style: (feature) => ({
        color: "#7b8794",
        weight: feature.properties.level === "district" ? 2 : 1,
        fill: !tiles(),
        fillColor: "#e4e7eb",
        fillOpacity: 0.35,
        className: "ck-outline ck-outline-" + feature.properties.level,
      }),
    }).addTo(map);
    let last = "";
    function refresh() {
      const key = bboxOf(map) + "&zoom=" + Math.max(0, Math.min(22, Math.round(map.getZoom())));
      if (key === last) return;
      last = key;
      fetch(url + "?bbox=" + key, { credentials: "same-origin" })
        .then((r) => (r.ok ? r.json() : null))
        .then((data) => {
          if (!data || key !== last) return;
          layer.clearLayers();
          layer.addData(data);
        })
        .catch(() => {});
    }
    map.on("moveend", debounce(refresh, 150));
    map.on("basemapfallback", () => layer.resetStyle());
    layer.refresh = refresh;
    refresh();
    return layer;
  }

  window.CityKeeperBasemap = {
    wgs84ToGcj02: wgs84ToGcj02,
    gcj02ToWgs84: gcj02ToWgs84,
    crsFor: crsFor,
    readConfig: readConfig,
    addTiles: addTiles,
    createMap: createMap,
    outlines: outlines,
    note: note,
    bboxOf: bboxOf,
    debounce: debounce,
  };
})();
