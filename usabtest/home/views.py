"""Home pages: what each role came for, first."""

from datetime import timedelta

import sqlalchemy as sa
from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy.orm import selectinload

from usabtest.accounts.models import Role
from usabtest.db import utcnow
from usabtest.extensions import db
from usabtest.planning.models import SessionStatus, Study, StudySession
from usabtest.planning.queries import involving
from usabtest.policy import studies_visible_to

bp = Blueprint("home", __name__)


@bp.get("/")
@login_required
def index():
    """Send each role to its own home; a client's is their reports, which have one page only."""
    if current_user.role == Role.ADMIN:
        return redirect(url_for("accounts.admin_users"))
    if current_user.role == Role.CLIENT:
        return redirect(url_for("reports.portal"))
    if current_user.role == Role.RESEARCHER:
        return _researcher_home()
    return _observer_home()


def _researcher_home():
    query = studies_visible_to(current_user).options(selectinload(Study.organisation))
    studies = db.session.scalars(query.order_by(Study.updated_at.desc())).all()
    return render_template("home/researcher.html", studies=studies)


def upcoming_sessions_for(user, *, include_recent_hours: int = 4) -> list[StudySession]:
    """Scheduled or running sessions the user moderates or observes (on the study's team), soonest first."""
    query = (
        sa.select(StudySession)
        .where(
            involving(user),
            StudySession.status.in_([SessionStatus.SCHEDULED, SessionStatus.IN_PROGRESS]),
            StudySession.starts_at >= utcnow() - timedelta(hours=include_recent_hours),
        )
        .options(selectinload(StudySession.study), selectinload(StudySession.participant))
        .order_by(StudySession.starts_at)
    )
    return list(db.session.scalars(query))


def _observer_home():
    return render_template("home/observer.html", sessions=upcoming_sessions_for(current_user))

