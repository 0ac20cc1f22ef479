"""The administrator's pages (R-ADMIN-1): accounts, pharmacies' certification, question bank, audit log,
reports, pregnancy cases."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

NAV = {
    "admin": [
        ("admin.index", "Overview"),
        ("admin.users", "Users"),
        ("admin.pharmacies", "Pharmacies"),
        ("admin.questions", "Questions"),
        ("admin.audit_log", "Audit log"),
        ("admin.reports_page", "Reports"),
        ("admin.cases", "Pregnancy cases"),
    ]
}

from rems.web.admin import pharmacies, routes  # noqa: E402,F401  (registers the views)
