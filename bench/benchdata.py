"""A large, realistic study for the benchmarks: completed sessions with attempts, SUS and notes."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

from usabtest.extensions import db
from usabtest.observe.models import Note, Outcome, SusResponse, TaskAttempt
from usabtest.planning.models import (
    Participant,
    ParticipantPersonal,
    SessionStatus,
    Study,
    StudySession,
)

OUTCOMES = [Outcome.SUCCESS] * 5 + [Outcome.ASSISTED, Outcome.FAILURE, Outcome.ABANDONED, Outcome.SKIPPED]
SEGMENTS = {"age band": ["18-24", "25-34", "35-54", "55+"], "device": ["mobile", "desktop"]}


def completed_sessions(study: Study, moderator, count: int, rng: random.Random) -> list[StudySession]:
    """`count` completed sessions, one participant each, every task attempted and SUS answered."""
    first = datetime(2025, 5, 5, 9, tzinfo=UTC)
    made = []
    for number in range(1, count + 1):
        participant = Participant(
            study=study, number=number, code=f"P{number:02d}",
            segments={key: rng.choice(values) for key, values in SEGMENTS.items()},
            personal=ParticipantPersonal(name=f"Person {number}", email=f"p{number}@example.net"),
        )
        when = first + timedelta(hours=2 * number)
        study_session = StudySession(study=study, participant=participant, moderator=moderator,
                                     starts_at=when, started_at=when, status=SessionStatus.COMPLETED)
        for task in study.tasks:
            began = when + timedelta(minutes=6 * task.position)
            study_session.attempts.append(TaskAttempt(
                task=task, started_at=began, ended_at=began + timedelta(seconds=rng.randint(15, 420)),
                outcome=rng.choice(OUTCOMES), error_count=rng.randint(0, 4), seq=rng.randint(1, 7)))
        db.session.add(SusResponse(study_session=study_session,
                                   answers=[rng.randint(1, 5) for _ in range(10)]))
        made.append(study_session)
    db.session.flush()
    return made


def notes_across(sessions: list[StudySession], study: Study, author, count: int, rng: random.Random,
                 text, tags: list[str] = ()) -> list[Note]:
    """`count` notes spread evenly over `sessions` and the study's tasks."""
    tasks = study.tasks
    rows = [
        Note(session_id=sessions[i % len(sessions)].id, task_id=tasks[i % len(tasks)].id,
             author_id=author.id, client_uuid=uuid.uuid4(), body=text(rng),
             tags=rng.sample(tags, rng.randint(0, 2)) if tags else [],
             severity=rng.choice([None, 0, 1, 2, 3, 4]), elapsed_ms=rng.randint(0, 3_600_000))
        for i in range(count)
    ]
    db.session.add_all(rows)
    db.session.flush()
    return rows
