"""Every page that takes a `next` target follows same-site paths only (no open redirect)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import PASSWORD
from usabtest.core.urls import safe_next
from usabtest.reports import services

HOSTILE = [
    "https://evil.example/x", "http:/evil.example", "//evil.example/x", "/\\evil.example",
    "\\\\evil.example", "/\t/evil.example", "/\n/evil.example", "javascript:alert(1)",
    "evil.example/x", " /studies", "",
]
LOCAL = ["/studies/1", "/studies/1/report?tab=versions#v2", "/"]

# The view functions that read a `next` target, each covered by a test below.
COVERED_VIEWS = {"login", "publish", "create_share_link", "revoke_share_link", "withdraw", "new"}
PACKAGE = Path(__file__).resolve().parents[1] / "usabtest"


@pytest.mark.parametrize("target", HOSTILE)
def test_hostile_targets_are_refused(target):
    assert safe_next(target) is None


@pytest.mark.parametrize("target", LOCAL)
def test_same_site_paths_are_kept(target):
    assert safe_next(target) == target


def _views_reading_next() -> set[str]:
    found = set()
    for path in PACKAGE.rglob("views.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                source = ast.unparse(node)
                if '.get("next")' in source or "get('next')" in source or ".next.data" in source:
                    found.add(node.name)
    return found


def test_every_view_taking_next_is_covered_here():
    assert _views_reading_next() <= COVERED_VIEWS, "a new page reads `next`: add it to these tests"


@pytest.mark.parametrize("target", HOSTILE[:6])
def test_sign_in_ignores_a_foreign_next(client, make_user, target):
    user = make_user()
    response = client.post("/login", query_string={"next": target},
                           data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_sign_in_follows_a_local_next(client, make_user):
    user = make_user()
    response = client.post("/login?next=/profile", data={"email": user.email, "password": PASSWORD})
    assert response.headers["Location"] == "/profile"


@pytest.fixture
def published(db, make_study):
    """A study with version 1 of its report published."""
    study = make_study(tasks=1)
    report = services.publish(study, study.owner, "A4", "First issue")
    db.session.commit()
    return report


def _report_forms(published):
    study = published.study
    link = services.create_share_link(published, study.owner, 7)
    return [
        (f"/studies/{study.id}/report/publish",
         {"page_size": "A4", "change_note": "Second", "confirmed": "yes", "gap_reason": "Interim issue"}),
        (f"/reports/{published.id}/share-links", {"days": 7}),
        (f"/share-links/{link.id}/revoke", {"confirmed": "yes"}),
        (f"/reports/{published.id}/withdraw", {"reason": "Wrong figures", "confirmed": "yes"}),
    ]


@pytest.mark.parametrize("target", HOSTILE[:6])
def test_report_forms_ignore_a_foreign_next(client, login, published, target):
    login(published.study.owner)
    fallback = f"/studies/{published.study_id}/report"
    for path, data in _report_forms(published):
        response = client.post(path, data={**data, "next": target})
        assert response.status_code == 302, path
        assert response.headers["Location"] == fallback, path


def test_report_forms_return_to_the_page_they_came_from(client, login, published):
    login(published.study.owner)
    here = f"/studies/{published.study_id}"
    for path, data in _report_forms(published):
        response = client.post(path, data={**data, "next": here})
        assert response.headers["Location"] == here, path


@pytest.mark.parametrize("target", HOSTILE[:6])
def test_creating_an_organisation_ignores_a_foreign_next(client, login, make_user, db, target):
    from usabtest.accounts.models import Organisation

    login(make_user())
    response = client.post("/organisations/new", data={"name": f"Client {HOSTILE.index(target)}",
                                                       "next": target})
    org = db.session.scalars(db.select(Organisation)).one()
    assert response.headers["Location"] == f"/organisations/{org.id}"


def test_creating_an_organisation_returns_to_the_study_form(client, login, make_user, db):
    login(make_user())
    response = client.post("/organisations/new", data={"name": "Northwind", "next": "/studies/new"})
    assert response.headers["Location"].startswith("/studies/new?organisation=")
