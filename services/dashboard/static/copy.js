/*
 * "Copy the reply": a button with data-copy="<textarea id>" copies that text to the clipboard, for a
 * review site cxloop cannot post to. Plain ES2017, CSP-safe (no inline handlers); without it the text
 * is still there to select.
 */
(function () {
  "use strict";
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var source = document.getElementById(button.getAttribute("data-copy"));
      var said = document.getElementById("copied");
      if (!source) { return; }
      var done = function () { if (said) { said.textContent = "Copied: paste it on the review's page."; } };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(source.value).then(done, function () { source.select(); });
      } else {
        source.select();
        if (document.execCommand("copy")) { done(); }
      }
    });
  });
})();
