/* Optional niceties; the report reads the same without script. No network access of any kind. */
(function () {
  "use strict";
  // "problems only" filter on the checks table
  document.querySelectorAll("[data-filter-for]").forEach(function (button) {
    button.addEventListener("click", function () {
      var table = document.getElementById(button.getAttribute("data-filter-for"));
      if (!table) { return; }
      var on = button.getAttribute("aria-pressed") !== "true";
      button.setAttribute("aria-pressed", on ? "true" : "false");
      table.classList.toggle("only-problems", on);
    });
  });
  // print everything: open the collapsed detail sections, close them again afterwards
  var opened = [];
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details[data-print-open]:not([open])").forEach(function (d) {
      d.setAttribute("open", "");
      opened.push(d);
    });
  });
  window.addEventListener("afterprint", function () {
    opened.forEach(function (d) { d.removeAttribute("open"); });
    opened = [];
  });
})();
