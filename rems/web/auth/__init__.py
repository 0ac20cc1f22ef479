"""Sign-in, sign-out, activation, password change and self-registration pages."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from rems.web.auth import views  # noqa: E402,F401  (routes)
