// Draws every chart of the page: the Vega-Lite spec of each <div class="chart"> is in the
// JSON block it names (data, never code). ast: true evaluates expressions with the
// interpreter vega-embed bundles: the page's CSP allows no eval.
document.querySelectorAll("div.chart[data-spec]").forEach(function (el) {
  var block = document.getElementById(el.getAttribute("data-spec"));
  if (!block) { return; }
  vegaEmbed(el, JSON.parse(block.textContent), { ast: true, actions: false, renderer: "svg" })
    .catch(function (err) { el.textContent = "chart not drawn: " + err; });
});
