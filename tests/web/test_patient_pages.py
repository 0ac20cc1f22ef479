"""Patient pages: access matrix, checklist with countdown, consent, monthly questions,
notifications, documents."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from rems.clock import now as clock_now
from rems.clock import program, today
from rems.extensions import db
from rems.models import AttestationFailure, Course, Document, Notification, Patient
from rems.services import patient_self, patients
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


def test_rows_the_patient_can_only_wait_for_read_not_yet(web, factory):
    """R-RMA-2, R-RMA-3: right after a fill, "Time since your last fill" and the fill already made
    are not tasks for the patient: the checklist says "not yet", the rest stays "to do" (QA)."""
    prescriber = factory.prescriber()
    patient = scenarios.ccgp_in_window(factory, prescriber, visit_days_ago=0)
    pharmacy, rsp = factory.pharmacy()
    scenarios.authorize(patient, pharmacy, rsp)
    web.sign_in(patient.user)
    page = web.get("/patient").get_data(as_text=True)
    body = text(web.get("/patient"))
    assert "Not yet, nothing to do: Time since your last fill" in body
    # the open RMA is named as what it is (it read "Prescription not yet filled this month" right
    # after the fill, contradicting its own detail; QA 2026-11-26)
    assert "Not yet, nothing to do: Your current prescription is still valid" in body
    assert "not yet filled" not in body
    assert "To do: Visit with your prescriber" in body
    assert "To do: Time since" not in body and "checklist__item--wait" in page


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


def _failures(patient) -> int:
    return db.session.scalar(
        select(db.func.count(AttestationFailure.id)).join(Course).where(Course.patient_id == patient.id)
    )


def _try(web, answers, password=PASSWORD):
    return web.post(
        "/patient/monthly", dict(answers, primary_forms="iud", secondary_forms="male_condom", password=password)
    )


def test_R_ATT_2_wrong_answers_redirect_and_a_reload_uses_no_other_try(web, factory):
    """R-ATT-2 (QA: a reload after wrong answers re-sent them and used up another try): the failed
    try answers with a redirect (Post/Redirect/Get); the page it leads to, however often it is
    reloaded, shows which questions were wrong, why, and the tries left, never the right choice."""
    patient = scenarios.cgp_in_window(factory, factory.prescriber(), confirmation_days_ago=1)
    web.sign_in(patient.user)
    questions, wrong = _answers(patient.user, correct=False)
    resp = _try(web, wrong)
    assert resp.status_code == 303 and resp.headers["Location"] == "/patient/monthly"
    for _reload in range(3):
        resp = web.get("/patient/monthly")
        assert resp.status_code == 200
        page = text(resp)
        assert f"{len(questions)} answers are not correct. Read the explanations and try again." in page
        assert "Some answers are not correct" not in page  # said once (it read "3 answers are not correct. Some...")
        assert "Tries left: 2" in page and "You have 2 tries left this month." in page
        assert page.count("Your last answer to this question was not correct.") == len(questions)
        for q in questions:
            assert q.explanation in page
        # nothing is ticked: the page does not point at any choice, right or wrong
        assert " checked" not in resp.get_data(as_text=True)
    assert _failures(patient) == 1
    _, right = _answers(patient.user, correct=True)
    resp = _try(web, right)
    assert resp.status_code == 303 and resp.headers["Location"] == "/patient"
    assert "Done. Your answers and birth control confirmation are signed for this month." in text(web.get("/patient"))
    page = text(web.get("/patient/monthly"))
    assert "already answered this month's questions" in page and "not correct" not in page


def test_R_ATT_2_only_the_questions_answered_wrong_are_marked(web, factory):
    """One wrong answer: that question alone is marked, with its explanation; the singular reads right."""
    patient = scenarios.cgp_in_window(factory, factory.prescriber(), confirmation_days_ago=1)
    web.sign_in(patient.user)
    questions, answers = _answers(patient.user, correct=True)
    first = questions[0]
    answers[f"q{first.id}"] = next(c["id"] for c in first.choices if not c["correct"])
    assert _try(web, answers).status_code == 303
    resp = web.get("/patient/monthly")
    page = text(resp)
    assert "1 answer is not correct. Read the explanations and try again." in page
    assert page.count("Your last answer to this question was not correct.") == 1
    assert first.explanation in page and all(q.explanation not in page for q in questions[1:])
    html = resp.get_data(as_text=True)
    assert re.search(rf'<fieldset class="field field--choices\s+field--error" id="q{first.id}"', html)
    assert len(re.findall(r'class="field field--choices\s+field--error"', html)) == 1


def test_R_ATT_2_locked_out_patient_is_told_to_ask_the_prescriber(web, factory):
    """R-ATT-2: after 3 failed tries the monthly page has no form, the checklist no "Answer the
    questions" button, and "What to do next" says to ask the prescriber; a new counseling record
    gives the tries (and the button) back."""
    prescriber = factory.prescriber()
    patient = scenarios.cgp_in_window(factory, prescriber, confirmation_days_ago=1)
    web.sign_in(patient.user)
    _, wrong = _answers(patient.user, correct=False)
    for _ in range(3):
        assert _try(web, wrong).status_code == 303
    resp = web.get("/patient/monthly")
    page = text(resp)
    assert "answers are not correct. Your prescriber must counsel you again before you can retry." in page
    assert ("You have used all your tries for this month. Ask your prescriber to go over the questions "
            "with you again; then you can try again.") in page
    assert "Sign my answers" not in page and "Tries left" not in page
    # a page left open from before: sending it again uses up nothing
    resp = _try(web, wrong)
    assert resp.status_code == 400 and "Sign my answers" not in text(resp)
    assert _failures(patient) == 3
    home = text(web.get("/patient"))
    assert "Answer the questions" not in home
    assert ("What to do next You have used all 3 tries at this month's questions. Ask your prescriber to go "
            "over the questions with you again; then you can try again.") in home
    patients.record_visit(prescriber.user, db.session.get(Patient, patient.id),
                          {"visit_date": today(), "counseled": True, "signature": {"password": PASSWORD}})
    home = text(web.get("/patient"))
    assert "Answer the questions" in home and "Ask your prescriber" not in home
    page = text(web.get("/patient/monthly"))
    assert "You have 3 tries left this month." in page and "not correct" not in page


def test_R_CYC_2_patient_is_told_to_get_the_test_now_not_on_a_past_date(web, factory):
    """QA: the first day a confirmation test can count was 6 days ago; the patient reads "now" (the
    prescriber's next step keeps the date: it says which tests already collected count)."""
    prescriber = factory.prescriber()
    patient = factory.patient(prescriber)
    user = prescriber.user
    patients.record_contraception(user, patient, {"start_date": scenarios.ago(60), "forms": scenarios.FORMS})
    patients.record_test(user, patient, {"kind": "screening", "specimen_date": scenarios.ago(40),
                                         "result": "negative", "setting": "medical"})
    web.sign_in(patient.user)
    page = text(web.get("/patient"))
    assert "What to do next Get your confirmation pregnancy test now." in page
    assert "Get your confirmation pregnancy test on or after" not in page
    status = patients.patient_status(db.session.get(Patient, patient.id), "prescriber", audit_read=False)
    first = scenarios.ago(program().cgp_window_days - 1)
    assert (f"Record a negative confirmation pregnancy test (medical setting) collected on or after "
            f"{first:%b} {first.day}.") in status["next_steps"]


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


def test_steps_done_but_the_next_fill_not_allowed_yet_give_its_day(web, factory, travel):
    """R-RMA-3: every step of the cycle done, the pharmacy may fill only from the day 75% of the last
    supply has elapsed. The page gives that day and sets no deadline for steps (QA 2026-11-26: "Finish
    the steps below by ..." with none left, and no word of when the pharmacy could fill)."""
    from workflows.messages import long

    prescriber = factory.prescriber()
    patient = scenarios.cgp_in_window(factory, prescriber, confirmation_days_ago=0)
    scenarios.attest(patient)
    pharmacy, rsp = factory.pharmacy()
    scenarios.authorize(patient, pharmacy, rsp)  # 30 days' supply: next fill from today + 23
    travel(18)
    patients.record_visit(prescriber.user, patient, {"visit_date": today(), "counseled": True,
                                                     "signature": scenarios.SIG})
    patients.record_test(prescriber.user, patient, {"kind": "monthly", "specimen_date": today(),
                                                    "result": "negative", "setting": "medical"})
    scenarios.attest(patient)
    web.sign_in(patient.user)
    page = text(web.get("/patient"))
    assert "Finish the steps below" not in page and "To do:" not in page
    fill, closes = today() + timedelta(days=5), today() + timedelta(days=6)
    assert (f"Your pharmacy can fill your next prescription from {long(fill, today())} "
            f"until {long(closes, today())}.") in page


def test_after_the_last_dose_the_page_no_longer_counts_months_of_treatment(web, factory, travel):
    """R-END-1: after the last dose the page says treatment ended (not "Month 2 of treatment"), names
    the post-treatment test in plain words, and says when the course is complete (QA 2026-11-26)."""
    prescriber = factory.prescriber()
    patient = scenarios.cgp_in_window(factory, prescriber, confirmation_days_ago=0)
    scenarios.attest(patient)
    pharmacy, rsp = factory.pharmacy()
    scenarios.authorize(patient, pharmacy, rsp)
    scenarios.end_treatment(patient, last_dose_days_ago=0)
    web.sign_in(patient.user)
    page = text(web.get("/patient"))
    assert "Treatment ended" in page and "of treatment" not in page and "This month's steps" not in page
    assert "To do: Pregnancy test after your last dose" in page and "course is complete" not in page
    travel(program().post_treatment_test_after_days)
    patients.record_test(prescriber.user, patient, {"kind": "post_treatment", "specimen_date": today(),
                                                    "result": "negative", "setting": "medical"})
    page = text(web.get("/patient"))
    assert "Your treatment course is complete." in page and "Done: Pregnancy test after your last dose" in page


@pytest.fixture
def pending_pdf(web, factory):
    """A patient signed in whose consent's PDF is still pending (R-DOC-1), and that document."""
    patient = factory.patient()
    doc = db.session.execute(select(Document).where(Document.patient_id == patient.id)).scalar_one()
    doc.status, doc.pdf, doc.sha256 = "pending", None, None
    db.session.commit()
    web.sign_in(patient.user)
    return doc


def _queue_workers(app, monkeypatch, redis_url, heartbeat: bool | None):
    """The app as with REMS_REDIS_URL: tasks go to Celery workers (rems.tasks.init_app), whose pdf
    heartbeat is a key of this test's own (set or not); `heartbeat` None: nothing is read."""
    monkeypatch.setitem(app.extensions, "rems_celery_client", object())
    monkeypatch.setitem(app.config, "REDIS_URL", redis_url)
    if heartbeat is None:
        return
    import uuid

    import redis

    from rems import health

    key = f"rems-test-wording-{uuid.uuid4().hex}:heartbeat:pdf"
    monkeypatch.setitem(health.HEARTBEAT_KEYS, "pdf", key)
    if heartbeat:
        with redis.Redis.from_url(redis_url) as client:
            client.set(key, "seen", ex=60)


def _gets(monkeypatch) -> list:
    """The Redis commands the page sends (connection set-up aside)."""
    import redis

    sent, execute = [], redis.Redis.execute_command

    def counting(self, *args, **options):
        sent.append(args[0])
        return execute(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", counting)
    return sent


IN_A_MINUTE = "Being prepared The PDF is usually ready within a minute."
RECORD = "The signed record itself is already valid and stored; the PDF is its printable copy."


def test_R_DOC_1_a_pending_pdf_in_process_is_usually_ready_within_a_minute(web, pending_pdf):
    """No broker (the embedded default): the signing request renders the PDF right after its commit;
    a PDF pending for long says so, and the signature is the record (R-SIG-1)."""
    page = text(web.get("/patient/documents"))
    assert IN_A_MINUTE in page and RECORD in page and "will be ready in a minute" not in page
    resp = web.get(f"/documents/{pending_pdf.id}/pdf")  # its download, asked for anyway
    assert resp.status_code == 409 and "The signed record itself is valid and stored" in text(resp)
    assert "in a minute" not in text(resp)
    pending_pdf.created_at = clock_now() - timedelta(minutes=11)
    db.session.commit()
    page = text(web.get("/patient/documents"))
    assert "Delayed This is taking longer than usual: it has waited since" in page
    assert "please contact the program" in page and "within a minute" not in page and RECORD in page


def test_R_DOC_1_a_pending_pdf_with_a_pdf_worker_seen_is_usually_ready_within_a_minute(
        app, web, pending_pdf, monkeypatch):
    """REMS_REDIS_URL set and the pdf queue's heartbeat seen (/healthz's pdf_worker): one GET."""
    from tests.support import backends

    backends.require("redis")
    _queue_workers(app, monkeypatch, backends.REDIS_URL, heartbeat=True)
    sent = _gets(monkeypatch)
    page = text(web.get("/patient/documents"))
    assert IN_A_MINUTE in page and RECORD in page and sent == ["GET"]
    pending_pdf.created_at = clock_now() - timedelta(minutes=11)
    db.session.commit()
    page = text(web.get("/patient/documents"))
    assert "Delayed This is taking longer than usual: it has waited since" in page
    assert "The PDF will appear here once it is ready." in page and "within a minute" not in page


def test_R_DOC_1_a_pending_pdf_with_no_pdf_worker_seen_is_queued_until_processing_resumes(
        app, web, pending_pdf, monkeypatch):
    """The pdf worker is down: the page said the PDF would be ready "in a minute" (QA)."""
    from rems.web.helpers import long_datetime
    from tests.support import backends

    backends.require("redis")
    _queue_workers(app, monkeypatch, backends.REDIS_URL, heartbeat=False)
    page = text(web.get("/patient/documents"))
    assert ("Queued It is queued: document processing is paused at the moment, and the PDF will appear "
            "here when it resumes.") in page
    assert RECORD in page and "minute" not in page
    pending_pdf.created_at = clock_now() - timedelta(minutes=30)
    db.session.commit()
    page = text(web.get("/patient/documents"))
    assert f"Delayed It is queued since {long_datetime(pending_pdf.created_at)}: document processing is paused" in page


def test_R_DOC_1_the_documents_page_renders_when_redis_does_not_answer(app, web, pending_pdf, monkeypatch):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    _queue_workers(app, monkeypatch, f"redis://127.0.0.1:{closed}/0", heartbeat=None)
    resp = web.get("/patient/documents")
    page = text(resp)
    assert resp.status_code == 200
    assert "Queued It is queued: we cannot check document processing right now" in page and RECORD in page


def test_R_DOC_1_no_pending_pdf_no_redis_read(app, web, factory, monkeypatch):
    """Every PDF ready: the page asks Redis nothing."""
    from tests.support import backends

    patient = factory.patient()
    web.sign_in(patient.user)
    _queue_workers(app, monkeypatch, backends.REDIS_URL, heartbeat=None)
    sent = _gets(monkeypatch)
    page = text(web.get("/patient/documents"))
    assert "Informed consent" in page and "Being prepared" not in page and "Queued" not in page
    assert sent == []


WEEKDAY_DATE = re.compile(r"\b(Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)(day)?, ([A-Z][a-z]{2}) (\d{1,2})(, (\d{4}))?")


def test_the_patient_pages_give_a_day_in_one_form(web, factory):
    """QA: the page said "Your pharmacy can fill your prescription until Monday, Nov 30" above "Pick up
    your prescription by Mon, Nov 30, 2026" (the engine's next steps). Every day with its weekday on
    the patient's pages is now written one way (workflows.messages.long): the weekday in full, the year
    only when it is not this year's, as the engine's sentences do for dates of another year."""
    from rems.web.helpers import long_date

    patient = scenarios.cgp_in_window(factory, factory.prescriber(), confirmation_days_ago=1)
    scenarios.attest(patient)
    web.sign_in(patient.user)
    closes = today() + timedelta(days=program().cgp_window_days - 2)
    home = text(web.get("/patient"))
    assert f"Your pharmacy can fill your prescription until {long_date(closes)}." in home
    assert f"Pick up your prescription by {long_date(closes)}." in home
    found = []
    for path in ("/patient", "/patient/documents", "/patient/consent", "/patient/notifications"):
        found += WEEKDAY_DATE.findall(text(web.get(path)))
    assert len(found) >= 4
    for name, suffix, month, day, _, year in found:
        assert suffix == "day", f"{name}, {month} {day}: the weekday abbreviated"
        assert not year or int(year) != today().year, f"{month} {day}, {year}: this year named"
        # no year: this year's day (its weekday says so)
        assert f"{datetime.strptime(f'{month} {day} {year or today().year}', '%b %d %Y'):%A}".startswith(name)
