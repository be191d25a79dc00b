/* The live log: the team's notes (with this author's queued changes on top) and session events,
 * newest moment first. Labels come from the server's config. */

import { el, formatElapsed, sentence } from "./format.js";

/** The outcome of an ended task: its label, then e.g. "2 errors" and "SEQ 6". */
export function outcomeParts(event, outcomeLabels) {
  const parts = [event.outcome ? (outcomeLabels[event.outcome] || event.outcome) : "Ended"];
  const errors = event.errors || 0;
  parts.push(`${errors} ${errors === 1 ? "error" : "errors"}`);
  if (event.seq) { parts.push(`SEQ ${event.seq}`); }
  return parts;
}

function actionButton(label, action, uuid) {
  const button = el("button", "link-button", label);
  button.type = "button";
  button.dataset.action = action;
  button.dataset.note = uuid;
  button.setAttribute("aria-label", `${label} note`);
  return button;
}

const STATE_TEXT = { saved: "Saved", pending: "Pending", failed: "Failed" };

/** The log list of one console. */
export class LiveLog {
  constructor({ list, config, queue }) {
    this.list = list;
    this.cfg = config;
    this.queue = queue;
    this.saved = {}; // the server's copy of each note, by UUID
    this.me = { id: config.userId, name: config.userName };
  }

  /** "Task 2" for a task of the script, "" for none. */
  taskLabel(taskId) {
    const task = this.cfg.tasks[taskId];
    return task ? `Task ${task.position}` : "";
  }

  entry(key, sortMs) {
    const existing = this.list.querySelector(`[data-key="${key}"]`);
    if (existing) { return existing; }
    const li = el("li", "entry");
    li.dataset.key = key;
    li.dataset.sort = String(sortMs || 0);
    // Newest moment first; among equal moments, the latest arrival first.
    const before = Array.from(this.list.children).find((child) => Number(child.dataset.sort) <= (sortMs || 0));
    this.list.insertBefore(li, before || null);
    return li;
  }

  noteEntry(uuid) { return this.list.querySelector(`[data-key="note-${uuid}"]`); }

  /** Keep the server's copy of a note and show it. */
  noteSaved(note) {
    this.saved[note.id] = note;
    this.renderNote(note.id);
  }

  /** The note as its author should see it (server copy plus queued changes), or null. */
  noteView(uuid) { return this.queue.view(uuid, this.saved[uuid], this.me); }

  /** Draw (or remove) one note's entry; an edit box open on it stays open unless `closeEditor`. */
  renderNote(uuid, { closeEditor = false } = {}) {
    const view = this.noteView(uuid);
    let li = this.noteEntry(uuid);
    if (!view || (view.deleted && !view.failed)) {
      if (li) { li.remove(); }
      return;
    }
    li = li || this.entry(`note-${uuid}`, view.elapsed_ms);
    const editor = closeEditor ? null : this.openEditor(li);
    // A redraw (the note's news arriving) must not drop the focus from the note's Edit or Delete button.
    const focusedAction = li.contains(document.activeElement) ? document.activeElement.dataset.action : null;
    const hasSeverity = view.severity !== null && view.severity !== undefined;
    li.className = `entry entry-note${hasSeverity ? ` sev-${view.severity}` : ""} is-${view.status}`;
    li.textContent = "";
    const meta = el("p", "entry-meta");
    meta.appendChild(this.noteTime(view.elapsed_ms));
    meta.appendChild(el("span", "entry-author", view.author.name));
    if (view.task_id) { meta.appendChild(el("span", "entry-task", this.taskLabel(view.task_id))); }
    if (hasSeverity) {
      const label = this.cfg.severityLabels[view.severity];
      meta.appendChild(el("span", "entry-severity", `Severity ${view.severity}${label ? ` – ${label}` : ""}`));
    }
    const kinds = Object.fromEntries(this.cfg.kinds.map((k) => [k.value, k.label]));
    if (view.kind && view.kind !== this.cfg.kinds[0].value) {
      meta.appendChild(el("span", `entry-kind kind-${view.kind}`, kinds[view.kind] || view.kind));
    }
    const colours = Object.fromEntries(this.cfg.tags.map((t) => [t.tag, t.colour]));
    (view.tags || []).forEach((tag) => {
      const chip = el("span", "entry-tag", tag);
      if (colours[tag]) { chip.style.setProperty("--tag-colour", colours[tag]); }
      meta.appendChild(chip);
    });
    const badge = el("span", `entry-state state-${view.status}`, STATE_TEXT[view.status]);
    if (view.status === "pending" && view.detail) { badge.title = sentence(view.detail); }
    meta.appendChild(badge);
    li.appendChild(meta);
    li.appendChild(el(view.kind === this.cfg.quoteKind ? "blockquote" : "p", "entry-body", view.body));
    if (editor) { this.reopenEditor(li, editor); }
    if (view.status === "failed") {
      li.appendChild(el("p", "entry-error", `Not saved: ${sentence(view.detail)}`));
    }
    if (view.status === "failed" && view.current) { li.appendChild(this.currentNote(view.current)); }
    if (view.author.id === this.cfg.userId) { li.appendChild(this.noteActions(uuid, view)); }
    if (focusedAction) {
      const button = li.querySelector(`button[data-action="${focusedAction}"]`);
      if (button) { button.focus(); }
    }
  }

  /** A note's time: a link to that moment of the recording on the review page, when there is one. */
  noteTime(elapsedMs) {
    const text = formatElapsed(elapsedMs);
    if (!this.cfg.reviewUrl) { return el("span", "entry-time", text); }
    const link = el("a", "entry-time", text);
    link.href = `${this.cfg.reviewUrl}?t=${Math.floor(Math.max(0, elapsedMs) / 1000)}`;
    link.setAttribute("aria-label", `${text}: open the recording at this moment`);
    return link;
  }

  /** The note as the server has it now, beside an edit refused for being based on an old version. */
  currentNote(current) {
    const box = el("div", "entry-current");
    box.appendChild(el("p", "entry-current-title", "Saved now:"));
    box.appendChild(el("p", "entry-current-body", current.body));
    const parts = [];
    if (current.tags && current.tags.length) { parts.push(`Tags: ${current.tags.join(", ")}`); }
    if (current.severity !== null && current.severity !== undefined) { parts.push(`Severity ${current.severity}`); }
    if (parts.length) { box.appendChild(el("p", "entry-current-meta", parts.join(" · "))); }
    box.appendChild(el("p", "entry-current-hint",
      "Retry saves your text over this version; Discard keeps the note as saved now."));
    return box;
  }

  noteActions(uuid, view) {
    const box = el("p", "entry-actions");
    if (view.status === "failed") {
      box.appendChild(actionButton("Retry", "retry", uuid));
      box.appendChild(actionButton("Discard", "discard", uuid));
    } else {
      box.appendChild(actionButton("Edit", "edit", uuid));
      box.appendChild(actionButton("Delete", "delete", uuid));
    }
    return box;
  }

  /** Redraw every note shown or queued (the queue changed in another tab). */
  renderAllNotes() {
    const shown = Array.from(this.list.querySelectorAll('[data-key^="note-"]'), (li) => li.dataset.key.slice(5));
    new Set([...shown, ...this.queue.noteIds()]).forEach((uuid) => this.renderNote(uuid));
  }

  /** The edit box open on an entry (with its label and whether it has focus), or null. */
  openEditor(li) {
    const field = li.querySelector("textarea.entry-edit");
    if (!field) { return null; }
    return { field, label: li.querySelector(`label[for="${field.id}"]`), focused: document.activeElement === field };
  }

  /** Put back an edit box the redraw removed: a half-typed correction must survive the note's news. */
  reopenEditor(li, { field, label, focused }) {
    li.querySelector(".entry-body").replaceWith(field);
    field.before(label);
    if (focused) { field.focus(); }
  }

  /** Swap a note's text for an edit box; Enter queues the edit (if `onSubmit` accepts it), Escape gives up. */
  editNote(uuid, onSubmit) {
    const view = this.noteView(uuid);
    const li = this.noteEntry(uuid);
    if (!view || !li) { return; }
    const label = el("label", "visually-hidden", "Edit note");
    const field = el("textarea", "entry-edit");
    field.id = `edit-${uuid}`;
    label.htmlFor = field.id;
    field.value = view.body;
    field.rows = 2;
    field.maxLength = this.cfg.limits.noteBody;
    li.querySelector(".entry-body").replaceWith(field);
    field.before(label);
    field.focus();
    field.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        this.renderNote(uuid, { closeEditor: true });
        // Back to the note's Edit button, where the editing began.
        const edit = this.noteEntry(uuid)?.querySelector('[data-action="edit"]');
        if (edit) { edit.focus(); }
      }
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        const text = field.value.trim();
        if (text && onSubmit(text)) { this.renderNote(uuid, { closeEditor: true }); }
      }
    });
  }

  eventText(event) {
    const who = event.actor ? event.actor.name : "";
    const script = event.task ? this.cfg.tasks[event.task.id] : null;
    const task = event.task ? `task ${script ? script.position : ""} “${event.task.title}”` : "";
    switch (event.kind) {
      case "session.started": return `${who} started the session`;
      case "session.ended": return `${who} ended the session`;
      case "task.started": return `${who} started ${task}`;
      case "task.ended": return `${who} ended ${task}: ${outcomeParts(event, this.cfg.labels.outcome).join(", ")}`;
      case "task.restarted": return `${who} restarted ${task}`;
      case "task.undone": return `${who} undid the start of ${task}`;
      case "attempt.corrected": {
        const which = event.attempt ? ` (attempt ${event.attempt.number})` : "";
        return `${who} corrected ${task}${which}: ${outcomeParts(event, this.cfg.labels.outcome).join(", ")}`;
      }
      case "sus.recorded": return event.by_participant
        ? `The participant answered the SUS on their screen (score ${event.score})`
        : `${who} entered the SUS answers (score ${event.score})`;
      case "screen.asked": return event.question.kind === "seq"
        ? `${who} asked the participant the SEQ of task ${event.question.task.number} on their screen`
        : `${who} asked the participant the SUS on their screen`;
      case "screen.withdrawn": return `${who} took the question off the participant screen`;
      case "seq.answered": return `The participant answered the SEQ of ${task} on their screen: ${event.seq}`;
      default: return "";
    }
  }

  /** Draw a session or task event (other kinds are ignored). */
  renderEvent(event) {
    const text = this.eventText(event);
    if (!text) { return; }
    const li = this.entry(`event-${event.id}`, event.elapsed_ms || 0);
    li.className = "entry entry-event";
    li.textContent = "";
    li.appendChild(el("span", "entry-time", formatElapsed(event.elapsed_ms || 0)));
    li.appendChild(el("span", "entry-text", text));
  }
}
