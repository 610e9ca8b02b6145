// Health and elderly care pages: the care home grid and the caregiver's alarms follow NEWS2 and alarm
// events over SSE; the resident and CGM pages draw their charts with uPlot.
(function () {
  "use strict";
  const liveState = document.getElementById("live-state");

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "className") node.className = v; else node.setAttribute(k, v);
    });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function live(kinds, refresh) {
    const source = new EventSource("/portal/stream");
    let timer = null;
    const soon = () => { if (!timer) timer = setTimeout(() => { timer = null; refresh(); }, 300); };
    source.onopen = () => {
      if (liveState) { liveState.textContent = "live"; liveState.className = "ok"; }
      refresh();
    };
    source.onerror = () => {
      if (liveState) { liveState.textContent = "reconnecting…"; liveState.className = "bad"; }
    };
    kinds.forEach(kind => source.addEventListener(kind, soon));
  }

  function getJson(url) {
    return fetch(url, { credentials: "same-origin" }).then(r => r.json());
  }

  // the care home: one card per resident ------------------------------------------------
  const VITALS = [["heart_rate", "/min"], ["respiration_rate", "br/min"], ["spo2", "% SpO2"],
    ["systolic_bp", "mmHg"], ["temperature", "°C"]];
  const home = document.querySelector("[data-live=overview]");
  if (home) {
    const grid = document.getElementById("residents");
    const render = rows => {
      if (!rows.length) return;
      grid.replaceChildren();
      rows.forEach(r => {
        const band = r.news2 ? r.news2.band : "unknown";
        const card = el("article", { className: "resident band-" + band, "data-id": r.id });
        const head = el("header");
        head.appendChild(el("a", { href: "/portal/health/residents/" + r.id }, r.label));
        card.appendChild(head);
        const score = el("p", { className: "score" });
        score.appendChild(el("span", { className: "news2" }, r.news2 ? r.news2.aggregate : "–"));
        score.appendChild(el("span", { className: "band" }, " " + band));
        card.appendChild(score);
        const vitals = el("p", { className: "vitals" });
        VITALS.forEach(([k, unit]) => {
          const v = r.vitals[k];
          vitals.appendChild(el("span", { "data-key": k }, (v ? v.value : "–") + " " + unit));
        });
        card.appendChild(vitals);
        const alarm = el("p", { className: "alarm" });
        if (r.alarm) {
          alarm.appendChild(el("span", { className: "sev sev-" + r.alarm.severity }, r.alarm.severity));
          alarm.appendChild(document.createTextNode(" " + r.alarm.status));
        } else {
          alarm.appendChild(el("span", { className: "muted" }, "no alarm"));
        }
        card.appendChild(alarm);
        if (r.cgm_id) {
          const p = el("p");
          p.appendChild(el("a", { href: "/portal/health/residents/" + r.id + "/cgm" }, "CGM trend"));
          card.appendChild(p);
        }
        grid.appendChild(card);
      });
    };
    live(["news2", "alarm"], () => getJson("/portal/health/overview").then(render));
  }

  // the caregiver: alarms of the residents in my care -------------------------------------
  const carer = document.querySelector("[data-live=caregiver]");
  if (carer) {
    const csrf = carer.dataset.csrf;
    const ackForm = id => {
      const form = el("form", { method: "post", action: "/portal/health/alarms/" + encodeURIComponent(id) + "/ack" });
      form.appendChild(el("input", { type: "hidden", name: "csrf_token", value: csrf }));
      form.appendChild(el("button", { type: "submit" }, "Acknowledge"));
      return form;
    };
    const render = body => {
      const tbody = document.querySelector("#news2-alarms tbody");
      const seen = new Set([...tbody.querySelectorAll("tr[data-id]")].map(tr => tr.dataset.id + tr.children[0].textContent));
      tbody.replaceChildren();
      if (!body.alarms.length) {
        const row = el("tr", { className: "none" });
        row.appendChild(el("td", { colspan: "6" }, "No alarm: your residents are settled."));
        tbody.appendChild(row);
      }
      body.alarms.forEach(a => {
        const row = el("tr", { "data-id": a.id, "data-resident": a.resident_id });
        if (!seen.has(a.id + a.severity)) row.className = "fresh";
        row.appendChild(el("td", { className: "sev sev-" + a.severity }, a.severity));
        row.appendChild(el("td", { className: "status" }, a.status));
        row.appendChild(el("td", { className: "num" }, Math.round(a.value)));
        row.appendChild(el("td", {}, a.detail));
        row.appendChild(el("td", {}, (a.raised_at || "").slice(0, 19).replace("T", " ")));
        const verbs = el("td");
        if (a.status === "raised") verbs.appendChild(ackForm(a.id));
        row.appendChild(verbs);
        tbody.appendChild(row);
      });
      document.getElementById("alarm-count").textContent = String(body.alarms.length);
      body.residents.forEach(r => {
        const row = document.querySelector('#my-residents tr[data-id="' + r.id + '"]');
        if (!row || !r.news2) return;
        row.querySelector(".news2").textContent = String(r.news2.aggregate);
        const band = row.querySelector(".band");
        band.textContent = r.news2.band;
        band.className = "band band-" + r.news2.band;
      });
    };
    live(["news2", "alarm"], () => getJson("/portal/health/caregiver/rows").then(render));
  }

  // visits: follow order changes --------------------------------------------------------
  if (document.querySelector("[data-live=visits]")) {
    let first = true;
    live(["order"], () => { if (first) { first = false; return; } window.location.reload(); });
  }

  // charts ------------------------------------------------------------------------------
  function chart(box, title, series, data, opts) {
    const holder = el("div", { className: "chart" });
    box.appendChild(holder);
    return new uPlot(Object.assign({
      title: title,
      width: Math.max(320, box.clientWidth - 24),
      height: 240,
      series: [{}].concat(series),
      axes: [{}, { size: 60 }],
    }, opts || {}), data, holder);
  }

  const resident = document.getElementById("resident");
  if (resident && window.uPlot) {
    const box = document.getElementById("charts");
    getJson("/portal/health/residents/" + encodeURIComponent(resident.dataset.id) + "/series").then(d => {
      if (!d.t.length) { box.appendChild(el("p", { className: "muted" }, "no vital signs in the last 2 hours")); return; }
      chart(box, "vital signs", [
        { label: "heart rate /min", stroke: "#c0392b", width: 1.5 },
        { label: "respiration /min", stroke: "#8e44ad", width: 1.5 },
        { label: "SpO2 %", stroke: "#0b6bcb", width: 1.5 },
        { label: "systolic mmHg", stroke: "#16803c", width: 1.5 },
      ], [d.t, d.series.heart_rate, d.series.respiration_rate, d.series.spo2, d.series.systolic_bp]);
      chart(box, "temperature °C", [{ label: "temperature", stroke: "#d35400", width: 1.5 }],
        [d.t, d.series.temperature], { scales: { y: { range: [34, 41] } } });
      if (d.news2.length) {
        const t = d.news2.map(a => Date.parse(a.observed_at) / 1000).concat([d.t[d.t.length - 1]]);
        const v = d.news2.map(a => a.aggregate);
        v.push(v[v.length - 1]);
        chart(box, "NEWS2", [{ label: "NEWS2", stroke: "#b42318", width: 2, paths: uPlot.paths.stepped({ align: 1 }) }],
          [t, v], { scales: { y: { range: [0, 20] } } });
      }
    });
  }

  const cgmData = document.getElementById("cgm-data");
  if (cgmData && window.uPlot) {
    const d = JSON.parse(cgmData.textContent);
    const box = document.getElementById("cgm-charts");
    if (d.t.length) {
      const t = d.t.map(day => Date.parse(day + "T12:00:00Z") / 1000);
      chart(box, "daily mean glucose mg/dL", [
        { label: "mean", stroke: "#0b6bcb", width: 2 },
        { label: "70", stroke: "#16803c", dash: [6, 4], width: 1 },
        { label: "180", stroke: "#d35400", dash: [6, 4], width: 1 },
      ], [t, d.mean, t.map(() => 70), t.map(() => 180)]);
      chart(box, "time in ranges %", [
        { label: "in range 70-180", stroke: "#16803c", width: 2 },
        { label: "below 70", stroke: "#b42318", width: 1.5 },
        { label: "above 180", stroke: "#d35400", width: 1.5 },
      ], [t, d.tir, d.tbr, d.tar]);
    } else {
      box.appendChild(el("p", { className: "muted" }, "no readings"));
    }
  }
})();
