"""A participant's page, and their rights: export of their data, withdrawal of consent, erasure.

The study's managers (its researchers and admins) use these; anyone else gets 404 for a study hidden
from them and 403 for one they only read, as on the other planning pages.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from usabtest import policy
from usabtest.accounts.models import Role
from usabtest.core import confirm, mail
from usabtest.core.confirm import Confirmation, plural
from usabtest.core.schemas import MAX_ID
from usabtest.participants import services
from usabtest.planning import services as planning
from usabtest.planning.models import Participant, SessionStatus
from usabtest.policy import role_required
from usabtest.timefmt import format_local

bp = Blueprint("participants", __name__)

PLANNERS = (Role.ADMIN, Role.RESEARCHER)


def _managed_participant(participant_id: int) -> Participant:
    """The participant; 404 when missing or its study hidden, 403 when the study is read-only to them."""
    if not 1 <= participant_id <= MAX_ID:
        abort(404)  # beyond the database's integers: no such participant
    participant = policy.get_or_404(Participant, participant_id,
                                     lambda user, p: policy.can_view_study(user, p.study))
    policy.forbid_unless(policy.can_manage_study(current_user, participant.study))
    return participant


def _page(participant: Participant) -> str:
    return url_for("participants.detail", participant_id=participant.id)


@bp.get("/participants/<int:participant_id>")
@role_required(*PLANNERS)
def detail(participant_id: int):
    """The participant: details, consents, sessions, and their rights."""
    participant = _managed_participant(participant_id)
    sessions = sorted((s for s in participant.study.sessions if s.participant_id == participant.id),
                      key=lambda s: s.starts_at)
    return render_template("participants/detail.html", participant=participant, study=participant.study,
                           sessions=sessions, format_local=format_local)


@bp.get("/participants/<int:participant_id>/export.json")
@role_required(*PLANNERS)
def export(participant_id: int):
    """Download everything held about the participant as JSON."""
    participant = _managed_participant(participant_id)
    body = services.export_participant(participant).model_dump_json(indent=2)
    response = Response(body, mimetype="application/json")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="participant-{participant.study_id}-{participant.code}.json"')
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _open_sessions(participant: Participant) -> int:
    return sum(1 for s in participant.study.sessions
               if s.participant_id == participant.id and s.status == SessionStatus.SCHEDULED)


def _withdraw_question(participant: Participant) -> Confirmation:
    code, count = participant.code, _open_sessions(participant)
    if not count:
        sessions = f"{code} has no session scheduled."
    elif mail.mail_configured():
        sessions = (f"{plural(count, 'scheduled session')} will be cancelled; {code} (when an e-mail address "
                    "is on record) and each session's team are e-mailed the cancellation.")
    else:
        sessions = (f"{plural(count, 'scheduled session')} will be cancelled. E-mail is not configured on "
                    f"this server: tell {code} and the team yourself.")
    return Confirmation(
        title=f"Record that {code} withdrew consent?",
        consequences=[sessions,
                      f"New reports, results and findings leave {code} out; the reports already published "
                      "stay as they are.",
                      f"Their details, notes and answers are kept (erase {code} to remove their details).",
                      "This cannot be undone: to include this person again, add them as a new participant."],
        confirm_label="Record withdrawal", cancel_label="Keep the consent", cancel_url=_page(participant),
    )


@bp.route("/participants/<int:participant_id>/withdraw-consent", methods=["GET", "POST"])
@role_required(*PLANNERS)
def withdraw_consent(participant_id: int):
    """Record a withdrawal of consent (asks first, saying which sessions are cancelled)."""
    participant = _managed_participant(participant_id)
    if participant.consent_withdrawn:
        flash(f"{participant.code} had already withdrawn consent.", "info")
        return redirect(_page(participant))
    if not confirm.confirmed():
        return confirm.ask(_withdraw_question(participant))
    cancelled = planning.withdraw_consent(participant, current_user)
    flash(f"{participant.code} withdrew consent; {plural(len(cancelled), 'session')} cancelled. New reports "
          "leave them out.", "success")
    return redirect(_page(participant))


def _erase_question(participant: Participant) -> Confirmation:
    code, plan = participant.code, services.erasure_plan(participant)
    wiped = ["name, e-mail address and phone number"] if plan.has_personal else []
    if plan.segments:
        wiped.append(plural(plan.segments, "segment attribute"))
    consequences = []
    if wiped:
        consequences.append(f"Wiped: {' and '.join(wiped)}, and the mail sent to {code}.")
    if plan.sessions_to_cancel:
        consequences.append(f"{plural(plan.sessions_to_cancel, 'scheduled session')} will be cancelled (the "
                            f"team is told; {code} is not e-mailed).")
    if plan.deleted_notes:
        consequences.append(f"{plural(plan.deleted_notes, 'deleted note')} will be removed for good, and "
                            "earlier wordings of their notes are removed from the notes' history and the "
                            "audit log.")
    else:
        consequences.append("Earlier wordings of their notes are removed from the notes' history and the "
                            "audit log.")
    if plan.recordings:
        consequences.append(f"{plural(plan.recordings, 'session recording')} will be deleted: uploaded files "
                            "from the server for good; for a link, only the link (delete that recording "
                            "where it is kept).")
    consequences.append(f"Kept: the pseudonym {code}, consents, sessions, task results, SUS answers and "
                        f"{plural(plan.notes_kept, 'note')} as they read now.")
    consequences.append("This cannot be undone.")
    return Confirmation(title=f"Erase participant {code}?", consequences=consequences,
                        confirm_label=f"Erase {code}", cancel_label=f"Keep {code}",
                        cancel_url=_page(participant))


@bp.route("/participants/<int:participant_id>/erase", methods=["GET", "POST"])
@role_required(*PLANNERS)
def erase(participant_id: int):
    """Erase the participant's personal data (asks first, saying what goes and what stays)."""
    participant = _managed_participant(participant_id)
    if participant.erased:
        flash(f"{participant.code} had already been erased.", "info")
        return redirect(_page(participant))
    if not confirm.confirmed():
        return confirm.ask(_erase_question(participant))
    done = services.erase_participant(participant, current_user)
    flash(f"{participant.code} erased; {plural(len(done.sessions_cancelled), 'session')} cancelled.",
          "success")
    return redirect(_page(participant))

