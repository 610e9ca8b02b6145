// Order page: poll the order's status, progress and grounding devices while it can still change.
(function () {
  "use strict";
  const root = document.getElementById("order-live");
  if (!root) return;
  const url = "/portal/orders/" + encodeURIComponent(root.dataset.order) + "/live";
  const FINAL = ["rejected", "completed", "cancelled", "failed"];

  function cell(text) {
    const td = document.createElement("td");
    td.textContent = text;
    return td;
  }

  function rows(tbody, list) {
    tbody.replaceChildren(...list.map(values => {
      const tr = document.createElement("tr");
      values.forEach(v => tr.appendChild(cell(v)));
      return tr;
    }));
  }

  function show(o) {
    document.getElementById("order-status").textContent = o.status;
    if (o.progress !== null) {
      document.getElementById("order-progress").value = o.progress;
      document.getElementById("order-progress-text").textContent = o.progress + " %";
    }
    document.getElementById("order-twin-state").textContent = o.twin_state || "–";
    const devices = [];
    Object.entries(o.devices).forEach(([d, props]) => {
      const keys = Object.keys(props);
      if (!keys.length) devices.push([d, "no readings yet", "", ""]);
      keys.forEach(k => devices.push([d, k, String(props[k].value), props[k].ts.slice(0, 19)]));
    });
    rows(document.querySelector("#order-devices tbody"), devices);
    rows(document.querySelector("#order-history tbody"),
      o.history.map(h => [h.status, h.at.slice(0, 19), h.by, h.reason || ""]));
  }

  async function poll() {
    try {
      const r = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (r.ok) {
        const o = await r.json();
        show(o);
        if (FINAL.includes(o.status)) return;
      }
    } catch (e) {
      // the platform may be restarting: try again on the next tick
    }
    setTimeout(poll, 1000);
  }
  setTimeout(poll, 1000);
})();
