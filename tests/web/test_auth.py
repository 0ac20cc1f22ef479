"""Sign-in, server-side sessions, CSRF, activation, password change, registration, security headers."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from rems.extensions import db
from rems.models import AuditEntry, User, WebSession
from rems.security.tokens import digest
from tests.support.factories import PASSWORD, _npi
from tests.web.conftest import Web, text

NEW_PASSWORD = "a brand new long passphrase"


def _rows(user):
    return db.session.execute(select(WebSession).where(WebSession.user_id == user.id)).scalars().all()


def test_sign_in_page_and_security_headers(web):
    resp = web.get("/sign-in")
    assert resp.status_code == 200
    csp = resp.headers["Content-Security-Policy"]
    for part in (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'none'",
        "img-src 'self' data:",
    ):
        assert part in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"]
    html = resp.get_data(as_text=True)
    assert '<html lang="en">' in html and 'class="skip-link" href="#main"' in html
    assert '<label for="email">' in html and '<label for="password">' in html
    assert web.get("/static/css/app.css").status_code == 200


def test_templates_have_no_inline_styles_or_scripts():
    root = Path(__file__).resolve().parents[2] / "templates"
    for path in root.rglob("*.html"):
        if "pdf" in path.parts or "email" in path.parts:
            continue  # not served to browsers under the CSP (PDF renderer, email bodies)
        src = path.read_text()
        assert not re.search(r"\sstyle\s*=", src), f"inline style= in {path}"
        assert not re.search(r"<style", src), f"<style> in {path}"
        assert not re.search(r"<script(?![^>]*\ssrc=)", src), f"inline <script> in {path}"
        assert not re.search(r"\son[a-z]+\s*=", src), f"inline event handler in {path}"


def test_same_message_for_unknown_email_and_wrong_password(web, factory):
    user = factory.prescriber().user
    wrong = web.post("/sign-in", {"email": user.email, "password": "not the password at all"})
    unknown = web.post("/sign-in", {"email": "nobody@example.org", "password": "not the password at all"})
    assert wrong.status_code == unknown.status_code == 400
    message = "The email or password is not correct."
    assert message in text(wrong) and message in text(unknown)
    assert 'value="' + user.email + '"' in wrong.get_data(as_text=True)  # what was typed is kept
    assert web.get("/prescriber/").status_code == 302  # still signed out


def test_sign_in_stores_only_the_hash_and_rotates_the_session(web, factory):
    user = factory.prescriber().user
    web.get("/sign-in")
    with web.client.session_transaction() as s:
        s["planted"] = "by an attacker before sign-in"
    resp = web.sign_in(user)
    assert resp.headers["Location"] == "/"
    with web.client.session_transaction() as s:
        sid = s["sid"]
        assert "planted" not in s  # the pre-sign-in session is discarded
    (row,) = _rows(user)
    assert row.sid_hash == digest(sid) and sid not in row.sid_hash
    actions = (
        db.session.execute(select(AuditEntry.action).where(AuditEntry.actor_id == user.id)).scalars().all()
    )
    assert "auth.signed_in" in actions


def test_home_redirects_each_role(web, web_as, app):
    assert web.get("/").headers["Location"].startswith("/sign-in")
    for role, path in (("patient", "/patient"), ("pharmacist", "/pharmacy")):
        web.sign_out()
        web_as(role)
        assert web.get("/").headers["Location"] == path
    for role, endpoint in (("prescriber", "prescriber.index"), ("admin", "admin.index")):
        web.sign_out()
        web_as(role)
        if endpoint in app.view_functions:  # built by the prescriber/admin pages
            with app.test_request_context():
                from flask import url_for

                expected = url_for(endpoint)
            assert web.get("/").headers["Location"] == expected


def test_replayed_cookie_after_sign_out_fails(web, factory):
    patient = factory.patient()
    web.sign_in(patient.user)
    assert web.get("/patient").status_code == 200
    with web.client.session_transaction() as s:
        stolen = dict(s)
    resp = web.sign_out()
    assert resp.status_code == 302
    (row,) = _rows(patient.user)
    assert row.revoked_at is not None
    with web.client.session_transaction() as s:  # put the old cookie back
        s.clear()
        s.update(stolen)
    resp = web.get("/patient")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/sign-in")
    actions = (
        db.session.execute(select(AuditEntry.action).where(AuditEntry.actor_id == patient.user.id))
        .scalars()
        .all()
    )
    assert "auth.signed_out" in actions


def test_sign_out_needs_post_with_csrf(web, factory):
    web.sign_in(factory.patient().user)
    assert web.get("/sign-out").status_code == 405
    assert web.client.post("/sign-out").status_code == 400  # no token: refused
    assert web.get("/patient").status_code == 200  # still signed in


def test_idle_timeout(web, factory, app):
    user = factory.patient().user
    web.sign_in(user)
    (row,) = _rows(user)
    row.last_seen_at = datetime.now(UTC) - timedelta(minutes=app.config["SESSION_IDLE_MINUTES"], seconds=5)
    db.session.commit()
    resp = web.get("/patient")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/sign-in")
    db.session.refresh(row)
    assert row.revoked_at is not None
    page = web.get(resp.headers["Location"])
    assert "signed out because of inactivity" in text(page)


def test_recent_activity_keeps_the_session(web, factory, app):
    user = factory.patient().user
    web.sign_in(user)
    (row,) = _rows(user)
    row.last_seen_at = datetime.now(UTC) - timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] - 1)
    db.session.commit()
    assert web.get("/patient").status_code == 200
    db.session.refresh(row)
    assert datetime.now(UTC) - row.last_seen_at < timedelta(minutes=1)  # activity refreshed it


def test_absolute_timeout(web, factory, app):
    user = factory.patient().user
    web.sign_in(user)
    (row,) = _rows(user)
    row.created_at = datetime.now(UTC) - timedelta(hours=app.config["SESSION_ABSOLUTE_HOURS"], minutes=1)
    db.session.commit()
    assert web.get("/patient").headers["Location"].startswith("/sign-in")


def test_suspended_user_is_signed_out(web, factory):
    user = factory.patient().user
    web.sign_in(user)
    user.status = "suspended"
    db.session.commit()
    assert web.get("/patient").status_code == 302


def test_suspension_ends_sessions_and_tokens_so_reinstatement_does_not_revive_them(web, factory, client):
    """R-ADMIN-1 / R-PRES-1: a suspended account was only blocked while suspended; once reinstated,
    its old web session and API token (maybe the reason for the suspension) worked again."""
    from rems.services import admin

    admin_user, pres = factory.admin(), factory.prescriber()
    web.sign_in(pres.user)
    token = client.post("/api/v1/auth/token", json={"email": pres.user.email, "password": PASSWORD}).get_json()
    bearer = {"Authorization": f"Bearer {token['token']}"}
    assert client.get("/api/v1/me", headers=bearer).status_code == 200
    admin.set_status(admin_user, pres.user_id, {"status": "suspended", "reason": "Account shared"})
    admin.set_status(admin_user, pres.user_id, {"status": "active", "reason": "Password reset"})
    db.session.expire_all()
    assert all(row.revoked_at is not None for row in _rows(pres.user))
    assert client.get("/api/v1/me", headers=bearer).status_code == 401
    assert web.get("/prescriber/").headers["Location"].startswith("/sign-in")
    web.sign_in(pres.user)  # a fresh sign-in works
    assert web.get("/prescriber/").status_code == 200


def test_a_suspended_user_with_the_right_password_is_told_the_account_is_suspended(web, factory, client):
    user = factory.patient().user
    user.status = "suspended"
    db.session.commit()
    resp = web.post("/sign-in", {"email": user.email, "password": PASSWORD})
    assert resp.status_code == 403 and "This account is suspended" in text(resp)
    wrong = web.post("/sign-in", {"email": user.email, "password": "not the right password"})
    assert wrong.status_code == 400 and "The email or password is not correct." in text(wrong)
    api = client.post("/api/v1/auth/token", json={"email": user.email, "password": PASSWORD})
    assert api.status_code == 403 and api.get_json()["code"] == "ACCOUNT_SUSPENDED"


def test_a_form_sent_after_signing_out_elsewhere_leads_back_through_sign_in(web, factory):
    """Filled in one tab, signed out in another, then sent: it used to be 'Error 400 · The CSRF
    tokens do not match'. Nothing is saved, the user is told why and comes back to the page."""
    pres = factory.prescriber()
    web.sign_in(pres.user)
    token = web.token()
    form = web.get("/prescriber/patients/new").get_data(as_text=True)
    assert "Enroll a patient" in form
    web.sign_out()
    resp = web.client.post("/prescriber/patients/new", data={
        "csrf_token": token, "first_name": "Nora", "last_name": "Late", "date_of_birth": "2001-02-03",
        "email": "nora.late@example.org", "category": "cannot_get_pregnant"})
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/sign-in?next=/prescriber/patients/new"
    page = text(web.get(resp.headers["Location"]))
    assert "Your session had ended, so the form was not sent." in page
    from rems.models import Patient

    assert db.session.execute(select(Patient).where(Patient.email == "nora.late@example.org")).first() is None


def test_csrf_is_enforced_on_forms(web, factory, app):
    assert app.config.get("WTF_CSRF_ENABLED", True)
    user = factory.prescriber().user
    resp = web.client.post("/sign-in", data={"email": user.email, "password": PASSWORD})
    assert resp.status_code == 400
    assert "CSRF" in text(resp)
    assert not _rows(user)
    resp = web.client.post(
        "/sign-in", data={"email": user.email, "password": PASSWORD, "csrf_token": "forged"}
    )
    assert resp.status_code == 400 and not _rows(user)


def test_next_only_goes_to_this_site(web, factory):
    user = factory.patient().user
    resp = web.post("/sign-in?next=//evil.example/x", {"email": user.email, "password": PASSWORD})
    assert resp.headers["Location"] == "/"
    web.sign_out()
    resp = web.post("/sign-in?next=/patient/documents", {"email": user.email, "password": PASSWORD})
    assert resp.headers["Location"] == "/patient/documents"


def test_next_with_control_characters_is_dropped(web, factory):
    """A tab in ?next= left as Location '//evil.example' (browsers drop tabs: another site); a
    newline or a carriage return answered 500. Both now land on the home page."""
    user = factory.patient().user
    for hostile in ("/%09/evil.example", "/%0a/evil.example", "/%0d/evil.example", "/%0b/evil.example"):
        resp = web.post(f"/sign-in?next={hostile}", {"email": user.email, "password": PASSWORD})
        assert resp.status_code == 302, hostile
        assert resp.headers["Location"] == "/", hostile
        web.sign_out()


def test_protected_page_redirects_to_sign_in_with_next(web):
    resp = web.get("/patient/consent")
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/sign-in?next=/patient/consent")


def test_patient_activation_needs_the_date_of_birth(web, factory):
    patient = factory.patient(activated=False)
    bad = web.post(
        "/activate",
        {
            "activation_code": patient.activation_code,
            "date_of_birth": "1999-01-01",
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )
    assert bad.status_code == 400
    assert "activation code or date of birth is not correct" in text(bad)
    assert db.session.get(User, patient.user_id).status == "pending_activation"
    ok = web.post(
        "/activate",
        {
            "activation_code": patient.activation_code,
            "date_of_birth": "2000-05-17",
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )
    assert ok.status_code == 302 and ok.headers["Location"] == "/sign-in"
    web.sign_in(patient.user.email, NEW_PASSWORD)
    assert web.get("/").headers["Location"] == "/patient"


def test_activation_form_errors_keep_values(web):
    resp = web.post("/activate", {"activation_code": "ABCD-EFGH", "password": "short", "confirm": "other"})
    assert resp.status_code == 400
    page = text(resp)
    assert "Use 12 to 128 characters" in page and "The two passwords are not the same" in page
    assert 'value="ABCD-EFGH"' in resp.get_data(as_text=True)
    assert 'aria-invalid="true"' in resp.get_data(as_text=True)


def test_weak_password_is_a_form_message(web, factory):
    patient = factory.patient(activated=False)
    resp = web.post(
        "/activate",
        {
            "activation_code": patient.activation_code,
            "date_of_birth": "2000-05-17",
            "password": "password1234",
            "confirm": "password1234",
        },
    )
    assert resp.status_code == 400
    assert db.session.get(User, patient.user_id).status == "pending_activation"


def test_password_change_signs_out_other_devices(web, factory, client, app):
    user = factory.pharmacy()[1]
    other = Web(app.test_client())
    other.sign_in(user)
    web.sign_in(user)
    wrong = web.post(
        "/account/password",
        {"current_password": "wrong wrong wrong", "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert wrong.status_code == 400 and "Current password is not correct" in text(wrong)
    ok = web.post(
        "/account/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert ok.status_code == 302
    assert web.get("/pharmacy").status_code == 200  # this device stays signed in
    assert other.get("/pharmacy").status_code == 302  # the other one is signed out
    web.sign_out()
    web.sign_in(user.email, NEW_PASSWORD)


def test_register_prescriber(web):
    data = {
        "first_name": "Ana",
        "last_name": "Lopez",
        "email": "ana@example.org",
        "npi": "1234567890",
        "license_state": "NY",
        "license_number": "L-1",
        "password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD,
    }
    bad = web.post("/register/prescriber", data)
    assert bad.status_code == 400 and "is not a valid NPI" in text(bad)
    assert 'value="Lopez"' in bad.get_data(as_text=True)
    data["npi"] = _npi(777)
    ok = web.post("/register/prescriber", data)
    assert ok.status_code == 302
    user = db.session.execute(select(User).where(User.email == "ana@example.org")).scalar_one()
    assert user.role == "prescriber" and user.prescriber.status == "pending"
    dup = web.post("/register/prescriber", data)
    assert dup.status_code == 400 and "already registered" in text(dup)


def test_register_pharmacy(web):
    data = {
        "name": "Hill Pharmacy",
        "ncpdp_id": "7654321",
        "npi": _npi(778),
        "line1": "2 Hill Rd",
        "city": "Troy",
        "state": "NY",
        "zip": "12180",
        "rsp_first_name": "Rae",
        "rsp_last_name": "Stone",
        "rsp_email": "rae@example.org",
        "rsp_license_number": "RPH-9",
        "password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD,
    }
    bad = web.post("/register/pharmacy", dict(data, zip="ABC"))
    assert bad.status_code == 400 and "Use 5 digits" in text(bad)
    assert web.post("/register/pharmacy", data).status_code == 302
    dup = web.post("/register/pharmacy", dict(data, rsp_email="rae2@example.org"))
    assert dup.status_code == 400 and "already registered" in text(dup)
    web.sign_in("rae@example.org", NEW_PASSWORD)
    assert "Hill Pharmacy" in text(web.get("/pharmacy/manage"))


def test_friendly_error_pages(web, web_as):
    resp = web.get("/no/such/page")
    assert resp.status_code == 404
    assert "We can't find that page" in text(resp) and "Go to your home page" in text(resp)
    web_as("patient")
    resp = web.get("/pharmacy")
    assert resp.status_code == 403 and "You can't open this page" in text(resp)


def test_locked_account_gets_a_real_429_on_the_sign_in_page(web, factory):
    """api.md rate limits: after 10 failures the web sign-in answers 429 with Retry-After and a message."""
    user = factory.prescriber().user
    for _ in range(10):
        assert web.post("/sign-in", {"email": user.email, "password": "not the password"}).status_code == 400
    resp = web.post("/sign-in", {"email": user.email, "password": PASSWORD})
    assert resp.status_code == 429
    assert int(resp.headers["Retry-After"]) > 0
    assert "Too many failed attempts" in resp.get_data(as_text=True)
