"""JSON API endpoints of the observe domain, registered on the shared API blueprint."""

from usabtest.api import bp  # noqa: F401
