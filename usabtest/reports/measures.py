"""The report's "Measures" text: what the figures are and how they were computed. Pure: no Flask.

It describes what `analysis.results` and `analysis.metrics` really compute, rule by rule, and
names the rules the code applies (`metrics.COMPLETION_RULE`, `metrics.ATTEMPT_RULE`), so the text
and the numbers cannot drift apart. Questionnaires are described only when the study used them.
"""

from __future__ import annotations

from usabtest.analysis import figures, metrics


def measures_text(confidence: float = 0.95, *, seq_used: bool = True, sus_used: bool = True) -> str:
    """The measures section as plain paragraphs separated by blank lines."""
    level = figures.confidence_label(confidence).removesuffix(" CI")
    paragraphs = [
        "Completion: an attempt counts as a success only when the participant finished the task "
        "without the moderator's help; assisted, failed and abandoned attempts count as not "
        "completed, and skipped tasks are left out of n. " + metrics.COMPLETION_RULE + " Its "
        f"{level} confidence interval uses the adjusted Wald method, which stays accurate with "
        "small samples.",
        "Time on task is measured over successful attempts only (failed and abandoned attempts end "
        "at arbitrary moments) and summarised as the geometric mean, with a "
        f"{level} confidence interval computed on the log times, since a few slow attempts skew task times.",
        "Errors are counted by the moderator per attempt. The mean is taken over the attempts whose "
        "error count was recorded; a task with no count recorded shows \"" + figures.MISSING + "\", not 0.",
    ]
    if seq_used:
        paragraphs.append(
            "After each attempted task participants rated its difficulty on the Single Ease Question "
            "(SEQ, 1 very difficult to 7 very easy). The mean SEQ is over attempted tasks only: "
            f"ratings of skipped tasks are excluded. Its {level} confidence interval is a t interval.")
    if sus_used:
        paragraphs.append(
            "At the end of the session participants completed the System Usability Scale (SUS, 0 to "
            f"100); the mean has a {level} t interval and is graded on the Sauro–Lewis curved grading scale.")
    paragraphs += [
        "Restarted tasks: " + metrics.ATTEMPT_RULE,
        f"Each figure is printed with its n, the number of values it rests on. Every interval is a {level} "
        "confidence interval (CI) and says so; no interval is given for a figure resting on a single "
        "value. Figures are rounded half up.",
    ]
    return "\n\n".join(paragraphs)
