"""Messages for every role (rems/web/messages.py): the notifications the service writes to
prescribers, pharmacists and administrators (R-PT-4: a positive test stops the open RMAs and tells
the prescriber, the pharmacies and the administrators) were only emailed; no page showed them."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from rems.extensions import db
from rems.models import Notification
from rems.services import patients
from tests.web.conftest import text
from tests.worker import scenarios as s

MAIN = {"prescriber": "/prescriber/", "pharmacist": "/pharmacy", "admin": "/admin/"}


@pytest.fixture
def positive_test(factory):
    """R-PT-4: an RMA issued, then a positive test recorded: every role gets a notice."""
    admin = factory.admin()
    pres = factory.prescriber()
    ph, rsp = factory.pharmacy()
    patient, body = s.cgp_authorized(factory, pres, ph, rsp)
    rma = body["rma"]
    patients.record_test(pres.user, patient, {"kind": "monthly", "specimen_date": s.today(), "result": "positive",
                                              "setting": "medical"})
    return {"prescriber": pres.user, "pharmacist": rsp, "admin": admin, "rma": rma, "patient": patient}


@pytest.mark.parametrize("role", ["pharmacist", "prescriber", "admin"])
def test_each_role_reads_its_notices_on_its_main_page_and_its_messages_page(web, positive_test, role):
    user = positive_test[role]
    notes = db.session.execute(select(Notification).where(Notification.user_id == user.id)).scalars().all()
    assert notes, f"the {role} was notified (R-PT-4)"
    web.sign_in(user)
    main = web.get(MAIN[role])
    page = text(main)
    assert main.status_code == 200
    assert "New message" in page and notes[0].title in page and "Read your messages" in page
    assert 'href="/messages"' in main.get_data(as_text=True)  # in the header navigation too
    messages = text(web.get("/messages"))
    assert notes[0].title in messages and notes[0].body in messages and "New" in messages
    if role == "pharmacist":  # the pharmacy is told not to fill the RMA it holds
        assert f"Do not dispense {positive_test['rma']}" in page
    assert web.post("/messages/read").status_code == 302
    assert "New message" not in text(web.get(MAIN[role]))
    assert "New" not in text(web.get("/messages")).replace("New messages", "")
    db.session.expire_all()
    assert all(n.read_at is not None for n in
               db.session.execute(select(Notification).where(Notification.user_id == user.id)).scalars())


def test_messages_are_the_readers_own(web, positive_test, factory):
    """Another pharmacist (of another pharmacy) sees none of these notices; marking one's own
    messages read leaves everyone else's unread."""
    _, other = factory.pharmacy()
    web.sign_in(other)
    assert "Do not dispense" not in text(web.get("/messages"))
    assert "You have no messages yet" in text(web.get("/messages"))
    assert web.post("/messages/read").status_code == 302
    db.session.expire_all()
    for role in ("pharmacist", "prescriber", "admin"):
        uid = positive_test[role].id
        assert db.session.execute(select(Notification.read_at).where(Notification.user_id == uid)).scalars().all()
        assert all(r is None for r in db.session.execute(
            select(Notification.read_at).where(Notification.user_id == uid)).scalars())


def test_messages_need_a_signed_in_user_and_a_form_token(web, client, factory):
    assert web.get("/messages").status_code == 302
    assert web.get("/messages").headers["Location"].startswith("/sign-in")
    user = factory.prescriber().user
    web.sign_in(user)
    assert client.post("/messages/read").status_code == 400  # no CSRF token: refused


def test_the_patient_keeps_its_own_messages_page(web, factory):
    from rems.services import notify

    patient = factory.patient()
    web.sign_in(patient.user)
    assert "Reminders about your tests and pharmacy window will appear here." in text(web.get("/patient/notifications"))
    notify.notify(patient.user, "x", "Your window closes soon", "Two days left.")
    db.session.commit()
    html = web.get("/patient/notifications").get_data(as_text=True)
    assert 'action="/patient/notifications/read"' in html and "Your window closes soon" in html


def test_the_main_page_lists_the_three_newest_unread_and_says_when_there_are_more(web, factory):
    from rems.services import notify

    ph, rsp = factory.pharmacy()
    for n in range(5):
        notify.notify(rsp, "x", f"Notice number {n}", "Body.")
    db.session.commit()
    web.sign_in(rsp)
    page = text(web.get("/pharmacy"))
    shown = [n for n in range(5) if f"Notice number {n}" in page]
    assert len(shown) == 3 and "And more." in page and "New messages" in page
    notify.mark_all_read(rsp)
    notify.notify(rsp, "x", "The only new one", "Body.")
    db.session.commit()
    page = text(web.get("/pharmacy"))
    assert "New message The only new one" in page and "And more." not in page


def test_R_REM_2_a_reminder_read_in_the_app_does_not_ask_the_reader_to_sign_in(web, factory):
    """The in-app copy of a reminder ended with the email's "sign in to see details", read signed in
    (QA). Its lines (the steps still to do) keep their breaks on the page."""
    from rems.services import reminders

    patient = s.cgp_in_window(factory, factory.prescriber(), confirmation_days_ago=4)  # closes in 2 days
    reminders.sweep()
    web.sign_in(patient.user)
    resp = web.get("/patient/notifications")
    page = text(resp)
    assert "Your pharmacy can fill your prescription until" in page and "Your monthly attestation is waiting" in page
    assert "sign in" not in page.lower().replace("sign out", "") and "Hello Pat" not in page
    assert 'class="message-body"' in resp.get_data(as_text=True)
