"""Background work survives an outage (QA of 2026-11-26, operations pass): a mail server down for
longer than a delivery task's retries, a broker down when a request commits, a rate-limit storage
down at sign-in. The database is the schedule (architecture.md example 8): what it says was not
done, the next reminder sweep queues again."""
from __future__ import annotations

import socket

import pytest
from sqlalchemy import select

from rems.extensions import db
from rems.models import Document, Notification, ReminderSent
from rems.services import reminders
from tests.support.factories import PASSWORD
from tests.worker import scenarios as s


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _DownBroker:
    """A Celery client whose broker cannot be reached (what kombu raises after its publish retries)."""

    def __init__(self):
        self.sent = []

    def send_task(self, name, args=None, queue=None):
        raise ConnectionRefusedError(111, "Connection refused")


def test_a_reminder_whose_retries_ran_out_is_emailed_by_a_later_sweep(app, factory, travel):
    """R-REM-2: the mail server was down through the delivery task's retries (each counted as an
    attempt: a batch try and 1 + 8 Celery retries make 10). When it is back, a later sweep queues the
    row again and it is emailed once. Before the fix a cap of 10 attempts meant never."""
    from datetime import timedelta

    pres = factory.prescriber()
    pres.certified_until = s.today() + timedelta(days=5)
    db.session.commit()
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{_closed_port()}"
    reminders.sweep()  # the batch try fails and is logged (attempt 1)
    (row,) = db.session.execute(select(ReminderSent)).scalars().all()
    for _ in range(9):  # the single task and its 8 retries, all refused
        with pytest.raises(OSError):
            reminders.deliver_reminder(row.id)
        db.session.rollback()
    assert db.session.get(ReminderSent, row.id).attempts == 10
    assert s.inbox(app) == []

    app.config["SMTP_URL"] = None  # the mail server is back
    travel(1)
    assert reminders.sweep()["redelivered"] == 1
    (mail,) = s.inbox(app)
    assert mail["To"] == pres.user.email and "certification" in mail["Subject"]
    assert reminders.sweep()["redelivered"] == 0


def test_an_unsent_reminder_is_given_up_after_redeliver_for(app, factory, travel):
    """R-REM-2: redelivery has an end (REDELIVER_FOR): a reminder still unsent days later is stale."""
    from datetime import timedelta

    pres = factory.prescriber()
    pres.certified_until = s.today() + timedelta(days=5)
    db.session.commit()
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{_closed_port()}"
    reminders.sweep()
    app.config["SMTP_URL"] = None
    travel(3)
    assert reminders.sweep()["redelivered"] == 0
    assert s.inbox(app) == []


def test_a_broker_down_at_commit_answers_the_request_and_the_sweep_queues_the_work(
        app, client, factory, token_for, travel):
    """R-PT-4, R-DOC-1: the record is committed before its background work is queued. With the
    broker down the request answered 500 "nothing was saved" although the positive test and the
    consent were saved, and their notification emails and PDF were never queued again. Now the
    request answers as usual and the next sweep queues the work."""
    pres = factory.prescriber()
    patient = factory.patient(pres, "can_get_pregnant")
    other = factory.patient(pres, "can_get_pregnant", consent=False)
    doctor, own = token_for(pres.user), token_for(other.email)
    app.extensions["rems_celery_client"] = _DownBroker()

    resp = client.post(f"/api/v1/patients/{patient.rems_id}/pregnancy-tests", headers=doctor, json={
        "kind": "screening", "specimen_date": s.today().isoformat(), "result": "positive", "setting": "medical"})
    assert resp.status_code == 201, resp.get_json()
    resp = client.post("/api/v1/me/consent", headers=own, json={"signature": {"password": PASSWORD}})
    assert resp.status_code == 201, resp.get_json()
    document_id = resp.get_json()["document_id"]
    assert db.session.get(Document, document_id).status == "pending"
    notes = db.session.execute(select(Notification).where(Notification.kind == "pregnancy_reported")).scalars().all()
    assert notes and all(n.emailed_at is None for n in notes)

    del app.extensions["rems_celery_client"]  # the broker is back (in-process delivery)
    reminders.sweep()  # too recent: may still be in a queue
    assert db.session.get(Document, document_id).status == "pending"
    travel(1)
    reminders.sweep()
    db.session.expire_all()
    assert db.session.get(Document, document_id).status == "ready"
    assert all(n.emailed_at is not None for n in db.session.execute(
        select(Notification).where(Notification.kind == "pregnancy_reported")).scalars())
    sent = [m["To"] for m in s.inbox(app) if m["Subject"] == "Pregnancy reported"]
    assert pres.user.email in sent and len(sent) == len(set(sent))
    mails = len(s.inbox(app))
    reminders.sweep()
    assert len(s.inbox(app)) == mails  # nothing twice


def test_sign_in_works_while_the_rate_limit_storage_is_down(app, factory, database_url):
    """With Redis down the per-address limiter raised on every sign-in, activation and signature
    (500); the per-account lockout lives in the database and still applies."""
    from rems import create_app

    user = factory.prescriber().user
    down = create_app({"TESTING": True, "SECRET_KEY": "test-secret-key", "PASSWORD_HASH_FAST": True,
                       "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                       "INSTANCE_PATH": app.instance_path, "MAIL_DIR": app.config["MAIL_DIR"], "REDIS_URL": None,
                       "RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:{_closed_port()}/0"})
    db.session.commit()
    with down.app_context():
        resp = down.test_client().post("/api/v1/auth/token", json={"email": user.email, "password": PASSWORD})
        db.session.remove()
    assert resp.status_code == 201, resp.get_json()


def test_a_reminder_whose_day_passed_during_an_outage_is_dropped_not_sent_late(app, factory, travel):
    """R-REM-1/2: a window reminder still unsent after the window's last day (the mail server was
    down) would tell the patient their pharmacy can fill "until" a day gone by: its delivery drops
    it (dropped_at) and later sweeps stop re-queuing it. A reminder whose day has not passed (a
    certification ending in 5 days) is still sent late."""
    from datetime import timedelta

    pres = factory.prescriber()
    pres.certified_until = s.today() + timedelta(days=5)
    db.session.commit()
    closing = s.cgp_in_window(factory, pres, confirmation_days_ago=6)  # its window closes today
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{_closed_port()}"
    reminders.sweep()  # window_closing and the certification reminder; every delivery refused
    rows = {r.kind: r for r in db.session.execute(select(ReminderSent)).scalars()}
    assert {"window_closing", "prescriber_certification_expiring"} <= set(rows)
    assert s.inbox(app) == []
    app.config["SMTP_URL"] = None  # the mail server is back the next day: the window has closed
    travel(1)
    assert reminders.sweep()["redelivered"] >= 2
    sent = {m["To"] for m in s.inbox(app)}
    assert pres.user.email in sent and closing.email not in sent
    db.session.expire_all()
    window = db.session.get(ReminderSent, rows["window_closing"].id)
    assert window.dropped_at is not None and window.email_sent_at is None
    assert reminders.sweep()["redelivered"] == 0  # neither is queued again
