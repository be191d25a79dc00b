"""The report's typeface: DejaVu Sans, embedded, so whatever script users type renders.

Where the files come from, in order: matplotlib's bundled copy (a declared dependency, so a
fresh `pip install` has it), the operating system's DejaVu package, and last reportlab's own
Vera (Latin only) so a report is still produced on a machine with neither.
"""

from __future__ import annotations

import importlib.util
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfmetrics, ttfonts
from reportlab.pdfbase.ttfonts import TTFont

REGULAR = "ReportSans"
BOLD = "ReportSans-Bold"
ITALIC = "ReportSans-Oblique"
BOLD_ITALIC = "ReportSans-BoldOblique"

SYSTEM_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/share/fonts/TTF"),
    Path("/usr/local/share/fonts"),
    Path("/Library/Fonts"),
)
DEJAVU_FILES = (
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf",
)
VERA_FILES = ("Vera.ttf", "VeraBd.ttf", "VeraIt.ttf", "VeraBI.ttf")


@dataclass(frozen=True)
class FontSource:
    """Where the four faces were found, and which family they are."""

    family: str
    directory: Path
    files: tuple[str, str, str, str]


def _package_dir(name: str, *parts: str) -> Path | None:
    # find_spec locates the package without importing it (matplotlib's import is slow).
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)), *parts)


def candidate_sources() -> list[FontSource]:
    """Every place a usable font family may live, best first."""
    sources = []
    mpl = _package_dir("matplotlib", "mpl-data", "fonts", "ttf")
    if mpl is not None:
        sources.append(FontSource("DejaVu Sans", mpl, DEJAVU_FILES))
    sources.extend(FontSource("DejaVu Sans", d, DEJAVU_FILES) for d in SYSTEM_DIRS)
    vera = _package_dir("reportlab", "fonts")
    if vera is not None:
        sources.append(FontSource("Bitstream Vera Sans", vera, VERA_FILES))
    return sources


def find_source() -> FontSource:
    """The first source whose four files all exist."""
    for source in candidate_sources():
        if all((source.directory / name).is_file() for name in source.files):
            return source
    raise RuntimeError("no TrueType font found for reports: install matplotlib or fonts-dejavu")


_CMAP_ENTRY = re.compile(r"<([0-9A-F]{2})> <([0-9A-F]{4,6})>")
_reportlab_cmap = ttfonts.makeToUnicodeCMap


def _unicode_for(code: int) -> str:
    char = chr(code)
    # Joined Arabic forms (drawn by bidi.shape) read back as the letters the user typed.
    if 0xFB50 <= code <= 0xFDFF or 0xFE70 <= code <= 0xFEFF:
        return unicodedata.normalize("NFKC", char)
    return char


def _to_unicode_cmap(fontname: str, subset) -> str:
    """reportlab's ToUnicode map, made faithful for text extraction and copying.

    reportlab writes characters beyond U+FFFF (emoji) as five hex digits, which PDF readers
    misread; here they become UTF-16 pairs. Arabic presentation forms map to plain letters.
    """
    return _CMAP_ENTRY.sub(
        lambda m: f"<{m[1]}> <{_unicode_for(int(m[2], 16)).encode('utf-16-be').hex().upper()}>",
        _reportlab_cmap(fontname, subset),
    )


class ReportFont(TTFont):
    """A TrueType font that keeps characters it has no glyph for (most emoji) in the text layer.

    reportlab drops such characters from the copyable text; here they are drawn as the font's
    empty-box glyph but still extracted, searched and copied as typed.
    """

    def splitString(self, text, doc, encoding="utf-8"):  # noqa: N802 (reportlab's name)
        """Give every missing character the empty-box glyph before reportlab assigns codes."""
        if isinstance(text, str):
            face = self.face
            glyphs = face.charToGlyph
            for code in {ord(ch) for ch in text}:
                if code >= 32 and code not in glyphs:
                    face.charToGlyph[code] = 0
                    face.charWidths[code] = face.defaultWidth
        return super().splitString(text, doc, encoding)


@cache
def register() -> FontSource:
    """Register the report family with reportlab once per process; return where it came from."""
    source = find_source()
    ttfonts.makeToUnicodeCMap = _to_unicode_cmap
    for alias, filename in zip((REGULAR, BOLD, ITALIC, BOLD_ITALIC), source.files, strict=True):
        pdfmetrics.registerFont(ReportFont(alias, str(source.directory / filename)))
    addMapping(REGULAR, 0, 0, REGULAR)
    addMapping(REGULAR, 1, 0, BOLD)
    addMapping(REGULAR, 0, 1, ITALIC)
    addMapping(REGULAR, 1, 1, BOLD_ITALIC)
    return source
