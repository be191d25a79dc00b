"""API of the planning domain: studies, task scripts, participants and sessions, under the pages' rules.

Reading follows `policy.can_view_study`; every change needs `policy.can_manage_study` (403 for a
study the caller may see but not change, 404 for one hidden from them). Changes go through the same
services as the pages, so refusals and their messages are the same.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from flask_login import current_user

from usabtest import policy
from usabtest.accounts import services as account_services
from usabtest.accounts.models import Organisation, User
from usabtest.api import allow, bp, load, loads, page_of, permits, reads, showing_current, spec, writes
from usabtest.core.errors import Conflict, InvalidInput
from usabtest.core.schemas import PageQuery
from usabtest.core.versioning import claim
from usabtest.db import utcnow
from usabtest.extensions import db
from usabtest.participants import services as rights
from usabtest.planning import queries, services
from usabtest.planning.models import Participant, Study, StudySession, Task
from usabtest.planning.schemas import (
    ConsentWithdrawal,
    Erasure,
    ParticipantConflict,
    ParticipantCreate,
    ParticipantExport,
    ParticipantPage,
    ParticipantUpdate,
    SessionCreate,
    SessionUpdate,
    StudyConflict,
    StudyCreate,
    StudyDetail,
    StudyPage,
    StudySessionConflict,
    StudySessionPage,
    StudySummary,
    StudyTagList,
    StudyUpdate,
    TaskConflict,
    TaskCreate,
    TaskList,
    TaskOrder,
    TaskRemoval,
    TaskUpdate,
    WalkInCreate,
    script,
)
from usabtest.planning.schemas import Participant as ParticipantOut
from usabtest.planning.schemas import StudySession as StudySessionOut
from usabtest.planning.schemas import Task as TaskOut

TAGS = ["planning"]
MANAGERS_ONLY = "only the study's researchers and admins can change it"


def visible_study(study_id: int) -> Study:
    """The study, 404 when hidden from the caller."""
    return load(Study, study_id, policy.can_view_study, "study")


def managed_study(study_id: int) -> Study:
    """The study, 404 when hidden, 403 when the caller may see but not change it."""
    study = visible_study(study_id)
    allow(policy.can_manage_study(current_user, study), MANAGERS_ONLY)
    return study


def managed_task(task_id: int) -> Task:
    """A task of a study the caller manages."""
    task = load(Task, task_id, lambda user, t: policy.can_view_study(user, t.study), "task")
    allow(policy.can_manage_study(current_user, task.study), MANAGERS_ONLY)
    return task


def visible_participant(participant_id: int) -> Participant:
    """A participant of a study the caller may see."""
    return load(Participant, participant_id, lambda user, p: policy.can_view_study(user, p.study),
                "participant")


def managed_participant(participant_id: int) -> Participant:
    """A participant of a study the caller manages."""
    participant = visible_participant(participant_id)
    allow(policy.can_manage_study(current_user, participant.study), MANAGERS_ONLY)
    return participant


def visible_session(session_id: int) -> StudySession:
    """A session the caller may see."""
    return load(StudySession, session_id, policy.can_view_session, "session")


def managed_session(session_id: int) -> StudySession:
    """A session the caller may reschedule and cancel."""
    study_session = visible_session(session_id)
    allow(policy.can_manage_session(current_user, study_session), MANAGERS_ONLY)
    return study_session


def _detail(study: Study) -> StudyDetail:
    return StudyDetail.of(study, services.study_counts(study))


def _task(task: Task) -> TaskOut:
    return next(t for t in script(task.study) if t.id == task.id)


def _participant(participant: Participant) -> ParticipantOut:
    return ParticipantOut.of(participant, personal=policy.can_manage_study(current_user, participant.study))


# --- studies -------------------------------------------------------------------------------------

@bp.get("/studies")
@spec.validate(query=PageQuery, resp=reads(StudyPage), tags=TAGS)
def list_studies(query: PageQuery):
    """Studies the caller may open, most recently changed first."""
    visible = queries.study_list_query(policy.studies_visible_to(current_user))
    return StudyPage(**page_of(visible, query, StudySummary.of))


@bp.post("/studies")
@permits(policy.is_staff, "only researchers and admins can create studies")
@spec.validate(json=StudyCreate, resp=writes({201: StudyDetail}, 403), tags=TAGS)
def create_study(json: StudyCreate):
    """Create a draft study owned by the caller (researchers and admins)."""
    source = None
    if json.tags_from is not None:
        source = db.session.get(Study, json.tags_from)
        if source is None or not policy.can_view_study(current_user, source):
            raise InvalidInput(f"study {json.tags_from} not found", "tags_from")
    if json.organisation_id is None and json.client is None:
        raise InvalidInput("Choose the client organisation (GET /organisations lists them).",
                           "organisation_id")
    study = services.create_study(current_user, organisation=_picked_organisation(json), title=json.title,
                                  product=json.product, goals=json.goals, method=json.method,
                                  language=json.language, tags_from=source)
    return _detail(study), 201


@bp.get("/studies/<int:study_id>/tags")
@loads("study_id", visible_study, "study")
@spec.validate(resp=reads(StudyTagList, 404), tags=TAGS)
def list_study_tags(study: Study):
    """The study's tag set in order: names notes may carry, colours and console shortcuts."""
    return StudyTagList.of(study)


def _picked_organisation(json: StudyCreate | StudyUpdate) -> Organisation:
    """The organisation a study request names by `organisation_id` (or by the deprecated `client`).

    Only organisations the caller may see can be picked; any other id is answered as unknown, so an
    id does not reveal whether such an organisation exists.
    """
    if json.organisation_id is not None and json.client is not None:
        raise InvalidInput("Send organisation_id only (client is its deprecated predecessor).", "client")
    if json.organisation_id is not None:
        org = db.session.get(Organisation, json.organisation_id)
        if org is None or not policy.can_pick_organisation(current_user, org):
            raise InvalidInput(f"There is no organisation {json.organisation_id} you can put a study in "
                               "(GET /organisations lists them).", "organisation_id")
        return org
    existing = account_services.find_organisation(json.client)
    if existing is None:
        return account_services.create_organisation(json.client, current_user)
    if not policy.can_pick_organisation(current_user, existing):
        raise InvalidInput(f"The organisation “{existing.name}” exists, but you are not on any of its "
                           "studies: ask an administrator.", "client")
    return existing


@bp.get("/studies/<int:study_id>")
@loads("study_id", visible_study, "study")
@spec.validate(resp=reads(StudyDetail, 404), tags=TAGS)
def get_study(study: Study):
    """One study with its task script and progress."""
    return _detail(study)


@bp.patch("/studies/<int:study_id>")
@loads("study_id", managed_study, "study")
@spec.validate(json=StudyUpdate, resp=writes(StudyDetail, 403, 404, conflict=StudyConflict), tags=TAGS)
def update_study(study: Study, json: StudyUpdate):
    """Change a study's description, client or status (closing it stops new sessions).

    `version` is required: a change based on an old version answers 409 with the study as it is now.
    """
    changes = json.changes()
    organisation = study.organisation
    if "organisation_id" in changes or "client" in changes:
        organisation = _picked_organisation(json)
    changes.pop("organisation_id", None)
    changes.pop("client", None)
    current = {"title": study.title, "product": study.product, "goals": study.goals, "method": study.method,
               "status": study.status, "language": study.language}
    with showing_current(lambda: _detail(study)):
        services.update_study(study, current_user, version=json.version, organisation=organisation,
                              **{**current, **changes})
    return _detail(study)


# --- task script ----------------------------------------------------------------------------------

@bp.get("/studies/<int:study_id>/tasks")
@loads("study_id", visible_study, "study")
@spec.validate(resp=reads(TaskList, 404), tags=TAGS)
def list_tasks(study: Study):
    """The study's task script in order, then its archived tasks."""
    return TaskList(items=script(study))


@bp.post("/studies/<int:study_id>/tasks")
@loads("study_id", managed_study, "study")
@spec.validate(json=TaskCreate, resp=writes({201: TaskOut}, 403, 404), tags=TAGS)
def create_task(study: Study, json: TaskCreate):
    """Append a task to the end of the script."""
    task = services.add_task(study, current_user, **json.model_dump())
    return _task(task), 201


@bp.put("/studies/<int:study_id>/tasks/order")
@loads("study_id", managed_study, "study")
@spec.validate(json=TaskOrder, resp=writes(TaskList, 403, 404), tags=TAGS)
def reorder_tasks(study: Study, json: TaskOrder):
    """Put the script in a new order: every task of the script, each once."""
    services.reorder_tasks(study, json.task_ids, current_user)
    return TaskList(items=script(study))


@bp.patch("/tasks/<int:task_id>")
@loads("task_id", managed_task, "task")
@spec.validate(json=TaskUpdate, resp=writes(TaskOut, 403, 404, conflict=TaskConflict), tags=TAGS)
def update_task(task: Task, json: TaskUpdate):
    """Change a task's wording or time limit (`version` required; 409 with the task now when stale)."""
    current = {"title": task.title, "scenario": task.scenario, "success_criteria": task.success_criteria,
               "time_limit_s": task.time_limit_s}
    with showing_current(lambda: _task(task)):
        services.update_task(task, current_user, version=json.version, **{**current, **json.changes()})
    return _task(task)


@bp.delete("/tasks/<int:task_id>")
@loads("task_id", managed_task, "task")
@spec.validate(resp=writes(TaskRemoval, 403, 404), tags=TAGS)
def remove_task(task: Task):
    """Delete a task, or archive it when attempts at it are recorded (its results stay)."""
    before = _task(task)
    result = services.remove_task(task, current_user)
    return TaskRemoval(result=result, task=_task(task) if result == "archived" else before)


@bp.post("/tasks/<int:task_id>/restore")
@loads("task_id", managed_task, "task")
@spec.validate(resp=writes(TaskOut, 403, 404, 409), tags=TAGS)
def restore_task(task: Task):
    """Put an archived task back at the end of the script."""
    if not task.archived:
        raise Conflict(f"task {task.id} is part of the script; only an archived task can be restored")
    services.restore_task(task, current_user)
    return _task(task)


# --- participants ---------------------------------------------------------------------------------

def _check_consent_pair(consent_date, consent_version) -> None:
    if consent_version is not None and consent_date is None:
        raise InvalidInput("Give the date the consent form was signed.", "consent_date")
    if consent_date is not None and consent_version is None:
        raise InvalidInput("Give the version of the consent form that was signed.", "consent_version")


@bp.get("/studies/<int:study_id>/participants")
@loads("study_id", visible_study, "study")
@spec.validate(query=PageQuery, resp=reads(ParticipantPage, 404), tags=TAGS)
def list_participants(study: Study, query: PageQuery):
    """The study's participants by pseudonym; personal details only for the study's managers."""
    return ParticipantPage(**page_of(queries.study_participants_query(study), query, _participant))


@bp.post("/studies/<int:study_id>/participants")
@loads("study_id", managed_study, "study")
@spec.validate(json=ParticipantCreate, resp=writes({201: ParticipantOut}, 403, 404), tags=TAGS)
def create_participant(study: Study, json: ParticipantCreate):
    """Add a participant (and the consent they signed, if any); the pseudonym is assigned."""
    _check_consent_pair(json.consent_date, json.consent_version)
    participant = services.add_participant(study, current_user, **json.model_dump())
    return _participant(participant), 201


@bp.get("/participants/<int:participant_id>")
@loads("participant_id", visible_participant, "participant")
@spec.validate(resp=reads(ParticipantOut, 404), tags=TAGS)
def get_participant(participant: Participant):
    """One participant; personal details only for the study's managers."""
    return _participant(participant)


@bp.patch("/participants/<int:participant_id>")
@loads("participant_id", managed_participant, "participant")
@spec.validate(json=ParticipantUpdate, resp=writes(ParticipantOut, 403, 404, conflict=ParticipantConflict),
               tags=TAGS)
def update_participant(participant: Participant, json: ParticipantUpdate):
    """Change contact details or segments, or record another signed consent.

    `version` is required: a change based on an old version answers 409 with the participant now.
    """
    if participant.erased:
        raise Conflict(f"{participant.code} has been erased: their details cannot be changed")
    changes = json.changes()
    consent = {key: changes.pop(key, None) for key in ("consent_date", "consent_version")}
    _check_consent_pair(**consent)
    with showing_current(lambda: _participant(participant)):
        if changes:
            personal = participant.personal
            current = {"name": personal.name if personal else "",
                       "email": personal.email if personal else None,
                       "phone": personal.phone if personal else None, "segments": participant.segments}
            services.update_participant(participant, current_user, version=json.version,
                                        **{**current, **changes})
        else:
            claim(participant, json.version)  # a consent alone is an edit based on a version too
    if consent["consent_date"] is not None:
        services.record_consent(participant, consent["consent_date"], consent["consent_version"],
                                current_user)
    return _participant(participant)


@bp.post("/participants/<int:participant_id>/withdraw-consent")
@loads("participant_id", managed_participant, "participant")
@spec.validate(resp=writes(ConsentWithdrawal, 403, 404), tags=TAGS)
def withdraw_consent(participant: Participant):
    """Record that the participant withdrew consent: their sessions still scheduled are cancelled (calendars
    and mail follow) and new reports and analyses leave them out. Repeating it changes nothing."""
    cancelled = services.withdraw_consent(participant, current_user)
    return ConsentWithdrawal(participant=_participant(participant),
                             withdrawn_at=participant.consent_withdrawn_at,
                             sessions_cancelled=[s.id for s in cancelled])


@bp.post("/participants/<int:participant_id>/erase")
@loads("participant_id", managed_participant, "participant")
@spec.validate(resp=writes(Erasure, 403, 404), tags=TAGS)
def erase_participant(participant: Participant):
    """Erase the participant: name, contact details and segments wiped, earlier note texts purged from the
    history and the audit log, sessions still scheduled cancelled; the pseudonym, sessions, results and
    notes as they read now are kept. Repeating it changes nothing."""
    done = rights.erase_participant(participant, current_user)
    return Erasure(participant=_participant(participant), erased_at=participant.erased_at,
                   sessions_cancelled=done.sessions_cancelled, notes_purged=done.notes_purged,
                   recordings_deleted=done.recordings_deleted)


@bp.get("/participants/<int:participant_id>/export")
@loads("participant_id", managed_participant, "participant")
@spec.validate(resp=reads(ParticipantExport, 403, 404), tags=TAGS)
def export_participant(participant: Participant):
    """Everything held about the participant: details, consents, sessions, task attempts, notes and SUS
    answers (after an erasure, only what is kept)."""
    return rights.export_participant(participant)


# --- sessions -------------------------------------------------------------------------------------

def _person(user_id: int, field: str) -> User:
    # No visibility rule here: the scheduler itself refuses people who cannot take part.
    user = db.session.get(User, user_id)
    if user is None:
        raise InvalidInput(f"There is no user {user_id}.", field)
    return user


def _draft(study: Study, values: dict[str, Any]) -> services.SessionDraft:
    """The scheduler's draft from API fields, people looked up by id."""
    participant = db.session.get(Participant, values["participant"])
    if participant is None or participant.study_id != study.id:
        raise InvalidInput("Choose a participant of this study.", "participant")
    return services.SessionDraft(
        participant=participant, day=values["day"], at=values["time"], tz_name=values["timezone"],
        duration_min=values["duration_min"], moderator=_person(values["moderator"], "moderator"),
        observers=[_person(i, "observers") for i in dict.fromkeys(values["observers"])],
        location=values["location"], video_link=values["video_link"],
    )


@bp.get("/studies/<int:study_id>/sessions")
@loads("study_id", visible_study, "study")
@spec.validate(query=PageQuery, resp=reads(StudySessionPage, 404), tags=TAGS)
def list_sessions(study: Study, query: PageQuery):
    """The study's sessions in time order."""
    return StudySessionPage(**page_of(queries.study_sessions_query(study), query, StudySessionOut.of))


@bp.post("/studies/<int:study_id>/sessions")
@loads("study_id", managed_study, "study")
@spec.validate(json=SessionCreate, resp=writes({201: StudySessionOut}, 403, 404, 409), tags=TAGS)
def schedule_session(study: Study, json: SessionCreate):
    """Schedule a session; double-bookings are refused (409) naming each clashing session."""
    values = json.model_dump()
    values["timezone"] = values["timezone"] or current_user.timezone
    values["moderator"] = values["moderator"] or current_user.id
    study_session = services.schedule_session(study, _draft(study, values), current_user,
                                              can_see_study=partial(policy.can_view_study, current_user))
    return StudySessionOut.of(study_session), 201


@bp.post("/studies/<int:study_id>/sessions/walk-in")
@loads("study_id", managed_study, "study")
@spec.validate(json=WalkInCreate, resp=writes({201: StudySessionOut}, 403, 404, 409), tags=TAGS)
def start_walk_in(study: Study, json: WalkInCreate):
    """Book a session starting now for a walk-in participant; double-bookings are refused (409) as when
    scheduling. Start it with POST /sessions/{id}/start."""
    values = json.model_dump()
    now = utcnow()
    values.update(day=now.date(), time=now.time(), timezone=current_user.timezone,
                  moderator=values["moderator"] or current_user.id)
    study_session = services.start_walk_in(study, _draft(study, values), current_user)
    return StudySessionOut.of(study_session), 201


@bp.get("/sessions/<int:session_id>")
@loads("session_id", visible_session, "study_session")
@spec.validate(resp=reads(StudySessionOut, 404), tags=TAGS)
def get_session(study_session: StudySession):
    """One session."""
    return StudySessionOut.of(study_session)


@bp.patch("/sessions/<int:session_id>")
@loads("session_id", managed_session, "study_session")
@spec.validate(json=SessionUpdate, resp=writes(StudySessionOut, 403, 404, conflict=StudySessionConflict),
               tags=TAGS)
def reschedule_session(study_session: StudySession, json: SessionUpdate):
    """Move or re-staff a scheduled session; calendars get the change, with the same rules as scheduling.

    `version` is required: a change based on an old version answers 409 with the session now (a
    double-booking also answers 409, without `current`).
    """
    current = services.draft_from_session(study_session)
    current["time"] = current.pop("at")
    values = {**current, **json.changes()}
    with showing_current(lambda: StudySessionOut.of(study_session)):
        services.reschedule_session(study_session, _draft(study_session.study, values), current_user,
                                    version=json.version,
                                    can_see_study=partial(policy.can_view_study, current_user))
    return StudySessionOut.of(study_session)


@bp.post("/sessions/<int:session_id>/cancel")
@loads("session_id", managed_session, "study_session")
@spec.validate(resp=writes(StudySessionOut, 403, 404, 409), tags=TAGS)
def cancel_session(study_session: StudySession):
    """Cancel a scheduled session and tell everyone's calendar."""
    services.cancel_session(study_session, current_user)
    return StudySessionOut.of(study_session)
