"""The `usabtest` console script: users, tokens and demo data."""

import ast
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from usabtest.accounts.models import Role, User
from usabtest.analysis.models import Finding
from usabtest.demo import DEMO_USERS, STUDY_TITLE, load_demo
from usabtest.observe.models import Note, SusResponse, TaskAttempt
from usabtest.planning.models import SessionStatus, Study

VENV_BIN = Path(sys.executable).parent


def test_users_create_with_password_option(db, runner):
    result = runner.invoke(args=[
        "users", "create", "--email", "Ann@Example.com", "--name", "Ann", "--role", "observer",
        "--password", "a-long-password",
    ])
    assert result.exit_code == 0, result.output
    user = db.session.scalar(sa.select(User).where(User.email == "ann@example.com"))
    assert user.role == Role.OBSERVER


def test_users_create_prompts_for_password(db, runner):
    result = runner.invoke(
        args=["users", "create", "--email", "p@example.com", "--name", "P", "--role", "researcher"],
        input="a-long-password\na-long-password\n",
    )
    assert result.exit_code == 0, result.output
    assert db.session.scalar(sa.select(User).where(User.email == "p@example.com"))


def test_users_create_refuses_client_without_organisation(runner):
    result = runner.invoke(args=[
        "users", "create", "--email", "c@example.com", "--name", "C", "--role", "client",
        "--password", "a-long-password",
    ])
    assert result.exit_code != 0
    assert "client organisation" in result.output


def test_users_create_refuses_duplicate_and_short_password(runner, make_user):
    make_user(email="taken@example.com")
    duplicate = runner.invoke(args=[
        "users", "create", "--email", "TAKEN@example.com", "--name", "T", "--role", "observer",
        "--password", "a-long-password",
    ])
    assert duplicate.exit_code != 0 and "already exists" in duplicate.output
    short = runner.invoke(args=[
        "users", "create", "--email", "s@example.com", "--name", "S", "--role", "observer",
        "--password", "short",
    ])
    assert short.exit_code != 0 and "at least 12" in short.output


def test_users_list_json(runner, make_user):
    make_user(Role.CLIENT, email="client@example.com", name="Cli Ent")
    result = runner.invoke(args=["users", "list", "--json"])
    rows = json.loads(result.output)
    assert rows == [{"email": "client@example.com", "name": "Cli Ent", "role": "client", "active": True}]


def test_token_printed_alone_authenticates_api_requests(app, runner, client, make_user):
    user = make_user(Role.OBSERVER, email="tok@example.com")
    result = runner.invoke(args=["users", "token", "tok@example.com"])
    assert result.exit_code == 0
    token = result.stdout.strip()
    assert result.stdout == token + "\n"
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json["email"] == user.email


def test_token_is_stored_only_as_hash(db, runner, make_user):
    make_user(email="hash@example.com")
    token = runner.invoke(args=["users", "token", "hash@example.com"]).stdout.strip()
    stored = db.session.scalars(sa.text("SELECT token_hash FROM api_token")).all()
    assert token not in stored and len(stored[0]) == 64


def test_deactivated_users_tokens_stop_working(db, runner, client, make_user):
    user = make_user(email="gone@example.com")
    token = runner.invoke(args=["users", "token", "gone@example.com"]).stdout.strip()
    user.active = False
    db.session.commit()
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json["error"]["message"]


def test_wrong_token_gets_json_401(client):
    response = client.get("/api/v1/me", headers={"Authorization": "Bearer ut_nope"})
    assert response.status_code == 401
    assert response.is_json


def test_demo_loads_once_with_realistic_study(db, runner):
    first = runner.invoke(args=["demo"])
    assert "Demo data loaded." in first.output
    for email, _name, _role, password in DEMO_USERS:
        assert email in first.output and password in first.output
    second = runner.invoke(args=["demo"])
    assert "already present" in second.output
    study = db.session.scalar(sa.select(Study).where(Study.title == STUDY_TITLE))
    assert len(study.tasks) == 6 and len(study.participants) == 8
    assert all(p.has_consent for p in study.participants)
    statuses = [s.status for s in study.sessions]
    assert statuses.count(SessionStatus.COMPLETED) == 5
    assert statuses.count(SessionStatus.SCHEDULED) == 3
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TaskAttempt)) == 30
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Note)) == 60
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SusResponse)) == 5
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 4
    assert len(study.participants[0].personal.name) > 0
    findings = db.session.scalars(sa.select(Finding).where(Finding.study_id == study.id)).all()
    assert len(findings) == 7 and all(finding.notes and finding.tasks for finding in findings)
    assert sum(finding.positive for finding in findings) == 2
    assert all(finding.priority and finding.effort for finding in findings if not finding.positive)


def test_demo_is_idempotent_in_one_process(db):
    assert load_demo() is True
    assert load_demo() is False


@pytest.mark.slow
def test_console_script_works_without_app_option(tmp_path):
    env = {**os.environ, "USABTEST_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite'}",
           "USABTEST_SECRET_KEY": "x" * 32}
    env.pop("FLASK_APP", None)
    usabtest = str(VENV_BIN / "usabtest")
    help_text = subprocess.run([usabtest, "--help"], env=env, capture_output=True, text=True,
                               check=True, cwd=tmp_path).stdout
    for command in ("db", "demo", "report", "run", "users"):
        assert f"  {command}" in help_text
    subprocess.run([usabtest, "db", "upgrade"], env=env, check=True, cwd=tmp_path,
                   capture_output=True)
    subprocess.run([usabtest, "users", "create", "--email", "s@example.com", "--name", "S",
                    "--role", "admin", "--password", "script-password"],
                   env=env, check=True, cwd=tmp_path, capture_output=True)
    with sqlite3.connect(tmp_path / "cli.sqlite") as connection:
        roles = connection.execute("SELECT role FROM \"user\" WHERE email = 's@example.com'").fetchall()
    assert roles == [("admin",)]


def _python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                          env={**os.environ, "USABTEST_SECRET_KEY": "x" * 32}).stdout


def test_help_lists_every_command_without_building_the_app(app):
    output = _python(
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from usabtest.cli import main\n"
        "print(CliRunner().invoke(main, ['--help']).output)\n"
        "print('IMPORTED:', sorted(m for m in sys.modules if m.startswith(('usabtest.', 'sqlalchemy'))))\n"
    )
    help_text, imported = output.split("IMPORTED:")
    listed = {line.split()[0] for line in help_text.split("Commands:")[1].splitlines() if line.strip()}
    assert set(app.cli.list_commands(None)) <= listed
    assert {"db", "demo", "report", "users", "run", "routes", "shell", "purge-deleted"} <= listed
    assert ast.literal_eval(imported.strip()) == ["usabtest.cli"]


def test_console_script_leaves_its_objects_to_the_process_end():
    """The collector's walk over every object at exit was a fifth of `usabtest report build`."""
    output = _python(
        "import gc, sys\n"
        "from usabtest.cli import run\n"
        "sys.argv = ['usabtest', '--help']\n"
        "try:\n"
        "    run()\n"
        "except SystemExit as exit:\n"
        "    print('EXIT', exit.code, gc.get_freeze_count() > 1000)\n"
    )
    assert output.strip().endswith("EXIT 0 True")


def test_first_interval_imports_no_scipy():
    output = _python(
        "import sys\n"
        "from usabtest.analysis.metrics import mean_ci\n"
        "print(mean_ci([40, 55, 61]), any(m.startswith('scipy') for m in sys.modules))\n"
    )
    assert output.strip().endswith("False")


def test_app_start_up_leaves_document_calendar_password_and_migration_libraries_until_first_use():
    output = _python(
        "import sys\n"
        "from usabtest import create_app\n"
        "create_app({'TESTING': True})\n"
        "heavy = {'docx', 'pptx', 'scipy', 'lxml', 'icalendar', 'zxcvbn', 'alembic', 'flask_migrate'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
    )
    assert output.strip() == "[]"
