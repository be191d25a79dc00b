/* The participant's screen: follows the moderator's task changes by polling a tiny state document.
 * It only ever receives the welcome text and the running scenario; when the session ends the link
 * stops working and the screen says goodbye.
 */
(function () {
  "use strict";

  var root = document.getElementById("screen");
  if (!root) { return; }
  var heading = document.getElementById("screen-heading");
  var text = document.getElementById("screen-text");
  var POLL_MS = 1000;
  var timer = null;

  function show(title, body) {
    if (heading.textContent !== title) { heading.textContent = title; }
    if (text.textContent !== body) { text.textContent = body; }
  }

  function render(state) {
    if (state.step) {
      show(state.word + " " + state.step.number + " of " + state.step.total, state.step.scenario);
    } else if (state.between) {
      show("Thank you", "Please take a moment. We will continue shortly.");
    } else {
      show("Welcome", state.welcome || "Thank you for taking part. We will begin shortly.");
    }
  }

  function poll() {
    fetch(root.dataset.stateUrl, { cache: "no-store", credentials: "omit" }).then(function (res) {
      if (res.status === 404 || res.status === 410) {
        show("Thank you for taking part", "This screen has closed. You may close this window.");
        root.dataset.closed = "1";
        return;
      }
      if (res.ok) { return res.json().then(render); }
    }).catch(function () { return null; }).then(function () {
      if (!root.dataset.closed) { timer = window.setTimeout(poll, POLL_MS); }
    });
  }

  timer = window.setTimeout(poll, POLL_MS);
  window.addEventListener("pagehide", function () { window.clearTimeout(timer); });
}());
