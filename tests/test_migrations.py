"""`db upgrade` from an empty database gives exactly the schema the models describe."""

import os
import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from usabtest import create_app
from usabtest.extensions import db

PG_URL = os.environ.get("USABTEST_TEST_DATABASE_URL")


def _schema_diff(url: str) -> list:
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "k"})
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, db.metadata)
        downgrade(revision="base")
        with db.engine.connect() as conn:
            leftover = set(sa.inspect(conn).get_table_names()) - {"alembic_version"}
        db.engine.dispose()
    return diff, leftover


def test_upgrade_from_empty_matches_models_on_sqlite(tmp_path):
    diff, leftover = _schema_diff(f"sqlite:///{tmp_path / 'mig.sqlite'}")
    assert diff == []
    assert leftover == set()


@pytest.fixture
def scratch_pg_url():
    """A throw-away PostgreSQL database next to the test database."""
    if not PG_URL:
        pytest.skip("USABTEST_TEST_DATABASE_URL not set")
    url = sa.make_url(PG_URL)
    name = f"usabtest_mig_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.mark.database  # no app fixture, but it belongs to the PostgreSQL pass
def test_upgrade_from_empty_matches_models_on_postgresql(scratch_pg_url):
    diff, leftover = _schema_diff(scratch_pg_url)
    assert diff == []
    assert leftover == set()
