// Device page: one uPlot chart per numeric property, fed first from /series, then live over SSE.
(function () {
  "use strict";
  const root = document.getElementById("device");
  if (!root) return;
  const id = root.dataset.device;
  const chartsEl = document.getElementById("charts");
  const liveState = document.getElementById("live-state");
  const charts = {};
  const MAX_POINTS = 2000;

  function makeChart(key, unit, points) {
    const box = document.createElement("div");
    box.className = "chart";
    box.dataset.key = key;
    chartsEl.appendChild(box);
    if (!points.length) {
      const note = document.createElement("p");
      note.className = "muted empty";
      note.textContent = "no readings yet";
      box.appendChild(note);
    }
    const data = [points.map(p => p[0]), points.map(p => p[1])];
    const plot = new uPlot({
      title: unit ? key + " (" + unit + ")" : key,
      width: Math.max(320, Math.min(520, chartsEl.clientWidth / 2 - 24)),
      height: 220,
      series: [{}, { label: key, stroke: "#0b6bcb", width: 2 }],
      axes: [{}, { size: 60 }],
    }, data, box);
    charts[key] = { plot: plot, data: data };
  }

  function addPoint(key, ts, value) {
    const c = charts[key];
    if (!c || typeof value !== "number") return;
    const empty = c.plot.root.parentNode.querySelector(".empty");
    if (empty) empty.remove();
    c.data[0].push(ts);
    c.data[1].push(value);
    if (c.data[0].length > MAX_POINTS) { c.data[0].shift(); c.data[1].shift(); }
    c.plot.setData(c.data);
  }

  const shownAt = {};  // newest time shown per property and command: older news never overwrites
  function newer(slot, iso) {
    const t = Date.parse(iso);
    if (shownAt[slot] !== undefined && shownAt[slot] > t) return false;
    shownAt[slot] = t;
    return true;
  }

  function setTwin(key, value, iso) {
    const row = document.querySelector('#twin tr[data-key="' + key + '"]');
    if (!row || !newer("p:" + key, iso)) return;
    row.querySelector(".reported").textContent = String(value);
    row.querySelector(".at").textContent = iso.slice(0, 19).replace("T", " ");
  }

  function setCommand(ev) {
    if (!newer("c:" + ev.id, ev.updated_at)) return;
    const table = document.querySelector("#command-table tbody");
    let row = table.querySelector('tr[data-id="' + ev.id + '"]');
    if (!row) {
      row = document.createElement("tr");
      row.dataset.id = ev.id;
      row.innerHTML = "<td></td><td class='status'></td><td></td><td></td>";
      table.prepend(row);
    }
    row.children[0].textContent = ev.action;
    row.children[1].textContent = ev.status;
    row.children[1].className = "status s-" + ev.status;
    row.children[2].textContent = ev.detail || "";
    row.children[3].textContent = ev.updated_at.slice(11, 19);
  }

  fetch("/portal/devices/" + encodeURIComponent(id) + "/series", { credentials: "same-origin" })
    .then(r => r.json())
    .then(body => {
      Object.keys(body.series).forEach(k => makeChart(k, body.units[k], body.series[k]));
      const source = new EventSource("/portal/stream?device_id=" + encodeURIComponent(id));
      source.onopen = () => {
        liveState.textContent = "live";
        liveState.className = "ok";
        // catch up on whatever changed while the page loaded or the stream was down
        fetch("/portal/devices/" + encodeURIComponent(id) + "/snapshot", { credentials: "same-origin" })
          .then(r => r.json())
          .then(snap => {
            Object.entries(snap.reported).forEach(([k, r]) => setTwin(k, r.value, r.ts));
            snap.commands.slice().reverse().forEach(setCommand);
          });
      };
      source.onerror = () => { liveState.textContent = "reconnecting…"; liveState.className = "bad"; };
      source.addEventListener("reading", e => {
        const ev = JSON.parse(e.data);
        const ts = Date.parse(ev.ts) / 1000;
        Object.entries(ev.values).forEach(([k, v]) => { addPoint(k, ts, v); setTwin(k, v, ev.ts); });
      });
      source.addEventListener("command", e => setCommand(JSON.parse(e.data)));
    });
})();
