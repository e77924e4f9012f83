// The store finder's map (network/finder.html): Leaflet from our own static files, never a CDN.
// With a tile server configured (data-tiles) it draws the base map under the outlets; without one,
// or when no tile loads, it stays a tile-less map that still names the cities, marks every outlet
// and gives each result its distance. Without JavaScript the page keeps its SVG map.
(function () {
  "use strict";
  var box = document.getElementById("store-map-live");
  var data = document.getElementById("store-map-data");
  if (!box || !data || !window.L) return;
  var map_ = JSON.parse(data.textContent);
  var L = window.L;
  box.hidden = false;
  var svg = document.querySelector('[data-testid="store-map"]');
  if (svg) svg.closest("figure").hidden = true;
  // Names come from the database: every label is a DOM node with textContent, never HTML.
  function text(value) {
    var span = document.createElement("span");
    span.textContent = value;
    return span;
  }
  function link(code, value) {
    var a = document.createElement("a");
    a.href = "/stores/" + encodeURIComponent(code);
    a.textContent = value;
    return a;
  }
  var map = L.map(box, { attributionControl: false, zoomSnap: 0.5 });
  var offline = !map_.tiles;
  box.dataset.mode = offline ? "offline" : "tiles";
  if (!offline) {
    var failed = 0, loaded = 0;
    var layer = L.tileLayer(map_.tiles, { maxZoom: 18 }).addTo(map);
    layer.on("tileload", function () { loaded += 1; box.dataset.mode = "tiles"; });
    layer.on("tileerror", function () {
      failed += 1;
      if (!loaded && failed >= 4) { map.removeLayer(layer); box.dataset.mode = "offline"; }
    });
  }
  map_.cities.forEach(function (c) {
    L.circleMarker([c.lat, c.lon], { radius: 2, color: "#667", weight: 1, fillOpacity: 0.6 })
      .bindTooltip(text(c.name), { permanent: true, direction: "right", className: "map-city" })
      .addTo(map);
  });
  var hits = [];
  map_.stores.forEach(function (s) {
    var style = s.hit
      ? { radius: 7, color: "#d40", weight: 2, fillOpacity: 0.2 }
      : { radius: s.centre ? 4 : 2.5, color: s.centre ? "#0b5" : "#99a", weight: 1, fillOpacity: 0.8 };
    var label = s.name + (s.km !== null && s.km !== undefined ? " · " + s.km + " km" : "");
    var marker = L.circleMarker([s.lat, s.lon], style).bindPopup(link(s.code, label)).addTo(map);
    if (s.hit) {
      marker.bindTooltip(text(label), { permanent: true, direction: "top", className: "map-hit" });
      hits.push([s.lat, s.lon]);
    }
  });
  if (hits.length) map.fitBounds(L.latLngBounds(hits).pad(0.6), { maxZoom: 9 });
  else map.fitBounds([[18, 73], [54, 135]]);
})();
