/* The public case map: rounded positions, plain-word states, published photos only. */
(function () {
  "use strict";
  const el = document.getElementById("cases-map");
  if (!el) return;
  const portal = window.CityKeeperPortal;
  const map = portal.basemap(el);
  const layer = L.layerGroup().addTo(map);
  const list = document.getElementById("cases-list");
  const status = document.getElementById("cases-status");
  const COLORS = { new: "#2680c2", working: "#f0b429", done: "#0b6e4f", reopened: "#cf1124" };

  function line(parent, tag, text, cls) {
    const node = document.createElement(tag);
    node.textContent = text;
    if (cls) node.className = cls;
    parent.appendChild(node);
    return node;
  }

  function card(p) {
    const div = document.createElement("div");
    div.className = "p-popup";
    line(div, "strong", p.category);
    line(div, "div", p.state, "p-state");
    line(div, "div", p.number, "p-muted");
    line(div, "div", el.dataset.msgReported + p.reported, "p-muted");
    if (p.closed) line(div, "div", el.dataset.msgClosed + p.closed, "p-muted");
    if (p.photos.length) {
      const photos = document.createElement("div");
      photos.className = "p-photos";
      p.photos.forEach((photo) => {
        const a = document.createElement("a");
        a.href = photo.full;
        a.target = "_blank";
        a.rel = "noopener";
        const img = document.createElement("img");
        img.src = photo.thumb;
        img.alt = el.dataset.msgPhoto;
        img.loading = "lazy";
        a.appendChild(img);
        photos.appendChild(a);
      });
      div.appendChild(photos);
    }
    return div;
  }

  let last = "";
  function load() {
    const bbox = portal.bboxOf(map);
    if (bbox === last) return;
    last = bbox;
    fetch(el.dataset.cases + "?bbox=" + bbox + "&zoom=" + map.getZoom())
      .then((r) => {
        if (!r.ok) throw new Error(String(r.status));
        return r.json();
      })
      .then((data) => {
        if (bbox !== last) return;
        layer.clearLayers();
        list.replaceChildren();
        if (data.clustered) {
          // Zoomed out over many cases: counts per area; a click zooms in towards them.
          data.features.forEach((f) => {
            const [x, y] = f.geometry.coordinates;
            const n = f.properties.count;
            const size = n < 10 ? 28 : n < 100 ? 36 : 44;
            L.marker([y, x], {
              icon: L.divIcon({ className: "p-cluster", html: "<span>" + String(n) + "</span>", iconSize: [size, size] }),
              keyboard: true,
              title: String(n),
            })
              .on("click", () => map.setView([y, x], Math.min(map.getZoom() + 2, 18)))
              .addTo(layer);
          });
          status.textContent = el.dataset.msgCount + data.total + el.dataset.msgZoom;
          return;
        }
        data.features.forEach((f) => {
          const p = f.properties;
          const [x, y] = f.geometry.coordinates;
          L.circleMarker([y, x], {
            radius: 8,
            color: "#ffffff",
            weight: 2,
            fillColor: COLORS[p.group] || "#52606d",
            fillOpacity: 0.9,
            className: "p-case p-case-" + p.group,
          })
            .bindPopup(() => card(p))
            .addTo(layer);
          const item = line(list, "li", "");
          line(item, "span", p.number, "p-number");
          line(item, "span", " " + p.category + " · " + p.state + " · " + p.reported);
        });
        status.textContent = el.dataset.msgCount + data.features.length;
      })
      .catch(() => {
        status.textContent = el.dataset.msgFailed;
      });
  }
  map.on("moveend", portal.debounce(load, 200));
  load();
})();
