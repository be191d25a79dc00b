/* The note queue: notes are never lost.
 *
 * Each change to a note (create, update, delete) is written to localStorage, per session and user,
 * before anything is sent, so a reload or a lost connection keeps it. One tab at a time sends the
 * queue (Web Locks, or a localStorage lease where locks are missing), strictly in order, retrying with
 * back-off until the server answers. The server is idempotent on the note's UUID, so a resend after a
 * lost answer is harmless. A change the server refuses for good (bad input, gone, forbidden) stays
 * in the queue marked "failed", shown with the server's reason until the author retries or discards it.
 *
 * An edit carries the version of the note it was made on (`base`), so a change replayed long after it
 * was typed cannot silently undo what a researcher did to the note meanwhile: the server answers 409
 * with the note as it is now, which is kept with the refused edit and shown; Retry then sends the edit
 * again on top of that version. An edit typed on top of another queued change of the same note waits
 * for that change's answer to learn its version.
 *
 * Events: "change" (detail {note, saved}: that note's queued state changed; `note` is null when
 * another tab changed the queue, `saved` is the server's copy when it just acknowledged one) and
 * "status" (a flush ended: counts may have changed).
 */

import { Api, FINAL_REFUSALS } from "./api.js";
import { newUuid } from "./format.js";

const MAX_DELAY_MS = 20000;
const LEASE_MS = 30000;
const CSRF_RETRIES = 3;
// Fields a note's author can change after it is saved (what a PATCH may carry).
const EDITABLE = ["body", "tags", "severity", "kind"];

function pick(data, names) {
  const out = {};
  names.forEach((name) => { if (data && name in data) { out[name] = data[name]; } });
  return out;
}

function browserStorage() {
  try { return window.localStorage; } catch (e) { return null; }
}

/** The queue of note changes of one user in one session, kept in this browser until sent. */
export class NoteQueue extends EventTarget {
  constructor({ api, sessionId, userId, storage }) {
    super();
    this.api = api;
    this.key = `usabtest.queue.${sessionId}.${userId}`;
    this.lockName = `usabtest.sender.${sessionId}.${userId}`;
    this.storage = storage === undefined ? browserStorage() : storage;
    this.memory = null; // the queue, while the browser refuses to store it
    this.flushing = null;
    this.flushAgain = false;
    this.tabId = newUuid();
    window.addEventListener("storage", (event) => {
      if (event.key === this.key) { this.changed(null, null); }
    });
  }

  /* ---------- reading and writing the stored queue ---------- */

  /** A copy of every queued change, oldest first. */
  items() {
    if (this.memory) { return JSON.parse(JSON.stringify(this.memory)); }
    try { return JSON.parse(this.storage.getItem(this.key) || "[]"); } catch (e) { return []; }
  }

  /** Whether the browser refused to store the queue, so it lives only as long as this tab. */
  get inMemoryOnly() { return this.memory !== null; }

  save(queue) {
    try {
      this.storage.setItem(this.key, JSON.stringify(queue));
      this.memory = null;
    } catch (e) {
      // Storage full or disabled: keep working from memory (the console says so).
      this.memory = JSON.parse(JSON.stringify(queue));
    }
  }

  mutate(fn) {
    const queue = this.items();
    fn(queue);
    this.save(queue);
  }

  removeItem(key) {
    this.mutate((queue) => {
      const at = queue.findIndex((i) => i.key === key);
      if (at >= 0) { queue.splice(at, 1); }
    });
  }

  updateItem(key, fn) {
    this.mutate((queue) => queue.filter((i) => i.key === key).forEach(fn));
  }

  /** The queued changes of one note, oldest first. */
  itemsFor(noteId) { return this.items().filter((i) => i.note === noteId); }

  /** The ids of the notes with queued changes, in queue order. */
  noteIds() { return [...new Set(this.items().map((i) => i.note))]; }

  /** How many changes wait to be sent and how many the server refused. */
  /** How many notes have a change (their creation, an edit, a deletion) still to be sent. */
  waitingNotes() {
    const queue = this.items().filter((i) => !(i.op === "create" && i.cancelled) && i.state !== "failed");
    return new Set(queue.map((i) => i.note)).size;
  }

  counts() {
    // A note deleted before it was sent is dropped at the next send, not sent: it waits for nothing.
    const queue = this.items().filter((i) => !(i.op === "create" && i.cancelled));
    const failed = queue.filter((i) => i.state === "failed").length;
    return { pending: queue.length - failed, failed };
  }

  changed(noteId, saved) {
    this.dispatchEvent(new CustomEvent("change", { detail: { note: noteId, saved: saved || null } }));
  }

  /* ---------- what the author does ---------- */

  /** Queue a new note (`data` holds its id, body, tags, severity, task and moment) and send it. */
  create(noteId, data) {
    this.push({ op: "create", note: noteId, data });
    this.changed(noteId);
    return this.flush();
  }

  /**
   * Queue an edit (`op` "update" with the changed fields, made on the note's `version`) or a deletion
   * ("delete") and send it.
   */
  change(noteId, op, data, version) {
    const create = this.itemsFor(noteId).find((i) => i.op === "create" && i.state === "pending");
    if (create) {
      // Not on the server yet: change the queued note itself. If a copy is on its way right now,
      // `acknowledge` sees the new revision and sends what is left.
      this.updateItem(create.key, (i) => {
        if (op === "delete") { i.cancelled = true; } else { Object.assign(i.data, data); }
        i.rev = (i.rev || 0) + 1;
      });
    } else {
      // On top of a change still queued, the version is only known once the server answered it.
      const onTopOfQueued = this.itemsFor(noteId).length > 0;
      this.push({ op, note: noteId, data, base: onTopOfQueued ? null : (version ?? null) });
    }
    this.changed(noteId);
    return this.flush();
  }

  /** Send a refused note's changes again (after the cause was fixed, or over the note as it is now). */
  retry(noteId) {
    this.mutate((queue) => queue.forEach((i) => {
      if (i.note === noteId && i.state === "failed") {
        // The author has seen the note as it is now: their edit goes on top of that version.
        if (i.current) { i.base = i.current.version; delete i.current; }
        Object.assign(i, { state: "pending", due: 0, tries: 0 });
      }
    }));
    this.changed(noteId);
    return this.flush();
  }

  /** Drop a refused note's changes for good. */
  discard(noteId) {
    this.mutate((queue) => {
      for (let at = queue.length - 1; at >= 0; at -= 1) {
        if (queue[at].note === noteId && queue[at].state === "failed") { queue.splice(at, 1); }
      }
    });
    this.changed(noteId);
  }

  /** Send now whatever waits for its next try (the connection or the sign-in is back). */
  wake() {
    this.mutate((queue) => queue.forEach((i) => { i.due = 0; }));
    return this.flush();
  }

  push(fields) {
    const item = { key: newUuid(), state: "pending", tries: 0, due: 0, rev: 0, ...fields };
    this.mutate((queue) => { queue.push(item); });
  }

  /**
   * The note as its author should see it: the server's copy (or none) with the queued changes on top,
   * plus `status` ("saved", "pending" or "failed"), `detail` (why pending or failed), `failed` and
   * `current` (the note as the server has it now, when an edit was refused for being based on an old version).
   */
  view(noteId, saved, author) {
    const items = this.itemsFor(noteId);
    let view = saved ? { ...saved } : null;
    let status = "saved";
    let detail = "";
    let current = null;
    items.forEach((i) => {
      if (i.current) { current = i.current; }
      if (i.op === "create") {
        view = view ? Object.assign(view, pick(i.data, EDITABLE)) : { author, deleted: false, ...i.data };
        if (i.cancelled) { view.deleted = true; }
      }
      if (i.op === "update" && view) { Object.assign(view, i.data); }
      if (i.op === "delete" && view && i.state === "pending") { view.deleted = true; }
      if (i.state === "failed") {
        status = "failed";
        detail = i.error;
      } else if (status !== "failed") {
        status = "pending";
        detail = i.reason || "";
      }
    });
    if (view) {
      Object.assign(view, { status, detail, current, failed: items.some((i) => i.state === "failed") });
    }
    return view;
  }

  /* ---------- sending ---------- */

  /** Send what is due, in order; a call during a flush makes that flush look once more at the end. */
  flush() {
    if (this.flushing) {
      this.flushAgain = true;
      return this.flushing;
    }
    if (this.api.signedOut) { return Promise.resolve(); }
    this.flushAgain = false;
    this.flushing = Promise.resolve(this.withSenderLock(() => this.sendDue()))
      .catch(() => null)
      .then(() => {
        this.flushing = null;
        this.dispatchEvent(new Event("status"));
        if (this.flushAgain) { return this.flush(); }
        return null;
      });
    return this.flushing;
  }

  withSenderLock(fn) {
    if (navigator.locks && navigator.locks.request) {
      return navigator.locks.request(this.lockName, { ifAvailable: true }, (lock) => (lock ? fn() : null));
    }
    const leaseKey = `${this.lockName}.lease`;
    const now = Date.now();
    let lease = null;
    try { lease = JSON.parse(this.storage.getItem(leaseKey) || "null"); } catch (e) { lease = null; }
    if (lease && lease.owner !== this.tabId && lease.until > now) { return Promise.resolve(); }
    const release = () => { try { this.storage.removeItem(leaseKey); } catch (e) { /* no storage */ } };
    try {
      this.storage.setItem(leaseKey, JSON.stringify({ owner: this.tabId, until: now + LEASE_MS }));
    } catch (e) {
      // No storage means no other tab shares this queue: nobody to exclude.
    }
    return fn().then(release, release);
  }

  async sendDue() {
    // Strictly in order, so an edit never overtakes the note it changes.
    for (;;) {
      const next = this.items().find((i) => i.state === "pending");
      if (!next || next.due > Date.now() || this.api.signedOut) { return; }
      if (next.op === "create" && next.cancelled) {
        // Deleted before it ever reached the server: nothing to send.
        this.removeItem(next.key);
        this.changed(next.note);
      } else if (!(await this.send(next))) {
        return;
      }
    }
  }

  request(item) {
    if (item.op === "create") { return ["POST", "/notes", item.data]; }
    if (item.op === "update") { return ["PATCH", `/notes/${item.note}`, { version: item.base, ...item.data }]; }
    return ["DELETE", `/notes/${item.note}`, null];
  }

  /** Send one change; resolves to whether the next one may go now. */
  async send(item) {
    let res;
    try {
      res = await this.api.call(...this.request(item));
    } catch (e) {
      this.retryLater(item, "no connection; retrying");
      return false;
    }
    if (res.ok) {
      this.acknowledge(item, res.data);
      return true;
    }
    if (Api.isAuthRefusal(res)) {
      const renewed = await this.api.refreshCsrf();
      const again = renewed && item.tries + 1 < CSRF_RETRIES;
      this.retryLater(item, renewed ? "retrying with a fresh security token" : "waiting for you to sign in again",
        again);
      return again;
    }
    const current = res.status === 409 && res.data && res.data.current ? res.data.current : null;
    if (current) {
      // Someone changed the note since this edit was made: keep the edit, show the note as it is now.
      this.mutate((queue) => queue.forEach((i) => {
        if (i.key === item.key) {
          Object.assign(i, { state: "failed", error: res.message, current });
        } else if (i.note === item.note && i.state === "pending") {
          Object.assign(i, { state: "failed", error: "it waits for the refused change before it" });
        }
      }));
      this.changed(item.note, current);
      return true;
    }
    if (FINAL_REFUSALS.includes(res.status)) {
      this.updateItem(item.key, (i) => { i.state = "failed"; i.error = res.message; });
      this.changed(item.note);
      return true;
    }
    this.retryLater(item, "the server is busy; retrying");
    return false;
  }

  acknowledge(item, saved) {
    this.mutate((queue) => {
      const at = queue.findIndex((i) => i.key === item.key);
      if (at < 0) { return; }
      const now = queue[at];
      const version = saved && saved.version ? saved.version : null;
      if ((now.rev || 0) === (item.rev || 0)) {
        queue.splice(at, 1);
        // The next edit of this note was made on top of this one: it goes on the version just saved.
        const next = queue.find((i) => i.note === item.note);
        if (next && next.op === "update" && next.base === null) { next.base = version; }
        return;
      }
      // Changed while on its way: the server has the note as sent, so only the change is left.
      if (now.cancelled) {
        Object.assign(now, { op: "delete", data: null });
        delete now.cancelled;
      } else {
        Object.assign(now, { op: "update", data: pick(now.data, EDITABLE), base: version });
      }
      Object.assign(now, { tries: 0, due: 0, reason: "" });
    });
    this.changed(item.note, saved && saved.id ? saved : null);
  }

  retryLater(item, reason, now = false) {
    this.updateItem(item.key, (i) => {
      i.tries = (i.tries || 0) + 1;
      const delay = Math.min(MAX_DELAY_MS, 1000 * 2 ** (i.tries - 1));
      i.due = now ? 0 : Date.now() + delay * (0.8 + Math.random() * 0.4);
      i.reason = reason;
    });
    this.changed(item.note);
  }
}
