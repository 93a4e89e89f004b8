// Reward distributions: one small histogram per reward function (and per active profile's
// composite), one dataset per model version. The data comes from a json_script element inside the
// results, so an htmx swap of the results (the version filter) brings its own data and redraws.
(function () {
  "use strict";

  var COLOURS = ["#8e2a5c", "#1f6fb2", "#2e7d32", "#c77700", "#6a3fb5", "#00838f", "#ad1457", "#5d4037"];

  function destroyDetached() {
    Object.values(window.Chart.instances).forEach(function (chart) {
      if (!chart.canvas || !chart.canvas.isConnected) chart.destroy();
    });
  }

  function draw(root) {
    if (!window.Chart) return;
    var source = root.querySelector("#reward-chart-data");
    if (!source) return;
    destroyDetached();
    var charts = JSON.parse(source.textContent);
    charts.forEach(function (spec) {
      var canvas = root.querySelector('canvas[data-reward-chart="' + CSS.escape(spec.id) + '"]');
      if (!canvas) return;
      var existing = window.Chart.getChart(canvas);
      if (existing) existing.destroy();
      new window.Chart(canvas, {
        type: "bar",
        data: {
          labels: spec.labels,
          datasets: spec.datasets.map(function (dataset, i) {
            var colour = COLOURS[i % COLOURS.length];
            return { label: dataset.label, data: dataset.data, backgroundColor: colour + "b3", borderColor: colour, borderWidth: 1 };
          }),
        },
        options: {
          responsive: true,
          maintainAspectRatio: false,
          animation: false,
          scales: {
            x: { ticks: { autoSkip: true, maxTicksLimit: 6, maxRotation: 0 }, grid: { display: false } },
            y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: "generations" } },
          },
          plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
        },
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  // The filter swaps the whole results block (outerHTML): redraw from the data it brought.
  document.addEventListener("htmx:afterSettle", function () { draw(document); });
})();
