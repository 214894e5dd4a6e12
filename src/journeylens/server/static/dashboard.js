// JourneyLens dashboard: draw every plotly figure the server rendered, once, after page load and
// after each htmx swap. Each figure has its own element id (htmx settling reuses ids).
(function () {
  "use strict";
  function draw(root) {
    root.querySelectorAll("div.jl-plot:not([data-drawn])").forEach(function (div) {
      var spec = document.getElementById(div.dataset.spec);
      if (!spec) { return; }
      var fig = JSON.parse(spec.textContent);
      div.dataset.drawn = "1";
      Plotly.newPlot(div, fig.data, fig.layout || {}, { responsive: true, displaylogo: false });
      if (div.dataset.drill) { div.on("plotly_click", function (ev) { drill(div.dataset.drill, ev); }); }
    });
  }
  // A process-map mark -> the journeys behind it: an edge label names "source → target: ...",
  // a node its activity; the artificial start and end nodes stand for the activity they touch.
  function drill(url, ev) {
    var point = ev.points && ev.points[0];
    if (!point) { return; }
    var edge = String(point.hovertext || "").match(/^(.+?) → (.+?):/);
    var query;
    if (edge && edge[1].indexOf("▶") === 0) { query = { touchpoint: edge[2] }; }
    else if (edge && edge[2].indexOf("■") === 0) { query = { touchpoint: edge[1] }; }
    else if (edge) { query = { source: edge[1], target: edge[2] }; }
    else if (point.text && !/^[▶■]/.test(point.text)) { query = { touchpoint: point.text }; }
    else { return; }
    window.location.assign(url + (url.indexOf("?") < 0 ? "?" : "&") + new URLSearchParams(query));
  }
  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSettle", function () { draw(document); });
})();
// Auto-refresh: the version poll (every >= 30 s) triggers "jl-data-changed" when the data version
// moved; the page's main part is fetched again (its panels reload with htmx, no full reload). While
// a form field has the focus the refresh waits: the next poll asks again.
(function () {
  "use strict";
  document.addEventListener("jl-data-changed", function () {
    var focused = document.activeElement;
    if (focused && /^(INPUT|SELECT|TEXTAREA)$/.test(focused.tagName)) { return; }
    htmx.ajax("GET", window.location.pathname + window.location.search,
              { target: "#main", select: "#main", swap: "outerHTML" });
  });
})();
