// Progressive enhancement of the configurator (catalog/configure.html): re-price on every change
// through POST /api/v1/catalog/price. Without this script the page works through its GET form.
(function () {
  "use strict";
  var form = document.getElementById("configurator");
  var reserveForm = document.getElementById("reserve-form");
  if (!form || !reserveForm || !window.fetch) return;

  var zh = (document.documentElement.lang || "").toLowerCase().indexOf("zh") === 0;
  var money = new Intl.NumberFormat(zh ? "zh-CN" : "en", { style: "currency", currency: "CNY" });
  // The summary's Reserve button and total, and their twins in the phone's sticky bar.
  var reserves = document.querySelectorAll('[data-testid="reserve"], [data-testid="reserve-bar"]');
  var totals = document.querySelectorAll('[data-testid="total"], [data-total-mirror]');
  var summary = document.querySelector('[data-testid="quote-summary"]');
  var breakdown = document.querySelector('[data-testid="breakdown"]');
  var problemsBox = document.querySelector('[data-testid="problems"]');
  var problemsList = problemsBox.querySelector("ul");
  var optionsSlot = reserveForm.querySelector("[data-reserve-options]");
  var sequence = 0;

  function setTotal(text) { totals.forEach(function (node) { node.textContent = text; }); }
  function setReservable(yes) { reserves.forEach(function (button) { button.disabled = !yes; }); }
  function fmt(fen) { return money.format(fen / 100); }
  function pick(obj, field) { return (zh && obj[field + "_zh"]) || obj[field + "_en"]; }
  function words(value) { return (value || "").split(" ").filter(Boolean); }
  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }

  function optionInputs() {
    return Array.prototype.slice.call(form.querySelectorAll('input[name="option"], input[name^="option."]'));
  }

  function currentTrim() {
    var checked = form.querySelector('input[name="trim"]:checked');
    return checked ? checked.value : "";
  }

  // Enable, disable and label the options for the chosen trim, as the server would render them.
  // An option the previous trim included is dropped, so the new trim's own default fills its place.
  function applyTrim(trim, previous) {
    optionInputs().forEach(function (input) {
      if (!input.value) return; // the "none" radio of an at-most-one group
      var offered = words(input.dataset.trims).indexOf(trim) >= 0;
      var included = words(input.dataset.includedOn).indexOf(trim) >= 0;
      var wasIncluded = previous && words(input.dataset.includedOn).indexOf(previous) >= 0;
      if (wasIncluded && !included) input.checked = false;
      var label = input.closest("label");
      input.disabled = !offered || (included && input.type === "checkbox");
      if (!offered) input.checked = false;
      if (included && input.type === "checkbox") input.checked = true;
      label.classList.toggle("muted", !offered);
      label.querySelector(".option-unavailable").hidden = offered;
      var price = Number(input.dataset.priceFen);
      label.querySelector(".option-price").textContent = included
        ? form.dataset.includedLabel
        : price ? "+" + fmt(price) : form.dataset.noChargeLabel;
    });
    document.querySelectorAll("[data-deposit-for]").forEach(function (node) {
      node.hidden = node.dataset.depositFor !== trim;
    });
  }

  function chosen() {
    return optionInputs()
      .filter(function (input) { return input.checked && !input.disabled && input.value; })
      .map(function (input) { return input.value; });
  }

  // The drawn car follows the checked options: each input says what it changes (data-look="paint:#hex").
  var carSvg = document.querySelector('svg[data-testid="car"]');
  function drawCar() {
    if (!carSvg) return;
    var look = { paint: carSvg.style.getPropertyValue("--paint"), caliper: "#5a5f64", wheel: "19", roof: "", wing: "0" };
    optionInputs().forEach(function (input) {
      var pair = (input.dataset.look || "").split(":");
      if (input.checked && !input.disabled && pair[1]) look[pair[0]] = pair[1];
    });
    carSvg.style.setProperty("--paint", look.paint);
    carSvg.style.setProperty("--caliper", look.caliper);
    carSvg.setAttribute("data-wheel", look.wheel);
    carSvg.setAttribute("data-roof", look.roof);
    carSvg.setAttribute("data-wing", look.wing);
  }

  function showQuote(quote) {
    problemsBox.hidden = true;
    var table = el("table", undefined, "breakdown");
    table.dataset.testid = "price-lines";
    var body = table.appendChild(el("tbody"));
    quote.lines.forEach(function (line) {
      var row = body.appendChild(el("tr", undefined, "line-" + line.kind));
      row.appendChild(el("td", pick(line, "label")));
      row.appendChild(el("td", line.included ? form.dataset.includedLabel : fmt(line.amount_fen), "num"));
    });
    breakdown.replaceChildren(table);
    setTotal(fmt(quote.total_fen));
    summary.textContent = pick(quote, "summary");
    // Show the resolved configuration (defaults and inclusions filled in) and make it the one to reserve.
    optionInputs().forEach(function (input) {
      if (input.value) input.checked = quote.options.indexOf(input.value) >= 0;
    });
    form.querySelectorAll("fieldset[data-mode='at-most-one']").forEach(function (set) {
      var none = set.querySelector('input[value=""]');
      if (none) none.checked = !set.querySelector('input:checked:not([value=""])');
    });
    reserveForm.querySelector('input[name="trim"]').value = quote.trim;
    optionsSlot.replaceChildren.apply(optionsSlot, quote.options.map(function (code) {
      var hidden = el("input");
      hidden.type = "hidden";
      hidden.name = "option";
      hidden.value = code;
      return hidden;
    }));
    setReservable(true);
    drawCar();
  }

  function showProblems(messages) {
    problemsList.replaceChildren.apply(problemsList, messages.map(function (m) { return el("li", m); }));
    problemsBox.hidden = false;
    breakdown.replaceChildren();
    setTotal("—");
    summary.textContent = "";
  }

  function reprice() {
    var mine = ++sequence;
    setReservable(false); // until the configuration on screen is priced
    var body = { model: form.dataset.model, trim: currentTrim(), options: chosen() };
    fetch("/api/v1/catalog/price", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
    })
      .then(function (response) {
        return response.json().then(function (data) { return { ok: response.ok, data: data }; });
      })
      .then(function (result) {
        if (mine !== sequence) return; // a newer change is being priced
        if (result.ok) return showQuote(result.data);
        var problems = result.data.problems || [];
        showProblems(problems.length
          ? problems.map(function (p) { return (zh && p.message_zh) || p.message; })
          : [result.data.detail || form.dataset.errorLabel]);
      })
      .catch(function () {
        if (mine === sequence) showProblems([form.dataset.errorLabel]);
      });
  }

  var lastTrim = currentTrim();
  form.addEventListener("change", function (event) {
    if (event.target.name === "trim") {
      applyTrim(event.target.value, lastTrim);
      lastTrim = event.target.value;
    }
    drawCar();
    reprice();
  });
  applyTrim(lastTrim, "");
})();
