"""The patient's pages (mobile first): this cycle's checklist, consent, monthly questions,
notifications and signed documents."""

from flask import Blueprint

bp = Blueprint("patient", __name__)

NAV = {
    "patient": [
        ("patient.index", "My checklist"),
        ("patient.notifications", "Messages"),
        ("patient.documents", "My documents"),
    ]
}

from rems.web.patient import views  # noqa: E402,F401  (routes)
