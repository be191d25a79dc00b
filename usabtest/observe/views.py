"""Pages of the observe domain: the live console, the SUS form and the participant's screen."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    flash,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    send_from_directory,
    url_for,
)
from flask_babel import gettext
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestedRangeNotSatisfiable

from usabtest import paths, policy
from usabtest.accounts.forms import ConfirmForm
from usabtest.core import confirm
from usabtest.core.errors import DomainError, discard_changes
from usabtest.core.forms import form_status, show_conflict, show_refusal
from usabtest.core.uploads import large_upload
from usabtest.core.versioning import StaleVersion
from usabtest.db import utcnow
from usabtest.extensions import csrf, db
from usabtest.observe import questions, recordings, schemas, services, sus
from usabtest.observe import screen as screen_views
from usabtest.observe.forms import (
    AttemptForm,
    RecordingFileForm,
    RecordingLinkForm,
    RecordingOffsetForm,
    SusForm,
)
from usabtest.observe.models import NoteKind, Outcome, SusResponse, TaskAttempt
from usabtest.planning import scheduling, tagset
from usabtest.planning.models import SessionStatus, StudySession, Task
from usabtest.timefmt import format_elapsed, to_zone

bp = Blueprint("observe", __name__)


def _session_for_observer(session_id: int) -> StudySession:
    return policy.get_or_404(StudySession, session_id, policy.can_observe_session)


def _session_for_runner(session_id: int) -> StudySession:
    study_session = _session_for_observer(session_id)
    policy.forbid_unless(policy.can_run_session(current_user, study_session))
    return study_session


def script_tasks(study_session: StudySession, attempts: dict[int, TaskAttempt]) -> list[Task]:
    """The study's tasks in order; archived ones only when this session attempted them."""
    return [t for t in study_session.study.tasks if not t.archived or t.id in attempts]


def _console_tags(study) -> list[dict]:
    """The study's tags as the console shows them: name, colour, description and Alt shortcut."""
    return [{"tag": t.name, "key": t.shortcut, "colour": t.colour, "description": t.description}
            for t in study.tags]


def _console_config(study_session: StudySession, tasks: list[Task], running: TaskAttempt | None) -> dict:
    """What the console's script needs, built from the server's own constants (never copied into JS).

    The severity labels belong to analysis; the template adds them from its shared global.
    """
    can_run = policy.can_run_session(current_user, study_session)
    root = request.script_root
    return {
        "sessionId": study_session.id,
        "userId": current_user.id,
        "userName": current_user.name,
        "status": study_session.status.value,
        "startedAt": study_session.started_at.isoformat() if study_session.started_at else None,
        "endedAt": study_session.ended_at.isoformat() if study_session.ended_at else None,
        "serverNow": utcnow().isoformat(),
        "canRun": can_run,
        "currentTaskId": running.task_id if running else None,
        "currentTaskStartedAt": running.started_at.isoformat() if running else None,
        "undoSeconds": services.UNDO_SECONDS,
        "tasks": {t.id: {"title": t.title, "position": i + 1, "timeLimitS": t.time_limit_s,
                         "scenario": t.scenario} for i, t in enumerate(tasks)},
        "tags": _console_tags(study_session.study),
        "kinds": [{"value": kind.value, "label": kind.label} for kind in NoteKind],
        "kindKey": tagset.KIND_SHORTCUT,
        "quoteKind": NoteKind.QUOTE.value,
        "limits": {"noteBody": schemas.MAX_BODY, "noteTags": schemas.MAX_TAGS, "errors": schemas.MAX_ERRORS},
        "labels": {
            "outcome": {outcome.value: outcome.label for outcome in Outcome},
            "status": {status.value: status.label for status in SessionStatus},
        },
        # The session's API resource: the console's calls hang below it (notes, stream, tasks).
        "api": url_for("api.get_session", session_id=study_session.id),
        "csrfUrl": url_for("api.csrf_token"),
        "staticPath": url_for("static", filename=""),
        "serviceWorker": url_for("observe.service_worker"),
        "serviceWorkerScope": f"{root}/sessions/",
        # A note's time links to its moment in the recording, once the session has one.
        "reviewUrl": (url_for("observe.review", session_id=study_session.id)
                      if study_session.recording is not None else None),
    }


@bp.get("/sessions/<int:session_id>/observe")
@login_required
def console(session_id: int):
    """The live console: task script, session clock, note input and the shared log."""
    study_session = _session_for_observer(session_id)
    # A restarted task shows its latest attempt.
    attempts = {a.task_id: a for a in sorted(study_session.attempts, key=lambda a: a.number)}
    tasks = script_tasks(study_session, attempts)
    running = next((a for a in attempts.values() if a.ended_at is None), None)
    sus_response = db.session.scalar(sa.select(SusResponse).where(SusResponse.session_id == session_id))
    sus_done = sus_response is not None
    config = _console_config(study_session, tasks, running)
    config["susScore"] = sus.score(sus_response.answers) if sus_done else None
    config["question"] = questions.question_payload(questions.open_question(study_session),
                                                    questions.task_numbers(study_session))
    ended = [a for a in study_session.attempts if a.ended_at is not None and a.outcome is not None]
    config["lastEndedTaskId"] = max(ended, key=lambda a: (a.ended_at, a.id)).task_id if ended else None
    response = make_response(render_template(
        "observe/console.html", study_session=study_session, study=study_session.study, tasks=tasks,
        attempts=attempts, running=running, tags=config["tags"], config=config, can_run=config["canRun"],
        sus_done=sus_done, screen_form=ConfirmForm(prefix="screen"),
    ))
    response.headers["Cache-Control"] = "no-cache"
    return response


# --- task attempts and their corrections ----------------------------------------------------------

ATTEMPT_FIELD_LABELS = {"outcome": "Outcome", "error_count": "Errors", "seq": "SEQ",
                        "started_at": "Started at", "ended_at": "Ended at"}


def _attempt_of(study_session: StudySession, attempt_id: int) -> TaskAttempt:
    attempt = db.session.get(TaskAttempt, attempt_id)
    if attempt is None or attempt.session_id != study_session.id:
        abort(404)
    return attempt


def _local(value, tz_name: str):
    """An aware UTC time as the naive wall-clock time a datetime-local field shows (to the second)."""
    return to_zone(value, tz_name).replace(tzinfo=None, microsecond=0) if value else None


def _attempt_values(attempt: TaskAttempt, tz_name: str) -> dict:
    return {"outcome": attempt.outcome.value if attempt.outcome else "", "error_count": attempt.error_count,
            "seq": attempt.seq, "started_at": _local(attempt.started_at, tz_name),
            "ended_at": _local(attempt.ended_at, tz_name)}


def _form_changes(form: AttemptForm, attempt: TaskAttempt, tz_name: str) -> dict:
    """The form's values in the attempt's terms; a time not shown to the second keeps its stored fraction."""
    values: dict = {"outcome": form.outcome.data or None, "error_count": form.error_count.data,
                    "seq": form.seq.data}
    for name in ("started_at", "ended_at"):
        typed = form[name].data
        if typed == _local(getattr(attempt, name), tz_name):
            continue  # unchanged: keep the stored time with its milliseconds
        try:
            values[name] = scheduling.local_to_utc(typed.date(), typed.time(), tz_name)
        except DomainError as exc:
            exc.field, exc.fields = name, {name: exc.message}
            raise
    return values


def _attempt_history_rows(attempt: TaskAttempt, tz_name: str) -> list[dict]:
    labels = {o.value: o.label for o in Outcome}

    def shown(name: str, value) -> str:
        if value is None:
            return "not asked" if name == "seq" else "none"
        if name == "outcome":
            return labels.get(value, value)
        if name in ("started_at", "ended_at"):
            return to_zone(datetime.fromisoformat(value), tz_name).strftime("%d %b %Y, %H:%M:%S")
        return str(value)

    return [{"at": revision.created_at, "actor": _revision_actor(revision),
             "changes": [{"field": ATTEMPT_FIELD_LABELS.get(name, name), "after": shown(name, value),
                          "before": shown(name, revision.before.get(name))}
                         for name, value in revision.after.items()]}
            for revision in reversed(services.attempt_history(attempt))]


def _revision_actor(revision) -> str:
    """Who made a change of an attempt: a person, or the participant answering on their screen."""
    if revision.action == "participant":
        return "The participant, on their screen"
    return revision.actor.name if revision.actor else "A removed user"


@bp.route("/sessions/<int:session_id>/attempts/<int:attempt_id>", methods=["GET", "POST"])
@login_required
def attempt_page(session_id: int, attempt_id: int):
    """Correct one ended task attempt (outcome, errors, SEQ, start and end) and read its history."""
    study_session = _session_for_observer(session_id)
    attempt = _attempt_of(study_session, attempt_id)
    policy.forbid_unless(policy.can_correct_attempt(current_user, attempt))
    tz_name = current_user.timezone
    form = AttemptForm()
    if not form.is_submitted():
        form.fill(_attempt_values(attempt, tz_name), attempt.version)
    running = attempt.ended_at is None
    if not running and form.validate_on_submit():
        try:
            changes = _form_changes(form, attempt, tz_name)
            services.correct_attempt(attempt, current_user, changes, form.based_on())
        except StaleVersion as exc:
            show_conflict(form, exc, _attempt_values(attempt, tz_name))
        except DomainError as exc:
            shown = False
            for name, message in exc.fields.items():
                if name in ATTEMPT_FIELD_LABELS:
                    form[name].errors = [*form[name].errors, message]
                    shown = True
            if not shown:
                show_refusal(form, exc)
        else:
            flash("Attempt corrected. Its history below shows the change.", "success")
            return redirect(url_for("observe.attempt_page", session_id=session_id, attempt_id=attempt.id))
    return render_template(
        "observe/attempt.html", study_session=study_session, attempt=attempt, form=form, running=running,
        history=_attempt_history_rows(attempt, tz_name), tz_name=tz_name,
        task_number=_task_number(study_session, attempt.task_id)), form_status(form)


def _task_number(study_session: StudySession, task_id: int) -> int | None:
    return next((i for i, t in enumerate(study_session.study.tasks, start=1) if t.id == task_id), None)


@bp.post("/sessions/<int:session_id>/screen")
@login_required
def open_screen(session_id: int):
    """Open the participant's screen (the moderator's console posts here into a new window)."""
    study_session = _session_for_runner(session_id)
    form = ConfirmForm(prefix="screen")
    if not form.validate_on_submit():
        abort(400, "The form expired; reload the console and try again.")
    try:
        token = services.ensure_screen_token(study_session)
    except DomainError as exc:
        discard_changes()
        flash(exc.message[0].upper() + exc.message[1:] + ".", "error")
        return redirect(url_for("observe.console", session_id=session_id))
    return redirect(url_for("observe.screen", token=token))


@bp.route("/sessions/<int:session_id>/sus", methods=["GET", "POST"])
@login_required
def sus_form(session_id: int):
    """The ten SUS statements for the moderator to enter the participant's answers after the session."""
    study_session = _session_for_runner(session_id)
    existing = db.session.scalar(sa.select(SusResponse).where(SusResponse.session_id == session_id))
    form = SusForm()
    if existing is not None and not form.is_submitted():
        for field, answer in zip(form.answer_fields, existing.answers, strict=True):
            field.data = str(answer)
    ended = study_session.status == SessionStatus.COMPLETED
    if ended and form.validate_on_submit():
        try:
            services.record_sus(study_session, form.answers, current_user)
        except DomainError as exc:
            form.form_errors.append(exc.message)
        else:
            flash(f"SUS answers saved (score {sus.score(form.answers):g}).", "success")
            return redirect(url_for("observe.console", session_id=session_id))
    status = 400 if form.errors or form.form_errors else 200
    return render_template("observe/sus.html", study_session=study_session, form=form, ended=ended,
                           existing=existing, sus_score=sus.score(existing.answers) if existing else None,
                           scale=sus.SCALE_LABELS), status


def _screen_response(response, status: int = 200):
    """The participant screen's pages: never cached, and the secret link never leaves as a referrer."""
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _screen_closed(closed: screen_views.ScreenClosed, as_json: bool = False):
    """The participant's own goodbye: no menus, no sign-in, nothing about the study."""
    g.screen_language = closed.language
    if as_json:
        response = jsonify({"error": {"status": closed.status, "message": "this screen has closed",
                                      "fields": {}}})
    else:
        response = make_response(render_template("observe/screen_closed.html",
                                                 texts=screen_views.closed_texts()))
    return _screen_response(response, closed.status)


def _render_screen(study_session: StudySession, token: str, answer: screen_views.Answer | None = None,
                   status: int = 200, refusal: str | None = None):
    state = screen_views.screen_state(study_session)
    return _screen_response(make_response(render_template(
        "observe/screen.html", state=state, token=token, answer=answer or screen_views.Answer(),
        refusal=refusal, labels=screen_views.scale_labels(), closed=screen_views.closed_texts())), status)


@bp.get("/screen/<token>")
def screen(token: str):
    """The participant's screen, reached by its secret link; no account needed."""
    try:
        study_session = screen_views.screen_session(token)
    except screen_views.ScreenClosed as closed:
        return _screen_closed(closed)
    screen_views.speak(study_session)
    return _render_screen(study_session, token)


@bp.get("/screen/<token>/state")
def screen_state_json(token: str):
    """The participant screen's current content, polled by its page."""
    try:
        study_session = screen_views.screen_session(token)
    except screen_views.ScreenClosed as closed:
        return _screen_closed(closed, as_json=True)
    screen_views.speak(study_session)
    response = jsonify(screen_views.screen_state(study_session))
    response.headers["Cache-Control"] = "no-store"
    return response


# The link's unguessable token is what proves the answer comes from the participant's screen (the
# page sends no referrer, which Flask-WTF's CSRF check would demand over HTTPS).
@csrf.exempt
@bp.post("/screen/<token>/answer")
def screen_answer(token: str):
    """The participant's answer to the question on their screen, stored like a typed one.

    A missing or out-of-range choice shows the form again with the reason (422); a question no longer
    asked is 409 and a closed screen 410; nothing is stored then.
    """
    try:
        study_session = screen_views.screen_session(token)
    except screen_views.ScreenClosed as closed:
        return _screen_closed(closed)
    screen_views.speak(study_session)
    question_id = request.form.get("question", "")
    question = questions.open_question(study_session)
    if question is None or not question_id.isdigit() or int(question_id) != question.id:
        return _render_screen(study_session, token, status=409,
                              refusal=gettext("This question is no longer asked. Thank you."))
    answer = screen_views.read_answer(question, request.form)
    if answer.problems:
        return _render_screen(study_session, token, answer=answer, status=422)
    try:
        questions.answer(study_session, question.id, answer.values)
    except DomainError:
        discard_changes()
        return _render_screen(study_session, token, status=409,
                              refusal=gettext("This question is no longer asked. Thank you."))
    flash(gettext("Thank you, your answer was received."), "success")
    return redirect(url_for("observe.screen", token=token), 303)


@bp.get("/observe-sw.js")
def service_worker():
    """The console's service worker, served from the root so it may control /sessions/ pages."""
    response = send_from_directory(paths.STATIC / "js", "observe-sw.js", mimetype="text/javascript",
                                   max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


# --- the session's recording and its review page ---------------------------------------------------

def _recording_session(session_id: int) -> StudySession:
    return policy.get_or_404(StudySession, session_id, policy.can_view_recording)


def _start_seconds(value: str | None) -> int:
    """`?t=` as whole seconds into the session; anything else (garbled, negative, huge) starts at 0."""
    try:
        seconds = float(value) if value else 0.0
    except ValueError:
        return 0
    if not 0 <= seconds <= recordings.MAX_OFFSET_MS / 1000:  # also false for NaN
        return 0
    return int(seconds)


def _task_numbers(study_session: StudySession) -> dict[int, int]:
    return {t.id: number for number, t in enumerate(study_session.study.tasks, start=1)}


@bp.get("/sessions/<int:session_id>/review")
@login_required
def review(session_id: int):
    """Play the session's recording beside its notes and task markers; `?t=` opens it at that moment."""
    study_session = _recording_session(session_id)
    recording = study_session.recording
    return render_template(
        "observe/review.html", study_session=study_session, study=study_session.study, recording=recording,
        start=_start_seconds(request.args.get("t")), link_at=recordings.link_at, elapsed=format_elapsed,
        offset_text=_offset_text,
        moments=recordings.timeline(study_session, _task_numbers(study_session)),
        can_manage=policy.can_manage_recording(current_user, study_session),
        can_observe=policy.can_observe_session(current_user, study_session),
        file_missing=bool(recording and recording.is_file and not recordings.file_path(recording).is_file()),
    )


@bp.get("/sessions/<int:session_id>/recording/file")
@login_required
def recording_file(session_id: int):
    """The uploaded recording's bytes, with range requests so players can seek."""
    study_session = _recording_session(session_id)
    recording = study_session.recording
    if recording is None or not recording.is_file:
        abort(404)
    path = recordings.file_path(recording)
    if not path.is_file():
        abort(404)
    try:
        response = send_file(path, mimetype=recording.content_type, conditional=True, etag=True,
                             download_name=f"session-{study_session.id}-recording")
    except RequestedRangeNotSatisfiable as exc:
        return exc.get_response()  # 416 with "Content-Range: bytes */size", as players expect
    response.headers["Cache-Control"] = "private, no-cache"
    return response


def session_panel(study_session: StudySession) -> tuple[str, dict] | None:
    """The session page's recording and notes, each note's time a link to its moment in the recording."""
    if not policy.can_view_recording(current_user, study_session):
        return None
    recording = study_session.recording
    notes = [m for m in recordings.timeline(study_session, {}) if m.kind == "note"]
    return "observe/_session_recording.html", {
        "recording": recording, "notes": notes, "elapsed": format_elapsed,
        "can_manage": policy.can_manage_recording(current_user, study_session),
    }


def _managed_recording_session(session_id: int) -> StudySession:
    study_session = _recording_session(session_id)
    policy.forbid_unless(policy.can_manage_recording(current_user, study_session))
    return study_session


def _recording_forms() -> dict:
    return {"link": RecordingLinkForm(prefix="link"), "file": RecordingFileForm(prefix="file"),
            "offset": RecordingOffsetForm(prefix="offset")}


def _save_recording(study_session: StudySession, forms: dict) -> str | None:
    """Apply the submitted form; the flash message, or None when it was refused (errors on the form)."""
    chosen = next((name for name in forms if f"{name}-submit" in request.form), None)
    form = forms.get(chosen)
    if form is None or not form.validate_on_submit():
        return None
    try:
        if chosen == "offset":
            if study_session.recording is None:
                raise DomainError("this session has no recording yet")
            recordings.set_offset(study_session.recording, recordings.parse_offset(form.offset.data))
            return "Start of the session in the recording saved."
        offset = recordings.parse_offset(form.offset.data)
        if chosen == "link":
            recordings.set_link(study_session, current_user, form.url.data, offset)
            return "Recording link saved."
        try:
            recordings.store_file(study_session, current_user, form.file.data.stream, offset)
        finally:
            form.file.data.close()  # a large upload is spooled to a temporary file: let it go now
        return "Recording uploaded."
    except DomainError as exc:
        if exc.field == "offset_ms":
            exc.field = "offset"
        form.too_large = exc.status == 413
        show_refusal(form, exc)
        return None


@bp.route("/sessions/<int:session_id>/recording", methods=["GET", "POST"])
@large_upload("RECORDING_MAX_BYTES")
@login_required
def recording_page(session_id: int):
    """Add, replace or re-time the session's recording: an external link or an uploaded file."""
    study_session = _managed_recording_session(session_id)
    forms = _recording_forms()
    if study_session.recording is not None and not forms["offset"].is_submitted():
        forms["offset"].offset.data = format_offset(study_session.recording.offset_ms)
    if request.method == "POST":
        done = _save_recording(study_session, forms)
        if done:
            flash(done, "success")
            return redirect(url_for("observe.review", session_id=session_id))
    status = 413 if any(getattr(f, "too_large", False) for f in forms.values()) else 400
    refused = any(f.errors or f.form_errors for f in forms.values())
    return render_template(
        "observe/recording.html", study_session=study_session, study=study_session.study,
        recording=study_session.recording, forms=forms, max_bytes=recordings.max_bytes(),
        accepted=recordings.ACCEPTED_KINDS,
    ), (status if refused else 200)


@bp.route("/sessions/<int:session_id>/recording/remove", methods=["GET", "POST"])
@login_required
def recording_remove(session_id: int):
    """Take the recording away from the session (asks first); an uploaded file is deleted."""
    study_session = _managed_recording_session(session_id)
    recording = study_session.recording
    back = url_for("observe.review", session_id=session_id)
    if recording is None:
        flash("This session has no recording.", "info")
        return redirect(back)
    if not confirm.confirmed():
        what = ("The uploaded file is deleted from the server for good: this cannot be undone."
                if recording.is_file else "The link is removed; the recording itself stays where it is.")
        return confirm.ask(confirm.Confirmation(
            title=f"Remove the recording of the session with {study_session.participant.code}?",
            consequences=[what, "The session's notes and task times stay."],
            confirm_label="Remove recording", cancel_url=back))
    if not ConfirmForm().validate_on_submit():
        abort(400)
    recordings.remove(study_session)
    flash("Recording removed.", "success")
    return redirect(back)


def _offset_text(offset_ms: int) -> str:
    """Where the session starts in the recording, as a sentence."""
    if offset_ms == 0:
        return "The recording starts with the session."
    if offset_ms > 0:
        return f"The session starts {format_elapsed(offset_ms)} into the recording."
    return f"The recording begins {format_elapsed(-offset_ms)} after the session started."


def format_offset(offset_ms: int) -> str:
    """An offset as the forms take it: "1:30", "-0:05", "0"."""
    if not offset_ms:
        return "0"
    sign = "-" if offset_ms < 0 else ""
    return sign + format_elapsed(abs(offset_ms))
