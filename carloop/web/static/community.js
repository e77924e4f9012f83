// While an owner types a suggestion title, show the most similar existing suggestions.
// Progressive enhancement: without JavaScript the server shows likely duplicates before posting.
(function () {
  "use strict";
  var title = document.getElementById("suggest-title");
  var box = document.getElementById("similar-live");
  if (!title || !box) return;
  var timer = null;
  var last = "";
  function show(items) {
    box.textContent = "";
    if (!items.length) return;
    var heading = document.createElement("p");
    heading.textContent = box.dataset.heading;
    box.appendChild(heading);
    var list = document.createElement("ul");
    items.forEach(function (s) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = "/community/suggestions/" + s.id;
      a.textContent = s.title;
      li.appendChild(a);
      li.appendChild(document.createTextNode(" " + box.dataset.votes.replace("{n}", s.votes)));
      if (s.likely_duplicate) {
        var flag = document.createElement("strong");
        flag.className = "warn";
        flag.setAttribute("data-testid", "likely-duplicate");
        flag.textContent = " " + box.dataset.likely;
        li.appendChild(flag);
      }
      list.appendChild(li);
    });
    box.appendChild(list);
  }
  function lookup() {
    var q = title.value.trim();
    if (q === last) return;
    last = q;
    if (q.length < 2) { show([]); return; }
    fetch("/community/similar?limit=5&q=" + encodeURIComponent(q), { headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (items) { if (title.value.trim() === q) show(items); })
      .catch(function () { /* the server-side check still runs on submit */ });
  }
  title.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(lookup, 200);
  });
})();
