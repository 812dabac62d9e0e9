// Behaviour every page shares, kept out of the templates so the Content-Security-Policy
// can forbid inline script and style: bar widths come from data-width (set through the
// DOM, which the policy allows, instead of style="" attributes), and forms with
// data-confirm ask before they submit.
(function () {
  "use strict";

  function applyWidths(root) {
    var bars = (root || document).querySelectorAll("[data-width]");
    for (var i = 0; i < bars.length; i++) {
      var value = parseFloat(bars[i].getAttribute("data-width"));
      if (!isNaN(value)) bars[i].style.width = Math.max(0, Math.min(100, value)) + "%";
    }
  }

  document.addEventListener("DOMContentLoaded", function () { applyWidths(document); });
  // Content swapped in by htmx (job progress, predict results).
  document.addEventListener("htmx:load", function (e) { applyWidths(e.target); });

  document.addEventListener("submit", function (e) {
    var message = e.target.getAttribute && e.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) e.preventDefault();
  });
})();
