"""R-REM-1: the sweep narrows the courses it evaluates in SQL (rems/services/reminders_due.py
`_window_candidates`). The narrowing must never drop a reminder the engine would give: day after
day, the engine run over EVERY course in treatment (the reference) owes nothing the narrowed sweep
does not produce, and the narrowed sweep produces nothing the engine would not."""
from __future__ import annotations

from sqlalchemy import select

from rems import clock
from rems.extensions import db
from rems.models import Course, ReminderSent
from rems.services import reminders
from rems.services import reminders_due as rd
from tests.worker import scenarios as s


def _keys(dues) -> set[tuple[int, str, str]]:
    return {(d.recipient_id, d.kind, d.subject_key) for d in dues}


def _reference(now, today, prog) -> set:
    ids = list(db.session.execute(select(Course.id).where(Course.status.in_(rd.IN_TREATMENT))).scalars())
    return _keys(rd._evaluate(ids, now, today, prog))


def _recorded() -> set:
    return {tuple(r) for r in db.session.execute(select(ReminderSent.recipient_id, ReminderSent.kind,
                                         ReminderSent.subject_key)).all()}


def test_narrowed_window_sweep_matches_the_engine_over_every_course(app, factory, travel):
    prog = clock.program()
    pres = factory.prescriber()
    ph, rsp = factory.pharmacy()
    cgp = {n: s.cgp_in_window(factory, pres, confirmation_days_ago=n) for n in range(0, 7, 2)}
    s.attest(cgp[2])  # eligible, window closes in 4 days: reminded later without the prescriber
    early = s.cgp_in_window(factory, pres, confirmation_days_ago=1)
    s.attest(early)
    s.authorize(early, ph, rsp)  # cycle ended: neither window nor attestation reminders
    for n in (24, 27, 28, 29, 31):
        s.ccgp_in_window(factory, pres, visit_days_ago=n)
    owed_total = 0
    for day in range(10):
        now, today = clock.now(), clock.today()
        narrowed = list(rd.window_reminders(now, today, prog))
        reference = _reference(now, today, prog)
        owed = reference - _recorded()
        assert _keys(narrowed) <= reference, f"day {day}"
        assert owed <= _keys(narrowed), f"day {day}: the narrowing dropped {owed - _keys(narrowed)}"
        owed_total += len(owed)
        reminders.sweep()
        if day == 3:
            s.attest(cgp[0])  # attestation done mid-window: no more attestation reminders for it
        travel(1)
    assert owed_total >= 8  # the scenario does exercise window and attestation reminders


def test_courses_that_cannot_remind_today_are_not_evaluated(app, factory):
    """The engine only sees candidates: a course whose RMA ended the cycle, or whose window closes
    beyond the lead time and whose attestation is signed, is not one."""
    pres = factory.prescriber()
    ph, rsp = factory.pharmacy()
    done = s.cgp_in_window(factory, pres, confirmation_days_ago=1)
    s.attest(done)
    s.authorize(done, ph, rsp)
    later = s.cgp_in_window(factory, pres, confirmation_days_ago=0)
    s.attest(later)
    waiting = s.cgp_in_window(factory, pres, confirmation_days_ago=0)  # attestation pending
    prog, now, today = clock.program(), clock.now(), clock.today()
    ids = set(db.session.execute(rd._window_candidates(now, today, prog)).scalars())
    course = {p.id: db.session.scalar(select(Course.id).where(Course.patient_id == p.id))
              for p in (done, later, waiting)}
    assert ids == {course[waiting.id]}
