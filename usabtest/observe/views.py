"""Pages of the observe domain."""

from flask import Blueprint

bp = Blueprint("observe", __name__)
