"""Benchmark: the CPU one process spends delivering events to its open live streams.

Runs the live hub as the production worker does (gevent, every stream a greenlet) on a throw-away
SQLite file: `--streams` streams spread over `--sessions` sessions read the event stream while one
greenlet appends `--events` events round-robin over the sessions, one every `--gap` seconds, and
wakes the hub as a note's commit does. It prints the process's CPU per event written, split into
the writing alone (the same appends with no stream open, measured first) and the delivery, and
checks that every stream received every event, once and in order.

Unlike `load_notes.py`, no server, client or second process shares the cores, so the figure moves
little between runs: use it to compare two versions of `usabtest/observe/live.py` side by side.
Run: `.venv/bin/python bench/bench_fanout.py [--streams 250] [--sessions 10] [--events 2000]
[--gap 0.002] [--window 0.025]`.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402  (after gevent's patching, as in the production worker)
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402

from usabtest import builders, create_app  # noqa: E402
from usabtest.accounts.models import Role  # noqa: E402
from usabtest.extensions import db  # noqa: E402
from usabtest.observe import events, live  # noqa: E402

PER_USER = 10_000  # the benchmark's observers open many streams each


def _setup(sessions: int, observers: int) -> tuple[list[int], list]:
    db.create_all()
    owner = builders.make_user(Role.RESEARCHER, email="fanout@example.com", name="Owner")
    study = builders.make_study(owner, organisation=builders.make_organisation("Fan-out"), title="Fan-out")
    users = [builders.make_user(Role.OBSERVER, email=f"f{n}@example.com", name=f"Observer {n}")
             for n in range(observers)]
    session_ids = [builders.make_session(study, moderator=owner, observers=users).id for _ in range(sessions)]
    db.session.commit()
    return session_ids, users


def _append(session_ids: list[int], count: int, gap: float) -> None:
    """`count` events round-robin over the sessions, each committed alone and announced."""
    for number in range(count):
        session_id = session_ids[number % len(session_ids)]
        with db.engine.begin() as connection:
            events.insert_event(connection, session_id, "bench.tick", {"number": number})
        events.wake_now(session_id, None)
        gevent.sleep(gap)


def _read(stream, received: list[int], expected: int) -> None:
    for chunk in stream:
        received.extend(int(line[4:]) for line in chunk.split("\n") if line.startswith("id: "))
        if len(received) >= expected:
            return


def _cpu_of(work) -> float:
    started = time.process_time()
    work()
    return time.process_time() - started


def run(streams: int, sessions: int, count: int, gap: float) -> None:
    hub = live.hub_for(db.engine, poll=0.1, redis_url=None, per_user=PER_USER)
    session_ids, users = _setup(sessions, observers=max(1, streams // sessions))
    alone = _cpu_of(lambda: _append(session_ids, count, gap))
    start = max(events.last_event_id(db.session, sid) for sid in session_ids)
    per_session = count // sessions
    received: list[list[int]] = []
    readers = []
    for number in range(streams):
        session_id, user = session_ids[number % sessions], users[number // sessions % len(users)]
        stream = live.stream(hub, session_id, user, start, heartbeat=15, lifetime=600)
        received.append([])
        readers.append(gevent.spawn(_read, stream, received[-1], per_session))
    gevent.sleep(0.5)  # every stream joined the hub
    began = time.perf_counter()
    with_streams = _cpu_of(lambda: (_append(session_ids, count, gap), gevent.joinall(readers, timeout=120)))
    wall = time.perf_counter() - began
    complete = sum(1 for ids in received if len(ids) == per_session and ids == sorted(set(ids)))
    delivery = with_streams - alone
    print(f"{streams} streams over {sessions} sessions, {count} events, one every {gap * 1000:.1f} ms, "
          f"read window {live.READ_WINDOW_SECONDS * 1000:.0f} ms ({wall:.1f} s)")
    per_stream = 1_000_000 * delivery / (count * streams / sessions)
    print(f"CPU per event: writing alone {1000 * alone / count:.3f} ms, "
          f"delivery {1000 * delivery / count:.3f} ms ({per_stream:.1f} µs per event per stream)")
    print(f"streams with every event once and in order: {complete} of {streams}")
    if complete != streams:
        raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=250)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--gap", type=float, default=0.002, help="seconds between two events")
    parser.add_argument("--window", type=float, default=live.READ_WINDOW_SECONDS,
                        help="the hub's read window in seconds (live.READ_WINDOW_SECONDS)")
    args = parser.parse_args()
    live.READ_WINDOW_SECONDS = args.window
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(folder) / 'fanout.db'}",
                          "TESTING": False, "RATELIMIT_ENABLED": False})
        with app.app_context():
            run(args.streams, args.sessions, args.events, args.gap)


if __name__ == "__main__":
    main()
