// Order page: draw each series of the order's deliverable with uPlot; reload once the order completes.
(function () {
  "use strict";
  const COLOURS = ["#0b6bcb", "#c2410c", "#15803d", "#7e22ce", "#b91c1c"];

  document.querySelectorAll(".deliverable-chart").forEach(box => {
    let c;
    try { c = JSON.parse(box.dataset.series); } catch (e) { return; }
    if (!c || !Array.isArray(c.x) || !Array.isArray(c.lines)) return;
    const series = [{ label: c.x_label || "x" }].concat(c.lines.map((l, i) => ({
      label: l.unit ? l.label + " (" + l.unit + ")" : l.label,
      stroke: COLOURS[i % COLOURS.length],
      width: 2,
      points: { show: true, size: 5 },
    })));
    const data = [c.x].concat(c.lines.map(l => l.values));
    new uPlot({
      width: Math.max(320, Math.min(760, box.parentNode.clientWidth - 32)),
      height: 240,
      scales: { x: { time: !!c.time } },
      series: series,
      axes: [{ label: c.x_label || "" }, { size: 60 }],
    }, data, box);
  });

  // the deliverable is rendered by the server: once the live status says completed, show it
  const status = document.getElementById("order-status");
  const pending = document.getElementById("deliverable-pending");
  if (!status || !pending) return;
  new MutationObserver(() => {
    if (status.textContent.trim() === "completed") window.location.reload();
  }).observe(status, { childList: true, characterData: true, subtree: true });
})();
