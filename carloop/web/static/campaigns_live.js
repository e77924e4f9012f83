// The campaign live view: figures from the server-sent event stream every second, the first hour's
// chart with the vendored Chart.js. Without JavaScript the page shows the figures as of loading.
(function () {
  "use strict";
  var root = document.getElementById("campaign-live");
  if (!root || typeof window.EventSource === "undefined") { return; }
  var noLink = root.dataset.noLink || "-";
  var chart = null;
  var canvas = document.getElementById("first-hour");
  var initial = JSON.parse(document.getElementById("campaign-first-hour").textContent);
  var channels = JSON.parse(document.getElementById("campaign-channels").textContent);

  function draw(series) {
    if (!canvas || typeof window.Chart === "undefined") { return; }
    var labels = series.map(function (_, i) { return String(i); });
    if (chart) {
      chart.data.datasets[0].data = series;
      chart.update("none");
      return;
    }
    chart = new window.Chart(canvas, {
      type: "bar",
      data: { labels: labels, datasets: [{ label: canvas.dataset.label, data: series, backgroundColor: "#ff6900" }] },
      options: { animation: false, responsive: true, plugins: { legend: { display: false } } }
    });
  }

  function cell(text, code) {
    var td = document.createElement("td");
    td.textContent = text;
    if (code) { td.setAttribute("translate", "no"); }
    return td;
  }

  function keyCell(key) {
    var td = document.createElement("td");
    if (key === "-") { td.textContent = noLink; return td; }
    var cut = key.indexOf(":");
    var channel = key.slice(0, cut);
    td.appendChild(document.createTextNode((channels[channel] || channel) + " · "));
    var source = document.createElement("span");
    source.setAttribute("translate", "no");
    source.textContent = key.slice(cut + 1);
    td.appendChild(source);
    return td;
  }

  function rows(name, list, first) {
    var body = root.querySelector('[data-table="' + name + '"]');
    if (!body) { return; }
    body.textContent = "";
    list.forEach(function (values) {
      var tr = document.createElement("tr");
      tr.appendChild(first(values[0]));
      values.slice(1).forEach(function (v) { tr.appendChild(cell(String(v))); });
      body.appendChild(tr);
    });
  }

  function show(data) {
    Object.keys(data).forEach(function (key) {
      var el = root.querySelector('[data-figure="' + key + '"]');
      if (el) { el.textContent = data[key] === null ? "—" : String(data[key]); }
    });
    var state = root.querySelector('[data-testid="reveal-state"]');
    if (state) { state.dataset.revealed = data.revealed ? "yes" : "no"; }
    rows("paid_by_trim", Object.keys(data.paid_by_trim).map(function (k) { return [k, data.paid_by_trim[k]]; }),
      function (k) { return cell(k, true); });
    rows("funnel", data.funnel.map(function (r) { return [r.key, r.visits, r.reservations, r.paid, r.locked]; }), keyCell);
    draw(data.first_hour);
  }

  draw(initial);
  var source = new EventSource(root.dataset.stream);
  source.addEventListener("figures", function (event) { show(JSON.parse(event.data)); });
})();
