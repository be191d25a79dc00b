"""How every figure is written, wherever it is shown. Pure: no Flask, no database.

The results page, the PDF and other report formats, the CSV exports and the SUS grade all round
through `round_half_up`, so a figure never reads 5.2 on one and 5.3 on another: Python's own
`round()` and `format()` round half to even on the binary value, which turns 62.5% into 62% and
5.25 into 5.2. Values are read through their shortest decimal form (`repr`), the number a person
would write down, before rounding.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

from usabtest.timefmt import format_clock

DASH = "–"  # an en dash: nothing measured
MISSING = "Not recorded"  # measured attempts exist, but this value was not recorded for any of them


def round_half_up(value: float, places: int = 0) -> Decimal:
    """`value` rounded to `places` decimals, halves away from zero (2.5 -> 3, 5.25 -> 5.3)."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError(f"a figure must be a number, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"a figure must be finite, got {value!r}")
    exact = value if isinstance(value, Decimal) else Decimal(repr(value))
    return exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def decimal(value: float | None, places: int = 1) -> str:
    """5.25 -> "5.3" (one decimal by default); None -> an en dash."""
    return DASH if value is None else f"{round_half_up(value, places):f}"


def percent(share: float | None) -> str:
    """A share as a whole percentage: 0.625 -> "63%"; None -> an en dash."""
    if share is None:
        return DASH
    return f"{round_half_up(Decimal(repr(float(share))) * 100, 0):f}%"


def duration(seconds: float | None) -> str:
    """Seconds as m:ss, or h:mm:ss from an hour up, rounded half up; None -> an en dash."""
    return DASH if seconds is None else format_clock(seconds)


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """"1 participant", "3 participants", "0 participants" (irregular plurals given)."""
    word = singular if count == 1 else (plural_form or singular + "s")
    return f"{count} {word}"


def confidence_label(level: float) -> str:
    """0.95 -> "95% CI" (a 0.9 level reads "90% CI")."""
    share = round_half_up(Decimal(repr(float(level))) * 100, 1)
    return f"{share.normalize():f}% CI"


def interval(low: str, high: str, level: float) -> str:
    """"95% CI 39%–90%": an interval always says its confidence level."""
    return f"{confidence_label(level)} {low}–{high}"


def n_text(n: int) -> str:
    """"n = 5": how many values a figure rests on."""
    return f"n = {n}"


def with_interval(value: str, n: int, level: float, low: str | None = None, high: str | None = None) -> str:
    """"1:25 (95% CI 1:02–1:58, n = 5)", or "0:47 (n = 1)": no interval below two values."""
    if n >= 2 and low is not None and high is not None:
        return f"{value} ({interval(low, high, level)}, {n_text(n)})"
    return f"{value} ({n_text(n)})"
