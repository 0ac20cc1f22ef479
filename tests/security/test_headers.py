"""Browser security headers from the one after_request hook (rems.security.headers; ASVS V14.4,
HIPAA 164.312(e)(1))."""
from __future__ import annotations

import pytest

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
       "form-action 'self'; base-uri 'none'; object-src 'none'")


@pytest.mark.parametrize("path", ["/healthz", "/api/v1/openapi.json", "/api/v1/me", "/api/v1/no-such-thing",
                                  "/no-such-page"])
def test_every_answer_carries_the_security_headers(client, path):
    resp = client.get(path)
    h = resp.headers
    assert h["Content-Security-Policy"] == CSP
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["Referrer-Policy"] == "no-referrer"
    assert "camera=()" in h["Permissions-Policy"] and "geolocation=()" in h["Permissions-Policy"]
    assert h["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in h  # development: plain http on localhost


def test_authenticated_api_answers_are_not_cached(client, login_as):
    resp = client.get("/api/v1/me", headers=login_as("admin"))
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"


def test_production_adds_hsts(app, client):
    app.config["REMS_ENV"] = "production"
    hsts = client.get("/healthz").headers["Strict-Transport-Security"]
    assert "max-age=63072000" in hsts and "includeSubDomains" in hsts


def test_one_csp_header_only(client):
    assert len(client.get("/healthz").headers.getlist("Content-Security-Policy")) == 1
