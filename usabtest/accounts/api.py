"""`GET /api/v1/me`: who the request is authenticated as (handy to check a token)."""

from flask import jsonify
from flask_login import current_user

from usabtest.api import api_login_required, bp


def user_json(user) -> dict:
    """Public fields of a user."""
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role.value,
        "timezone": user.timezone,
        "organisation": user.organisation.name if user.organisation else None,
    }


@bp.get("/me")
@api_login_required
def me():
    """The authenticated user."""
    return jsonify(user_json(current_user))
