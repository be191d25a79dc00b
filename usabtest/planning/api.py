"""JSON API of the planning domain: studies and their sessions, read-only, under the pages' policies."""

from __future__ import annotations

from flask import jsonify
from flask_login import current_user

from usabtest import policy
from usabtest.api import api_login_required, bp, get_or_404, paginated, require_api
from usabtest.planning import queries, services
from usabtest.planning.models import Study, StudySession


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def study_json(study: Study) -> dict:
    """A study's summary fields."""
    return {
        "id": study.id,
        "title": study.title,
        "client": study.organisation.name,
        "product": study.product,
        "method": study.method.value,
        "status": study.status.value,
        "owner": {"id": study.owner.id, "name": study.owner.name},
        "created_at": _iso(study.created_at),
        "updated_at": _iso(study.updated_at),
    }


def study_detail_json(study: Study) -> dict:
    """A study with its goals, task script and progress counts."""
    data = study_json(study)
    counts = services.study_counts(study)
    data.update(
        goals=study.goals,
        tasks=[
            {"id": t.id, "position": i + 1, "title": t.title, "scenario": t.scenario,
             "success_criteria": t.success_criteria, "time_limit_s": t.time_limit_s}
            for i, t in enumerate(services.active_tasks(study))
        ],
        counts={
            "tasks": counts["tasks"], "participants": counts["participants"],
            "consented": counts["consented"], "sessions_planned": counts["scheduled"] + counts["in_progress"],
            "sessions_done": counts["completed"], "sessions_no_show": counts["no_show"],
            "sessions_cancelled": counts["cancelled"],
        },
    )
    return data


def session_json(study_session: StudySession) -> dict:
    """A session as the team sees it: pseudonym only, never the participant's personal details."""
    return {
        "id": study_session.id,
        "study_id": study_session.study_id,
        "participant": {"id": study_session.participant.id, "code": study_session.participant.code,
                        "has_consent": study_session.participant.has_consent},
        "starts_at": _iso(study_session.starts_at),
        "ends_at": _iso(study_session.ends_at),
        "timezone": study_session.timezone,
        "duration_min": study_session.duration_min,
        "status": study_session.status.value,
        "moderator": {"id": study_session.moderator.id, "name": study_session.moderator.name},
        "observers": [{"id": u.id, "name": u.name} for u in study_session.observers],
        "location": study_session.location,
        "video_link": study_session.video_link,
        "ics_uid": study_session.ics_uid,
        "ics_sequence": study_session.ics_sequence,
    }


def _visible_study(study_id: int) -> Study:
    study = get_or_404(Study, study_id, f"study {study_id} not found")
    require_api(policy.can_view_study(current_user, study), f"study {study_id}")
    return study


@bp.get("/studies")
@api_login_required
def api_studies():
    """Studies the caller may open, paginated."""
    return jsonify(paginated(queries.study_list_query(current_user), study_json))


@bp.get("/studies/<int:study_id>")
@api_login_required
def api_study(study_id: int):
    """One study with its task script and progress."""
    return jsonify(study_detail_json(_visible_study(study_id)))


@bp.get("/studies/<int:study_id>/sessions")
@api_login_required
def api_study_sessions(study_id: int):
    """A study's sessions in time order, paginated."""
    study = _visible_study(study_id)
    return jsonify(paginated(queries.study_sessions_query(study), session_json))


@bp.get("/sessions/<int:session_id>")
@api_login_required
def api_session(session_id: int):
    """One session."""
    study_session = get_or_404(StudySession, session_id, f"session {session_id} not found")
    require_api(policy.can_view_session(current_user, study_session), f"session {session_id}")
    return jsonify(session_json(study_session))
