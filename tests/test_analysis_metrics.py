"""Usability metrics against published worked examples, bad input, and interval properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import stdtrit

from usabtest.analysis.metrics import (
    adjusted_wald,
    geometric_mean_ci,
    mean_ci,
    problem_discovery,
    sus_grade,
    sus_score,
    t_quantile,
)

# --- SUS scoring (Brooke, "SUS: a quick and dirty usability scale", 1996) -----------------------
# Odd items contribute answer-1, even items 5-answer; the sum (0-40) is multiplied by 2.5.


def test_sus_score_of_all_neutral_answers_is_fifty():
    # Ten 3s: odd items 5 x 2 = 10, even items 5 x 2 = 10, (10 + 10) x 2.5 = 50.
    assert sus_score([3] * 10) == 50.0


def test_sus_score_best_and_worst_possible_answers():
    assert sus_score([5, 1] * 5) == 100.0
    assert sus_score([1, 5] * 5) == 0.0


def test_sus_score_mixed_answers_worked_by_hand():
    # Answers 4,2,5,1,4,2,4,1,5,2 -> odd: 3+4+3+3+4 = 17, even: 3+4+3+4+3 = 17, 34 x 2.5 = 85.
    assert sus_score([4, 2, 5, 1, 4, 2, 4, 1, 5, 2]) == 85.0
    # Answers 2,4,3,3,2,4,3,3,2,4 -> odd: 1+2+1+2+1 = 7, even: 1+2+1+2+1 = 7, 14 x 2.5 = 35.
    assert sus_score((2, 4, 3, 3, 2, 4, 3, 3, 2, 4)) == 35.0


@pytest.mark.parametrize(
    "answers, message",
    [
        ([3] * 9, "exactly 10"),
        ([3] * 11, "exactly 10"),
        ([3] * 9 + [6], "between 1 and 5"),
        ([0] + [3] * 9, "between 1 and 5"),
        ([3.5] + [3] * 9, "whole number"),
        ([True] + [3] * 9, "whole number"),
        ([float("nan")] + [3] * 9, "whole number"),
        (["3"] * 10, "whole number"),
        ("3333333333", "list"),
        (None, "list"),
    ],
)
def test_sus_score_refuses_bad_answers(answers, message):
    with pytest.raises(ValueError, match=message):
        sus_score(answers)


# --- Curved grading scale (Lewis & Sauro 2018, "Item benchmarks for the SUS", after Sauro & Lewis
# 2016 table 8.5): A+ 84.1-100, A 80.8-84.0, A- 78.9-80.7, B+ 77.2-78.8, B 74.1-77.1, B- 72.6-74.0,
# C+ 71.1-72.5, C 65.0-71.0, C- 62.7-64.9, D 51.7-62.6, F 0-51.6.


@pytest.mark.parametrize(
    "score, grade",
    [
        (100, "A+"), (84.1, "A+"), (84.0, "A"), (80.8, "A"), (80.7, "A-"), (78.9, "A-"),
        (78.8, "B+"), (77.2, "B+"), (77.1, "B"), (74.1, "B"), (74.0, "B-"), (72.6, "B-"),
        (72.5, "C+"), (71.1, "C+"), (71.0, "C"), (68, "C"), (65.0, "C"), (64.9, "C-"),
        (62.7, "C-"), (62.6, "D"), (51.7, "D"), (51.6, "F"), (0, "F"),
    ],
)
def test_sus_grade_follows_the_curved_scale(score, grade):
    assert sus_grade(score) == grade


def test_sus_grade_rounds_between_published_bounds():
    # The scale is published to one decimal: 84.04 reads as 84.0 (A), 84.05 as 84.1 (A+).
    assert sus_grade(84.04) == "A"
    assert sus_grade(84.05) == "A+"


@pytest.mark.parametrize("score", [-0.1, 100.5, float("nan"), float("inf"), True, "80", None])
def test_sus_grade_refuses_impossible_scores(score):
    with pytest.raises(ValueError):
        sus_grade(score)


# --- Adjusted-Wald interval (Sauro & Lewis, "Quantifying the User Experience", 2nd ed., 2016,
# chapter 3: 7 of 10 users completed a task, 95% interval about 39% to 90%).


def test_adjusted_wald_matches_the_seven_of_ten_example():
    # z = 1.959964, z^2 = 3.841459; p_adj = (7 + 1.920729) / (10 + 3.841459) = 0.644493;
    # margin = 1.959964 * sqrt(0.644493 * 0.355507 / 13.841459) = 0.252168 -> 0.392325 to 0.896662.
    low, high = adjusted_wald(7, 10)
    assert low == pytest.approx(0.392325, abs=1e-5)
    assert high == pytest.approx(0.896662, abs=1e-5)


def test_adjusted_wald_all_successes_is_clipped_to_one():
    # 5 of 5: p_adj = 6.920729 / 8.841459 = 0.782759; margin = 1.959964 * sqrt(0.782759 * 0.217241
    # / 8.841459) = 0.271814 -> 0.510945 to 1.054573, clipped to 1.
    low, high = adjusted_wald(5, 5)
    assert low == pytest.approx(0.510945, abs=1e-5)
    assert high == 1.0


def test_adjusted_wald_at_ninety_percent_confidence():
    # z = 1.644854, z^2 = 2.705543; 3 of 8: p_adj = 4.352772 / 10.705543 = 0.406590;
    # margin = 1.644854 * sqrt(0.406590 * 0.593410 / 10.705543) = 0.246933 -> 0.159658 to 0.653523.
    low, high = adjusted_wald(3, 8, confidence=0.90)
    assert low == pytest.approx(0.159658, abs=1e-5)
    assert high == pytest.approx(0.653523, abs=1e-5)


@pytest.mark.parametrize(
    "args, message",
    [
        ((0, 0), "at least 1"),
        ((6, 5), "cannot exceed"),
        ((-1, 5), "negative"),
        ((2.5, 5), "whole number"),
        ((True, 5), "whole number"),
        ((2, 5, 1.0), "confidence"),
        ((2, 5, 0), "confidence"),
        ((2, 5, float("nan")), "confidence"),
    ],
)
def test_adjusted_wald_refuses_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        adjusted_wald(*args)


# --- Task time: geometric mean with a t interval on log times (Sauro & Lewis 2016, chapter 3,
# "confidence interval for task-time data").


def test_geometric_mean_ci_of_ten_task_times():
    # ln of 94,95,96,113,121,132,190,193,255,298 -> mean 4.981557, sd 0.425922;
    # t(0.975, 9) = 2.262157; margin = 2.262157 * 0.425922 / sqrt(10) = 0.304684;
    # exp(4.981557) = 145.70, exp(4.676873) = 107.43, exp(5.286241) = 197.60.
    mean, low, high = geometric_mean_ci([94, 95, 96, 113, 121, 132, 190, 193, 255, 298])
    assert mean == pytest.approx(145.70, abs=0.01)
    assert low == pytest.approx(107.43, abs=0.01)
    assert high == pytest.approx(197.60, abs=0.01)


def test_geometric_mean_ci_of_one_time_is_that_time():
    assert geometric_mean_ci([42.5]) == (42.5, 42.5, 42.5)


def test_geometric_mean_of_two_times_is_their_root_product():
    # sqrt(10 * 40) = 20; ln sd = (ln 40 - ln 10) / sqrt(2) = 0.980258; t(0.975, 1) = 12.706205;
    # margin = 12.706205 * 0.980258 / sqrt(2) = 8.807 on the log scale: very wide, as it should be.
    mean, low, high = geometric_mean_ci([10, 40])
    assert mean == pytest.approx(20.0)
    assert low == pytest.approx(20.0 * math.exp(-12.706205 * 0.693147), rel=1e-5)
    assert high == pytest.approx(20.0 * math.exp(12.706205 * 0.693147), rel=1e-5)


@pytest.mark.parametrize(
    "times, message",
    [([], "empty"), ([10, -3], "positive"), ([10, 0], "positive"), ([float("nan")], "finite"),
     ([True, 3], "number"), ("12", "list")],
)
def test_geometric_mean_ci_refuses_bad_times(times, message):
    with pytest.raises(ValueError, match=message):
        geometric_mean_ci(times)


# --- Mean with a t interval (Sauro & Lewis 2016, chapter 3, "confidence interval for a mean").


def test_mean_ci_of_four_ratings_worked_by_hand():
    # 4, 5, 6, 7: mean 5.5; sd = sqrt((2.25 + 0.25 + 0.25 + 2.25) / 3) = 1.290994; se = 0.645497;
    # t(0.975, 3) = 3.182446; margin = 2.054255 -> 3.445745 to 7.554255.
    mean, low, high = mean_ci([4, 5, 6, 7])
    assert mean == 5.5
    assert low == pytest.approx(3.445745, abs=1e-5)
    assert high == pytest.approx(7.554255, abs=1e-5)


def test_mean_ci_of_identical_values_has_no_width():
    assert mean_ci([70.0, 70.0, 70.0]) == (70.0, 70.0, 70.0)
    assert mean_ci([3]) == (3.0, 3.0, 3.0)


@pytest.mark.parametrize("values", [[], [1, None], [float("inf")], [False, 2], None])
def test_mean_ci_refuses_bad_values(values):
    with pytest.raises(ValueError):
        mean_ci(values)


# --- Problem discovery (Nielsen & Landauer 1993, "A mathematical model of the finding of
# usability problems": with p = 0.31, five users find about 84-85% of the problems).


def test_problem_discovery_five_users_find_most_problems():
    # 1 - 0.69^5 = 1 - 0.156403 = 0.843597.
    assert problem_discovery(0.31, 5) == pytest.approx(0.843597, abs=1e-6)


def test_problem_discovery_edges():
    assert problem_discovery(0.31, 0) == 0.0
    assert problem_discovery(0, 10) == 0.0
    assert problem_discovery(1, 1) == 1.0


@pytest.mark.parametrize("p, n", [(-0.1, 5), (1.1, 5), (0.3, -1), (0.3, 2.5), (float("nan"), 5),
                                  (True, 5), (0.3, True)])
def test_problem_discovery_refuses_bad_input(p, n):
    with pytest.raises(ValueError):
        problem_discovery(p, n)


# --- Properties -------------------------------------------------------------------------------

levels = st.floats(min_value=0.5, max_value=0.99)


@st.composite
def completion_counts(draw):
    trials = draw(st.integers(min_value=1, max_value=500))
    return draw(st.integers(min_value=0, max_value=trials)), trials


@given(completion_counts(), levels)
def test_adjusted_wald_contains_the_observed_rate_and_stays_in_range(counts, level):
    successes, trials = counts
    low, high = adjusted_wald(successes, trials, level)
    assert 0.0 <= low <= successes / trials + 1e-12
    assert successes / trials - 1e-12 <= high <= 1.0


@given(completion_counts(), levels, levels)
def test_adjusted_wald_widens_with_confidence(counts, a, b):
    narrow, wide = sorted((a, b))
    low_n, high_n = adjusted_wald(*counts, narrow)
    low_w, high_w = adjusted_wald(*counts, wide)
    assert low_w <= low_n + 1e-12 and high_n <= high_w + 1e-12


task_times = st.lists(st.floats(min_value=0.5, max_value=3600), min_size=1, max_size=40)


@given(task_times, levels)
def test_geometric_mean_ci_contains_the_mean_and_stays_positive(times, level):
    mean, low, high = geometric_mean_ci(times, level)
    assert 0 < low <= mean <= high
    assert min(times) * (1 - 1e-9) <= mean <= max(times) * (1 + 1e-9)


@given(task_times, levels, levels)
def test_geometric_mean_ci_widens_with_confidence(times, a, b):
    narrow, wide = sorted((a, b))
    _, low_n, high_n = geometric_mean_ci(times, narrow)
    _, low_w, high_w = geometric_mean_ci(times, wide)
    assert low_w <= low_n * (1 + 1e-9) and high_n <= high_w * (1 + 1e-9)


ratings = st.lists(st.integers(min_value=1, max_value=7), min_size=1, max_size=60)


@given(ratings, levels)
def test_mean_ci_contains_the_mean(values, level):
    mean, low, high = mean_ci(values, level)
    assert low <= mean <= high
    assert min(values) - 1e-9 <= mean <= max(values) + 1e-9


@given(ratings, levels, levels)
def test_mean_ci_widens_with_confidence(values, a, b):
    narrow, wide = sorted((a, b))
    _, low_n, high_n = mean_ci(values, narrow)
    _, low_w, high_w = mean_ci(values, wide)
    assert low_w <= low_n + 1e-9 and high_n <= high_w + 1e-9


@given(st.lists(st.integers(min_value=1, max_value=5), min_size=10, max_size=10))
def test_sus_score_is_a_multiple_of_two_and_a_half_within_range(answers):
    score = sus_score(answers)
    assert 0 <= score <= 100
    assert score / 2.5 == int(score / 2.5)
    assert sus_grade(score) in {"A+", "A", "A-", "B+", "B", "B-", "C+", "C", "C-", "D", "F"}


@given(st.floats(min_value=0, max_value=1), st.integers(min_value=0, max_value=50))
def test_problem_discovery_grows_with_sessions(p, n):
    assert 0 <= problem_discovery(p, n) <= problem_discovery(p, n + 1) <= 1


# --- the t quantile, against scipy's independent implementation (a test-only dependency) -------


@given(st.integers(min_value=1, max_value=2000), st.floats(min_value=0.01, max_value=0.9999))
def test_t_quantile_agrees_with_scipy(df, level):
    assert t_quantile(df, level) == pytest.approx(float(stdtrit(df, 0.5 + level / 2)), rel=1e-10)


@pytest.mark.parametrize(("df", "level", "published"), [
    (1, 0.95, 12.706), (4, 0.95, 2.776), (9, 0.95, 2.262), (9, 0.90, 1.833), (29, 0.99, 2.756),
])
def test_t_quantile_matches_the_printed_table(df, level, published):
    assert round(t_quantile(df, level), 3) == published
