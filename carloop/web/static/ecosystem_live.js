// /ecosystem: keep each device's state current from the server-sent events of /ecosystem/live,
// in place, so nothing the owner is typing is lost. Without JavaScript the page shows the state
// at load time and a link to refresh it.
(function () {
  "use strict";
  var grid = document.querySelector("[data-live]");
  if (!grid || !window.EventSource) return;
  var words = JSON.parse(grid.dataset.states || "{}");
  function set(card, field, value) {
    var el = card.querySelector('[data-field="' + field + '"]');
    if (el && el.textContent !== value) el.textContent = value;
    return el;
  }
  function show(card, v) {
    set(card, "battery", v.battery);
    set(card, "speed", v.speed);
    set(card, "cabin_temp", v.cabin_temp);
    set(card, "home", v.home || grid.dataset.away);
    set(card, "locked", v.locked ? grid.dataset.locked : grid.dataset.unlocked);
    set(card, "state", v.state ? (words[v.state] || v.state) : "–");
    var dest = set(card, "destination", v.destination);
    if (dest) dest.parentElement.hidden = !v.destination;
    var online = set(card, "online", "· " + (v.online === false ? grid.dataset.offline : grid.dataset.online));
    if (online) {
      online.hidden = v.online === null;
      online.className = v.online === false ? "warn" : "ok";
      online.dataset.testid = v.online === false ? "device-offline" : "device-online";
    }
  }
  var source = new EventSource(grid.dataset.live);
  source.addEventListener("devices", function (event) {
    var devices = JSON.parse(event.data);
    Object.keys(devices).forEach(function (id) {
      var card = grid.querySelector('[data-device="' + id + '"]');
      if (card) show(card, devices[id]);
    });
    grid.dataset.updates = String(Number(grid.dataset.updates || 0) + 1);
  });
  window.addEventListener("pagehide", function () { source.close(); });
})();
