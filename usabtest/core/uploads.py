"""Request bodies larger than `MAX_CONTENT_LENGTH` for the few views that take large files.

The CSRF check reads the form before any view runs, so a view cannot raise its own limit in time:
the request class asks the matched view instead. A view marked `@large_upload("SETTING")` accepts a
body of that setting's size (plus room for the form's other fields); every other view keeps the
application's limit.
"""

from __future__ import annotations

from collections.abc import Callable

import flask
from flask import current_app

FORM_ROOM = 64 * 1024  # the form's other fields and the multipart boundaries
_LIMIT_ATTR = "usabtest_upload_limit_setting"


def large_upload(setting: str) -> Callable:
    """Decorator (just below the route): this view takes bodies up to `app.config[setting]` bytes."""

    def decorator(view: Callable) -> Callable:
        setattr(view, _LIMIT_ATTR, setting)
        return view

    return decorator


class Request(flask.Request):
    """Flask's request, whose body limit follows the matched view's `large_upload` setting."""

    @property
    def max_content_length(self) -> int | None:
        """The view's upload limit when it declares one, else the application's."""
        if self._max_content_length is None and self.url_rule is not None and current_app:
            view = current_app.view_functions.get(self.url_rule.endpoint)
            setting = getattr(view, _LIMIT_ATTR, None)
            if setting:
                return int(current_app.config[setting]) + FORM_ROOM
        return flask.Request.max_content_length.fget(self)

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value
