"""usabtest: self-hosted usability testing for research teams."""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["create_app", "__version__"]

if TYPE_CHECKING:
    from usabtest.app import create_app


def __getattr__(name: str):
    # The app (and every domain with it) is imported on first use, so the console script can list
    # its commands without that cost.
    if name == "create_app":
        from usabtest.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
