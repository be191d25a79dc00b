"""Live console under load: many observers posting notes while one console follows the stream.

Prints the posting throughput and how long each note took from its acknowledgement to its arrival
on the stream. Uses a throw-away SQLite file, or PostgreSQL when USABTEST_BENCH_DATABASE_URL is set
(a database you can empty), with Redis wake-ups when USABTEST_BENCH_REDIS_URL is set.
Options: --observers 10 --notes 50.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import tempfile
import threading
import time
import urllib.request
import uuid
from datetime import timedelta

from werkzeug.serving import make_server

from usabtest import builders, create_app
from usabtest.accounts.models import Role
from usabtest.accounts.services import issue_token
from usabtest.db import utcnow
from usabtest.extensions import db


def _setup(observers: int) -> tuple[int, list[str]]:
    db.drop_all()
    db.create_all()
    owner = builders.make_user(Role.RESEARCHER, email="owner@example.com", name="Owner")
    study = builders.make_study(owner, organisation=builders.make_organisation("Bench client"), title="Bench")
    users = [builders.make_user(Role.OBSERVER, email=f"o{n}@example.com", name=f"Observer {n}")
             for n in range(observers)]
    study_session = builders.make_session(study, moderator=owner, observers=users,
                                          starts_at=utcnow() + timedelta(hours=1))
    tokens = [issue_token(user) for user in users]
    db.session.commit()
    return study_session.id, tokens


def _post(base: str, path: str, token: str, body: dict) -> int:
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as response:
        return response.status


def _follow(base: str, path: str, token: str, arrivals: dict, expected: int) -> None:
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
        buffer = b""
        while len(arrivals) < expected and (chunk := sock.recv(65536)):
            buffer += chunk
            *complete, buffer = buffer.split(b"\n")
            now = time.monotonic()
            for line in complete:
                if line.startswith(b"data: "):
                    arrivals[json.loads(line[6:])["note"]["id"]] = now


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--observers", type=int, default=10)
    parser.add_argument("--notes", type=int, default=50)
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="usabtest-bench-")
    url = os.environ.get("USABTEST_BENCH_DATABASE_URL") or f"sqlite:///{workdir}/bench.sqlite"
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "RATELIMIT_ENABLED": False,
                      "REDIS_URL": os.environ.get("USABTEST_BENCH_REDIS_URL"),
                      "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": args.observers + 5, "max_overflow": 10}})
    with app.app_context():
        session_id, tokens = _setup(args.observers)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    total = args.observers * args.notes
    arrivals: dict[str, float] = {}
    acked: dict[str, float] = {}
    follower = threading.Thread(target=_follow, args=(base, f"/api/v1/sessions/{session_id}/stream",
                                                      tokens[0], arrivals, total), daemon=True)
    follower.start()
    time.sleep(0.5)

    def observer(token: str) -> None:
        for n in range(args.notes):
            note_id = str(uuid.uuid4())
            _post(base, f"/api/v1/sessions/{session_id}/notes", token, {"id": note_id, "body": f"note {n}"})
            acked[note_id] = time.monotonic()

    started = time.monotonic()
    threads = [threading.Thread(target=observer, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    follower.join(timeout=30)
    server.shutdown()
    lags = sorted(max(0.0, arrivals[k] - acked[k]) * 1000 for k in acked if k in arrivals)
    wake = "Redis wake-ups" if app.config["REDIS_URL"] else "polling only"
    print(f"database: {url.split(':')[0]} ({wake}); {args.observers} observers x {args.notes} notes"
          f" = {total}")
    print(f"posting: {elapsed:.2f} s, {total / elapsed:.0f} notes/s")
    print(f"delivered on the stream: {len(lags)}/{total}")
    if lags:
        p95 = lags[int(len(lags) * 0.95) - 1]
        median = statistics.median(lags)
        print(f"ack-to-stream latency ms: median {median:.0f}, p95 {p95:.0f}, max {lags[-1]:.0f}")


if __name__ == "__main__":
    main()
