"""Benchmark: build the PDF report of a study with 40 sessions and 4,000 notes.

Goals: under 3 seconds on the reference machine, with a constant number of SQL queries; the PDF
at most 1.5 times what plain reportlab takes to lay out the same paragraphs and tables (measured
in the same run, alternating, since the machines are noisy).
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
from pathlib import Path

import sqlalchemy as sa
from benchdata import completed_sessions, notes_across
from PIL import Image
from reportlab.platypus import NextPageTemplate, SimpleDocTemplate
from reportlab.platypus.tableofcontents import TableOfContents

from usabtest import builders, create_app
from usabtest.extensions import db
from usabtest.reports import data as report_data
from usabtest.reports import pdf

TASKS = 8
FINDINGS = 15
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
    owner = builders.make_user(email="bench@example.com", name="Bench Researcher")
    study = builders.make_study(
        owner, organisation=builders.make_organisation("Benchmark Bank"), title="Benchmark study",
        product="App 1.0", goals=_sentence(rng))
    builders.make_report_texts(study, executive_summary="\n\n".join(_sentence(rng) for _ in range(4)),
                               environment_facility=_sentence(rng))
    for i in range(TASKS):
        builders.make_task(study, f"Task {i + 1}: {_sentence(rng)[:60]}", scenario=_sentence(rng),
                           success_criteria=_sentence(rng), time_limit_s=300, flush=False)
    db.session.flush()
    all_sessions = completed_sessions(study, owner, sessions, rng)
    note_rows = notes_across(all_sessions, study, owner, notes, rng, _sentence)
    image = _screenshot()
    for f in range(FINDINGS):
        builders.make_finding(
            study, _sentence(rng)[:80], description=_sentence(rng), severity=rng.randint(0, 4),
            recommendation=_sentence(rng), notes=rng.sample(note_rows, 12), tasks=[study.tasks[f % TASKS]],
            screenshots=[builders.make_screenshot(image, width=1280, height=800, filename="s.png",
                                                  caption=_sentence(rng))] if f < 4 else [],
            flush=False)
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


def plain_reportlab(report) -> float:
    """Seconds plain reportlab takes to lay out and save the report's own paragraphs and tables
    (no contents, page totals or outline): the floor our layout is compared with."""
    doc = SimpleDocTemplate(io.BytesIO(), pagesize=pdf.PAGE_SIZES["A4"], leftMargin=pdf.MARGIN,
                            rightMargin=pdf.MARGIN, topMargin=pdf.MARGIN, bottomMargin=pdf.MARGIN)
    story = [f for f in pdf._Story(report, doc.width, doc.height).build()
             if not isinstance(f, TableOfContents | NextPageTemplate)]
    began = time.perf_counter()
    doc.build(story)
    return time.perf_counter() - began


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
                timings.append((t1 - t0, t2 - t1, t2 - t0, plain_reportlab(report)))
            pages = len(re.findall(rb"/Type /Page\b", document))
            best = min(timings, key=lambda t: t[2])
            print(f"report: {pages} pages, {len(document) / 1024:.0f} KiB, {queries} SQL queries")
            for index, (load, render, total, plain) in enumerate(timings, start=1):
                print(f"run {index}: data {load:.2f} s + PDF {render:.2f} s = {total:.2f} s; "
                      f"plain reportlab {plain:.2f} s (PDF/plain {render / plain:.2f})")
            verdict = "OK" if best[2] < 3 else "TOO SLOW"
            print(f"best: {best[2]:.2f} s (goal < 3 s): {verdict}")
            ratio = min(t[1] for t in timings) / min(t[3] for t in timings)
            print(f"PDF / plain reportlab, best of each: {ratio:.2f} (goal <= 1.5): "
                  f"{'OK' if ratio <= 1.5 else 'TOO SLOW'}")
            # End the open read transaction first: PostgreSQL's DROP would wait for its locks.
            db.session.remove()
            db.drop_all()


if __name__ == "__main__":
    main()
