/* The portal's maps on the shared base map (citykeeper/basemap.js): the city's area outlines
   (districts, streets, communities, unit grids by zoom) from /map/areas.json always, and the
   deployment's tiles (services/basemap.py, data-basemap) under them when configured. */
(function () {
  "use strict";
  const shared = window.CityKeeperBasemap;

  function bounds(el) {
    try {
      return JSON.parse(el.dataset.bounds || "null");
    } catch (err) {
      return null;
    }
  }

  function basemap(el, options) {
    const map = shared.createMap(el, el.dataset.basemap, Object.assign({ zoomSnap: 0.5 }, options || {}));
    const b = bounds(el);
    if (b) {
      map.fitBounds([
        [b[1], b[0]],
        [b[3], b[2]],
      ]);
    } else {
      map.setView([34.26, 117.18], 12);
    }
    shared.outlines(map, el.dataset.areas);
    return map;
  }

  window.CityKeeperPortal = { basemap: basemap, bboxOf: shared.bboxOf, debounce: shared.debounce };
})();
