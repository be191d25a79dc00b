"""A large, realistic study for the benchmarks: completed sessions with attempts, SUS and notes.

Rows come from `usabtest.builders` (as in the tests and the demo), added without a flush each and
flushed once per batch, so thousands of rows stay quick to create.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from usabtest import builders
from usabtest.extensions import db
from usabtest.observe.models import Note, Outcome
from usabtest.planning.models import SessionStatus, Study, StudySession

OUTCOMES = [Outcome.SUCCESS] * 5 + [Outcome.ASSISTED, Outcome.FAILURE, Outcome.ABANDONED, Outcome.SKIPPED]
SEGMENTS = {"age band": ["18-24", "25-34", "35-54", "55+"], "device": ["mobile", "desktop"]}


def completed_sessions(study: Study, moderator, count: int, rng: random.Random) -> list[StudySession]:
    """`count` completed sessions, one participant each, every task attempted and SUS answered."""
    first = datetime(2025, 5, 5, 9, tzinfo=UTC)
    made = []
    for number in range(1, count + 1):
        participant = builders.make_participant(
            study, consented=False, name=f"Person {number}", email=f"p{number}@example.net",
            segments={key: rng.choice(values) for key, values in SEGMENTS.items()}, flush=False)
        when = first + timedelta(hours=2 * number)
        study_session = builders.make_session(study, participant, moderator, starts_at=when,
                                              started_at=when, status=SessionStatus.COMPLETED,
                                              flush=False)
        for task in study.tasks:
            builders.make_task_attempt(
                study_session, task, started_at=when + timedelta(minutes=6 * task.position),
                seconds=rng.randint(15, 420), outcome=rng.choice(OUTCOMES),
                error_count=rng.randint(0, 4), seq=rng.randint(1, 7), flush=False)
        builders.make_sus_response(study_session, [rng.randint(1, 5) for _ in range(10)], flush=False)
        made.append(study_session)
    db.session.flush()
    return made


def notes_across(sessions: list[StudySession], study: Study, author, count: int, rng: random.Random,
                 text, tags: list[str] = ()) -> list[Note]:
    """`count` notes spread evenly over `sessions` and the study's tasks."""
    tasks = study.tasks
    rows = [
        builders.make_note(sessions[i % len(sessions)], author, text(rng), task=tasks[i % len(tasks)],
                           tags=rng.sample(tags, rng.randint(0, 2)) if tags else [],
                           severity=rng.choice([None, 0, 1, 2, 3, 4]),
                           elapsed_ms=rng.randint(0, 3_600_000), flush=False)
        for i in range(count)
    ]
    db.session.flush()
    return rows
