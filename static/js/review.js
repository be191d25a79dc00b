/* The session review page: a time on the timeline seeks the player instead of reloading the page,
 * and the page's `?t=` follows, so the address always opens the moment shown. Without JavaScript
 * each time is a plain link to `?t=`, and the player starts there from its media fragment. */

const player = document.getElementById("player");
const timeline = document.getElementById("timeline");

function seekTo(sessionSeconds) {
  const offset = Number(player.dataset.offsetMs || 0) / 1000;
  player.currentTime = Math.max(0, sessionSeconds + offset);
}

function markCurrent(link) {
  timeline.querySelectorAll(".moment.is-current").forEach((li) => li.classList.remove("is-current"));
  link.closest(".moment").classList.add("is-current");
}

if (player && timeline) {
  // The fragment already asks for the start; setting it again covers players that ignore fragments.
  const start = Number(player.dataset.start || 0);
  if (start) {
    const seekOnce = () => { if (Math.abs(player.currentTime - (start + Number(player.dataset.offsetMs || 0) / 1000)) > 1) { seekTo(start); } };
    if (player.readyState >= 1) { seekOnce(); } else { player.addEventListener("loadedmetadata", seekOnce, { once: true }); }
  }
  timeline.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-seek]");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) { return; }
    event.preventDefault();
    const seconds = Number(link.dataset.seek);
    seekTo(seconds);
    markCurrent(link);
    window.history.replaceState(null, "", link.href);
    player.focus();
  });
}
