"""URLs: where a page may send people back to after a form (same-site paths only), and id bounds."""

from __future__ import annotations

from urllib.parse import urlsplit

from werkzeug.routing import IntegerConverter

from usabtest.core.schemas import MAX_ID, MAX_PAGE


def safe_next(target: str | None) -> str | None:
    """`target` when it is a path on this site, else None.

    Browsers read `/\\host`, and `/<tab>/host` once they drop the tab, as `//host`: a link to
    another site. Such targets, absolute URLs and scheme-relative ones are refused, so a crafted
    link cannot turn a sign-in or a form into a redirect to somewhere else.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def digits_up_to(limit: int) -> str:
    """A regular expression matching the decimal numbers from 0 to `limit`, and no larger one."""
    text = str(limit)
    options = [rf"\d{{1,{len(text) - 1}}}"] if len(text) > 1 else []
    for i, char in enumerate(text):
        lowest = 1 if i == 0 and len(text) > 1 else 0
        if int(char) > lowest:
            options.append(rf"{text[:i]}[{lowest}-{int(char) - 1}]\d{{{len(text) - i - 1}}}")
    return "(?:" + "|".join([*options, text]) + ")"


class IdConverter(IntegerConverter):
    """`<int:...>` in every URL: a number beyond what an id column holds matches no route (404).

    Without the bound, such a number reached the database: SQLite cannot bind an integer past 2**63
    and PostgreSQL refuses one past its 32-bit `integer` columns, both as a 500. The bound is in the
    pattern itself, so such a URL is not found for every method (not "method not allowed").
    """

    regex = digits_up_to(MAX_ID)


def page_number(raw: str | None) -> int:
    """A list's page number from the query string: 1 for anything else than a number from 1 up.

    Capped at the API's MAX_PAGE, so `page=1e20` or a hundred digits never reach the database as
    an offset it cannot hold.
    """
    raw = (raw or "").strip()
    if not (raw.isascii() and raw.isdigit()):
        return 1
    return MAX_PAGE if len(raw) > len(str(MAX_PAGE)) else min(max(1, int(raw)), MAX_PAGE)
