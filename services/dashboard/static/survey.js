// The survey editor's live preview: as the owner types, both iframes load the preview of the form's
// values (a GET of /dashboard/settings/surveys/preview, which answers with the e-mail under its own
// sandboxing CSP). Without script the "Preview" button does the same by reloading the page.
"use strict";
(() => {
  const form = document.getElementById("survey-form");
  if (!form) return;
  const frames = [...form.querySelectorAll(".frames iframe")];
  const skipped = new Set(["csrf", "action"]);
  let timer = 0;
  let last = frames.length ? frames[0].getAttribute("src") : "";
  const refresh = () => {
    const params = new URLSearchParams();
    for (const [name, value] of new FormData(form)) {
      if (!skipped.has(name) && typeof value === "string" && value !== "") params.append(name, value);
    }
    const url = "/dashboard/settings/surveys/preview?" + params.toString();
    if (url === last) return;
    last = url;
    for (const frame of frames) frame.setAttribute("src", url);
    form.dataset.previewed = String(Number(form.dataset.previewed || "0") + 1);
  };
  const soon = () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 400);
  };
  form.addEventListener("input", soon);
  form.addEventListener("change", soon);
})();
