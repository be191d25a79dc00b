"""Benchmark: a big study's pages and CSV exports, at two sizes in one run.

For each size (by default 40 sessions / 4,000 notes, then 400 sessions / 40,000 notes) the script
builds one study, signs in as its researcher and requests, through the test client, the study
overview, the agenda, the results page, the notes board (plain, filtered by tag, a later page),
the rainbow matrix and every CSV export. It prints the time per page (best and mean of several
runs), the response size and the number of SQL queries; for the CSV files also the time to the
first byte and the peak Python memory while the whole file is read (tracemalloc, measured in a
separate request so it does not slow the timed ones).
Run: `.venv/bin/python bench/bench_analysis.py [--sizes 40x4000,400x40000] [--runs 5]`
(add `--database-url postgresql+psycopg://...` to use an empty throw-away PostgreSQL database).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from benchdata import completed_sessions, notes_across

from usabtest import builders, create_app
from usabtest.accounts.models import Role
from usabtest.db import utcnow
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
    # The agenda shows what is still to come: one upcoming session for every ten completed ones.
    for number in range(max(1, sessions // 10)):
        builders.make_session(study, builders.make_participant(study, flush=False), owner,
                              starts_at=utcnow() + timedelta(days=1, hours=2 * number), flush=False)
    rows = notes_across(made, study, owner, notes, rng, _text, TAGS)
    for index in range(FINDINGS):
        builders.make_finding(study, f"Finding {index + 1}: {_text(rng)[:60]}",
                              severity=rng.randint(0, 4), description=_text(rng),
                              notes=rng.sample(rows, min(len(rows), 40)),
                              tasks=[study.tasks[index % TASKS]], flush=False)
    db.session.commit()
    return study.id, owner.email


class Counter:
    """Counts the SQL statements sent to an engine while it is attached."""

    def __init__(self, engine):
        self.engine, self.count = engine, 0

    def _record(self, *args):
        self.count += 1

    def __enter__(self):
        self.count = 0
        sa.event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc):
        sa.event.remove(self.engine, "before_cursor_execute", self._record)


def _timed(client, engine, url: str) -> tuple[float, float, int, int]:
    """Seconds to the first byte and to the last, bytes, SQL statements of one GET of `url`."""
    with Counter(engine) as counter:
        began = time.perf_counter()
        response = client.get(url, buffered=False)
        chunks = iter(response.response)
        first = next(chunks, b"")
        first_byte = time.perf_counter() - began
        size = len(first) + sum(len(chunk) for chunk in chunks)
        elapsed = time.perf_counter() - began
        response.close()
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}")
    return first_byte, elapsed, size, counter.count


def _peak_memory(client, url: str) -> int:
    """Peak bytes Python allocated while `url` was requested and read to the end."""
    tracemalloc.start()
    try:
        response = client.get(url, buffered=False)
        for _chunk in response.response:
            pass
        response.close()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _size(text: str) -> tuple[int, int]:
    sessions, _, notes = text.partition("x")
    try:
        return int(sessions), int(notes)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not SESSIONSxNOTES, e.g. 400x40000") from None


def bench_size(url: str, sessions: int, notes: int, runs: int) -> None:
    """Build one study of the given size and time its pages and exports."""
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True, "REQUEST_LOG": False,
                      "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False})
    with app.app_context():
        db.drop_all()
        db.create_all()
        began = time.perf_counter()
        study_id, email = populate(sessions, notes)
        print(f"\ndata: {sessions} sessions, {notes} notes, {FINDINGS} findings "
              f"({time.perf_counter() - began:.1f} s to create) on {db.engine.dialect.name}")
        engine = db.engine
    client = app.test_client()
    client.post("/login", data={"email": email, "password": PASSWORD})
    pages = {
        "study overview": f"/studies/{study_id}",
        "agenda": "/agenda",
        "results page": f"/studies/{study_id}/results",
        "notes board": f"/studies/{study_id}/notes",
        "notes board, tag filter": f"/studies/{study_id}/notes?tag=search",
        "notes board, page 5": f"/studies/{study_id}/notes?page=5",
        "rainbow matrix": f"/studies/{study_id}/matrix",
    }
    csvs = {f"{kind} CSV": f"/studies/{study_id}/exports/{kind}.csv"
            for kind in ("notes", "attempts", "findings", "sus")}
    for label, page in (pages | csvs).items():
        _timed(client, engine, page)  # warm up: first use of templates and caches
        measured = [_timed(client, engine, page) for _ in range(runs)]
        best = min(m[1] for m in measured)
        mean = sum(m[1] for m in measured) / len(measured)
        line = (f"{label:26s} best {best * 1000:7.1f} ms  mean {mean * 1000:7.1f} ms  "
                f"{measured[0][2] / 1024:7.0f} KiB  {measured[0][3]:4d} SQL queries")
        if label in csvs:
            first = min(m[0] for m in measured)
            line += f"  first byte {first * 1000:6.1f} ms  peak {_peak_memory(client, page) / 2**20:5.1f} MiB"
        print(line, flush=True)
    with app.app_context():
        db.drop_all()
        db.engine.dispose()


def main() -> None:
    """Time the pages at each size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=lambda v: [_size(s) for s in v.split(",")],
                        default=[(40, 4000), (400, 40000)],
                        help="SESSIONSxNOTES,... (default 40x4000,400x40000)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for index, (sessions, notes) in enumerate(args.sizes):
            url = args.database_url or f"sqlite:///{Path(tmp) / f'bench-{index}.sqlite'}"
            bench_size(url, sessions, notes, args.runs)


if __name__ == "__main__":
    main()
