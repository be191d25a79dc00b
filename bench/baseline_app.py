"""The bare baseline for `load_notes.py`: Flask + Flask-SQLAlchemy, one JSON check, one insert.

It stores a note under the same unique (session, client id) rule as the product and answers a
resend of the same id with 200, so the load benchmark can compare the product's note write with
the least a Flask endpoint must do. Served by gunicorn exactly like the product:
`gunicorn ... --chdir bench baseline_app:app`, with BASELINE_DATABASE_URL naming its database.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Flask, jsonify, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base of the baseline's one table."""


db = SQLAlchemy(model_class=Base)


class BareNote(db.Model):
    """A note with nothing but what makes a resend harmless."""

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column()
    client_uuid: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))

    __table_args__ = (sa.UniqueConstraint("session_id", "client_uuid"),)


def create_app() -> Flask:
    """The baseline app on BASELINE_DATABASE_URL."""
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["BASELINE_DATABASE_URL"]
    db.init_app(app)

    @app.post("/sessions/<int:session_id>/notes")
    def create_note(session_id: int):
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            return jsonify(error="a JSON object is required"), 400
        body = data.get("body")
        try:
            client_uuid = uuid.UUID(str(data.get("id")))
        except ValueError:
            return jsonify(error="id must be a UUID"), 422
        if not isinstance(body, str) or not 0 < len(body) <= 5000:
            return jsonify(error="body must be 1 to 5,000 characters"), 422
        db.session.add(BareNote(session_id=session_id, client_uuid=client_uuid, body=body,
                                created_at=datetime.now(UTC)))
        try:
            db.session.commit()
        except sa.exc.IntegrityError:
            db.session.rollback()
            return jsonify(id=str(client_uuid)), 200
        return jsonify(id=str(client_uuid)), 201

    @app.get("/login")
    def login_page():
        return "<form method=post></form>"

    return app


app = create_app()
