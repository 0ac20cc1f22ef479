"""In-app notifications with an email copy (R-REM-2, R-PT-4)."""
from __future__ import annotations

from sqlalchemy import select

from rems import tasks
from rems.clock import now
from rems.extensions import db
from rems.models import Notification, User
from rems.services import mail


def notify(user: User, kind: str, title: str, body: str, subject_key: str | None = None) -> Notification:
    """Create the in-app notification now; its email goes out after commit."""
    note = Notification(user_id=user.id, kind=kind, title=title, body=body, created_at=now())
    db.session.add(note)
    db.session.flush()
    tasks.enqueue("rems.deliver_notification", note.id)
    return note


def deliver_notification(notification_id: int) -> None:
    """Task: email one notification, once (a re-delivered task finds `emailed_at` set)."""
    # row lock (PostgreSQL): a redelivered copy of this task waits, then finds `emailed_at` set
    note = db.session.execute(select(Notification).where(Notification.id == notification_id)
                              .with_for_update()).scalar_one_or_none()
    if note is None or note.emailed_at is not None:
        db.session.rollback()
        return
    user = db.session.get(User, note.user_id)
    msg = mail.build(user.email, note.title, "notification", name=user.first_name, title=note.title,
                     body=note.body)
    msg.replace_header("Message-ID", f"<notification-{note.id}@rems.example>")
    mail.send(msg)
    note.emailed_at = now()
    db.session.commit()
