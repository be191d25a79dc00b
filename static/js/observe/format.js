/* Small helpers shared by the console's modules: the session-time format, ids, DOM and wording. */

function pad2(n) { return String(n).padStart(2, "0"); }

/**
 * Time into a session: "M:SS" under an hour, "H:MM:SS" from an hour up, cut to the whole second.
 * The same rule as usabtest.timefmt.format_elapsed (the notes board, exports and report use that
 * one); tests/browser/test_observe_time_format.py checks both give the same text.
 */
export function formatElapsed(ms) {
  const total = Math.floor(Math.max(0, Number(ms) || 0) / 1000);
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = pad2(total % 60);
  return hours ? `${hours}:${pad2(minutes)}:${seconds}` : `${minutes}:${seconds}`;
}

/** A random RFC 4122 version 4 UUID. */
export function newUuid() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") {
    return window.crypto.randomUUID();
  }
  // randomUUID needs a secure context; getRandomValues does not.
  const b = window.crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => (x + 256).toString(16).slice(1)).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A new element with an optional class and text (never HTML: notes are user text). */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) { node.className = className; }
  if (text !== undefined) { node.textContent = text; }
  return node;
}

/** A server message ("task 3 is not running") as a sentence ("Task 3 is not running."). */
export function sentence(message) {
  const text = String(message || "").trim();
  if (!text) { return ""; }
  const end = /[.!?]$/.test(text) ? "" : ".";
  return text.charAt(0).toUpperCase() + text.slice(1) + end;
}

/** "1 change", "3 changes". */
export function counted(n, one, many) { return `${n} ${n === 1 ? one : many}`; }

/** A whole number the way the server writes limits in its messages ("12,345"). */
export function formatCount(n) { return Number(n).toLocaleString("en-US"); }
