"""Pages of the analysis domain."""

from flask import Blueprint

bp = Blueprint("analysis", __name__)
