"""Pages of the planning domain: studies, task scripts, participants, sessions, agenda and calendars."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeTimedSerializer

from usabtest import policy
from usabtest.accounts.forms import ConfirmForm
from usabtest.accounts.models import Organisation, Role, User
from usabtest.core import confirm, mail
from usabtest.core.confirm import Confirmation, plural
from usabtest.core.errors import DomainError, discard_changes
from usabtest.core.forms import form_status, show_conflict, show_refusal
from usabtest.core.urls import page_number
from usabtest.core.versioning import StaleVersion
from usabtest.db import utcnow
from usabtest.extensions import db
from usabtest.planning import csv_import, queries, services, tagset, team
from usabtest.planning.calendar import build_calendar, session_event
from usabtest.planning.forms import (
    HandOverForm,
    ImportConfirmForm,
    ImportForm,
    ParticipantForm,
    SessionForm,
    StudyForm,
    TaskForm,
    TeamAddForm,
    TeamRoleForm,
    WalkInForm,
    format_segments,
    parse_segments,
)
from usabtest.planning.invitations import participant_reachable, team_event_text
from usabtest.planning.models import (
    Participant,
    SessionStatus,
    Study,
    StudySession,
    StudyStatus,
    Task,
    TeamRole,
)
from usabtest.planning.scheduling import group_by_local_day
from usabtest.policy import role_required
from usabtest.timefmt import format_local, to_zone

bp = Blueprint("planning", __name__)

PLANNERS = (Role.ADMIN, Role.RESEARCHER)
TEAM = (Role.ADMIN, Role.RESEARCHER, Role.OBSERVER)
IMPORT_MAX_AGE_S = 24 * 3600


@bp.context_processor
def _helpers() -> dict:
    return {"format_local": format_local, "clock": _clock}


def _clock(value) -> str:
    """Hours and minutes in the signed-in user's zone (the zone is named once, nearby)."""
    return to_zone(value, current_user.timezone).strftime("%H:%M")


def _visible_study(study_id: int) -> Study:
    return policy.get_or_404(Study, study_id, policy.can_view_study)


def _managed_study(study_id: int) -> Study:
    """The study, 404 when hidden from the user, 403 when visible but read-only to them."""
    study = _visible_study(study_id)
    policy.forbid_unless(policy.can_manage_study(current_user, study))
    return study


def _can_see_study() -> Callable[[Study], bool]:
    """The policy's study-visibility rule for the signed-in user, for services to apply."""
    return partial(policy.can_view_study, current_user)


def _managed_session(session_id: int) -> StudySession:
    study_session = policy.get_or_404(StudySession, session_id, policy.can_view_session)
    policy.forbid_unless(policy.can_manage_session(current_user, study_session))
    return study_session


def _status(form) -> int:
    return form_status(form)


StudyPanel = tuple[str, dict]  # a partial template and the data it shows
_STUDY_PANELS = "usabtest.study_panels"


def register_study_panels(app: Flask, *providers: Callable[[Study], StudyPanel | None]) -> None:
    """Name the later domains' panels shown on the study overview (the app wires them in).

    Each provider gathers its own data for the signed-in user, or answers None to show nothing;
    planning thereby composes the page without importing analysis or reports.
    """
    app.extensions[_STUDY_PANELS] = list(providers)


def _study_panels(study: Study) -> list[StudyPanel]:
    providers = current_app.extensions.get(_STUDY_PANELS, [])
    return [panel for provide in providers if (panel := provide(study)) is not None]


_SESSION_PANELS = "usabtest.session_panels"


def register_session_panels(app: Flask, *providers: Callable[[StudySession], StudyPanel | None]) -> None:
    """Name the later domains' panels shown on a session's page (observe's recording and notes)."""
    app.extensions[_SESSION_PANELS] = list(providers)


def _session_panels(study_session: StudySession) -> list[StudyPanel]:
    providers = current_app.extensions.get(_SESSION_PANELS, [])
    return [panel for provide in providers if (panel := provide(study_session)) is not None]


def _console_access(sessions) -> dict[int, dict[str, bool]]:
    """Per session, whether the signed-in user gets the console and SUS links (observe's partial)."""
    user = current_user._get_current_object()
    managed: dict[int, bool] = {}  # a study's managers reach every session of it: asked once per study
    access = {}
    for s in sessions:
        if s.study_id not in managed:
            managed[s.study_id] = policy.can_manage_study(user, s.study)
        if managed[s.study_id]:
            access[s.id] = {"console": True, "sus": True}
        else:
            access[s.id] = {"console": policy.can_observe_session(user, s),
                            "sus": policy.can_run_session(user, s)}
    return access


# --- studies -------------------------------------------------------------------------------------

@bp.get("/studies")
@role_required(*TEAM)
def study_list():
    """Every study the user may open, newest change first."""
    page = page_number(request.args.get("page"))
    visible = queries.study_list_query(policy.studies_visible_to(current_user))
    pagination = db.paginate(visible, page=page, per_page=25, error_out=False)
    if pagination.pages and page > pagination.pages:  # past the end: the last page
        pagination = db.paginate(visible, page=pagination.pages, per_page=25, error_out=False)
    return render_template("planning/study_list.html", pagination=pagination,
                           can_create=current_user.has_role(*PLANNERS))


@bp.route("/studies/new", methods=["GET", "POST"])
@role_required(*PLANNERS)
def study_new():
    """Create a study for one of the client organisations the user may pick."""
    form = StudyForm()
    del form.status
    form.tags_from.choices = _tag_sources()
    form.set_organisations(_pickable_organisations())
    if request.method == "GET":
        form.organisation.data = _offered(form, request.args.get("organisation", type=int))
    if form.validate_on_submit():
        source = db.session.get(Study, int(form.tags_from.data)) if form.tags_from.data else None
        study = services.create_study(
            current_user, organisation=_picked_organisation(form), title=form.title.data,
            product=form.product.data or "", goals=form.goals.data or "", method=form.method.data,
            tags_from=source, language=form.language.data,
        )
        flash(f"Study “{study.title}” created. Add its tasks and participants next.", "success")
        return redirect(url_for("planning.study_overview", study_id=study.id))
    return render_template("planning/study_form.html", form=form, study=None), _status(form)


def _pickable_organisations(current: Organisation | None = None) -> list[Organisation]:
    """The organisations the user may put a study in, by name; `current` (the study's own) always."""
    orgs = list(db.session.scalars(
        policy.organisations_visible_to(current_user).order_by(Organisation.name_key)))
    if current is not None and all(org.id != current.id for org in orgs):
        orgs.insert(0, current)
    return orgs


def _offered(form: StudyForm, org_id: int | None) -> int | None:
    """`org_id` when the form offers it (a link's `?organisation=` preselects it), else None."""
    return org_id if org_id in {value for value, _ in form.organisation.choices} else None


def _picked_organisation(form: StudyForm) -> Organisation:
    """The organisation chosen in `form` (its validator already kept it to the offered ones)."""
    org = db.session.get(Organisation, form.organisation.data)
    policy.require(org is not None)
    return org


def _tag_sources() -> dict[str, str]:
    """The study form's tag set choices: the default set, or the set of a study the user may open."""
    default = ", ".join(spec.name for spec in tagset.DEFAULT_TAGS)
    choices = {"": f"The default set ({default})"}
    for study_id, title, count in tagset.studies_with_tags(policy.studies_visible_to(current_user)):
        choices[str(study_id)] = f"Copy the tags of “{title}” ({count} tag{'' if count == 1 else 's'})"
    return choices


@bp.get("/studies/<int:study_id>")
@role_required(*TEAM)
def study_overview(study_id: int):
    """Tasks, participants, sessions and progress of one study."""
    study = _visible_study(study_id)
    counts = services.study_counts(study)
    everyone = request.args.get("all") == "1"
    rows = queries.overview_rows(study, counts, None if everyone else queries.OVERVIEW_ROWS)
    manager = policy.can_manage_study(current_user, study)
    return render_template(
        "planning/study_overview.html", study=study, manager=manager, rows=rows,
        counts=counts, tasks=services.active_tasks(study),
        archived=[t for t in study.tasks if t.archived], confirm=ConfirmForm(),
        failed_mail=services.failed_deliveries_for_study(study) if manager else [],
        console_access=_console_access(rows.sessions), panels=_study_panels(study),
        members=team.members(study), team_manager=policy.can_manage_team(current_user, study),
        client_page=policy.can_see_organisation(current_user, study.organisation),
    )


@bp.route("/studies/<int:study_id>/edit", methods=["GET", "POST"])
@role_required(*PLANNERS)
def study_edit(study_id: int):
    """Edit a study's description, client and status; the client stays unless another is picked."""
    study = _managed_study(study_id)
    form = StudyForm(obj=study)
    del form.tags_from  # a study's tags are changed on its tag set page
    form.set_organisations(_pickable_organisations(study.organisation))
    if request.method == "GET":
        form.fill(_study_values(study), study.version)
        # A link back from creating an organisation (`?organisation=`) preselects it.
        preselect = _offered(form, request.args.get("organisation", type=int))
        form.organisation.data = preselect or study.organisation_id
    elif "organisation" not in request.form:
        form.organisation.data = study.organisation_id  # a form without the field keeps the client
    if form.validate_on_submit():
        try:
            services.update_study(
                study, current_user, version=form.based_on(), organisation=_picked_organisation(form),
                title=form.title.data, product=form.product.data or "", goals=form.goals.data or "",
                method=form.method.data, status=form.status.data, language=form.language.data,
            )
        except StaleVersion as exc:
            # The study as saved now may be in an organisation the picker did not list: name it too.
            if study.organisation_id not in {value for value, _ in form.organisation.choices}:
                form.organisation.choices.append((study.organisation_id, study.organisation.name))
            show_conflict(form, exc, _study_values(study))
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            flash("Study saved.", "success")
            return redirect(url_for("planning.study_overview", study_id=study.id))
    return render_template("planning/study_form.html", form=form, study=study), _status(form)


def _study_values(study: Study) -> dict:
    """The study's saved values in the edit form's terms (the client organisation's id, enums by value)."""
    return {"title": study.title, "organisation": study.organisation_id, "product": study.product,
            "goals": study.goals, "method": study.method.value, "status": study.status.value,
            "language": study.language.value}


@bp.route("/studies/<int:study_id>/close", methods=["GET", "POST"])
@role_required(*PLANNERS)
def study_close(study_id: int):
    """Close a study: no new sessions are scheduled in it (asks first)."""
    study = _managed_study(study_id)
    if study.status != StudyStatus.CLOSED and not confirm.confirmed():
        upcoming = len(services.upcoming_sessions(study))
        return confirm.ask(Confirmation(
            title=f"Close the study “{study.title}”?",
            consequences=[
                "No new sessions can be scheduled in it while it is closed.",
                f"Its {plural(upcoming, 'scheduled session')} stay{'s' if upcoming == 1 else ''} "
                "scheduled: cancel them one by one if they should not happen." if upcoming
                else "It has no scheduled sessions.",
                "Nobody is e-mailed. You can reopen the study at any time.",
            ],
            confirm_label="Close study", cancel_url=url_for("planning.study_overview", study_id=study.id),
            danger=False,
        ))
    return _set_status(study_id, StudyStatus.CLOSED, "Study closed. Reopen it to schedule more sessions.")


@bp.post("/studies/<int:study_id>/reopen")
@role_required(*PLANNERS)
def study_reopen(study_id: int):
    """Reopen a closed study."""
    return _set_status(study_id, StudyStatus.ACTIVE, "Study reopened.")


def _set_status(study_id: int, status: StudyStatus, message: str):
    study = _managed_study(study_id)
    if ConfirmForm().validate_on_submit():
        services.set_study_status(study, status, current_user)
        flash(message, "success")
    return redirect(url_for("planning.study_overview", study_id=study.id))


# --- task script ----------------------------------------------------------------------------------

def _time_limit_s(form: TaskForm) -> int | None:
    return form.time_limit_min.data * 60 if form.time_limit_min.data else None


@bp.route("/studies/<int:study_id>/tasks/new", methods=["GET", "POST"])
@role_required(*PLANNERS)
def task_new(study_id: int):
    """Add a task at the end of the script."""
    study = _managed_study(study_id)
    form = TaskForm()
    if form.validate_on_submit():
        task = services.add_task(study, current_user, title=form.title.data,
                                 scenario=form.scenario.data or "",
                                 success_criteria=form.success_criteria.data or "",
                                 time_limit_s=_time_limit_s(form))
        flash(f"Task “{task.title}” added.", "success")
        if request.form.get("another"):
            return redirect(url_for("planning.task_new", study_id=study.id))
        return redirect(url_for("planning.study_overview", study_id=study.id, _anchor="tasks"))
    return render_template("planning/task_form.html", form=form, study=study, task=None), _status(form)


def _managed_task(task_id: int) -> Task:
    task = db.get_or_404(Task, task_id)
    _managed_study(task.study_id)
    return task


@bp.route("/tasks/<int:task_id>/edit", methods=["GET", "POST"])
@role_required(*PLANNERS)
def task_edit(task_id: int):
    """Edit a task."""
    task = _managed_task(task_id)
    form = TaskForm(obj=task)
    if request.method == "GET":
        form.fill(_task_values(task), task.version)
    if form.validate_on_submit():
        try:
            services.update_task(task, current_user, version=form.based_on(), title=form.title.data,
                                 scenario=form.scenario.data or "",
                                 success_criteria=form.success_criteria.data or "",
                                 time_limit_s=_time_limit_s(form))
        except StaleVersion as exc:
            show_conflict(form, exc, _task_values(task))
        else:
            flash("Task saved.", "success")
            return redirect(url_for("planning.study_overview", study_id=task.study_id, _anchor="tasks"))
    return render_template("planning/task_form.html", form=form, study=task.study, task=task), _status(form)


def _task_values(task: Task) -> dict:
    """The task's saved values in the edit form's terms (the limit in whole minutes)."""
    minutes = max(1, round(task.time_limit_s / 60)) if task.time_limit_s else None
    return {"title": task.title, "scenario": task.scenario, "success_criteria": task.success_criteria,
            "time_limit_min": minutes}


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


@bp.post("/tasks/<int:task_id>/move")
@role_required(*PLANNERS)
def task_move(task_id: int):
    """Move a task one place up or down (form buttons, or the keyboard shortcut through fetch)."""
    task = _managed_task(task_id)
    direction = request.form.get("direction")
    if direction not in ("up", "down") or task.archived:
        abort(400, "direction must be up or down, for a task in the script")
    if not ConfirmForm().validate_on_submit():
        abort(400, "the form expired; reload the page")
    moved = services.move_task(task, -1 if direction == "up" else 1, current_user)
    if _wants_json():
        return jsonify(moved=moved, order=[t.id for t in services.active_tasks(task.study)])
    return redirect(url_for("planning.study_overview", study_id=task.study_id, _anchor=f"task-{task.id}"))


def _task_removal_question(task: Task) -> Confirmation:
    removal = services.task_removal(task)
    if removal.notes == 1:
        notes = "The 1 note filed under it stays on the notes board, without a task."
    elif removal.notes:
        notes = f"The {removal.notes} notes filed under it stay on the notes board, without a task."
    else:
        notes = "No notes are filed under it."
    if removal.archive:
        title, label = f"Archive the task “{task.title}”?", "Archive task"
        lines = [f"It has {plural(removal.attempts, 'recorded attempt')}, so it is archived rather than "
                 "deleted: its results stay in the analysis and the report.",
                 "It leaves the task script, so new sessions no longer include it.",
                 "You can restore it to the end of the script later."]
    else:
        title, label = f"Delete the task “{task.title}”?", "Delete task"
        lines = ["It is deleted for good: this cannot be undone.", notes,
                 "Findings that list it as an affected task no longer do."]
    return Confirmation(title=title, consequences=lines, confirm_label=label, danger=not removal.archive,
                        cancel_url=url_for("planning.study_overview", study_id=task.study_id,
                                           _anchor=f"task-{task.id}"))


@bp.route("/tasks/<int:task_id>/remove", methods=["GET", "POST"])
@role_required(*PLANNERS)
def task_remove(task_id: int):
    """Delete a task, or archive it when attempts at it are recorded (asks first)."""
    task = _managed_task(task_id)
    if task.archived:
        flash(f"“{task.title}” is already archived.", "info")
        return redirect(url_for("planning.study_overview", study_id=task.study_id, _anchor="tasks"))
    if not confirm.confirmed():
        return confirm.ask(_task_removal_question(task))
    if ConfirmForm().validate_on_submit():
        title = task.title
        outcome = services.remove_task(task, current_user)
        if outcome == "archived":
            flash(f"“{title}” has recorded attempts, so it was archived instead of deleted: its results "
                  "stay in the analysis, and it is no longer part of the script. You can restore it.",
                  "warning")
        else:
            flash(f"Task “{title}” deleted.", "success")
    return redirect(url_for("planning.study_overview", study_id=task.study_id, _anchor="tasks"))


@bp.post("/tasks/<int:task_id>/restore")
@role_required(*PLANNERS)
def task_restore(task_id: int):
    """Put an archived task back at the end of the script."""
    task = _managed_task(task_id)
    if ConfirmForm().validate_on_submit():
        services.restore_task(task, current_user)
        flash(f"Task “{task.title}” restored at the end of the script.", "success")
    return redirect(url_for("planning.study_overview", study_id=task.study_id, _anchor="tasks"))


# --- participants ---------------------------------------------------------------------------------

@bp.route("/studies/<int:study_id>/participants/new", methods=["GET", "POST"])
@role_required(*PLANNERS)
def participant_new(study_id: int):
    """Add a participant; the pseudonym is assigned automatically."""
    study = _managed_study(study_id)
    form = ParticipantForm()
    if form.validate_on_submit():
        try:
            participant = services.add_participant(
                study, current_user, name=form.name.data, email=form.email.data or None,
                phone=form.phone.data or None, segments=parse_segments(form.segments.data),
                consent_date=form.consent_date.data, consent_version=form.consent_version.data,
            )
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            flash(f"Participant {participant.code} added.", "success")
            return redirect(url_for("planning.study_overview", study_id=study.id, _anchor="participants"))
    return render_template("planning/participant_form.html", form=form, study=study,
                           participant=None), _status(form)


@bp.route("/participants/<int:participant_id>/edit", methods=["GET", "POST"])
@role_required(*PLANNERS)
def participant_edit(participant_id: int):
    """Edit a participant's details and record another consent."""
    participant = db.get_or_404(Participant, participant_id)
    study = _managed_study(participant.study_id)
    if participant.erased:
        flash(f"{participant.code} has been erased: their details cannot be changed.", "info")
        return redirect(url_for("participants.detail", participant_id=participant.id))
    personal = participant.personal
    form = ParticipantForm(obj=personal)
    if request.method == "GET":
        form.fill(_participant_values(participant), participant.version)
    if form.validate_on_submit():
        try:
            services.update_participant(participant, current_user, version=form.based_on(),
                                        name=form.name.data, email=form.email.data or None,
                                        phone=form.phone.data or None,
                                        segments=parse_segments(form.segments.data))
            if form.consent_date.data:
                services.record_consent(participant, form.consent_date.data, form.consent_version.data,
                                        current_user)
        except StaleVersion as exc:
            show_conflict(form, exc, _participant_values(participant))
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            flash(f"Participant {participant.code} saved.", "success")
            return redirect(url_for("planning.study_overview", study_id=study.id, _anchor="participants"))
    return render_template("planning/participant_form.html", form=form, study=study,
                           participant=participant), _status(form)


def _participant_values(participant: Participant) -> dict:
    """The participant's saved details in the edit form's terms."""
    personal = participant.personal
    return {"name": personal.name if personal else "", "email": personal.email if personal else "",
            "phone": personal.phone if personal else "", "segments": format_segments(participant.segments)}


def _import_signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="planning.participant-import")


def _preview_page(study: Study, preview, text: str, status: int = 200):
    confirm = ImportConfirmForm(payload=_import_signer().dumps({"study": study.id, "text": text,
                                                                "good": len(preview.good)}))
    return render_template("planning/import_preview.html", study=study, preview=preview,
                           confirm=confirm, next_number=study.last_participant_number + 1,
                           shown_rows=csv_import.PREVIEW_ROWS), status


@bp.route("/studies/<int:study_id>/participants/import", methods=["GET", "POST"])
@role_required(*PLANNERS)
def participant_import(study_id: int):
    """Upload a CSV file and see which rows would be imported and which are refused, and why."""
    study = _managed_study(study_id)
    form = ImportForm()
    if form.validate_on_submit():
        try:
            text = csv_import.decode(form.file.data.read(csv_import.MAX_BYTES + 1))
            preview = csv_import.parse_participants(text, services.study_emails(study))
        except csv_import.ImportFileError as exc:
            show_refusal(form, exc)
        else:
            return _preview_page(study, preview, text)
    return render_template("planning/import_form.html", form=form, study=study), _status(form)


@bp.post("/studies/<int:study_id>/participants/import/confirm")
@role_required(*PLANNERS)
def participant_import_confirm(study_id: int):
    """Import the good rows of a previewed file, all together or not at all."""
    study = _managed_study(study_id)
    form = ImportConfirmForm()
    try:
        data = _import_signer().loads(form.payload.data or "", max_age=IMPORT_MAX_AGE_S)
    except BadSignature:
        data = None
    if not form.validate_on_submit() or not data or data.get("study") != study.id:
        flash("That preview has expired or is not for this study. Upload the file again.", "error")
        return redirect(url_for("planning.participant_import", study_id=study.id))
    preview = csv_import.parse_participants(data["text"], services.study_emails(study))
    if len(preview.good) != data["good"]:
        flash("The study's participants changed since the preview. Check the rows again.", "warning")
        return _preview_page(study, preview, data["text"], 409)
    try:
        added = services.import_participants(study, preview.good, current_user)
    except DomainError as exc:
        discard_changes()
        flash(exc.message, "error")
        return redirect(url_for("planning.participant_import", study_id=study.id))
    codes = f" ({added[0].code}–{added[-1].code})" if added else ""
    flash(f"{len(added)} participants imported{codes}; {len(preview.bad)} rows were left out.", "success")
    return redirect(url_for("planning.study_overview", study_id=study.id, _anchor="participants"))


# --- sessions -------------------------------------------------------------------------------------

def _session_form(study: Study, form_class: type = SessionForm, **data):
    form = form_class(**data)
    form.participant.choices = {
        p.id: f"{p.code} · {p.personal.name if p.personal else ''}"
              f"{'' if p.has_consent else ' (no consent yet)'}"
        for p in study.participants if not p.erased
    }
    # The study's team; anyone else is refused by the scheduler with a message naming them.
    staff = team.session_people(study)
    labels = {m.user_id: m.role.label for m in study.members}
    form.moderator.choices = {u.id: f"{u.name} ({labels[u.id]})" for u in staff}
    form.observers.choices = {u.id: f"{u.name} ({labels[u.id]})" for u in staff}
    return form


def _person(user_id: int, field_name: str):
    user = db.session.get(User, user_id) if user_id else None
    if user is None:
        raise services.PlanningError("Choose a member of the study's team.", field_name)
    return user


def _draft(form: SessionForm, study: Study) -> services.SessionDraft:
    participant = db.session.get(Participant, form.participant.data)
    if participant is None or participant.study_id != study.id:
        raise services.PlanningError("Choose a participant of this study.", "participant")
    return services.SessionDraft(
        participant=participant, day=form.day.data, at=form.at.data, tz_name=form.timezone.data,
        duration_min=form.duration_min.data, moderator=_person(form.moderator.data, "moderator"),
        observers=[_person(i, "observers") for i in dict.fromkeys(form.observers.data or [])],
        location=form.location.data or "", video_link=form.video_link.data or "",
    )


def _consent_warning(study_session: StudySession) -> None:
    if not study_session.participant.has_consent:
        flash(f"{study_session.participant.code} has no consent on record: the session cannot be started "
              "until consent is recorded.", "warning")


def _mail_notice() -> None:
    if mail.mail_configured():
        flash("Invitations are being sent; delivery problems are listed on the session page.", "info")


@bp.route("/studies/<int:study_id>/sessions/new", methods=["GET", "POST"])
@role_required(*PLANNERS)
def session_new(study_id: int):
    """Schedule a session; double-bookings are refused, naming the clashing session."""
    study = _managed_study(study_id)
    moderator = current_user if study.member(current_user) is not None else study.owner
    defaults = {"timezone": current_user.timezone, "moderator": moderator.id}
    if request.method == "GET" and request.args.get("participant", type=int):
        defaults["participant"] = request.args.get("participant", type=int)
    form = _session_form(study, **defaults)
    done, conflicts = _save_session_form(
        form, study, lambda draft: services.schedule_session(study, draft, current_user,
                                                             can_see_study=_can_see_study()),
        "Session scheduled.",
    )
    if done:
        return done
    status = 409 if conflicts else _status(form)
    return render_template("planning/session_form.html", form=form, study=study, study_session=None,
                           conflicts=conflicts), status


@bp.route("/studies/<int:study_id>/sessions/walk-in", methods=["GET", "POST"])
@role_required(*PLANNERS)
def session_walk_in(study_id: int):
    """Book a session starting now for a walk-in participant (double-bookings refused), then run it."""
    study = _managed_study(study_id)
    moderator = current_user if study.member(current_user) is not None else study.owner
    form = _session_form(study, WalkInForm, moderator=moderator.id)
    conflicts: list[str] = []
    if form.validate_on_submit():
        try:
            participant = db.session.get(Participant, form.participant.data)
            if participant is None or participant.study_id != study.id:
                raise services.PlanningError("Choose a participant of this study.", "participant")
            now = utcnow()  # the draft's day and time are not used: a walk-in starts now
            draft = services.SessionDraft(
                participant=participant, day=now.date(), at=now.time(), tz_name=current_user.timezone,
                duration_min=form.duration_min.data, moderator=_person(form.moderator.data, "moderator"),
                observers=[_person(i, "observers") for i in dict.fromkeys(form.observers.data or [])],
                location=form.location.data or "", video_link=form.video_link.data or "")
            study_session = services.start_walk_in(study, draft, current_user,
                                                   can_see_study=_can_see_study())
        except services.ConflictError as exc:
            conflicts = exc.messages
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            flash(f"Session with {participant.code} booked from now: start it when you are ready.", "success")
            _consent_warning(study_session)
            return redirect(url_for("observe.console", session_id=study_session.id))
    status = 409 if conflicts else _status(form)
    return render_template("planning/walk_in_form.html", form=form, study=study, conflicts=conflicts), status


def _save_session_form(form, study, save, done_message: str):
    """Validate and save a session form: (redirect, []) on success, else (None, clash messages)."""
    if not form.validate_on_submit():
        return None, []
    try:
        study_session = save(_draft(form, study))
    except services.ConflictError as exc:
        return None, exc.messages
    except StaleVersion as exc:
        show_conflict(form, exc, services.draft_from_session(exc.record))
        return None, []
    except DomainError as exc:
        show_refusal(form, exc)
        return None, []
    flash(done_message, "success")
    _consent_warning(study_session)
    _mail_notice()
    return redirect(url_for("planning.session_detail", session_id=study_session.id)), []


@bp.get("/sessions/<int:session_id>")
@role_required(*TEAM)
def session_detail(session_id: int):
    """One session: time in the viewer's zone and the scheduler's, people, place, invitations."""
    study_session = policy.get_or_404(StudySession, session_id, policy.can_view_session)
    manager = policy.can_manage_session(current_user, study_session)
    return render_template(
        "planning/session_detail.html", study_session=study_session, study=study_session.study,
        manager=manager, confirm=ConfirmForm(), console_access=_console_access([study_session]),
        deliveries=services.deliveries_for_session(study_session) if manager else [],
        mail_on=mail.mail_configured(), panels=_session_panels(study_session),
    )


@bp.route("/sessions/<int:session_id>/reschedule", methods=["GET", "POST"])
@role_required(*PLANNERS)
def session_reschedule(session_id: int):
    """Change a session's time, people or place."""
    study_session = _managed_session(session_id)
    study = study_session.study
    if study_session.status != SessionStatus.SCHEDULED:
        flash(f"A {study_session.status.label.lower()} session cannot be rescheduled.", "error")
        return redirect(url_for("planning.session_detail", session_id=study_session.id))
    data = {}
    if request.method == "GET":
        data = {**services.draft_from_session(study_session), "version": str(study_session.version)}
    form = _session_form(study, **data)
    form.submit.label.text = "Save changes"

    def reschedule(draft):
        services.reschedule_session(study_session, draft, current_user, version=form.based_on(),
                                    can_see_study=_can_see_study())
        return study_session

    done, conflicts = _save_session_form(
        form, study, reschedule, "Session updated; calendars will show the change."
    )
    if done:
        return done
    status = 409 if conflicts else _status(form)
    return render_template("planning/session_form.html", form=form, study=study,
                           study_session=study_session, conflicts=conflicts), status


def _session_action(session_id: int, check, question, action, message: str):
    """Ask `question(session)` first unless `check(session)` already refuses; then do `action`."""
    study_session = _managed_session(session_id)
    try:
        check(study_session)
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("planning.session_detail", session_id=study_session.id))
    if not confirm.confirmed():
        return confirm.ask(question(study_session))
    if ConfirmForm().validate_on_submit():
        try:
            action(study_session, current_user)
        except DomainError as exc:
            discard_changes()
            flash(exc.message, "error")
        else:
            flash(message, "success")
    return redirect(url_for("planning.session_detail", session_id=study_session.id))


def _when(study_session: StudySession) -> str:
    return format_local(study_session.starts_at, current_user.timezone)


def _cancel_question(study_session: StudySession) -> Confirmation:
    code = study_session.participant.code
    staff = [study_session.moderator, *study_session.observers]
    if mail.mail_configured():
        people = [f"{code}" if participant_reachable(study_session) else None,
                  plural(len(staff), "team member")]
        told = " and ".join(p for p in people if p)
        count = len(staff) + (1 if participant_reachable(study_session) else 0)
        mailing = f"{plural(count, 'person', 'people')} will be e-mailed a cancellation: {told}."
        if not participant_reachable(study_session):
            mailing += f" {code} has no e-mail address on record: tell them yourself."
    else:
        mailing = (f"E-mail is not configured on this server, so nobody is told automatically: let {code}, "
                   "the moderator and the observers know yourself.")
    return Confirmation(
        title=f"Cancel the session with {code} on {_when(study_session)}?",
        consequences=[mailing, "Calendars subscribed to the team's feeds show it as cancelled, and its "
                      "time slot is freed.",
                      f"This cannot be undone: to see {code} again, schedule a new session."],
        confirm_label="Cancel session", cancel_label="Keep the session",
        cancel_url=url_for("planning.session_detail", session_id=study_session.id),
    )


def _no_show_question(study_session: StudySession) -> Confirmation:
    code = study_session.participant.code
    return Confirmation(
        title=f"Mark the session with {code} on {_when(study_session)} as a no-show?",
        consequences=[f"It is recorded that {code} did not come: the session no longer counts as planned "
                      "and its time slot is freed.", "Nobody is e-mailed.",
                      f"This cannot be undone: to see {code} again, schedule a new session."],
        confirm_label="Mark no-show",
        cancel_url=url_for("planning.session_detail", session_id=study_session.id),
    )


@bp.route("/sessions/<int:session_id>/cancel", methods=["GET", "POST"])
@role_required(*PLANNERS)
def session_cancel(session_id: int):
    """Cancel a scheduled session (asks first, saying who will be e-mailed)."""
    return _session_action(session_id, services.check_cancellable, _cancel_question, services.cancel_session,
                           "Session cancelled.")


@bp.route("/sessions/<int:session_id>/no-show", methods=["GET", "POST"])
@role_required(*PLANNERS)
def session_no_show(session_id: int):
    """Record that the participant did not come (asks first)."""
    return _session_action(session_id, services.check_no_show, _no_show_question, services.mark_no_show,
                           "Session marked as no-show.")


def _ics_response(body: bytes, filename: str | None = None) -> Response:
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    if filename:
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/sessions/<int:session_id>/calendar.ics")
@role_required(*TEAM)
def session_ics(session_id: int):
    """Download one session as an .ics file."""
    study_session = policy.get_or_404(StudySession, session_id, policy.can_view_session)
    body = build_calendar([session_event(study_session, team_event_text(study_session))], method="PUBLISH")
    return _ics_response(body, f"session-{study_session.id}.ics")


# --- agenda and calendar feed ---------------------------------------------------------------------

@bp.get("/agenda")
@role_required(*TEAM)
def agenda():
    """Upcoming sessions of the signed-in user, by day in their own time zone."""
    sessions = queries.agenda_sessions(current_user)
    days = group_by_local_day(sessions, current_user.timezone)
    return render_template("planning/agenda.html", days=days, console_access=_console_access(sessions))


@bp.get("/calendar/<token>.ics")
def calendar_feed(token: str):
    """The private feed calendar apps subscribe to; a revoked or unknown token answers 404."""
    user = services.user_for_calendar_token(token)
    if user is None:
        abort(404)
    events = [session_event(s, team_event_text(s)) for s in queries.feed_sessions(user)]
    return _ics_response(build_calendar(events, name=f"usabtest sessions · {user.name}"))


def _feed_question(title: str, label: str) -> Confirmation:
    return Confirmation(
        title=title, confirm_label=label,
        consequences=["The current feed address stops working at once: calendar apps subscribed to it "
                      "stop updating.", "This cannot be undone; you can always create a new address and "
                      "subscribe to it again."],
        cancel_url=url_for("accounts.profile", _anchor="calendar-feed"))


@bp.route("/profile/calendar-feed", methods=["GET", "POST"])
@role_required(*TEAM)
def calendar_token_new():
    """Create (or replace, after asking) the private feed URL."""
    if request.method == "GET" and current_user.calendar_token is None:
        return redirect(url_for("accounts.profile", _anchor="calendar-feed"))
    if current_user.calendar_token is not None and not confirm.confirmed():
        return confirm.ask(_feed_question("Replace your calendar feed address?", "Create a new address"))
    if ConfirmForm().validate_on_submit():
        had_one = current_user.calendar_token is not None
        services.new_calendar_token(current_user)
        flash("New calendar feed address created." + (" The old one no longer works." if had_one else ""),
              "success")
    return redirect(url_for("accounts.profile", _anchor="calendar-feed"))


@bp.route("/profile/calendar-feed/revoke", methods=["GET", "POST"])
@role_required(*TEAM)
def calendar_token_revoke():
    """Switch the private feed off (asks first)."""
    if current_user.calendar_token is None:
        flash("Your calendar feed is already switched off.", "info")
        return redirect(url_for("accounts.profile", _anchor="calendar-feed"))
    if not confirm.confirmed():
        return confirm.ask(_feed_question("Switch your calendar feed off?", "Switch the feed off"))
    if ConfirmForm().validate_on_submit():
        services.revoke_calendar_token(current_user)
        flash("Calendar feed switched off. Calendar apps subscribed to it will stop updating.", "success")
    return redirect(url_for("accounts.profile", _anchor="calendar-feed"))


# --- study team -----------------------------------------------------------------------------------

def _team_study(study_id: int) -> Study:
    """The study, 404 when hidden, 403 unless the user manages its team (its owner, or an admin)."""
    study = _visible_study(study_id)
    policy.forbid_unless(policy.can_manage_team(current_user, study))
    return study


def _team_member(study: Study, user_id: int):
    member = next((m for m in study.members if m.user_id == user_id), None)
    if member is None:
        abort(404)
    return member


def _hand_over_form(study: Study, **data) -> HandOverForm:
    form = HandOverForm(**data)
    form.new_owner.choices = [(0, "Choose a researcher")] + [
        (m.user_id, m.user.name) for m in team.members(study)
        if m.role == TeamRole.RESEARCHER and not m.is_owner and m.user.active
        and m.user.role in team.ACCOUNTS_FOR[TeamRole.RESEARCHER]
    ]
    return form


def _team_page(study: Study, *, add_form: TeamAddForm | None = None,
               hand_over_form: HandOverForm | None = None, status: int = 200):
    manager = policy.can_manage_team(current_user, study)
    add_form = add_form or TeamAddForm()
    candidates = team.candidates(study) if manager else []
    if candidates:
        add_form.email.render_kw = {"list": "team-candidates", "autocomplete": "off"}
    return render_template(
        "planning/team.html", study=study, members=team.members(study), manager=manager,
        add_form=add_form, hand_over_form=hand_over_form or _hand_over_form(study),
        role_form=TeamRoleForm, candidates=candidates,
    ), status


@bp.get("/studies/<int:study_id>/team")
@role_required(*TEAM)
def team_page(study_id: int):
    """Who works on the study and in which role; its owner and admins change the team here."""
    return _team_page(_visible_study(study_id))


@bp.post("/studies/<int:study_id>/team")
@role_required(*PLANNERS)
def team_add(study_id: int):
    """Put a colleague on the team as a researcher or an observer."""
    study = _team_study(study_id)
    form = TeamAddForm()
    if form.validate_on_submit():
        try:
            person = team.find_person(email=form.email.data)
            member = team.add_member(study, person, form.role.data, current_user, person_field="email")
        except DomainError as exc:
            show_refusal(form, exc)
        else:
            flash(f"{person.name} joined the team as {member.role.label.lower()}: they can open the study "
                  "now.", "success")
            return redirect(url_for("planning.team_page", study_id=study.id))
    return _team_page(study, add_form=form, status=_status(form))


@bp.post("/studies/<int:study_id>/team/<int:user_id>/role")
@role_required(*PLANNERS)
def team_role(study_id: int, user_id: int):
    """Make a member a researcher or an observer of the study."""
    study = _team_study(study_id)
    member = _team_member(study, user_id)
    form = TeamRoleForm(prefix=f"m{user_id}")
    if not form.validate_on_submit():
        flash("Choose researcher or observer.", "error")
    else:
        try:
            team.change_role(study, member, form.role.data, current_user)
        except DomainError as exc:
            discard_changes()
            flash(exc.message, "error")
        else:
            flash(f"{member.user.name} is now {member.role.label.lower()} on this study.", "success")
    return redirect(url_for("planning.team_page", study_id=study.id, _anchor=f"member-{user_id}"))


@bp.route("/studies/<int:study_id>/team/<int:user_id>/remove", methods=["GET", "POST"])
@role_required(*PLANNERS)
def team_remove(study_id: int, user_id: int):
    """Ask first (saying what will happen to their sessions), then take a member off the team."""
    study = _team_study(study_id)
    member = _team_member(study, user_id)
    removal = team.removal_of(study, member)
    form = ConfirmForm()
    form.submit.label.text = f"Remove {member.user.name}"
    if request.method == "POST" and removal.refusal is None and form.validate_on_submit():
        name = member.user.name
        done = team.remove_member(study, member, current_user)
        taken_off = len(done.taken_off)
        flash(f"{name} is no longer on the team"
              + (f" and was taken off {taken_off} session{'s' if taken_off != 1 else ''} that had not ended"
                 if taken_off else "") + ". Their notes stay in the study.", "success")
        return redirect(url_for("planning.team_page", study_id=study.id))
    status = 409 if removal.refusal else (400 if request.method == "POST" else 200)
    return render_template("planning/team_remove.html", study=study, member=member, removal=removal,
                           form=form), status


@bp.post("/studies/<int:study_id>/team/ownership")
@role_required(*PLANNERS)
def team_hand_over(study_id: int):
    """Hand the study to another researcher on its team; the old owner stays as a researcher."""
    study = _team_study(study_id)
    form = _hand_over_form(study)
    if form.validate_on_submit():
        old_owner = study.owner
        try:
            new_owner = team.find_person(user_id=form.new_owner.data)
            team.hand_over(study, new_owner, current_user)
        except DomainError as exc:
            show_refusal(form, DomainError(exc.message, "new_owner"))
        else:
            flash(f"{new_owner.name} owns the study now; {old_owner.name} stays on the team as a researcher.",
                  "success")
            if policy.can_manage_team(current_user, study):
                return redirect(url_for("planning.team_page", study_id=study.id))
            return redirect(url_for("planning.study_overview", study_id=study.id))
    return _team_page(study, hand_over_form=form, status=_status(form))
