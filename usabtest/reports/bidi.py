"""Right-to-left scripts in the PDF: Arabic letter joining and display order.

reportlab draws glyphs left to right in the order given and never joins Arabic letters, so
Hebrew and Arabic would come out backwards and unjoined. Text is shaped (letters replaced by
their joined presentation forms) before layout and reordered per line at drawing time; the
font's ToUnicode map sends presentation forms back to plain letters (`fonts.py`), so copying
or extracting the text still gives what the user typed.
"""

from __future__ import annotations

import re

import arabic_reshaper
from bidi import get_base_level, get_display

# Hebrew, Arabic, Syriac, Thaana, NKo, Samaritan, Mandaic, Arabic extensions and presentation forms.
_RTL = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]")
_ARABIC = re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff]")
_reshaper = arabic_reshaper.ArabicReshaper({"delete_harakat": False, "support_ligatures": True})


def has_rtl(text: str) -> bool:
    """True when `text` contains a right-to-left letter."""
    return bool(_RTL.search(text))


def starts_rtl(text: str) -> bool:
    """True when the first letter with a direction is right-to-left (the paragraph's direction)."""
    return has_rtl(text) and get_base_level(text) == 1


def shape(text: str) -> str:
    """Arabic letters in their joined forms; other text unchanged."""
    return _reshaper.reshape(text) if _ARABIC.search(text) else text


def display(line: str, direction: str) -> str:
    """One laid-out line in display (left-to-right drawing) order; `direction` is "L" or "R"."""
    return get_display(line, base_dir=direction) if has_rtl(line) else line
