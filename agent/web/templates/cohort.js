// The cohort page's chart: reads the figure from the page's JSON data block and draws it with plotly.js
// (served from our own origin; the page allows no inline script).
(function () {
  "use strict";
  var holder = document.getElementById("cohort-chart");
  var data = document.getElementById("cohort-data");
  if (!holder || !data || !window.Plotly) {
    return;
  }
  var figure = JSON.parse(data.textContent);
  window.Plotly.newPlot(holder, figure.traces, figure.layout, { displaylogo: false, responsive: true });
})();
