"""Usability metrics for small samples. Pure: no Flask, no database.

The formulas follow Sauro & Lewis, "Quantifying the User Experience" (2nd ed., 2016):
adjusted-Wald intervals for completion rates, t intervals on log times for task time,
plain t intervals for rating scales, Brooke's SUS scoring and the Sauro-Lewis curved grades.
Every function refuses bad input with a ValueError that says what was wrong.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from statistics import NormalDist
from typing import Any, TypeVar

from usabtest.analysis.figures import round_half_up

A = TypeVar("A")

# The one rule for tasks attempted more than once in a session (restarted): shown on the results
# page and written into the report's measures text.
ATTEMPT_RULE = (
    "When a participant attempted a task more than once in a session, only the last attempt that "
    "ended with an outcome counts for completion, time on task, errors and SEQ; earlier attempts "
    "stay in the session's record."
)

# How the completion rate's point estimate is chosen, named in the report's measures text.
COMPLETION_RULE = (
    "The completion rate shown is the best estimate for small samples recommended by Lewis and Sauro "
    "(2006; Sauro and Lewis 2016, chapter 3): the Wilson estimate when half of the attempts or fewer "
    "succeeded, the observed rate between 50% and 90%, and the Laplace estimate, (x + 1) / (n + 2), "
    "from 90% up. The observed count (x of n) is printed beside it."
)
WILSON, OBSERVED, LAPLACE = "Wilson", "observed", "Laplace"

# Lower bounds of the Sauro-Lewis curved grading scale (Lewis & Sauro 2018, table 1).
SUS_GRADES: tuple[tuple[float, str], ...] = (
    (84.1, "A+"),
    (80.8, "A"),
    (78.9, "A-"),
    (77.2, "B+"),
    (74.1, "B"),
    (72.6, "B-"),
    (71.1, "C+"),
    (65.0, "C"),
    (62.7, "C-"),
    (51.7, "D"),
    (0.0, "F"),
)


def _number(value, what: str) -> float:
    """`value` as a finite float; bools, NaN, infinities and non-numbers are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{what} must be a number, got {value!r}")
    result = float(value)
    if not math.isfinite(result):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return result


def _whole(value, what: str) -> int:
    """`value` as a non-negative int; bools and fractions are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{what} must be a whole number, got {value!r}")
    if value < 0:
        raise ValueError(f"{what} must not be negative, got {value}")
    return int(value)


def _confidence(confidence) -> float:
    level = _number(confidence, "confidence")
    if not 0 < level < 1:
        raise ValueError(f"confidence must be between 0 and 1 (exclusive), got {confidence!r}")
    return level


def _values(values: Iterable, what: str, item: str) -> list[float]:
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise ValueError(f"{what} must be a list of numbers, got {values!r}")
    result = [_number(v, item) for v in values]
    if not result:
        raise ValueError(f"{what} must not be empty")
    return result


def sus_score(answers: Sequence[int]) -> float:
    """System Usability Scale score (0-100) from ten answers 1-5 in questionnaire order (Brooke 1996)."""
    if isinstance(answers, str | bytes) or not isinstance(answers, Iterable):
        raise ValueError(f"SUS answers must be a list of ten numbers, got {answers!r}")
    items = list(answers)
    if len(items) != 10:
        raise ValueError(f"SUS needs exactly 10 answers, got {len(items)}")
    total = 0
    for index, answer in enumerate(items, start=1):
        value = _whole(answer, f"SUS answer {index}")
        if not 1 <= value <= 5:
            raise ValueError(f"SUS answer {index} must be between 1 and 5, got {value}")
        # Odd items are positively worded, even items negatively.
        total += value - 1 if index % 2 else 5 - value
    return total * 2.5


def sus_grade(score: float) -> str:
    """The Sauro-Lewis curved grade (A+ ... F, ASCII "A-") of a SUS score or mean."""
    value = _number(score, "SUS score")
    if not 0 <= value <= 100:
        raise ValueError(f"SUS score must be between 0 and 100, got {score!r}")
    # The published scale has one-decimal bounds (84.0 is A, 84.1 is A+): round half up first.
    rounded = float(round_half_up(value, 1))
    for lower, grade in SUS_GRADES:
        if rounded >= lower:
            return grade
    return "F"


def _proportion(successes: int, trials: int, confidence: float) -> tuple[int, int, float]:
    """Checked inputs of a completion rate: successes, trials and the confidence level."""
    x = _whole(successes, "successes")
    n = _whole(trials, "trials")
    if n == 0:
        raise ValueError("trials must be at least 1")
    if x > n:
        raise ValueError(f"successes ({x}) cannot exceed trials ({n})")
    return x, n, _confidence(confidence)


def adjusted_wald(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Adjusted-Wald (Agresti-Coull) interval for a completion rate, clipped to [0, 1]."""
    x, n, level = _proportion(successes, trials, confidence)
    z = NormalDist().inv_cdf(1 - (1 - level) / 2)
    n_adj = n + z * z
    p_adj = (x + z * z / 2) / n_adj
    margin = z * math.sqrt(p_adj * (1 - p_adj) / n_adj)
    return max(0.0, p_adj - margin), min(1.0, p_adj + margin)


def completion_estimate(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, str]:
    """The best point estimate of a completion rate from a small sample, and the method used.

    Lewis & Sauro (2006): the observed x/n is biased at the extremes of small samples (3 of 3 is
    not a 100% completion rate), so it is pulled towards the middle by Wilson's estimate up to
    50% and by Laplace's from 90%, and kept as it is in between. See `COMPLETION_RULE`.
    """
    x, n, level = _proportion(successes, trials, confidence)
    observed = x / n
    if observed <= 0.5:
        z = NormalDist().inv_cdf(1 - (1 - level) / 2)
        return (x + z * z / 2) / (n + z * z), WILSON
    if observed >= 0.9:
        return (x + 1) / (n + 2), LAPLACE
    return observed, OBSERVED


def _t_central_probability(t: float, df: int) -> float:
    """P(-t < T < t) for Student's t with a whole number of degrees of freedom, t >= 0.

    The finite series of Abramowitz & Stegun 26.7.3-4 in theta = atan(t / sqrt(df)): exact for
    whole df, which is all an interval on n observations needs.
    """
    theta = math.atan(t / math.sqrt(df))
    cos2 = math.cos(theta) ** 2
    if df % 2:
        term, terms = 1.0, [1.0] if df > 1 else []
        for k in range(3, df, 2):
            term *= cos2 * (k - 1) / k
            terms.append(term)
        return 2 / math.pi * (theta + math.sin(theta) * math.cos(theta) * math.fsum(terms))
    term, terms = 1.0, [1.0]
    for k in range(2, df, 2):
        term *= cos2 * (k - 1) / k
        terms.append(term)
    return math.sin(theta) * math.fsum(terms)


def t_quantile(df: int, level: float) -> float:
    """The t such that P(-t < T < t) = level for Student's t with `df` degrees of freedom.

    Pure Python so that no worker pays scipy's imports for its first interval. Newton's method
    from the normal quantile, which lies below the answer: the central probability is concave
    for t > 0, so the steps rise monotonically onto the root.
    """
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, got {df}")
    log_density_constant = (math.lgamma((df + 1) / 2) - math.lgamma(df / 2)
                            - 0.5 * math.log(df * math.pi))
    t = NormalDist().inv_cdf(0.5 + level / 2)
    for _ in range(200):
        density = math.exp(log_density_constant - (df + 1) / 2 * math.log1p(t * t / df))
        step = (level - _t_central_probability(t, df)) / (2 * density)
        t += step
        if abs(step) <= 1e-13 * t:
            break
    return t


def _t_interval(values: list[float], level: float) -> tuple[float, float, float]:
    mean = math.fsum(values) / len(values)
    if len(values) == 1:
        return mean, mean, mean
    variance = math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1)
    q = t_quantile(len(values) - 1, level)
    margin = q * math.sqrt(variance / len(values))
    # Rounding can push a bound past the mean by an ulp when all values are equal.
    return mean, min(mean, mean - margin), max(mean, mean + margin)


def geometric_mean_ci(times_s: Iterable[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Geometric mean of task times (seconds) with a t interval on the log times: (mean, low, high)."""
    times = _values(times_s, "times", "a task time")
    level = _confidence(confidence)
    for value in times:
        if value <= 0:
            raise ValueError(f"task times must be positive, got {value}")
    mean, low, high = _t_interval([math.log(v) for v in times], level)
    if len(times) == 1:
        return times[0], times[0], times[0]
    centre = math.exp(mean)
    return centre, min(centre, math.exp(low)), max(centre, math.exp(high))


def mean_ci(values: Iterable[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Arithmetic mean with a t interval (SEQ, SUS across participants): (mean, low, high)."""
    numbers_ = _values(values, "values", "a value")
    return _t_interval(numbers_, _confidence(confidence))


def problem_discovery(p: float, n: int) -> float:
    """Chance that a problem affecting a share `p` of users is seen at least once in `n` sessions."""
    share = _number(p, "p")
    if not 0 <= share <= 1:
        raise ValueError(f"p must be between 0 and 1, got {p!r}")
    count = _whole(n, "n")
    return 1 - (1 - share) ** count


def counted_attempts(attempts: Iterable[A]) -> list[A]:
    """The attempts the analysis counts (`ATTEMPT_RULE`): per session and task, the last one with an outcome.

    Each attempt needs `session_id`, `task_id`, `number` (1, 2, ... in the order they were started)
    and `outcome` (None while running, or for an attempt restarted before it ended). Returns them in
    their input order.
    """
    last: dict[tuple[Any, Any], tuple[int, int]] = {}
    items = list(attempts)
    for index, attempt in enumerate(items):
        if attempt.outcome is None:
            continue
        key = (attempt.session_id, attempt.task_id)
        number = _whole(attempt.number, "attempt number")
        if key not in last or number > last[key][0]:
            last[key] = (number, index)
    chosen = {index for _number, index in last.values()}
    return [attempt for index, attempt in enumerate(items) if index in chosen]
