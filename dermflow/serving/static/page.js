// Server-rendered pages: probability bars sized from their data-value, the Grad-CAM opacity slider,
// rows that open their result page, and the "other" diagnosis text shown only when it is chosen.
(function () {
  "use strict";
  for (const fill of document.querySelectorAll(".fill[data-value]")) {
    fill.style.width = (100 * parseFloat(fill.dataset.value)).toFixed(1) + "%";
  }
  const opacity = document.getElementById("opacity");
  const overlay = document.getElementById("overlay");
  if (opacity && overlay) {
    overlay.style.opacity = opacity.value / 100;
    opacity.addEventListener("input", () => { overlay.style.opacity = opacity.value / 100; });
  }
  for (const row of document.querySelectorAll("tr[data-href]")) {
    row.addEventListener("click", (event) => {
      if (event.target.closest("a, button, input, select")) return;
      window.location.href = row.dataset.href;
    });
  }
})();
