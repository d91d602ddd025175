// 热线坐席: find the place from the caller's words, show possible duplicates, save the case.
(function () {
  "use strict";
  const form = document.getElementById("desk");
  if (!form) return;
  const $ = (id) => document.getElementById(id);
  const csrf = form.querySelector("[name=csrfmiddlewaretoken]").value;
  let point = null; // {lon, lat, grid}
  const key = () => (self.crypto && crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());
  let idempotency = key();
  let mergeTarget = null; // the open case a "same problem" click merges the new report into

  async function api(url, options) {
    const response = await fetch(url, Object.assign({ credentials: "same-origin", headers: { "X-CSRFToken": csrf, "Content-Type": "application/json" } }, options || {}));
    const body = await response.json().catch(() => ({}));
    return { ok: response.ok, status: response.status, body };
  }

  function choose(candidate) {
    point = candidate;
    $("place").textContent = candidate.text + (candidate.grid ? "（" + candidate.grid + "）" : "");
    checkDuplicates();
  }

  async function lookup() {
    const q = $("address").value.trim();
    if (!q) return;
    const { body } = await api(form.dataset.geocode + "?" + new URLSearchParams({ q, limit: 5 }));
    const box = $("candidates");
    box.querySelectorAll("label").forEach((n) => n.remove());
    point = null;
    $("place").textContent = "";
    if (!Array.isArray(body) || body.length === 0) {
      box.hidden = true;
      $("place").textContent = form.dataset.msgNone;
      return;
    }
    body.forEach((c, i) => {
      const label = document.createElement("label");
      const radio = document.createElement("input");
      radio.type = "radio";
      radio.name = "candidate";
      radio.value = String(i);
      radio.addEventListener("change", () => choose(c));
      label.append(radio, document.createTextNode(c.text + (c.grid ? "  " + c.grid : "")));
      box.append(label);
    });
    box.hidden = false;
    const first = box.querySelector("input");
    first.checked = true;
    choose(body[0]);
    first.focus();
  }

  async function checkDuplicates() {
    const box = $("duplicates");
    box.textContent = "";
    if (!point || !$("category").value) return;
    const params = new URLSearchParams({ category: $("category").value, lon: point.lon, lat: point.lat });
    const { ok, body } = await api(form.dataset.duplicates + "?" + params);
    if (!ok) return;
    if (body.length === 0) { box.textContent = form.dataset.msgNodups; return; }
    const title = document.createElement("p");
    title.textContent = form.dataset.msgDups;
    const list = document.createElement("ul");
    body.forEach((d) => {
      const item = document.createElement("li");
      item.textContent = d.number + " " + d.category + " " + Math.round(d.distance_m) + "m " + d.address + " ";
      // The caller reports the same problem: record the call (the caller keeps their report and
      // follows the case) and merge it into the open case in one step.
      const merge = document.createElement("button");
      merge.type = "button";
      merge.className = "merge";
      merge.dataset.target = d.number;
      merge.textContent = form.dataset.msgMerge;
      merge.addEventListener("click", () => { mergeTarget = d.number; form.requestSubmit(); });
      item.append(merge);
      list.append(item);
    });
    box.append(title, list);
  }

  $("address").addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); lookup(); } });
  $("address").addEventListener("change", lookup);
  $("category").addEventListener("change", checkDuplicates);
  document.addEventListener("keydown", (e) => { if (e.altKey && (e.key === "s" || e.key === "S")) { e.preventDefault(); form.requestSubmit(); } });

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const result = $("result");
    result.className = "";
    if (!point) { result.textContent = form.dataset.msgChoose; $("address").focus(); return; }
    const payload = {
      category: Number($("category").value),
      lon: point.lon, lat: point.lat,
      address: point.text,
      description: $("description").value,
      urgent: $("urgent").checked,
      source: "hotline",
      reporter_name: $("caller").value,
      reporter_phone: $("phone").value,
      idempotency_key: idempotency,
    };
    const target = mergeTarget;
    mergeTarget = null;
    const { ok, body } = await api(form.dataset.cases, { method: "POST", body: JSON.stringify(payload) });
    if (ok) {
      result.className = "ok";
      result.textContent = form.dataset.msgSaved + body.number;
      if (target) {
        const merged = await api(form.dataset.cases + "/" + body.number + "/actions/merge", {
          method: "POST",
          body: JSON.stringify({ version: body.version, target, reason: "" }),
        });
        if (merged.ok) {
          result.textContent = form.dataset.msgSaved + body.number + "；" + form.dataset.msgMerged + target;
        } else {
          result.className = "error";
          result.textContent = form.dataset.msgMergeFailed + (merged.body.detail || merged.status);
        }
      }
      form.reset();
      point = null;
      idempotency = key();
      $("candidates").hidden = true;
      $("place").textContent = "";
      $("duplicates").textContent = "";
      $("caller").focus();
    } else {
      result.className = "error";
      result.textContent = (body.detail || "") + (body.field ? "（" + body.field + "）" : "");
    }
  });

  // 回访: closed cases of callers waiting for a call-back, answered with one click each.
  const callbacks = document.getElementById("callbacks");
  async function loadCallbacks() {
    const rows = $("callback-rows");
    const { ok, body } = await api(callbacks.dataset.due);
    rows.textContent = "";
    if (!ok) return;
    if (body.length === 0) {
      const tr = rows.insertRow();
      const td = tr.insertCell();
      td.colSpan = 6;
      td.textContent = callbacks.dataset.msgNone;
      return;
    }
    body.forEach((c) => {
      const tr = rows.insertRow();
      tr.dataset.number = c.number;
      [c.number, c.category, c.reporter_name, c.reporter_phone, new Date(c.closed_at).toLocaleString()].forEach((text) => {
        tr.insertCell().textContent = text;
      });
      const cell = tr.insertCell();
      const remark = document.createElement("input");
      remark.placeholder = callbacks.dataset.labelRemark;
      remark.maxLength = 500;
      remark.className = "remark";
      cell.append(remark);
      ["satisfied", "unsatisfied", "unreachable"].forEach((outcome) => {
        const button = document.createElement("button");
        button.type = "button";
        button.dataset.outcome = outcome;
        button.textContent = callbacks.dataset["label" + outcome[0].toUpperCase() + outcome.slice(1)];
        button.addEventListener("click", () => record(c, outcome, remark.value));
        cell.append(button);
      });
    });
  }
  async function record(c, outcome, remark) {
    const status = $("callback-status");
    const { ok, body } = await api(form.dataset.cases + "/" + c.number + "/callback", {
      method: "POST",
      body: JSON.stringify({ version: c.version, outcome, remark }),
    });
    status.className = ok ? "ok" : "error";
    status.textContent = ok ? callbacks.dataset.msgDone + c.number : (body.detail || "");
    loadCallbacks();
  }
  if (callbacks) loadCallbacks();
})();
