// Audit pages: bar charts whose whiskers are the 95 % intervals (Wilson for shares, bootstrap for
// flags per 100 words), drawn from a json_script inside the results, so an htmx swap of the results
// (a filter change) brings its own data and redraws. Filters the server refuses (400) still swap
// in, so the message saying what to fix is shown where the results were.
(function () {
  "use strict";

  var COLOUR = "#8e2a5c";

  // Draws each bar's interval as a vertical line with caps, from dataset.intervals[i] = [low, high].
  var whiskers = {
    id: "auditWhiskers",
    afterDatasetsDraw: function (chart) {
      var ctx = chart.ctx;
      var y = chart.scales.y;
      chart.data.datasets.forEach(function (dataset, d) {
        if (!dataset.intervals) return;
        chart.getDatasetMeta(d).data.forEach(function (bar, i) {
          var interval = dataset.intervals[i];
          if (!interval || interval[0] == null || interval[1] == null) return;
          var top = y.getPixelForValue(interval[1]);
          var bottom = y.getPixelForValue(interval[0]);
          var cap = Math.max(3, Math.min(10, (bar.width || 12) / 4));
          ctx.save();
          ctx.strokeStyle = "#222";
          ctx.lineWidth = 1.5;
          ctx.beginPath();
          ctx.moveTo(bar.x, top); ctx.lineTo(bar.x, bottom);
          ctx.moveTo(bar.x - cap, top); ctx.lineTo(bar.x + cap, top);
          ctx.moveTo(bar.x - cap, bottom); ctx.lineTo(bar.x + cap, bottom);
          ctx.stroke();
          ctx.restore();
        });
      });
    },
  };

  function fmt(value, digits) { return value == null ? "—" : Number(value).toFixed(digits); }

  function series(spec, key) {
    if (key === "per_100_words") {
      return { values: spec.per_100_words, intervals: spec.per_100_words_interval, digits: 2, axis: "flags per 100 words", max: undefined };
    }
    return { values: spec.share, intervals: spec.share_interval, digits: 3, axis: "share of generations flagged", max: 1 };
  }

  function draw(root) {
    if (!window.Chart) return;
    Object.values(window.Chart.instances).forEach(function (chart) {
      if (!chart.canvas || !chart.canvas.isConnected) chart.destroy();
    });
    var source = root.querySelector("#audit-chart-data");
    if (!source) return;
    var spec = JSON.parse(source.textContent);
    root.querySelectorAll("canvas[data-audit-chart]").forEach(function (canvas) {
      var existing = window.Chart.getChart(canvas);
      if (existing) existing.destroy();
      var s = series(spec, canvas.dataset.auditChart);
      var highest = Math.max.apply(null, s.intervals.map(function (iv) { return iv && iv[1] != null ? iv[1] : 0; }).concat([0]));
      new window.Chart(canvas, {
        type: "bar",
        data: {
          labels: spec.labels,
          datasets: [{
            label: s.axis,
            data: s.values,
            intervals: s.intervals,
            backgroundColor: COLOUR + "99",
            borderColor: COLOUR,
            borderWidth: 1,
          }],
        },
        plugins: [whiskers],
        options: {
          responsive: true,
          maintainAspectRatio: false,
          animation: false,
          scales: {
            x: { ticks: { autoSkip: false, maxRotation: 60 }, grid: { display: false } },
            y: { beginAtZero: true, suggestedMax: s.max === undefined ? highest : Math.min(1, highest), title: { display: true, text: s.axis } },
          },
          plugins: {
            legend: { display: false },
            tooltip: {
              callbacks: {
                label: function (item) {
                  var iv = s.intervals[item.dataIndex] || [];
                  return fmt(item.raw, s.digits) + " [" + fmt(iv[0], s.digits) + ", " + fmt(iv[1], s.digits) + "]" +
                    " · n = " + spec.n[item.dataIndex];
                },
              },
            },
          },
        },
      });
    });
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (event.detail.xhr.status === 400 && target && target.id === "audit-results") {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSettle", function () { draw(document); });
})();
