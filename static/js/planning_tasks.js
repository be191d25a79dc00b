// Task script: Alt+ArrowUp / Alt+ArrowDown on a focused task moves it, without leaving the keyboard.
// The Up/Down buttons keep working without JavaScript; this only saves the page reload.
(function () {
  "use strict";
  var list = document.querySelector('.task-list[data-reorder="on"]');
  if (!list) { return; }
  var status = document.getElementById("reorder-status");
  var token = document.querySelector('meta[name="csrf-token"]').getAttribute("content");

  function items() { return Array.prototype.slice.call(list.querySelectorAll(".task-item")); }

  function refresh() {
    var all = items();
    all.forEach(function (item, index) {
      var title = item.querySelector(".task-title").firstChild.textContent.trim();
      item.setAttribute("aria-label", "Task " + (index + 1) + ": " + title);
      var up = item.querySelector('button[value="up"]');
      var down = item.querySelector('button[value="down"]');
      if (up) { up.disabled = index === 0; }
      if (down) { down.disabled = index === all.length - 1; }
    });
  }

  function move(item, direction) {
    var body = new URLSearchParams({ direction: direction, csrf_token: token });
    return fetch(item.dataset.moveUrl, {
      method: "POST",
      headers: { "Accept": "application/json", "X-CSRFToken": token },
      body: body,
      credentials: "same-origin"
    }).then(function (response) {
      if (!response.ok) { throw new Error("status " + response.status); }
      return response.json();
    }).then(function (data) {
      if (!data.moved) { return; }
      var byId = {};
      items().forEach(function (el) { byId[el.dataset.taskId] = el; });
      data.order.forEach(function (id) { if (byId[id]) { list.appendChild(byId[id]); } });
      refresh();
      item.focus();
      item.classList.add("moved");
      window.setTimeout(function () { item.classList.remove("moved"); }, 800);
      var position = items().indexOf(item) + 1;
      status.textContent = "Moved to position " + position + " of " + items().length + ".";
    }).catch(function () {
      status.textContent = "The task could not be moved. Reload the page and try again.";
    });
  }

  list.addEventListener("keydown", function (event) {
    if (!event.altKey || (event.key !== "ArrowUp" && event.key !== "ArrowDown")) { return; }
    var item = event.target.closest(".task-item");
    if (!item) { return; }
    event.preventDefault();
    move(item, event.key === "ArrowUp" ? "up" : "down");
  });
  list.dataset.keyboardReady = "on";  // lets a test know the handler is attached
})();
