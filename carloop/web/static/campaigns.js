// Ticks a campaign's countdown once a second (the page shows the server's figures without JavaScript).
(function () {
  "use strict";
  var box = document.querySelector("[data-testid=countdown][data-reveal]");
  if (!box) { return; }
  var reveal = Date.parse(box.getAttribute("data-reveal"));
  if (isNaN(reveal)) { return; }
  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function set(part, value) {
    var el = box.querySelector("[data-part=" + part + "]");
    if (el) { el.textContent = value; }
  }
  function tick() {
    var left = Math.max(0, Math.ceil((reveal - Date.now()) / 1000));
    set("days", String(Math.floor(left / 86400)));
    set("hours", pad(Math.floor(left % 86400 / 3600)));
    set("minutes", pad(Math.floor(left % 3600 / 60)));
    set("seconds", pad(left % 60));
    if (left === 0) { window.clearInterval(timer); window.location.reload(); }
  }
  var timer = window.setInterval(tick, 1000);
})();
