"""Load benchmark: notes posted by 1, 10 and 50 writers while 0, 100 and 500 live streams are open.

The product runs under the README's production command on loopback and, in the same run and under
the same settings, the bare baseline of `baseline_app.py` (one JSON check, one insert with the
same unique rule). For each number of open streams (spread over 10 sessions) and each number of
writers, the product and the baseline take turns for `--seconds`; the benchmark reports notes/s,
latency p50/p95/p99, errors, server CPU per note, the ratio to the baseline, the delay from a
note's acknowledgement to its arrival on the first of the observers' streams and on all of them
(those of the other worker process included), the p95 of a sign-in page probe during the load,
and the server CPU while the streams sit idle. Afterwards it checks that each database holds
exactly the acknowledged notes, and exits non-zero when one was lost or doubled.

Run from the repository root:
  .venv/bin/python bench/load_notes.py                      # SQLite, no Redis
  .venv/bin/python bench/load_notes.py --database postgresql --redis redis://127.0.0.1:6379/15
Options: --streams 0 100 500 --writers 1 10 50 --seconds 6 --port 5110 (the baseline takes the next port)
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import multiprocessing
import os
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

SESSIONS = 10
WATCHERS_PER_SESSION = 25
# The README's production command, without its address and app.
PRODUCTION_COMMAND = ["-k", "gevent", "-w", "2", "--worker-connections", "1000"]
BENCH_DIR = Path(__file__).resolve().parent
REQUEST_TIMEOUT = 10.0
PROBE_TIMEOUT = 5.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Forked helpers (the streams' reader, the sign-in probe) start before the writers' threads.
FORK = multiprocessing.get_context("fork")
NOTE_ID_MARK = b'"note":{"id":"'  # in a note event's compact JSON, before the note's UUID


# --- databases ----------------------------------------------------------------------------------


@contextmanager
def databases(kind: str, server_url: str, workdir: Path):
    """Two empty throw-away databases (product, baseline); dropped afterwards on PostgreSQL."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'product.sqlite'}", f"sqlite:///{workdir / 'baseline.sqlite'}"
        return
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    names = [f"usabtest_load_{role}_{os.getpid()}" for role in ("product", "baseline")]
    with admin.connect() as connection:
        for name in names:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
            connection.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield tuple(sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
                    for name in names)
    finally:
        with admin.connect() as connection:
            for name in names:
                connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@dataclass
class Cast:
    """Who writes and who watches: (session id, token) pairs."""

    writers: list[tuple[int, str]]
    watchers: list[tuple[int, str]]


def prepare_product(url: str, writers: int) -> Cast:
    """Schema, one study with SESSIONS sessions, writer and watcher observers with API tokens."""
    from argon2 import PasswordHasher

    from usabtest import builders, create_app
    from usabtest.accounts import services as account_services
    from usabtest.accounts.models import Role
    from usabtest.db import utcnow
    from usabtest.extensions import db

    # Production-strength hashing would spend a minute on hundreds of throw-away users.
    account_services._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "load-benchmark"})
    with app.app_context():
        db.create_all()
        owner = builders.make_user(Role.RESEARCHER, email="owner@example.com", name="Owner")
        study = builders.make_study(owner, organisation=builders.make_organisation("Load client"),
                                    title="Load")
        per_session = -(-writers // SESSIONS)
        writing: list[list[tuple[int, str]]] = []
        watchers: list[tuple[int, str]] = []
        for number in range(SESSIONS):
            writers_here = [builders.make_user(Role.OBSERVER) for _ in range(per_session)]
            watchers_here = [builders.make_user(Role.OBSERVER) for _ in range(WATCHERS_PER_SESSION)]
            study_session = builders.make_session(
                study, moderator=owner, observers=writers_here + watchers_here,
                starts_at=utcnow() + timedelta(hours=1 + number))
            writing.append([(study_session.id, account_services.issue_token(u)) for u in writers_here])
            watchers += [(study_session.id, account_services.issue_token(u)) for u in watchers_here]
        db.session.commit()
        db.engine.dispose()
    # Writer i posts to session i % SESSIONS, so any number of writers spreads over the sessions.
    return Cast([writing[i % SESSIONS][i // SESSIONS] for i in range(SESSIONS * per_session)],
                watchers)


def prepare_baseline(url: str) -> None:
    """The baseline's one table."""
    os.environ["BASELINE_DATABASE_URL"] = url
    sys.path.insert(0, str(BENCH_DIR))
    from baseline_app import app, db

    with app.app_context():
        db.create_all()
        db.engine.dispose()


def stored_notes(url: str, table: str) -> tuple[set[str], int]:
    """The client ids stored in `table`, and how many ids are stored more than once."""
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        ids = [str(uuid.UUID(str(value))) for value in
               connection.execute(sa.text(f"SELECT client_uuid FROM {table}")).scalars()]
    engine.dispose()
    return set(ids), len(ids) - len(set(ids))


# --- servers ------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(port: int, path: str, timeout: float = PROBE_TIMEOUT) -> tuple[int | None, float]:
    """Status and seconds of one GET on a new connection (None: no answer in time)."""
    began = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status, time.monotonic() - began
    except (OSError, http.client.HTTPException):
        return None, time.monotonic() - began
    finally:
        connection.close()


@dataclass
class Server:
    """A gunicorn started with the production settings."""

    process: subprocess.Popen
    port: int

    @classmethod
    def start(cls, target: str, env: dict[str, str], chdir: Path, port: int | None = None) -> Server:
        port = port or _free_port()
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        process = subprocess.Popen(
            [gunicorn, *PRODUCTION_COMMAND, "-b", f"127.0.0.1:{port}", "--chdir", str(chdir), target],
            env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        server = cls(process, port)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if server.get("/login")[0] == 200:
                return server
            time.sleep(0.2)
        server.stop()
        raise RuntimeError(f"{target} did not answer within 60 s")

    def get(self, path: str) -> tuple[int | None, float]:
        return get(self.port, path)

    def cpu_seconds(self) -> float:
        """User and system CPU of the master and its workers so far."""
        total = 0.0
        for pid in [self.process.pid, *self._children()]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        return total

    def _children(self) -> list[int]:
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == self.process.pid:
                    children.append(int(stat.parent.name))
            except (OSError, ValueError, IndexError):
                continue
        return children

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# --- load ---------------------------------------------------------------------------------------


@dataclass
class Post:
    """One note sent: its id, session, answer (None: no answer), latency and acknowledgement time."""

    note_id: str
    session_id: int
    status: int | None
    seconds: float
    answered_at: float

    @property
    def acknowledged(self) -> bool:
        return self.status in (200, 201)


def write_notes(port: int, path: str, session_id: int, token: str | None, deadline: float,
                posts: list[Post]) -> None:
    """Post fresh notes over one keep-alive connection until `deadline`."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    connection = None
    while time.monotonic() < deadline:
        note_id = str(uuid.uuid4())
        body = json.dumps({"id": note_id, "body": f"Load note {note_id[:8]}: looked for the button."})
        began = time.monotonic()
        try:
            connection = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
            connection.request("POST", path, body, headers)
            response = connection.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            status = None
            if connection:
                connection.close()
            connection = None
        now = time.monotonic()
        posts.append(Post(note_id, session_id, status, now - began, now))
    if connection:
        connection.close()


def probe_sign_in(port: int, stop, answer) -> None:
    """GET the sign-in page every 0.2 s until `stop` is set, then send the latencies to `answer`;
    no answer counts as the probe's timeout."""
    latencies = []
    while not stop.is_set():
        status, seconds = get(port, "/login")
        latencies.append(seconds if status == 200 else PROBE_TIMEOUT)
        stop.wait(0.2)
    answer.send(latencies)


def last_event_ids(url: str) -> dict[int, int]:
    """Each session's newest event id: where an observer who opens the console now starts."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return dict(connection.execute(sa.text(
                "SELECT session_id, MAX(id) FROM session_event GROUP BY session_id")).all())
    finally:
        engine.dispose()


class Streams:
    """Many live streams read by a process of their own, which records when each note first
    arrives on them. In a thread of the writers' process, the reader waited for the writers'
    interpreter lock, and that wait was counted as delivery delay."""

    def __init__(self, port: int) -> None:
        self._connection, theirs = FORK.Pipe()
        self._process = FORK.Process(target=StreamReader(port, theirs).run, daemon=True)
        self._process.start()

    def open(self, watchers: list[tuple[int, str]], count: int, cursors: dict[int, int]) -> None:
        """Open `count` streams, spread over the watchers (and so over the sessions), each after its
        session's `cursors` entry, as a console does with the cursor of the page it has just loaded."""
        self._ask("open", watchers, count, cursors)

    def wait_answered(self, count: int, timeout: float) -> int:
        """Wait until `count` streams have answered (or `timeout` seconds passed); how many did."""
        deadline = time.monotonic() + timeout
        while (answered := self._ask("answered")) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return answered

    def arrivals(self) -> tuple[dict[str, float], dict[str, float]]:
        """When each note arrived on its first stream, and on the last stream to get it."""
        return self._ask("arrivals")

    def close(self) -> None:
        self._ask("close")
        self._process.join()

    def _ask(self, *command):
        self._connection.send(command)
        return self._connection.recv()


class StreamReader:
    """The streams' process: opens and reads the streams, and answers the `Streams` commands."""

    def __init__(self, port: int, connection) -> None:
        self.port = port
        self.connection = connection
        self.selector = selectors.DefaultSelector()
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self.answered = 0

    def run(self) -> None:
        self.selector.register(self.connection, selectors.EVENT_READ, None)
        while True:
            for key, _ in self.selector.select():
                if key.data is not None:
                    self._receive(key)
                elif not self._command(*self.connection.recv()):
                    return

    def _command(self, name: str, *args) -> bool:
        answers = {"open": lambda: self._open(*args), "answered": lambda: self.answered,
                   "arrivals": lambda: (self.first, self.last), "close": lambda: None}
        self.connection.send(answers[name]())
        return name != "close"

    def _open(self, watchers: list[tuple[int, str]], count: int, cursors: dict[int, int]) -> None:
        by_session: dict[int, list[tuple[int, str]]] = {}
        for watcher in watchers:
            by_session.setdefault(watcher[0], []).append(watcher)
        # One session after another, so that any number of streams covers every session.
        spread = [w for round_ in itertools.zip_longest(*by_session.values()) for w in round_ if w]
        for index in range(count):
            session_id, token = spread[index % len(spread)]
            sock = socket.create_connection(("127.0.0.1", self.port))
            path = f"/api/v1/sessions/{session_id}/stream?after={cursors.get(session_id, 0)}"
            sock.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n"
                         f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n".encode())
            sock.setblocking(False)
            self.selector.register(sock, selectors.EVENT_READ, {"buffer": b"", "answered": False})

    def _receive(self, key) -> None:
        try:
            chunk = key.fileobj.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:
            self.selector.unregister(key.fileobj)
            key.fileobj.close()
            return
        now = time.monotonic()
        state = key.data
        if not state["answered"] and chunk.startswith(b"HTTP/1.") and b" 200 " in chunk[:16]:
            state["answered"] = True
            self.answered += 1
        *lines, state["buffer"] = (state["buffer"] + chunk).split(b"\n")
        for line in lines:
            # The note's id found in the bytes, not by parsing the event's JSON: at 50 writers the
            # streams carry tens of thousands of events a second, and parsing them made this
            # reader, not the server, the delay being measured.
            start = line.find(NOTE_ID_MARK) if line.startswith(b"data: ") else -1
            if start >= 0:
                start += len(NOTE_ID_MARK)
                note_id = line[start:start + 36].decode()
                self.first.setdefault(note_id, now)
                self.last[note_id] = now


# --- one phase and its figures ------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile of `values` (0 when empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(share * len(ordered)) - 1))]


@dataclass
class Phase:
    """What one run of writers produced."""

    posts: list[Post]
    seconds: float
    cpu: float
    probe: list[float] = field(default_factory=list)

    @property
    def acknowledged(self) -> list[Post]:
        return [p for p in self.posts if p.acknowledged]

    @property
    def rate(self) -> float:
        return len(self.acknowledged) / self.seconds

    @property
    def errors(self) -> int:
        return len(self.posts) - len(self.acknowledged)

    @property
    def cpu_ms_per_note(self) -> float:
        return 1000 * self.cpu / max(1, len(self.acknowledged))

    def latency_ms(self, share: float) -> float:
        return 1000 * percentile([p.seconds for p in self.acknowledged], share)


def run_phase(server: Server, writers: list[tuple[int, str | None]], path_of, seconds: float,
              probe: bool) -> Phase:
    """`writers` post notes for `seconds`, optionally with a sign-in probe alongside."""
    posts: list[Post] = []
    # The probe in a process of its own, as a browser would be: not waiting for the writers.
    stop = FORK.Event()
    latencies, theirs = FORK.Pipe(duplex=False)
    prober = FORK.Process(target=probe_sign_in, args=(server.port, stop, theirs), daemon=True)
    cpu_before = server.cpu_seconds()
    began = time.monotonic()
    deadline = began + seconds
    threads = [threading.Thread(target=write_notes,
                                args=(server.port, path_of(session_id), session_id, token, deadline, posts))
               for session_id, token in writers]
    if probe:
        prober.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    stop.set()
    probed = latencies.recv() if probe else []
    if probe:
        prober.join()
    return Phase(posts, elapsed, server.cpu_seconds() - cpu_before, probed)


def idle_cpu_share(server: Server, seconds: float = 5.0) -> float:
    """Share of one core the server uses over `seconds` with nothing written."""
    before = server.cpu_seconds()
    time.sleep(seconds)
    return (server.cpu_seconds() - before) / seconds


# --- the whole configuration --------------------------------------------------------------------


def main() -> int:
    """Run one configuration and print its figures; 1 when a note was lost or doubled."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                        help="a server where throw-away databases may be created")
    parser.add_argument("--redis", default=None, help="Redis URL for live delivery (default: none)")
    parser.add_argument("--streams", type=int, nargs="+", default=[0, 100, 500])
    parser.add_argument("--writers", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--port", type=int, default=None,
                        help="the product's port (the baseline's is the next); default: free ports")
    args = parser.parse_args()
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="usabtest-load-") as tmp, \
            databases(args.database, args.postgres_url, Path(tmp)) as (product_url, baseline_url):
        cast = prepare_product(product_url, max(args.writers))
        prepare_baseline(baseline_url)
        env = {"USABTEST_DATABASE_URL": product_url, "USABTEST_SECRET_KEY": "load-benchmark-" + "x" * 32,
               "USABTEST_ENV_NAME": "production", "USABTEST_RATELIMIT_ENABLED": "false",
               "BASELINE_DATABASE_URL": baseline_url}
        if args.redis:
            env["USABTEST_REDIS_URL"] = args.redis
        product = Server.start("usabtest.wsgi:app", env, Path.cwd(), args.port)
        baseline = Server.start("baseline_app:app", env, BENCH_DIR, args.port and args.port + 1)
        print(f"configuration: {args.database}, {'Redis ' + args.redis if args.redis else 'no Redis'}; "
              f"{' '.join(PRODUCTION_COMMAND)}; {args.seconds:g} s per run")
        product_posts: list[Post] = []
        baseline_posts: list[Post] = []
        try:
            for count in args.streams:
                streams = Streams(product.port)
                streams.open(cast.watchers, count, last_event_ids(product_url))
                answered = streams.wait_answered(count, timeout=60)
                time.sleep(2)  # past the burst of stream starts: the streams now sit idle
                idle = idle_cpu_share(product)
                print(f"\n{count} streams opened, {answered} answered; "
                      f"server CPU while idle: {100 * idle:.1f} % of one core")
                print("writers  notes/s  base/s  ratio  p50 ms  p95 ms  p99 ms  errors  "
                      "CPU ms/note (base)  sign-in p95 ms  stream delay p95 ms: first/all (delivered)")
                for writers in args.writers:
                    ours = run_phase(product, cast.writers[:writers],
                                     lambda s: f"/api/v1/sessions/{s}/notes", args.seconds, probe=True)
                    bare = run_phase(baseline, [(s, None) for s, _ in cast.writers[:writers]],
                                     lambda s: f"/sessions/{s}/notes", args.seconds, probe=False)
                    time.sleep(1)  # stragglers reach the streams
                    product_posts += ours.posts
                    baseline_posts += bare.posts
                    print(_row(writers, ours, bare, *streams.arrivals(), count))
                streams.close()
        finally:
            product.stop()
            baseline.stop()
        lost_or_doubled = _verify("product", product_url, "note", product_posts)
        lost_or_doubled += _verify("baseline", baseline_url, "bare_note", baseline_posts)
    print(f"\nconfiguration finished in {time.monotonic() - began:.0f} s")
    return 1 if lost_or_doubled else 0


def _row(writers: int, ours: Phase, bare: Phase, first: dict[str, float], last: dict[str, float],
         count: int) -> str:
    delays = [1000 * (first[p.note_id] - p.answered_at) for p in ours.acknowledged if p.note_id in first]
    # Until every stream has it: the other worker's streams too (the first is usually the writer's).
    all_delays = [1000 * (last[p.note_id] - p.answered_at) for p in ours.acknowledged if p.note_id in last]
    delivered = f"{len(delays)}/{len(ours.acknowledged)}" if count else "no streams"
    delay = f"{percentile(delays, 0.95):.0f}/{percentile(all_delays, 0.95):.0f}" if delays else "-"
    ratio = ours.rate / bare.rate if bare.rate else 0.0
    return (f"{writers:>7}  {ours.rate:>7.0f}  {bare.rate:>6.0f}  {ratio:>5.2f}  "
            f"{ours.latency_ms(0.5):>6.0f}  {ours.latency_ms(0.95):>6.0f}  {ours.latency_ms(0.99):>6.0f}  "
            f"{ours.errors:>6}  "
            f"{ours.cpu_ms_per_note:>8.1f} ({bare.cpu_ms_per_note:.1f})  "
            f"{1000 * percentile(ours.probe, 0.95):>14.0f}  {delay:>6} ({delivered})")


def _verify(name: str, url: str, table: str, posts: list[Post]) -> int:
    """Print what the database holds against what was acknowledged; the number of faults."""
    stored, doubled = stored_notes(url, table)
    acknowledged = {p.note_id for p in posts if p.acknowledged}
    lost = acknowledged - stored
    refused = {p.note_id: p.status for p in posts if not p.acknowledged}
    stored_but_refused = refused.keys() & stored
    statuses = sorted({str(refused[note_id]) for note_id in stored_but_refused})
    print(f"{name}: {len(acknowledged)} acknowledged, {len(stored)} stored, {len(lost)} lost, "
          f"{doubled} doubled, {len(stored_but_refused)} stored although answered with an error {statuses}")
    return len(lost) + doubled


if __name__ == "__main__":
    sys.exit(main())
