"""The Celery app bound to the Flask app (Flask `docs/patterns/celery.rst`, `celery_init_app`).

Every task runs inside `app.app_context()`, takes IDs and re-loads its rows, and wraps the rems
service function that `rems.tasks.resolve(name)` names, so the in-process path (no Redis) and
the worker run the same code. Reliability settings: late acks + reject on worker loss (a task
killed mid-way is redelivered), prefetch 1, JSON only. Beat is the clock and the database is the
schedule (architecture.md example 8): it only triggers the reminder sweep, the audit anchor and
the heartbeat.
"""
from __future__ import annotations

import smtplib
from datetime import UTC, datetime, timedelta

from celery import Celery, Task
from celery.signals import worker_ready
from flask import Flask

from rems import create_app
from rems.health import HEARTBEAT_KEYS  # read back by /healthz
from rems.tasks import TASKS, resolve

HEARTBEAT_EVERY_SECONDS = 60
HEARTBEAT_TTL_SECONDS = 3 * HEARTBEAT_EVERY_SECONDS
SWEEP_EVERY = timedelta(minutes=15)
ANCHOR_EVERY = timedelta(minutes=5)
PDF_SOFT_LIMIT_SECONDS = 60
PDF_HARD_LIMIT_SECONDS = 90
MAIL_RETRIES = 8
MAIL_ERRORS = (smtplib.SMTPException, OSError)


def celery_config(app: Flask) -> dict:
    url = app.config.get("REDIS_URL")
    if not url:
        raise RuntimeError("the worker needs REMS_REDIS_URL (its broker)")
    return {
        "broker_url": url,
        "result_backend": None,
        "task_ignore_result": True,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_acks_late": True,  # a message is acked only once its task finished
        "task_reject_on_worker_lost": True,  # ... and redelivered if the worker died under it
        "worker_prefetch_multiplier": 1,
        "task_default_queue": "default",
        "task_routes": {name: {"queue": queue} for name, (_, queue) in TASKS.items()},
        "broker_connection_retry_on_startup": True,
        "worker_hijack_root_logger": False,
        "timezone": "UTC",
        "beat_schedule": {
            "reminder-sweep": {"task": "rems.reminder_sweep", "schedule": SWEEP_EVERY},
            "worker-heartbeat": {"task": "rems.heartbeat", "schedule": HEARTBEAT_EVERY_SECONDS},
            "pdf-worker-heartbeat": {"task": "rems.heartbeat", "schedule": HEARTBEAT_EVERY_SECONDS,
                                     "args": ("pdf",), "options": {"queue": "pdf"}},
            "audit-anchor": {"task": "rems.audit_anchor", "schedule": ANCHOR_EVERY},
        },
    }


def celery_init_app(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.conf.update(celery_config(app))
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    # services inside the worker (a sweep queueing deliveries) send through this same app
    app.extensions["rems_celery_client"] = celery_app
    return celery_app


flask_app = create_app()
app = celery_init_app(flask_app)
_mail_retry = {"autoretry_for": MAIL_ERRORS, "retry_backoff": True, "retry_backoff_max": 600,
               "retry_jitter": True, "max_retries": MAIL_RETRIES}


@app.task(name="rems.render_document", queue="pdf", soft_time_limit=PDF_SOFT_LIMIT_SECONDS,
          time_limit=PDF_HARD_LIMIT_SECONDS, autoretry_for=(OSError,), max_retries=3, retry_backoff=True)
def render_document(document_id: int) -> None:
    """R-DOC-1: render one signature's PDF (idempotent: a ready document is left alone)."""
    resolve("rems.render_document")(document_id)


@app.task(name="rems.deliver_reminder", queue="default", **_mail_retry)
def deliver_reminder(reminder_id: int) -> None:
    """R-REM-2: email + in-app notification of one reminder row, once."""
    resolve("rems.deliver_reminder")(reminder_id)


@app.task(name="rems.deliver_reminders", queue="default")
def deliver_reminders(reminder_ids: list[int]) -> None:
    """R-REM-2: a sweep's batch of reminder rows; a row whose delivery failed goes on as a single
    "rems.deliver_reminder" task, which retries with backoff."""
    for reminder_id in resolve("rems.deliver_reminders")(reminder_ids):
        deliver_reminder.delay(reminder_id)


@app.task(name="rems.deliver_notification", queue="default", **_mail_retry)
def deliver_notification(notification_id: int) -> None:
    """R-PT-4 and other notifications: email one notification, once."""
    resolve("rems.deliver_notification")(notification_id)


@app.task(name="rems.reminder_sweep", queue="default")
def reminder_sweep() -> dict:
    """R-REM-1: select due reminders, record them once, queue their delivery after commit. With
    SWEEP_PARTS > 1 (REMS_SWEEP_PARTS) the sweep is sent on as that many part tasks instead,
    which the workers' processes run at once (each records its own courses' reminders)."""
    from rems.services.reminders import sweep

    parts = flask_app.config["SWEEP_PARTS"]
    if parts == 1:
        return sweep()
    for part in range(parts):
        reminder_sweep_part.delay(part, parts)
    return {"parts": parts}


@app.task(name="rems.reminder_sweep_part", queue="default")
def reminder_sweep_part(part: int, of: int) -> dict:
    """R-REM-1, R-REM-2: one part of a sweep (reminders_due.Shard: the courses whose hashed id falls
    in `part` of `of`); idempotent like the whole sweep: a row already recorded is not recorded again."""
    from rems.services.reminders import Shard, sweep

    return sweep(Shard(part, of))


@app.task(name="rems.audit_anchor", queue="default")
def audit_anchor() -> dict | None:
    """R-AUD-1: copy the audit chain's head to AUDIT_ANCHOR_FILE, outside the database
    (idempotent: an unchanged head is not copied again)."""
    from rems.services.audit import anchor

    return anchor(flask_app.config["AUDIT_ANCHOR_FILE"])


@app.task(name="rems.heartbeat", queue="default")
def heartbeat(queue: str = "default") -> None:
    """Mark the workers of `queue` alive for /healthz: a key that expires unless a worker of that
    queue keeps renewing it (beat sends one heartbeat to each queue)."""
    import redis

    key = HEARTBEAT_KEYS.get(queue)
    if key is None:
        return
    client = redis.Redis.from_url(flask_app.config["REDIS_URL"])
    client.set(key, datetime.now(UTC).isoformat(), ex=HEARTBEAT_TTL_SECONDS)
    client.close()


def _consumed(consumer) -> set[str]:
    """The queues a starting worker consumes (-Q); "default" when Celery does not say."""
    try:
        return {q.name for q in consumer.task_consumer.queues}
    except AttributeError:
        return {"default"}


@worker_ready.connect
def _announce(sender=None, **_kwargs) -> None:
    """A worker that just started is alive at once, for each queue it consumes, without waiting for
    beat's next heartbeats."""
    for queue in sorted(_consumed(sender) & set(HEARTBEAT_KEYS)):
        heartbeat(queue)
