"""Where the non-Python resources live.

A built wheel carries templates/, static/ and migrations/ inside the package (under `_resources`);
a checkout or editable install uses the top-level folders, so edits show without reinstalling.
"""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
_BUNDLED = PACKAGE_DIR / "_resources"
_CHECKOUT = PACKAGE_DIR.parent


def resource_dir(name: str) -> Path:
    """Absolute path of the `templates`, `static` or `migrations` folder."""
    bundled = _BUNDLED / name
    return bundled if bundled.is_dir() else _CHECKOUT / name


TEMPLATES = resource_dir("templates")
STATIC = resource_dir("static")
MIGRATIONS = resource_dir("migrations")
# The gettext catalogues (.po and their compiled .mo, both committed) are Python package data.
TRANSLATIONS = PACKAGE_DIR / "translations"
