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
    });
  }
  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSettle", function () { draw(document); });
})();
