// 城管通 (inspector handset app): report with photos, drafts, verify/check tasks, self-disposal.
//
// The outbox: every report and every task answer is first written to IndexedDB with a key made
// on the phone (the report's idempotency key), then sent. A failed send stays queued and is
// retried on the `online` event, at start, and every few seconds with a growing back-off. The
// photos are compressed once, when taken, and the compressed bytes are what is stored and sent
// on every retry, so a retry of a report whose answer was lost is the same request and the
// server answers with the case the first attempt made (never a second case).
(function () {
  "use strict";
  const DATA = JSON.parse(document.getElementById("ck-data").textContent);
  const M = DATA.messages;
  const ME = DATA.user;
  const API = "/api/v1";
  const MAX_PHOTOS = 9;
  const MAX_PX = 1600;
  const JPEG_QUALITY = 0.8;
  const BACKOFF_FIRST_MS = 3000;
  const BACKOFF_MAX_MS = 5 * 60 * 1000;
  const TICK_MS = 5000;
  const KEEP_SENT_MS = 7 * 24 * 3600 * 1000;
  const $ = (id) => document.getElementById(id);

  // ------------------------------------------------------------ small helpers

  function h(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value == null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) if (child != null && child !== false) node.append(child);
    return node;
  }

  function uuid() {
    if (self.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16)); // also outside a secure context
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  const lang = document.documentElement.lang || undefined;
  const when = (ts) => new Date(ts).toLocaleString(lang, { month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit" });

  function say(target, text, kind) {
    const node = $(target);
    node.textContent = text || "";
    node.className = "msg" + (kind ? " " + kind : "");
  }

  // From the cookie at the moment of sending (the page may come from the cache, older than a
  // new login); the page carries no token of its own.
  function csrfToken() {
    const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  // ------------------------------------------------------------ IndexedDB

  const idb = (() => {
    let opening = null;
    function open() {
      if (!opening) {
        opening = new Promise((resolve, reject) => {
          const req = indexedDB.open("citykeeper-inspector", 1);
          req.onupgradeneeded = () => {
            for (const name of ["outbox", "drafts", "cache"]) {
              if (!req.result.objectStoreNames.contains(name)) req.result.createObjectStore(name, { keyPath: "id" });
            }
          };
          req.onsuccess = () => resolve(req.result);
          req.onerror = () => reject(req.error);
        });
      }
      return opening;
    }
    async function run(store, mode, fn) {
      const db = await open();
      return new Promise((resolve, reject) => {
        const tx = db.transaction(store, mode);
        const req = fn(tx.objectStore(store));
        tx.oncomplete = () => resolve(req.result); // resolved once written, not before
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error);
      });
    }
    return {
      get: (store, id) => run(store, "readonly", (s) => s.get(id)),
      all: (store) => run(store, "readonly", (s) => s.getAll()),
      put: (store, value) => run(store, "readwrite", (s) => s.put(value)),
      del: (store, id) => run(store, "readwrite", (s) => s.delete(id)),
    };
  })();

  // ------------------------------------------------------------ the network

  class NetworkDown extends Error {}
  class ServerBusy extends Error {}
  class AuthLost extends Error {}
  class Refused extends Error {} // a 4xx answer: sending it again would not help

  async function request(method, url, body, isForm) {
    const headers = { Accept: "application/json", "X-CSRFToken": csrfToken() };
    if (body && !isForm) headers["Content-Type"] = "application/json";
    let response;
    let data = {};
    try {
      response = await fetch(url, {
        method,
        headers,
        credentials: "same-origin",
        cache: "no-store",
        body: body ? (isForm ? body : JSON.stringify(body)) : undefined,
      });
      data = await response.json().catch(() => ({}));
    } catch (e) {
      throw new NetworkDown(String(e));
    }
    if (response.status === 401 || (response.status === 403 && data.code === "csrf_failed") || /\/login\//.test(response.url)) {
      throw new AuthLost(data.detail || "");
    }
    if (response.status >= 500 || response.status === 408 || response.status === 429) throw new ServerBusy(data.detail || "");
    if (response.ok) banner("");
    return { ok: response.ok, status: response.status, body: data };
  }

  function refused(answer) {
    const b = answer.body || {};
    return new Refused(M.refused + (b.detail || `HTTP ${answer.status}`) + (b.field ? `（${b.field}）` : ""));
  }

  async function getJSON(url) {
    const r = await request("GET", url);
    if (!r.ok) throw refused(r);
    return r.body;
  }

  function banner(text) {
    const node = $("banner");
    node.replaceChildren();
    node.hidden = !text;
    if (text) node.append(h("a", { href: "/login/?next=/m/", text }));
  }

  function showNet() {
    const online = navigator.onLine !== false;
    $("net").textContent = online ? M.online : M.offline;
    $("net").className = "net" + (online ? "" : " offline");
  }

  // ------------------------------------------------------------ photos

  const urls = new Map(); // photo id → object URL of its compressed bytes
  function photoURL(photo) {
    if (!urls.has(photo.id)) urls.set(photo.id, URL.createObjectURL(new Blob([photo.data], { type: photo.type })));
    return urls.get(photo.id);
  }
  function forget(photos) {
    for (const p of photos || []) {
      if (urls.has(p.id)) URL.revokeObjectURL(urls.get(p.id));
      urls.delete(p.id);
    }
  }

  function decode(file) {
    return createImageBitmap(file, { imageOrientation: "from-image" }).catch(
      () =>
        new Promise((resolve, reject) => {
          const img = new Image();
          const url = URL.createObjectURL(file);
          img.onload = () => { URL.revokeObjectURL(url); resolve(img); };
          img.onerror = () => { URL.revokeObjectURL(url); reject(new Error("decode")); };
          img.src = url;
        })
    );
  }

  // At most 1600 px on the long side, JPEG at quality 0.8: a 12-megapixel phone photo becomes
  // ~300 kB. Done once; the bytes are kept and sent as they are on every retry.
  async function compress(file) {
    const image = await decode(file);
    const w = image.naturalWidth || image.width;
    const hgt = image.naturalHeight || image.height;
    const scale = Math.min(1, MAX_PX / Math.max(w, hgt));
    const canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.round(w * scale));
    canvas.height = Math.max(1, Math.round(hgt * scale));
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#fff"; // transparent PNG areas become white, not black
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
    if (image.close) image.close();
    const blob = await new Promise((resolve, reject) =>
      canvas.toBlob((b) => (b ? resolve(b) : reject(new Error("encode"))), "image/jpeg", JPEG_QUALITY)
    );
    const id = uuid();
    return { id, name: `${id.slice(0, 8)}.jpg`, type: "image/jpeg", data: await blob.arrayBuffer(), at: Date.now() };
  }

  // A list of photos bound to a file input, its thumbnails and its counter.
  function photoList(inputId, listId, countId, msgId, onChange) {
    const list = { items: [], busy: Promise.resolve() };
    const input = $(inputId);
    function render() {
      $(listId).replaceChildren(
        ...list.items.map((p, i) =>
          h("li", {},
            h("img", { src: photoURL(p), alt: "" }),
            h("button", { type: "button", "aria-label": M.remove, title: M.remove, text: "×", onclick: () => {
              forget(list.items.splice(i, 1));
              render();
            } })
          )
        )
      );
      $(countId).textContent = `${list.items.length}/${MAX_PHOTOS}`;
      if (onChange) onChange(list.items);
    }
    list.render = render;
    list.set = (items) => { list.items = (items || []).slice(); render(); };
    list.clear = () => { list.items = []; render(); };
    input.addEventListener("change", () => {
      const files = Array.from(input.files || []);
      input.value = "";
      list.busy = list.busy.then(async () => {
        const room = MAX_PHOTOS - list.items.length;
        if (files.length > room) say(msgId, M.maxPhotos, "error");
        for (const file of files.slice(0, Math.max(0, room))) {
          try {
            list.items.push(await compress(file));
          } catch (e) {
            say(msgId, M.photoFailed, "error");
          }
          render();
        }
      });
    });
    render();
    return list;
  }

  // ------------------------------------------------------------ the map (vector outlines, no tiles needed)

  function makeMap(elementId, center, zoom) {
    // The deployment's base map (citykeeper/basemap.js): tiles when configured, in their CRS.
    const map = window.CityKeeperBasemap.createMap(elementId, DATA.basemap, { zoomControl: true });
    map.setView(center, zoom);
    map.highlight = "";
    const outlines = L.geoJSON(null, {
      interactive: false,
      style: (f) => {
        const p = f.properties || {};
        if (p.code && p.code === map.highlight) return { color: "#0b6e4f", weight: 2, fillColor: "#0b6e4f", fillOpacity: 0.12 };
        if (p.level === "grid") return { color: "#7b8794", weight: 1, fill: false };
        return { color: "#0b6e4f", weight: 2, dashArray: "6 4", fill: false };
      },
    }).addTo(map);
    map.outlines = outlines;
    let timer = null;
    let seq = 0;
    const load = () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const zoomLevel = Math.round(map.getZoom());
        if (zoomLevel < 11) { outlines.clearLayers(); return; }
        const b = map.getBounds();
        const clamp = (v, lim) => Math.max(-lim, Math.min(lim, v)).toFixed(5);
        const bbox = [clamp(b.getWest(), 180), clamp(b.getSouth(), 90), clamp(b.getEast(), 180), clamp(b.getNorth(), 90)].join(",");
        const mine = ++seq;
        try {
          const r = await fetch(`${API}/map/areas?` + new URLSearchParams({ bbox, zoom: zoomLevel }), { credentials: "same-origin" });
          if (!r.ok || mine !== seq) return;
          const shapes = await r.json();
          if (mine !== seq) return;
          outlines.clearLayers();
          outlines.addData(shapes);
        } catch (e) {
          // offline and nothing cached: the marker alone
        }
      }, 250);
    };
    map.on("moveend", load);
    map.reload = load;
    load();
    return map;
  }

  const startCenter = DATA.center ? [DATA.center[1], DATA.center[0]] : [34.26, 117.18];
  const startZoom = DATA.center ? 15 : 5;

  // ------------------------------------------------------------ the report form

  const categories = new Map(); // minor id → {minor, major}
  for (const major of DATA.codebook) for (const minor of major.minors) categories.set(minor.id, { minor, major });

  const form = {
    draftId: null,
    category: null,
    condition: null,
    point: null, // {lat, lon}
    manual: false,
    addressEdited: false,
  };
  let openMajor = null;
  let lastFix = null;
  let submitted = null; // id of the last report queued from the form

  const photos = photoList("photo-input", "photos", "photo-count", "form-msg");
  const after = photoList("after-input", "after-photos", "after-count", "form-msg");

  function minorButton(minor, major, withMajor) {
    return h("li", {},
      h("button", { type: "button", dataset: { category: minor.id }, onclick: () => chooseCategory(minor.id) },
        h("span", { class: "code", text: minor.code }),
        h("span", { text: minor.name }),
        withMajor ? h("span", { class: "kind", text: major.name }) : null
      )
    );
  }

  function renderPicker() {
    const q = $("cat-search").value.trim().toLowerCase();
    const list = $("cat-list");
    $("cat-crumb").hidden = Boolean(q) || openMajor === null;
    if (q) {
      const found = [];
      for (const { minor, major } of categories.values()) {
        const hay = `${minor.code} ${minor.name} ${major.code} ${major.name}`.toLowerCase();
        if (hay.includes(q)) found.push(minorButton(minor, major, true));
        if (found.length >= 60) break;
      }
      list.replaceChildren(...(found.length ? found : [h("li", { class: "empty", text: M.noResults })]));
    } else if (openMajor !== null) {
      const major = DATA.codebook[openMajor];
      $("cat-major-name").textContent = `${major.code} ${major.name}`;
      list.replaceChildren(...major.minors.map((m) => minorButton(m, major, false)));
    } else {
      list.replaceChildren(
        ...DATA.codebook.map((major, i) =>
          h("li", {},
            h("button", { type: "button", dataset: { major: major.code }, onclick: () => { openMajor = i; renderPicker(); } },
              h("span", { class: "code", text: major.code }),
              h("span", { text: major.name }),
              h("span", { class: "kind", text: `${major.kind_label} · ${major.minors.length}` })
            )
          )
        )
      );
    }
  }

  function chooseCategory(id, conditionId) {
    const entry = categories.get(id);
    form.category = entry ? id : null;
    form.condition = null;
    $("cat-chosen").hidden = !entry;
    $("cat-picker").hidden = Boolean(entry);
    if (entry) $("cat-chosen-text").textContent = `${entry.major.name} › ${entry.minor.code} ${entry.minor.name}`;
    const conditions = entry ? entry.minor.conditions : [];
    $("conditions-block").hidden = conditions.length === 0;
    const radio = (value, text, limit, urgent) =>
      h("li", {},
        h("label", {},
          h("input", { type: "radio", name: "condition", value: String(value), checked: (conditionId || "") === value, onchange: () => {
            form.condition = value || null;
            if (urgent) $("urgent").checked = true;
          } }),
          h("span", {}, text, urgent ? h("span", { class: "tag", text: M.urgentTag }) : null),
          limit ? h("span", { class: "limit", text: limit }) : null
        )
      );
    $("conditions").replaceChildren(
      radio("", M.noCondition, "", false),
      ...conditions.map((c) => radio(c.id, c.text, c.limit, c.urgent))
    );
    if (conditionId && conditions.some((c) => c.id === conditionId)) form.condition = conditionId;
    renderPhrases();
    checkDuplicates();
  }

  // 疑似重复: open cases of the category nearby, shown before reporting (needs the network;
  // offline the report is simply queued and the centre merges duplicates).
  let dupSeq = 0;
  async function checkDuplicates() {
    const p = form.point;
    const mine = ++dupSeq;
    if (!p || !form.category) { $("dups").hidden = true; return; }
    const q = new URLSearchParams({ category: form.category, lon: p.lon, lat: p.lat, limit: 3 });
    try {
      const answer = await request("GET", `${API}/duplicates?${q}`);
      if (mine !== dupSeq) return;
      const found = answer.ok && Array.isArray(answer.body) ? answer.body : [];
      $("dup-list").replaceChildren(
        ...found.map((d) => h("li", { text: `${d.number} · ${d.category} · ${Math.round(d.distance_m)} m · ${d.address}` }))
      );
      $("dups").hidden = found.length === 0;
    } catch (e) {
      if (mine === dupSeq) $("dups").hidden = true;
    }
  }

  function renderPhrases() {
    const entry = form.category ? categories.get(form.category) : null;
    const phrases = [...(DATA.phrases[""] || []), ...((entry && DATA.phrases[entry.major.kind]) || [])];
    $("phrases").replaceChildren(
      ...phrases.map((text) => h("button", { type: "button", text, onclick: () => insertPhrase(text) }))
    );
  }

  function insertPhrase(text) {
    const area = $("description");
    const start = area.selectionStart ?? area.value.length;
    const before = area.value.slice(0, start);
    const joiner = before && !/[，。；、,.;\s]$/.test(before) ? "，" : "";
    area.value = before + joiner + text + area.value.slice(area.selectionEnd ?? start);
    const caret = (before + joiner + text).length;
    area.setSelectionRange(caret, caret);
  }

  $("cat-search").addEventListener("input", renderPicker);
  $("cat-back").addEventListener("click", () => { openMajor = null; renderPicker(); });
  $("cat-change").addEventListener("click", () => {
    $("cat-chosen").hidden = true;
    $("cat-picker").hidden = false;
    $("cat-search").focus();
  });

  // position: GPS first, the inspector's drag or tap wins until "re-locate"
  const map = makeMap("map", startCenter, startZoom);
  const marker = L.marker(startCenter, { draggable: true, autoPan: true });
  marker.on("dragend", () => { const p = marker.getLatLng(); setPoint(p.lat, p.lng, true); });
  map.on("click", (e) => setPoint(e.latlng.lat, e.latlng.lng, true));

  let describeTimer = null;
  let describeSeq = 0;
  let described = null;

  function setPoint(lat, lon, manual, recentre) {
    form.point = { lat: Math.round(lat * 1e6) / 1e6, lon: Math.round(lon * 1e6) / 1e6 };
    form.manual = manual;
    const at = [form.point.lat, form.point.lon];
    if (!map.hasLayer(marker)) {
      marker.setLatLng(at).addTo(map);
      map.setView(at, Math.max(map.getZoom(), 17));
    } else {
      marker.setLatLng(at);
      if (recentre || !map.getBounds().contains(at)) map.panTo(at);
    }
    clearTimeout(describeTimer);
    describeTimer = setTimeout(() => { describePoint(); checkDuplicates(); }, 400);
  }

  function accuracyText() {
    if (form.manual) return M.manual;
    return lastFix ? `${M.gpsAccuracy} ${Math.round(lastFix.accuracy)} m` : "";
  }

  async function describePoint() {
    const p = form.point;
    if (!p) return;
    const key = `${p.lon},${p.lat}`;
    const mine = ++describeSeq;
    if (described && described.key === key) {
      if (!form.addressEdited) $("address").value = described.address;
      showPlace(described.text);
      return;
    }
    const q = new URLSearchParams({ lon: p.lon, lat: p.lat });
    try {
      const [located, address] = await Promise.all([
        request("GET", `${API}/locate?${q}&limit=1`),
        request("GET", `${API}/address?${q}`),
      ]);
      if (mine !== describeSeq) return;
      if (!located.ok) {
        map.highlight = "";
        map.outlines.resetStyle();
        showPlace(located.status === 422 ? `${M.outside}（${located.body.detail || ""}）` : "");
        return;
      }
      const where = located.body;
      const names = [
        where.grid && `${M.grid} ${where.grid.code}`,
        where.community && where.community.name,
        where.street && where.street.name,
        where.district && where.district.name,
      ];
      const text = names.filter(Boolean).join(" · ");
      described = { key, text, address: address.ok ? address.body.text || "" : "" };
      map.highlight = where.grid ? where.grid.code : "";
      map.outlines.resetStyle();
      if (!form.addressEdited) $("address").value = described.address;
      showPlace(text);
    } catch (e) {
      if (mine === describeSeq) showPlace(M.offlinePlace);
    }
  }

  function showPlace(text) {
    $("place").textContent = [text, accuracyText()].filter(Boolean).join("　");
  }

  function startGps() {
    if (!navigator.geolocation) { $("place").textContent = M.gpsFailed; return; }
    $("place").textContent = M.locating;
    navigator.geolocation.watchPosition(
      (pos) => {
        const first = !lastFix;
        lastFix = { lat: pos.coords.latitude, lon: pos.coords.longitude, accuracy: pos.coords.accuracy };
        if (form.manual) return;
        const moved = !form.point || L.latLng(form.point.lat, form.point.lon).distanceTo([lastFix.lat, lastFix.lon]) > 3;
        if (moved || first) setPoint(lastFix.lat, lastFix.lon, false, first);
      },
      () => { if (!form.point) $("place").textContent = M.gpsFailed; },
      { enableHighAccuracy: true, maximumAge: 15000, timeout: 30000 }
    );
  }

  $("relocate").addEventListener("click", () => {
    form.manual = false;
    if (lastFix) setPoint(lastFix.lat, lastFix.lon, false, true);
    else $("place").textContent = M.locating;
  });
  $("address").addEventListener("input", () => { form.addressEdited = true; });
  $("self-dispose").addEventListener("change", () => { $("self-block").hidden = !$("self-dispose").checked; });

  // ------------------------------------------------------------ voice note (语音说明)
  // Optional, at most VOICE_MAX_S seconds, recorded with MediaRecorder; kept as bytes with the
  // report (so a retry sends the same file) and shown to staff only.
  const VOICE_MAX_S = 60;
  let voice = null; // { data: ArrayBuffer, type, name, seconds }
  let recorder = null;
  let recordTimer = null;
  const canRecord = Boolean(window.MediaRecorder && navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
  $("voice-block").hidden = !canRecord;

  function showVoice() {
    const player = $("voice-player");
    if (player.src) URL.revokeObjectURL(player.src);
    if (voice) {
      player.src = URL.createObjectURL(new Blob([voice.data], { type: voice.type }));
      player.hidden = false;
      $("voice-status").textContent = `${M.voiceRecorded} ${voice.seconds} s`;
    } else {
      player.removeAttribute("src");
      player.hidden = true;
      $("voice-status").textContent = "";
    }
    $("voice-delete").hidden = !voice;
    $("voice-record").textContent = recorder ? M.voiceStop : voice ? M.voiceAgain : M.voiceStart;
  }

  async function startRecording() {
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (e) {
      $("voice-status").textContent = M.voiceDenied;
      return;
    }
    const chunks = [];
    const started = Date.now();
    recorder = new MediaRecorder(stream);
    recorder.addEventListener("dataavailable", (e) => { if (e.data && e.data.size) chunks.push(e.data); });
    recorder.addEventListener("stop", async () => {
      stream.getTracks().forEach((t) => t.stop());
      clearInterval(recordTimer);
      const type = (recorder.mimeType || "audio/webm").split(";")[0];
      recorder = null;
      const blob = new Blob(chunks, { type });
      const ext = type.includes("mp4") ? "m4a" : type.includes("ogg") ? "ogg" : "webm";
      voice = blob.size
        ? { data: await blob.arrayBuffer(), type, name: `voice.${ext}`, seconds: Math.max(1, Math.round((Date.now() - started) / 1000)) }
        : null;
      showVoice();
    });
    recorder.start(1000);
    showVoice();
    recordTimer = setInterval(() => {
      const s = Math.round((Date.now() - started) / 1000);
      $("voice-status").textContent = `${M.voiceRecording} ${s} s / ${VOICE_MAX_S} s`;
      if (s >= VOICE_MAX_S && recorder) recorder.stop();
    }, 500);
  }

  if (canRecord) {
    $("voice-record").addEventListener("click", () => { if (recorder) recorder.stop(); else startRecording(); });
    $("voice-delete").addEventListener("click", () => { voice = null; showVoice(); });
    showVoice();
  }

  function snapshot() {
    return {
      category: form.category,
      condition: form.condition,
      point: form.point,
      manual: form.manual,
      address: $("address").value,
      addressEdited: form.addressEdited,
      description: $("description").value,
      urgent: $("urgent").checked,
      selfDispose: $("self-dispose").checked,
      selfNote: $("self-note").value,
      voice,
    };
  }

  function restore(saved, savedPhotos, savedAfter, draftId) {
    resetForm();
    form.draftId = draftId || null;
    if (saved.category) chooseCategory(saved.category, saved.condition);
    if (saved.point && saved.manual) setPoint(saved.point.lat, saved.point.lon, true, true);
    $("address").value = saved.address || "";
    form.addressEdited = Boolean(saved.addressEdited);
    $("description").value = saved.description || "";
    $("urgent").checked = Boolean(saved.urgent);
    $("self-dispose").checked = Boolean(saved.selfDispose);
    $("self-block").hidden = !saved.selfDispose;
    $("self-note").value = saved.selfNote || "";
    photos.set(savedPhotos);
    after.set(savedAfter);
    voice = saved.voice || null;
    if (canRecord) showVoice();
  }

  function resetForm() {
    form.draftId = null;
    form.addressEdited = false;
    $("report").reset();
    chooseCategory(null);
    openMajor = null;
    $("cat-search").value = "";
    renderPicker();
    photos.clear();
    after.clear();
    if (recorder) recorder.stop();
    voice = null;
    if (canRecord) showVoice();
    $("self-block").hidden = true;
    if (form.manual) {
      form.manual = false;
      if (lastFix) setPoint(lastFix.lat, lastFix.lon, false, true);
    } else if (form.point) {
      clearTimeout(describeTimer);
      describeTimer = setTimeout(describePoint, 0);
    }
  }

  $("save-draft").addEventListener("click", async () => {
    await Promise.all([photos.busy, after.busy]);
    const id = form.draftId || uuid();
    const entry = form.category ? categories.get(form.category) : null;
    await idb.put("drafts", {
      id,
      user: ME,
      saved: Date.now(),
      title: entry ? `${entry.minor.name}（${entry.minor.code}）` : M.untitled,
      form: snapshot(),
      photos: photos.items,
      after: after.items,
    });
    form.draftId = id;
    say("form-msg", M.savedDraft, "ok");
    renderDrafts();
  });

  // One report per tap: a double tap must not queue the same report twice under two keys.
  let reporting = false;
  $("report").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (reporting) return;
    reporting = true;
    $("submit").disabled = true;
    try {
      await queueReport();
    } finally {
      reporting = false;
      $("submit").disabled = false;
    }
  });

  async function queueReport() {
    await Promise.all([photos.busy, after.busy]);
    const entry = form.category ? categories.get(form.category) : null;
    const selfDispose = $("self-dispose").checked;
    let problem = null;
    if (!entry) problem = M.chooseCategory;
    else if (!form.point) problem = M.needPlace;
    else if (photos.items.length === 0) problem = M.needPhoto;
    else if (selfDispose && after.items.length === 0) problem = M.needAfter;
    if (problem) { say("form-msg", problem, "error"); return; }
    const description = $("description").value.trim();
    const key = uuid();
    const body = {
      category: entry.minor.id,
      lon: form.point.lon,
      lat: form.point.lat,
      description,
      urgent: $("urgent").checked,
      idempotency_key: key,
    };
    // The filing condition the inspector sees: a proposal the shift lead confirms when filing.
    if (form.condition && entry.minor.conditions.some((c) => c.id === form.condition)) body.condition = form.condition;
    const address = $("address").value.trim();
    if (address) body.address = address;
    const item = {
      id: key,
      kind: "report",
      user: ME,
      created: Date.now(),
      state: "pending",
      attempts: 0,
      nextAt: 0,
      error: null,
      title: `${entry.minor.name}（${entry.minor.code}）`,
      caseJson: JSON.stringify(body), // sent byte for byte the same on every retry
      photos: photos.items,
      photoCount: photos.items.length,
      voice,
      self: selfDispose ? { after: after.items, note: $("self-note").value.trim(), ids: [], done: false } : null,
      form: snapshot(),
      number: null,
      version: null,
    };
    await idb.put("outbox", item);
    if (form.draftId) await idb.del("drafts", form.draftId);
    submitted = item.id;
    resetForm();
    say("form-msg", M.queued, "ok");
    window.scrollTo(0, 0);
    renderDrafts();
    await renderOutbox();
    flush(true);
  }

  // ------------------------------------------------------------ the outbox

  const STATE_LABELS = { pending: M.pending, sending: M.sending, sent: M.sent, done: M.done, failed: M.failed };
  const unsent = (item) => item.state !== "sent" && item.state !== "done";
  let unsentCount = 0;

  async function save(item) {
    await idb.put("outbox", item);
  }

  function backoff(attempts) {
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** Math.max(0, attempts - 1));
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  // The answer was applied already when the case's record has our move, by us, with our photos.
  function alreadyDone(detail, action, ids) {
    const ours = (detail.timeline || []).filter((e) => e.kind === action && e.actor === ME);
    const last = ours[ours.length - 1];
    if (!last) return false;
    const have = new Set((last.attachments || []).map((a) => a.id));
    return ids.every((id) => have.has(id));
  }

  // Photos first (the same bytes give the same attachment id, so a repeated upload is harmless),
  // then the move with the version read; a 409 is resolved by reading the case again.
  async function act(item, step, number, action, extra, fromState) {
    step.ids = step.ids || [];
    for (let i = 0; i < step.photos.length; i += 1) {
      if (step.ids[i]) continue;
      const photo = step.photos[i];
      const data = new FormData();
      data.append("file", new Blob([photo.data], { type: photo.type }), photo.name);
      const r = await request("POST", `${API}/cases/${encodeURIComponent(number)}/attachments`, data, true);
      if (!r.ok) throw refused(r);
      step.ids[i] = r.body.id;
      await save(item);
    }
    const body = { version: step.version, reason: extra.reason || "", attachments: step.ids };
    if (extra.found !== undefined && extra.found !== null) body.found = extra.found;
    const url = `${API}/cases/${encodeURIComponent(number)}/actions/${action}`;
    for (let round = 0; round < 3; round += 1) {
      const r = await request("POST", url, body);
      if (r.ok) { step.result = { state: r.body.state, version: r.body.version }; return; }
      if (r.status !== 409) throw refused(r);
      const detail = await request("GET", `${API}/cases/${encodeURIComponent(number)}`);
      if (!detail.ok) throw refused(r);
      if (alreadyDone(detail.body, action, step.ids)) { step.result = { state: detail.body.state, version: detail.body.version }; return; }
      if (detail.body.state !== fromState || r.body.code !== "stale_version") {
        throw new Refused(`${M.changed}（${r.body.detail || r.body.code}）`);
      }
      body.version = detail.body.version; // only a note or the like came in between
      step.version = body.version;
    }
    throw new Refused(M.changed);
  }

  async function deliver(item) {
    if (item.kind === "report") {
      if (!item.number) {
        const data = new FormData();
        data.append("case", item.caseJson);
        for (const p of item.photos) data.append("photos", new Blob([p.data], { type: p.type }), p.name);
        if (item.voice) data.append("voice", new Blob([item.voice.data], { type: item.voice.type }), item.voice.name);
        const r = await request("POST", `${API}/cases/with-photos`, data, true);
        if (!r.ok) throw refused(r);
        item.number = r.body.number;
        item.version = r.body.version;
        item.error = null;
        await save(item);
        renderOutbox();
      }
      if (item.self && !item.self.done) {
        item.self.photos = item.self.after;
        item.self.version = item.self.version || item.version;
        await act(item, item.self, item.number, "self_dispose", { reason: item.self.note }, "reported");
        item.self.done = true;
        delete item.self.photos;
      }
    } else {
      await act(item, item, item.number, item.action, { reason: item.reason, found: item.found }, item.fromState);
    }
  }

  function lighten(item) {
    // Sent: the photos are on the server now; keep the record, drop the bytes.
    forget(item.photos);
    item.photos = [];
    if (item.self) { forget(item.self.after); item.self.after = []; }
    item.voice = null;
    item.form = null;
  }

  let flushing = null;
  let flushAgain = false;
  let forceAgain = false;

  function flush(force) {
    if (flushing) {
      flushAgain = true;
      forceAgain = forceAgain || Boolean(force);
      return flushing;
    }
    flushing = (async () => {
      let forced = Boolean(force);
      try {
        do {
          flushAgain = false;
          const run = () => drain(forced);
          await (navigator.locks ? navigator.locks.request("citykeeper-outbox", run) : run());
          forced = forceAgain;
          forceAgain = false;
        } while (flushAgain);
      } finally {
        flushing = null;
        renderOutbox();
      }
    })();
    return flushing;
  }

  async function drain(force) {
    if (navigator.onLine === false) return;
    const waiting = (await idb.all("outbox"))
      .filter((i) => i.user === ME && (i.state === "pending" || i.state === "sending"))
      .sort((a, b) => a.created - b.created);
    for (const queued of waiting) {
      const item = await idb.get("outbox", queued.id); // as it is now (another tab, a delete)
      if (!item || (item.state !== "pending" && item.state !== "sending")) continue;
      if (!force && item.nextAt > Date.now()) continue;
      item.state = "sending";
      await save(item);
      renderOutbox();
      try {
        await deliver(item);
        item.state = item.kind === "report" ? "sent" : "done";
        item.error = null;
        item.sentAt = Date.now();
        lighten(item);
        if (await idb.get("outbox", item.id)) await save(item);
        delivered(item);
      } catch (err) {
        if (!(await idb.get("outbox", item.id))) continue; // deleted meanwhile
        if (err instanceof Refused) {
          item.state = "failed";
          item.error = err.message;
          await save(item);
          continue;
        }
        item.state = "pending";
        if (err instanceof AuthLost) {
          await save(item);
          banner(M.loginAgain);
          return;
        }
        item.attempts = (item.attempts || 0) + 1;
        item.nextAt = Date.now() + backoff(item.attempts);
        item.error = err instanceof ServerBusy ? M.serverError : M.networkError;
        await save(item);
        if (!(err instanceof ServerBusy)) return; // no network: the others would fail the same way
      }
    }
  }

  function delivered(item) {
    if (item.id === submitted && item.number) say("form-msg", `${M.sent}，${M.caseNo}：${item.number}`, "ok");
    if (item.kind === "task" && !$("tab-tasks").hidden) loadTasks();
  }

  async function renderOutbox() {
    const items = (await idb.all("outbox")).sort((a, b) => b.created - a.created);
    const count = items.filter((i) => i.user === ME && unsent(i)).length;
    unsentCount = count;
    $("outbox-count").textContent = String(count);
    $("outbox-count").hidden = count === 0;
    if (!items.length) {
      $("outbox-list").replaceChildren(h("li", { class: "empty", text: M.noOutbox }));
      return;
    }
    $("outbox-list").replaceChildren(
      ...items.map((item) => {
        const mine = item.user === ME;
        const buttons = [];
        if (mine && item.state === "failed") {
          buttons.push(h("button", { type: "button", class: "retry", text: M.retry, onclick: () => retry(item.id) }));
          if (item.kind === "report" && !item.number && item.form) {
            buttons.push(h("button", { type: "button", class: "edit", text: M.edit, onclick: () => edit(item.id) }));
          }
        }
        if (item.state !== "sending") {
          buttons.push(h("button", { type: "button", class: "delete", text: M.delete, onclick: () => remove(item.id) }));
        }
        const photoCount = item.photoCount ?? (item.photos || []).length;
        return h("li", { dataset: { id: item.id, state: item.state, kind: item.kind } },
          h("div", { class: "head" },
            h("b", { text: item.title }),
            h("span", { class: "state", text: STATE_LABELS[item.state] || item.state })
          ),
          h("div", { class: "meta", text: `${when(item.created)} · ${M.photos} ${photoCount}` +
            (item.self ? ` · ${M.selfDisposed}` : "") +
            (item.state === "pending" && item.attempts ? ` · ${M.nextTry} ${when(item.nextAt)}` : "") }),
          item.number ? h("div", { class: "number" }, `${M.caseNo}：`, h("b", { text: item.number })) : null,
          item.error ? h("div", { class: "error", text: item.error }) : null,
          mine ? null : h("div", { class: "error", text: M.otherUser }),
          buttons.length ? h("div", { class: "buttons" }, buttons) : null
        );
      })
    );
  }

  async function retry(id) {
    const item = await idb.get("outbox", id);
    if (!item) return;
    Object.assign(item, { state: "pending", attempts: 0, nextAt: 0, error: null });
    await save(item);
    flush(true);
  }

  async function edit(id) {
    const item = await idb.get("outbox", id);
    if (!item || !item.form) return;
    restore(item.form, item.photos, item.self ? item.self.after : [], null);
    await idb.del("outbox", id); // it never became a case; the next 上报 gets a new key
    renderOutbox();
    showTab("report");
  }

  async function remove(id) {
    const item = await idb.get("outbox", id);
    if (item && unsent(item) && !window.confirm(M.confirmDelete)) return;
    await idb.del("outbox", id);
    if (item) { forget(item.photos); if (item.self) forget(item.self.after); }
    renderOutbox();
  }

  $("flush").addEventListener("click", () => flush(true));
  $("clear-sent").addEventListener("click", async () => {
    for (const item of await idb.all("outbox")) if (!unsent(item)) await idb.del("outbox", item.id);
    renderOutbox();
  });

  // ------------------------------------------------------------ drafts

  async function renderDrafts() {
    const drafts = (await idb.all("drafts")).filter((d) => d.user === ME).sort((a, b) => b.saved - a.saved);
    $("draft-count").textContent = String(drafts.length);
    $("draft-count").hidden = drafts.length === 0;
    if (!drafts.length) {
      $("draft-list").replaceChildren(h("li", { class: "empty", text: M.noDrafts }));
      return;
    }
    $("draft-list").replaceChildren(
      ...drafts.map((d) =>
        h("li", { dataset: { id: d.id } },
          h("div", { class: "head" }, h("b", { text: d.title })),
          h("div", { class: "meta", text: [when(d.saved), `${M.photos} ${(d.photos || []).length}`, d.form.description.slice(0, 30)].filter(Boolean).join(" · ") }),
          h("div", { class: "buttons" },
            h("button", { type: "button", class: "open-draft", text: M.open, onclick: () => {
              restore(d.form, d.photos, d.after, d.id);
              showTab("report");
            } }),
            h("button", { type: "button", class: "delete", text: M.delete, onclick: async () => {
              if (!window.confirm(M.confirmDelete)) return;
              await idb.del("drafts", d.id);
              renderDrafts();
            } })
          )
        )
      )
    );
  }

  // ------------------------------------------------------------ verify and check tasks

  const taskPhotos = photoList("task-photo-input", "task-photos", "task-photo-count", "task-msg");
  let task = null; // the case detail being answered
  let taskMap = null;
  let taskMarker = null;
  const TASK_STATES = "verifying,checking";
  const taskLabel = (state) => (state === "verifying" ? M.verifyTask : M.checkTask);
  const photoUrl = (number, id, variant) => `${API}/cases/${encodeURIComponent(number)}/attachments/${id}?variant=${variant}`;

  async function answeredNumbers() {
    const items = await idb.all("outbox");
    return new Set(items.filter((i) => i.kind === "task" && i.user === ME && i.state !== "failed").map((i) => i.number));
  }

  async function loadTasks() {
    let list = null;
    $("tasks-msg").textContent = "";
    try {
      const q = new URLSearchParams({ assignee: "me", state: TASK_STATES, page_size: 100, ordering: "stage_deadline_at" });
      list = (await getJSON(`${API}/cases?${q}`)).results;
      await idb.put("cache", { id: `tasks:${ME}`, at: Date.now(), list });
      prefetch(list);
    } catch (e) {
      if (e instanceof AuthLost) banner(M.loginAgain);
      const cached = await idb.get("cache", `tasks:${ME}`);
      list = cached ? cached.list : [];
      $("tasks-msg").textContent = M.tasksOffline + (cached ? ` (${when(cached.at)})` : "");
    }
    const answered = await answeredNumbers();
    const open = list.filter((t) => !answered.has(t.number)).length;
    $("task-count").textContent = String(open);
    $("task-count").hidden = open === 0;
    if (!list.length) {
      $("task-list").replaceChildren(h("li", { class: "empty", text: M.noTasks }));
      return;
    }
    $("task-list").replaceChildren(
      ...list.map((t) => {
        const overdue = t.stage_overdue || (t.stage_deadline_at && new Date(t.stage_deadline_at) < new Date());
        return h("li", { dataset: { number: t.number, state: t.state } },
          h("button", { type: "button", class: "open", onclick: () => openTask(t.number) },
            h("span", { class: "head" },
              h("b", { text: t.number }),
              h("span", { class: "state", text: answered.has(t.number) ? M.answered : taskLabel(t.state) })
            ),
            h("span", { text: `${t.category.minor_name} · ${t.address || ""}` }),
            t.stage_deadline_at
              ? h("span", {
                  class: overdue ? "meta overdue" : "meta",
                  text: `${M.deadline} ${when(t.stage_deadline_at)}${overdue ? " · " + M.overdue : ""}`,
                })
              : null
          )
        );
      })
    );
  }

  // Keep each task's case (and its photos, through the service worker) for use without signal.
  async function prefetch(list) {
    for (const t of list.slice(0, 30)) {
      try {
        const detail = await getJSON(`${API}/cases/${encodeURIComponent(t.number)}`);
        await idb.put("cache", { id: `case:${t.number}`, at: Date.now(), detail });
        for (const id of referenceIds(detail).all.slice(0, 4)) {
          fetch(photoUrl(t.number, id, "thumbnail"), { credentials: "same-origin" }).catch(() => null);
        }
      } catch (e) {
        return;
      }
    }
  }

  function referenceIds(detail) {
    const events = detail.timeline || [];
    const ids = (kinds) => events.filter((e) => kinds.includes(e.kind)).flatMap((e) => (e.attachments || []).map((a) => a.id));
    const disposals = events.filter((e) => e.kind === "dispose");
    const lastDispose = disposals[disposals.length - 1];
    const report = ids(["report", "note"]);
    const unit = lastDispose ? (lastDispose.attachments || []).map((a) => a.id) : [];
    return { report, unit, all: [...unit, ...report] };
  }

  function setReference(number, id) {
    const figure = $("compare-ref");
    figure.querySelectorAll("img").forEach((n) => n.remove());
    document.querySelectorAll("#task-refs button.pick").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.id === String(id))));
    if (id) figure.prepend(h("img", { src: photoUrl(number, id, "public"), alt: M.reference }));
  }

  async function openTask(number) {
    // Clear the previous task at once: nothing may be answered before this one is shown.
    task = null;
    $("task-form").reset();
    $("task-form").hidden = true;
    $("task-answered").hidden = true;
    $("task-title").textContent = number;
    $("task-info").replaceChildren();
    $("task-refs").replaceChildren();
    taskPhotos.clear();
    say("task-msg", "");
    $("task-index").hidden = true;
    $("task-detail").hidden = false;
    let detail = null;
    try {
      detail = await getJSON(`${API}/cases/${encodeURIComponent(number)}`);
      await idb.put("cache", { id: `case:${number}`, at: Date.now(), detail });
    } catch (e) {
      const cached = await idb.get("cache", `case:${number}`);
      detail = cached ? cached.detail : null;
    }
    if (!detail) {
      $("task-info").textContent = M.tasksOffline;
      return;
    }
    task = detail;
    $("task-title").textContent = `${taskLabel(detail.state)} ${detail.number}`;
    $("task-info").replaceChildren(
      h("b", { text: `${detail.category.major_name} › ${detail.category.minor_name}` }), h("br"),
      detail.address || "", h("br"),
      h("span", { class: "muted", text: detail.description || "" })
    );
    const verifying = detail.state === "verifying";
    $("verify-choice").hidden = !verifying;
    $("check-choice").hidden = verifying;
    const answered = (await answeredNumbers()).has(number);
    $("task-form").hidden = answered;
    $("task-answered").hidden = !answered;
    $("task-answered").textContent = M.answered;
    // the map: where the case is
    if (detail.lat != null && detail.lon != null) {
      const at = [detail.lat, detail.lon];
      if (!taskMap) {
        taskMap = makeMap("task-map", at, 17);
        taskMarker = L.marker(at).addTo(taskMap);
      }
      taskMap.invalidateSize();
      taskMap.setView(at, 17);
      taskMarker.setLatLng(at);
    }
    // earlier photos: the report's and, for a check, the unit's disposal photos
    const refs = referenceIds(detail);
    const row = (title, ids) =>
      ids.length
        ? h("div", { class: "refs" }, h("h3", { text: title }),
            h("ul", { class: "thumbs" }, ids.map((id) =>
              h("li", {}, h("button", {
                type: "button", class: "pick", dataset: { id: String(id) }, "aria-pressed": "false",
                onclick: () => setReference(detail.number, id),
              },
                h("img", { src: photoUrl(detail.number, id, "thumbnail"), alt: "", loading: "lazy" })))
            )))
        : null;
    $("task-refs").replaceChildren(...[row(M.unitPhotos, refs.unit), row(M.reportPhotos, refs.report)].filter(Boolean));
    const first = verifying ? refs.report[0] : refs.unit[0] || refs.report[0];
    setReference(detail.number, first || null);
    window.scrollTo(0, 0);
  }

  $("task-back").addEventListener("click", () => {
    $("task-detail").hidden = true;
    $("task-index").hidden = false;
    loadTasks();
  });
  $("tasks-refresh").addEventListener("click", loadTasks);

  let answering = false;
  $("task-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!task || answering) return;
    answering = true;
    try {
      await queueAnswer(task);
    } finally {
      answering = false;
    }
  });

  async function queueAnswer(task) {
    await taskPhotos.busy;
    const verifying = task.state === "verifying";
    const choice = (name) => {
      const checked = document.querySelector(`#task-form input[name=${name}]:checked`);
      return checked ? checked.value === "true" : null;
    };
    const found = verifying ? choice("found") : null;
    const passed = verifying ? null : choice("passed");
    const reason = $("task-reason").value.trim();
    let problem = null;
    if (verifying && found === null) problem = M.needFound;
    else if (!verifying && passed === null) problem = M.needResult;
    else if (!verifying && passed === false && !reason) problem = M.needReason;
    else if (taskPhotos.items.length === 0) problem = M.needPhoto;
    if (problem) { say("task-msg", problem, "error"); return; }
    const action = verifying ? "verify" : passed ? "check_pass" : "check_fail";
    const label = verifying ? (found ? M.found : M.notFound) : passed ? M.pass : M.fail;
    const item = {
      id: uuid(),
      kind: "task",
      user: ME,
      created: Date.now(),
      state: "pending",
      attempts: 0,
      nextAt: 0,
      error: null,
      title: `${taskLabel(task.state)} ${task.number} · ${label}`,
      number: task.number,
      action,
      version: task.version,
      fromState: task.state,
      found,
      reason,
      photos: taskPhotos.items,
      photoCount: taskPhotos.items.length,
      ids: [],
    };
    await idb.put("outbox", item);
    taskPhotos.items = [];
    taskPhotos.render();
    $("task-form").hidden = true;
    $("task-answered").hidden = false;
    $("task-answered").textContent = M.queued;
    await renderOutbox();
    flush(true);
  }

  // ------------------------------------------------------------ tabs, start-up

  function showTab(name) {
    for (const button of document.querySelectorAll(".tabs button")) {
      const on = button.dataset.tab === name;
      button.setAttribute("aria-selected", String(on));
      $(`tab-${button.dataset.tab}`).hidden = !on;
    }
    if (name === "report") map.invalidateSize();
    if (name === "tasks") {
      $("task-detail").hidden = true;
      $("task-index").hidden = false;
      loadTasks();
    }
    if (name === "outbox") renderOutbox();
    if (name === "drafts") renderDrafts();
    window.scrollTo(0, 0);
  }
  for (const button of document.querySelectorAll(".tabs button")) button.addEventListener("click", () => showTab(button.dataset.tab));

  $("logout").addEventListener("submit", (event) => {
    if (unsentCount > 0 && !window.confirm(M.confirmLogout)) {
      event.preventDefault();
      return;
    }
    $("logout").querySelector("[name=csrfmiddlewaretoken]").value = csrfToken();
    if (navigator.serviceWorker && navigator.serviceWorker.controller) {
      navigator.serviceWorker.controller.postMessage({ type: "logout" });
    }
  });

  // The page may come from the service worker's cache, so its token is taken from the cookie.
  $("lang").addEventListener("submit", () => {
    $("lang").querySelector("[name=csrfmiddlewaretoken]").value = csrfToken();
  });

  window.addEventListener("online", () => { showNet(); flush(true); map.reload(); if (form.point) describePoint(); });
  window.addEventListener("offline", showNet);
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") flush(false); });
  setInterval(() => flush(false), TICK_MS);

  async function start() {
    showNet();
    renderPicker();
    chooseCategory(null);
    startGps();
    const now = Date.now();
    for (const item of await idb.all("outbox")) {
      if (!unsent(item) && now - (item.sentAt || item.created) > KEEP_SENT_MS) await idb.del("outbox", item.id);
    }
    renderDrafts();
    await renderOutbox();
    flush(true);
    loadTasks();
    if (navigator.storage && navigator.storage.persist) navigator.storage.persist().catch(() => null);
    if ("serviceWorker" in navigator) navigator.serviceWorker.register("/m/sw.js", { scope: "/m/" }).catch(() => null);
  }
  start();
})();
