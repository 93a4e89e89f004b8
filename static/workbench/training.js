// A training run's live charts: loss, learning rate, reward means and steps/s per logged step.
// The history comes from the run's metrics JSON (the database), so a reload draws everything so
// far (in pages, each asking for the steps after the last one it has); while the run is active it
// asks again every 2 seconds.
(function () {
  "use strict";

  var COLOURS = ["#8e2a5c", "#1f6fb2", "#2e7d32", "#c77700", "#6a3fb5", "#00838f", "#ad1457", "#5d4037"];
  var POLL_MS = 2000;

  function seriesFor(spec, values) {
    // A spec's values are exact names ("loss") or prefixes ending in "/" ("reward/").
    return Object.keys(values).filter(function (name) {
      return spec.values.some(function (want) {
        return want.endsWith("/") ? name.indexOf(want) === 0 : name === want;
      });
    });
  }

  function makeChart(canvas) {
    return new window.Chart(canvas, {
      type: "line",
      data: { labels: [], datasets: [] },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        parsing: false,
        scales: { x: { type: "linear", title: { display: true, text: "step" }, ticks: { precision: 0 } } },
        plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
      },
    });
  }

  function start() {
    var root = document.getElementById("training-charts");
    var specSource = document.getElementById("training-chart-specs");
    if (!root || !specSource || !window.Chart) return;
    var specs = JSON.parse(specSource.textContent);
    var charts = {};
    specs.forEach(function (spec) {
      var canvas = root.querySelector('canvas[data-training-chart="' + CSS.escape(spec.key) + '"]');
      if (canvas) charts[spec.key] = makeChart(canvas);
    });
    var lastStep = null;

    function add(points) {
      specs.forEach(function (spec) {
        var chart = charts[spec.key];
        if (!chart) return;
        points.forEach(function (point) {
          seriesFor(spec, point.values).forEach(function (name) {
            var dataset = chart.data.datasets.find(function (d) { return d.label === name; });
            if (!dataset) {
              var colour = COLOURS[chart.data.datasets.length % COLOURS.length];
              dataset = { label: name, data: [], borderColor: colour, backgroundColor: colour, pointRadius: 1, borderWidth: 1.5 };
              chart.data.datasets.push(dataset);
            }
            dataset.data.push({ x: point.step, y: point.values[name] });
          });
        });
        chart.update();
      });
      if (points.length) lastStep = points[points.length - 1].step;
    }

    function fetchMore() {
      var url = root.dataset.metricsUrl + (lastStep === null ? "" : "?after=" + lastStep);
      return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (!data) return;
          add(data.points);
          if (data.active) window.setTimeout(fetchMore, POLL_MS);
          // The JSON holds at most MAX_POINTS steps (training_selectors): read a finished run to its end.
          else if (data.points.length) fetchMore();
        })
        .catch(function () { window.setTimeout(fetchMore, POLL_MS * 2); });
    }

    fetchMore();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
