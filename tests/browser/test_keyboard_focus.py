"""Keyboard users always see where they are: every control reached with Tab shows a focus ring."""

import pytest
import sqlalchemy as sa

from usabtest.accounts.models import Role, User
from usabtest.demo import demo_sign_in, load_demo
from usabtest.planning.models import SessionStatus, Study, StudySession

pytestmark = [pytest.mark.browser, pytest.mark.ui_audit]

MAX_TABS = 80
# The focused element's own ring, or (for radio chips and similar) the ring its label draws.
FOCUS_SHOWN = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const visible = (node) => {
    if (!node) return false;
    const style = getComputedStyle(node);
    const outlined = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
    return outlined || style.boxShadow !== 'none';
  };
  const name = (el.innerText || el.value || el.getAttribute('aria-label') || '').slice(0, 40);
  const described = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + ' "' + name + '"';
  return {ok: visible(el) || visible(el.closest('label')) || visible(el.parentElement), element: described};
}"""


def _pages(db) -> list[tuple[Role, str]]:
    study_id = db.session.scalar(sa.select(Study.id))
    scheduled = StudySession.status == SessionStatus.SCHEDULED
    upcoming = db.session.scalar(sa.select(StudySession.id).where(scheduled))
    return [
        (Role.RESEARCHER, f"/studies/{study_id}"), (Role.RESEARCHER, f"/studies/{study_id}/notes"),
        (Role.RESEARCHER, f"/studies/{study_id}/report"), (Role.OBSERVER, f"/sessions/{upcoming}/observe"),
        (Role.ADMIN, "/admin/users"), (Role.CLIENT, "/portal"),
    ]


def test_every_control_reached_by_tab_shows_its_focus(page, live_server, db, browser_login):
    load_demo()
    db.session.commit()
    unseen = []
    for role, path in _pages(db):
        user = db.session.scalar(sa.select(User).where(User.role == role).order_by(User.id))
        page.context.clear_cookies()
        browser_login(page, live_server, user, password=demo_sign_in(role)[1])
        page.goto(live_server + path)
        page.locator("body").focus()
        for _ in range(MAX_TABS):
            page.keyboard.press("Tab")
            state = page.evaluate(FOCUS_SHOWN)
            if state is None:
                break
            if not state["ok"]:
                unseen.append(f"{path}: {state['element']}")
    assert not unseen, "\n".join(unseen)
