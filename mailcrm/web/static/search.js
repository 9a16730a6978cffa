/* Search as you type: asks /search/results for the result table while the user types and puts it in
   #results.  A plain file (the CSP allows no inline script); without it the form still submits to /. */
(function () {
  "use strict";
  var form = document.getElementById("search");
  var input = document.getElementById("q");
  var results = document.getElementById("results");
  if (!form || !input || !results || !window.fetch) { return; }
  var timer = null;
  var asked = 0;
  function run() {
    var q = input.value.trim();
    var mine = ++asked;
    fetch("/search/results?q=" + encodeURIComponent(q), { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.text(); })
      .then(function (html) {
        if (mine !== asked) { return; }  /* an older answer arriving late */
        results.innerHTML = html;        /* server-rendered, autoescaped by Jinja2 */
        results.setAttribute("data-q", q);
        if (window.history && history.replaceState) {
          history.replaceState(null, "", q ? "/?q=" + encodeURIComponent(q) : "/");
        }
      })
      .catch(function () { /* the form still works: Enter submits it */ });
  }
  input.addEventListener("input", function () {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(run, 150);
  });
}());
