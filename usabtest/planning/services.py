"""Planning operations: studies, task scripts, participants and sessions. They flush, never commit."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from usabtest.accounts.models import Organisation, Role, User
from usabtest.core.audit import record
from usabtest.core.errors import Conflict, InvalidInput
from usabtest.core.models import MailDelivery, MailStatus
from usabtest.core.versioning import claim
from usabtest.db import utcnow
from usabtest.extensions import db
from usabtest.planning import invitations, scheduling, tagset
from usabtest.planning.csv_import import ParticipantRow
from usabtest.planning.models import (
    ConsentRecord,
    Participant,
    ParticipantPersonal,
    ScreenLanguage,
    SessionStatus,
    Study,
    StudyMember,
    StudyMethod,
    StudySession,
    StudyStatus,
    Task,
    TeamRole,
)
from usabtest.timefmt import to_zone

# Whether the acting user may see a study; the permission layer supplies it (services never ask it).
StudyFilter = Callable[[Study], bool]
# Sessions that hold their time slot; cancelled and no-show sessions free it.
BUSY_STATUSES = (SessionStatus.SCHEDULED, SessionStatus.IN_PROGRESS, SessionStatus.COMPLETED)


class PlanningError(InvalidInput):
    """Planning input that breaks a rule (422), naming the form field at fault when there is one."""


class ConflictError(Conflict):
    """The session would double-book somebody (409); `messages` name each clashing session."""

    def __init__(self, messages: list[str]):
        super().__init__(" ".join(messages))
        self.messages = messages


# --- studies -------------------------------------------------------------------------------------

def create_study(actor: User, *, organisation: Organisation, title: str, product: str = "", goals: str = "",
                 method: StudyMethod | str = StudyMethod.IN_PERSON, tags_from: Study | None = None,
                 language: ScreenLanguage | str = ScreenLanguage.EN) -> Study:
    """A new draft study owned by `actor` for the client `organisation`, with the default tag set or a
    copy of `tags_from`'s."""
    study = Study(
        organisation=organisation,
        owner=actor, title=title.strip(), product=product.strip(), goals=goals.strip(),
        method=StudyMethod(method), status=StudyStatus.DRAFT, language=ScreenLanguage(language),
    )
    study.members.append(StudyMember(user=actor, role=TeamRole.RESEARCHER))
    db.session.add(study)
    db.session.flush()
    tagset.seed_tags(study, tags_from)
    record(actor, "study.create", study, {"title": study.title,
                                          "tags_from": tags_from.id if tags_from else None})
    return study


def update_study(study: Study, actor: User, *, version: int | None, organisation: Organisation, title: str,
                 product: str, goals: str, method: StudyMethod | str, status: StudyStatus | str,
                 language: ScreenLanguage | str | None = None) -> None:
    """Change a study's description, client and status, as edited from its `version`."""
    claim(study, version)
    if organisation.id != study.organisation_id:
        record(actor, "study.move", study, {"from": study.organisation.name, "to": organisation.name})
    study.organisation = organisation
    study.title, study.product, study.goals = title.strip(), product.strip(), goals.strip()
    study.method, study.status = StudyMethod(method), StudyStatus(status)
    if language is not None:
        study.language = ScreenLanguage(language)
    record(actor, "study.update", study, {"title": study.title, "status": study.status.value})


def set_study_status(study: Study, status: StudyStatus, actor: User) -> None:
    """Close or reopen a study."""
    old = study.status
    study.status = status
    record(actor, "study.status", study, {"from": old.value, "to": status.value})


def study_counts(study: Study) -> dict[str, int]:
    """Sessions by status, plus participant and task counts, for the overview (counted in SQL, so a
    big study's sessions and participants are not loaded for them)."""
    by_status = dict(db.session.execute(
        sa.select(StudySession.status, sa.func.count()).where(StudySession.study_id == study.id)
        .group_by(StudySession.status)).all())
    counts = {status.value: by_status.get(status, 0) for status in SessionStatus}
    consented = sa.and_(Participant.consent_withdrawn_at.is_(None), Participant.consents.any())
    counts["participants"], counts["consented"] = db.session.execute(
        sa.select(sa.func.count(), sa.func.count(sa.case((consented, 1))))
        .where(Participant.study_id == study.id, Participant.erased.is_(False))).one()
    counts["tasks"] = sum(1 for t in study.tasks if not t.archived)
    counts["planned_total"] = sum(by_status.get(s, 0) for s in BUSY_STATUSES) + by_status.get(
        SessionStatus.NO_SHOW, 0)
    return counts


# --- task script ----------------------------------------------------------------------------------

def active_tasks(study: Study) -> list[Task]:
    """The script in order, without archived tasks.

    Sorted here rather than trusting the loaded list: within one request a move changes positions
    without reloading `study.tasks`, and the request commits only after answering.
    """
    return sorted((t for t in study.tasks if not t.archived), key=lambda t: t.position)


def add_task(study: Study, actor: User, *, title: str, scenario: str = "", success_criteria: str = "",
             time_limit_s: int | None = None) -> Task:
    """Append a task to the end of the script."""
    position = max((t.position for t in study.tasks), default=-1) + 1
    task = Task(title=title.strip(), scenario=scenario.strip(), success_criteria=success_criteria.strip(),
                time_limit_s=time_limit_s, position=position)
    study.tasks.append(task)
    db.session.flush()
    record(actor, "task.create", task, {"title": task.title})
    return task


def update_task(task: Task, actor: User, *, version: int | None, title: str, scenario: str,
                success_criteria: str, time_limit_s: int | None) -> None:
    """Edit a task's wording and limit, as edited from its `version`."""
    claim(task, version)
    task.title, task.scenario = title.strip(), scenario.strip()
    task.success_criteria, task.time_limit_s = success_criteria.strip(), time_limit_s
    record(actor, "task.update", task, {"title": task.title})


def move_task(task: Task, offset: int, actor: User) -> bool:
    """Move a task up (-1) or down (+1) the script; False when it is already at that end."""
    ordered = active_tasks(task.study)
    index = ordered.index(task)
    target = index + offset
    if not 0 <= target < len(ordered):
        return False
    ordered[index], ordered[target] = ordered[target], ordered[index]
    for position, each in enumerate(ordered):
        each.position = position
    archived = [t for t in task.study.tasks if t.archived]
    for position, each in enumerate(archived, start=len(ordered)):
        each.position = position
    record(actor, "task.move", task, {"position": task.position})
    return True


def reorder_tasks(study: Study, task_ids: list[int], actor: User) -> None:
    """Put the script in the order of `task_ids`: every task of the script, each once."""
    ordered = active_tasks(study)
    if len(set(task_ids)) != len(task_ids) or set(task_ids) != {t.id for t in ordered}:
        raise PlanningError("List every task of the script exactly once (archived tasks are not part of "
                            f"it): {', '.join(str(t.id) for t in ordered) or 'none'}.", "task_ids")
    by_id = {t.id: t for t in ordered}
    archived = [t for t in study.tasks if t.archived]
    for position, each in enumerate([*(by_id[i] for i in task_ids), *archived]):
        each.position = position
    record(actor, "task.reorder", study, {"order": list(task_ids)})


def task_has_attempts(task: Task) -> bool:
    """True when any session recorded an attempt at this task.

    `Task.attempts` is declared by the observe domain (its `TaskAttempt.task` back-reference), so
    planning keeps the rule without importing the later domain.
    """
    return bool(task.attempts)


@dataclass(frozen=True)
class TaskRemoval:
    """What removing a task would do: archive it (attempts recorded) or delete it, and what it touches."""

    archive: bool
    attempts: int
    notes: int


def task_removal(task: Task) -> TaskRemoval:
    """Whether `remove_task` would archive or delete `task`, with its attempts and live notes.

    `Task.attempts` and `Task.notes` are back-references declared by the observe domain.
    """
    notes = sum(1 for note in task.notes if note.deleted_at is None)
    return TaskRemoval(archive=task_has_attempts(task), attempts=len(task.attempts), notes=notes)


def upcoming_sessions(study: Study) -> list[StudySession]:
    """The study's sessions still scheduled."""
    return [s for s in study.sessions if s.status == SessionStatus.SCHEDULED]


def remove_task(task: Task, actor: User) -> str:
    """Delete a task, or archive it when attempts are recorded; returns "deleted" or "archived"."""
    if task_has_attempts(task):
        task.archived = True
        record(actor, "task.archive", task, {"title": task.title})
        return "archived"
    study = task.study
    record(actor, "task.delete", task, {"title": task.title})
    study.tasks.remove(task)
    db.session.flush()
    for position, each in enumerate(sorted(study.tasks, key=lambda t: (t.archived, t.position))):
        each.position = position
    return "deleted"


def restore_task(task: Task, actor: User) -> None:
    """Bring an archived task back to the end of the script."""
    task.archived = False
    task.position = max((t.position for t in task.study.tasks), default=0) + 1
    record(actor, "task.restore", task, {"title": task.title})


# --- participants ---------------------------------------------------------------------------------

def study_emails(study: Study, *, except_participant: Participant | None = None) -> set[str]:
    """Lower-case emails of the study's participants."""
    query = (
        sa.select(sa.func.lower(ParticipantPersonal.email))
        .join(Participant)
        .where(Participant.study_id == study.id, ParticipantPersonal.email.is_not(None))
    )
    if except_participant is not None and except_participant.id is not None:
        query = query.where(Participant.id != except_participant.id)
    return set(db.session.scalars(query))


def _check_email_free(study: Study, email: str | None, participant: Participant | None = None) -> None:
    if email and email.lower() in study_emails(study, except_participant=participant):
        raise PlanningError(f"{email} is already a participant in this study.", "email")


def add_participant(study: Study, actor: User, *, name: str, email: str | None = None,
                    phone: str | None = None, segments: dict[str, str] | None = None,
                    consent_date: date | None = None, consent_version: str | None = None,
                    check_email: bool = True) -> Participant:
    """A new participant with the study's next pseudonym (P01, P02, ...; never reused)."""
    if check_email:
        _check_email_free(study, email)
    if consent_date:
        _check_consent(consent_date, consent_version or "")
    study.last_participant_number += 1
    number = study.last_participant_number
    participant = Participant(
        number=number, code=f"P{number:02d}", segments=dict(segments or {}),
        personal=ParticipantPersonal(name=name.strip(), email=email or None, phone=phone or None),
    )
    study.participants.append(participant)
    if consent_date:
        record_consent(participant, consent_date, consent_version or "", actor)
    db.session.flush()
    record(actor, "participant.create", participant, {"code": participant.code})
    return participant


def update_participant(participant: Participant, actor: User, *, version: int | None, name: str,
                       email: str | None, phone: str | None, segments: dict[str, str]) -> None:
    """Edit contact details and segment attributes (from its `version`); the pseudonym never changes."""
    if participant.erased:
        raise Conflict(f"{participant.code} has been erased: their details cannot be changed.")
    claim(participant, version)
    _check_email_free(participant.study, email, participant)
    personal = participant.personal or ParticipantPersonal(name="")
    participant.personal = personal
    new = {"name": name.strip(), "email": email or None, "phone": phone or None, "segments": dict(segments)}
    old = {"name": personal.name, "email": personal.email, "phone": personal.phone,
           "segments": dict(participant.segments or {})}
    personal.name, personal.email, personal.phone = new["name"], new["email"], new["phone"]
    participant.segments = new["segments"]
    # Which fields changed, never their values: the audit log holds no personal data.
    record(actor, "participant.update", participant,
           {"code": participant.code, "fields": [name for name in new if new[name] != old[name]]})


def _check_consent(consented_on: date, form_version: str) -> None:
    if not form_version.strip():
        raise PlanningError("Give the version of the consent form that was signed.", "consent_version")
    if consented_on > date.today():
        raise PlanningError("The consent date cannot be in the future.", "consent_date")


def record_consent(participant: Participant, consented_on: date, form_version: str, actor: User) -> None:
    """Add a signed consent form (date and form version)."""
    if participant.erased:
        raise Conflict(f"{participant.code} has been erased: no consent can be recorded.")
    if participant.consent_withdrawn:
        raise PlanningError(f"{participant.code} withdrew consent: to include this person again, add them "
                            "as a new participant.", "consent_date")
    _check_consent(consented_on, form_version)
    participant.consents.append(ConsentRecord(
        consented_on=consented_on, form_version=form_version.strip(),
        recorded_by_id=getattr(actor, "id", None),
    ))
    if participant.id is not None:  # a new participant's consent goes with its participant.create
        record(actor, "participant.consent", participant, {"code": participant.code,
                                                           "form_version": form_version.strip()})


def cancel_open_sessions(participant: Participant, actor: User) -> list[StudySession]:
    """Cancel every session of `participant` still scheduled, through the usual cancel path (calendars
    and mail follow); returns them."""
    open_sessions = list(db.session.scalars(
        sa.select(StudySession).where(StudySession.participant_id == participant.id,
                                      StudySession.status == SessionStatus.SCHEDULED)
        .order_by(StudySession.starts_at)))
    for study_session in open_sessions:
        cancel_session(study_session, actor)
    return open_sessions


def withdraw_consent(participant: Participant, actor: User) -> list[StudySession]:
    """Record that `participant` withdrew consent and cancel their sessions still scheduled.

    New reports and analyses leave them out from then on; their consents signed earlier stay on
    record. Withdrawing again changes nothing (an empty list).
    """
    if participant.consent_withdrawn:
        return []
    participant.consent_withdrawn_at = utcnow()
    participant.consent_withdrawn_by_id = getattr(actor, "id", None)
    cancelled = cancel_open_sessions(participant, actor)
    record(actor, "participant.consent_withdraw", participant,
           {"code": participant.code, "sessions_cancelled": [s.id for s in cancelled]})
    return cancelled


def import_participants(study: Study, rows: list[ParticipantRow], actor: User) -> list[Participant]:
    """Add every row, all or nothing (the caller commits once or rolls back)."""
    existing = study_emails(study)
    clashes = [r for r in rows if r.email and r.email.lower() in existing]
    if clashes:
        raise PlanningError(
            f"Line {clashes[0].line}: {clashes[0].email} was added to the study since the preview. "
            "Upload the file again."
        )
    added = [
        add_participant(study, actor, name=r.name, email=r.email, phone=r.phone, segments=r.segments,
                        consent_date=r.consent_date, consent_version=r.consent_version, check_email=False)
        for r in rows
    ]
    record(actor, "participant.import", study, {"count": len(added)})
    return added


# --- sessions -------------------------------------------------------------------------------------

@dataclass
class SessionDraft:
    """What the schedule and reschedule forms ask for, in the scheduler's own terms."""

    participant: Participant
    day: date
    at: time
    tz_name: str
    duration_min: int
    moderator: User
    observers: list[User] = field(default_factory=list)
    location: str = ""
    video_link: str = ""


def _people(participant: Participant, moderator: User, observers: list[User]) -> dict[str, str]:
    people = {f"participant:{participant.id}": "participant"}
    email = participant.personal.email if participant.personal else None
    if email:
        people[f"email:{email.lower()}"] = "participant"
    for observer in observers:
        people[f"user:{observer.id}"] = "observer"
    people[f"user:{moderator.id}"] = "moderator"
    return people


def slot_of(study_session: StudySession) -> scheduling.Slot:
    """The conflict rules' view of a stored session: an ended session occupies the time it really ran."""
    people = _people(study_session.participant, study_session.moderator, study_session.observers)
    if study_session.ended_at is not None:
        began = study_session.started_at or study_session.starts_at
        return scheduling.Slot(study_session.id, began, study_session.duration_min, people,
                               ended_at=max(study_session.ended_at, began))
    return scheduling.Slot(study_session.id, study_session.starts_at, study_session.duration_min, people)


def find_clashes(candidate: scheduling.Slot) -> list[scheduling.Clash]:
    """Clashes between `candidate` and every stored busy session, in any study."""
    earliest, latest = scheduling.search_window(candidate.starts_at, candidate.duration_min)
    query = (
        sa.select(StudySession)
        .where(StudySession.status.in_(BUSY_STATUSES),
               StudySession.starts_at > earliest, StudySession.starts_at < latest)
        .options(selectinload(StudySession.observers),
                 selectinload(StudySession.participant).selectinload(Participant.personal),
                 selectinload(StudySession.study), selectinload(StudySession.moderator))
    )
    stored = {s.id: s for s in db.session.scalars(query)}
    return [c for c in scheduling.find_clashes(candidate, [slot_of(s) for s in stored.values()])]


def time_range(start: datetime, end: datetime, tz_name: str) -> str:
    """"Tue 15 Jan 2030, 10:00–11:00 UTC" in `tz_name` (both zone names when a clock change falls between)."""
    first, last = to_zone(start, tz_name), to_zone(end, tz_name)
    start_text = f"{first:%a %d %b %Y, %H:%M}"
    if first.tzname() != last.tzname():
        start_text += f" {first.tzname()}"
    return f"{start_text}–{last:%H:%M} {last.tzname()}"


_DOING = {"moderator": "moderating", "observer": "observing", "participant": "taking part in"}


def describe_clash(clash: scheduling.Clash, viewer: User, names: dict[str, str],
                   can_see_study: StudyFilter | None = None) -> str:
    """A sentence naming who is double-booked and in which session.

    The other session is named only when `can_see_study` (the caller's permission rule) allows its
    study. Otherwise the sentence says only that the person is busy then: a colleague's busy time,
    and for a participant not even that, nor that their e-mail address matched anyone.
    """
    other = db.session.get(StudySession, clash.other.key)
    who = names.get(clash.person, "Someone")
    # A participant belongs to the study being scheduled, which the caller sees.
    visible = clash.person.startswith("participant:") or (
        can_see_study is not None and can_see_study(other.study))
    if not visible:
        if clash.person.startswith("email:"):
            return f"{who} is already booked at this time."
        when = time_range(clash.other.starts_at, clash.other.ends_at, viewer.timezone)
        return f"{who} is already {_DOING[clash.role_there]} a session of another study on {when}."
    when = time_range(clash.other.starts_at, clash.other.ends_at, viewer.timezone)
    what = f"session #{other.id} ({other.study.title} · {other.participant.code})"
    if clash.person.startswith("email:"):
        who += " (same email address)"
    return f"{who} is already {_DOING[clash.role_there]} {what} on {when}."


def _names(draft: SessionDraft) -> dict[str, str]:
    participant = draft.participant
    names = {f"user:{u.id}": f"{u.name}" for u in [*draft.observers, draft.moderator]}
    names[f"participant:{participant.id}"] = f"Participant {participant.code}"
    if participant.personal and participant.personal.email:
        names[f"email:{participant.personal.email.lower()}"] = f"Participant {participant.code}"
    return names


def _validate(study: Study, draft: SessionDraft, current: StudySession | None = None, *,
              now: datetime | None = None) -> datetime:
    if study.status == StudyStatus.CLOSED:
        raise Conflict("This study is closed: reopen it to schedule sessions.")
    if draft.participant.study_id != study.id:
        raise PlanningError("Choose a participant of this study.", "participant")
    if draft.participant.erased:
        raise PlanningError(f"{draft.participant.code} has been erased and cannot take part.", "participant")
    if draft.participant.consent_withdrawn:
        raise PlanningError(f"{draft.participant.code} withdrew consent and cannot take part.", "participant")
    people = [(draft.moderator, "moderator"), *((observer, "observers") for observer in draft.observers)]
    for person, person_field in people:
        if person.role == Role.CLIENT or not person.active:
            raise PlanningError(f"{person.name} cannot take part in sessions.", person_field)
        if study.member(person) is None:
            raise PlanningError(f"{person.name} is not on this study's team: the study's owner adds them on "
                                "its Team page first.", person_field)
    if draft.moderator in draft.observers:
        raise PlanningError("The moderator cannot also be an observer of the same session.", "observers")
    if not (draft.location.strip() or draft.video_link.strip()):
        raise PlanningError("Give a location or a video link so people know where to go.", "location")
    if now is not None:  # a walk-in: the session starts at this moment
        try:
            scheduling.check_duration(draft.duration_min)
        except scheduling.SchedulingError as exc:
            raise PlanningError(str(exc), "duration_min") from None
        return now
    try:
        scheduling.check_duration(draft.duration_min)
        starts_at = scheduling.local_to_utc(draft.day, draft.at, draft.tz_name)
    except scheduling.SchedulingError as exc:
        raise PlanningError(str(exc), "time") from None
    if starts_at <= utcnow() and (current is None or starts_at != current.starts_at):
        raise PlanningError("Choose a time in the future.", "day")
    return starts_at


def _check_conflicts(draft: SessionDraft, starts_at: datetime, actor: User, key: int | None,
                     can_see_study: StudyFilter | None) -> None:
    slot = scheduling.Slot(key, starts_at, draft.duration_min,
                           _people(draft.participant, draft.moderator, draft.observers))
    clashes = find_clashes(slot)
    if clashes:
        names = _names(draft)
        raise ConflictError([describe_clash(c, actor, names, can_see_study) for c in clashes])


def schedule_session(study: Study, draft: SessionDraft, actor: User, *,
                     can_see_study: StudyFilter | None = None) -> StudySession:
    """Book a session; refuses double-bookings with a message naming each clashing session."""
    starts_at = _validate(study, draft)
    _check_conflicts(draft, starts_at, actor, None, can_see_study)
    study_session = _book(study, draft, starts_at, actor, "session.schedule")
    invitations.send_invitations(study_session, "scheduled")
    return study_session


def _book(study: Study, draft: SessionDraft, starts_at, actor: User, action: str) -> StudySession:
    """Add the checked draft to the study as a scheduled session (a draft study becomes active)."""
    study_session = StudySession(
        participant=draft.participant, starts_at=starts_at, timezone=draft.tz_name,
        duration_min=draft.duration_min, moderator=draft.moderator, observers=list(draft.observers),
        location=draft.location.strip(), video_link=draft.video_link.strip(),
        status=SessionStatus.SCHEDULED,
    )
    study.sessions.append(study_session)
    if study.status == StudyStatus.DRAFT:
        study.status = StudyStatus.ACTIVE
    db.session.flush()
    record(actor, action, study_session, {"starts_at": starts_at.isoformat()})
    return study_session


def start_walk_in(study: Study, draft: SessionDraft, actor: User, *,
                  can_see_study: StudyFilter | None = None) -> StudySession:
    """Book a session starting now for a participant who walked in (the draft's day and time are ignored).

    The scheduling rules still apply: the study must be open, the people on its team, and nobody
    double-booked from now for the session's duration (sessions that ended early no longer count for
    the rest of their slot). The team's calendars get it; the participant, already here, gets no mail.
    The moderator then starts it from the console.
    """
    starts_at = _validate(study, draft, now=utcnow().replace(microsecond=0))
    _check_conflicts(draft, starts_at, actor, None, can_see_study)
    study_session = _book(study, draft, starts_at, actor, "session.walk_in")
    invitations.send_invitations(study_session, "scheduled",
                                 only=[study_session.moderator, *study_session.observers])
    return study_session


def reschedule_session(study_session: StudySession, draft: SessionDraft, actor: User, *,
                       version: int | None, can_see_study: StudyFilter | None = None) -> None:
    """Move or re-staff a scheduled session (edited from its `version`); calendars get the same UID
    with a higher SEQUENCE."""
    if study_session.status != SessionStatus.SCHEDULED:
        raise Conflict(f"A {study_session.status.label.lower()} session cannot be rescheduled.")
    claim(study_session, version)
    starts_at = _validate(study_session.study, draft, study_session)
    _check_conflicts(draft, starts_at, actor, study_session.id, can_see_study)
    dropped = [u for u in [study_session.moderator, *study_session.observers]
               if u not in [draft.moderator, *draft.observers]]
    study_session.participant = draft.participant
    study_session.starts_at, study_session.timezone = starts_at, draft.tz_name
    study_session.duration_min = draft.duration_min
    study_session.moderator, study_session.observers = draft.moderator, list(draft.observers)
    study_session.location, study_session.video_link = draft.location.strip(), draft.video_link.strip()
    study_session.ics_sequence += 1
    db.session.flush()
    record(actor, "session.reschedule", study_session,
           {"starts_at": starts_at.isoformat(), "sequence": study_session.ics_sequence})
    invitations.send_invitations(study_session, "rescheduled")
    if dropped:
        invitations.send_invitations(study_session, "removed", only=dropped)


def check_cancellable(study_session: StudySession) -> None:
    """Refuse (409) unless the session is still scheduled."""
    if study_session.status != SessionStatus.SCHEDULED:
        raise Conflict(f"A {study_session.status.label.lower()} session cannot be cancelled.")


def cancel_session(study_session: StudySession, actor: User) -> None:
    """Cancel a scheduled session and tell everyone's calendar."""
    check_cancellable(study_session)
    study_session.status = SessionStatus.CANCELLED
    study_session.screen_token = None  # the participant screen's link stops working
    study_session.ics_sequence += 1
    record(actor, "session.cancel", study_session)
    invitations.send_invitations(study_session, "cancelled")


def check_no_show(study_session: StudySession) -> None:
    """Refuse (409) unless the session is scheduled and its start time has passed."""
    if study_session.status != SessionStatus.SCHEDULED:
        raise Conflict(f"A {study_session.status.label.lower()} session cannot be marked no-show.")
    if study_session.starts_at > utcnow():
        raise Conflict("A session can be marked no-show once its start time has passed.")


def mark_no_show(study_session: StudySession, actor: User) -> None:
    """Record that the participant did not come (only once the session's time has begun)."""
    check_no_show(study_session)
    study_session.status = SessionStatus.NO_SHOW
    study_session.screen_token = None
    record(actor, "session.no_show", study_session)


def draft_from_session(study_session: StudySession) -> dict:
    """Form data describing a stored session in its own time zone (to prefill rescheduling)."""
    local = to_zone(study_session.starts_at, study_session.timezone)
    return {
        "participant": study_session.participant_id, "day": local.date(), "at": local.time(),
        "timezone": study_session.timezone, "duration_min": study_session.duration_min,
        "moderator": study_session.moderator_id, "observers": [u.id for u in study_session.observers],
        "location": study_session.location, "video_link": study_session.video_link,
    }


# --- calendars and mail ---------------------------------------------------------------------------

def new_calendar_token(user: User) -> str:
    """Give `user` a fresh private feed token; any older feed URL stops working."""
    user.calendar_token = secrets.token_urlsafe(32)
    record(user, "calendar.token_new", user)
    return user.calendar_token


def revoke_calendar_token(user: User) -> None:
    """Switch the user's private feed off."""
    user.calendar_token = None
    record(user, "calendar.token_revoke", user)


def user_for_calendar_token(token: str) -> User | None:
    """The active user whose feed token this is."""
    if not token:
        return None
    user = db.session.scalar(sa.select(User).where(User.calendar_token == token))
    return user if user is not None and user.active else None


def deliveries_for_session(study_session: StudySession) -> list[MailDelivery]:
    """Every mail attempt about this session, newest first."""
    query = (sa.select(MailDelivery).where(MailDelivery.session_id == study_session.id)
             .order_by(MailDelivery.created_at.desc(), MailDelivery.id.desc()))
    return list(db.session.scalars(query))


def failed_deliveries_for_study(study: Study) -> list[MailDelivery]:
    """Mails about this study that could not be delivered, newest first."""
    query = (sa.select(MailDelivery)
             .where(MailDelivery.study_id == study.id, MailDelivery.status == MailStatus.FAILED)
             .order_by(MailDelivery.created_at.desc(), MailDelivery.id.desc()).limit(50))
    return list(db.session.scalars(query))
