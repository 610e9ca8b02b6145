// Simulation pages: scenario picker, live progress of runs, uPlot charts of results, comparisons.
(function () {
  "use strict";
  const FINAL = ["succeeded", "failed"];
  const COLOURS = ["#0b6bcb", "#c0392b", "#16803c", "#8e44ad", "#d35400", "#333333"];

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", cache: "no-store" }).then(r => {
      if (!r.ok) throw new Error(url + ": " + r.status);
      return r.json();
    });
  }

  // one chart per series column: queue lengths, WIP or power have scales of their own
  function drawSeries(box, series) {
    const keys = Object.keys(series).filter(k => k !== "t");
    if (!series.t || !series.t.length || !keys.length) {
      box.textContent = "no time series";
      return;
    }
    keys.forEach((key, i) => {
      const el = document.createElement("div");
      el.className = "chart";
      el.dataset.series = key;
      box.appendChild(el);
      new uPlot({
        title: key,
        width: Math.max(280, Math.min(520, box.clientWidth - 24)),
        height: 180,
        scales: { x: { time: false } },
        series: [{ label: "t" }, { label: key, stroke: COLOURS[i % COLOURS.length], width: 1.5 }],
        axes: [{}, { size: 50 }],
      }, [series.t, series[key]], el);
    });
  }

  // new-run page: show the picked scenario's parameters only, keep the runs' progress bars live
  const picker = document.getElementById("kind");
  if (picker) {
    const sets = document.querySelectorAll("fieldset.scenario");
    const show = () => sets.forEach(fs => {
      const on = fs.dataset.kind === picker.value;
      fs.hidden = !on;
      fs.disabled = !on; // only the picked kind's fields are sent
    });
    picker.addEventListener("change", show);
    show();
    const rows = () => Array.from(document.querySelectorAll("#runs tr[data-run]"));
    const busy = () => rows().some(tr => !FINAL.includes(tr.querySelector(".status").textContent.trim().split(" ")[0]));
    const poll = () => {
      if (!busy()) return;
      getJSON("/portal/simulation/runs.json").then(runs => {
        const byId = new Map(runs.map(r => [r.id, r]));
        rows().forEach(tr => {
          const r = byId.get(tr.dataset.run);
          if (!r) return;
          tr.querySelector(".status").textContent = r.status + (r.error ? " " + r.error : "");
          const bar = tr.querySelector("progress");
          bar.max = r.total;
          bar.value = r.done;
          tr.querySelector(".count").textContent = r.done + "/" + r.total;
        });
        setTimeout(poll, 1000);
      }).catch(() => setTimeout(poll, 3000));
    };
    setTimeout(poll, 500);
  }

  // run page: progress until finished, then the page with its KPI tables and plots
  const runEl = document.getElementById("sim-run");
  if (runEl) {
    const url = "/portal/simulation/runs/" + encodeURIComponent(runEl.dataset.run) + "/data";
    const update = () => getJSON(url).then(data => {
      document.getElementById("run-status").textContent = data.status;
      const bar = document.getElementById("run-progress");
      bar.max = data.total;
      bar.value = data.done;
      document.getElementById("run-count").textContent = data.done + "/" + data.total;
      if (!FINAL.includes(runEl.dataset.status)) {
        if (FINAL.includes(data.status)) {
          window.location.reload();
        } else {
          setTimeout(update, 500);
        }
        return;
      }
      data.results.forEach((r, i) => {
        const box = document.getElementById("charts-" + i);
        if (box) drawSeries(box, r.series);
      });
    }).catch(() => setTimeout(update, 2000));
    update();
  }

  // comparison page: each run's first parameter set, side by side
  document.querySelectorAll(".sim-compare").forEach(box => {
    getJSON("/portal/simulation/runs/" + encodeURIComponent(box.dataset.run) + "/data")
      .then(data => { if (data.results.length) drawSeries(box, data.results[0].series); });
  });
})();
