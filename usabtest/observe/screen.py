"""The participant's screen: which session a link opens, what it shows, and reading the participant's answers.

Everything the participant reads is in the study's language (`Study.language`), through the gettext
catalogues in usabtest/translations; the view sets that language before anything is rendered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import g
from flask_babel import gettext

from usabtest.extensions import db
from usabtest.observe import questions, services, sus
from usabtest.observe.models import QuestionKind, ScreenQuestion
from usabtest.planning.models import ScreenLanguage, SessionStatus, StudySession

# The participant screen works only while the session may still run.
SCREEN_OPEN = (SessionStatus.SCHEDULED, SessionStatus.IN_PROGRESS)
SEQ_SCALE = range(1, 8)
SUS_SCALE = range(1, 6)


class ScreenClosed(Exception):
    """The participant screen's link no longer works: unknown (404) or its session is over (410)."""

    def __init__(self, status: int, language: str = ScreenLanguage.EN.value):
        super().__init__(status)
        self.status = status
        self.language = language


def speak(study_session: StudySession | None) -> None:
    """Render this request's texts in the study's language (English for an unknown link)."""
    g.screen_language = study_session.study.language.value if study_session is not None else "en"


def screen_session(token: str) -> StudySession:
    """The session of a working screen link; a link of a cancelled, no-show or completed session is gone."""
    if len(token) < 20:
        raise ScreenClosed(404)
    study_session = db.session.scalar(sa.select(StudySession).where(StudySession.screen_token == token))
    if study_session is None:
        raise ScreenClosed(404)
    if study_session.status not in SCREEN_OPEN:
        raise ScreenClosed(410, study_session.study.language.value)
    return study_session


def closed_texts() -> dict[str, str]:
    """The goodbye of a closed screen."""
    return {"heading": gettext("Thank you for taking part"),
            "text": gettext("This screen has closed. You may close this window.")}


def _step_heading(show_task_word: bool, number: int | None, total: int) -> str:
    if show_task_word:
        return gettext("Task %(number)s of %(total)s", number=number, total=total)
    return gettext("Activity %(number)s of %(total)s", number=number, total=total)


def screen_state(study_session: StudySession) -> dict[str, Any]:
    """What the participant may see: the welcome, the running task's scenario, or the question asked."""
    study = study_session.study
    numbers = questions.task_numbers(study_session)
    running = services.running_attempt(study_session)
    step = None
    if running is not None:
        step = {"number": numbers.get(running.task_id), "total": len(numbers),
                "scenario": running.task.scenario}
        heading, text = _step_heading(study.show_task_word, step["number"], step["total"]), step["scenario"]
    elif study_session.attempts:
        heading, text = gettext("Thank you"), gettext("Please take a moment. We will continue shortly.")
    else:
        heading = gettext("Welcome")
        text = study.welcome_text or gettext("Thank you for taking part. We will begin shortly.")
    question = questions.open_question(study_session) if running is None else None
    return {
        "status": study_session.status.value,
        "language": study.language.value,
        "welcome": study.welcome_text,
        "word": "Task" if study.show_task_word else "Activity",
        "step": step,
        "between": running is None and bool(study_session.attempts),
        "heading": heading,
        "text": text,
        "question": questions.question_payload(question, numbers),
    }


def scale_labels() -> dict[str, Any]:
    """The questionnaires' texts in the study's language."""
    return {
        "seq_question": gettext("Overall, how difficult or easy was this task to complete?"),
        "seq_low": gettext("Very difficult"),
        "seq_high": gettext("Very easy"),
        "sus_statements": [gettext(statement) for statement in sus.STATEMENTS],
        "sus_scale": {n: gettext(label) for n, label in sus.SCALE_LABELS.items()},
    }


@dataclass
class Answer:
    """The participant's answer as read from their form: the values, or what is wrong, field by field."""

    values: Any = None
    problems: dict[str, str] = field(default_factory=dict)
    chosen: dict[str, str] = field(default_factory=dict)  # as sent, to show the form again


def _choice(form, name: str, scale: range) -> int | None:
    raw = form.get(name, "")
    return int(raw) if raw.isascii() and raw.isdigit() and int(raw) in scale else None


def read_answer(question: ScreenQuestion, form) -> Answer:
    """The answer in `form` to `question`; every missing or out-of-range choice is a problem."""
    if question.kind == QuestionKind.SEQ:
        value = _choice(form, "seq", SEQ_SCALE)
        answer = Answer(values=value, chosen={"seq": form.get("seq", "")})
        if value is None:
            answer.problems["seq"] = gettext("Choose a number from 1 to 7.")
        return answer
    names = [f"sus{n}" for n in range(1, len(sus.STATEMENTS) + 1)]
    values = [_choice(form, name, SUS_SCALE) for name in names]
    answer = Answer(values=values, chosen={name: form.get(name, "") for name in names})
    for name, value in zip(names, values, strict=True):
        if value is None:
            answer.problems[name] = gettext("Choose one answer for this statement.")
    return answer
