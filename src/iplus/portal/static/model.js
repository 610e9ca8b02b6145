// Model version page: forecast vs actual on the test split, or values with anomaly scores.
(function () {
  "use strict";
  const root = document.getElementById("model-version");
  if (!root) return;
  const chartsEl = document.getElementById("charts");
  const url = "/portal/models/" + encodeURIComponent(root.dataset.name) + "/versions/" +
    encodeURIComponent(root.dataset.version) + "/evaluation";

  function chart(title, series, data) {
    const box = document.createElement("div");
    box.className = "chart";
    chartsEl.appendChild(box);
    return new uPlot({
      title: title,
      width: Math.max(320, chartsEl.clientWidth - 24),
      height: 240,
      series: [{}].concat(series),
      axes: [{}, { size: 60 }],
    }, data, box);
  }

  fetch(url, { credentials: "same-origin" })
    .then(r => r.json())
    .then(ev => {
      if (!ev.t || !ev.t.length) {
        document.getElementById("chart-note").textContent = "no evaluation series stored";
        return;
      }
      if (ev.kind === "forecast") {
        chart("forecast vs actual", [
          { label: "actual", stroke: "#333", width: 1.5 },
          { label: "forecast", stroke: "#0b6bcb", width: 2 },
        ], [ev.t, ev.actual, ev.predicted]);
        return;
      }
      chart("value", [{ label: "value", stroke: "#333", width: 1.5 }], [ev.t, ev.value]);
      chart("anomaly score", [
        { label: "score", stroke: "#c0392b", width: 1.5 },
        { label: "threshold", stroke: "#888", dash: [6, 4], width: 1 },
      ], [ev.t, ev.score, ev.t.map(() => ev.threshold)]);
    });
})();
