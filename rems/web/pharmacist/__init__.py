"""The pharmacist's pages: the dispense check, recent RMAs, and the RSP's certification and staff."""

from flask import Blueprint

bp = Blueprint("pharmacist", __name__)

NAV = {
    "pharmacist": [
        ("pharmacist.index", "Dispense check"),
        ("pharmacist.rmas", "Recent RMAs"),
        ("pharmacist.pharmacy", "My pharmacy"),
    ]
}

from rems.web.pharmacist import views  # noqa: E402,F401  (routes)
