"""Per-address rate limits on sign-in, activation and signing (api.md, Conventions: rate limits).

Flask-Limiter counts requests per client address in `RATELIMIT_STORAGE_URI` (Redis when
REMS_REDIS_URL is set, memory:// otherwise). The level (`RATELIMIT_ADDRESS`, default 1,000 per
15 minutes per group) is one a whole pharmacy behind a single NAT address never meets; it stops
credential stuffing from one address. Per-account lockout is rems.security.limits.

The limited views are found, not listed by hand: the API's sign-in and activation endpoints, every
API endpoint whose body carries a `signature`, the web sign-in and activation pages, and any web
view that sets `rate_limit_group` (web signing pages). A 429 is problem+json (API) or the error page
(web), with Retry-After.
"""
from __future__ import annotations

from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

DEFAULT_ADDRESS_LIMIT = "1000 per 15 minutes"
# endpoint name -> group; the groups share one counter per address across API and web.
NAMED = {
    "api.create_token": "sign-in",
    "auth.sign_in": "sign-in",
    "api.activate": "activation",
    "auth.activate": "activation",
    "auth.password": "sign-in",
    "api.register_prescriber": "registration",
    "api.register_pharmacy": "registration",
    "auth.register_prescriber": "registration",
    "auth.register_pharmacy": "registration",
    # web pages whose POST is an e-signature (password re-entered)
    "patient.consent": "signing",
    "patient.monthly": "signing",
    "pharmacist.attest": "signing",
    "prescriber.certification": "signing",
    "prescriber.record": "signing",
}
LIMITED_METHODS = ["POST", "PUT", "DELETE"]


def _address_limit() -> str:
    return current_app.config.get("RATELIMIT_ADDRESS", DEFAULT_ADDRESS_LIMIT)


def limited_endpoints(app) -> dict[str, str]:
    """endpoint name -> rate-limit group for every view this module limits."""
    from rems.api import ENDPOINTS

    groups = {name: group for name, group in NAMED.items() if name in app.view_functions}
    for ep in ENDPOINTS:
        if ep.body is not None and "signature" in ep.body:
            groups.setdefault(f"api.{ep.name}", "signing")
    for name, view in app.view_functions.items():
        group = getattr(view, "rate_limit_group", None)
        if group:
            groups.setdefault(name, group)
    return groups


def init_app(app) -> Limiter:
    """Bind a limiter to `app` and wrap the limited views (call after every blueprint is registered)."""
    app.config.setdefault("RATELIMIT_ADDRESS", DEFAULT_ADDRESS_LIMIT)
    # swallow_errors: with Redis down the per-address limits lapse (logged) instead of answering 500 to
    # every sign-in and signature; the per-account lockout lives in the database (rems.security.limits)
    limiter = Limiter(key_func=get_remote_address, headers_enabled=True, strategy="moving-window",
                      swallow_errors=True)
    limiter.init_app(app)
    app.extensions["rems_limiter"] = limiter
    if not limiter.enabled:
        return limiter
    shared = {}
    for name, group in limited_endpoints(app).items():
        if group not in shared:
            shared[group] = limiter.shared_limit(_address_limit, scope=group, methods=LIMITED_METHODS,
                                                 error_message="Too many attempts from this address; "
                                                               "try again later.")
        app.view_functions[name] = shared[group](app.view_functions[name])
    return limiter


def strategy():
    """The `limits` strategy over the app's storage (None when rate limiting is disabled)."""
    limiter = current_app.extensions.get("rems_limiter")
    if limiter is None or not limiter.enabled:
        return None
    return limiter.limiter
