// Analytics page: run the editor's SQL, show the rows as a table and a uPlot chart of chosen columns.
(function () {
  "use strict";
  const form = document.getElementById("query-form");
  if (!form) return;
  const statusEl = document.getElementById("query-status");
  const table = document.getElementById("result");
  const chartEl = document.getElementById("chart");
  const controls = document.getElementById("chart-controls");
  const xSel = document.getElementById("x-col");
  const ySel = document.getElementById("y-col");
  const saveForm = document.getElementById("save-form");
  let result = null;
  let plot = null;

  function isTime(v) {
    return typeof v === "string" && /^\d{4}-\d{2}-\d{2}T/.test(v) && !isNaN(Date.parse(v));
  }

  function renderTable(res) {
    const head = table.querySelector("thead");
    const body = table.querySelector("tbody");
    head.replaceChildren();
    body.replaceChildren();
    const hr = document.createElement("tr");
    res.columns.forEach(c => { const th = document.createElement("th"); th.textContent = c; hr.appendChild(th); });
    head.appendChild(hr);
    res.rows.slice(0, 1000).forEach(r => {
      const tr = document.createElement("tr");
      r.forEach(v => { const td = document.createElement("td"); td.textContent = v === null ? "" : String(v); tr.appendChild(td); });
      body.appendChild(tr);
    });
  }

  function fillSelect(sel, indexes, chosen) {
    sel.replaceChildren();
    indexes.forEach(i => {
      const o = document.createElement("option");
      o.value = String(i);
      o.textContent = result.columns[i];
      if (i === chosen) o.selected = true;
      sel.appendChild(o);
    });
  }

  function drawChart() {
    chartEl.replaceChildren();
    plot = null;
    const xi = Number(xSel.value), yi = Number(ySel.value);
    if (!result || isNaN(xi) || isNaN(yi)) return;
    const pts = result.rows
      .filter(r => isTime(r[xi]) && typeof r[yi] === "number")
      .map(r => [Date.parse(r[xi]) / 1000, r[yi]])
      .sort((a, b) => a[0] - b[0]);
    const box = document.createElement("div");
    box.className = "chart";
    chartEl.appendChild(box);
    plot = new uPlot({
      title: result.columns[yi] + " over " + result.columns[xi],
      width: Math.max(320, Math.min(900, chartEl.clientWidth - 24)),
      height: 260,
      series: [{}, { label: result.columns[yi], stroke: "#0b6bcb", width: 2 }],
      axes: [{}, { size: 60 }],
    }, [pts.map(p => p[0]), pts.map(p => p[1])], box);
    box.dataset.points = String(pts.length);
  }

  function setupChart() {
    const first = result.rows[0] || [];
    const times = result.columns.map((_, i) => i).filter(i => isTime(first[i]));
    const numbers = result.columns.map((_, i) => i).filter(i => typeof first[i] === "number");
    if (!times.length || !numbers.length) { controls.hidden = true; chartEl.replaceChildren(); return; }
    fillSelect(xSel, times, times[0]);
    fillSelect(ySel, numbers, numbers[0]);
    controls.hidden = false;
    drawChart();
  }

  xSel.addEventListener("change", drawChart);
  ySel.addEventListener("change", drawChart);

  form.addEventListener("submit", ev => {
    ev.preventDefault();
    statusEl.textContent = "running…";
    statusEl.classList.remove("error");
    const started = performance.now();
    fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin" })
      .then(r => r.json().then(body => ({ ok: r.ok, body: body })))
      .then(({ ok, body }) => {
        if (!ok) {
          statusEl.textContent = body.error || body.detail || "query failed";
          statusEl.classList.add("error");
          return;
        }
        result = body;
        const ms = Math.round(performance.now() - started);
        statusEl.textContent = body.rows.length + " rows" + (body.truncated ? " (stopped at the limit)" : "") + " in " + ms + " ms";
        renderTable(body);
        setupChart();
      })
      .catch(err => { statusEl.textContent = "query failed: " + err; statusEl.classList.add("error"); });
  });

  saveForm.addEventListener("submit", () => {
    document.getElementById("save-sql").value = document.getElementById("sql").value;
  });
})();
