// "Send the original draft" after the owner edited the reply would throw the edits away: ask first.
"use strict";
document.addEventListener("submit", (event) => {
  const button = event.submitter;
  if (!button || button.name !== "action" || button.value !== "approve") return;
  const text = button.form && button.form.querySelector("textarea[name=text]");
  if (!text || text.value === text.defaultValue) return;
  const question = "You edited the reply. Send the original draft instead? Your edits will be lost.";
  if (!window.confirm(question)) event.preventDefault();
});
