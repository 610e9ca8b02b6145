// Environment dashboard: markers placed from their data attributes, the live panel refreshed over SSE,
// and a uPlot chart of one station's hourly PM2.5 and AQI.
(function () {
  "use strict";
  const panel = document.getElementById("env-panel");
  if (!panel) return;
  const liveState = document.getElementById("live-state");
  const select = document.getElementById("env-station");
  const chartEl = document.getElementById("env-chart");
  const REFRESH_MS = 5000;  // readings arrive every few seconds: redraw the panel at most this often
  let devices = new Set();
  let plot = null;
  let timer = null;
  let lastRefresh = 0;

  function place() {
    // CSP allows no inline styles: positions come from data attributes, set here through the CSSOM
    panel.querySelectorAll(".env-marker").forEach(m => {
      m.style.left = m.dataset.x + "%";
      m.style.top = m.dataset.y + "%";
    });
    const live = document.getElementById("env-live");
    devices = new Set((live && live.dataset.devices ? live.dataset.devices.split(" ") : []).filter(Boolean));
  }

  function refresh() {
    timer = null;
    lastRefresh = Date.now();
    // a lapsed session answers with a redirect to the login page: never swap that page into the panel
    fetch("/portal/environment/panel", { credentials: "same-origin", redirect: "manual" })
      .then(r => {
        if (r.ok) return r.text();
        liveState.textContent = "log in again to follow the network";
        liveState.className = "bad";
        return Promise.reject(r.status);
      })
      .then(html => {
        // a permit form being edited stays: the next event after it closes refreshes the panel
        if (panel.querySelector("details[open] form.env-permit")) return;
        const recentOpen = Boolean(panel.querySelector("#env-alarms details[open]"));
        panel.innerHTML = html;
        const recent = panel.querySelector("#env-alarms details");
        if (recent && recentOpen) recent.open = true;
        place();
      })
      .catch(() => {});
  }

  function soon(now) {
    if (now) { if (timer) clearTimeout(timer); refresh(); return; }
    if (timer) return;
    timer = setTimeout(refresh, Math.max(0, REFRESH_MS - (Date.now() - lastRefresh)));
  }

  function drawChart() {
    if (!select || !chartEl) return;
    fetch("/portal/environment/series?device=" + encodeURIComponent(select.value), { credentials: "same-origin" })
      .then(r => r.json())
      .then(body => {
        chartEl.replaceChildren();
        if (typeof uPlot === "undefined") {
          const note = document.createElement("p");
          note.className = "muted";
          note.textContent = "the chart library is missing (make assets); " + body.t.length + " hours of data";
          chartEl.appendChild(note);
          return;
        }
        plot = new uPlot({
          title: body.name,
          width: Math.max(320, chartEl.clientWidth - 8),
          height: 280,
          scales: { x: { time: true }, pm: {}, aqi: {} },
          series: [
            {},
            { label: "PM2.5 (µg/m³)", stroke: "#0b6bcb", width: 2, scale: "pm", spanGaps: false },
            { label: "AQI", stroke: "#c2410c", width: 2, scale: "aqi", spanGaps: false },
          ],
          axes: [{}, { scale: "pm", size: 50 }, { scale: "aqi", side: 1, size: 50, grid: { show: false } }],
        }, [body.t, body.pm2_5, body.aqi], chartEl);
      });
  }

  place();
  if (select) { select.addEventListener("change", drawChart); drawChart(); }
  const source = new EventSource("/portal/stream");
  source.onopen = () => { liveState.textContent = "live"; liveState.className = "ok"; soon(true); };
  source.onerror = () => { liveState.textContent = "reconnecting…"; liveState.className = "bad"; };
  source.addEventListener("alarm", e => {
    const ev = JSON.parse(e.data);
    if (devices.has(ev.subject) || devices.has(ev.device_id)) soon(true);
  });
  source.addEventListener("reading", e => {
    const ev = JSON.parse(e.data);
    if (!devices.has(ev.device_id)) return;
    soon(false);
    // a new hourly AQI of the charted station: redraw its chart
    if (select && ev.device_id === select.value && "aqi" in ev.values) drawChart();
  });
})();
