"""Screenshots of the main pages, made from the demo data into docs/screenshots/.

    .venv/bin/python docs/screenshots.py [--out DIR]

It loads the demo into a throw-away SQLite database, serves it with gunicorn on a free loopback
port, signs in as each role in Debian's Chromium and captures each page as it first shows at 1280×800
and, for a few, at 390×844. Re-run it whenever a page changes: the README shows these files.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@dataclass(frozen=True)
class Shot:
    name: str
    role: str
    path: str  # may hold {study}, {done} (a completed session) and {next} (a scheduled one)
    phone: bool = False


SHOTS = [
    Shot("home-researcher", "researcher", "/"),
    Shot("home-observer", "observer", "/", phone=True),
    Shot("home-admin", "admin", "/"),
    Shot("study-overview", "researcher", "/studies/{study}", phone=True),
    Shot("agenda", "researcher", "/agenda"),
    Shot("live-console", "observer", "/sessions/{next}/observe", phone=True),
    Shot("session-review", "researcher", "/sessions/{done}/review"),
    Shot("results", "researcher", "/studies/{study}/results"),
    Shot("notes-board", "researcher", "/studies/{study}/notes"),
    Shot("matrix", "researcher", "/studies/{study}/matrix"),
    Shot("findings", "researcher", "/studies/{study}/findings"),
    Shot("report-page", "researcher", "/studies/{study}/report"),
    Shot("report-texts", "researcher", "/studies/{study}/report/texts"),
    Shot("client-portal", "client", "/portal", phone=True),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _prepare_demo(env: dict) -> dict[str, int]:
    """Migrate, load the demo, publish its report once; the ids the shots' paths need."""
    for command in (["db", "upgrade"], ["demo"]):
        subprocess.run([BIN / "usabtest", *command], env=env, check=True, capture_output=True)
    os.environ.update(env)
    import sqlalchemy as sa

    from usabtest.app import create_app
    from usabtest.extensions import db
    from usabtest.planning.models import SessionStatus, Study, StudySession
    from usabtest.reports import services

    with create_app().app_context():
        study = db.session.scalar(sa.select(Study))
        services.publish(study, study.owner)
        db.session.commit()

        def first(status: SessionStatus) -> int:
            query = sa.select(StudySession.id).where(StudySession.study_id == study.id,
                                                     StudySession.status == status)
            return db.session.scalar(query.order_by(StudySession.starts_at))

        return {"study": study.id, "done": first(SessionStatus.COMPLETED),
                "next": first(SessionStatus.SCHEDULED)}


def _serve(env: dict, port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [BIN / "gunicorn", "-k", "gevent", "-w", "1", "-b", f"127.0.0.1:{port}", "usabtest.wsgi:app"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return server
        except OSError:
            time.sleep(0.1)
    server.terminate()
    raise SystemExit("the app did not start")


def _sign_in(page: Page, base: str, role: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(f"{role}@example.com")
    page.get_by_label("Password", exact=True).fill(f"demo-{role}-pass")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def _capture(browser, base: str, ids: dict[str, int], out: Path) -> list[Path]:
    made = []
    for role in dict.fromkeys(shot.role for shot in SHOTS):
        context = browser.new_context(viewport=DESKTOP, reduced_motion="reduce")
        page = context.new_page()
        _sign_in(page, base, role)
        for shot in (s for s in SHOTS if s.role == role):
            page.goto(base + shot.path.format(**ids))
            page.wait_for_load_state("networkidle")
            made.append(out / f"{shot.name}.png")
            page.screenshot(path=made[-1])
            if shot.phone:
                page.set_viewport_size(PHONE)
                made.append(out / f"{shot.name}-phone.png")
                page.screenshot(path=made[-1])
                page.set_viewport_size(DESKTOP)
        context.close()
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "USABTEST_DATABASE_URL": f"sqlite:///{folder}/demo.sqlite",
               "USABTEST_SECRET_KEY": "screenshots-only-" + "x" * 32, "USABTEST_ENV_NAME": "development"}
        ids = _prepare_demo(env)
        port = _free_port()
        server = _serve(env, port)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                made = _capture(browser, f"http://127.0.0.1:{port}", ids, args.out)
                browser.close()
        finally:
            server.terminate()
            server.wait()
    for path in made:
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


if __name__ == "__main__":
    main()
