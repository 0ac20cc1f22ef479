"""R-REM-1 / R-REM-2: the reminder sweep and its delivery (in-process: task functions called directly)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from rems.extensions import db
from rems.models import Notification, ReminderSent
from rems.services import reminders
from tests.worker import scenarios as s
from workflows.messages import long


def _rows(kind=None):
    stmt = select(ReminderSent)
    if kind:
        stmt = stmt.where(ReminderSent.kind == kind)
    return db.session.execute(stmt).scalars().all()


def _new(counts):
    return {k: v for k, v in counts.items() if v}


def test_window_closing_attestation_and_prescriber_reminders_go_out_once(app, factory):
    """R-REM-1: window closes in 2 days, no RMA, attestation missing -> patient (window + attestation)
    and prescriber (unmet requirements). R-REM-2: a second sweep and a re-delivery send nothing."""
    pres = factory.prescriber()
    patient = s.cgp_in_window(factory, pres, confirmation_days_ago=4)  # window day 5 of 7: closes in 2 days
    closes = s.today() + timedelta(days=2)

    assert _new(reminders.sweep()) == {"window_closing": 1, "attestation_pending": 1,
                                       "patient_window_closing": 1}
    mails = s.inbox(app)
    by_to = {(m["To"], m["Subject"]): m for m in mails}
    assert len(mails) == 3
    closes_words = long(closes, s.today())
    closing = by_to[(patient.email, f"Your pharmacy can fill your prescription until {closes_words}")]
    body = s.text_of(closing)
    assert f"{closes:%A}, {closes:%b} {closes.day}" in body and "Hello Pat" in body
    assert "monthly attestation" in body  # the patient's missing step, in plain words
    doctor = next(m for m in mails if m["To"] == pres.user.email)
    assert patient.rems_id in doctor["Subject"] and "attestation" in s.text_of(doctor).lower()
    assert all(r.email_sent_at is not None and r.attempts == 1 for r in _rows())
    assert db.session.scalar(select(func.count(Notification.id)).where(
        Notification.user_id == patient.user_id,
        Notification.kind.in_(["window_closing", "attestation_pending"]))) == 2

    assert _new(reminders.sweep()) == {}
    for row in _rows():
        reminders.deliver_reminder(row.id)  # a redelivered task is a no-op
    assert len(s.inbox(app)) == 3
    assert db.session.scalar(select(func.count(Notification.id))) >= 3
    assert db.session.scalar(select(func.count(Notification.id))
                             .where(Notification.kind == "window_closing")) == 1


def test_no_window_reminder_before_the_lead_time_and_eligible_ccgp_gets_only_its_own(app, factory):
    """R-REM-1: a window closing in 6 days is not due yet; an eligible patient's prescriber is not
    bothered."""
    pres = factory.prescriber()
    s.cgp_in_window(factory, pres, confirmation_days_ago=0)  # closes in 6 days
    ccgp = s.ccgp_in_window(factory, pres, visit_days_ago=28)  # 30-day window, closes in 1 day, eligible
    counts = _new(reminders.sweep())
    assert counts == {"attestation_pending": 1, "window_closing": 1}
    (row,) = _rows("window_closing")
    assert row.recipient_id == ccgp.user_id and row.payload["eligible"] is True
    assert _rows("patient_window_closing") == []


def test_next_test_post_treatment_and_precaution_reminders(app, factory, travel):
    """R-REM-1: next monthly test due at RMA + 23 days; R-CON-3/R-END-2 precautions at the end of
    treatment; R-END-1 post-treatment test due at last dose + 30 days."""
    prog = reminders.clock.program()
    pres = factory.prescriber()
    ph, rsp = factory.pharmacy()
    patient, _ = s.cgp_authorized(factory, pres, ph, rsp)
    reminders.sweep()
    travel(prog.next_test_reminder_after_rma_days - 1)
    assert _new(reminders.sweep()).get("next_test_due") is None
    travel(1)
    assert _new(reminders.sweep()).get("next_test_due") == 1
    (row,) = _rows("next_test_due")
    assert row.payload["due"] == s.today().isoformat()
    assert "monthly pregnancy test" in s.text_of(s.inbox(app)[-1])

    s.end_treatment(patient, last_dose_days_ago=0)
    assert _new(reminders.sweep()) == {"post_treatment_precautions": 1}
    text = s.text_of(s.inbox(app)[-1])
    until = s.today() + timedelta(days=prog.post_treatment_contraception_days)
    assert "contraception" in text and "do not donate blood" in text and f"{until:%b} {until.day}" in text
    travel(prog.post_treatment_test_after_days - 1)
    assert _new(reminders.sweep()) == {}
    travel(1)
    assert _new(reminders.sweep()) == {"post_treatment_test_due": 1}
    assert _new(reminders.sweep()) == {}


def test_certification_expiry_reminders_for_prescriber_and_rsp(app, factory):
    """R-REM-1, R-PRES-1, R-PHAR-1: certification ends within 30 days -> one reminder each."""
    lead = reminders.clock.program().certification_expiry_reminder_days
    soon, later = factory.prescriber(), factory.prescriber()
    ph, rsp = factory.pharmacy()
    soon.certified_until = s.today() + timedelta(days=lead)
    later.certified_until = s.today() + timedelta(days=lead + 1)
    ph.certified_until = s.today() + timedelta(days=3)
    db.session.commit()
    assert _new(reminders.sweep()) == {"prescriber_certification_expiring": 1,
                                       "pharmacy_certification_expiring": 1}
    to = {m["To"]: m for m in s.inbox(app)}
    assert set(to) == {soon.user.email, rsp.email}
    assert ph.name in to[rsp.email]["Subject"]
    assert _new(reminders.sweep()) == {}


def test_suspended_accounts_get_no_reminders(app, factory):
    from rems.models import User

    pres = factory.prescriber()
    pres.certified_until = s.today() + timedelta(days=5)
    db.session.get(User, pres.user_id).status = "suspended"
    db.session.commit()
    assert _new(reminders.sweep()) == {}


def test_smtp_failure_counts_the_attempt_and_keeps_one_notification(app, factory):
    """R-REM-2: a failed send raises (the worker retries); the in-app notification exists once."""
    import socket

    pres = factory.prescriber()
    pres.certified_until = s.today() + timedelta(days=5)
    db.session.commit()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{closed_port}"
    reminders.sweep()  # in-process delivery fails and is logged, the row stays unsent
    (row,) = _rows()
    with pytest.raises(OSError):
        reminders.deliver_reminder(row.id)
    db.session.rollback()
    row = db.session.get(ReminderSent, row.id)
    assert row.email_sent_at is None and row.attempts == 2
    app.config["SMTP_URL"] = None
    reminders.deliver_reminder(row.id)
    assert db.session.get(ReminderSent, row.id).email_sent_at is not None
    assert len(s.inbox(app)) == 1
    assert db.session.scalar(select(func.count(Notification.id)).where(Notification.user_id == pres.user_id,
                                                                       Notification.kind != "x")) == 1


def test_a_row_recorded_but_never_delivered_is_picked_up_by_a_later_sweep(app, factory, travel):
    """R-REM-2: a crash between the sweep's commit and its enqueue leaves an unsent row; the next
    sweep past REDELIVER_AFTER queues it again, and it is sent once."""
    pres = factory.prescriber()
    pres.certified_until = s.today() + timedelta(days=5)
    db.session.commit()
    due = list(reminders.all_due(reminders.clock.now(), s.today(), reminders.clock.program()))
    assert [d.kind for d in due] == ["prescriber_certification_expiring"]
    reminders.record(due)
    db.session.commit()  # ... and the process dies before queueing the delivery
    assert s.inbox(app) == []
    assert reminders.sweep()["redelivered"] == 0  # too recent: maybe still in a queue
    travel(1)
    assert reminders.sweep()["redelivered"] == 1
    assert len(s.inbox(app)) == 1
    assert reminders.sweep()["redelivered"] == 0


def test_friendly_dates_use_the_program_day():
    from datetime import date

    assert long(date(2026, 12, 1), date(2026, 11, 28)) == "Tuesday, Dec 1"
    assert long(date(2027, 1, 5), date(2026, 12, 30)) == "Tuesday, Jan 5, 2027"


def test_cli_reminders_run_calls_the_sweep(app, factory, runner):
    import json

    pres = factory.prescriber()
    pres.certified_until = s.today() + timedelta(days=5)
    db.session.commit()
    from rems.cli import main

    result = runner.invoke(main, ["reminders", "run"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["prescriber_certification_expiring"] == 1
    assert len(s.inbox(app)) == 1


def test_precautions_after_a_late_end_of_treatment_name_their_last_day(app, factory, travel):
    """R-CON-3, R-END-2: the end of treatment may be recorded days after the last dose (R-TIME-2);
    the precautions reminder then names the day they end, never "30 more days" from the day it is
    read (QA 2026-11-26: sent 5 days late, it said "For 30 more days, until Mar 26", 25 days away).
    RFC 5322: the email carries its date, on the service's clock."""
    from email.utils import parsedate_to_datetime

    prog = reminders.clock.program()
    pres = factory.prescriber()
    ph, rsp = factory.pharmacy()
    patient, _ = s.cgp_authorized(factory, pres, ph, rsp)
    travel(10)
    s.end_treatment(patient, last_dose_days_ago=10)
    assert _new(reminders.sweep()) == {"post_treatment_precautions": 1}
    mail = s.inbox(app)[-1]
    until = s.today() + timedelta(days=prog.post_treatment_contraception_days - 10)
    body = s.text_of(mail)
    assert (f"Until {long(until, s.today())}, {prog.post_treatment_contraception_days} days "
            f"after your last dose:") in body
    assert "more days" not in body
    sent = parsedate_to_datetime(str(mail["Date"]))
    assert abs(sent - reminders.clock.now()) < timedelta(minutes=5)


def test_R_REM_2_the_in_app_copy_does_not_tell_the_signed_in_reader_to_sign_in(app, factory):
    """R-REM-2: a reminder is emailed and kept as an in-app notification. The in-app copy was the
    email's text, greeting and closing included ("sign in to see details", read signed in); it is
    now the content alone, and the email keeps both."""
    pres = factory.prescriber()
    patient = s.cgp_in_window(factory, pres, confirmation_days_ago=4)  # closes in 2 days, no attestation
    reminders.sweep()
    closing = next(m for m in s.inbox(app) if m["Subject"].startswith("Your pharmacy can fill"))
    email = s.text_of(closing)
    assert email.startswith("Hello Pat,") and "sign in to see details" in email
    notes = {n.kind: n for n in db.session.execute(
        select(Notification).where(Notification.user_id == patient.user_id)).scalars()}
    assert set(notes) == {"window_closing", "attestation_pending"}
    for note in notes.values():
        assert "sign in" not in note.body.lower() and "Hello" not in note.body and note.body == note.body.strip()
    body = notes["window_closing"].body
    assert body.startswith("Your pharmacy can fill your prescription until")
    # the same content, its steps one per line; kept to be read later, its day names its year
    from datetime import timedelta

    from workflows.messages import long
    today = reminders.clock.today()
    closes = today + timedelta(days=2)
    assert long(closes, None) in body
    assert body.replace(long(closes, None), long(closes, today)) in email.replace("\r\n", "\n")
    assert "\n  - " in body


def test_R_REM_1_the_test_reminder_comes_on_the_day_the_patient_page_names(app, factory, travel):
    """R-REM-1: the next monthly test reminder (previous RMA + 23 days) goes out on the day the
    patient's next steps name, and not before; it names no second "due" day beside the page's first
    useful day (QA: "on or after Jan 13" on the page, "due Jan 19" in the reminder)."""
    from rems.services import patients

    prog = reminders.clock.program()
    pres = factory.prescriber()
    ph, rsp = factory.pharmacy()
    patient, _ = s.cgp_authorized(factory, pres, ph, rsp)
    day = s.today() + timedelta(days=prog.next_test_reminder_after_rma_days)

    def steps():
        return " ".join(patients.patient_status(patient, "patient", reader=patient.user)["next_steps"])

    def promise():
        return f"If no test is recorded before {long(day, s.today())}, we will remind you that day."

    assert promise() in steps()
    travel(prog.next_test_reminder_after_rma_days - 1)
    assert promise() in steps()
    assert _new(reminders.sweep()).get("next_test_due") is None
    travel(1)
    assert s.today() == day and _new(reminders.sweep()).get("next_test_due") == 1
    assert "remind you" not in steps()  # sent: nothing more promised
    mail = s.inbox(app)[-1]
    assert mail["Subject"] == "Time for your monthly pregnancy test"
    text = s.text_of(mail)
    assert "due" not in text and "ask your prescriber to record the result" in text
