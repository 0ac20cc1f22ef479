"""In-app notifications with an email copy (R-REM-2, R-PT-4)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

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


INBOX_SIZE = 100


def inbox(user: User, limit: int | None = INBOX_SIZE, unread_only: bool = False) -> list[Notification]:
    """The user's latest notifications (or only those not marked as read yet), newest first, the
    first `limit` (every role has a Messages page)."""
    stmt = select(Notification).where(Notification.user_id == user.id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return list(db.session.execute(
        stmt.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)).scalars())


def unread(user: User, limit: int | None = None) -> list[Notification]:
    return inbox(user, limit, unread_only=True)


def unread_count(user: User) -> int:
    return db.session.scalar(select(func.count(Notification.id)).where(
        Notification.user_id == user.id, Notification.read_at.is_(None)))


def mark_all_read(user: User) -> int:
    """Mark the user's unread notifications as read; returns how many."""
    with tasks.unit_of_work():
        notes = unread(user)
        for note in notes:
            note.read_at = now()
    return len(notes)


REQUEUE_AFTER = timedelta(hours=1)  # still not emailed after this: its task was lost or gave up
REQUEUE_FOR = timedelta(days=2)  # ... queued again by every reminder sweep until this age
REQUEUE_BATCH = 1000


def unsent(in_app_only_kinds) -> list[int]:
    """R-PT-4, R-REM-2: notifications whose email never went out (the broker was down when they were
    queued, or the mail server through every retry), for the reminder sweep to queue again.
    `in_app_only_kinds`: the reminders' notifications, whose email is the reminder row's."""
    current = now()
    return list(db.session.execute(
        select(Notification.id).where(Notification.emailed_at.is_(None),
                                      Notification.created_at < current - REQUEUE_AFTER,
                                      Notification.created_at > current - REQUEUE_FOR,
                                      Notification.kind.notin_(in_app_only_kinds))
        .order_by(Notification.id).limit(REQUEUE_BATCH)).scalars())


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
