// The reveal countdown: the server says how many seconds are left; at zero the page reloads and the
// server (whose clock decides) shows the price and the Reserve button.
(function () {
  "use strict";
  var box = document.querySelector("[data-testid=countdown]");
  if (!box) { return; }
  var left = parseInt(box.dataset.seconds, 10);
  var shown = box.querySelector("[data-countdown]");
  var end = Date.now() + left * 1000;
  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function tick() {
    var s = Math.max(0, Math.ceil((end - Date.now()) / 1000));
    shown.textContent = Math.floor(s / 3600) + ":" + pad(Math.floor((s % 3600) / 60)) + ":" + pad(s % 60);
    if (s <= 0) {
      window.setTimeout(function () { window.location.reload(); }, 300);
      return;
    }
    window.setTimeout(tick, 250);
  }
  tick();
})();
