"""Benchmark: render the results page, notes board and rainbow matrix of a 40-session, 4,000-note study.

Each page is requested through the test client as a signed-in researcher; the script prints the
time per page (best of several runs), the response size and the number of SQL queries.
Run: `.venv/bin/python bench/bench_analysis.py [--sessions 40] [--notes 4000] [--runs 5]`
(add `--database-url postgresql+psycopg://...` to use an empty throw-away PostgreSQL database).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from benchdata import completed_sessions, notes_across

from usabtest import builders, create_app
from usabtest.accounts.models import Role
from usabtest.extensions import db

PASSWORD = "bench-password-123"
TASKS = 6
FINDINGS = 25
TAGS = ["navigation", "search", "wording", "trust", "layout", "delight", "bug", "quote"]
VOCABULARY = ["basket", "checkout", "coupon", "address", "delivery", "button", "label", "menu", "filter",
              "price", "scroll", "confused", "hesitated", "expected", "missed", "found", "quickly", "error",
              "back", "again", "said", "unclear"]


def _text(rng: random.Random) -> str:
    return " ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(6, 28))).capitalize() + "."


def populate(sessions: int, notes: int, seed: int = 11) -> tuple[int, str]:
    """Create one study of the given size; return its id and the owner's email."""
    rng = random.Random(seed)
    owner = builders.make_user(Role.RESEARCHER, email="bench-analysis@example.com",
                               name="Bench Researcher", password=PASSWORD)
    study = builders.make_study(owner, organisation=builders.make_organisation("Bench Shop"),
                                title="Analysis benchmark", product="Shop 2.0", custom_tags=TAGS[:4])
    for _ in range(TASKS):
        builders.make_task(study, scenario=_text(rng), success_criteria="", flush=False)
    made = completed_sessions(study, owner, sessions, rng)
    rows = notes_across(made, study, owner, notes, rng, _text, TAGS)
    for index in range(FINDINGS):
        builders.make_finding(study, f"Finding {index + 1}: {_text(rng)[:60]}",
                              severity=rng.randint(0, 4), description=_text(rng),
                              notes=rng.sample(rows, min(len(rows), 40)),
                              tasks=[study.tasks[index % TASKS]], flush=False)
    db.session.commit()
    return study.id, owner.email


def _timed(client, engine, url: str) -> tuple[float, int, int]:
    statements = []

    def _record(*args):
        statements.append(args[2])

    sa.event.listen(engine, "before_cursor_execute", _record)
    try:
        began = time.perf_counter()
        response = client.get(url)
        elapsed = time.perf_counter() - began
    finally:
        sa.event.remove(engine, "before_cursor_execute", _record)
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}")
    return elapsed, len(response.data), len(statements)


def main() -> None:
    """Build the study, sign in, then time each page several times."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=40)
    parser.add_argument("--notes", type=int, default=4000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True,
                          "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False})
        with app.app_context():
            db.drop_all()
            db.create_all()
            began = time.perf_counter()
            study_id, email = populate(args.sessions, args.notes)
            print(f"data: {args.sessions} sessions, {args.notes} notes, {FINDINGS} findings "
                  f"({time.perf_counter() - began:.1f} s to create) on {db.engine.dialect.name}")
            engine = db.engine
        client = app.test_client()
        client.post("/login", data={"email": email, "password": PASSWORD})
        pages = {
            "results page": f"/studies/{study_id}/results",
            "notes board": f"/studies/{study_id}/notes",
            "notes board, tag filter": f"/studies/{study_id}/notes?tag=search",
            "rainbow matrix": f"/studies/{study_id}/matrix",
            "notes CSV export": f"/studies/{study_id}/exports/notes.csv",
        }
        for label, page in pages.items():
            runs = [_timed(client, engine, page) for _ in range(args.runs)]
            best = min(r[0] for r in runs)
            mean = sum(r[0] for r in runs) / len(runs)
            print(f"{label:26s} best {best * 1000:7.1f} ms  mean {mean * 1000:7.1f} ms  "
                  f"{runs[0][1] / 1024:7.0f} KiB  {runs[0][2]} SQL queries")
        with app.app_context():
            db.drop_all()


if __name__ == "__main__":
    main()
