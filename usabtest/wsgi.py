"""WSGI entry point for gunicorn: `gunicorn usabtest.wsgi:app`."""

from usabtest.app import create_app

app = create_app()
