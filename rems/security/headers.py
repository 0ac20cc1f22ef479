"""Browser security headers: the single after_request hook for the whole app (OWASP ASVS V14.4).

Every response gets the Content-Security-Policy, nosniff, no-referrer and a Permissions-Policy; API
answers and every non-static page get `Cache-Control: no-store` (nothing personal lands in a shared
cache or the browser's back-button history); production adds Strict-Transport-Security.
A 429 always carries Retry-After (rems.security.limits leaves the seconds in `g`).
"""
from __future__ import annotations

from flask import current_app, g, request

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)
PERMISSIONS_POLICY = ("accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
                      "microphone=(), payment=(), usb=(), interest-cohort=()")
HSTS = "max-age=63072000; includeSubDomains"
DEFAULT_RETRY_AFTER = 900


def security_headers(response):
    h = response.headers
    h["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    h["X-Content-Type-Options"] = "nosniff"
    h["Referrer-Policy"] = "no-referrer"
    h["Permissions-Policy"] = PERMISSIONS_POLICY
    h["X-Frame-Options"] = "DENY"  # for browsers that predate frame-ancestors
    h["Cross-Origin-Opener-Policy"] = "same-origin"
    if not request.path.startswith("/static/"):
        h["Cache-Control"] = "no-store"
        h["Pragma"] = "no-cache"
    if current_app.config.get("REMS_ENV") == "production":
        h["Strict-Transport-Security"] = HSTS
    if response.status_code == 429:
        # an account lockout's own wait wins over the address limiter's header, so the header and
        # the problem body's retry_after agree
        seconds = g.get("rems_retry_after")
        if seconds is not None or "Retry-After" not in h:
            h["Retry-After"] = str(max(1, int(seconds or DEFAULT_RETRY_AFTER)))
    elif response.status_code < 300:
        h.pop("Retry-After", None)  # Flask-Limiter puts one on every limited response, successes too
    return response


def init_app(app) -> None:
    app.after_request(security_headers)
