"""Benchmark: build the PDF report of a study with 40 sessions and 4,000 notes.

Goal: under 3 seconds on the reference machine, with a constant number of SQL queries.
Run: `.venv/bin/python bench/bench_report.py [--sessions 40] [--notes 4000] [--runs 3]`
(add `--database-url postgresql+psycopg://...` to use an empty throw-away PostgreSQL database).
"""

from __future__ import annotations

import argparse
import io
import random
import re
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from PIL import Image

from usabtest import create_app
from usabtest.accounts.models import Organisation, Role, User
from usabtest.analysis.models import Finding, Screenshot
from usabtest.extensions import db
from usabtest.observe.models import Note, Outcome, SusResponse, TaskAttempt
from usabtest.planning.models import (
    Participant,
    ParticipantPersonal,
    SessionStatus,
    Study,
    StudySession,
    Task,
)
from usabtest.reports import data as report_data
from usabtest.reports import pdf

TASKS = 8
FINDINGS = 15
OUTCOMES = [Outcome.SUCCESS] * 5 + [Outcome.ASSISTED, Outcome.FAILURE, Outcome.ABANDONED, Outcome.SKIPPED]
WORDS = ["payee", "transfer", "balance", "savings", "pot", "card", "freeze", "menu", "button", "label",
         "confusing", "scroll", "back", "confirm", "keyboard", "hidden", "expected", "search", "settings"]


def _screenshot() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (1280, 800), (60, 120, 160)).save(buffer, "PNG")
    return buffer.getvalue()


def _sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 30))).capitalize() + "."


def populate(sessions: int, notes: int, seed: int = 7) -> int:
    """Create one study of the given size; return its id."""
    rng = random.Random(seed)
    org = Organisation(name="Benchmark Bank")
    owner = User(email="bench@example.com", name="Bench Researcher", password_hash="x", role=Role.RESEARCHER)
    study = Study(organisation=org, owner=owner, title="Benchmark study", product="App 1.0",
                  goals=_sentence(rng), executive_summary="\n\n".join(_sentence(rng) for _ in range(4)),
                  environment=_sentence(rng))
    study.tasks = [Task(position=i, title=f"Task {i + 1}: {_sentence(rng)[:60]}", scenario=_sentence(rng),
                        success_criteria=_sentence(rng), time_limit_s=300) for i in range(TASKS)]
    db.session.add(study)
    start = datetime(2025, 3, 3, 9, tzinfo=UTC)
    all_sessions = []
    for n in range(1, sessions + 1):
        person = Participant(study=study, number=n, code=f"P{n:02d}",
                             segments={"Age": rng.choice(["18-24", "25-34", "35-54", "55+"])},
                             personal=ParticipantPersonal(name=f"Person {n}", email=f"p{n}@example.net"))
        when = start + timedelta(hours=2 * n)
        study_session = StudySession(study=study, participant=person, moderator=owner, starts_at=when,
                                     started_at=when, status=SessionStatus.COMPLETED)
        for task in study.tasks:
            began = when + timedelta(minutes=5 * task.position)
            study_session.attempts.append(TaskAttempt(
                task=task, started_at=began, ended_at=began + timedelta(seconds=rng.randint(20, 400)),
                outcome=rng.choice(OUTCOMES), error_count=rng.randint(0, 3), seq=rng.randint(1, 7)))
        answers = [rng.randint(1, 5) for _ in range(10)]
        db.session.add(SusResponse(study_session=study_session, answers=answers))
        all_sessions.append(study_session)
    db.session.flush()
    note_rows = [
        Note(session_id=all_sessions[i % sessions].id, task_id=study.tasks[i % TASKS].id, author_id=owner.id,
             client_uuid=uuid.uuid4(), body=_sentence(rng), elapsed_ms=rng.randint(0, 3_600_000))
        for i in range(notes)
    ]
    db.session.add_all(note_rows)
    db.session.flush()
    image = _screenshot()
    for f in range(FINDINGS):
        finding = Finding(study=study, title=_sentence(rng)[:80], description=_sentence(rng),
                          severity=rng.randint(0, 4), recommendation=_sentence(rng),
                          notes=rng.sample(note_rows, 12), tasks=[study.tasks[f % TASKS]])
        if f < 4:
            finding.screenshots.append(Screenshot(filename="s.png", content_type="image/png", width=1280,
                                                  height=800, caption=_sentence(rng), data=image))
        db.session.add(finding)
    db.session.commit()
    return study.id


def _count_queries(action):
    statements = []

    def _record(*args):
        statements.append(args[2])

    sa.event.listen(db.engine, "before_cursor_execute", _record)
    try:
        result = action()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", _record)
    return result, len(statements)


def main() -> None:
    """Build the data, then time the report build a few times."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=40)
    parser.add_argument("--notes", type=int, default=4000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True})
        with app.app_context():
            db.drop_all()
            db.create_all()
            began = time.perf_counter()
            study_id = populate(args.sessions, args.notes)
            print(f"data: {args.sessions} sessions, {args.notes} notes, {FINDINGS} findings "
                  f"({time.perf_counter() - began:.1f} s to create)")
            timings = []
            for _run in range(args.runs):
                db.session.expire_all()
                t0 = time.perf_counter()
                report, queries = _count_queries(lambda: report_data.build_report_data(study_id))
                t1 = time.perf_counter()
                document = pdf.render(report)
                t2 = time.perf_counter()
                timings.append((t1 - t0, t2 - t1, t2 - t0))
            pages = len(re.findall(rb"/Type /Page\b", document))
            best = min(timings, key=lambda t: t[2])
            print(f"report: {pages} pages, {len(document) / 1024:.0f} KiB, {queries} SQL queries")
            for index, (load, render, total) in enumerate(timings, start=1):
                print(f"run {index}: data {load:.2f} s + PDF {render:.2f} s = {total:.2f} s")
            verdict = "OK" if best[2] < 3 else "TOO SLOW"
            print(f"best: {best[2]:.2f} s (goal < 3 s): {verdict}")
            # End the open read transaction first: PostgreSQL's DROP would wait for its locks.
            db.session.remove()
            db.drop_all()


if __name__ == "__main__":
    main()
