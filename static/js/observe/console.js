/* The live observation console: session clock, moderator controls, note input, keyboard shortcuts.
 *
 * Its settings, labels and limits come from the server in the page's #console-config JSON block.
 * Notes go through the queue (queue.js) so none is ever lost; everything the team does arrives through
 * one event stream (stream.js) and is drawn in the live log (log.js).
 */

import { Api } from "./api.js";
import { counted, formatCount, formatElapsed, newUuid, sentence } from "./format.js";
import { LiveLog, outcomeParts } from "./log.js";
import { NoteQueue } from "./queue.js";
import { EventStream } from "./stream.js";

const CONNECTION_TEXT = {
  connecting: () => "Connecting…",
  live: () => "Live",
  reconnecting: () => (navigator.onLine === false ? "Offline – reconnecting…" : "Reconnecting…"),
  disconnected: () => "Disconnected",
};
const CONNECTION_CLASS = { connecting: "connecting", live: "live", reconnecting: "reconnecting",
  disconnected: "offline" };
const OFFLINE_CACHE = "usabtest-console-v1";

function $(id) { return document.getElementById(id); }

/** Everything the console keeps about the session between events. */
class SessionState {
  constructor(cfg) {
    this.status = cfg.status;
    this.startedAt = cfg.startedAt ? Date.parse(cfg.startedAt) : null;
    this.endedAt = cfg.endedAt ? Date.parse(cfg.endedAt) : null;
    this.clockOffset = Date.parse(cfg.serverNow) - Date.now();
    this.currentTaskId = cfg.currentTaskId;
    this.taskStartedAt = cfg.currentTaskStartedAt ? Date.parse(cfg.currentTaskStartedAt) : null;
    this.lastEndedTaskId = cfg.lastEndedTaskId;
    this.question = cfg.question; // on the participant's screen now, or null
    this.susScore = cfg.susScore;
  }

  /** The server's clock now, in milliseconds. */
  serverNow() { return Date.now() + this.clockOffset; }

  /** Milliseconds since the running task started (null when none runs). */
  taskElapsed() {
    if (this.currentTaskId === null || this.taskStartedAt === null) { return null; }
    return Math.max(0, this.serverNow() - this.taskStartedAt);
  }

  /** Milliseconds into the session by the server's clock (frozen once it ended). */
  elapsedNow() {
    if (!this.startedAt) { return 0; }
    return Math.max(0, (this.endedAt || Date.now() + this.clockOffset) - this.startedAt);
  }
}

/** " · attempt 2" for a restarted task's later attempts, "" for a first attempt. */
function attemptSuffix(event) {
  return event.attempt && event.attempt.number > 1 ? ` · attempt ${event.attempt.number}` : "";
}

/** Alt-key shortcuts from the server's tag list: "P" is Alt+P, "Shift+1" is Alt+Shift+1. */
function shortcutKey(event) {
  const match = /^(?:Key([A-Z])|Digit([0-9]))$/.exec(event.code);
  if (!match) { return null; }
  return (event.shiftKey ? "Shift+" : "") + (match[1] || match[2]);
}

class Console {
  constructor(root, cfg) {
    this.root = root;
    this.cfg = cfg;
    this.state = new SessionState(cfg);
    const csrfMeta = document.querySelector('meta[name="csrf-token"]');
    this.api = new Api({ base: cfg.api, csrfUrl: cfg.csrfUrl, csrfToken: csrfMeta ? csrfMeta.content : "" });
    this.queue = new NoteQueue({ api: this.api, sessionId: cfg.sessionId, userId: cfg.userId });
    this.log = new LiveLog({ list: $("log"), config: cfg, queue: this.queue });
    this.stream = new EventStream({
      url: `${cfg.api}/stream`, api: this.api,
      onEvent: (event) => this.applyEvent(event),
      onState: (kind) => this.setConnection(kind),
    });
    this.tagKeys = new Map(cfg.tags.filter((t) => t.key).map((t) => [t.key, t.tag]));
    this.kinds = cfg.kinds.map((k) => k.value);
    this.kindCode = `Key${cfg.kindKey}`;
    this.severities = Object.keys(cfg.severityLabels);
  }

  start() {
    // Tablets and phones show the note box first and the script folded away (a tap opens it).
    if (window.matchMedia("(max-width: 59.99rem)").matches) { $("script-details").open = false; }
    this.wire();
    this.log.renderAllNotes();
    this.showQueueStatus();
    this.refreshControls();
    this.tickClock();
    window.setInterval(() => this.tickClock(), 1000);
    // Picks up retries that fell due, and notices the sign-in coming back.
    window.setInterval(() => { if (this.api.signedOut) { this.api.refreshCsrf(); } else { this.queue.flush(); } }, 1000);
    window.setInterval(() => this.stream.watch(), 1000);
    this.stream.connect();
    this.queue.flush();
    this.prepareOffline();
  }

  /* ---------- status lines ---------- */

  tickClock() {
    $("session-clock").textContent = formatElapsed(this.state.elapsedNow());
    this.tickTaskClock();
    this.showUndo();
  }

  /** The running task's timer, its time limit beside it, and the alert once the limit has passed. */
  tickTaskClock() {
    const state = this.state;
    const elapsed = state.taskElapsed();
    const box = $("task-clock-box");
    box.hidden = elapsed === null;
    if (elapsed === null) { return; }
    const task = this.cfg.tasks[state.currentTaskId] || {};
    const limitMs = task.timeLimitS ? task.timeLimitS * 1000 : null;
    const clock = formatElapsed(elapsed);
    if ($("task-clock").textContent !== clock) { $("task-clock").textContent = clock; }
    const limitText = limitMs ? `limit ${formatElapsed(limitMs)}` : "no time limit";
    if ($("task-limit").textContent !== limitText) { $("task-limit").textContent = limitText; }
    const over = limitMs !== null && elapsed >= limitMs;
    box.classList.toggle("over", over);
    // Said once per attempt, in a polite live region: the focus stays where the user is typing.
    const key = `${state.currentTaskId}@${state.taskStartedAt}`;
    if (over && this.alertedFor !== key) {
      this.alertedFor = key;
      $("task-alert").textContent =
        `${this.currentTaskText()} has passed its time limit of ${formatElapsed(limitMs)}.`;
    }
  }

  clearTaskAlert() {
    this.alertedFor = null;
    $("task-alert").textContent = "";
  }

  /** The moderator's "Undo task start" button, shown for the first seconds of a task. */
  showUndo() {
    if (!this.cfg.canRun) { return; }
    const button = $("undo-start");
    const elapsed = this.state.taskElapsed();
    const left = elapsed === null ? 0 : Math.ceil((this.cfg.undoSeconds * 1000 - elapsed) / 1000);
    const show = left > 0 && this.state.status === "in_progress";
    if (!show && !button.hidden && document.activeElement === button) { $("note-input").focus(); }
    button.hidden = !show;
    if (show) {
      const text = `Undo start of ${this.log.taskLabel(this.state.currentTaskId).toLowerCase()} (${left} s)`;
      if (button.textContent !== text) { button.textContent = text; }
    }
  }

  setConnection(kind) {
    this.connection = kind;
    this.showConnection();
  }

  /** The badge: the stream's state, and how many of this author's notes still wait to be sent. */
  showConnection() {
    const kind = this.connection || "connecting";
    const node = $("connection");
    node.className = `conn conn-${CONNECTION_CLASS[kind]}`;
    const waiting = this.queue.waitingNotes();
    let text = CONNECTION_TEXT[kind]();
    if (waiting) { text += ` · ${counted(waiting, "note", "notes")} waiting to be sent`; }
    if (node.textContent !== text) { node.textContent = text; }
  }

  showQueueStatus() {
    this.showConnection();
    const { pending, failed } = this.queue.counts();
    const parts = [];
    if (pending) { parts.push(`${counted(pending, "change", "changes")} waiting to be sent`); }
    if (failed) { parts.push(`${failed} not accepted by the server (see below)`); }
    let text = parts.join("; ");
    if (this.queue.inMemoryOnly) {
      text = `This browser cannot store notes offline; keep this tab open until they are sent. ${text}`.trim();
    }
    if ($("queue-status").textContent !== text) { $("queue-status").textContent = text; }
  }

  /* ---------- session and task state ---------- */

  applyEvent(event) {
    if (event.note) {
      this.log.noteSaved(event.note);
      this.showQueueStatus();
      return;
    }
    const state = this.state;
    if (event.kind === "session.started") {
      state.status = "in_progress";
      state.startedAt = Date.parse(event.started_at);
    } else if (event.kind === "session.ended") {
      state.status = "completed";
      state.endedAt = Date.parse(event.ended_at);
    } else if (event.kind === "task.started") {
      state.currentTaskId = event.task.id;
      state.taskStartedAt = event.attempt ? Date.parse(event.attempt.started_at) : Date.parse(event.at);
      this.clearTaskAlert();
      this.setTaskState(event.task.id, "running", `Running${attemptSuffix(event)}`);
    } else if (event.kind === "task.ended") {
      if (state.currentTaskId === event.task.id) { state.currentTaskId = null; state.taskStartedAt = null; }
      state.lastEndedTaskId = event.task.id;
      this.clearTaskAlert();
      this.setTaskState(event.task.id, "done",
        outcomeParts(event, this.cfg.labels.outcome).join(" · ") + attemptSuffix(event));
    } else if (event.kind === "task.undone") {
      this.clearTaskAlert();
      if (event.resumed) {
        state.currentTaskId = event.task.id;
        state.taskStartedAt = Date.parse(event.resumed.started_at);
        this.setTaskState(event.task.id, "running", "Running");
      } else {
        if (state.currentTaskId === event.task.id) { state.currentTaskId = null; state.taskStartedAt = null; }
        if (event.latest) {
          this.setTaskState(event.task.id, "done",
            outcomeParts(event.latest, this.cfg.labels.outcome).join(" · ") + attemptSuffix(event.latest));
        } else {
          this.setTaskState(event.task.id, "todo", "Not started");
        }
      }
    } else if ((event.kind === "attempt.corrected" || event.kind === "seq.answered") && event.latest
               && state.currentTaskId !== event.task.id) {
      this.setTaskState(event.task.id, "done",
        outcomeParts(event, this.cfg.labels.outcome).join(" · ") + attemptSuffix(event));
    }
    this.applyQuestionEvent(event);
    this.log.renderEvent(event);
    this.refreshControls();
  }

  /** The participant screen's question: asked, withdrawn, answered (the SUS score shows at once). */
  applyQuestionEvent(event) {
    const state = this.state;
    if (event.kind === "screen.asked") {
      state.question = event.question;
      this.questionNews = "";
    } else if (event.kind === "screen.withdrawn") {
      state.question = null;
      this.questionNews = "";
    } else if (event.kind === "seq.answered") {
      state.question = null;
      this.questionNews = `The participant answered the SEQ of ${this.log.taskLabel(event.task.id).toLowerCase()}: ${event.seq}.`;
    } else if (event.kind === "sus.recorded") {
      state.susScore = event.score;
      if (event.by_participant) {
        state.question = null;
        this.questionNews = `The participant answered the SUS: score ${event.score}.`;
      }
    }
  }

  /** What the participant's screen asks now, the last answer, and the SUS score. */
  showQuestion() {
    const question = this.state.question;
    let text = this.questionNews || "";
    if (question) {
      text = question.kind === "seq"
        ? `On the participant screen: the SEQ of task ${question.task.number}. Waiting for the answer…`
        : "On the participant screen: the SUS. Waiting for the answers…";
    }
    if ($("question-status").textContent !== text) { $("question-status").textContent = text; }
    const score = this.state.susScore === null || this.state.susScore === undefined
      ? "" : `SUS score: ${this.state.susScore}`;
    if ($("sus-score").textContent !== score) { $("sus-score").textContent = score; }
  }

  /** The moderator's buttons that put a question on the participant's screen, or take it off. */
  showAskButtons() {
    const state = this.state;
    const free = state.status === "in_progress" && state.currentTaskId === null;
    const askSeq = $("ask-seq");
    askSeq.hidden = !free || state.lastEndedTaskId === null || state.lastEndedTaskId === undefined;
    if (!askSeq.hidden) {
      const text = `Ask the SEQ of ${this.log.taskLabel(state.lastEndedTaskId).toLowerCase()} on the participant screen`;
      if (askSeq.textContent !== text) { askSeq.textContent = text; }
    }
    $("ask-sus").hidden = !free;
    $("withdraw-question").hidden = !state.question || state.status !== "in_progress";
  }

  setTaskState(taskId, value, text) {
    const li = document.querySelector(`#task-list [data-task-id="${taskId}"]`);
    if (!li) { return; }
    li.dataset.state = value;
    li.querySelector('[data-role="state"]').textContent = text;
  }

  currentTaskText() {
    const id = this.state.currentTaskId;
    return `${this.log.taskLabel(id)}: ${this.cfg.tasks[id].title}`;
  }

  refreshControls() {
    const state = this.state;
    const status = $("session-status");
    status.className = `status status-${state.status}`;
    status.textContent = this.cfg.labels.status[state.status] || state.status;
    document.querySelectorAll("#task-list .task").forEach((li) => {
      const current = Number(li.dataset.taskId) === state.currentTaskId;
      li.classList.toggle("current", current);
      if (current) { li.setAttribute("aria-current", "step"); } else { li.removeAttribute("aria-current"); }
      const start = li.querySelector('[data-action="start-task"]');
      if (start) {
        start.hidden = li.dataset.state !== "todo";
        start.disabled = state.status !== "in_progress" || state.currentTaskId !== null;
      }
      const restart = li.querySelector('[data-action="restart-task"]');
      if (restart) {
        restart.hidden = li.dataset.state !== "done";
        restart.disabled = state.status !== "in_progress" || state.currentTaskId !== null;
      }
    });
    this.tickTaskClock();
    this.showUndo();
    $("note-task").textContent = state.currentTaskId !== null
      ? `New notes go to ${this.currentTaskText()}.` : "No task running.";
    this.showCurrentTask();
    this.showQuestion();
    if (!this.cfg.canRun) { return; }
    this.showAskButtons();
    $("start-session").hidden = state.status !== "scheduled";
    $("end-session").hidden = state.status !== "in_progress";
    $("sus-link").hidden = state.status !== "completed";
    const screenForm = $("screen-form");
    if (screenForm) { screenForm.hidden = state.status !== "scheduled" && state.status !== "in_progress"; }
    const form = $("end-task-form");
    const wasHidden = form.hidden;
    form.hidden = state.currentTaskId === null;
    if (state.currentTaskId !== null) {
      $("end-task-name").textContent = this.currentTaskText();
      if (wasHidden) { form.reset(); }
    }
    const next = this.nextTask();
    const startNext = $("start-next");
    startNext.hidden = !next || state.status !== "in_progress" || state.currentTaskId !== null;
    if (next) {
      const task = this.cfg.tasks[next.dataset.taskId];
      startNext.firstChild.textContent = `Start next task (${task.position}. ${task.title}) `;
    }
  }

  /** The running task (title and scenario) in the panel beside the note box. */
  showCurrentTask() {
    const id = this.state.currentTaskId;
    const task = id !== null ? this.cfg.tasks[id] : null;
    const title = task ? this.currentTaskText() : "No task running.";
    if ($("current-task").textContent !== title) { $("current-task").textContent = title; }
    const scenario = task ? task.scenario || "" : "";
    if ($("current-scenario").textContent !== scenario) { $("current-scenario").textContent = scenario; }
  }

  /** The first task of the script not attempted yet (its list item), or null. */
  nextTask() {
    return document.querySelector('#task-list .task[data-state="todo"]');
  }

  /* ---------- moderator controls ---------- */

  async moderatorAction(path, body, method = "POST") {
    const message = $("moderator-message");
    message.textContent = "";
    let res;
    try {
      res = await this.api.call(method, path, method === "DELETE" ? null : body || {});
    } catch (e) {
      message.textContent = "No connection: that did not reach the server. Try again when the connection is back.";
      return null;
    }
    if (res.ok) { return res.data; }
    if (Api.isAuthRefusal(res) || /csrf/i.test(res.message)) {
      const renewed = await this.api.refreshCsrf();
      message.textContent = renewed ? "Security token refreshed: please repeat that." : "Please sign in again.";
      return null;
    }
    message.textContent = sentence(res.message);
    return null;
  }

  /** Start the session; the focus goes to the control that starts the first task. */
  async startSession() {
    const data = await this.moderatorAction("/start");
    if (!data) { return; }
    this.applyState(data);
    const next = $("start-next");
    (next.hidden ? $("note-input") : next).focus();
  }

  /** End the session (asked first); the focus goes to the SUS control, the next step. */
  async endSession() {
    if (!window.confirm("End the session? The participant screen will close.")) { return; }
    const data = await this.moderatorAction("/end");
    if (!data) { return; }
    this.applyState(data);
    $("sus-link").focus();
  }

  /** Take the state a moderator action answered with at once (its event follows on the stream). */
  applyState(data) {
    const state = this.state;
    state.status = data.status;
    if (data.started_at) { state.startedAt = Date.parse(data.started_at); }
    if (data.ended_at) { state.endedAt = Date.parse(data.ended_at); }
    this.refreshControls();
  }

  async undoTaskStart() {
    const taskId = this.state.currentTaskId;
    if (taskId === null) { return; }
    const data = await this.moderatorAction(`/tasks/${taskId}/undo`);
    if (data) { $("note-input").focus(); }
  }

  async startNextTask() {
    const next = this.nextTask();
    if (next) { await this.startTask(next.dataset.taskId, "start"); }
  }

  /** Start (or restart) a task; the focus goes to the note box, where the observing goes on. */
  async startTask(taskId, verb) {
    const data = await this.moderatorAction(`/tasks/${taskId}/${verb}`);
    if (data) { $("note-input").focus(); }
  }

  outcomeInputs() {
    return Array.from(document.querySelectorAll('#end-outcome input[name="outcome"]'));
  }

  /** Alt+D: into the outcome choice (the chosen one, else the first), ready for a number and Enter. */
  focusOutcome() {
    const inputs = this.outcomeInputs();
    const target = inputs.find((input) => input.checked) || inputs[0];
    if (target) { target.focus(); }
  }

  /** In the end-task form: 1-5 picks the outcome, Enter on an outcome ends the task. */
  onEndTaskKeydown(event) {
    if (event.altKey || event.ctrlKey || event.metaKey) { return; }
    const inOutcome = event.target.name === "outcome";
    const digit = /^Digit([1-9])$/.exec(event.code) || /^Numpad([1-9])$/.exec(event.code);
    if (digit && (inOutcome || event.target.tagName === "BUTTON")) {
      const input = this.outcomeInputs()[Number(digit[1]) - 1];
      if (input) {
        event.preventDefault();
        input.checked = true;
        input.focus();
      }
      return;
    }
    if (event.key === "Enter" && inOutcome) {
      event.preventDefault();
      $("end-task-form").requestSubmit();
    }
  }

  async endTaskSubmitted(event) {
    event.preventDefault();
    const chosen = this.outcomeInputs().find((input) => input.checked);
    const outcome = chosen ? chosen.value : "";
    if (!outcome) {
      $("moderator-message").textContent = "Choose the task's outcome first.";
      this.focusOutcome();
      return;
    }
    const seq = $("end-seq").value;
    const data = await this.moderatorAction(`/tasks/${this.state.currentTaskId}/end`, {
      outcome, errors: Number($("end-errors").value || 0), seq: seq ? Number(seq) : null,
    });
    if (data) { $("note-input").focus(); }
  }

  /* ---------- writing notes ---------- */

  selectedSeverity() {
    const checked = document.querySelector('input[name="severity"]:checked');
    return checked && checked.value !== "" ? Number(checked.value) : null;
  }

  setSeverity(value) {
    const input = document.querySelector(`input[name="severity"][value="${value}"]`);
    if (input) { input.checked = true; }
  }

  selectedKind() {
    const checked = document.querySelector('input[name="kind"]:checked');
    return checked ? checked.value : this.kinds[0];
  }

  setKind(value) {
    const input = document.querySelector(`input[name="kind"][value="${value}"]`);
    if (input) { input.checked = true; }
  }

  /** The next kind in the server's order (observation, quote, positive, question, then round again). */
  nextKind() {
    const index = this.kinds.indexOf(this.selectedKind());
    this.setKind(this.kinds[(index + 1) % this.kinds.length]);
  }

  toggleTag(tag) {
    const button = Array.from(document.querySelectorAll(".tag-toggle")).find((b) => b.dataset.tag === tag);
    if (!button) { return; }
    button.setAttribute("aria-pressed", button.getAttribute("aria-pressed") === "true" ? "false" : "true");
  }

  selectedTags() {
    return Array.from(document.querySelectorAll('.tag-toggle[aria-pressed="true"]'), (b) => b.dataset.tag);
  }

  /** Check a note against the server's limits; the problem in words, or "" when it may be sent. */
  noteProblem(body, tags) {
    const limits = this.cfg.limits;
    if (!body) { return "Type a note first."; }
    if (body.length > limits.noteBody) {
      return `A note can hold at most ${formatCount(limits.noteBody)} characters.`;
    }
    if (tags.length > limits.noteTags) { return `A note can have at most ${limits.noteTags} tags.`; }
    return "";
  }

  saveNote(event) {
    if (event) { event.preventDefault(); }
    const input = $("note-input");
    const body = input.value.trim();
    const tags = this.selectedTags();
    const problem = this.noteProblem(body, tags);
    $("note-message").textContent = problem;
    if (problem) { return; }
    const id = newUuid();
    // The moment the first character was typed (the moment the note is about), not Enter's; a queued
    // note keeps its moment and task however late it reaches the server.
    const moment = this.noteMoment || this.momentNow();
    this.queue.create(id, {
      id, body, tags, severity: this.selectedSeverity(), kind: this.selectedKind(),
      task_id: moment.taskId, elapsed_ms: moment.elapsedMs,
    });
    this.noteMoment = null;
    input.value = "";
    document.querySelectorAll(".tag-toggle").forEach((b) => b.setAttribute("aria-pressed", "false"));
    this.setSeverity("");
    this.setKind(this.kinds[0]);
  }

  momentNow() {
    return { elapsedMs: Math.round(this.state.elapsedNow()), taskId: this.state.currentTaskId };
  }

  /** Stamp the note at its first character; emptying the box forgets the stamp. */
  noteTyped() {
    if (!$("note-input").value.trim()) {
      this.noteMoment = null;
    } else if (!this.noteMoment) {
      this.noteMoment = this.momentNow();
    }
  }

  onLogClick(event) {
    const button = event.target.closest("button[data-action]");
    if (!button) { return; }
    const uuid = button.dataset.note;
    const action = button.dataset.action;
    if (action === "edit") {
      this.log.editNote(uuid, (body) => {
        const problem = this.noteProblem(body, []);
        if (problem) { $("note-message").textContent = problem; return false; }
        const saved = this.log.saved[uuid];
        this.queue.change(uuid, "update", { body }, saved ? saved.version : null);
        // Once the edit box closes, back to the note box: the observing goes on.
        window.queueMicrotask(() => $("note-input").focus());
        return true;
      });
    }
    if (action === "delete" && window.confirm("Delete this note? It goes to the study's Recently deleted list, where researchers can restore it for 30 days.")) {
      this.queue.change(uuid, "delete", null);
    }
    if (action === "retry") { this.queue.retry(uuid); }
    if (action === "discard" && window.confirm("Discard this note for good? It was never saved.")) {
      this.queue.discard(uuid);
    }
  }

  /* ---------- keyboard ---------- */

  onKeydown(event) {
    if ($("help-dialog").open) { return; }
    const target = event.target;
    const typing = target.matches("input, textarea, select");
    if (event.altKey && !event.ctrlKey && !event.metaKey && this.handleAltKey(event)) {
      event.preventDefault();
      return;
    }
    if (target.id === "note-input" && event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      this.saveNote(event);
      return;
    }
    if (target.id === "note-input" && event.key === "Escape") { target.blur(); return; }
    if (typing || event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (event.key === "?") { event.preventDefault(); this.openHelp(); }
    if (event.key === "/") { event.preventDefault(); $("note-input").focus(); }
  }

  handleAltKey(event) {
    const key = shortcutKey(event);
    const code = event.code;
    if (key && this.tagKeys.has(key)) { this.toggleTag(this.tagKeys.get(key)); return true; }
    if (code === this.kindCode && !event.shiftKey) { this.nextKind(); return true; }
    if (!event.shiftKey && /^Digit/.test(code) && this.severities.includes(code.slice(5))) {
      this.setSeverity(code.slice(5));
      return true;
    }
    if (code === "Minus") { this.setSeverity(""); return true; }
    if (code === "KeyN") { $("note-input").focus(); return true; }
    if (code === "KeyS" && this.cfg.canRun) {
      if (this.state.status === "scheduled") { this.startSession(); } else { this.startNextTask(); }
      return true;
    }
    if (code === "KeyD" && this.cfg.canRun && this.state.currentTaskId !== null) {
      this.focusOutcome();
      return true;
    }
    return false;
  }

  openHelp() {
    const dialog = $("help-dialog");
    if (typeof dialog.showModal === "function") { dialog.showModal(); } else { dialog.setAttribute("open", ""); }
    $("help-close").focus();
  }

  /* ---------- offline page (service worker) ---------- */

  /** Cache the page and every static file it loaded (styles, each module) so it reloads offline. */
  prepareOffline() {
    if (!("serviceWorker" in navigator) || !window.caches) { return; }
    const assets = new Set([window.location.pathname]);
    document.querySelectorAll('link[rel="stylesheet"], link[rel="modulepreload"], script[src]').forEach((node) => {
      assets.add(new URL(node.getAttribute("href") || node.getAttribute("src"), window.location.href).pathname);
    });
    // Modules imported by other modules have no tag of their own: the page's resource list has them.
    performance.getEntriesByType("resource").forEach((entry) => {
      const url = new URL(entry.name);
      if (url.origin === window.location.origin && url.pathname.startsWith(this.cfg.staticPath)) {
        assets.add(url.pathname);
      }
    });
    navigator.serviceWorker.register(this.cfg.serviceWorker, { scope: this.cfg.serviceWorkerScope })
      .then(() => navigator.serviceWorker.ready)
      .then(() => window.caches.open(OFFLINE_CACHE))
      .then((cache) => cache.addAll([...assets]))
      .then(() => { this.root.dataset.offlineReady = "1"; })
      .catch(() => { this.root.dataset.offlineReady = "0"; });
  }

  /* ---------- wiring ---------- */

  wire() {
    $("note-form").addEventListener("submit", (event) => this.saveNote(event));
    $("note-input").addEventListener("input", () => this.noteTyped());
    $("log").addEventListener("click", (event) => this.onLogClick(event));
    document.addEventListener("keydown", (event) => this.onKeydown(event));
    $("help-button").addEventListener("click", () => this.openHelp());
    document.querySelectorAll(".tag-toggle").forEach((b) => {
      b.addEventListener("click", () => this.toggleTag(b.dataset.tag));
    });
    if (this.cfg.canRun) { this.wireModerator(); }
    this.queue.addEventListener("change", (event) => {
      const { note, saved } = event.detail;
      if (saved) { this.log.saved[saved.id] = saved; }
      if (note) { this.log.renderNote(note); } else { this.log.renderAllNotes(); }
      this.showQueueStatus();
    });
    this.queue.addEventListener("status", () => this.showQueueStatus());
    this.api.addEventListener("signedout", () => { $("signin-prompt").hidden = false; });
    this.api.addEventListener("signedin", () => {
      $("signin-prompt").hidden = true;
      this.queue.wake();
      this.stream.revive(false);
    });
    window.addEventListener("online", () => {
      this.queue.wake();
      this.stream.revive(true);
    });
    window.addEventListener("offline", () => this.stream.setState("reconnecting"));
    document.addEventListener("visibilitychange", () => {
      if (document.hidden) { return; }
      if (this.api.signedOut) { this.api.refreshCsrf(); } else { this.queue.flush(); }
    });
    $("signin-link").addEventListener("click", () => {
      // Check often while the user signs in in the other tab.
      const timer = window.setInterval(() => {
        this.api.refreshCsrf().then((ok) => { if (ok) { window.clearInterval(timer); } });
      }, 2000);
    });
  }

  wireModerator() {
    $("start-session").addEventListener("click", () => this.startSession());
    $("end-session").addEventListener("click", () => this.endSession());
    $("start-next").addEventListener("click", () => this.startNextTask());
    $("ask-seq").addEventListener("click", () => this.moderatorAction("/screen/question", { kind: "seq" }));
    $("ask-sus").addEventListener("click", () => this.moderatorAction("/screen/question", { kind: "sus" }));
    $("withdraw-question").addEventListener("click", async () => {
      const data = await this.moderatorAction("/screen/question", null, "DELETE");
      if (data) { $("note-input").focus(); }
    });
    $("end-task-form").addEventListener("submit", (event) => this.endTaskSubmitted(event));
    $("end-task-form").addEventListener("keydown", (event) => this.onEndTaskKeydown(event));
    $("undo-start").addEventListener("click", () => this.undoTaskStart());
    $("restart-running").addEventListener("click", () => {
      if (this.state.currentTaskId !== null) { this.startTask(this.state.currentTaskId, "restart"); }
    });
    const taskList = $("task-list");
    if (taskList) {
      taskList.addEventListener("click", (event) => {
        const button = event.target.closest('[data-action="start-task"], [data-action="restart-task"]');
        if (!button) { return; }
        const verb = button.dataset.action === "start-task" ? "start" : "restart";
        this.startTask(button.closest(".task").dataset.taskId, verb);
      });
    }
  }
}

const root = $("console");
const configBlock = $("console-config");
if (root && configBlock) {
  new Console(root, JSON.parse(configBlock.textContent)).start();
}
