/* The participant's screen: follows the moderator's task changes by polling a tiny state document.
 * The server words everything in the study's language (heading and text come ready in the state).
 * A question put on the screen, or taken off it, reloads the page: the form is always the server's.
 * When the session ends the link stops working and the screen says goodbye.
 */
(function () {
  "use strict";

  var root = document.getElementById("screen");
  if (!root || !root.dataset.stateUrl) { return; }
  var POLL_MS = 1000;
  var timer = null;

  function show(title, body) {
    var heading = document.getElementById("screen-heading");
    var text = document.getElementById("screen-text");
    if (heading && heading.textContent !== title) { heading.textContent = title; }
    if (text && text.textContent !== body) { text.textContent = body; }
  }

  function render(state) {
    var asked = state.question ? String(state.question.id) : "";
    if (asked !== root.dataset.question) {
      root.dataset.closed = "1"; // stop polling: the page is replaced
      window.location.reload();
      return;
    }
    if (!asked) { show(state.heading, state.text); }
  }

  function closeScreen() {
    var form = root.querySelector("form");
    if (form) { form.remove(); }
    if (!document.getElementById("screen-text")) {
      root.insertAdjacentHTML("beforeend",
        '<h1 id="screen-heading" class="screen-heading"></h1><div id="screen-text" class="screen-text"></div>');
    }
    show(root.dataset.closedHeading, root.dataset.closedText);
    root.dataset.closed = "1";
  }

  function poll() {
    fetch(root.dataset.stateUrl, { cache: "no-store", credentials: "omit" }).then(function (res) {
      if (res.status === 404 || res.status === 410) { closeScreen(); return null; }
      if (res.ok) { return res.json().then(render); }
      return null;
    }).catch(function () { return null; }).then(function () {
      if (!root.dataset.closed) { timer = window.setTimeout(poll, POLL_MS); }
    });
  }

  timer = window.setTimeout(poll, POLL_MS);
  window.addEventListener("pagehide", function () { window.clearTimeout(timer); });
}());
