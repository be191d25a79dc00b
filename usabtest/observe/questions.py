"""Questionnaires the participant answers on their own screen: a task's SEQ and the SUS. These flush.

The moderator puts one question at a time on the screen; the participant's answer is stored exactly
where a typed one goes (the attempt's `seq`, the session's `SusResponse`), so the analysis counts it
alike, and the moderator may still type or correct it. Every step appends a session event.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from usabtest.core.audit import record
from usabtest.core.errors import Conflict, InvalidInput, NotFound
from usabtest.db import utcnow
from usabtest.extensions import db
from usabtest.observe import events, services, sus
from usabtest.observe.models import QuestionKind, ScreenQuestion, TaskAttempt, TaskAttemptRevision
from usabtest.planning.models import SessionStatus, StudySession

SEQ_RANGE = range(1, 8)


def open_question(study_session: StudySession) -> ScreenQuestion | None:
    """The question on the participant's screen now, if any."""
    return db.session.scalar(sa.select(ScreenQuestion).where(
        ScreenQuestion.session_id == study_session.id, ScreenQuestion.closed_at.is_(None)))


def question_payload(question: ScreenQuestion | None, task_numbers: dict[int, int]) -> dict[str, Any] | None:
    """A question as consoles and the participant screen's state see it (task by its script number)."""
    if question is None:
        return None
    payload: dict[str, Any] = {"id": question.id, "kind": question.kind.value}
    if question.attempt is not None:
        payload["task"] = {"id": question.attempt.task_id, "title": question.attempt.task.title,
                           "number": task_numbers.get(question.attempt.task_id)}
        payload["attempt"] = {"id": question.attempt.id, "number": question.attempt.number}
    return payload


def task_numbers(study_session: StudySession) -> dict[int, int]:
    """Each live task's number in the script (1, 2, ...)."""
    return {t.id: i for i, t in enumerate((t for t in study_session.study.tasks if not t.archived), start=1)}


def _check_running(study_session: StudySession) -> None:
    if study_session.status != SessionStatus.IN_PROGRESS:
        raise Conflict("the participant answers on their screen while the session is in progress; "
                       f"this session is {study_session.status.label.lower()}")


def _last_ended_attempt(study_session: StudySession) -> TaskAttempt:
    attempt = db.session.scalar(sa.select(TaskAttempt).where(
        TaskAttempt.session_id == study_session.id, TaskAttempt.ended_at.is_not(None),
        TaskAttempt.outcome.is_not(None),
    ).order_by(TaskAttempt.ended_at.desc(), TaskAttempt.id.desc()).limit(1))
    if attempt is None:
        raise Conflict("no task has ended with an outcome yet: the SEQ is asked after a task")
    return attempt


def _close(question: ScreenQuestion | None, answered: bool = False) -> None:
    if question is not None:
        question.closed_at, question.answered = utcnow(), answered


def ask(study_session: StudySession, actor, kind: QuestionKind | str) -> ScreenQuestion:
    """Put the SEQ of the last ended task, or the SUS, on the participant's screen.

    Refused while a task runs (the participant is busy with it) and outside a running session; a
    question already shown is replaced.
    """
    kind = QuestionKind(kind)
    study_session = services.locked(study_session)
    _check_running(study_session)
    if services.running_attempt(study_session) is not None:
        raise Conflict("end the running task before asking the participant a question")
    attempt = _last_ended_attempt(study_session) if kind == QuestionKind.SEQ else None
    _close(open_question(study_session))
    question = ScreenQuestion(session_id=study_session.id, kind=kind, attempt=attempt,
                              asked_by_id=actor.id, asked_at=utcnow())
    db.session.add(question)
    db.session.flush()
    record(actor, "screen.ask", question, {"session": study_session.id, "kind": kind.value})
    events.append(study_session, "screen.asked",
                  {**services.actor_payload(actor),
                   "question": question_payload(question, task_numbers(study_session)),
                   "elapsed_ms": services.elapsed_ms_now(study_session)},
                  services.redis_url())
    return question


def withdraw(study_session: StudySession, actor) -> ScreenQuestion:
    """Take the open question off the participant's screen (nothing to withdraw: 409)."""
    study_session = services.locked(study_session)
    question = open_question(study_session)
    if question is None:
        raise Conflict("no question is on the participant's screen")
    _close(question)
    db.session.flush()
    events.append(study_session, "screen.withdrawn",
                  {**services.actor_payload(actor),
                   "question": question_payload(question, task_numbers(study_session)),
                   "elapsed_ms": services.elapsed_ms_now(study_session)},
                  services.redis_url())
    return question


def _question_for_answer(study_session: StudySession, question_id: int) -> ScreenQuestion:
    """The open question the participant answers; an old or withdrawn one is refused (409)."""
    _check_running(study_session)
    question = open_question(study_session)
    if question is None or question.id != question_id:
        asked = db.session.get(ScreenQuestion, question_id)
        if asked is None or asked.session_id != study_session.id:
            raise NotFound("there is no such question on this screen")
        raise Conflict("this question is no longer asked" if not asked.answered
                       else "this question was already answered")
    return question


def seq_problem(value: Any) -> str | None:
    """Why `value` is not an SEQ answer (a whole number from 1 to 7), or None."""
    if isinstance(value, bool) or not isinstance(value, int) or value not in SEQ_RANGE:
        return "the SEQ answer is a whole number from 1 (very difficult) to 7 (very easy)"
    return None


def answer(study_session: StudySession, question_id: int, values: Any) -> ScreenQuestion:
    """Store the participant's answer to the open question, checked first; nothing changes when refused.

    `values` is the SEQ number, or the list of ten SUS answers.
    """
    study_session = services.locked(study_session)
    question = _question_for_answer(study_session, question_id)
    problem = seq_problem(values) if question.kind == QuestionKind.SEQ else sus.validation_error(values)
    if problem:
        raise InvalidInput(problem, "answers" if question.kind == QuestionKind.SUS else "seq")
    if question.kind == QuestionKind.SEQ:
        _store_seq(study_session, question, values)
    else:
        services.store_sus(study_session, values, None)
    _close(question, answered=True)
    db.session.flush()
    return question


def _store_seq(study_session: StudySession, question: ScreenQuestion, value: int) -> None:
    """The attempt's SEQ becomes the participant's answer, kept in its history like a correction."""
    attempt = question.attempt
    if attempt is None:
        raise Conflict("the task attempt of this question was removed")
    before = attempt.seq
    attempt.seq = value
    db.session.add(TaskAttemptRevision(attempt=attempt, actor_id=None, action="participant",
                                       before={"seq": before}, after={"seq": value}, created_at=utcnow()))
    db.session.flush()
    record(None, "attempt.seq_answer", attempt, {"session": study_session.id, "before": before})
    payload = {"by_participant": True, **services.task_payload(attempt.task, study_session, attempt),
               **services.attempt_state(attempt),
               "latest": attempt.number == max(a.number for a in services.task_attempts(study_session,
                                                                                          attempt.task))}
    events.append(study_session, "seq.answered", payload, services.redis_url())
