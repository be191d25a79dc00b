"""The System Usability Scale questionnaire and its score (pure: no Flask, no database)."""

from __future__ import annotations

from collections.abc import Sequence

# Brooke's ten statements in their standard order; odd ones are positive, even ones negative.
STATEMENTS: tuple[str, ...] = (
    "I think that I would like to use this system frequently.",
    "I found the system unnecessarily complex.",
    "I thought the system was easy to use.",
    "I think that I would need the support of a technical person to be able to use this system.",
    "I found the various functions in this system were well integrated.",
    "I thought there was too much inconsistency in this system.",
    "I would imagine that most people would learn to use this system very quickly.",
    "I found the system very cumbersome to use.",
    "I felt very confident using the system.",
    "I needed to learn a lot of things before I could get going with this system.",
)

SCALE_LABELS: dict[int, str] = {
    1: "Strongly disagree",
    2: "Disagree",
    3: "Neutral",
    4: "Agree",
    5: "Strongly agree",
}


def validation_error(answers: object) -> str | None:
    """Why `answers` is not a complete SUS answer set, or None when it is."""
    if not isinstance(answers, list) or len(answers) != len(STATEMENTS):
        return f"answers must be a list of {len(STATEMENTS)} integers from 1 to 5"
    for number, answer in enumerate(answers, start=1):
        if isinstance(answer, bool) or not isinstance(answer, int) or not 1 <= answer <= 5:
            return f"answer to statement {number} must be an integer from 1 to 5"
    return None


def score(answers: Sequence[int]) -> float:
    """The 0-100 SUS score: positive items count a-1, negative items 5-a, the sum times 2.5."""
    if validation_error(list(answers)):
        raise ValueError("a SUS score needs ten answers from 1 to 5")
    total = sum((a - 1) if index % 2 == 0 else (5 - a) for index, a in enumerate(answers))
    return total * 2.5
