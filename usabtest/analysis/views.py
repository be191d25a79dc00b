"""Pages of the analysis domain: results, notes board, findings, rainbow matrix and CSV exports.

Only the study's managers (policy.can_manage_study) reach these pages; anyone else gets a 404.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user, login_required
from markupsafe import Markup

from usabtest import policy
from usabtest.analysis import charts, export, figures, metrics, results, services, trash
from usabtest.analysis.forms import (
    BoardActionForm,
    FindingForm,
    MergeForm,
    NoteForm,
    ScreenshotForm,
    TagDeleteForm,
    TagForm,
    TagMergeForm,
)
from usabtest.analysis.models import SEVERITY_LABELS, Finding, Screenshot
from usabtest.core import confirm
from usabtest.core.confirm import Confirmation, plural
from usabtest.core.errors import DomainError, InvalidInput, discard_changes
from usabtest.core.forms import form_status, show_conflict, show_refusal
from usabtest.core.schemas import MAX_ID
from usabtest.core.urls import page_number
from usabtest.core.versioning import StaleVersion
from usabtest.extensions import db
from usabtest.observe import recordings
from usabtest.observe import services as observe_services
from usabtest.observe.models import Note, NoteKind
from usabtest.planning import tagset
from usabtest.planning.models import Study, StudySession, StudyTag
from usabtest.timefmt import format_clock, format_elapsed

bp = Blueprint("analysis", __name__)

BOARD_FILTERS = ("task", "tag", "kind", "participant", "severity", "session", "q")
KIND_LABELS = {kind.value: kind.label for kind in NoteKind}


def study_panel(study: Study) -> tuple[str, dict] | None:
    """The study overview's links to the analysis pages, for the study's managers only."""
    if not policy.can_manage_study(current_user, study):
        return None
    return "analysis/_study_panel.html", {}


def _study(study_id: int) -> Study:
    return policy.get_or_404(Study, study_id, policy.can_manage_study)


def _finding(study: Study, finding_id: int) -> Finding:
    finding = services.load_finding(study.id, finding_id)
    if finding is None:
        abort(404)
    return finding


# --- Results ----------------------------------------------------------------------------------


def _segment_from_args() -> dict[str, str]:
    wanted = {}
    for raw in request.args.getlist("segment"):
        key, sep, value = raw.partition("=")
        if sep and key and value:
            wanted[key] = value
    return wanted


@bp.get("/studies/<int:study_id>/results")
@login_required
def results_page(study_id: int):
    """Per-task metrics and SUS, with charts, for everyone or one participant segment."""
    study = _study(study_id)
    data = results.compute_study_results(study.id, _segment_from_args())
    unknown = {k: v for k, v in data.segment.items() if v not in data.segment_options.get(k, [])}
    completion = [charts.ChartRow(f"{t.number}. {t.title}", *(
        (t.completion.value, t.completion.low, t.completion.high) if t.completion else (None,)))
        for t in data.tasks]
    times = [charts.ChartRow(f"{t.number}. {t.title}", *(
        (t.time_s.value, t.time_s.low, t.time_s.high) if t.time_s else (None,))) for t in data.tasks]
    svgs = {
        "completion": Markup(charts.completion_chart(completion)),
        "time": Markup(charts.time_chart(times)),
        "sus": Markup(charts.sus_chart([s.score for s in data.sus.scores],
                                       data.sus.mean.value if data.sus.mean else None)),
    }
    return render_template("analysis/results.html", study=study, data=data, charts=svgs, unknown=unknown,
                           attempt_rule=metrics.ATTEMPT_RULE, completion_rule=metrics.COMPLETION_RULE,
                           confidence_label=figures.confidence_label(data.confidence))


# --- A session's task attempts ---------------------------------------------------------------


@bp.get("/sessions/<int:session_id>/attempts")
@login_required
def attempts_page(session_id: int):
    """Every task attempt of the session (restarts included), which of them the analysis counts, and links
    to correct them."""
    study_session = policy.get_or_404(StudySession, session_id, policy.can_observe_session)
    attempts = sorted(study_session.attempts, key=lambda a: (a.task.position, a.task_id, a.number))
    counted = {a.id for a in metrics.counted_attempts(attempts)}
    numbers = {t.id: i for i, t in enumerate(study_session.study.tasks, start=1)}
    return render_template(
        "analysis/attempts.html", study_session=study_session, attempts=attempts, counted=counted,
        numbers=numbers, rule=metrics.ATTEMPT_RULE, format_clock=format_clock,
        can_correct=policy.can_run_session(current_user, study_session))


# --- Notes board ------------------------------------------------------------------------------


def _int_arg(name: str, problems: list[str], allowed: set[int] | None = None) -> int | None:
    raw = request.args.get(name, "").strip()
    if not raw or raw == "none":
        return None
    try:
        value = int(raw)
    except ValueError:
        problems.append(f"The {name} filter “{raw[:20]}” is not valid and was ignored.")
        return None
    if not 1 <= value <= MAX_ID or (allowed is not None and value not in allowed):
        problems.append(f"The {name} filter “{raw[:20]}” is not valid and was ignored.")
        return None
    return value


def _kind_arg(problems: list[str]) -> str | None:
    raw = request.args.get("kind", "").strip()
    if raw and raw not in KIND_LABELS:
        problems.append(f"The kind filter “{raw}” is not valid and was ignored.")
        return None
    return raw or None


def _board_filters(problems: list[str]) -> services.NoteFilters:
    return services.NoteFilters(
        task=_int_arg("task", problems),
        no_task=request.args.get("task") == "none",
        tag=request.args.get("tag", "").strip() or None,
        kind=_kind_arg(problems),
        participant=_int_arg("participant", problems),
        severity=_int_arg("severity", problems, set(SEVERITY_LABELS)),
        no_severity=request.args.get("severity") == "none",
        session=_int_arg("session", problems),
        text=request.args.get("q", "").strip()[:200] or None,
    )


def _board_query_string(args) -> str:
    return urlencode([(k, v) for k, v in args if k in BOARD_FILTERS and v])


@bp.get("/studies/<int:study_id>/notes")
@login_required
def notes_board(study_id: int):
    """Every note of the study, filterable, with actions that turn a selection into evidence."""
    study = _study(study_id)
    problems: list[str] = []
    filters = _board_filters(problems)
    board = services.notes_board(study.id, filters, tagset.tag_names(study),
                                 page=page_number(request.args.get("page")))
    form = BoardActionForm()
    form.finding.choices = {"": "Choose a finding…"} | {str(fid): title for fid, title in board.findings}
    query = _board_query_string(request.args.items(multi=True))
    return render_template("analysis/notes_board.html", study=study, board=board, filters=filters,
                           form=form, problems=problems, query=query, args=request.args,
                           tag_colours=_tag_colours(study), kinds=KIND_LABELS,
                           recorded=recordings.recorded_sessions({row.session_id for row in board.rows}))


def _selected_note_ids() -> list[int]:
    ids = []
    for raw in request.form.getlist("note"):
        if not raw.isdigit():
            raise InvalidInput("The selection was not understood. Reload the board and try again.")
        ids.append(int(raw))
    if not ids:
        raise InvalidInput("Select at least one note first.")
    return ids


@bp.post("/studies/<int:study_id>/notes/act")
@login_required
def board_action(study_id: int):
    """Create a finding from the selected notes, or attach them to an existing finding."""
    study = _study(study_id)
    form = BoardActionForm()
    back = url_for("analysis.notes_board", study_id=study.id)
    query = _board_query_string(parse_qsl(request.form.get("query", "")))
    back_to = f"{back}?{query}" if query else back
    if not form.validate_on_submit():
        flash("The form expired or was incomplete; please try again.", "error")
        return redirect(back_to)
    if request.form.get("action") == "delete":
        return _delete_notes(study, back_to)
    try:
        note_ids = _selected_note_ids()
        if request.form.get("action") == "attach":
            finding = _attach_target(study, form.finding.data)
            added = services.attach_notes(finding, current_user, note_ids)
            message = f"{added} note{'s' if added != 1 else ''} added to “{finding.title}”."
        else:
            severity = int(form.severity.data) if (form.severity.data or "").isdigit() else 2
            finding = services.create_finding(study.id, current_user, title=form.title.data or "",
                                              severity=severity, note_ids=note_ids)
            message = f"Finding created from {len(note_ids)} note{'s' if len(note_ids) != 1 else ''}."
    except DomainError as exc:
        discard_changes()
        flash(exc.message, "error")
        return redirect(back_to)
    flash(message, "success")
    return redirect(url_for("analysis.finding_page", study_id=study.id, finding_id=finding.id))


def _delete_notes(study: Study, back_to: str):
    """Move the selected notes to Recently deleted, after asking."""
    try:
        notes = trash.study_notes_for_deletion(study.id, _selected_note_ids())
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(back_to)
    live = [note for note in notes if note.deleted_at is None]
    if not live:
        flash("Those notes are already in Recently deleted.", "info")
        return redirect(url_for("analysis.recently_deleted", study_id=study.id))
    if not confirm.confirmed():
        backed = trash.findings_backed_by(live)
        lines = [f"{plural(len(live), 'note')} go{'es' if len(live) == 1 else ''} to Recently deleted for "
                 f"{trash.RETENTION_DAYS} days; the study's researchers can restore "
                 f"{'it' if len(live) == 1 else 'them'} until then.",
                 "Until restored, they are left out of the notes board, the metrics, the exports, the report "
                 "and the live consoles."]
        if backed:
            titles = ", ".join(f"“{title}”" for _, title in backed)
            lines.append(f"They are evidence for {plural(len(backed), 'finding')} ({titles}), which lose "
                         f"{'it' if len(live) == 1 else 'them'} until restored.")
        lines.append(f"After {trash.RETENTION_DAYS} days they are deleted for good.")
        return confirm.ask(Confirmation(
            title=f"Delete {plural(len(live), 'note')}?", consequences=lines,
            confirm_label=f"Delete {plural(len(live), 'note')}", cancel_url=back_to))
    moved = trash.delete_notes(live, current_user)
    flash(f"{plural(moved, 'note')} moved to Recently deleted. You can restore "
          f"{'it' if moved == 1 else 'them'} for {trash.RETENTION_DAYS} days.", "success")
    return redirect(back_to)


def _attach_target(study: Study, raw: str | None) -> Finding:
    if not raw or not raw.isdigit():
        raise InvalidInput("Choose the finding to add the notes to.")
    finding = services.load_finding(study.id, int(raw))
    if finding is None:
        raise InvalidInput("That finding no longer exists.")
    return finding


# --- Findings ---------------------------------------------------------------------------------


@bp.get("/studies/<int:study_id>/findings")
@login_required
def findings_page(study_id: int):
    """Findings in reading order, with controls to order them by hand."""
    study = _study(study_id)
    findings = results.ranked_findings(study.id)
    by_hand = any(f.position is not None for f in findings)
    return render_template("analysis/findings.html", study=study, findings=findings, by_hand=by_hand)


def _task_choices(study: Study) -> dict[int, str]:
    return {ref.id: f"{ref.number}. {ref.title}" for ref in results.task_refs(study.id).values()}


def _save_finding(study: Study, form: FindingForm, finding: Finding | None) -> Finding:
    fields = {"title": form.title.data, "severity": int(form.severity.data),
              "description": form.description.data or "", "recommendation": form.recommendation.data or "",
              "priority": form.priority.data or "", "effort": form.effort.data or "",
              "positive": bool(form.positive.data)}
    if finding is None:
        return services.create_finding(study.id, current_user, task_ids=form.tasks.data or [], **fields)
    services.update_finding(finding, current_user, version=form.based_on(), task_ids=form.tasks.data or [],
                            **fields)
    return finding


def _finding_values(finding: Finding) -> dict:
    """The finding's saved values in the edit form's terms."""
    return {"title": finding.title, "severity": str(finding.severity), "description": finding.description,
            "recommendation": finding.recommendation, "priority": finding.priority, "effort": finding.effort,
            "positive": finding.positive, "tasks": sorted(task.id for task in finding.tasks)}


def _finding_form_page(study: Study, finding: Finding | None):
    form = FindingForm(obj=finding)
    form.tasks.choices = _task_choices(study)
    if finding is not None and request.method == "GET":
        form.fill(_finding_values(finding), finding.version)
    if form.validate_on_submit():
        try:
            saved = _save_finding(study, form, finding)
        except StaleVersion as exc:
            show_conflict(form, exc, _finding_values(exc.record))
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            flash("Finding saved.", "success")
            return redirect(url_for("analysis.finding_page", study_id=study.id, finding_id=saved.id))
    return render_template("analysis/finding_form.html", study=study, form=form,
                           finding=finding), form_status(form)


@bp.route("/studies/<int:study_id>/findings/new", methods=["GET", "POST"])
@login_required
def new_finding(study_id: int):
    """Write a finding (notes can be linked from the notes board afterwards)."""
    return _finding_form_page(_study(study_id), None)


@bp.route("/studies/<int:study_id>/findings/<int:finding_id>/edit", methods=["GET", "POST"])
@login_required
def edit_finding(study_id: int, finding_id: int):
    """Change a finding's text, severity and affected tasks."""
    study = _study(study_id)
    return _finding_form_page(study, _finding(study, finding_id))


def _finding_page(study: Study, finding_id: int, screenshot_form=None, merge_form=None, status=200):
    findings = results.ranked_findings(study.id)
    summary = next((f for f in findings if f.id == finding_id), None)
    if summary is None:
        abort(404)
    others = [f for f in findings if f.id != finding_id]
    merge_form = merge_form or MergeForm()
    merge_form.source.choices = {"": "Choose a finding…"} | {str(f.id): f.title for f in others}
    return render_template("analysis/finding.html", study=study, finding=summary,
                           screenshot_form=screenshot_form or ScreenshotForm(), merge_form=merge_form,
                           can_merge=bool(others)), status


@bp.get("/studies/<int:study_id>/findings/<int:finding_id>")
@login_required
def finding_page(study_id: int, finding_id: int):
    """A finding with its frequency, evidence notes and screenshots."""
    return _finding_page(_study(study_id), finding_id)


def _finding_deletion_question(study: Study, finding: Finding) -> Confirmation:
    counts = trash.finding_counts(finding)
    return Confirmation(
        title=f"Delete the finding “{finding.title}”?",
        consequences=[
            f"The finding and its {plural(counts.screenshots, 'screenshot')} and "
            f"{plural(counts.evidence, 'evidence link')} go to Recently deleted for {trash.RETENTION_DAYS} "
            "days; the study's researchers can restore it with all of them until then.",
            "Until restored, it is left out of the findings, the matrix, the exports and new report versions "
            "(versions already published keep it).",
            "Its notes stay on the notes board.",
            f"After {trash.RETENTION_DAYS} days it is deleted for good, screenshots included.",
        ],
        confirm_label="Delete finding",
        cancel_url=url_for("analysis.finding_page", study_id=study.id, finding_id=finding.id))


@bp.route("/studies/<int:study_id>/findings/<int:finding_id>/delete", methods=["GET", "POST"])
@login_required
def delete_finding(study_id: int, finding_id: int):
    """Move a finding to Recently deleted (asks first); its notes stay on the board."""
    study = _study(study_id)
    finding = trash.study_finding(study.id, finding_id)
    if finding.deleted_at is not None:
        flash(f"“{finding.title}” is already in Recently deleted.", "info")
        return redirect(url_for("analysis.recently_deleted", study_id=study.id))
    if not confirm.confirmed():
        return confirm.ask(_finding_deletion_question(study, finding))
    if not BoardActionForm().validate_on_submit():
        abort(400)
    trash.delete_finding(finding, current_user)
    flash(f"“{finding.title}” moved to Recently deleted, with its screenshots and evidence links. You can "
          f"restore it for {trash.RETENTION_DAYS} days. Its notes are still on the notes board.", "success")
    return redirect(url_for("analysis.findings_page", study_id=study.id))


# --- Recently deleted -------------------------------------------------------------------------


@bp.get("/studies/<int:study_id>/deleted")
@login_required
def recently_deleted(study_id: int):
    """Findings and notes deleted in the last 30 days, with a Restore button each."""
    study = _study(study_id)
    findings, notes = trash.recently_deleted(study.id)
    return render_template("analysis/deleted.html", study=study, findings=findings, notes=notes,
                           retention_days=trash.RETENTION_DAYS, form=BoardActionForm())


@bp.post("/studies/<int:study_id>/deleted/findings/<int:finding_id>/restore")
@login_required
def restore_finding(study_id: int, finding_id: int):
    """Bring a finding back with its evidence links and screenshots."""
    study = _study(study_id)
    finding = trash.study_finding(study.id, finding_id, to_restore=True)
    if not BoardActionForm().validate_on_submit():
        abort(400)
    if trash.restore_finding(finding, current_user):
        flash(f"“{finding.title}” restored with its screenshots and evidence links.", "success")
    else:
        flash(f"“{finding.title}” was not deleted (or was restored already).", "info")
    return redirect(url_for("analysis.finding_page", study_id=study.id, finding_id=finding.id))


@bp.post("/studies/<int:study_id>/deleted/notes/<int:note_id>/restore")
@login_required
def restore_note(study_id: int, note_id: int):
    """Bring a note back to the board, the metrics and the live consoles."""
    study = _study(study_id)
    note = trash.deleted_note(study.id, note_id)
    if not BoardActionForm().validate_on_submit():
        abort(400)
    if trash.restore_note(note, current_user):
        flash("Note restored: it is back on the notes board and in the findings it backs.", "success")
    else:
        flash("That note was not deleted (or was restored already).", "info")
    return redirect(url_for("analysis.recently_deleted", study_id=study.id))


@bp.post("/studies/<int:study_id>/findings/<int:finding_id>/notes/<int:note_id>/unlink")
@login_required
def unlink_note(study_id: int, finding_id: int, note_id: int):
    """Remove one note from a finding's evidence."""
    study = _study(study_id)
    finding = _finding(study, finding_id)
    if not BoardActionForm().validate_on_submit():
        abort(400)
    services.unlink_note(finding, current_user, note_id)
    flash("Note removed from the evidence.", "success")
    return redirect(url_for("analysis.finding_page", study_id=study.id, finding_id=finding.id))


def _merge_question(study: Study, target: Finding, source: Finding) -> Confirmation:
    notes = len({n.id for n in source.notes if n.deleted_at is None} - {n.id for n in target.notes})
    tasks = len({t.id for t in source.tasks} - {t.id for t in target.tasks})
    shots = len(source.screenshots)
    severity = max(target.severity, source.severity)
    return Confirmation(
        title=f"Merge “{source.title}” into “{target.title}”?",
        consequences=[
            f"{plural(notes, 'evidence note')}, {plural(shots, 'screenshot')} and "
            f"{plural(tasks, 'affected task')} of “{source.title}” move to “{target.title}” "
            "(those it already has are not doubled).",
            f"The severity becomes {severity} – {SEVERITY_LABELS[severity]}, the higher of the two; the "
            "descriptions and recommendations are joined.",
            f"“{source.title}” is then removed. A merge cannot be undone.",
        ],
        confirm_label="Merge", danger=False,
        cancel_url=url_for("analysis.finding_page", study_id=study.id, finding_id=target.id),
    )


@bp.route("/studies/<int:study_id>/findings/<int:finding_id>/merge", methods=["POST"])
@login_required
def merge_finding(study_id: int, finding_id: int):
    """Fold another finding into this one."""
    study = _study(study_id)
    target = _finding(study, finding_id)
    form = MergeForm()
    if form.validate_on_submit():
        source = services.load_finding(study.id, int(form.source.data)) if (
            form.source.data or "").isdigit() else None
        if source is None:
            form.source.errors = ["Choose the finding to merge into this one."]
        else:
            if source.id != target.id and not confirm.confirmed():
                return confirm.ask(_merge_question(study, target, source))
            try:
                services.merge_findings(target, source, current_user)
            except DomainError as exc:
                show_refusal(form, exc)
            else:
                flash(f"“{source.title}” was merged into this finding.", "success")
                return redirect(url_for("analysis.finding_page", study_id=study.id, finding_id=target.id))
    return _finding_page(study, target.id, merge_form=form, status=400)


@bp.post("/studies/<int:study_id>/findings/<int:finding_id>/move/<direction>")
@login_required
def move_finding(study_id: int, finding_id: int, direction: str):
    """Move a finding up or down in the reading order."""
    study = _study(study_id)
    if direction not in ("up", "down") or not BoardActionForm().validate_on_submit():
        abort(400)
    services.move_finding(study.id, finding_id, -1 if direction == "up" else 1, current_user)
    return redirect(url_for("analysis.findings_page", study_id=study.id) + f"#finding-{finding_id}")


@bp.route("/studies/<int:study_id>/findings/reset-order", methods=["GET", "POST"])
@login_required
def reset_order(study_id: int):
    """Go back to ranking by severity then frequency (asks first when an order was made by hand)."""
    study = _study(study_id)
    by_hand = [f for f in results.ranked_findings(study.id) if f.position is not None]
    if by_hand and not confirm.confirmed():
        return confirm.ask(Confirmation(
            title="Forget the hand-made order of the findings?",
            consequences=[f"The order you gave {plural(len(by_hand), 'finding')} by hand is forgotten: "
                          "they are ranked by severity, then by how many participants each affects, in the "
                          "pages, the exports and the next report.",
                          "The old order cannot be brought back, except by moving the findings again."],
            confirm_label="Rank by severity and frequency", danger=False,
            cancel_url=url_for("analysis.findings_page", study_id=study.id)))
    if request.method == "GET":
        return redirect(url_for("analysis.findings_page", study_id=study.id))
    if not BoardActionForm().validate_on_submit():
        abort(400)
    services.reset_order(study.id, current_user)
    flash("Findings are ranked by severity, then frequency, again.", "success")
    return redirect(url_for("analysis.findings_page", study_id=study.id))


# --- Screenshots ------------------------------------------------------------------------------


@bp.post("/studies/<int:study_id>/findings/<int:finding_id>/screenshots")
@login_required
def upload_screenshot(study_id: int, finding_id: int):
    """Attach a PNG or JPEG screenshot, checked with Pillow."""
    study = _study(study_id)
    finding = _finding(study, finding_id)
    form = ScreenshotForm()
    if form.validate_on_submit():
        limit = int(current_app.config["SCREENSHOT_MAX_BYTES"])
        upload = form.image.data
        try:
            services.add_screenshot(finding, current_user, upload.read(limit + 1), upload.filename or "",
                                    form.caption.data or "", limit,
                                    int(current_app.config["SCREENSHOT_MAX_PIXELS"]))
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            flash("Screenshot added.", "success")
            return redirect(url_for("analysis.finding_page", study_id=study.id, finding_id=finding.id)
                            + "#screenshots")
    return _finding_page(study, finding.id, screenshot_form=form, status=400)


def _screenshot(study: Study, finding_id: int, screenshot_id: int) -> Screenshot:
    shot = db.session.get(Screenshot, screenshot_id)
    if (shot is None or shot.finding_id != finding_id or shot.finding.study_id != study.id
            or shot.finding.deleted_at is not None):
        abort(404)
    return shot


@bp.get("/studies/<int:study_id>/findings/<int:finding_id>/screenshots/<int:screenshot_id>")
@login_required
def screenshot(study_id: int, finding_id: int, screenshot_id: int):
    """The image bytes of a screenshot."""
    shot = _screenshot(_study(study_id), finding_id, screenshot_id)
    response = Response(shot.data, mimetype=shot.content_type)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


@bp.route("/studies/<int:study_id>/findings/<int:finding_id>/screenshots/<int:screenshot_id>/delete",
          methods=["GET", "POST"])
@login_required
def delete_screenshot(study_id: int, finding_id: int, screenshot_id: int):
    """Remove a screenshot from a finding (asks first)."""
    study = _study(study_id)
    shot = _screenshot(study, finding_id, screenshot_id)
    if not confirm.confirmed():
        name = f"“{shot.caption}” ({shot.filename})" if shot.caption else f"“{shot.filename}”"
        return confirm.ask(Confirmation(
            title=f"Delete the screenshot {name}?",
            consequences=[f"The image is removed from the finding “{shot.finding.title}” and deleted for "
                          "good: this cannot be undone.",
                          "The finding itself, its other screenshots and its evidence notes stay."],
            confirm_label="Delete screenshot",
            cancel_url=url_for("analysis.finding_page", study_id=study.id, finding_id=finding_id,
                               _anchor="screenshots")))
    if not BoardActionForm().validate_on_submit():
        abort(400)
    services.delete_screenshot(shot, current_user)
    flash("Screenshot removed.", "success")
    return redirect(url_for("analysis.finding_page", study_id=study.id, finding_id=finding_id))


# --- Rainbow matrix and exports ---------------------------------------------------------------


@bp.get("/studies/<int:study_id>/matrix")
@login_required
def matrix(study_id: int):
    """Findings by participants, coloured where a participant's notes back a finding."""
    study = _study(study_id)
    data = results.rainbow_matrix(study.id)
    chosen = None
    finding_arg, participant_arg = request.args.get("finding", ""), request.args.get("participant", "")
    if finding_arg.isdigit() and participant_arg.isdigit():
        for row in data.rows:
            if row.finding.id == int(finding_arg):
                chosen = next((c for c in row.cells if c.participant.id == int(participant_arg)), None)
                chosen = (row.finding, chosen) if chosen else None
    return render_template("analysis/matrix.html", study=study, matrix=data, chosen=chosen)


@bp.get("/studies/<int:study_id>/exports")
@login_required
def exports(study_id: int):
    """The CSV files a study's data can be downloaded as."""
    study = _study(study_id)
    return render_template("analysis/exports.html", study=study, exports=services.EXPORTS)


@bp.get("/studies/<int:study_id>/exports/<kind>.csv")
@login_required
def export_csv(study_id: int, kind: str):
    """One CSV file: UTF-8 with a BOM, formula-like cells neutralised, sent while it is read."""
    study = _study(study_id)
    if kind not in services.EXPORTS:
        abort(404)
    header, rows = services.EXPORTS[kind][2](study.id)
    # Streamed: the first bytes leave at once and a study's 40,000 notes never sit in memory whole.
    response = Response(stream_with_context(export.iter_csv(header, rows)), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="study-{study.id}-{kind}.csv"'
    return response


# --- One note: its changes and history --------------------------------------------------------


def _note(study: Study, note_id: int) -> Note:
    note = db.session.get(Note, note_id)
    if note is None or note.study_session.study_id != study.id:
        abort(404)
    policy.require(policy.can_edit_note(current_user, note))
    return note


def _note_form(study: Study, note: Note) -> NoteForm:
    form = NoteForm()
    tags = {tag.name: tag.name for tag in study.tags}
    # A tag the note carries from before the set changed stays choosable, so saving keeps it.
    for name in note.tags or []:
        tags.setdefault(name, name)
    form.tags.choices = list(tags.items())
    form.task.choices = {"": "No task"} | {str(tid): label for tid, label in _task_choices(study).items()}
    if not form.is_submitted():
        form.fill(_note_values(note), note.version)
    return form


def _note_values(note: Note) -> dict:
    """The note's saved values in the edit form's terms."""
    return {"body": note.body, "kind": note.kind.value, "tags": list(note.tags or []),
            "severity": "" if note.severity is None else str(note.severity),
            "task": "" if note.task_id is None else str(note.task_id)}


def _history_rows(study: Study, note: Note) -> list[dict]:
    tasks = _task_choices(study)
    kinds = {kind.value: kind.label for kind in NoteKind}

    def shown(name: str, value) -> str:
        if value is None or value == []:
            return "none"
        if name == "tags":
            return ", ".join(value)
        if name == "severity":
            return f"{value} – {SEVERITY_LABELS.get(value, '')}"
        if name == "task_id":
            return tasks.get(value, f"task {value} (removed)")
        if name == "kind":
            return kinds.get(value, value)
        if name == "deleted_at":
            return "deleted"
        return str(value)

    rows = []
    for revision in reversed(observe_services.note_history(note)):
        changes = [{"field": NOTE_FIELD_LABELS.get(name, name), "after": shown(name, value),
                    "before": shown(name, revision.before.get(name))}
                   for name, value in revision.after.items()]
        rows.append({"at": revision.created_at, "changes": changes,
                     "actor": revision.actor.name if revision.actor else "A removed user",
                     "action": NOTE_ACTION_LABELS.get(revision.action, revision.action)})
    return rows


NOTE_FIELD_LABELS = {"body": "Text", "tags": "Tags", "severity": "Severity", "task_id": "Task",
                     "kind": "Kind", "deleted_at": "Deleted"}
NOTE_ACTION_LABELS = {"edit": "edited the note", "delete": "deleted the note", "tag.rename": "renamed a tag",
                      "tag.merge": "merged tags", "tag.remove": "deleted a tag"}


@bp.route("/studies/<int:study_id>/notes/<int:note_id>", methods=["GET", "POST"])
@login_required
def note_page(study_id: int, note_id: int):
    """One note: change its text, kind, tags, severity and task, and read its history."""
    study = _study(study_id)
    note = _note(study, note_id)
    form = _note_form(study, note)
    deleted = note.deleted_at is not None
    if not deleted and form.validate_on_submit():
        values = {"body": form.body.data, "kind": form.kind.data, "tags": form.tags.data or [],
                  "severity": int(form.severity.data) if form.severity.data else None,
                  "task_id": int(form.task.data) if (form.task.data or "").isdigit() else None}
        try:
            observe_services.edit_note(note, current_user, values, form.based_on())
        except StaleVersion as exc:
            show_conflict(form, exc, _note_values(note))
        except DomainError as exc:
            if exc.field == "task_id":
                exc.field = "task"
            show_refusal(form, exc)
        else:
            flash("Note saved. Its history below shows the change.", "success")
            return redirect(url_for("analysis.note_page", study_id=study.id, note_id=note.id))
    status = form_status(form)
    return render_template("analysis/note.html", study=study, note=note, form=form, deleted=deleted,
                           history=_history_rows(study, note), tag_colours=_tag_colours(study),
                           elapsed=format_elapsed(note.elapsed_ms or 0),
                           back=_board_anchor(study, note)), status


def _board_anchor(study: Study, note: Note) -> str:
    return url_for("analysis.notes_board", study_id=study.id) + f"#note-row-{note.id}"


def _tag_colours(study: Study) -> dict[str, str]:
    return {tag.name: tag.colour for tag in study.tags}


# --- The study's tag set ----------------------------------------------------------------------


def _tag(study: Study, tag_id: int) -> StudyTag:
    tag = db.session.get(StudyTag, tag_id)
    if tag is None or tag.study_id != study.id:
        abort(404)
    return tag


def _show_tag_refusal(form, exc: DomainError) -> None:
    """Every field the service named gets its message (a tag can be wrong in several ways at once)."""
    shown = False
    for name, message in exc.fields.items():
        target = getattr(form, name, None)
        if target is not None and hasattr(target, "errors"):
            target.errors = [*target.errors, message]
            shown = True
    if not shown:
        show_refusal(form, exc)


def _tag_values(form: TagForm) -> dict:
    return {"name": form.name.data or "", "description": form.description.data or "",
            "colour": form.colour.data or "", "shortcut": form.shortcut.data or None}


def _tags_page(study: Study, form: TagForm, status: int = 200):
    usage = observe_services.tag_usage(study)
    return render_template("analysis/tags.html", study=study, tags=list(study.tags), form=form, usage=usage,
                           reserved=tagset.RESERVED_SHORTCUTS, move_form=BoardActionForm()), status


@bp.route("/studies/<int:study_id>/tags", methods=["GET", "POST"])
@login_required
def tags_page(study_id: int):
    """The study's tag set: each tag's name, description, colour, console shortcut and use; add one."""
    study = _study(study_id)
    form = TagForm()
    if form.validate_on_submit():
        try:
            tag = tagset.add_tag(study, current_user, **_tag_values(form))
        except DomainError as exc:
            _show_tag_refusal(form, exc)
        else:
            flash(f"Tag “{tag.name}” added.", "success")
            return redirect(url_for("analysis.tags_page", study_id=study.id) + f"#tag-{tag.id}")
    return _tags_page(study, form, 400 if form.errors or form.form_errors else 200)


def _tag_edit_page(study: Study, tag: StudyTag, form: TagForm | None = None, merge_form=None, status=200):
    form = form or TagForm(obj=tag)
    merge_form = merge_form or TagMergeForm()
    merge_form.target.choices = _other_tag_choices(study, tag)
    return render_template("analysis/tag_edit.html", study=study, tag=tag, form=form, merge_form=merge_form,
                           used=observe_services.tag_usage(study).get(tag.name_key, 0)), status


@bp.route("/studies/<int:study_id>/tags/<int:tag_id>/edit", methods=["GET", "POST"])
@login_required
def tag_edit(study_id: int, tag_id: int):
    """Change a tag; a new name is written into every note that carries it."""
    study = _study(study_id)
    tag = _tag(study, tag_id)
    form = TagForm(obj=tag)
    if form.validate_on_submit():
        old = tag.name
        try:
            changed = observe_services.update_tag(tag, current_user, **_tag_values(form))
        except DomainError as exc:
            _show_tag_refusal(form, exc)
        else:
            renamed = f" Renamed from “{old}” on {_plural(changed)}." if old != tag.name else ""
            flash(f"Tag “{tag.name}” saved.{renamed}", "success")
            return redirect(url_for("analysis.tags_page", study_id=study.id) + f"#tag-{tag.id}")
    return _tag_edit_page(study, tag, form=form, status=400 if form.errors or form.form_errors else 200)


def _other_tag_choices(study: Study, tag: StudyTag) -> dict[str, str]:
    return {"": "Choose a tag…"} | {str(t.id): t.name for t in study.tags if t.id != tag.id}


def _plural(count: int, word: str = "note") -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _other_tag(study: Study, tag: StudyTag, raw: str | None) -> StudyTag | None:
    if not (raw or "").isdigit():
        return None
    other = db.session.get(StudyTag, int(raw))
    return other if other is not None and other.study_id == study.id and other.id != tag.id else None


@bp.post("/studies/<int:study_id>/tags/<int:tag_id>/merge")
@login_required
def tag_merge(study_id: int, tag_id: int):
    """Fold this tag into another: its notes carry the other tag, and this one leaves the set."""
    study = _study(study_id)
    tag = _tag(study, tag_id)
    form = TagMergeForm()
    if form.validate_on_submit():
        target = _other_tag(study, tag, form.target.data)
        if target is None:
            form.target.errors = ["Choose the tag to merge this one into."]
        else:
            name = tag.name
            changed = observe_services.merge_tag(tag, target, current_user)
            flash(f"“{name}” was merged into “{target.name}” ({changed} note{'s' if changed != 1 else ''} "
                  "changed).", "success")
            return redirect(url_for("analysis.tags_page", study_id=study.id) + f"#tag-{target.id}")
    return _tag_edit_page(study, tag, merge_form=form, status=400)


@bp.route("/studies/<int:study_id>/tags/<int:tag_id>/delete", methods=["GET", "POST"])
@login_required
def tag_delete(study_id: int, tag_id: int):
    """Delete a tag; when notes carry it, say whether they lose it or take another tag instead."""
    study = _study(study_id)
    tag = _tag(study, tag_id)
    used = observe_services.tag_usage(study).get(tag.name_key, 0)
    form = TagDeleteForm()
    form.target.choices = _other_tag_choices(study, tag)
    if form.validate_on_submit():
        name = tag.name
        if form.fate.data == "merge":
            target = _other_tag(study, tag, form.target.data)
            if target is None:
                form.target.errors = ["Choose the tag those notes get instead."]
            else:
                changed = observe_services.merge_tag(tag, target, current_user)
                flash(f"Tag “{name}” deleted; {changed} note{'s' if changed != 1 else ''} now carry "
                      f"“{target.name}” instead.", "success")
                return redirect(url_for("analysis.tags_page", study_id=study.id))
        else:
            changed = observe_services.delete_tag(tag, current_user)
            flash(f"Tag “{name}” deleted" + (f" and removed from {changed} note{'s' if changed != 1 else ''}."
                                              if changed else "."), "success")
            return redirect(url_for("analysis.tags_page", study_id=study.id))
    status = 400 if form.errors or form.form_errors else 200
    return render_template("analysis/tag_delete.html", study=study, tag=tag, form=form, used=used), status


@bp.post("/studies/<int:study_id>/tags/<int:tag_id>/move/<direction>")
@login_required
def tag_move(study_id: int, tag_id: int, direction: str):
    """Move a tag up or down in the set (the console lists tags in this order)."""
    study = _study(study_id)
    tag = _tag(study, tag_id)
    if direction not in ("up", "down") or not BoardActionForm().validate_on_submit():
        abort(400)
    tagset.move_tag(tag, -1 if direction == "up" else 1, current_user)
    return redirect(url_for("analysis.tags_page", study_id=study.id) + f"#tag-{tag.id}")
