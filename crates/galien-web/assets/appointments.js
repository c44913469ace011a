// Teleconsultation pages (ACT-1), progressive enhancement only: everything works without this file.
// - "Ajouter une ligne" on the closing form copies the last prescription row (empty), up to the
//   form's maximum; the rows are posted under the same names, so the server reads them in order.
// - "Copier le lien" copies a link shown once (patient activation, guest invitation).
(function () {
  "use strict";

  function addLines() {
    var lines = document.getElementById("rx-lines");
    var button = document.getElementById("add-line");
    if (!lines || !button) return;
    var max = parseInt(lines.getAttribute("data-max") || "20", 10);
    var legend = lines.getAttribute("data-legend") || "{}";
    function count() { return lines.querySelectorAll("fieldset.rx-line").length; }
    function refresh() { button.hidden = count() >= max; }
    button.addEventListener("click", function () {
      var rows = lines.querySelectorAll("fieldset.rx-line");
      var last = rows[rows.length - 1];
      if (!last || rows.length >= max) return;
      var n = rows.length + 1;
      var copy = last.cloneNode(true);
      var title = copy.querySelector("legend");
      if (title) title.textContent = legend.replace("{}", String(n));
      copy.querySelectorAll("input").forEach(function (input) {
        var label = copy.querySelector("label[for='" + input.id + "']");
        input.id = input.name + "_" + n;
        input.value = "";
        if (label) label.setAttribute("for", input.id);
      });
      lines.appendChild(copy);
      refresh();
      var first = copy.querySelector("input");
      if (first) first.focus();
    });
    refresh();
  }

  function copyButtons() {
    document.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
      var source = document.getElementById(button.getAttribute("data-copy"));
      if (!source || !navigator.clipboard) return;
      var status = button.parentNode.querySelector(".copy-status");
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(source.textContent.trim()).then(function () {
          if (status) status.textContent = status.getAttribute("data-done") || "";
        }, function () {
          // Copy refused (permissions): select the text so that it can be copied by hand.
          var range = document.createRange();
          range.selectNodeContents(source);
          var selection = window.getSelection();
          selection.removeAllRanges();
          selection.addRange(range);
        });
      });
    });
  }

  addLines();
  copyButtons();
})();
