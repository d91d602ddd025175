/* The private link on the thank-you page: select it on tap, copy it with one button. */
(function () {
  "use strict";
  document.querySelectorAll("[data-copy]").forEach((button) => {
    const input = document.querySelector(button.dataset.copy);
    if (!input) return;
    const label = button.textContent;
    input.addEventListener("focus", () => input.select());
    function done(ok) {
      button.textContent = ok ? button.dataset.msgCopied : button.dataset.msgFailed;
      setTimeout(() => {
        button.textContent = label;
      }, 3000);
    }
    function fallback() {
      input.focus();
      input.setSelectionRange(0, input.value.length);
      let ok = false;
      try {
        ok = document.execCommand("copy");
      } catch (err) {
        ok = false;
      }
      done(ok);
    }
    button.addEventListener("click", () => {
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(() => done(true), fallback);
      } else {
        fallback();
      }
    });
  });
})();
