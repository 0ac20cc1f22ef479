"""R-REM-2 end to end: a REAL Celery worker subprocess on the local Redis, delivering through a
REAL SMTP server (aiosmtpd). Exactly once when swept twice, swept concurrently, when the worker is
SIGKILLed mid-batch and restarted, and when the SMTP server refuses twice before accepting."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from rems.extensions import db
from rems.models import Notification, ReminderSent
from rems.services import reminders
from tests.support import backends
from tests.worker import scenarios as s
from tests.worker.worker_proc import REDIS_URL, ROOT, Inbox, Worker, free_port, producer

pytestmark = pytest.mark.redis


@pytest.fixture
def broker():
    backends.require("redis")
    import redis

    prefix = f"rems-test-{uuid.uuid4().hex[:10]}:"
    client = redis.Redis.from_url(REDIS_URL)
    yield prefix
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


def _smtp(handler: Inbox):
    from aiosmtpd.controller import Controller

    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    return controller


@pytest.fixture
def run(app, broker, tmp_path):
    """run(inbox) -> a started worker whose mail goes to that inbox; the app sends to that worker."""
    started = []

    def start(inbox: Inbox, env: dict | None = None, queues: str = "default,pdf") -> Worker:
        smtp = _smtp(inbox)
        worker = Worker(app.config["SQLALCHEMY_DATABASE_URI"], f"smtp://127.0.0.1:{smtp.port}", broker,
                        tmp_path,
                        app.config.get("CLOCK_OFFSET_DAYS", 0), env, queues)
        started.append((worker, smtp))
        worker.start()
        app.extensions["rems_celery_client"] = producer(broker)
        return worker

    yield start
    app.extensions.pop("rems_celery_client", None)
    for worker, smtp in started:
        worker.stop()
        smtp.stop()


def _expiring_prescribers(factory, n: int) -> list:
    people = [factory.prescriber() for _ in range(n)]
    for p in people:
        p.certified_until = s.today() + timedelta(days=10)
    db.session.commit()  # the worker reads what the test committed
    return people


def _sent_rows():
    db.session.rollback()  # a fresh snapshot of what the worker committed
    return db.session.execute(select(ReminderSent).order_by(ReminderSent.id)).scalars().all()


def _settle(inbox: Inbox, expected: int, timeout: float = 20) -> list:
    """Wait for `expected` messages, then a little longer so a duplicate would have time to show."""
    inbox.wait_for(expected, timeout)
    time.sleep(1.0)
    return list(inbox.messages)


def test_due_reminders_reach_the_inbox_once_whatever_the_sweeps(app, factory, run):
    """R-REM-1/2: two sweeps at once, then a third: each due reminder is emailed exactly once."""
    pres = factory.prescriber()
    patient = s.cgp_in_window(factory, pres, confirmation_days_ago=4)
    people = _expiring_prescribers(factory, 3)
    inbox = Inbox()
    run(inbox)

    results, errors = [], []

    def sweep_in_thread():
        try:
            with app.app_context():
                results.append(reminders.sweep())
                db.session.remove()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=sweep_in_thread) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert sum(r["prescriber_certification_expiring"] for r in results) == 3  # recorded once in total
    assert sum(r["window_closing"] for r in results) == 1
    assert all(v == 0 for v in reminders.sweep().values())  # a third sweep finds nothing new

    expected = 3 + 3  # certification x3; patient window + attestation; prescriber window
    messages = _settle(inbox, expected)
    counts = Counter((m["To"], m["Subject"]) for m in messages)
    assert len(messages) == expected and set(counts.values()) == {1}, counts
    assert {p.user.email for p in people} | {patient.email, pres.user.email} == {m["To"] for m in messages}
    rows = _sent_rows()
    assert len(rows) == expected and all(r.email_sent_at is not None for r in rows)
    notes = db.session.execute(select(Notification.kind)).scalars().all()
    assert Counter(notes)["prescriber_certification_expiring"] == 3


def test_the_beat_sweep_sent_in_parts_emails_each_reminder_once(app, factory, run):
    """R-REM-1/2 with REMS_SWEEP_PARTS=2: the beat's "rems.reminder_sweep" sends two part tasks
    (which a worker's processes run at once), and each due reminder is emailed exactly once."""
    pres = factory.prescriber()
    patient = s.cgp_in_window(factory, pres, confirmation_days_ago=4)
    people = _expiring_prescribers(factory, 3)
    inbox = Inbox()
    worker = run(inbox, env={"REMS_SWEEP_PARTS": "2"})
    app.extensions["rems_celery_client"].send_task("rems.reminder_sweep", queue="default")
    expected = 3 + 3  # certification x3; patient window + attestation; prescriber window
    messages = _settle(inbox, expected)
    counts = Counter((m["To"], m["Subject"]) for m in messages)
    assert len(messages) == expected and set(counts.values()) == {1}, counts
    assert {p.user.email for p in people} | {patient.email, pres.user.email} == {m["To"] for m in messages}
    log = worker.log.read_text()
    assert log.count("Task rems.reminder_sweep_part[") >= 2 * 2, log[-3000:]  # received and succeeded, each
    assert len(_sent_rows()) == expected


def test_worker_killed_mid_batch_then_restarted_delivers_each_reminder_once(app, factory, run):
    """R-REM-2: late acks + reject on worker loss + an idempotent task: a SIGKILL in the middle of a
    batch loses nothing and duplicates nothing."""
    people = _expiring_prescribers(factory, 10)
    inbox = Inbox(ehlo_delay=0.3)
    killed = threading.Event()
    inbox.on_ehlo = lambda n: killed.set() if n == 4 else None  # 3 sent, the 4th is mid-delivery
    worker = run(inbox)
    reminders.sweep()
    assert killed.wait(20), "the worker never reached the 4th delivery"
    worker.kill()
    before = len(inbox.messages)
    assert 3 <= before < 10
    worker.start()  # the restarted worker gets the unacked message back after the visibility timeout
    messages = _settle(inbox, 10, timeout=30)
    counts = Counter(m["To"] for m in messages)
    assert set(counts) == {p.user.email for p in people}
    assert set(counts.values()) == {1}, counts
    assert all(r.email_sent_at is not None for r in _sent_rows())


def test_smtp_refusing_twice_then_accepting_gets_the_mail_once(app, factory, run):
    """R-REM-2: temporary SMTP failures are retried with backoff; the message is accepted once."""
    (person,) = _expiring_prescribers(factory, 1)
    inbox = Inbox(refuse=2)
    run(inbox)
    reminders.sweep()
    messages = _settle(inbox, 1, timeout=30)
    assert [m["To"] for m in messages] == [person.user.email]
    assert inbox.data_calls == 3
    (row,) = _sent_rows()
    assert row.email_sent_at is not None and row.attempts == 3
    assert db.session.scalar(select(Notification.id).where(Notification.user_id == person.user_id))


def test_positive_pregnancy_test_emails_go_through_the_worker(app, factory, run):
    """R-PT-4: the prescriber and the administrator are emailed at once, by the worker."""
    from rems.services import patients

    admin = factory.admin()
    pres = factory.prescriber()
    patient = factory.patient(pres, "can_get_pregnant")
    inbox = Inbox()
    run(inbox)
    patients.record_test(pres.user, patient, {"kind": "screening", "specimen_date": s.today(),
                                              "result": "positive", "setting": "medical"})
    messages = [m for m in _settle(inbox, 2) if m["Subject"] == "Pregnancy reported"]
    assert sorted(m["To"] for m in messages) == sorted([pres.user.email, admin.email])


def test_heartbeat_makes_healthz_report_the_worker(app, run, client):
    """The beat-scheduled heartbeat leaves an expiring key that /healthz reads."""
    import redis

    key = "rems:worker:heartbeat"  # rems/health.py and worker/celery_app.py
    r = redis.Redis.from_url(REDIS_URL)
    r.delete(key)
    app.config["REDIS_URL"] = REDIS_URL
    assert client.get("/healthz").get_json()["worker"] == "none seen"
    run(Inbox())
    app.extensions["rems_celery_client"].send_task("rems.heartbeat", queue="default")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not r.exists(key):
        time.sleep(0.1)
    assert 0 < r.ttl(key) <= 180
    health = client.get("/healthz").get_json()
    assert health["broker"] == "ok" and health["worker"] == "ok"
    r.delete(key)
    r.close()


def test_each_queue_has_its_own_heartbeat_so_a_stopped_pdf_worker_shows(app, run, client):
    """/healthz reports the pdf queue's workers apart (`pdf_worker`): a worker of the default queue
    alone said "worker: ok" while no PDF was being rendered (QA 2026-11-26). A worker announces the
    queues it consumes when it starts; beat sends a heartbeat to each queue."""
    import redis

    keys = {"worker": "rems:worker:heartbeat", "pdf_worker": "rems:worker:heartbeat:pdf"}
    r = redis.Redis.from_url(REDIS_URL)
    r.delete(*keys.values())
    app.config["REDIS_URL"] = REDIS_URL
    schedule = subprocess.run(  # the deployed beat schedule: one heartbeat per queue
        [sys.executable, "-c", "from worker.celery_app import app; s = app.conf.beat_schedule; "
         "print(s['worker-heartbeat']['task'], s['pdf-worker-heartbeat']['args'], "
         "s['pdf-worker-heartbeat']['options'])"],
        cwd=ROOT, capture_output=True, text=True, env={**os.environ, "REMS_REDIS_URL": REDIS_URL})
    assert schedule.stdout.split("\n")[0] == "rems.heartbeat ('pdf',) {'queue': 'pdf'}", schedule.stderr[-2000:]
    worker = run(Inbox(), queues="default")  # no pdf worker
    health = client.get("/healthz").get_json()
    assert health["worker"] == "ok" and health["pdf_worker"] == "none seen"
    app.extensions["rems_celery_client"].send_task("rems.heartbeat", args=["pdf"], queue="pdf")
    time.sleep(1.5)  # nobody consumes the pdf queue: the key stays unset
    assert client.get("/healthz").get_json()["pdf_worker"] == "none seen"
    worker.stop()
    r.delete(*keys.values())
    run(Inbox(), queues="pdf")  # a pdf worker alone: it takes the queued heartbeat and announces itself
    health = client.get("/healthz").get_json()
    assert health["pdf_worker"] == "ok" and health["worker"] == "none seen"
    assert 0 < r.ttl(keys["pdf_worker"]) <= 180
    r.delete(*keys.values())
    r.close()


def test_beat_scheduled_audit_anchor_copies_the_head_outside_the_database(app, run, factory, tmp_path):
    """R-AUD-1: the worker's "rems.audit_anchor" task (beat, every 5 minutes) appends the chain's
    head to the anchor file, and only when the head moved."""
    factory.prescriber()
    path = tmp_path / "audit-anchors.jsonl"
    worker = run(Inbox())
    schedule = subprocess.run(  # the deployed app's beat schedule, read in the worker's environment
        [sys.executable, "-c", "from worker.celery_app import app; "
         "e = app.conf.beat_schedule['audit-anchor']; print(e['task'], e['schedule'].total_seconds())"],
        env=worker.env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=True)
    assert schedule.stdout.split() == ["rems.audit_anchor", "300.0"]

    def anchors_after_task(n):
        app.extensions["rems_celery_client"].send_task("rems.audit_anchor", queue="default")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            lines = path.read_text().splitlines() if path.exists() else []
            if len(lines) >= n:
                return lines
            time.sleep(0.1)
        return path.read_text().splitlines() if path.exists() else []

    from rems.services import audit

    head = audit.head()
    first = anchors_after_task(1)
    assert len(first) == 1 and json.loads(first[0])["id"] == head[0]
    assert json.loads(first[0])["entry_hash"] == head[1]
    # the head did not move: the task appends nothing. The worker runs one task at a time, in
    # order (-c 1, prefetch 1): once a heartbeat sent after it has run, the anchor task has run too
    import redis

    r = redis.Redis.from_url(REDIS_URL)
    r.delete("rems:worker:heartbeat")
    app.extensions["rems_celery_client"].send_task("rems.audit_anchor", queue="default")
    app.extensions["rems_celery_client"].send_task("rems.heartbeat", queue="default")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not r.exists("rems:worker:heartbeat"):
        time.sleep(0.1)
    assert r.exists("rems:worker:heartbeat")
    r.close()
    assert len(path.read_text().splitlines()) == 1
    factory.prescriber()
    second = anchors_after_task(2)
    assert len(second) == 2 and json.loads(second[1])["id"] == audit.head()[0] > head[0]
    assert audit.verify(str(path))["anchors_checked"] == 2
