"""Patient pages: access matrix, checklist with countdown, consent, monthly questions,
notifications, documents."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from rems.clock import program, today
from rems.extensions import db
from rems.models import Document, Notification, Patient
from rems.services import patient_self
from tests.support.factories import PASSWORD
from tests.web.conftest import text
from tests.worker import scenarios

PAGES = ["/patient", "/patient/consent", "/patient/monthly", "/patient/notifications", "/patient/documents"]


@pytest.mark.parametrize("path", PAGES)
def test_signed_out_goes_to_sign_in(web, path):
    resp = web.get(path)
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/sign-in")


@pytest.mark.parametrize("role", ["prescriber", "pharmacist", "admin"])
def test_other_roles_are_refused(web, web_as, role):
    web_as(role)
    for path in PAGES:
        assert web.get(path).status_code == 403, path
    assert web.post("/patient/notifications/read").status_code == 403


def test_patient_sees_every_page(web, web_as):
    web_as("patient")
    for path in PAGES:
        assert web.get(path).status_code == 200, path


def test_checklist_with_countdown_in_plain_words(web, factory):
    prescriber = factory.prescriber()
    patient = scenarios.cgp_in_window(factory, prescriber, confirmation_days_ago=2)
    web.sign_in(patient.user)
    page = text(web.get("/patient"))
    # R-CYC-2: the window runs from the confirmation test's day, both ends included
    left = program().cgp_window_days - 1 - 2
    closes = today() + timedelta(days=left)
    weekday = f"{closes:%A}, {closes:%b} {closes.day}"
    # a step is missing: the date is the deadline for the steps, not a promise of a fill
    assert f"Finish the steps below by {weekday}" in page and "can fill your prescription" not in page
    assert f"{left} days left." in page
    assert "To do: This month's questions and birth control confirmation" in page
    assert "Done: Informed consent" in page
    assert "Answer the questions" in page  # the link to do the missing step
    # the details read right to the patient too: no "The patient has not..." about themselves
    assert "This cycle's monthly attestation is not signed yet (3 attempts left)." in page
    assert "The patient" not in page
    scenarios.attest(patient)
    page = text(web.get("/patient"))
    assert "You're all set for this month" in page
    assert f"Your pharmacy can fill your prescription until {weekday}" in page


def test_consent_wrong_password_is_a_form_message(web, factory):
    patient = factory.patient(consent=False)
    web.sign_in(patient.user)
    resp = web.post("/patient/consent", {"understood": "y", "password": "not my password"})
    assert resp.status_code == 400
    assert "The password does not match; nothing was signed." in text(resp)
    assert db.session.get(Patient, patient.id).consent_signed_at is None
    resp = web.post("/patient/consent", {"password": PASSWORD})
    assert resp.status_code == 400 and "Tick the box" in text(resp)
    resp = web.post("/patient/consent", {"understood": "y", "password": PASSWORD})
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(Patient, patient.id).consent_signed_at is not None
    assert "You signed the consent" in text(web.get("/patient/consent"))


def test_minor_must_name_a_guardian(web, factory):
    dob = today().replace(year=today().year - 16)
    patient = factory.patient(consent=False, dob=dob)
    web.sign_in(patient.user)
    page = web.get("/patient/consent")
    assert "Parent or guardian" in text(page)
    resp = web.post("/patient/consent", {"understood": "y", "password": PASSWORD})
    assert resp.status_code == 400 and "guardian name is required" in text(resp)
    resp = web.post(
        "/patient/consent", {"understood": "y", "password": PASSWORD, "guardian_name": "Jo Parent"}
    )
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(Patient, patient.id).guardian_name == "Jo Parent"


def test_adult_sees_no_guardian_field(web, factory):
    web.sign_in(factory.patient(consent=False, dob=date(1990, 1, 1)).user)
    assert "guardian" not in text(web.get("/patient/consent"))


def _answers(user, correct=True):
    questions, _ = patient_self.comprehension(user)
    out = {}
    for q in questions:
        choice = next(c["id"] for c in q.choices if c["correct"] == correct)
        out[f"q{q.id}"] = choice
    return questions, out


def test_monthly_wrong_answers_show_explanations_and_attempts_left(web, factory):
    patient = scenarios.cgp_in_window(factory, factory.prescriber(), confirmation_days_ago=1)
    web.sign_in(patient.user)
    questions, wrong = _answers(patient.user, correct=False)
    resp = web.post(
        "/patient/monthly", dict(wrong, primary_forms="iud", secondary_forms="male_condom", password=PASSWORD)
    )
    assert resp.status_code == 400
    page = text(resp)
    assert f"{len(questions)} answers are not correct. Read the explanations and try again." in page
    assert "Some answers are not correct" not in page  # said once (it read "3 answers are not correct. Some...")
    assert "Tries left: 2" in page
    for q in questions:
        assert q.explanation in page
    html = resp.get_data(as_text=True)
    assert re.search(
        r'<input checked id="primary_forms-\d+" name="primary_forms" type="checkbox" value="iud">', html
    )
    assert not re.search(r'<input checked [^>]*value="combined_pill">', html)
    _, right = _answers(patient.user, correct=True)
    resp = web.post(
        "/patient/monthly", dict(right, primary_forms="iud", secondary_forms="male_condom", password=PASSWORD)
    )
    assert resp.status_code == 302
    assert "already answered this month's questions" in text(web.get("/patient/monthly"))


def test_monthly_contraception_and_password_errors_are_messages(web, factory):
    patient = scenarios.cgp_in_window(factory, factory.prescriber(), confirmation_days_ago=1)
    web.sign_in(patient.user)
    _, right = _answers(patient.user)
    resp = web.post("/patient/monthly", dict(right, secondary_forms="male_condom", password=PASSWORD))
    assert resp.status_code == 400 and "There is a problem" in text(resp)
    resp = web.post(
        "/patient/monthly",
        dict(right, primary_forms="iud", secondary_forms="male_condom", password="wrong password here"),
    )
    assert resp.status_code == 400 and "The password does not match" in text(resp)
    resp = web.post("/patient/monthly", {"primary_forms": "iud", "password": PASSWORD})
    assert resp.status_code == 400 and "Choose an answer" in text(resp)


def test_monthly_not_needed_for_ccgp(web, factory):
    patient = factory.patient(category="cannot_get_pregnant")
    web.sign_in(patient.user)
    resp = web.get("/patient/monthly")
    assert resp.status_code == 200 and "don't need to answer monthly questions" in text(resp)


def test_notifications_list_and_mark_read(web, factory):
    patient = factory.patient()
    db.session.add(
        Notification(
            user_id=patient.user_id,
            kind="window_closing",
            title="Your window closes soon",
            body="Your pharmacy can fill your prescription until Tuesday.",
        )
    )
    other = factory.patient()
    db.session.add(
        Notification(user_id=other.user_id, kind="x", title="Someone else's message", body="private")
    )
    db.session.commit()
    web.sign_in(patient.user)
    assert "You have 1 new message" in text(web.get("/patient"))
    page = text(web.get("/patient/notifications"))
    assert "Your window closes soon" in page and "New" in page
    assert "Someone else's message" not in page
    assert web.post("/patient/notifications/read").status_code == 302
    assert (
        db.session.execute(select(Notification).where(Notification.user_id == patient.user_id))
        .scalar_one()
        .read_at
        is not None
    )


def test_documents_list_and_download(web, factory):
    patient = factory.patient()
    other = factory.patient()
    web.sign_in(patient.user)
    page = text(web.get("/patient/documents"))
    assert "Informed consent" in page
    doc = db.session.execute(select(Document).where(Document.patient_id == patient.id)).scalar_one()
    resp = web.get(f"/documents/{doc.id}/pdf")
    if doc.status == "ready":
        assert resp.status_code == 200 and resp.mimetype == "application/pdf"
        assert resp.data.startswith(b"%PDF")
    else:
        assert resp.status_code == 409
    other_doc = db.session.execute(select(Document).where(Document.patient_id == other.id)).scalar_one()
    assert web.get(f"/documents/{other_doc.id}/pdf").status_code == 404
    assert web.get("/documents/abc/pdf").status_code == 404


def test_document_download_requires_sign_in(web):
    assert web.get("/documents/1/pdf").status_code == 302
