// Notes board: a "select all" box for the page and a live count of the selected notes.
(function () {
  "use strict";
  var form = document.getElementById("board-form");
  if (!form) { return; }
  var all = document.getElementById("select-all");
  var count = document.getElementById("selection-count");
  var boxes = Array.prototype.slice.call(form.querySelectorAll("input.note-select"));

  function update() {
    var chosen = boxes.filter(function (box) { return box.checked; }).length;
    count.textContent = chosen === 0 ? "Select notes below, then:"
      : chosen + (chosen === 1 ? " note selected:" : " notes selected:");
    if (all) {
      all.checked = chosen === boxes.length;
      all.indeterminate = chosen > 0 && chosen < boxes.length;
    }
  }

  if (all) {
    all.hidden = false;
    all.addEventListener("change", function () {
      boxes.forEach(function (box) { box.checked = all.checked; });
      update();
    });
  }
  boxes.forEach(function (box) { box.addEventListener("change", update); });
  update();
})();
