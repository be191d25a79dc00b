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
    url_for,
)
from flask_login import current_user, login_required
from markupsafe import Markup

from usabtest import policy
from usabtest.analysis import charts, export, results, services
from usabtest.analysis.forms import BoardActionForm, FindingForm, MergeForm, ScreenshotForm
from usabtest.analysis.models import SEVERITY_LABELS, Finding, Screenshot
from usabtest.core.errors import DomainError, InvalidInput, discard_changes
from usabtest.core.forms import show_refusal
from usabtest.extensions import db
from usabtest.planning.models import Study

bp = Blueprint("analysis", __name__)

BOARD_FILTERS = ("task", "tag", "participant", "severity", "session", "q")


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
    return render_template("analysis/results.html", study=study, data=data, charts=svgs, unknown=unknown)


# --- Notes board ------------------------------------------------------------------------------


def _int_arg(name: str, problems: list[str], allowed: set[int] | None = None) -> int | None:
    raw = request.args.get(name, "").strip()
    if not raw or raw == "none":
        return None
    try:
        value = int(raw)
    except ValueError:
        problems.append(f"The {name} filter “{raw}” is not valid and was ignored.")
        return None
    if allowed is not None and value not in allowed:
        problems.append(f"The {name} filter “{raw}” is not valid and was ignored.")
        return None
    return value


def _board_filters(problems: list[str]) -> services.NoteFilters:
    return services.NoteFilters(
        task=_int_arg("task", problems),
        no_task=request.args.get("task") == "none",
        tag=request.args.get("tag", "").strip() or None,
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
    page = request.args.get("page", "1")
    board = services.notes_board(study.id, filters, study.custom_tags,
                                 page=int(page) if page.isdigit() else 1)
    form = BoardActionForm()
    form.finding.choices = {"": "Choose a finding…"} | {str(fid): title for fid, title in board.findings}
    query = _board_query_string(request.args.items(multi=True))
    return render_template("analysis/notes_board.html", study=study, board=board, filters=filters,
                           form=form, problems=problems, query=query, args=request.args)


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
              "description": form.description.data or "", "recommendation": form.recommendation.data or ""}
    if finding is None:
        return services.create_finding(study.id, current_user, task_ids=form.tasks.data or [], **fields)
    services.update_finding(finding, current_user, task_ids=form.tasks.data or [], **fields)
    return finding


def _finding_form_page(study: Study, finding: Finding | None):
    form = FindingForm(obj=finding)
    form.tasks.choices = _task_choices(study)
    if finding is not None and request.method == "GET":
        form.severity.data = str(finding.severity)
        form.tasks.data = [task.id for task in finding.tasks]
    if form.validate_on_submit():
        try:
            saved = _save_finding(study, form, finding)
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            flash("Finding saved.", "success")
            return redirect(url_for("analysis.finding_page", study_id=study.id, finding_id=saved.id))
    status = 400 if form.errors or form.form_errors else 200
    return render_template("analysis/finding_form.html", study=study, form=form, finding=finding), status


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


@bp.post("/studies/<int:study_id>/findings/<int:finding_id>/delete")
@login_required
def delete_finding(study_id: int, finding_id: int):
    """Delete a finding; its notes stay on the board."""
    study = _study(study_id)
    finding = _finding(study, finding_id)
    if not BoardActionForm().validate_on_submit():
        abort(400)
    services.delete_finding(finding, current_user)
    flash("Finding deleted. Its notes are still on the notes board.", "success")
    return redirect(url_for("analysis.findings_page", study_id=study.id))


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


@bp.post("/studies/<int:study_id>/findings/<int:finding_id>/merge")
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


@bp.post("/studies/<int:study_id>/findings/reset-order")
@login_required
def reset_order(study_id: int):
    """Go back to ranking by severity then frequency."""
    study = _study(study_id)
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
                                    form.caption.data or "", limit)
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            flash("Screenshot added.", "success")
            return redirect(url_for("analysis.finding_page", study_id=study.id, finding_id=finding.id)
                            + "#screenshots")
    return _finding_page(study, finding.id, screenshot_form=form, status=400)


def _screenshot(study: Study, finding_id: int, screenshot_id: int) -> Screenshot:
    shot = db.session.get(Screenshot, screenshot_id)
    if shot is None or shot.finding_id != finding_id or shot.finding.study_id != study.id:
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


@bp.post("/studies/<int:study_id>/findings/<int:finding_id>/screenshots/<int:screenshot_id>/delete")
@login_required
def delete_screenshot(study_id: int, finding_id: int, screenshot_id: int):
    """Remove a screenshot from a finding."""
    study = _study(study_id)
    shot = _screenshot(study, finding_id, screenshot_id)
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
    """One CSV file: UTF-8 with a BOM, formula-like cells neutralised."""
    study = _study(study_id)
    if kind not in services.EXPORTS:
        abort(404)
    header, rows = services.EXPORTS[kind][2](study.id)
    response = Response(export.to_csv(header, rows), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="study-{study.id}-{kind}.csv"'
    return response
