// Alarm console: the table follows alarm events over SSE (re-read with the page's filters).
(function () {
  "use strict";
  const root = document.getElementById("alarm-console");
  if (!root) return;
  const csrf = root.dataset.csrf;
  const liveState = document.getElementById("live-state");
  const query = new URLSearchParams();
  if (root.dataset.status) query.set("status", root.dataset.status);
  if (root.dataset.severity) query.set("severity", root.dataset.severity);
  const back = "?" + query.toString();

  function verb(id, name, label) {
    const form = document.createElement("form");
    form.method = "post";
    form.action = "/portal/alarms/" + encodeURIComponent(id) + "/" + name;
    [["csrf_token", csrf], ["back", back]].forEach(([k, v]) => {
      const input = document.createElement("input");
      input.type = "hidden"; input.name = k; input.value = v;
      form.appendChild(input);
    });
    const button = document.createElement("button");
    button.type = "submit"; button.textContent = label;
    form.appendChild(button);
    return form;
  }

  function render(body) {
    const tbody = document.querySelector("#alarm-table tbody");
    tbody.replaceChildren();
    body.items.forEach(a => {
      const row = document.createElement("tr");
      row.dataset.id = a.id;
      const cells = [a.severity, a.status, a.rule, a.subject, String(a.count),
        (a.raised_at || "").slice(0, 19).replace("T", " "), a.detail];
      cells.forEach((text, i) => {
        const td = document.createElement("td");
        td.textContent = text;
        if (i === 0) td.className = "sev sev-" + a.severity;
        if (i === 1) td.className = "status";
        if (i === 4) td.className = "num";
        row.appendChild(td);
      });
      const verbs = document.createElement("td");
      verbs.className = "verbs";
      if (a.status === "raised") verbs.appendChild(verb(a.id, "ack", "Acknowledge"));
      if (a.status !== "cleared") verbs.appendChild(verb(a.id, "clear", "Clear"));
      row.appendChild(verbs);
      tbody.appendChild(row);
    });
    document.getElementById("alarm-total").textContent = String(body.total);
  }

  function refresh() {
    fetch("/portal/alarms/rows" + back, { credentials: "same-origin" }).then(r => r.json()).then(render);
  }

  // the forms rendered by the server get the filters too, so acting keeps the view
  document.querySelectorAll("#alarm-table form").forEach(form => {
    const input = document.createElement("input");
    input.type = "hidden"; input.name = "back"; input.value = back;
    form.appendChild(input);
  });
  const source = new EventSource("/portal/stream");
  source.onopen = () => { liveState.textContent = "live"; liveState.className = "ok"; refresh(); };
  source.onerror = () => { liveState.textContent = "reconnecting…"; liveState.className = "bad"; };
  source.addEventListener("alarm", refresh);
})();
