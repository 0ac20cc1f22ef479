"""End to end in Chromium: a patient signs in, sees the checklist and signs the consent; a
pharmacist checks eligibility and sees every reason."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import sign_in
from tests.support.factories import PASSWORD

pytestmark = pytest.mark.browser


def test_patient_signs_the_consent(live_server, page, factory):
    patient = factory.patient(consent=False)
    email = patient.user.email
    from rems.extensions import db

    db.session.commit()
    sign_in(page, live_server, email, PASSWORD)
    page.wait_for_url(f"{live_server}/patient")
    assert page.get_by_role("heading", name="This month's steps").is_visible()
    item = page.locator(".checklist__item--unmet", has_text="Informed consent")
    assert item.is_visible()
    item.get_by_role("link", name="Sign the consent").click()
    page.wait_for_url(f"{live_server}/patient/consent")
    page.get_by_role("button", name="Sign the consent").click()  # nothing filled in: messages
    assert page.locator(".error-summary").is_visible()
    assert page.locator(".error-summary").evaluate("el => el === document.activeElement")
    page.get_by_label("I have read and understood the information above").check()
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Sign the consent").click()
    page.wait_for_url(f"{live_server}/patient")
    assert page.get_by_text("Your consent is signed").is_visible()
    assert page.locator(".checklist__item--met", has_text="Informed consent").is_visible()
    assert not page.console_errors, page.console_errors  # no CSP violation, no script error


def test_pharmacist_checks_eligibility_and_hears_every_reason(live_server, page, factory):
    ph, rsp = factory.pharmacy()
    patient = factory.patient()
    from rems.extensions import db

    db.session.commit()
    sign_in(page, live_server, rsp.email, PASSWORD)
    page.wait_for_url(f"{live_server}/pharmacy")
    page.get_by_label("Patient's REMS ID").fill(patient.rems_id)
    page.get_by_label("Patient's date of birth").fill(patient.date_of_birth.isoformat())
    page.get_by_label("Prescriber's NPI").fill(patient.prescriber.npi)
    page.get_by_label("Days' supply").fill("30")
    page.get_by_role("button", name="Check only").click()
    verdict = page.locator("#verdict")
    verdict.wait_for()
    assert "Do not dispense" in verdict.inner_text()
    reasons = verdict.locator("ol.reasons li").all_inner_texts()
    assert len(reasons) >= 3
    assert any("monthly attestation" in r for r in reasons)
    assert verdict.evaluate("el => el === document.activeElement")  # focus moved for screen readers
    assert not page.console_errors, page.console_errors
