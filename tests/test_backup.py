"""`usabtest export` / `usabtest import`: all data in one archive, loaded into an empty database."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from PIL import Image

from tests.conftest import PG_URL
from usabtest import builders, create_app
from usabtest.accounts.models import Role
from usabtest.analysis.models import Screenshot
from usabtest.extensions import db
from usabtest.observe import recordings
from usabtest.observe.models import SessionRecording
from usabtest.reports import services as report_services
from usabtest.reports.models import PublishedReport

pytestmark = pytest.mark.database  # builds its own apps and databases


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (12, 8), (200, 30, 60)).save(out, format="PNG")
    return out.getvalue()


PNG = _png()


def _app(url: str):
    return create_app({"DATABASE_URL": url, "SECRET_KEY": "backup-test-" + "x" * 32, "REQUEST_LOG": False})


def _cli(app, *args: str):
    with app.app_context():  # as the `usabtest` command pushes one
        return app.test_cli_runner().invoke(args=list(args))


def _filled_sqlite(path: Path):
    app = _app(f"sqlite:///{path}")
    with app.app_context():
        upgrade()
        owner = builders.make_user(Role.RESEARCHER, name="Zoë Researcher")
        study = builders.make_study(owner, tasks=2, title="Checkout — ünïcode study")
        participant = builders.make_participant(study, name="Ann Example", email="ann@example.net")
        session = builders.make_session(study, participant, moderator=owner)
        note = builders.make_note(session, owner, "Hesitates at \"Pay\"\nthen finds it", tags=["problem"])
        finding = builders.make_finding(study, "Pay button hard to find")
        finding.notes.append(note)
        finding.screenshots.append(builders.make_screenshot(PNG, width=12, height=8))
        builders.make_report_texts(study, executive_summary="Most *found* the button.")
        recordings.set_link(session, owner, "https://meet.example.com/rec/1", 5_000)
        report_services.publish(study, owner, gap_reason="test data")
        db.session.commit()
    return app


@pytest.fixture
def empty_database_url(tmp_path):
    """A new empty database: beside the PostgreSQL test database when there is one, else SQLite."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'target.sqlite'}"
        return
    name = f"usabtest_backup_{os.getpid()}"
    target = sa.make_url(PG_URL).set(database=name)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    for statement in (f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'):
        with admin.connect() as conn:
            conn.exec_driver_sql(statement)
    yield target.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def _dispose(app) -> None:
    with app.app_context():
        db.engine.dispose()


def test_export_import_export_gives_the_same_archive_across_databases(tmp_path, empty_database_url):
    source = _filled_sqlite(tmp_path / "source.sqlite")
    first, second = tmp_path / "first.tar.gz", tmp_path / "second.tar.gz"
    result = _cli(source, "export", "--out", str(first))
    assert result.exit_code == 0, result.output
    assert "1 session recordings" in result.output and "Copy the recordings folder" in result.output
    _dispose(source)

    target = _app(empty_database_url)  # PostgreSQL in the PostgreSQL pass
    result = _cli(target, "import", str(first))
    assert result.exit_code == 0, result.output
    with target.app_context():
        report = db.session.scalar(sa.select(PublishedReport))
        assert report.pdf.startswith(b"%PDF")
        assert db.session.scalar(sa.select(Screenshot)).data == PNG
        assert db.session.scalar(sa.select(SessionRecording)).url == "https://meet.example.com/rec/1"
        next_user = builders.make_user(Role.OBSERVER)  # ids go on after the loaded ones
        assert next_user.id > 1
        db.session.rollback()
    assert _cli(target, "export", "--out", str(second)).exit_code == 0
    assert hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(second.read_bytes()).digest()

    again = _cli(target, "import", str(first))
    assert again.exit_code != 0 and "already holds data" in again.output
    _dispose(target)


def test_a_damaged_or_foreign_archive_is_refused(tmp_path):
    source = _filled_sqlite(tmp_path / "source.sqlite")
    archive = tmp_path / "backup.tar.gz"
    assert _cli(source, "export", "--out", str(archive)).exit_code == 0
    _dispose(source)
    with tarfile.open(archive, "r:gz") as original:
        members = {m.name: original.extractfile(m).read() for m in original.getmembers()}
    name = next(n for n in members if n.startswith("tables/note"))
    members[name] = members[name].replace(b"Hesitates", b"Hesitated")
    damaged = tmp_path / "damaged.tar.gz"
    with tarfile.open(damaged, "w:gz") as out:
        for member, data in members.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    (tmp_path / "junk.tar.gz").write_bytes(b"not an archive")

    empty = _app(f"sqlite:///{tmp_path / 'empty.sqlite'}")
    result = _cli(empty, "import", str(damaged))
    assert result.exit_code != 0 and f"{name} is damaged" in result.output
    result = _cli(empty, "import", str(tmp_path / "junk.tar.gz"))
    assert result.exit_code != 0 and "is not a usabtest backup archive" in result.output
    _dispose(empty)
