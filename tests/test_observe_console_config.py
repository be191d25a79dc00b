"""The console's script gets its labels and limits from the server, and they are the server's own."""

from __future__ import annotations

import json
import re

import pytest

from tests.observe_fixtures import login  # noqa: F401  (also sends the CSRF header)
from usabtest import paths
from usabtest.accounts.models import Role
from usabtest.analysis.models import SEVERITY_LABELS
from usabtest.observe.models import NoteKind, Outcome
from usabtest.planning.models import SessionStatus
from usabtest.planning.tagset import DEFAULT_TAGS

CONFIG_BLOCK = re.compile(r'<script type="application/json" id="console-config">(.*?)</script>', re.S)
MODULES = sorted((paths.STATIC / "js" / "observe").glob("*.js"))


def _console(client, study_session) -> tuple[str, dict]:
    response = client.get(f"/sessions/{study_session.id}/observe")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    (block,) = CONFIG_BLOCK.findall(html)
    return html, json.loads(block)


@pytest.fixture
def moderated(db, make_study, make_session):
    """A session of a study with many tags of its own, and its moderator's view of the console."""
    study = make_study(tasks=1, custom_tags=[f"tag{n}" for n in range(30)])
    study.tags[len(DEFAULT_TAGS)].shortcut = "Shift+1"
    return make_session(study=study)


def test_labels_come_from_the_servers_constants(client, login, moderated):
    login(moderated.moderator)
    html, config = _console(client, moderated)
    assert config["labels"]["outcome"] == {outcome.value: outcome.label for outcome in Outcome}
    assert config["labels"]["status"] == {status.value: status.label for status in SessionStatus}
    assert config["severityLabels"] == {str(level): label for level, label in SEVERITY_LABELS.items()}
    assert [t["tag"] for t in config["tags"]] == [tag.name for tag in moderated.study.tags]
    assert [t["tag"] for t in config["tags"]][:len(DEFAULT_TAGS)] == [spec.name for spec in DEFAULT_TAGS]
    assert {t["tag"]: t["key"] for t in config["tags"]}["tag0"] == "Shift+1"
    assert {t["tag"]: t["colour"] for t in config["tags"]}["problem"] == DEFAULT_TAGS[0].colour
    assert config["kinds"] == [{"value": kind.value, "label": kind.label} for kind in NoteKind]
    assert f'maxlength="{config["limits"]["noteBody"]}"' in html
    for number, outcome in enumerate(Outcome, start=1):  # the keys 1-5 follow the server's order
        value, label = outcome.value, config["labels"]["outcome"][outcome.value]
        assert (f'<input type="radio" name="outcome" value="{value}" aria-keyshortcuts="{number}">'
                f' <kbd>{number}</kbd> {label}</label>') in html


def test_handed_over_note_limits_are_exactly_where_the_api_draws_the_line(client, login, moderated):
    study_session = moderated
    login(study_session.moderator)
    _, config = _console(client, study_session)
    limits, url = config["limits"], f"{config['api']}/notes"

    def post(number, body="x", tags=()):
        note = {"id": f"00000000-0000-4000-8000-{number:012d}", "body": body, "tags": list(tags)}
        return client.post(url, json=note).status_code

    assert post(1, body="x" * limits["noteBody"]) == 201
    assert post(2, body="x" * (limits["noteBody"] + 1)) == 422
    assert post(3, tags=[f"tag{n}" for n in range(limits["noteTags"])]) == 201
    assert post(4, tags=[f"tag{n}" for n in range(limits["noteTags"] + 1)]) == 422


def test_handed_over_error_count_limit_is_the_apis(client, login, moderated):
    study_session = moderated
    login(study_session.moderator)
    _, config = _console(client, study_session)
    task = study_session.study.tasks[0]
    api = config["api"]
    most = config["limits"]["errors"]
    assert client.post(f"{api}/start").status_code == 200
    assert client.post(f"{api}/tasks/{task.id}/start").status_code == 200
    end = f"{api}/tasks/{task.id}/end"
    assert client.post(end, json={"outcome": "success", "errors": most + 1}).status_code == 422
    assert client.post(end, json={"outcome": "success", "errors": most}).status_code == 200


def test_console_page_runs_only_module_scripts_from_the_site(client, login, moderated):
    login(moderated.moderator)
    response = client.get(f"/sessions/{moderated.id}/observe")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    scripts = re.findall(r"<script\b([^>]*)>", response.get_data(as_text=True))
    assert scripts, "the console has scripts"
    for attributes in scripts:
        assert 'type="application/json"' in attributes or (
            'type="module"' in attributes and 'src="/static/js/' in attributes), attributes


def test_console_modules_hold_no_copy_of_server_labels_or_limits():
    labels = [*SEVERITY_LABELS.values(), *(o.label for o in Outcome), *(s.label for s in SessionStatus),
              *(spec.name for spec in DEFAULT_TAGS), *(kind.value for kind in NoteKind),
              *(kind.label for kind in NoteKind)]
    assert {path.name for path in MODULES} >= {"console.js", "queue.js", "stream.js", "format.js"}
    for path in MODULES:
        source = path.read_text(encoding="utf-8")
        for label in labels:
            assert not re.search(rf"[\"'`]{re.escape(label)}[\"'`]", source), f"{path.name} copies {label!r}"
        assert not re.search(r"\b10,?000\b", source), f"{path.name} copies the note length limit"


def test_config_names_the_signed_in_user_not_the_participant(client, login, make_user, make_session):
    user = make_user(Role.OBSERVER, name="Oona Observer")
    study_session = make_session(observers=[user])
    login(user)
    html, config = _console(client, study_session)
    assert (config["userId"], config["userName"]) == (user.id, "Oona Observer")
    assert study_session.participant.personal.name not in json.dumps(config)
