"""The prescriber's pages: certification, worklist, enrollment and the patient page."""

from flask import Blueprint

bp = Blueprint("prescriber", __name__, url_prefix="/prescriber")

NAV = {
    "prescriber": [
        ("prescriber.index", "My patients"),
        ("prescriber.enroll", "Enroll a patient"),
        ("prescriber.certification", "Certification"),
    ]
}

from rems.web.prescriber import routes  # noqa: E402,F401  (registers the views)
