"""Where a page may send people back to after a form: same-site paths only."""

from __future__ import annotations

from urllib.parse import urlsplit


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
