"""Read-only queries the planning pages, feeds and API share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from usabtest.accounts.models import User
from usabtest.db import utcnow
from usabtest.extensions import db
from usabtest.planning.models import (
    Participant,
    SessionStatus,
    Study,
    StudyMember,
    StudySession,
    session_observer,
)

FEED_HISTORY_DAYS = 90
FEED_LIMIT = 1000


def study_list_query(visible: sa.Select) -> sa.Select:
    """The studies of `visible` (the policy's query for the user), most recently changed first."""
    return (visible
            .options(selectinload(Study.organisation), selectinload(Study.sessions))
            .order_by(Study.updated_at.desc(), Study.id.desc()))


def involving(user: User) -> sa.ColumnElement[bool]:
    """Sessions `user` moderates or observes, in studies whose team they are still on."""
    observed = sa.select(session_observer.c.session_id).where(session_observer.c.user_id == user.id)
    member_of = sa.select(StudyMember.study_id).where(StudyMember.user_id == user.id)
    return sa.and_(sa.or_(StudySession.moderator_id == user.id, StudySession.id.in_(observed)),
                   StudySession.study_id.in_(member_of))


def _with_people(query: sa.Select) -> sa.Select:
    # The participant's consents too: pages warn about a scheduled session without consent.
    return query.options(selectinload(StudySession.study),
                         selectinload(StudySession.participant).selectinload(Participant.consents),
                         selectinload(StudySession.moderator), selectinload(StudySession.observers))


# The overview lists this many participants and sessions; a bigger study's full lists are one
# click away (`?all=1`). Rendering 800 rows is most of what a 400-session study's page costs.
OVERVIEW_ROWS = 50


@dataclass(frozen=True)
class OverviewRows:
    """What the study overview lists: some or all participants (not erased) and sessions."""

    participants: list[Participant]
    participants_total: int
    erased: list[Participant]
    sessions: list[StudySession]
    sessions_total: int

    @property
    def folded(self) -> bool:
        """True when some participants or sessions are left out."""
        return len(self.participants) < self.participants_total or len(self.sessions) < self.sessions_total


def overview_rows(study: Study, counts: dict[str, int], limit: int | None = OVERVIEW_ROWS) -> OverviewRows:
    """The first `limit` participants (by number) and the latest `limit` sessions (upcoming ones
    first to be kept), each with what its row shows, in a fixed number of queries; None: all.

    `counts`: the study's `planning.services.study_counts`, which holds the totals."""
    people = (sa.select(Participant).where(Participant.study_id == study.id, Participant.erased.is_(False))
              .options(selectinload(Participant.personal), selectinload(Participant.consents))
              .order_by(Participant.number).limit(limit))
    erased = (sa.select(Participant).where(Participant.study_id == study.id, Participant.erased.is_(True))
              .order_by(Participant.number))
    sessions = (sa.select(StudySession).where(StudySession.study_id == study.id)
                .options(selectinload(StudySession.moderator),
                         selectinload(StudySession.observers),
                         selectinload(StudySession.participant).selectinload(Participant.consents))
                .order_by(StudySession.starts_at.desc(), StudySession.id.desc()).limit(limit))
    return OverviewRows(
        participants=list(db.session.scalars(people)),
        participants_total=counts["participants"],
        erased=list(db.session.scalars(erased)),
        sessions=list(reversed(db.session.scalars(sessions).all())),
        sessions_total=sum(counts[status.value] for status in SessionStatus),
    )


def agenda_sessions(user: User) -> list[StudySession]:
    """Scheduled or running sessions `user` moderates or observes that have not ended yet."""
    now = utcnow()
    query = _with_people(
        sa.select(StudySession)
        .where(involving(user),
               StudySession.status.in_([SessionStatus.SCHEDULED, SessionStatus.IN_PROGRESS]),
               StudySession.starts_at >= now - timedelta(hours=10))
        .order_by(StudySession.starts_at)
    )
    return [s for s in db.session.scalars(query) if s.ends_at > now]


def feed_sessions(user: User) -> list[StudySession]:
    """Sessions for the user's calendar feed, cancelled ones included so calendars drop them."""
    since = utcnow() - timedelta(days=FEED_HISTORY_DAYS)
    query = _with_people(
        sa.select(StudySession)
        .where(involving(user), StudySession.starts_at >= since)
        .order_by(StudySession.starts_at)
        .limit(FEED_LIMIT)
    )
    return list(db.session.scalars(query))


def study_sessions_query(study: Study) -> sa.Select:
    """A study's sessions in time order (for the API's paginated list)."""
    return _with_people(sa.select(StudySession).where(StudySession.study_id == study.id)
                        .order_by(StudySession.starts_at, StudySession.id))


def study_participants_query(study: Study) -> sa.Select:
    """A study's participants by pseudonym number (for the API's paginated list)."""
    return (sa.select(Participant).where(Participant.study_id == study.id)
            .options(selectinload(Participant.personal), selectinload(Participant.consents))
            .order_by(Participant.number))
