"""Factories for each kind of actor, built through the real services, and `login_as`.

Dates: tests move the service clock with the app's CLOCK_OFFSET_DAYS (`travel(days)`), never sleep.
"""
from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest

PASSWORD = "correct horse battery staple"
_seq = itertools.count(1)


def _npi(seed: int) -> str:
    """A valid NPI (Luhn over 80840 + first nine digits)."""
    from rems.services.practice import npi_valid

    base = f"1{seed:08d}"
    for d in range(10):
        if npi_valid(base + str(d)):
            return base + str(d)
    raise AssertionError


class Factory:
    def __init__(self, app):
        self.app = app

    # --- actors -------------------------------------------------------------
    def user(self, role: str):
        """A fresh, usable account of `role` (pharmacist: a certified pharmacy's RSP)."""
        makers = {"admin": self.admin, "prescriber": lambda: self.prescriber().user,
                  "pharmacist": lambda: self.pharmacy()[1], "patient": lambda: self.patient().user}
        if role not in makers:
            raise ValueError(role)
        return makers[role]()

    def admin(self, email=None):
        from rems.services.accounts import create_admin

        return create_admin(email or f"admin{next(_seq)}@example.org", PASSWORD)

    def prescriber(self, certified=True, email=None):
        from rems.services import practice

        n = next(_seq)
        pres = practice.register_prescriber({
            "email": email or f"doctor{n}@example.org", "password": PASSWORD, "first_name": "Dana",
            "last_name": f"Doctor{n}", "npi": _npi(n), "license_state": "NY", "license_number": f"L{n}"})
        if certified:
            practice.attest_prescriber(pres.user, PASSWORD)
        return pres

    def pharmacy(self, certified=True):
        """A pharmacy with its RSP; returns (pharmacy, rsp_user)."""
        from rems.services import practice

        n = next(_seq)
        ph = practice.register_pharmacy({
            "name": f"Corner Pharmacy {n}", "ncpdp_id": f"{n:07d}", "npi": _npi(500000 + n),
            "address": {"line1": "1 Main St", "city": "Albany", "state": "NY", "zip": "12207"},
            "rsp": {"email": f"rsp{n}@example.org", "password": PASSWORD, "first_name": "Riley",
                    "last_name": f"Pharmacist{n}", "license_number": f"RPH{n}"}})
        rsp = ph.members[0].user
        if certified:
            practice.attest_pharmacy(rsp, ph, PASSWORD)
        return ph, rsp

    def pharmacist(self, pharmacy, rsp):
        """An invited and activated staff pharmacist of `pharmacy`."""
        from rems.services import accounts, practice

        n = next(_seq)
        user, code = practice.invite_pharmacist(rsp, pharmacy, {
            "email": f"staff{n}@example.org", "first_name": "Sam", "last_name": f"Staff{n}",
            "license_number": f"RPH{n}"})
        accounts.activate(code, PASSWORD)
        return user

    def patient(self, prescriber=None, category="can_get_pregnant", activated=True, consent=True,
                dob=date(2000, 5, 17)):
        from rems.services import accounts, enrollment, patient_self

        prescriber = prescriber or self.prescriber()
        n = next(_seq)
        patient, code = enrollment.enroll(prescriber.user, {
            "first_name": "Pat", "last_name": f"Patient{n}", "date_of_birth": dob,
            "email": f"patient{n}@example.org", "category": category})
        patient.activation_code = code
        if activated:
            accounts.activate(code, PASSWORD, dob)
            if consent:
                patient_self.sign_consent(patient.user, PASSWORD, None)
        return patient


@pytest.fixture
def factory(app):
    return Factory(app)


@pytest.fixture
def travel(app):
    """Move the service clock by whole days (REMS_CLOCK_OFFSET_DAYS)."""

    def move(days: int):
        app.config["CLOCK_OFFSET_DAYS"] = app.config.get("CLOCK_OFFSET_DAYS", 0) + days

    return move


@pytest.fixture
def token_for(client):
    def get(user_or_email, password=PASSWORD):
        email = getattr(user_or_email, "email", user_or_email)
        resp = client.post("/api/v1/auth/token", json={"email": email, "password": password})
        assert resp.status_code == 201, resp.get_json()
        return {"Authorization": f"Bearer {resp.get_json()['token']}"}

    return get


@pytest.fixture
def login_as(factory, token_for):
    """API headers for a fresh actor of `role` (prescriber, pharmacist, patient, admin)."""

    def login(role: str):
        return token_for(factory.user(role))

    return login


def days_ago(today: date, n: int) -> date:
    return today - timedelta(days=n)
