/* The live observation console.
 *
 * Notes are never lost: each gets a UUID and is written to a queue in localStorage (per session and
 * user) before anything is sent. One tab at a time sends the queue (Web Locks, or a localStorage
 * lease where locks are missing), retrying with back-off until the server acknowledges. The server
 * is idempotent on the UUID, so a resend after a lost answer is harmless. Everything the team does
 * arrives through one Server-Sent Events stream read from the database.
 */
(function () {
  "use strict";

  var root = document.getElementById("console");
  if (!root) { return; }
  var cfg = JSON.parse(root.dataset.config);
  var API = "/api/v1/sessions/" + cfg.sessionId;
  var QUEUE_KEY = "usabtest.queue." + cfg.sessionId + "." + cfg.userId;
  var LOCK_NAME = "usabtest.sender." + cfg.sessionId + "." + cfg.userId;
  var MAX_DELAY_MS = 20000;
  var OUTCOME_LABELS = { success: "Success", assisted: "Assisted", failure: "Failure",
    abandoned: "Abandoned", skipped: "Skipped" };
  var STATUS_LABELS = { scheduled: "Scheduled", in_progress: "In progress", completed: "Completed",
    no_show: "No show", cancelled: "Cancelled" };

  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var state = {
    csrf: csrfMeta ? csrfMeta.content : "",
    status: cfg.status,
    startedAt: cfg.startedAt ? Date.parse(cfg.startedAt) : null,
    endedAt: cfg.endedAt ? Date.parse(cfg.endedAt) : null,
    clockOffset: Date.parse(cfg.serverNow) - Date.now(),
    currentTaskId: cfg.currentTaskId,
    tags: [],
    signedOut: false,
    lastEventId: 0,
    serverNotes: {},
    memoryQueue: null,
    flushing: false,
    tabId: newUuid()
  };

  function $(id) { return document.getElementById(id); }

  function newUuid() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    // randomUUID needs a secure context; getRandomValues does not.
    var b = window.crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  /* ---------- time ---------- */

  function serverNow() { return Date.now() + state.clockOffset; }

  function elapsedNow() {
    if (!state.startedAt) { return 0; }
    return Math.max(0, (state.endedAt || serverNow()) - state.startedAt);
  }

  function formatElapsed(ms) {
    var s = Math.floor((ms || 0) / 1000);
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    var sec = ("0" + (s % 60)).slice(-2);
    return h ? h + ":" + ("0" + m).slice(-2) + ":" + sec : m + ":" + sec;
  }

  function tickClock() { $("session-clock").textContent = formatElapsed(elapsedNow()); }

  /* ---------- the persistent queue ---------- */

  function loadQueue() {
    if (state.memoryQueue) { return state.memoryQueue.slice(); }
    try { return JSON.parse(window.localStorage.getItem(QUEUE_KEY) || "[]"); } catch (e) { return []; }
  }

  function saveQueue(queue) {
    try {
      window.localStorage.setItem(QUEUE_KEY, JSON.stringify(queue));
      state.memoryQueue = null;
    } catch (e) {
      // Storage full or disabled: keep working from memory and say so.
      state.memoryQueue = queue.slice();
      $("queue-status").textContent = "This browser cannot store notes offline; keep this tab open until they are sent.";
    }
  }

  function changeQueue(fn) {
    var queue = loadQueue();
    var result = fn(queue);
    saveQueue(queue);
    return result;
  }

  function enqueue(item) {
    item.key = newUuid();
    item.state = "pending";
    item.tries = 0;
    item.due = 0;
    changeQueue(function (q) { q.push(item); });
  }

  function queueFor(uuid) { return loadQueue().filter(function (i) { return i.note === uuid; }); }

  function withSenderLock(fn) {
    if (navigator.locks && navigator.locks.request) {
      return navigator.locks.request(LOCK_NAME, { ifAvailable: true }, function (lock) {
        return lock ? fn() : null;
      });
    }
    var leaseKey = LOCK_NAME + ".lease";
    var now = Date.now();
    var lease = null;
    try { lease = JSON.parse(window.localStorage.getItem(leaseKey) || "null"); } catch (e) { lease = null; }
    if (lease && lease.owner !== state.tabId && lease.until > now) { return Promise.resolve(); }
    window.localStorage.setItem(leaseKey, JSON.stringify({ owner: state.tabId, until: now + 30000 }));
    return fn().then(function () { window.localStorage.removeItem(leaseKey); },
      function () { window.localStorage.removeItem(leaseKey); });
  }

  function flush() {
    if (state.flushing || state.signedOut) { return Promise.resolve(); }
    state.flushing = true;
    return Promise.resolve(withSenderLock(sendDue)).catch(function () { return null; })
      .then(function () { state.flushing = false; showQueueStatus(); });
  }

  function sendDue() {
    // Strictly in order, so an edit never overtakes the note it changes.
    var next = loadQueue().filter(function (i) { return i.state === "pending"; })[0];
    if (!next || next.due > Date.now() || state.signedOut) { return Promise.resolve(); }
    return send(next).then(function (goOn) { return goOn ? sendDue() : null; });
  }

  function requestFor(item) {
    if (item.op === "create") { return { method: "POST", url: API + "/notes", body: item.data }; }
    if (item.op === "update") { return { method: "PATCH", url: API + "/notes/" + item.note, body: item.data }; }
    return { method: "DELETE", url: API + "/notes/" + item.note, body: null };
  }

  function send(item) {
    var req = requestFor(item);
    return apiFetch(req.method, req.url, req.body).then(function (res) {
      if (res.ok) {
        changeQueue(function (q) { removeFrom(q, item.key); });
        if (res.data && res.data.id) { state.serverNotes[res.data.id] = res.data; }
        renderNote(item.note);
        return true;
      }
      if (res.status === 401 || (res.status === 400 && /csrf/i.test(res.message))) {
        return refreshCsrf().then(function (ok) {
          retryLater(item, ok ? "retrying with a fresh security token" : "waiting for you to sign in again");
          return ok && item.tries < 3;
        });
      }
      if ([400, 403, 404, 409, 413, 422].indexOf(res.status) >= 0) {
        markFailed(item, res.message);
        return true;
      }
      retryLater(item, "the server is busy; retrying");
      return false;
    }, function () {
      retryLater(item, "no connection; retrying");
      return false;
    });
  }

  function removeFrom(queue, key) {
    for (var i = queue.length - 1; i >= 0; i -= 1) { if (queue[i].key === key) { queue.splice(i, 1); } }
  }

  function updateItem(key, fn) {
    changeQueue(function (q) { q.forEach(function (i) { if (i.key === key) { fn(i); } }); });
  }

  function retryLater(item, reason) {
    updateItem(item.key, function (i) {
      i.tries = (i.tries || 0) + 1;
      var delay = Math.min(MAX_DELAY_MS, 1000 * Math.pow(2, i.tries - 1));
      i.due = Date.now() + delay * (0.8 + Math.random() * 0.4);
      i.reason = reason;
    });
    renderNote(item.note);
  }

  function markFailed(item, message) {
    updateItem(item.key, function (i) { i.state = "failed"; i.error = message; });
    renderNote(item.note);
  }

  function showQueueStatus() {
    var queue = loadQueue();
    var pending = queue.filter(function (i) { return i.state === "pending"; }).length;
    var failed = queue.length - pending;
    var parts = [];
    if (pending) { parts.push(pending + (pending === 1 ? " change" : " changes") + " waiting to be sent"); }
    if (failed) { parts.push(failed + " not accepted by the server (see below)"); }
    var text = parts.join("; ");
    if (state.memoryQueue) { text += " (kept in memory only)"; }
    if ($("queue-status").textContent !== text) { $("queue-status").textContent = text; }
  }

  /* ---------- talking to the server ---------- */

  function apiFetch(method, url, body) {
    var headers = { "Accept": "application/json", "X-CSRFToken": state.csrf };
    if (body) { headers["Content-Type"] = "application/json"; }
    return fetch(url, {
      method: method, headers: headers, credentials: "same-origin", cache: "no-store",
      body: body ? JSON.stringify(body) : undefined
    }).then(function (res) {
      return res.json().catch(function () { return null; }).then(function (data) {
        var error = data && data.error;
        return { ok: res.ok, status: res.status, data: data,
          message: error ? error.message : "the server answered " + res.status };
      });
    });
  }

  function refreshCsrf() {
    return fetch("/api/v1/csrf", { credentials: "same-origin", cache: "no-store" }).then(function (res) {
      if (res.status === 401) { setSignedOut(true); return false; }
      if (!res.ok) { return false; }
      return res.json().then(function (data) {
        state.csrf = data.csrf_token;
        setSignedOut(false);
        return true;
      });
    }, function () { return false; });
  }

  function setSignedOut(value) {
    var was = state.signedOut;
    state.signedOut = value;
    $("signin-prompt").hidden = !value;
    if (was && !value) {
      changeQueue(function (q) { q.forEach(function (i) { i.due = 0; }); });
      flush();
      if (!stream || stream.readyState === 2) { connect(); }
    }
  }

  /* ---------- rendering the log ---------- */

  function noteView(uuid) {
    var server = state.serverNotes[uuid];
    var items = queueFor(uuid);
    var view = server ? Object.assign({}, server) : null;
    var status = "saved";
    var detail = "";
    items.forEach(function (i) {
      if (i.op === "create" && !view) {
        view = Object.assign({ author: { id: cfg.userId, name: cfg.userName }, deleted: false }, i.data);
      }
      if (i.op === "update" && view) { Object.assign(view, i.data); }
      if (i.op === "delete" && view && i.state === "pending") { view.deleted = true; }
      if (i.state === "failed") { status = "failed"; detail = i.error; }
      else if (status !== "failed") { status = "pending"; detail = i.reason || ""; }
    });
    if (view) { view.status = status; view.detail = detail; view.failedItems = items.filter(isFailed); }
    return view;
  }

  function isFailed(i) { return i.state === "failed"; }

  function taskLabel(taskId) {
    var task = cfg.tasks[taskId];
    return task ? "Task " + task.position : "";
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function logEntry(key, sortMs) {
    var log = $("log");
    var existing = log.querySelector('[data-key="' + key + '"]');
    if (existing) { return existing; }
    var li = el("li", "entry");
    li.dataset.key = key;
    li.dataset.sort = String(sortMs || 0);
    // Newest moment first; among equal moments, the latest arrival first.
    var before = Array.prototype.find.call(log.children, function (child) {
      return Number(child.dataset.sort) <= (sortMs || 0);
    });
    log.insertBefore(li, before || null);
    return li;
  }

  function renderNote(uuid) {
    var view = noteView(uuid);
    var li = $("log").querySelector('[data-key="note-' + uuid + '"]');
    if (!view || (view.deleted && !view.failedItems.length)) {
      if (li) { li.remove(); }
      showQueueStatus();
      return;
    }
    li = li || logEntry("note-" + uuid, view.elapsed_ms);
    li.className = "entry entry-note" + (view.severity !== null && view.severity !== undefined
      ? " sev-" + view.severity : "") + " is-" + view.status;
    li.textContent = "";
    var meta = el("p", "entry-meta");
    meta.appendChild(el("span", "entry-time", formatElapsed(view.elapsed_ms)));
    meta.appendChild(el("span", "entry-author", view.author.name));
    if (view.task_id) { meta.appendChild(el("span", "entry-task", taskLabel(view.task_id))); }
    if (view.severity !== null && view.severity !== undefined) {
      meta.appendChild(el("span", "entry-severity", "Severity " + view.severity));
    }
    (view.tags || []).forEach(function (tag) { meta.appendChild(el("span", "entry-tag", tag)); });
    var stateText = { saved: "Saved", pending: "Pending", failed: "Failed" }[view.status];
    var badge = el("span", "entry-state state-" + view.status, stateText);
    if (view.status === "pending" && view.detail) { badge.title = view.detail; }
    meta.appendChild(badge);
    li.appendChild(meta);
    li.appendChild(el("p", "entry-body", view.body));
    if (view.status === "failed") {
      li.appendChild(el("p", "entry-error", "Not saved: " + view.detail));
    }
    if (view.author.id === cfg.userId) { li.appendChild(noteActions(uuid, view)); }
    showQueueStatus();
  }

  function noteActions(uuid, view) {
    var box = el("p", "entry-actions");
    if (view.status === "failed") {
      box.appendChild(actionButton("Retry", "retry", uuid));
      box.appendChild(actionButton("Discard", "discard", uuid));
    } else {
      box.appendChild(actionButton("Edit", "edit", uuid));
      box.appendChild(actionButton("Delete", "delete", uuid));
    }
    return box;
  }

  function actionButton(label, action, uuid) {
    var b = el("button", "link-button", label);
    b.type = "button";
    b.dataset.action = action;
    b.dataset.note = uuid;
    b.setAttribute("aria-label", label + " note");
    return b;
  }

  function eventText(ev) {
    var who = ev.actor ? ev.actor.name : "";
    var task = ev.task ? "task " + (cfg.tasks[ev.task.id] ? cfg.tasks[ev.task.id].position : "") + " “" + ev.task.title + "”" : "";
    switch (ev.kind) {
      case "session.started": return who + " started the session";
      case "session.ended": return who + " ended the session";
      case "task.started": return who + " started " + task;
      case "task.ended": return who + " ended " + task + ": " + outcomeText(ev);
      case "sus.recorded": return who + " entered the SUS answers (score " + ev.score + ")";
      default: return "";
    }
  }

  function outcomeText(ev) {
    var parts = [OUTCOME_LABELS[ev.outcome] || ev.outcome];
    parts.push(ev.errors + (ev.errors === 1 ? " error" : " errors"));
    if (ev.seq) { parts.push("SEQ " + ev.seq); }
    return parts.join(", ");
  }

  function renderEvent(ev) {
    var text = eventText(ev);
    if (!text) { return; }
    var li = logEntry("event-" + ev.id, ev.elapsed_ms || 0);
    li.className = "entry entry-event";
    li.textContent = "";
    li.appendChild(el("span", "entry-time", formatElapsed(ev.elapsed_ms || 0)));
    li.appendChild(el("span", "entry-text", text));
  }

  /* ---------- session and task state ---------- */

  function applyEvent(ev) {
    if (ev.note) {
      state.serverNotes[ev.note.id] = ev.note;
      renderNote(ev.note.id);
      return;
    }
    if (ev.kind === "session.started") {
      state.status = "in_progress";
      state.startedAt = Date.parse(ev.started_at);
    } else if (ev.kind === "session.ended") {
      state.status = "completed";
      state.endedAt = Date.parse(ev.ended_at);
    } else if (ev.kind === "task.started") {
      state.currentTaskId = ev.task.id;
      setTaskState(ev.task.id, "running", "Running");
    } else if (ev.kind === "task.ended") {
      if (state.currentTaskId === ev.task.id) { state.currentTaskId = null; }
      setTaskState(ev.task.id, "done", outcomeText(ev).replace(/, /g, " · "));
    }
    renderEvent(ev);
    refreshControls();
  }

  function setTaskState(taskId, value, text) {
    var li = document.querySelector('#task-list [data-task-id="' + taskId + '"]');
    if (!li) { return; }
    li.dataset.state = value;
    li.querySelector('[data-role="state"]').textContent = text;
  }

  function refreshControls() {
    var status = $("session-status");
    status.className = "status status-" + state.status;
    status.textContent = STATUS_LABELS[state.status] || state.status;
    document.querySelectorAll("#task-list .task").forEach(function (li) {
      var current = Number(li.dataset.taskId) === state.currentTaskId;
      li.classList.toggle("current", current);
      if (current) { li.setAttribute("aria-current", "step"); } else { li.removeAttribute("aria-current"); }
      var start = li.querySelector('[data-action="start-task"]');
      if (start) {
        start.hidden = li.dataset.state !== "todo";
        start.disabled = state.status !== "in_progress" || state.currentTaskId !== null;
      }
    });
    $("note-task").textContent = state.currentTaskId
      ? "New notes go to " + taskLabel(state.currentTaskId) + ": " + cfg.tasks[state.currentTaskId].title + "."
      : "No task running.";
    if (!cfg.canRun) { return; }
    $("start-session").hidden = state.status !== "scheduled";
    $("end-session").hidden = state.status !== "in_progress";
    $("sus-link").hidden = state.status !== "completed";
    var screenForm = $("screen-form");
    if (screenForm) { screenForm.hidden = state.status !== "scheduled" && state.status !== "in_progress"; }
    var form = $("end-task-form");
    var wasHidden = form.hidden;
    form.hidden = state.currentTaskId === null;
    if (state.currentTaskId !== null) {
      $("end-task-name").textContent = taskLabel(state.currentTaskId) + ": " + cfg.tasks[state.currentTaskId].title;
      if (wasHidden) { form.reset(); }
    }
  }

  function moderatorAction(path, body) {
    var message = $("moderator-message");
    message.textContent = "";
    return apiFetch("POST", API + path, body || {}).then(function (res) {
      if (res.ok) { return res.data; }
      if (res.status === 401 || /csrf/i.test(res.message)) {
        return refreshCsrf().then(function (ok) {
          message.textContent = ok ? "Security token refreshed: please repeat that." : "Please sign in again.";
        });
      }
      message.textContent = res.message.charAt(0).toUpperCase() + res.message.slice(1) + ".";
      return null;
    }, function () {
      message.textContent = "No connection: that did not reach the server. Try again when the connection is back.";
    });
  }

  function startNextTask() {
    if (!cfg.canRun) { return; }
    var next = document.querySelector('#task-list .task[data-state="todo"]');
    if (next) { moderatorAction("/tasks/" + next.dataset.taskId + "/start"); }
  }

  function endTaskSubmitted(event) {
    event.preventDefault();
    var outcome = $("end-outcome").value;
    if (!outcome) {
      $("moderator-message").textContent = "Choose the task's outcome first.";
      $("end-outcome").focus();
      return;
    }
    var seq = $("end-seq").value;
    moderatorAction("/tasks/" + state.currentTaskId + "/end", {
      outcome: outcome, errors: Number($("end-errors").value || 0), seq: seq ? Number(seq) : null
    }).then(function (data) { if (data) { $("note-input").focus(); } });
  }

  /* ---------- writing notes ---------- */

  function selectedSeverity() {
    var checked = document.querySelector('input[name="severity"]:checked');
    return checked && checked.value !== "" ? Number(checked.value) : null;
  }

  function setSeverity(value) {
    var input = document.querySelector('input[name="severity"][value="' + value + '"]');
    if (input) { input.checked = true; }
  }

  function toggleTag(tag) {
    var button = document.querySelector('.tag-toggle[data-tag="' + tag + '"]');
    if (!button) { return; }
    var on = button.getAttribute("aria-pressed") !== "true";
    button.setAttribute("aria-pressed", on ? "true" : "false");
  }

  function selectedTags() {
    return Array.prototype.map.call(document.querySelectorAll('.tag-toggle[aria-pressed="true"]'),
      function (b) { return b.dataset.tag; });
  }

  function saveNote(event) {
    if (event) { event.preventDefault(); }
    var input = $("note-input");
    var body = input.value.trim();
    if (!body) { $("note-message").textContent = "Type a note first."; return; }
    if (body.length > 10000) { $("note-message").textContent = "A note can hold at most 10,000 characters."; return; }
    $("note-message").textContent = "";
    var id = newUuid();
    // Stamped now, not when it reaches the server: a queued note keeps its moment and task.
    enqueue({ op: "create", note: id, data: {
      id: id, body: body, tags: selectedTags(), severity: selectedSeverity(),
      task_id: state.currentTaskId, elapsed_ms: Math.round(elapsedNow())
    } });
    input.value = "";
    document.querySelectorAll(".tag-toggle").forEach(function (b) { b.setAttribute("aria-pressed", "false"); });
    setSeverity("");
    renderNote(id);
    flush();
  }

  function editNote(uuid) {
    var view = noteView(uuid);
    var li = $("log").querySelector('[data-key="note-' + uuid + '"]');
    if (!view || !li) { return; }
    var body = li.querySelector(".entry-body");
    var label = el("label", "visually-hidden", "Edit note");
    var field = el("textarea", "entry-edit");
    field.id = "edit-" + uuid;
    label.htmlFor = field.id;
    field.value = view.body;
    field.rows = 2;
    body.replaceWith(field);
    field.before(label);
    field.focus();
    field.addEventListener("keydown", function (e) {
      if (e.key === "Escape") { e.preventDefault(); renderNote(uuid); }
      if (e.key === "Enter" && !e.shiftKey) {
        e.preventDefault();
        var text = field.value.trim();
        if (!text) { return; }
        queueChange(uuid, "update", { body: text });
      }
    });
  }

  function queueChange(uuid, op, data) {
    var pendingCreate = queueFor(uuid).filter(function (i) { return i.op === "create" && i.state === "pending"; })[0];
    if (pendingCreate) {
      // Not on the server yet: change or drop the queued note itself.
      changeQueue(function (q) {
        if (op === "delete") { removeFrom(q, pendingCreate.key); return; }
        q.forEach(function (i) { if (i.key === pendingCreate.key) { Object.assign(i.data, data); } });
      });
    } else {
      enqueue({ op: op, note: uuid, data: data });
    }
    renderNote(uuid);
    flush();
  }

  function onLogClick(event) {
    var button = event.target.closest("button[data-action]");
    if (!button) { return; }
    var uuid = button.dataset.note;
    var action = button.dataset.action;
    if (action === "edit") { editNote(uuid); }
    if (action === "delete" && window.confirm("Delete this note? Researchers can still see it was deleted.")) {
      queueChange(uuid, "delete", null);
    }
    if (action === "retry") {
      changeQueue(function (q) {
        q.forEach(function (i) { if (i.note === uuid && i.state === "failed") { i.state = "pending"; i.due = 0; i.tries = 0; } });
      });
      renderNote(uuid);
      flush();
    }
    if (action === "discard" && window.confirm("Discard this note for good? It was never saved.")) {
      changeQueue(function (q) {
        for (var i = q.length - 1; i >= 0; i -= 1) { if (q[i].note === uuid && q[i].state === "failed") { q.splice(i, 1); } }
      });
      renderNote(uuid);
    }
  }

  /* ---------- live stream ---------- */

  var stream = null;
  var reconnectTimer = null;

  function setConnection(kind, text) {
    var node = $("connection");
    node.className = "conn conn-" + kind;
    if (node.textContent !== text) { node.textContent = text; }
  }

  function connect() {
    if (stream) { stream.close(); }
    window.clearTimeout(reconnectTimer);
    setConnection("connecting", "Connecting…");
    stream = new EventSource(API + "/stream?after=" + state.lastEventId);
    stream.onopen = function () { setConnection("live", "Live"); };
    stream.onmessage = function (message) {
      var ev = JSON.parse(message.data);
      if (ev.id <= state.lastEventId) { return; }
      state.lastEventId = ev.id;
      applyEvent(ev);
    };
    stream.onerror = function () {
      if (stream.readyState === 2) {
        // Refused (signed out, or access removed): find out which, then try again.
        setConnection("offline", "Disconnected");
        refreshCsrf().then(function () { reconnectTimer = window.setTimeout(connect, 5000); });
      } else {
        setConnection("reconnecting", navigator.onLine === false ? "Offline – reconnecting…" : "Reconnecting…");
      }
    };
  }

  /* ---------- keyboard ---------- */

  var TAG_KEYS = { KeyP: "problem", KeyQ: "quote", KeyO: "positive", KeyI: "idea", KeyB: "bug" };

  function onKeydown(event) {
    var dialog = $("help-dialog");
    if (dialog.open) { return; }
    var target = event.target;
    var typing = target.matches("input, textarea, select");
    if (event.altKey && !event.ctrlKey && !event.metaKey && handleAltKey(event)) {
      event.preventDefault();
      return;
    }
    if (target.id === "note-input" && event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      saveNote(event);
      return;
    }
    if (target.id === "note-input" && event.key === "Escape") { target.blur(); return; }
    if (typing || event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (event.key === "?") { event.preventDefault(); openHelp(); }
    if (event.key === "/") { event.preventDefault(); $("note-input").focus(); }
  }

  function handleAltKey(event) {
    var code = event.code;
    if (event.shiftKey && /^Digit[1-9]$/.test(code)) {
      var custom = document.querySelectorAll('.tag-toggle[aria-keyshortcuts^="Alt+Shift"]')[Number(code.slice(5)) - 1];
      if (custom) { toggleTag(custom.dataset.tag); return true; }
      return false;
    }
    if (TAG_KEYS[code]) { toggleTag(TAG_KEYS[code]); return true; }
    if (/^Digit[0-4]$/.test(code)) { setSeverity(code.slice(5)); return true; }
    if (code === "Minus") { setSeverity(""); return true; }
    if (code === "KeyN") { $("note-input").focus(); return true; }
    if (code === "KeyS" && cfg.canRun) { startNextTask(); return true; }
    if (code === "KeyD" && cfg.canRun && state.currentTaskId !== null) { $("end-outcome").focus(); return true; }
    return false;
  }

  function openHelp() {
    var dialog = $("help-dialog");
    if (typeof dialog.showModal === "function") { dialog.showModal(); } else { dialog.setAttribute("open", ""); }
    $("help-close").focus();
  }

  /* ---------- offline page (service worker) ---------- */

  function prepareOffline() {
    if (!("serviceWorker" in navigator) || !window.caches) { return; }
    navigator.serviceWorker.register("/observe-sw.js", { scope: "/sessions/" })
      .then(function () { return navigator.serviceWorker.ready; })
      .then(function () { return window.caches.open("usabtest-console-v1"); })
      .then(function (cache) {
        var assets = [window.location.pathname];
        document.querySelectorAll('link[rel="stylesheet"], script[src]').forEach(function (node) {
          assets.push(node.getAttribute("href") || node.getAttribute("src"));
        });
        return cache.addAll(assets);
      })
      .then(function () { root.dataset.offlineReady = "1"; })
      .catch(function () { root.dataset.offlineReady = "0"; });
  }

  /* ---------- start ---------- */

  function wire() {
    $("note-form").addEventListener("submit", saveNote);
    $("log").addEventListener("click", onLogClick);
    document.addEventListener("keydown", onKeydown);
    $("help-button").addEventListener("click", openHelp);
    document.querySelectorAll(".tag-toggle").forEach(function (b) {
      b.addEventListener("click", function () { toggleTag(b.dataset.tag); });
    });
    if (cfg.canRun) {
      $("start-session").addEventListener("click", function () { moderatorAction("/start"); });
      $("end-session").addEventListener("click", function () {
        if (window.confirm("End the session? The participant screen will close.")) { moderatorAction("/end"); }
      });
      $("end-task-form").addEventListener("submit", endTaskSubmitted);
      $("task-list") && $("task-list").addEventListener("click", function (event) {
        var button = event.target.closest('[data-action="start-task"]');
        if (button) { moderatorAction("/tasks/" + button.closest(".task").dataset.taskId + "/start"); }
      });
    }
    window.addEventListener("online", function () {
      changeQueue(function (q) { q.forEach(function (i) { i.due = 0; }); });
      flush();
      if (!stream || stream.readyState !== 1) { connect(); }
    });
    window.addEventListener("offline", function () { setConnection("reconnecting", "Offline – reconnecting…"); });
    window.addEventListener("storage", function (event) {
      if (event.key === QUEUE_KEY) { renderQueued(); }
    });
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) { if (state.signedOut) { refreshCsrf(); } else { flush(); } }
    });
    $("signin-link").addEventListener("click", function () {
      // Check often while the user signs in in the other tab.
      var timer = window.setInterval(function () {
        refreshCsrf().then(function (ok) { if (ok) { window.clearInterval(timer); } });
      }, 2000);
    });
  }

  function renderQueued() {
    var seen = {};
    loadQueue().forEach(function (i) { if (!seen[i.note]) { seen[i.note] = true; renderNote(i.note); } });
    showQueueStatus();
  }

  wire();
  renderQueued();
  refreshControls();
  tickClock();
  window.setInterval(tickClock, 1000);
  window.setInterval(function () {
    if (state.signedOut) { refreshCsrf(); } else { flush(); }
  }, 1000);
  connect();
  flush();
  prepareOffline();
}());
