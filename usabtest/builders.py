"""Data builders shared by the tests, the benchmarks and `usabtest demo`.

Each builder makes one kind of row with sensible defaults, adds it to `db.session` and flushes
(pass `flush=False` when adding many rows at once and flush yourself); none of them commits, so
the caller decides what one unit of work is. Default names and emails are numbered per kind
(`researcher1@example.com`, `Client 1`); `reset_numbering()` starts the numbers again.
"""

from __future__ import annotations

import itertools
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta

from usabtest.accounts import services as account_services
from usabtest.accounts.models import Organisation, Role, User
from usabtest.analysis.models import Finding, Screenshot
from usabtest.db import utcnow
from usabtest.extensions import db
from usabtest.observe.models import Note, Outcome, SusResponse, TaskAttempt
from usabtest.planning import tagset
from usabtest.planning.models import (
    ConsentRecord,
    Participant,
    ParticipantPersonal,
    Study,
    StudyMember,
    StudySession,
    StudyTag,
    Task,
    TeamRole,
)
from usabtest.reports import narrative
from usabtest.reports.models import ReportNarrative

DEFAULT_PASSWORD = "correct-horse-battery"

_numbers: defaultdict[str, itertools.count] = defaultdict(lambda: itertools.count(1))


def reset_numbering(taken: dict[str, int] | None = None) -> None:
    """Start every kind's default numbering at 1 again (tests do this before each test), or after
    the numbers `taken` (from `numbers_taken()`, when rows made earlier are still there)."""
    _numbers.clear()
    for kind, last in (taken or {}).items():
        _numbers[kind] = itertools.count(last + 1)


def numbers_taken() -> dict[str, int]:
    """The last default number given to each kind so far."""
    taken = {kind: next(counter) - 1 for kind, counter in _numbers.items()}
    reset_numbering(taken)  # reading a count moved it on
    return taken


def _next(kind: str) -> int:
    return next(_numbers[kind])


def _save(row, flush: bool):
    db.session.add(row)
    if flush:
        db.session.flush()
    return row


def make_organisation(name: str | None = None, *, created_by: User | None = None,
                      flush: bool = True) -> Organisation:
    """A client organisation, named `Client <n>` unless `name` is given."""
    return _save(Organisation(name=name or f"Client {_next('organisation')}", created_by=created_by), flush)


def make_user(role: Role | str = Role.RESEARCHER, *, email: str | None = None,
              name: str | None = None, password: str = DEFAULT_PASSWORD,
              organisation: Organisation | None = None, **fields) -> User:
    """A user created through the accounts service (so the password is hashed as in production).

    A client gets a new organisation unless one is given; extra `fields` are set on the user
    afterwards (`timezone=...`, `active=False`, ...).
    """
    role = Role(role)
    number = _next("user")
    if role == Role.CLIENT and organisation is None:
        organisation = make_organisation()
    made = account_services.create_user(
        email=email or f"{role.value}{number}@example.com",
        name=name or f"{role.label} {number}",
        role=role,
        password=password,
        organisation=organisation,
        check_password_strength=False,  # demo and test passwords are short on purpose
    )
    for key, value in fields.items():
        setattr(made, key, value)
    db.session.flush()
    return made


def make_study(owner: User | None = None, tasks: int = 0, *,
               organisation: Organisation | None = None, title: str = "Checkout study",
               product: str = "Web shop", custom_tags: Sequence[str] = (), default_tags: bool = True,
               team: Iterable[User] = (), researchers: Iterable[User] = (), observers: Iterable[User] = (),
               flush: bool = True, **fields) -> Study:
    """A study owned by `owner` (a new researcher by default) with `tasks` numbered tasks.

    Its tag set is the default one (unless `default_tags=False`) followed by `custom_tags`. The
    owner is on its team as a researcher, with `researchers` and `observers` beside them, and `team`
    in the role their account suggests (researcher for researchers and admins, else observer).
    """
    owner = owner or make_user(Role.RESEARCHER)
    made = Study(
        owner=owner,
        organisation=organisation or make_organisation(),
        title=title,
        product=product,
        **fields,
    )
    db.session.add(made)
    made.members.append(StudyMember(user=owner, role=TeamRole.RESEARCHER))
    for person in team:
        make_member(made, person, flush=False)
    for person in researchers:
        make_member(made, person, TeamRole.RESEARCHER, flush=False)
    for person in observers:
        make_member(made, person, TeamRole.OBSERVER, flush=False)
    for _ in range(tasks):
        make_task(made, flush=False)
    specs = [*(tagset.DEFAULT_TAGS if default_tags else ()), *(tagset.TagSpec(name) for name in custom_tags)]
    # A custom tag spelt like a default one is that tag (names are unique ignoring case).
    unique = {}
    for spec in specs:
        unique.setdefault(tagset.name_key(spec.name), spec)
    for position, spec in enumerate(unique.values()):
        made.tags.append(StudyTag(name=spec.name, name_key=tagset.name_key(spec.name), position=position,
                                  description=spec.description, colour=spec.colour, shortcut=spec.shortcut))
    return _save(made, flush)


def make_report_texts(study: Study, *, flush: bool = True, **texts: str) -> ReportNarrative:
    """The study's report texts (`executive_summary=...`, see `reports.narrative`); others empty."""
    row = ReportNarrative(study_id=study.id, **{**dict.fromkeys(narrative.NAMES, ""), **texts})
    return _save(row, flush)


def make_tag(study: Study, name: str | None = None, *, description: str = "",
             colour: str = tagset.DEFAULT_COLOUR, shortcut: str | None = None,
             flush: bool = True) -> StudyTag:
    """A tag appended to `study`'s set (`tag<n>` by default)."""
    name = name or f"tag{_next('tag')}"
    made = StudyTag(name=name, name_key=tagset.name_key(name), description=description, colour=colour,
                    shortcut=shortcut, position=len(study.tags))
    study.tags.append(made)
    return _save(made, flush)


def make_member(study: Study, user: User, role: TeamRole | str | None = None, *,
                flush: bool = True) -> StudyMember:
    """`user` on the study's team (kept as they are when already on it).

    The role defaults to researcher for researcher and admin accounts, observer for the others.
    """
    existing = study.member(user)
    if existing is not None:
        return existing
    if role is None:
        role = TeamRole.RESEARCHER if user.role in (Role.RESEARCHER, Role.ADMIN) else TeamRole.OBSERVER
    made = StudyMember(user=user, role=TeamRole(role))
    study.members.append(made)
    return _save(made, flush)


def make_task(study: Study, title: str | None = None, *, scenario: str | None = None,
              success_criteria: str = "Done", time_limit_s: int | None = None,
              flush: bool = True, **fields) -> Task:
    """A task appended after the study's last one (`Task <n>`, `Scenario <n>` by default)."""
    position = fields.pop("position", len(study.tasks))
    made = Task(position=position, title=title or f"Task {position + 1}",
                scenario=f"Scenario {position + 1}" if scenario is None else scenario,
                success_criteria=success_criteria, time_limit_s=time_limit_s, **fields)
    study.tasks.append(made)
    return _save(made, flush)


def make_participant(study: Study, consented: bool = True, name: str | None = None,
                     email: str | None = None, *, phone: str | None = None,
                     consented_on: date | None = None, form_version: str = "v1",
                     flush: bool = True, **fields) -> Participant:
    """The study's next participant (`P01`, `P02`, ...) with personal details, consented by default."""
    study.last_participant_number += 1
    number = study.last_participant_number
    made = Participant(
        study=study, number=number, code=f"P{number:02d}",
        personal=ParticipantPersonal(name=name or f"Person {number}",
                                     email=email or f"person{number}@example.net", phone=phone),
        **fields,
    )
    if consented:
        made.consents.append(ConsentRecord(consented_on=consented_on or date.today(),
                                           form_version=form_version))
    return _save(made, flush)


def make_session(study: Study | None = None, participant: Participant | None = None,
                 moderator: User | None = None, observers: Sequence[User] | None = None,
                 starts_at: datetime | None = None, *, flush: bool = True,
                 **fields) -> StudySession:
    """A session (scheduled for tomorrow by default); study, participant and moderator made when absent.

    A moderator or observer not yet on the study's team joins it as an observer (as the pages
    require), so a test states only who takes part.
    """
    study = study or make_study(tasks=2)
    moderator = moderator or study.owner
    observers = list(observers or ())
    for person in [moderator, *observers]:
        if study.member(person) is None:
            make_member(study, person, TeamRole.OBSERVER, flush=False)
    made = StudySession(
        study=study,
        participant=participant or make_participant(study),
        moderator=moderator,
        observers=observers,
        starts_at=starts_at or utcnow() + timedelta(days=1),
        **fields,
    )
    return _save(made, flush)


def make_note(study_session: StudySession, author: User, body: str = "A note", *,
              client_uuid: uuid.UUID | None = None, flush: bool = True, **fields) -> Note:
    """A note by `author` in `study_session` (`task`, `tags`, `severity`, `elapsed_ms` optional)."""
    made = Note(study_session=study_session, author=author, body=body,
                client_uuid=client_uuid or uuid.uuid4(), **fields)
    return _save(made, flush)


def make_task_attempt(study_session: StudySession, task: Task, *,
                      started_at: datetime | None = None, seconds: float = 60,
                      outcome: Outcome | None = Outcome.SUCCESS, flush: bool = True,
                      **fields) -> TaskAttempt:
    """An ended attempt at `task` lasting `seconds` (pass `ended_at=None` for one still running)."""
    started_at = started_at or utcnow()
    fields.setdefault("ended_at", started_at + timedelta(seconds=seconds))
    made = TaskAttempt(study_session=study_session, task=task, started_at=started_at,
                       outcome=outcome, **fields)
    return _save(made, flush)


def make_sus_response(study_session: StudySession, answers: Sequence[int] = (4, 2) * 5, *,
                      flush: bool = True, **fields) -> SusResponse:
    """A System Usability Scale questionnaire of ten answers (a score of 75 by default)."""
    return _save(SusResponse(study_session=study_session, answers=list(answers), **fields), flush)


def make_finding(study: Study, title: str | None = None, *, severity: int = 2,
                 notes: Iterable[Note] = (), tasks: Iterable[Task] = (),
                 screenshots: Iterable[Screenshot] = (), flush: bool = True,
                 **fields) -> Finding:
    """A finding of `study` backed by `notes` and linked to `tasks`."""
    made = Finding(study=study, title=title or f"Finding {_next('finding')}", severity=severity,
                   notes=list(notes), tasks=list(tasks), screenshots=list(screenshots), **fields)
    return _save(made, flush)


def make_screenshot(data: bytes, *, width: int, height: int, filename: str = "screen.png",
                    content_type: str = "image/png", caption: str = "") -> Screenshot:
    """An unsaved screenshot to hand to `make_finding(screenshots=[...])`."""
    return Screenshot(filename=filename, content_type=content_type, width=width, height=height,
                      caption=caption, data=data)
