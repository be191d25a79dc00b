"""Every page reachable from the demo data, as each role, at a desktop and a phone size.

A page passes when axe finds no serious or critical violation at either size and, on the phone,
nothing scrolls sideways but the page's own table boxes (the document is as wide as the screen,
checked at tablet size too).
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from tests.browser.axe import audit, blocking, describe
from usabtest.accounts.models import Role, User
from usabtest.demo import demo_sign_in, load_demo

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.ui_audit]

DESKTOP = {"width": 1280, "height": 800}
TABLET = {"width": 768, "height": 1024}
PHONE = {"width": 390, "height": 844}
# Leaving or changing the session, files, feeds and streams are not pages to look at.
NOT_PAGES = re.compile(
    r"^/(logout|static/|api/)|/stream$|\.(pdf|csv|ics|json|docx|pptx|png|zip)$|/download|/export"
    r"|/report/draft\?")  # the draft as PDF


# Content already audited, by any role: admins and the study's researcher see the same study pages,
# so those are audited once (the navigation, which differs, is audited on each role's own pages).
AUDITED: set[str] = set()
PER_SESSION = re.compile(r'name="csrf_token"[^>]*>|\bvalue="[^"]*"')


@pytest.fixture
def demo_site(live_server, db):
    load_demo()
    db.session.commit()
    return live_server


def _kind(path: str) -> str:
    """Pages differing only in their ids are one kind: /sessions/1 and /sessions/2."""
    return re.sub(r"\d+", "N", path)


def _links(page, base: str) -> list[str]:
    hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")
    return [urlsplit(h)._replace(fragment="").geturl()[len(base):] for h in hrefs if h.startswith(base + "/")]


def _seen_before(page) -> bool:
    content = PER_SESSION.sub("", page.inner_html("main"))
    digest = hashlib.sha1(f"{_kind(page.url)} {content}".encode()).hexdigest()
    if digest in AUDITED:
        return True
    AUDITED.add(digest)
    return False


def _check(page) -> list[str]:
    problems = []
    audited = not _seen_before(page)
    if audited and (found := blocking(audit(page))):
        problems.append(f"desktop: {describe(found)}")
    for name, size in (("tablet", TABLET), ("phone", PHONE)):
        page.set_viewport_size(size)
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        if overflow > 0:
            problems.append(f"{name}: the page scrolls sideways by {overflow}px")
    if audited and (found := blocking(audit(page))):
        problems.append(f"phone: {describe(found)}")
    page.set_viewport_size(DESKTOP)
    return problems


@pytest.mark.browser_context(viewport=DESKTOP)
@pytest.mark.parametrize("role", list(Role))
def test_every_page_is_accessible_and_fits_a_phone(page, demo_site, browser_login, db, role):
    user = db.session.scalar(sa.select(User).where(User.role == role).order_by(User.id))
    browser_login(page, demo_site, user, password=demo_sign_in(role)[1])
    queue, kinds, problems, visited = deque([page.url[len(demo_site):]]), set(), {}, 0
    while queue:
        path = queue.popleft()
        if _kind(path) in kinds or NOT_PAGES.search(path):
            continue
        kinds.add(_kind(path))
        response = page.goto(demo_site + path)
        if response is None or "text/html" not in response.headers.get("content-type", ""):
            continue
        visited += 1
        if found := _check(page):
            problems[path] = found
        queue.extend(_links(page, demo_site))
    assert visited > 1
    assert not problems, "\n".join(f"{path}\n  " + "\n  ".join(found) for path, found in problems.items())

