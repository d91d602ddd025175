/* Live updates of a queue page (htmx polls #queue-rows; see web/console/queues.py).
   - sends the last ETag as If-None-Match; a 304 leaves the page as it is;
   - an urgent row that was not on the page before is highlighted (.fresh) for two minutes
     and announced in the #queue-cue live region, with a short beep once the user has
     touched the page (browsers allow sound only after an interaction);
   - the SLA badges count down (and, once overdue, up) every 20 s in the browser, from their
     deadline and the server's clock at page load: the ETag does not hash their text, so a
     poll stays a 304 while only the minutes move. */
(function () {
  "use strict";
  var region = document.getElementById("queue-rows");
  var cue = document.getElementById("queue-cue");
  if (!region || !cue) return;
  var HIGHLIGHT_MS = 120000;
  var etag = region.dataset.etag || "";
  var flagged = {}; // case number -> when it was first seen
  var known = numbers();
  var interacted = false;
  var audio = null;

  function numbers() {
    var seen = {};
    region.querySelectorAll("tr[data-number]").forEach(function (tr) { seen[tr.dataset.number] = true; });
    return seen;
  }

  ["pointerdown", "keydown"].forEach(function (type) {
    document.addEventListener(type, function () { interacted = true; }, { capture: true, once: true });
  });

  function beep() {
    if (!interacted) return;
    try {
      var Context = window.AudioContext || window.webkitAudioContext;
      if (!Context) return;
      audio = audio || new Context();
      var osc = audio.createOscillator();
      var gain = audio.createGain();
      osc.frequency.value = 880;
      gain.gain.value = 0.08;
      osc.connect(gain).connect(audio.destination);
      osc.start();
      osc.stop(audio.currentTime + 0.18);
    } catch (e) { /* no sound card: the visual cue is enough */ }
  }

  // The countdown: the same words as the server's badge() (countdown_formats()).
  var formatsNode = document.getElementById("countdown-formats");
  var formats = formatsNode ? JSON.parse(formatsNode.textContent) : null;
  var skew = Number(region.dataset.now || Date.now()) - Date.now();

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (all, key) { return values[key]; });
  }

  function duration(ms) {
    var minutes = Math.max(Math.floor(ms / 60000), 0);
    var days = Math.floor(minutes / 1440);
    var hours = Math.floor((minutes % 1440) / 60);
    var rest = minutes % 60;
    if (days) return fill(formats.days, { d: days, h: hours });
    if (hours) return fill(formats.hours, { h: hours, m: rest });
    return fill(formats.minutes, { m: Math.max(rest, 1) });
  }

  function tick() {
    if (!formats) return;
    var now = Date.now() + skew;
    region.querySelectorAll(".sla[data-ticks]").forEach(function (badge) {
      var deadline = Number(badge.dataset.deadline);
      var over = badge.dataset.ticks === "over" || deadline <= now;
      var text = over ? fill(formats.over, { time: duration(now - deadline) })
                      : fill(formats.left, { time: duration(deadline - now) });
      if (over && !badge.classList.contains("overdue")) {
        badge.classList.remove("ok", "warn");
        badge.classList.add("overdue");
      }
      if (badge.textContent !== text) badge.textContent = text;
    });
  }
  window.setInterval(tick, 20000);

  region.addEventListener("htmx:configRequest", function (evt) {
    if (evt.target !== region) return;
    if (etag) evt.detail.headers["If-None-Match"] = etag;
  });

  region.addEventListener("htmx:beforeSwap", function (evt) {
    if (evt.target !== region) return;
    var xhr = evt.detail.xhr;
    if (xhr.status === 304) {
      evt.detail.shouldSwap = false;
      return;
    }
    if (xhr.status === 200) {
      etag = xhr.getResponseHeader("ETag") || "";
      region.dataset.etag = etag;
    }
  });

  region.addEventListener("htmx:afterSwap", function (evt) {
    if (evt.target !== region) return;
    var now = Date.now();
    var fresh = [];
    region.querySelectorAll("tr[data-number]").forEach(function (tr) {
      var number = tr.dataset.number;
      if (tr.hasAttribute("data-urgent") && !known[number] && !flagged[number]) {
        flagged[number] = now;
        fresh.push(number);
      }
      if (flagged[number] && now - flagged[number] < HIGHLIGHT_MS) tr.classList.add("fresh");
    });
    known = numbers();
    tick();
    if (fresh.length) {
      cue.textContent = cue.dataset.text + " " + fresh.join(" ");
      cue.classList.add("show");
      beep();
    }
  });
})();
