/* The report form: a pin on the map (or the phone's position), checked against the city's
   grids at once; a category search; photo previews, with photos over 10 MB scaled down in
   the browser; one submit only. Everything is checked again by the server. */
(function () {
  "use strict";
  const form = document.getElementById("report-form");
  if (!form) return;
  const MAX_BYTES = 10 * 1024 * 1024;

  // ------------------------------------------------------------ the pin
  const mapEl = document.getElementById("pin-map");
  const status = document.getElementById("pin-status");
  const lon = form.elements.lon;
  const lat = form.elements.lat;
  const map = window.CityKeeperPortal.basemap(mapEl);
  let marker = null;
  let checks = 0;

  function say(text, kind) {
    status.textContent = text;
    status.className = kind === "error" ? "p-error" : kind === "ok" ? "p-ok" : "p-hint";
  }

  function check() {
    const n = ++checks;
    say(mapEl.dataset.msgChecking, "");
    const query = "?lon=" + encodeURIComponent(lon.value) + "&lat=" + encodeURIComponent(lat.value);
    fetch(mapEl.dataset.where + query, { headers: { Accept: "application/json" } })
      .then((r) => r.json().then((body) => ({ ok: r.ok, body: body })))
      .then((answer) => {
        if (n !== checks) return;
        if (answer.ok) {
          say(mapEl.dataset.msgPicked + (answer.body.address || lat.value + ", " + lon.value), "ok");
          nearby();
        } else {
          say(answer.body.detail || "", "error");
        }
      })
      .catch(() => {
        if (n === checks) say("", "");
      });
  }

  function place(latlng, pan, quiet) {
    if (marker === null) {
      marker = L.marker(latlng, { draggable: true, autoPan: true }).addTo(map);
      marker.on("dragend", () => place(marker.getLatLng(), false));
    } else {
      marker.setLatLng(latlng);
    }
    lon.value = latlng.lng.toFixed(6);
    lat.value = latlng.lat.toFixed(6);
    if (pan) map.setView(latlng, Math.max(map.getZoom(), 17));
    if (!quiet) check();
  }

  map.on("click", (e) => place(e.latlng, false));
  mapEl.addEventListener("keydown", (e) => {
    // Keyboard users move the map with the arrow keys and drop the pin in its centre.
    if (e.key === "Enter" && e.target === mapEl) {
      e.preventDefault();
      place(map.getCenter(), false);
    }
  });
  if (lon.value && lat.value && Number.isFinite(+lon.value) && Number.isFinite(+lat.value)) {
    const lng = +lon.value;
    const la = +lat.value;
    // The pin sent with a refused form: the server's message already says what is wrong with it.
    const refused = mapEl.closest(".p-field").classList.contains("has-error");
    if (Math.abs(lng) <= 180 && Math.abs(la) <= 90) place(L.latLng(la, lng), true, refused);
  }

  const locate = document.getElementById("locate-me");
  if (!("geolocation" in navigator)) {
    locate.hidden = true;
  }
  locate.addEventListener("click", () => {
    say(locate.dataset.msgLocating, "");
    navigator.geolocation.getCurrentPosition(
      (p) => place(L.latLng(p.coords.latitude, p.coords.longitude), true),
      () => say(locate.dataset.msgDenied, "error"),
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 0 }
    );
  });

  // ------------------------------------------------------------ possible duplicates nearby
  const nearbyBox = document.getElementById("nearby");
  let nearbyAsks = 0;
  function nearby() {
    const category = form.elements.category.value;
    if (!nearbyBox || !category || !lon.value || !lat.value) {
      if (nearbyBox) nearbyBox.hidden = true;
      return;
    }
    const n = ++nearbyAsks;
    const query = new URLSearchParams({ category: category, lon: lon.value, lat: lat.value });
    fetch(nearbyBox.dataset.url + "?" + query, { headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : { results: [] }))
      .then((body) => {
        if (n !== nearbyAsks) return;
        const list = document.getElementById("nearby-list");
        list.replaceChildren(
          ...body.results.map((c) => {
            const item = document.createElement("li");
            item.textContent = c.category + " · " + c.state + " · " + c.distance_m + nearbyBox.dataset.msgMetres +
              " · " + nearbyBox.dataset.msgDays + " " + c.reported_on + " · " + c.number;
            return item;
          })
        );
        nearbyBox.hidden = body.results.length === 0;
      })
      .catch(() => {});
  }
  form.elements.category.addEventListener("change", nearby);

  // ------------------------------------------------------------ the category search
  const select = form.elements.category;
  const filter = document.getElementById("category-filter");
  const master = Array.from(select.children).map((node) => node.cloneNode(true));
  filter.addEventListener("input", () => {
    const q = filter.value.trim().toLowerCase();
    const current = select.value;
    const matches = [];
    select.replaceChildren();
    master.forEach((node) => {
      if (node.tagName === "OPTION") {
        select.appendChild(node.cloneNode(true)); // "请选择"
        return;
      }
      const whole = node.label.toLowerCase().includes(q);
      const group = node.cloneNode(false);
      Array.from(node.children).forEach((option) => {
        if (!q || whole || option.textContent.toLowerCase().includes(q)) {
          const copy = option.cloneNode(true);
          copy.selected = false;
          group.appendChild(copy);
          matches.push(copy);
        }
      });
      if (group.children.length) select.appendChild(group);
    });
    if (matches.some((o) => o.value === current)) {
      select.value = current;
    } else if (matches.length === 1) {
      select.value = matches[0].value;
    } else {
      select.value = "";
    }
  });

  // ------------------------------------------------------------ photos
  const input = form.elements.photos;
  const previews = document.getElementById("photo-previews");
  const photoStatus = document.getElementById("photo-status");
  const maxPhotos = parseInt(input.dataset.max, 10) || 3;
  let busy = false;

  function showPreviews() {
    previews.replaceChildren();
    Array.from(input.files).forEach((file) => {
      const img = document.createElement("img");
      img.alt = file.name;
      img.src = URL.createObjectURL(file);
      img.onload = () => URL.revokeObjectURL(img.src);
      previews.appendChild(img);
    });
  }

  function shrink(file) {
    // A photo over 10 MB would be refused: scale it down to 2560 px as a JPEG.
    if (!window.createImageBitmap || !window.DataTransfer) return Promise.resolve(file);
    return createImageBitmap(file, { imageOrientation: "from-image" }).then((bitmap) => {
      const scale = Math.min(1, 2560 / Math.max(bitmap.width, bitmap.height));
      const canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      return new Promise((resolve) => {
        canvas.toBlob(
          (blob) => resolve(blob ? new File([blob], file.name.replace(/\.\w+$/, "") + ".jpg", { type: "image/jpeg" }) : file),
          "image/jpeg",
          0.85
        );
      });
    });
  }

  input.addEventListener("change", () => {
    photoStatus.textContent = "";
    const files = Array.from(input.files);
    if (files.length > maxPhotos) {
      photoStatus.textContent = form.dataset.msgTooMany;
      input.value = "";
      previews.replaceChildren();
      return;
    }
    if (files.some((f) => f.type && !/^image\/(jpeg|png|webp)$/.test(f.type))) {
      photoStatus.textContent = form.dataset.msgNotImage;
    }
    if (!files.some((f) => f.size > MAX_BYTES)) {
      showPreviews();
      return;
    }
    busy = true;
    Promise.all(files.map((f) => (f.size > MAX_BYTES ? shrink(f).catch(() => f) : Promise.resolve(f))))
      .then((shrunk) => {
        const transfer = new DataTransfer();
        shrunk.forEach((f) => transfer.items.add(f));
        input.files = transfer.files;
        photoStatus.textContent = form.dataset.msgTooBig;
      })
      .finally(() => {
        busy = false;
        showPreviews();
      });
  });

  // ------------------------------------------------------------ one submit
  const button = document.getElementById("submit-report");
  const label = button.textContent;
  form.addEventListener("submit", (e) => {
    if (busy || form.dataset.sending) {
      e.preventDefault();
      return;
    }
    form.dataset.sending = "1";
    button.disabled = true;
    button.textContent = form.dataset.msgSending;
  });
  window.addEventListener("pageshow", () => {
    delete form.dataset.sending;
    button.disabled = false;
    button.textContent = label;
  });

  const errors = document.getElementById("form-errors");
  if (errors) errors.focus();
})();
