/* The dispatch screen: filter the unit list as you type, count and select-all the ticked
   cases, and keep a second click from sending the form twice (the server refuses a repeat
   anyway). No framework, no build step. */
(function () {
  "use strict";
  // Approval, denial and reply forms: one click sends once.
  document.querySelectorAll(".dispatch-screen form[method=post]:not(#dispatch-form)").forEach(function (f) {
    f.addEventListener("submit", function (event) {
      if (f.dataset.sent) {
        event.preventDefault();
        return;
      }
      f.dataset.sent = "1";
    });
  });

  var form = document.getElementById("dispatch-form");
  if (!form) return;

  var search = document.getElementById("unit-search");
  var items = Array.prototype.slice.call(document.querySelectorAll("#unit-list li[data-search]"));
  var none = document.getElementById("unit-none");
  if (search) {
    search.addEventListener("input", function () {
      var words = search.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
      var shown = 0;
      items.forEach(function (li) {
        var text = li.getAttribute("data-search").toLowerCase();
        var match = words.every(function (w) { return text.indexOf(w) !== -1; });
        li.hidden = !match;
        if (match) shown += 1;
      });
      if (none) none.hidden = shown > 0;
    });
    search.addEventListener("keydown", function (event) {
      if (event.key !== "Enter") return;
      event.preventDefault(); // Enter picks the only match instead of sending the form
      var visible = items.filter(function (li) { return !li.hidden; });
      if (visible.length === 1) visible[0].querySelector("input[type=radio]").checked = true;
    });
  }

  var picks = Array.prototype.slice.call(form.querySelectorAll("input[name=pick]"));
  var all = document.getElementById("pick-all");
  var counter = document.getElementById("picked-count");
  function recount() {
    var n = picks.filter(function (p) { return p.checked; }).length;
    if (counter) counter.textContent = counter.getAttribute("data-text").replace("%(n)s", n);
    if (all) all.checked = n > 0 && n === picks.length;
  }
  picks.forEach(function (p) { p.addEventListener("change", recount); });
  if (all) {
    all.addEventListener("change", function () {
      picks.forEach(function (p) { p.checked = all.checked; });
      recount();
    });
  }
  recount();

  var sent = false;
  form.addEventListener("submit", function (event) {
    if (sent) {
      event.preventDefault();
      return;
    }
    sent = true;
    // Disable the buttons after the browser has read which one was pressed.
    window.setTimeout(function () {
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
    }, 0);
  });
})();
