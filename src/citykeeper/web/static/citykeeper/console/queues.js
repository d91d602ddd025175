/* Live updates of a queue page (htmx polls #queue-rows; see web/console/queues.py).
   - sends the last ETag as If-None-Match; a 304 leaves the page as it is;
   - an urgent row that was not on the page before is highlighted (.fresh) for two minutes
     and announced in the #queue-cue live region, with a short beep once the user has
     touched the page (browsers allow sound only after an interaction). */
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
    if (fresh.length) {
      cue.textContent = cue.dataset.text + " " + fresh.join(" ");
      cue.classList.add("show");
      beep();
    }
  });
})();
