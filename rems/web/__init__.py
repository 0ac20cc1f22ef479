"""Web pages for people (server-rendered Jinja + WTForms, CSRF via Flask-WTF, Flask-Login).

`init_app` registers the page blueprints. Optional blueprints (rems.web.prescriber,
rems.web.admin) are skipped when their module is not there yet. A blueprint module may expose
`NAV = {role: [(endpoint, label), ...]}` to add links to the header navigation.
"""

from __future__ import annotations

import importlib

from flask import Blueprint, current_app, redirect, request, url_for
from flask_login import current_user

from rems.clock import program
from rems.web import handover, sessions
from rems.web.helpers import badge_tone, days_until, long_date, long_datetime

bp = Blueprint("web", __name__)

HOME = {
    "patient": "patient.index",
    "prescriber": "prescriber.index",
    "pharmacist": "pharmacist.index",
    "admin": "admin.index",
}
OWN = ("rems.web.auth", "rems.web.patient", "rems.web.pharmacist")
OPTIONAL = ("rems.web.prescriber", "rems.web.admin")
LAST = ("rems.web.messages",)  # its "Messages" link comes after each role's own pages

@bp.get("/")
def home():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.sign_in"))
    endpoint = HOME.get(current_user.role)
    if endpoint is None or endpoint not in current_app.view_functions:
        return redirect(url_for("auth.password"))
    return redirect(url_for(endpoint))


def _nav_items():
    if not current_user.is_authenticated:
        return []
    items = []
    for endpoint, label in current_app.extensions.get("rems_nav", {}).get(current_user.role, []):
        if endpoint in current_app.view_functions:
            items.append({"url": url_for(endpoint), "label": label, "current": request.endpoint == endpoint})
    return items


def init_app(app) -> None:
    sessions.init_app(app)
    handover.init_app(app)
    app.register_blueprint(bp)
    nav: dict[str, list] = {}
    for name in OWN + OPTIONAL + LAST:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if name in OPTIONAL and exc.name == name:
                continue
            raise
        if name in OPTIONAL and not hasattr(module, "bp"):
            continue  # being written
        app.register_blueprint(module.bp)
        for role, links in getattr(module, "NAV", {}).items():
            nav.setdefault(role, []).extend(links)
    app.extensions["rems_nav"] = nav
    app.jinja_env.globals.update(nav_items=_nav_items, badge_tone=badge_tone, program=program)
    app.jinja_env.filters["long_date"] = long_date
    app.jinja_env.filters["long_date_dt"] = long_datetime
    app.jinja_env.filters["days_until"] = days_until
