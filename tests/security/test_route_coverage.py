"""Every route goes through the one policy function (rems.policy), or is on a short open list.

API routes must be registered through rems.api.endpoint (each names a policy action or is
explicitly open); web routes must be wrapped by rems.web.helpers.role_required (which sets
`view.rems_action`). A new route that does neither fails this test (ASVS V4.1.3, V13.1;
21 CFR 11.10(d), (g); HIPAA 164.312(a)(1)).
"""
from __future__ import annotations

import re

import pytest

# endpoint -> why anyone may reach it
OPEN_WEB = {
    "static": "CSS and images",
    "health.healthz": "health probe (no personal data)",
    "health.readyz": "readiness probe (no personal data)",
    "web.home": "redirects to the sign-in page or the user's own home",
    "auth.sign_in": "sign-in",
    "auth.sign_out": "sign-out ends whatever session there is",
    "auth.activate": "activation with a one-time code",
    "auth.register_prescriber": "self-registration (account starts pending)",
    "auth.register_pharmacy": "self-registration (pharmacy starts pending)",
}
OPEN_API = {
    "api.create_token": "sign-in",
    "api.activate": "activation with a one-time code",
    "api.openapi": "the public API contract",
    "api.verify": "documents/verify: answers valid/invalid only, no personal data",
    "api.register_prescriber": "self-registration",
    "api.register_pharmacy": "self-registration",
}
ROLES = ("prescriber", "pharmacist", "patient", "admin")


def _rules(app):
    return [r for r in app.url_map.iter_rules()]


def test_every_route_is_covered_by_the_policy(app):
    from rems.api import ENDPOINTS
    from rems.policy import RULES

    registered = {f"api.{ep.name}": ep for ep in ENDPOINTS}
    uncovered = []
    for rule in _rules(app):
        name = rule.endpoint
        if name.startswith("api."):
            ep = registered.get(name)
            if ep is None:
                uncovered.append(f"{rule.rule}: API route not registered through rems.api.endpoint")
            elif ep.action is None and name not in OPEN_API:
                uncovered.append(f"{rule.rule}: open API route not on the allow-list")
            elif ep.action is not None and ep.action not in RULES:
                uncovered.append(f"{rule.rule}: unknown policy action {ep.action}")
            continue
        action = getattr(app.view_functions[name], "rems_action", None)
        if action is None and name not in OPEN_WEB:
            uncovered.append(f"{rule.rule} ({name}): web route without role_required")
        elif action is not None and action not in RULES:
            uncovered.append(f"{rule.rule}: unknown policy action {action}")
    assert not uncovered, "\n".join(uncovered)


def test_allow_lists_name_only_existing_open_routes(app):
    """A stale allow-list entry would silently open a future route with that name."""
    from rems.api import ENDPOINTS

    names = {r.endpoint for r in _rules(app)}
    assert set(OPEN_WEB) <= names
    assert set(OPEN_API) <= names
    open_api = {f"api.{ep.name}" for ep in ENDPOINTS if ep.action is None}
    assert open_api == set(OPEN_API)


def _path(rule) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: "1" if "int:" in m.group(0) else "x", rule.rule)


def _api_rules(app):
    from rems.api import ENDPOINTS

    by_name = {f"api.{ep.name}": ep for ep in ENDPOINTS}
    for rule in _rules(app):
        ep = by_name.get(rule.endpoint)
        if ep is not None and ep.action is not None:
            yield rule, ep


def test_protected_api_routes_refuse_anonymous_callers(app, client):
    checked = 0
    for rule, ep in _api_rules(app):
        resp = client.open(_path(rule), method=ep.method, json={})
        assert resp.status_code == 401, (ep.method, rule.rule, resp.status_code)
        assert resp.mimetype == "application/problem+json"
        checked += 1
    assert checked >= 25


def test_a_token_of_one_role_cannot_reach_another_roles_endpoints(app, client, login_as):
    from rems.policy import RULES

    tokens = {role: login_as(role) for role in ROLES}
    checked = 0
    for rule, ep in _api_rules(app):
        allowed_roles = RULES[ep.action][0]
        for role in ROLES:
            if role in allowed_roles:
                continue
            resp = client.open(_path(rule), method=ep.method, json={}, headers=tokens[role])
            assert resp.status_code == 403, (role, ep.method, rule.rule, resp.status_code)
            checked += 1
    assert checked >= 40


def test_protected_web_pages_send_anonymous_visitors_to_sign_in(app, client):
    checked = 0
    for rule in _rules(app):
        view = app.view_functions[rule.endpoint]
        if getattr(view, "rems_action", None) is None or "GET" not in rule.methods:
            continue
        resp = client.get(_path(rule))
        assert resp.status_code == 302 and "/sign-in" in resp.headers["Location"], (rule.rule, resp.status_code)
        checked += 1
    assert checked >= 10


@pytest.mark.parametrize("role", ROLES)
def test_web_pages_of_other_roles_are_forbidden(app, client, factory, role):
    """A signed-in user of one role gets 403 on every GET page whose action excludes that role."""
    from rems.policy import RULES
    from tests.support.factories import PASSWORD

    user = {"admin": factory.admin, "prescriber": lambda: factory.prescriber().user,
            "pharmacist": lambda: factory.pharmacy()[1], "patient": lambda: factory.patient().user}[role]()
    page = client.get("/sign-in")
    token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page.data)
    assert token, "sign-in form has a CSRF token"
    resp = client.post("/sign-in", data={"email": user.email, "password": PASSWORD,
                                         "csrf_token": token.group(1).decode()})
    assert resp.status_code == 302
    checked = 0
    for rule in _rules(app):
        action = getattr(app.view_functions[rule.endpoint], "rems_action", None)
        if action is None or "GET" not in rule.methods or role in RULES[action][0]:
            continue
        assert client.get(_path(rule)).status_code == 403, (role, rule.rule)
        checked += 1
    assert checked >= 3
