"""R-REM-1/2 reminders: a periodic sweep records each due reminder once, then delivers it.

The database is the schedule and beat is only the clock (architecture.md example 8): `sweep()`
asks `reminders_due` what is due today, inserts one `reminders_sent` row per (recipient, kind,
subject) with INSERT ... ON CONFLICT DO NOTHING (PostgreSQL and SQLite), so two sweeps running at
once never record a reminder twice, commits, and only then queues the delivery of the rows it
created ("rems.deliver_reminders", batches of ids). `deliver_reminder(id)` is idempotent: an
emailed row is skipped, the in-app notification is created once, and concurrent deliveries of one
row are serialised by a row lock.
"""
from __future__ import annotations

import json
import multiprocessing
from collections import Counter
from collections.abc import Iterable
from datetime import date, timedelta

from flask import current_app, render_template
from sqlalchemy import bindparam, select, text

from rems import clock, tasks
from rems.extensions import db
from rems.models import Notification, ReminderSent, User
from rems.models.types import UTCDateTime
from rems.services import mail
from rems.services.reminders_due import WHOLE, Due, Shard, all_due  # noqa: F401 (re-exported)
from workflows.messages import long

KINDS = ("window_closing", "attestation_pending", "next_test_due", "post_treatment_test_due",
         "post_treatment_precautions", "prescriber_certification_expiring",
         "pharmacy_certification_expiring", "patient_window_closing")
SUBJECTS = {
    "window_closing": "Your pharmacy can fill your prescription until {closes}",
    "attestation_pending": "Your monthly attestation is waiting for you",
    # no day: the patient's page gives the first day a test counts and this reminder's day (R-REM-1);
    # "(due Jan 19)" read as a second, later first day (QA)
    "next_test_due": "Time for your monthly pregnancy test",
    "post_treatment_test_due": "Your post-treatment pregnancy test is due",
    "post_treatment_precautions": "After your last dose: precautions until {until}",
    "prescriber_certification_expiring": "Your prescriber certification ends {until}",
    "pharmacy_certification_expiring": "{pharmacy}: pharmacy certification ends {until}",
    "patient_window_closing": "Patient {patient}: window closes {closes} with requirements unmet",
}
DATE_KEYS = ("closes", "due", "until", "last_dose")
INSERT_CHUNK = 1000
REDELIVER_AFTER = timedelta(hours=1)  # a row still unsent after this was lost (crash before enqueue)
# R-REM-2: ... and every sweep queues it again until this age, however many attempts failed (a mail
# server down for minutes used up a delivery task's retries and a cap of 10 attempts at once, and the
# email was never sent). Window reminders go out 2 days ahead: a late one still precedes the close.
REDELIVER_FOR = timedelta(days=2)
REDELIVER_BATCH = 1000
DELIVERY_BATCH = 100


def _insert(table):
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the two supported databases
        raise RuntimeError(f"unsupported database {dialect}")
    return insert(table)


# R-REM-2: the unique key makes a second row for (recipient, kind, subject) a no-op. The arrays keep the
# chunk's key order (WITH ORDINALITY), so concurrent sweeps take their row locks in one order; payloads
# are sent as json.dumps text, which is what the JSON column type sends for the executemany path.
_UNNEST_INSERT = text(
    "INSERT INTO reminders_sent (recipient_id, kind, subject_key, payload, created_at, attempts) "
    "SELECT u.r, u.k, u.s, u.p::json, :created, 0 "
    "FROM unnest(CAST(:r AS integer[]), CAST(:k AS varchar[]), CAST(:s AS varchar[]), CAST(:p AS text[])) "
    "WITH ORDINALITY AS u(r, k, s, p, n) ORDER BY u.n "
    "ON CONFLICT (recipient_id, kind, subject_key) DO NOTHING RETURNING id, kind"
).bindparams(bindparam("created", type_=UTCDateTime()))


def record(due: Iterable[Due]) -> list[tuple[int, str]]:
    """R-REM-2: insert the rows that do not exist yet; returns (id, kind) of the NEW rows only.

    Consumes `due` lazily, INSERT_CHUNK rows per INSERT ... ON CONFLICT DO NOTHING, so a sweep
    never holds every due reminder in memory; each chunk is inserted in key order (the due streams
    are produced in a deterministic order, so concurrent sweeps take their locks in one order)."""
    table = ReminderSent.__table__
    postgres = db.session.get_bind().dialect.name == "postgresql"
    created = clock.now()
    new: list[tuple[int, str]] = []
    chunk: dict[tuple[int, str, str], Due] = {}

    def flush() -> None:
        rows = [d for _, d in sorted(chunk.items())]
        if postgres:
            # one INSERT ... SELECT FROM unnest(arrays): the SQL text is the same for every chunk, so
            # the driver does not re-parse a 1,000-row VALUES list each time (insertmanyvalues did:
            # ~40% of the insert time on the worst day, bench/NOTES.md)
            params = {"r": [d.recipient_id for d in rows], "k": [d.kind for d in rows],
                      "s": [d.subject_key for d in rows], "p": [json.dumps(d.payload) for d in rows],
                      "created": created}
            new.extend(tuple(row) for row in db.session.connection().execute(_UNNEST_INSERT, params))
        else:
            values = [{"recipient_id": d.recipient_id, "kind": d.kind, "subject_key": d.subject_key,
                       "payload": d.payload, "created_at": created, "attempts": 0} for d in rows]
            stmt = (_insert(table).on_conflict_do_nothing(index_elements=["recipient_id", "kind", "subject_key"])
                    .returning(table.c.id, table.c.kind))
            new.extend((row.id, row.kind) for row in db.session.execute(stmt, values))
        chunk.clear()

    for d in due:
        chunk[(d.recipient_id, d.kind, d.subject_key)] = d  # a repeat in a later chunk: ON CONFLICT
        if len(chunk) == INSERT_CHUNK:
            flush()
    if chunk:
        flush()
    return new


def _lost() -> list[int]:
    """Rows recorded but never emailed long after (the process died between commit and enqueue,
    the broker lost the message, or the mail server was down through every retry): queue them
    again, until REDELIVER_FOR after they were recorded; delivery is idempotent."""
    current = clock.now()
    return list(db.session.execute(
        select(ReminderSent.id).where(ReminderSent.email_sent_at.is_(None), ReminderSent.dropped_at.is_(None),
                                      ReminderSent.created_at < current - REDELIVER_AFTER,
                                      ReminderSent.created_at > current - REDELIVER_FOR)
        .order_by(ReminderSent.id).limit(REDELIVER_BATCH)).scalars())


def _requeue_stalled() -> None:
    """The database is the schedule: PDFs still pending (R-DOC-1) and notifications never emailed
    (R-PT-4) are queued again, e.g. after the broker was down when their request committed
    (rems.tasks.send logs and goes on). Both tasks are idempotent."""
    from rems.services import documents, notify

    for document_id in documents.stalled():
        tasks.enqueue("rems.render_document", document_id)
    for notification_id in notify.unsent(KINDS):
        tasks.enqueue("rems.deliver_notification", notification_id)


def sweep(shard: Shard = WHOLE) -> dict:
    """R-REM-1: record every reminder due today once; deliveries are queued after the commit.

    `shard`: this part of the courses only (reminders_due.Shard); the parts of one sweep can run at
    once, in separate processes. Part 0 also re-queues the rows whose delivery was lost, and the
    other background work the database says was never done (_requeue_stalled)."""
    prog, current, today = clock.program(), clock.now(), clock.today()
    with tasks.unit_of_work():
        new = record(all_due(current, today, prog, shard))
        lost = _lost() if shard.part == 0 else []
        if shard.part == 0:
            _requeue_stalled()
        created = {rid for rid, _ in new}
        ids = [rid for rid, _ in new] + [rid for rid in lost if rid not in created]
        # one message per DELIVERY_BATCH rows: a first sweep over 1M patients records ~100k reminders,
        # and one broker round trip each would dominate the sweep (bench/NOTES.md)
        for start in range(0, len(ids), DELIVERY_BATCH):
            tasks.enqueue("rems.deliver_reminders", ids[start:start + DELIVERY_BATCH])
    counts = Counter(kind for _, kind in new)
    return {**{kind: counts.get(kind, 0) for kind in KINDS}, "redelivered": len(lost)}


def sweep_in_processes(processes: int) -> dict:
    """One sweep split into `processes` parts (Shard) that run at once: part 0 in this process,
    each other part in a process forked from it, with its own connections and transaction (`rems
    reminders run --processes N`). The engine's work per course is Python, so one process uses
    one core while the database waits; parts use the others (bench/NOTES.md). SQLite takes one
    writer at a time: there the parts run one after another here. Returns the parts' counts added
    up. A part that failed is an error naming it, after the others have ended: their rows are
    committed, and a new sweep records only what is still missing (R-REM-2)."""
    parts = [Shard(k, processes) for k in range(processes)]
    if db.engine.dialect.name == "postgresql" and processes > 1:
        running = _fork(parts[1:])
        outcomes = [(parts[0], _here(parts[0])), *_answers(running)]
    else:
        outcomes = [(part, _here(part)) for part in parts]
    failed = [f"part {part.part} of {part.of}: {result}" for part, result in outcomes if not isinstance(result, dict)]
    if failed:
        raise RuntimeError("reminder sweep failed in " + "; ".join(failed))
    return {key: sum(result.get(key, 0) for _, result in outcomes) for key in (*KINDS, "redelivered")}


def _here(part: Shard) -> dict | str:
    """One part in this process: its counts, or what went wrong."""
    try:
        return sweep(part)
    except Exception as exc:  # noqa: BLE001 - reported by sweep_in_processes, which fails the sweep
        db.session.rollback()
        current_app.logger.exception("reminder sweep part %s of %s failed", part.part, part.of)
        return f"{type(exc).__name__}: {exc}"


def _fork(parts: list[Shard]) -> list:
    """Start a forked child process for each part (before this process opens a connection again)."""
    app = current_app._get_current_object()
    db.session.remove()
    fork = multiprocessing.get_context("fork")
    running = []
    for part in parts:
        receive, send = fork.Pipe(duplex=False)
        proc = fork.Process(target=_child, args=(app, part, send), name=f"sweep part {part.part}")
        proc.start()
        send.close()
        running.append((part, proc, receive))
    return running


def _answers(running: list) -> list[tuple[Shard, dict | str]]:
    """Each child's counts (or what went wrong), once it has ended."""
    outcomes = []
    for part, proc, receive in running:
        try:
            result = receive.recv()
        except EOFError:  # the process died without an answer
            result = None
        proc.join()
        outcomes.append((part, result if result is not None else f"the process ended with code {proc.exitcode}"))
    return outcomes


def _child(app, part: Shard, answer) -> None:
    """A forked process: the parent's pooled connections are not this one's to use."""
    with app.app_context():
        db.engine.dispose(close=False)
        try:
            answer.send(_here(part))
        finally:
            db.session.remove()


def message(row: ReminderSent, user: User, stored: bool = False) -> tuple[str, dict]:
    """Subject and template values: plain words and program-local dates (R-TIME-1). `stored`: for
    the in-app copy, kept and read on days not known now, so its dates always name their year."""
    today = None if stored else clock.today()
    values = dict(row.payload or {})
    values.pop("notification_id", None)
    for key in DATE_KEYS:
        if values.get(key):
            values[key] = long(date.fromisoformat(values[key]), today)  # the pages' form of a day
    context = {"name": user.first_name, "program": clock.program().name, **values}
    return SUBJECTS[row.kind].format(**context), context


OUTDATED_KEYS = ("closes", "until")  # the window's last day; the end of precautions or a certification


def _outdated(row: ReminderSent, today: date) -> bool:
    """The day the reminder names (its window closes, precautions or a certification end) has passed:
    a delivery held up by an outage must not tell a patient their pharmacy can fill "until" a day
    gone by. A test or visit that is due stays due: those reminders go out late rather than never."""
    payload = row.payload or {}
    return any(payload.get(k) and date.fromisoformat(payload[k]) < today for k in OUTDATED_KEYS)


def _locked(reminder_id: int) -> ReminderSent | None:
    """The row, locked on PostgreSQL so two deliveries of one reminder run one after the other."""
    stmt = select(ReminderSent).where(ReminderSent.id == reminder_id).with_for_update()
    return db.session.execute(stmt).scalar_one_or_none()


def deliver_reminders(reminder_ids: list[int]) -> list[int]:
    """Task: deliver a batch of rows one by one; returns the ids whose delivery failed (each failure
    is logged, its attempt counted and its row left unsent). The Celery task re-queues those as
    single "rems.deliver_reminder" tasks, which retry with backoff; in-process, a later sweep
    re-queues them (`_lost`)."""
    failed = []
    for reminder_id in reminder_ids:
        try:
            deliver_reminder(reminder_id)
        except Exception:  # noqa: BLE001 - one bad row must not stop the batch
            db.session.rollback()
            current_app.logger.exception("reminder %s delivery failed", reminder_id)
            failed.append(reminder_id)
    return failed


def deliver_reminder(reminder_id: int) -> None:
    """Task: R-REM-2 in-app notification (once) and email (once: skipped when `email_sent_at` is set).

    Raises on SMTP failure so the worker retries with backoff; the attempt is counted first."""
    row = _locked(reminder_id)
    if row is None or row.email_sent_at is not None or row.dropped_at is not None:
        db.session.rollback()
        return
    if _outdated(row, clock.today()):  # sent now, it would tell its reader something false
        row.dropped_at = clock.now()
        db.session.commit()
        current_app.logger.warning("reminder %s (%s) not sent: the day it names has passed", row.id, row.kind)
        return
    user = db.session.get(User, row.recipient_id)
    subject, context = message(row, user)
    template = f"reminder_{row.kind}"
    if not (row.payload or {}).get("notification_id"):
        # the in-app copy is read signed in: no greeting, no "sign in to see details" (in_app)
        kept_subject, kept_context = message(row, user, stored=True)
        body = render_template(f"email/{template}.txt", subject=kept_subject, in_app=True, **kept_context).strip()
        note = Notification(user_id=user.id, kind=row.kind, title=kept_subject[:200], body=body,
                            created_at=clock.now())
        db.session.add(note)
        db.session.flush()
        row.payload = {**(row.payload or {}), "notification_id": note.id}
    row.attempts = (row.attempts or 0) + 1
    db.session.commit()

    row = _locked(reminder_id)
    if row.email_sent_at is not None:  # another delivery finished while we committed
        db.session.rollback()
        return
    msg = mail.build(user.email, subject, template, **context)
    # a stable Message-ID: should a crash fall between SMTP acceptance and our commit, the
    # redelivered copy is recognisably the same message
    msg.replace_header("Message-ID", f"<reminder-{row.id}@rems.example>")
    mail.send(msg)
    row.email_sent_at = clock.now()
    db.session.commit()
