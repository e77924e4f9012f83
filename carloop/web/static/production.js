// Progressive enhancement of the configurator's delivery estimate (production/_eta_quote.html):
// whenever catalog.js has priced a new configuration (it rewrites the reserve form's hidden fields),
// ask GET /api/v1/production/eta for that configuration. Without this script the estimate is the
// server-rendered one for the configuration in the page's query.
(function () {
  "use strict";
  var box = document.getElementById("eta-quote");
  var reserveForm = document.getElementById("reserve-form");
  if (!box || !reserveForm || !window.fetch || !window.MutationObserver) return;
  var body = box.querySelector("[data-eta-body]");
  var sequence = 0;

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, name) { return values[name]; });
  }
  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }

  function show(quote) {
    var w = quote.window;
    var line = el("p");
    if (w.beyond_horizon) {
      line.appendChild(el("span", box.dataset.beyondLabel));
    } else {
      var weeks = el("strong", fill(box.dataset.weeksLabel, { lo: w.weeks_min, hi: w.weeks_max }));
      weeks.dataset.testid = "window-weeks";
      line.appendChild(weeks);
      line.appendChild(el("span", " · " + w.earliest + " – " + w.latest, "muted"));
    }
    line.appendChild(el("br"));
    var kept = w.confidence === null
      ? fill(box.dataset.fewLabel, { n: w.sample })
      : fill(box.dataset.confidenceLabel, { pct: Math.round(w.confidence * 100), n: w.sample });
    line.appendChild(el("small", kept, "muted"));
    var queue = el("p", undefined, "muted");
    queue.appendChild(el("small", fill(box.dataset.queueLabel, { n: quote.queue_ahead })));
    body.replaceChildren(line, queue);
  }

  function refresh() {
    var trim = reserveForm.querySelector('input[name="trim"]').value;
    if (!trim) return;
    var params = new URLSearchParams();
    params.append("model", reserveForm.querySelector('input[name="model"]').value);
    params.append("trim", trim);
    reserveForm.querySelectorAll('input[name="option"]').forEach(function (input) {
      params.append("option", input.value);
    });
    var mine = ++sequence;
    fetch("/api/v1/production/eta?" + params.toString(), { headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 409 && mine === sequence) {  // no plan published yet: no estimate
          var none = el("p", box.dataset.noPlanLabel, "muted");
          none.dataset.testid = "eta-no-plan";
          body.replaceChildren(none);
        }
        return response.ok ? response.json() : null;
      })
      .then(function (quote) { if (quote && mine === sequence) show(quote); })
      .catch(function () { /* keep the last estimate on screen */ });
  }

  new MutationObserver(refresh).observe(reserveForm, { subtree: true, childList: true, attributes: true });
})();
