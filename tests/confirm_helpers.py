"""Pressing a destructive button and its confirmation as a browser without JavaScript would."""

from __future__ import annotations

import re
from html.parser import HTMLParser


class _ConfirmForm(HTMLParser):
    """The confirmation page's form: its action and every hidden field, as a browser would send it."""

    def __init__(self):
        super().__init__()
        self.action: str | None = None
        self.fields: list[tuple[str, str]] = []
        self.cancel: str | None = None
        self._inside = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and "confirm-actions" in (attrs.get("class") or ""):
            self.action, self._inside = attrs["action"], True
        elif self._inside and tag == "input":
            self.fields.append((attrs["name"], attrs.get("value") or ""))
        elif self._inside and tag == "a" and "data-confirm-cancel" in attrs:
            self.cancel = attrs["href"]

    def handle_endtag(self, tag):
        if tag == "form":
            self._inside = False


def confirmation(html: str) -> _ConfirmForm:
    """Parse the confirmation form out of a page; fails when the page asks nothing."""
    form = _ConfirmForm()
    form.feed(html)
    assert form.action, f"no confirmation form in: {html[:400]}"
    return form


def ask(client, url: str, data: dict | None = None) -> tuple[str, _ConfirmForm]:
    """Press the page's button: the answer is a question, not the action."""
    response = client.post(url, data=data or {})
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    html = response.get_data(as_text=True)
    assert 'name="confirmed" value="yes"' in html and "data-confirm-cancel" in html
    return html, confirmation(html)


def confirm(client, form: _ConfirmForm):
    """Press Confirm on the confirmation page."""
    data: dict[str, list[str]] = {}
    for name, value in form.fields:
        data.setdefault(name, []).append(value)
    return client.post(form.action, data=data)


def text(html: str) -> str:
    """The page's text with tags dropped and spaces squeezed, to match sentences."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace(" .", ".")
