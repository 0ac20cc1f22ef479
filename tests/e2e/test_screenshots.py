"""Screenshots of every patient, pharmacist and account page, desktop and phone width, into
docs/screenshots/ (PNG). Also a check that no page logs a CSP violation or script error."""

from __future__ import annotations

import pytest

from rems.extensions import db
from rems.models import Notification
from tests.e2e.conftest import SCREENSHOTS, shoot, sign_in
from tests.support.factories import PASSWORD
from tests.worker import scenarios

pytestmark = pytest.mark.browser


def _sign_out(page):
    page.get_by_role("button", name="Sign out").click()


def test_screenshots_of_every_page(live_server, page, factory):
    base = live_server
    prescriber = factory.prescriber()
    patient = scenarios.cgp_in_window(factory, prescriber, confirmation_days_ago=3)
    db.session.add(
        Notification(
            user_id=patient.user_id,
            kind="window_closing",
            title="Your pharmacy window closes soon",
            body="Your pharmacy can fill your prescription for a few more days.",
        )
    )
    fresh = factory.patient(prescriber, consent=False)
    ph, rsp = factory.pharmacy()
    pending_ph, pending_rsp = factory.pharmacy(certified=False)
    db.session.commit()

    for path, name in (
        ("/sign-in", "sign-in"),
        ("/activate", "activate"),
        ("/register/prescriber", "register-prescriber"),
        ("/register/pharmacy", "register-pharmacy"),
        ("/no-such-page", "error-404"),
    ):
        page.goto(base + path)
        shoot(page, name)
    page.goto(base + "/sign-in")
    page.get_by_role("button", name="Sign in").click()
    shoot(page, "sign-in-errors")

    sign_in(page, base, patient.user.email, PASSWORD)
    page.wait_for_url(base + "/patient")
    shoot(page, "patient-checklist")
    page.goto(base + "/patient/monthly")
    shoot(page, "patient-monthly")
    page.get_by_role("button", name="Sign my answers").click()
    shoot(page, "patient-monthly-errors")
    from rems.services import patient_self

    questions, _ = patient_self.comprehension(patient.user)
    for q in questions:
        wrong = next(c["id"] for c in q.choices if not c["correct"])
        page.locator(f'input[name="q{q.id}"][value="{wrong}"]').check()
    page.get_by_label("IUD (intrauterine device)").check()
    page.get_by_label("Male condom").check()
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Sign my answers").click()
    shoot(page, "patient-monthly-failed")
    page.goto(base + "/patient/notifications")
    shoot(page, "patient-notifications")
    page.goto(base + "/patient/documents")
    shoot(page, "patient-documents")
    page.goto(base + "/account/password")
    shoot(page, "account-password")
    page.goto(base + "/pharmacy")
    shoot(page, "error-403")
    _sign_out(page)

    sign_in(page, base, fresh.user.email, PASSWORD)
    page.wait_for_url(base + "/patient")
    shoot(page, "patient-checklist-new")
    page.goto(base + "/patient/consent")
    shoot(page, "patient-consent")
    _sign_out(page)

    sign_in(page, base, rsp.email, PASSWORD)
    page.wait_for_url(base + "/pharmacy")
    shoot(page, "pharmacist-dispense")

    def fill(p, days="30", qty="60"):
        page.get_by_label("Patient's REMS ID").fill(p.rems_id)
        page.get_by_label("Patient's date of birth").fill(p.date_of_birth.isoformat())
        page.get_by_label("Prescriber's NPI").fill(p.prescriber.npi)
        page.get_by_label("Days' supply").fill(days)
        page.get_by_label("Quantity (capsules)").fill(qty)

    fill(fresh)
    page.get_by_role("button", name="Check only").click()
    shoot(page, "pharmacist-refused")
    page.goto(base + "/pharmacy")
    fill(patient, days="")
    page.get_by_role("button", name="Get authorization (RMA)").click()
    shoot(page, "pharmacist-form-errors")
    scenarios.attest(patient)
    db.session.commit()
    page.goto(base + "/pharmacy")
    fill(patient)
    page.get_by_role("button", name="Get authorization (RMA)").click()
    shoot(page, "pharmacist-authorized")
    page.goto(base + "/pharmacy/rmas")
    page.locator("summary").first.click()
    shoot(page, "pharmacist-rmas")
    page.goto(base + "/pharmacy/manage")
    page.get_by_label("First name").fill("Noor")
    page.get_by_label("Last name").fill("Ali")
    page.get_by_label("Email address").fill("noor@example.org")
    page.get_by_label("Pharmacist license number").fill("RPH-77")
    page.get_by_role("button", name="Invite").click()
    shoot(page, "pharmacist-invited")
    _sign_out(page)

    sign_in(page, base, pending_rsp.email, PASSWORD)
    page.goto(base + "/pharmacy/manage")
    shoot(page, "pharmacist-certification")
    assert not page.console_errors, page.console_errors
    assert len(list(SCREENSHOTS.glob("*.png"))) >= 2 * 20
