// The chart pages' one Trusted Types policy (bot/console/pages.py CHART_PAGES): ECharts' canvas
// renderer empties its container with `innerHTML = ""`; that, and only that, is let through.
// Any other HTML, script or script URL stays refused, as on every other console page.
"use strict";

if (window.trustedTypes && window.trustedTypes.createPolicy) {
  window.trustedTypes.createPolicy("default", {
    createHTML: (value) => (value === "" ? "" : null),
  });
}
