// Rule editor: "Validate" asks the platform for every problem of the document and lists them.
(function () {
  "use strict";
  const form = document.getElementById("rule-form");
  if (!form) return;
  const list = document.getElementById("problems");
  const note = document.getElementById("valid-note");
  document.getElementById("validate").addEventListener("click", () => {
    const body = new URLSearchParams();
    body.set("text", document.getElementById("rule-text").value);
    body.set("csrf_token", form.querySelector("input[name=csrf_token]").value);
    fetch("/portal/rules/validate", { method: "POST", body: body, credentials: "same-origin" })
      .then(r => r.json())
      .then(result => {
        list.replaceChildren();
        (result.problems || []).forEach(p => {
          const item = document.createElement("li");
          const path = document.createElement("code");
          path.textContent = p.path;
          item.append(path, ": " + p.message);
          list.appendChild(item);
        });
        note.hidden = !result.valid;
      });
  });
})();
