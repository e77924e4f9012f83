// Waiting room: resubmit the same form (same form_key, so the same Idempotency-Key) after Retry-After.
(function () {
  "use strict";
  var form = document.getElementById("waiting-retry");
  if (!form) return;
  var seconds = parseInt(form.getAttribute("data-retry-after") || "2", 10);
  var countdown = form.querySelector("[data-countdown]");
  var shown = form.querySelector("[data-seconds]");
  if (countdown) countdown.hidden = false;
  var timer = setInterval(function () {
    seconds -= 1;
    if (shown) shown.textContent = String(Math.max(seconds, 0));
    if (seconds <= 0) {
      clearInterval(timer);
      form.submit();
    }
  }, 1000);
})();
