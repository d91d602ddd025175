/* The console's case map (web/console/map.py): the open cases in the user's scope on the
   shared base map (citykeeper/basemap.js).
   - zoomed out over many cases: counts per cell (a click zooms in); zoomed in: one point per
     case, coloured by its deadline state, with a popup linking to the case page;
   - the grid layer: each unit grid coloured by its number of open cases (5 classes);
   - a polygon drawn by clicking (no plugin): "在队列中查看" opens the chosen queue with
     ?within=lon lat,lon lat,… (WGS-84) and the map's filters. */
(function () {
  "use strict";
  const el = document.getElementById("case-map");
  if (!el) return;
  const B = window.CityKeeperBasemap;
  const msg = el.dataset;
  const status = document.getElementById("map-status");
  const filters = document.getElementById("map-filters");
  const SLA = { ok: "#0a7a32", warn: "#f0b429", overdue: "#cf1124", paused: "#7b8794", none: "#7b8794" };
  // The polygon being drawn (vertices) or drawn (polygon), WGS-84 L.LatLng.
  let drawing = false;
  let vertices = [];
  let shape = null;
  let polygon = null;
  const GRID = ["#ffffff", "#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15"];

  const map = B.createMap(el, "ck-basemap", { zoomSnap: 1, doubleClickZoom: true });
  let bounds = null;
  try {
    bounds = JSON.parse(msg.bounds || "null");
  } catch (err) {
    bounds = null;
  }
  if (bounds) {
    map.fitBounds([
      [bounds[1], bounds[0]],
      [bounds[3], bounds[2]],
    ]);
  } else {
    map.setView([34.26, 117.18], 12);
  }
  B.outlines(map, msg.areas);
  const grids = L.geoJSON(null, {
    style: (f) => ({
      color: "#9aa5b1",
      weight: 1,
      fillColor: GRID[f.properties.class] || GRID[0],
      fillOpacity: f.properties.class ? 0.6 : 0.05,
      className: "ck-grid ck-grid-" + f.properties.class,
    }),
    onEachFeature: (f, layer) => {
      layer.bindTooltip(f.properties.code + " · " + msg.msgGridCount + f.properties.count, { sticky: true });
    },
  });
  const cases = L.layerGroup().addTo(map);
  map.createPane("ck-cases");
  map.getPane("ck-cases").style.zIndex = 450;

  function params() {
    const query = new URLSearchParams();
    new FormData(filters).forEach((value, key) => {
      if (value) query.set(key, value);
    });
    return query;
  }

  function line(parent, tag, text, cls) {
    const node = document.createElement(tag);
    node.textContent = text;
    if (cls) node.className = cls;
    parent.appendChild(node);
    return node;
  }

  function popup(p) {
    const div = document.createElement("div");
    div.className = "ck-popup";
    const head = line(div, "strong", p.number);
    if (p.urgent) line(head, "span", " " + msg.msgUrgent, "tag urgent");
    const dl = document.createElement("dl");
    [
      [msg.msgCategory, p.category],
      [msg.msgAddress, p.address],
      [msg.msgState, p.state],
      [msg.msgSla, p.sla_text],
      [msg.msgDeadline, p.deadline],
    ].forEach(([k, v]) => {
      if (!v) return;
      line(dl, "dt", k);
      line(dl, "dd", v);
    });
    div.appendChild(dl);
    const a = line(div, "a", msg.msgOpen, "ck-open-case");
    a.href = p.url;
    return div;
  }

  let last = "";
  function loadCases() {
    if (!document.getElementById("layer-cases").checked) {
      cases.clearLayers();
      last = "";
      return;
    }
    const query = params();
    query.set("bbox", B.bboxOf(map));
    query.set("zoom", String(Math.round(map.getZoom())));
    const key = query.toString();
    if (key === last) return;
    last = key;
    fetch(msg.cases + "?" + key, { credentials: "same-origin", headers: { Accept: "application/geo+json" } })
      .then((r) => {
        if (!r.ok) throw new Error(String(r.status));
        return r.json();
      })
      .then((data) => {
        if (key !== last) return;
        cases.clearLayers();
        if (data.clustered) {
          data.features.forEach((f) => {
            const [x, y] = f.geometry.coordinates;
            const n = f.properties.count;
            const size = n < 10 ? 28 : n < 100 ? 36 : n < 1000 ? 44 : 52;
            L.marker([y, x], {
              icon: L.divIcon({
                className: "ck-cell ck-cell-" + f.properties.worst,
                html: "<span>" + String(n) + "</span>",
                iconSize: [size, size],
              }),
              title: String(n),
              keyboard: true,
              pane: "ck-cases",
            })
              .on("click", () => {
                if (!drawing) map.setView([y, x], Math.min(map.getZoom() + 2, 18));
              })
              .addTo(cases);
          });
          status.textContent = msg.msgCount + data.total + msg.msgZoom;
          return;
        }
        data.features.forEach((f) => {
          const p = f.properties;
          const [x, y] = f.geometry.coordinates;
          const marker = L.circleMarker([y, x], {
            radius: p.urgent ? 9 : 7,
            color: "#ffffff",
            weight: 2,
            fillColor: SLA[p.sla] || SLA.none,
            fillOpacity: 0.95,
            pane: "ck-cases",
            className: "ck-case ck-case-" + p.sla + " ck-case-" + p.number,
          });
          marker.on("click", () => {
            if (drawing) return;
            L.popup({ maxWidth: 320 }).setLatLng(marker.getLatLng()).setContent(popup(p)).openOn(map);
          });
          marker.addTo(cases);
        });
        status.textContent = msg.msgCount + data.total + (data.truncated ? msg.msgTruncated : "");
      })
      .catch(() => {
        if (key === last) status.textContent = msg.msgFailed;
      });
  }

  let lastGrids = "";
  function loadGrids() {
    if (!document.getElementById("layer-grids").checked) {
      map.removeLayer(grids);
      lastGrids = "";
      return;
    }
    grids.addTo(map);
    const query = params();
    query.set("bbox", B.bboxOf(map));
    query.set("zoom", String(Math.round(map.getZoom())));
    const key = query.toString();
    if (key === lastGrids) return;
    lastGrids = key;
    fetch(msg.grids + "?" + key, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : null))
      .then((data) => {
        if (!data || key !== lastGrids) return;
        grids.clearLayers();
        grids.addData(data);
        grids.bringToBack();
        if (data.zoomIn) status.textContent = msg.msgGridsZoom;
      })
      .catch(() => {});
  }

  function reload() {
    loadCases();
    loadGrids();
  }
  map.on("moveend", B.debounce(reload, 200));
  document.getElementById("layer-cases").addEventListener("change", loadCases);
  document.getElementById("layer-grids").addEventListener("change", loadGrids);
  filters.addEventListener("submit", (e) => {
    e.preventDefault();
    const query = params();
    history.replaceState(null, "", location.pathname + (query.toString() ? "?" + query : ""));
    reload();
    updateLink();
  });
  filters.addEventListener("change", () => filters.requestSubmit());
  reload();

  // ------------------------------------------------------------ drawing a polygon
  const MAX_VERTICES = 100;
  const startBtn = document.getElementById("draw-start");
  const finishBtn = document.getElementById("draw-finish");
  const clearBtn = document.getElementById("draw-clear");
  const queueSelect = document.getElementById("draw-queue");
  const openLink = document.getElementById("draw-open");
  const drawStatus = document.getElementById("draw-status");

  function say(text) {
    drawStatus.textContent = text;
  }

  function redraw() {
    if (shape) map.removeLayer(shape);
    shape = null;
    if (polygon) {
      shape = L.polygon(polygon, { color: "#0b6e4f", weight: 2, fillOpacity: 0.08, interactive: false, className: "ck-within" });
    } else if (vertices.length) {
      shape = L.polyline(vertices, { color: "#0b6e4f", weight: 2, dashArray: "6 4", interactive: false, className: "ck-drawing" });
    }
    if (shape) shape.addTo(map);
    finishBtn.disabled = !drawing || vertices.length < 3;
    clearBtn.disabled = !drawing && !polygon;
    updateLink();
  }

  function within() {
    return polygon.map((p) => p.lng.toFixed(6) + " " + p.lat.toFixed(6)).join(",");
  }

  function updateLink() {
    if (!polygon) {
      openLink.removeAttribute("href");
      openLink.setAttribute("aria-disabled", "true");
      return;
    }
    const query = params();
    query.set("within", within());
    openLink.href = queueSelect.value + "?" + query.toString();
    openLink.setAttribute("aria-disabled", "false");
  }

  // Two segments cross (touching at a shared vertex of neighbours does not count).
  function cross(a, b, c, d) {
    const orient = (p, q, r) => Math.sign((q.lng - p.lng) * (r.lat - p.lat) - (q.lat - p.lat) * (r.lng - p.lng));
    return orient(a, b, c) * orient(a, b, d) < 0 && orient(c, d, a) * orient(c, d, b) < 0;
  }

  function selfCrossing(ring) {
    const n = ring.length;
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        if (j === i + 1 || (i === 0 && j === n - 1)) continue;
        if (cross(ring[i], ring[(i + 1) % n], ring[j], ring[(j + 1) % n])) return true;
      }
    }
    return false;
  }

  function start() {
    drawing = true;
    vertices = [];
    polygon = null;
    map.doubleClickZoom.disable();
    el.classList.add("ck-drawing-on");
    say(msg.msgDrawing.replace("%(n)s", "0"));
    redraw();
  }

  function finish() {
    // A double-click adds the same spot twice: drop vertices within 3 pixels of the one before.
    const kept = [];
    vertices.forEach((v) => {
      const prev = kept[kept.length - 1];
      if (!prev || map.latLngToContainerPoint(prev).distanceTo(map.latLngToContainerPoint(v)) > 3) kept.push(v);
    });
    if (kept.length < 3) {
      vertices = kept;
      say(msg.msgTooFew);
      redraw();
      return;
    }
    if (selfCrossing(kept)) {
      vertices = kept;
      say(msg.msgCrossing);
      redraw();
      return;
    }
    drawing = false;
    vertices = [];
    polygon = kept;
    map.doubleClickZoom.enable();
    el.classList.remove("ck-drawing-on");
    say(msg.msgDone.replace("%(n)s", String(kept.length)));
    redraw();
  }

  function clear() {
    drawing = false;
    vertices = [];
    polygon = null;
    map.doubleClickZoom.enable();
    el.classList.remove("ck-drawing-on");
    say("");
    redraw();
  }

  map.on("click", (e) => {
    if (!drawing) return;
    if (vertices.length >= MAX_VERTICES) {
      say(msg.msgTooMany);
      return;
    }
    vertices.push(e.latlng);
    say(msg.msgDrawing.replace("%(n)s", String(vertices.length)));
    redraw();
  });
  map.on("dblclick", () => {
    if (drawing) finish();
  });
  startBtn.addEventListener("click", start);
  finishBtn.addEventListener("click", finish);
  clearBtn.addEventListener("click", clear);
  queueSelect.addEventListener("change", updateLink);
  openLink.addEventListener("click", (e) => {
    if (!polygon) e.preventDefault();
  });

  window.CityKeeperCaseMap = { map: map };
})();
