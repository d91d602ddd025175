/* The case page (web/console/case.py): the map, the photo viewer, keyboard shortcuts,
   confirmation of moves that cannot be taken back, one submission per click, and drafts:
   what a user types is kept in sessionStorage until the server has taken it, so an expired
   session (login and come back) or a refused form loses nothing. */
(function () {
  "use strict";
  const root = document.getElementById("case");
  if (!root) return;
  const number = root.dataset.number;
  const draftKey = "citykeeper.case-draft." + number;

  // ---------------------------------------------------------------- map
  function drawMap() {
    const el = document.getElementById("case-map");
    const dataEl = document.getElementById("case-map-data");
    if (!el || !dataEl || typeof L === "undefined") return;
    const data = JSON.parse(dataEl.textContent);
    if (!data.case && !data.grid) {
      el.hidden = true;
      return;
    }
    const map = L.map(el, { attributionControl: false, zoomSnap: 0.5 });
    // A view first: Leaflet cannot draw vector layers on a map that has none yet.
    if (data.case) map.setView([data.case.lat, data.case.lon], 17);
    else map.setView(L.geoJSON(data.grid.geometry).getBounds().getCenter(), 16);
    const layers = [];
    if (data.grid) {
      layers.push(
        L.geoJSON(data.grid.geometry, { style: { color: "#0b6e4f", weight: 2, fillOpacity: 0.05 } })
          .bindTooltip(data.grid.name)
          .addTo(map)
      );
    }
    data.components.forEach((c) => {
      L.circleMarker([c.lat, c.lon], { radius: 4, color: "#52606d", weight: 1, fillOpacity: 0.6 })
        .bindTooltip(c.name + " " + c.code)
        .addTo(map);
    });
    data.cases.forEach((c) => {
      const marker = L.circleMarker([c.lat, c.lon], { radius: 6, color: "#f0b429", weight: 2, fillOpacity: 0.7 });
      const link = document.createElement("a");
      link.href = c.url;
      link.textContent = c.number + " " + c.category + "（" + c.state + "）";
      marker.bindPopup(link).addTo(map);
    });
    if (data.case) {
      const here = L.circleMarker([data.case.lat, data.case.lon], { radius: 9, color: "#ab091e", weight: 3, fillOpacity: 0.9 });
      here.addTo(map);
      layers.push(here);
    }
    if (data.grid) {
      const bounds = layers[0].getBounds();
      if (data.case) bounds.extend([data.case.lat, data.case.lon]);
      map.fitBounds(bounds, { maxZoom: 18 });
    }
    el.dataset.drawn = "1";
  }

  // ---------------------------------------------------------------- photos
  const viewer = document.getElementById("photo-view");
  document.addEventListener("click", (ev) => {
    const link = ev.target.closest("a[data-large]");
    if (!link || !viewer || typeof viewer.showModal !== "function") return;
    ev.preventDefault();
    viewer.querySelector("img").src = link.dataset.large;
    viewer.showModal();
  });

  // ---------------------------------------------------------------- drafts
  function readDraft() {
    try {
      return JSON.parse(sessionStorage.getItem(draftKey) || "null");
    } catch (err) {
      return null;
    }
  }

  function saveDraft(form) {
    const details = form.closest("details");
    const fields = {};
    form.querySelectorAll("textarea, input:not([type=hidden]):not([type=file]), select").forEach((el) => {
      if (el.name) fields[el.name] = el.value;
    });
    sessionStorage.setItem(draftKey, JSON.stringify({ action: details.dataset.action, fields: fields }));
  }

  function restoreDraft() {
    const draft = readDraft();
    if (!draft) return;
    // The server said the move went through: the draft has done its work.
    if (document.querySelector(".messages [data-level=success], .messages [data-level=info]")) {
      sessionStorage.removeItem(draftKey);
      return;
    }
    const details = document.querySelector('details.act[data-action="' + draft.action + '"]');
    if (!details) return;
    const form = details.querySelector("form");
    let restored = false;
    Object.entries(draft.fields).forEach(([name, value]) => {
      const el = form.elements[name];
      if (el && value && !el.value) {
        el.value = value;
        restored = true;
      }
    });
    if (restored) {
      details.open = true;
      const note = document.createElement("p");
      note.className = "restored";
      note.setAttribute("role", "status");
      note.textContent = root.dataset.restoredText || "已恢复你上次未提交的内容。";
      form.prepend(note);
    }
  }

  // ---------------------------------------------------------------- submitting
  document.querySelectorAll("details.act form").forEach((form) => {
    form.addEventListener("input", () => saveDraft(form));
    form.addEventListener("submit", (ev) => {
      if (form.dataset.sent) {
        ev.preventDefault(); // a second click while the first is on its way
        return;
      }
      const question = form.dataset.confirm;
      if (question && !window.confirm(question)) {
        ev.preventDefault();
        return;
      }
      saveDraft(form);
      form.dataset.sent = "1";
      form.querySelectorAll("button[type=submit]").forEach((b) => {
        b.disabled = true;
        b.setAttribute("aria-busy", "true");
      });
    });
  });

  // ---------------------------------------------------------------- keyboard
  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }

  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") {
      document.querySelectorAll("details.act[open]").forEach((d) => (d.open = false));
      return;
    }
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
      const form = document.activeElement && document.activeElement.closest("details.act form");
      if (form) {
        ev.preventDefault();
        form.requestSubmit();
      }
      return;
    }
    if (ev.ctrlKey || ev.metaKey || ev.altKey || typing(document.activeElement)) return;
    const details = document.querySelector('details.act[data-key="' + ev.key.toLowerCase() + '"]');
    if (!details) return;
    ev.preventDefault();
    document.querySelectorAll("details.act[open]").forEach((d) => (d.open = d === details));
    details.open = true;
    const first = details.querySelector("form textarea, form select, form input:not([type=hidden]), form button");
    if (first) first.focus();
  });

  restoreDraft();
  drawMap();
})();
