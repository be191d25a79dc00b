"""Every Flask extension instance, created unbound and initialised by the app factory."""

from flask import Flask
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from usabtest.db import Base


class DeferredMigrate:
    """Flask-Migrate, imported only when something asks for the app's migration settings.

    Flask-Migrate imports Alembic, and with it every dialect Alembic knows: a fifth of the start of
    a command such as `usabtest report build`, and of each server worker, neither of which
    migrates. `app.extensions["migrate"]` holds a stand-in until first used; then the real
    extension takes its place, as `Migrate.init_app` would have put it.
    """

    def init_app(self, app: Flask, db: SQLAlchemy, **options) -> None:
        app.extensions["migrate"] = _MigrateSettings(app, db, options)


class _MigrateSettings:
    def __init__(self, app: Flask, db: SQLAlchemy, options: dict) -> None:
        self._app, self._db, self._options = app, db, options

    def __getattr__(self, name: str):
        if name.startswith("_"):  # our own, or a copy's lookups before `__init__`: not Migrate's
            raise AttributeError(name)
        from flask_migrate import Migrate

        if isinstance(self._app.extensions.get("migrate"), _MigrateSettings):
            Migrate(self._app, self._db, **self._options)
        return getattr(self._app.extensions["migrate"], name)


db = SQLAlchemy(model_class=Base)
migrate = DeferredMigrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=get_remote_address, default_limits=[])
