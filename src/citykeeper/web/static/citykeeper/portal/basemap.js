/* The portal's maps without a tile server: the city's area outlines (districts, streets,
   communities, unit grids by zoom) from /map/areas.json as the base, and the tile layer of
   MAP_TILE_URL on top of nothing when one is configured. */
(function () {
  "use strict";

  function bounds(el) {
    try {
      return JSON.parse(el.dataset.bounds || "null");
    } catch (err) {
      return null;
    }
  }

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

  function basemap(el, options) {
    const map = L.map(el, Object.assign({ attributionControl: false, zoomSnap: 0.5 }, options || {}));
    const tiles = el.dataset.tiles;
    if (tiles) L.tileLayer(tiles, { maxZoom: 19 }).addTo(map);
    const b = bounds(el);
    if (b) {
      map.fitBounds([
        [b[1], b[0]],
        [b[3], b[2]],
      ]);
    } else {
      map.setView([34.26, 117.18], 12);
    }
    const outlines = L.geoJSON(null, {
      interactive: false,
      style: (feature) => ({
        color: "#7b8794",
        weight: feature.properties.level === "district" ? 2 : 1,
        fill: !tiles,
        fillColor: "#e4e7eb",
        fillOpacity: 0.35,
      }),
    }).addTo(map);
    let last = "";
    function refresh() {
      const key = bboxOf(map) + "&zoom=" + Math.max(0, Math.min(22, Math.round(map.getZoom())));
      if (key === last) return;
      last = key;
      fetch(el.dataset.areas + "?bbox=" + key)
        .then((r) => (r.ok ? r.json() : null))
        .then((data) => {
          if (!data || key !== last) return;
          outlines.clearLayers();
          outlines.addData(data);
        })
        .catch(() => {});
    }
    map.on("moveend", debounce(refresh, 150));
    refresh();
    return map;
  }

  window.CityKeeperPortal = { basemap: basemap, bboxOf: bboxOf, debounce: debounce };
})();
