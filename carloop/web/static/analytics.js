// Draws the dashboard's charts from the JSON embedded in the page with the vendored Chart.js.
// Without JavaScript the tables under each chart carry the same figures.
(function () {
  "use strict";
  var source = document.getElementById("analytics-data");
  if (!source || typeof window.Chart === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  // Codes in the figures (stages, channels, tiers, places, column names) shown in the page's language.
  var labelSource = document.getElementById("analytics-labels");
  var names = labelSource ? JSON.parse(labelSource.textContent) : {};
  function name(code) { return Object.prototype.hasOwnProperty.call(names, code) ? names[code] : code; }
  var palette = ["#ff6900", "#1f6feb", "#1a7f37", "#9a6700", "#cf222e", "#8250df", "#0a7ea4", "#bf3989", "#57606a"];

  function series(table, from, only) {
    var sets = [];
    for (var c = from; c < table.columns.length; c++) {
      if (only && only.indexOf(c) < 0) { continue; }
      sets.push({
        label: name(table.columns[c]),
        data: table.rows.map(function (r) { return r[c]; }),
        borderColor: palette[sets.length % palette.length],
        backgroundColor: palette[sets.length % palette.length],
        pointRadius: 0, borderWidth: 2, tension: 0.2
      });
    }
    return sets;
  }

  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var table = data[canvas.dataset.chart];
    if (!table || !table.rows.length) { return; }
    var kind = canvas.dataset.kind;
    var labelColumns = table.columns.length > 2 && kind !== "line" && canvas.dataset.chart === "configuration" ? 2 : 1;
    var labels = table.rows.map(function (r) {
      var key = r.slice(0, labelColumns).join(" ");
      return Object.prototype.hasOwnProperty.call(names, key) ? names[key] : r.slice(0, labelColumns).map(name).join(" ");
    });
    var config;
    if (kind === "doughnut") {
      config = { type: "doughnut", data: { labels: labels, datasets: [{ data: table.rows.map(function (r) { return r[r.length - 1]; }), backgroundColor: palette }] } };
    } else {
      var only = canvas.dataset.columns ? canvas.dataset.columns.split(",").map(Number) : null;
      var datasets = series(table, labelColumns, only);
      config = {
        type: kind === "hbar" ? "bar" : kind,
        data: { labels: labels, datasets: datasets },
        options: {
          indexAxis: kind === "hbar" ? "y" : "x",
          interaction: { mode: "index", intersect: false },
          plugins: { legend: { display: datasets.length > 1 } },
          scales: { x: { ticks: { maxTicksLimit: 12 } } }
        }
      };
    }
    canvas.hidden = false;
    new window.Chart(canvas, config);
  });
})();
