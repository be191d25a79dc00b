"""The report's narrative texts: a small, safe subset of Markdown. Pure: no Flask, no database.

Researchers write paragraphs, bulleted and numbered lists, *emphasis*, **strong** text and links.
markdown-it-py parses it with raw HTML switched off, so `<script>` or reportlab's own `<font>` and
`<para>` tags stay visible text; links are kept only for http, https and mailto addresses (any other
link, `javascript:` included, stays as the text that was typed). Headings, images, code blocks,
quotes, rules and HTML entities are not part of the subset: they read as typed.

`to_html` gives the HTML the pages show; `blocks` gives paragraphs and list items as plain data,
which the PDF turns into its own paragraphs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from markdown_it import MarkdownIt
from markdown_it.token import Token

LINK_SCHEMES = ("http://", "https://", "mailto:")
# Entities stay as typed too: "&amp;" reads "&amp;", as it does in the text box.
_OFF = ("image", "heading", "lheading", "html_block", "html_inline", "code", "fence", "blockquote", "hr",
        "entity")


def link_allowed(url: str) -> bool:
    """True for the link addresses a report may carry: http, https and mailto."""
    return url.strip().lower().startswith(LINK_SCHEMES)


@cache
def _parser() -> MarkdownIt:
    # `breaks`: a single line break in the text is kept, as researchers expect from a text box.
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False, "breaks": True})
    md.disable(list(_OFF))
    md.validateLink = link_allowed
    md.add_render_rule("link_open", _link_open)
    return md


def _link_open(self, tokens: list[Token], idx: int, options, env) -> str:
    # Links leave the product: no referrer, and no ranking credit for whatever a text links to.
    tokens[idx].attrSet("rel", "nofollow noopener noreferrer")
    return self.renderToken(tokens, idx, options, env)


def to_html(text: str | None) -> str:
    """`text` as safe HTML: every character of the input is escaped unless it is Markdown syntax."""
    return _parser().render(text or "")


@dataclass(frozen=True)
class Span:
    """A run of inline text with its formatting; `text` is "\\n" for a line break."""

    text: str
    bold: bool = False
    italic: bool = False
    href: str | None = None


@dataclass(frozen=True)
class Block:
    """A paragraph, or a list item's paragraph (`marker` "•" or "3." on its first one).

    `depth` counts the lists it sits in (0 outside lists).
    """

    spans: tuple[Span, ...]
    depth: int = 0
    marker: str = ""

    @property
    def plain(self) -> str:
        """The block's text without formatting."""
        return "".join(span.text for span in self.spans)


def blocks(text: str | None) -> list[Block]:
    """`text` as paragraphs and list items in reading order; empty for a blank text."""
    result: list[Block] = []
    lists: list[list] = []  # per open list: [ordered, next number]
    marker = ""
    for token in _parser().parse(text or ""):
        if token.type in ("bullet_list_open", "ordered_list_open"):
            ordered = token.type == "ordered_list_open"
            lists.append([ordered, int(token.attrGet("start") or 1) if ordered else 0])
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif token.type == "list_item_open":
            ordered, number = lists[-1]
            marker = f"{number}." if ordered else "•"
            lists[-1][1] = number + 1
        elif token.type == "inline":
            spans = _spans(token.children or [])
            if spans:
                result.append(Block(spans, len(lists), marker))
            marker = ""
    return result


def _spans(children: list[Token]) -> tuple[Span, ...]:
    spans: list[Span] = []
    bold = italic = 0
    href: str | None = None
    for child in children:
        kind = child.type
        if kind == "strong_open":
            bold += 1
        elif kind == "strong_close":
            bold -= 1
        elif kind == "em_open":
            italic += 1
        elif kind == "em_close":
            italic -= 1
        elif kind == "link_open":
            href = str(child.attrGet("href") or "") or None
        elif kind == "link_close":
            href = None
        elif kind in ("softbreak", "hardbreak"):
            spans.append(Span("\n"))
        elif child.content:
            spans.append(Span(child.content, bool(bold), bool(italic), href))
    while spans and spans[-1].text == "\n":
        spans.pop()
    return tuple(spans)
