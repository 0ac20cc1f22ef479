"""Background work queued by services and sent only after the transaction commits.

With `REMS_REDIS_URL` set, tasks go to the Celery workers on Redis (by name: rems does not import
worker/). Without it, the same task functions run in-process right after the commit, so the
embedded default still does everything. Tasks take IDs and are idempotent.
"""
from __future__ import annotations

import importlib
from contextlib import contextmanager

from flask import current_app, g

from rems.extensions import db

# task name -> (implementing function "module:function", queue)
TASKS: dict[str, tuple[str, str]] = {
    "rems.render_document": ("rems.services.documents:render_document", "pdf"),
    "rems.deliver_reminder": ("rems.services.reminders:deliver_reminder", "default"),
    "rems.deliver_reminders": ("rems.services.reminders:deliver_reminders", "default"),
    "rems.deliver_notification": ("rems.services.notify:deliver_notification", "default"),
}


def resolve(name: str):
    module, func = TASKS[name][0].split(":")
    return getattr(importlib.import_module(module), func)


def enqueue(name: str, *args) -> None:
    """Queue a task to be sent after the current unit of work commits."""
    if name not in TASKS:
        raise KeyError(name)
    g.setdefault("rems_pending_tasks", []).append((name, args))


def flush() -> None:
    pending = g.pop("rems_pending_tasks", [])
    for name, args in pending:
        send(name, *args)


def discard() -> None:
    g.pop("rems_pending_tasks", None)


def send(name: str, *args) -> None:
    celery = current_app.extensions.get("rems_celery_client")
    if celery is not None:
        try:
            celery.send_task(name, args=list(args), queue=TASKS[name][1])
        except Exception:  # noqa: BLE001 - the broker is down: the work is already committed, so the
            # request that queued it succeeded; the next reminder sweep queues it again (rems.services.reminders)
            current_app.logger.exception("task %s%r not queued: broker unreachable", name, args)
        return
    try:
        resolve(name)(*args)
    except Exception:  # noqa: BLE001 - in-process work must never break the request that queued it
        db.session.rollback()
        current_app.logger.exception("in-process task %s%r failed", name, args)


@contextmanager
def unit_of_work(expire: bool = True):
    """One transaction: commit at the end (or roll back on error), then send queued tasks. The
    commit carries the writes deferred to it, the audit entries among them (rems.driver.commit).
    `expire=False`: the objects read keep what they held after the commit, so a page that audits the
    rows it read (R-AUD-1) renders those same rows without reading each one again."""
    from rems import driver

    session = db.session()
    kept = session.expire_on_commit
    session.expire_on_commit = expire
    try:
        driver.begin_write(session)  # SQLite: what the unit reads, it reads under the write lock
        yield db.session
        driver.commit(session)
    except BaseException:
        db.session.rollback()
        discard()
        raise
    finally:
        session.expire_on_commit = kept
    flush()


def init_app(app) -> None:
    url = app.config.get("REDIS_URL")
    if url and not app.config.get("TASKS_IN_PROCESS"):
        from celery import Celery

        client = Celery("rems", broker=url, backend=None)
        client.conf.update(task_serializer="json", accept_content=["json"])
        app.extensions["rems_celery_client"] = client
