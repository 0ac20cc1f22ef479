"""R-REM-1: which reminders are due today. The database is the schedule (architecture.md example 8).

Each function answers one kind with set-based SQL (a constant number of queries, whatever the
number of patients), streamed rather than loaded. Only the window reminders need the per-patient
cycle walk: SQL narrows them to the courses that can owe one today (`_window_candidates`), and the
engine decides on those, in batches of two statements each. Every lead time comes from the
program definition (workflows/program.py). Each due reminder is a `Due` value; the caller records
it once (R-REM-2). Plans and timings at 1M patients: bench/NOTES.md.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from itertools import islice

from sqlalchemy import BigInteger, String, and_, cast, exists, func, literal, or_, select, true, union
from sqlalchemy.orm import aliased

from rems import driver
from rems.extensions import db
from rems.models import (
    Attestation,
    Authorization,
    Course,
    Patient,
    Pharmacy,
    PharmacyMember,
    PregnancyTest,
    Prescriber,
    ReminderSent,
    User,
    Visit,
)
from rems.services.facts import batch_records_statement, in_batch, patient_facts, records_by_course
from workflows import CGP, Program, evaluate_patient, local_date, window_close_instant

IN_TREATMENT = ("enrolled", "active")
ENGINE_BATCH = 1000
STREAM_BATCH = 2000
NEXT_TEST = "next_test_due"
OPENING_TESTS = ("confirmation", "monthly")  # the kinds that open a CGP window (R-CYC-2)


@dataclass(frozen=True)
class Due:
    recipient_id: int
    kind: str
    subject_key: str
    payload: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Shard:
    """One of `of` disjoint parts of a sweep: the courses whose id, scrambled (Knuth's
    multiplicative hash, so that ids with a pattern, say every other one a CGP patient, still
    spread evenly), falls in part `part`. Every reminder but the certification ones belongs to one
    course (its subject key names the course or one of its RMAs), so the parts record disjoint rows
    and can run at the same time, in separate processes and transactions (R-REM-2 still holds:
    each row is keyed). Certification reminders (a handful a day) go with part 0."""
    part: int = 0
    of: int = 1

    def __post_init__(self) -> None:
        if not (isinstance(self.of, int) and self.of >= 1 and isinstance(self.part, int) and 0 <= self.part < self.of):
            raise ValueError(f"shard {self.part} of {self.of}: the part must be 0..{self.of - 1}")

    def courses(self, course_id_col):
        """The SQL condition that keeps this part's courses (none when the sweep is whole)."""
        if self.of == 1:
            return true()
        scrambled = (cast(course_id_col, BigInteger) * _KNUTH) % _2_32
        return (scrambled * self.of) // _2_32 == self.part  # the high bits: the low ones keep id's parity

    def has(self, course_id: int) -> bool:
        """The same test in Python."""
        return self.of == 1 or (course_id * _KNUTH) % _2_32 * self.of // _2_32 == self.part


_KNUTH, _2_32 = 2654435761, 2**32  # (id * 2654435761) stays below 2**63 for any 32-bit id


WHOLE = Shard()


def _reachable(user_id_col):
    """Suspended accounts get no reminders."""
    return exists().where(User.id == user_id_col, User.status != "suspended")


def _not_sent(recipient_col, kind: str, key_expr):
    """Anti-join on the R-REM-2 unique key, so old candidates are not re-read every sweep."""
    return ~_sent(recipient_col, kind, key_expr)


def _latest_course():
    later = aliased(Course)
    return ~exists().where(later.patient_id == Course.patient_id, later.id > Course.id)


def certification_expiring(today: date, prog: Program) -> Iterator[Due]:
    """R-REM-1, R-PRES-1, R-PHAR-1: certification ends within the lead time."""
    until = today + timedelta(days=prog.certification_expiry_reminder_days)
    rows = db.session.execute(
        select(Prescriber.id, Prescriber.user_id, Prescriber.certified_until)
        .where(Prescriber.status == "certified", Prescriber.certified_until.between(today, until),
               _reachable(Prescriber.user_id)))
    for pid, user_id, ends in rows:
        yield Due(user_id, "prescriber_certification_expiring", f"prescriber:{pid}:until:{ends.isoformat()}",
                  {"until": ends.isoformat()})
    rows = db.session.execute(
        select(Pharmacy.id, Pharmacy.name, PharmacyMember.user_id, Pharmacy.certified_until)
        .join(PharmacyMember, and_(PharmacyMember.pharmacy_id == Pharmacy.id, PharmacyMember.is_rsp,
                                   PharmacyMember.active))
        .where(Pharmacy.status == "certified", Pharmacy.certified_until.between(today, until),
               _reachable(PharmacyMember.user_id)))
    for ph_id, name, user_id, ends in rows:
        yield Due(user_id, "pharmacy_certification_expiring", f"pharmacy:{ph_id}:until:{ends.isoformat()}",
                  {"until": ends.isoformat(), "pharmacy": name})


def _next_test_candidates(today: date, prog: Program, shard: Shard = WHOLE):
    """Each in-treatment CGP course's latest RMA issued N days ago or earlier, with no test since
    and no reminder yet (driven from the active courses, through the authorizations course_id index)."""
    # local_date(rma.recorded_at) + N <= today  <=>  recorded before local midnight ending today - N
    issued_before = window_close_instant(today - timedelta(days=prog.next_test_reminder_after_rma_days), prog)
    later_rma = aliased(Authorization)
    key = literal("rma:") + cast(Authorization.id, String)
    return (select(Authorization.id, Authorization.recorded_at, Patient.user_id)
            .select_from(Course).join(Patient, Patient.id == Course.patient_id)
            .join(Authorization, Authorization.course_id == Course.id)
            .where(Course.status == "active", Course.last_dose_date.is_(None),
                   Course.pregnancy_reported_at.is_(None), Patient.category == CGP,
                   Authorization.status == "authorized", Authorization.recorded_at < issued_before,
                   ~exists().where(later_rma.course_id == Authorization.course_id,
                                   later_rma.id > Authorization.id, later_rma.status == "authorized"),
                   ~exists().where(PregnancyTest.course_id == Course.id,
                                   PregnancyTest.recorded_at > Authorization.recorded_at),
                   _reachable(Patient.user_id), _not_sent(Patient.user_id, NEXT_TEST, key),
                   shard.courses(Course.id))
            .order_by(Authorization.id))


def next_test_due(today: date, prog: Program, shard: Shard = WHOLE) -> Iterator[Due]:
    """R-REM-1: the next monthly test is due on the previous RMA's day + N (CGP, in treatment),
    and no test was recorded since that RMA. Streamed."""
    for rma_id, issued, user_id in _stream(_next_test_candidates(today, prog, shard)):
        due = local_date(issued, prog) + timedelta(days=prog.next_test_reminder_after_rma_days)
        yield Due(user_id, NEXT_TEST, f"rma:{rma_id}", {"due": due.isoformat()})


def post_treatment(today: date, prog: Program, shard: Shard = WHOLE) -> Iterator[Due]:
    """R-CON-3, R-END-2: contraception and no blood donation until last dose + N days (once, at the
    end of treatment); R-END-1: the post-treatment test is due from last dose + N days."""
    precautions_from = today - timedelta(days=prog.post_treatment_contraception_days)
    rows = db.session.execute(
        select(Course.id, Course.last_dose_date, Patient.user_id, Patient.category)
        .join(Patient, Patient.id == Course.patient_id)
        .where(Course.last_dose_date > precautions_from, Course.last_dose_date <= today,
               Course.pregnancy_reported_at.is_(None), _reachable(Patient.user_id), shard.courses(Course.id)))
    for course_id, last_dose, user_id, category in rows:
        until = last_dose + timedelta(days=prog.post_treatment_contraception_days)
        yield Due(user_id, "post_treatment_precautions", f"course:{course_id}",
                  {"until": until.isoformat(), "last_dose": last_dose.isoformat(), "cgp": category == CGP,
                   "days": prog.post_treatment_contraception_days})
    kind = "post_treatment_test_due"
    test_from = today - timedelta(days=prog.post_treatment_test_after_days)
    key = literal("course:") + cast(Course.id, String)
    rows = db.session.execute(
        select(Course.id, Course.last_dose_date, Patient.user_id)
        .join(Patient, Patient.id == Course.patient_id)
        .where(Course.status == "post_treatment", Course.last_dose_date <= test_from,
               _reachable(Patient.user_id), _not_sent(Patient.user_id, kind, key), shard.courses(Course.id)))
    for course_id, last_dose, user_id in rows:
        due = last_dose + timedelta(days=prog.post_treatment_test_after_days)
        yield Due(user_id, kind, f"course:{course_id}", {"due": due.isoformat()})


def _stream(stmt, batch: int = STREAM_BATCH):
    """Rows of `stmt` without holding them all: a server-side cursor on PostgreSQL (the sweep
    inserts between fetches; the cursor keeps its snapshot). SQLite (tests, the embedded default)
    reads the result first, since it may not read a table while the same connection writes it."""
    if db.session.get_bind().dialect.name == "postgresql":
        yield from db.session.execute(stmt.execution_options(yield_per=batch))
    else:
        yield from db.session.execute(stmt).all()


def _sent(recipient_col, kind: str, key_expr):
    """A reminders_sent row exists for this R-REM-2 key."""
    return exists().where(ReminderSent.recipient_id == recipient_col, ReminderSent.kind == kind,
                          ReminderSent.subject_key == key_expr)


def _no_rma_after(record) -> object:
    """No unreversed RMA recorded after `record`: an RMA after it ended the cycle it belongs to."""
    return ~exists().where(Authorization.course_id == record.course_id, Authorization.reversed_at.is_(None),
                           Authorization.recorded_at > record.recorded_at)


def _closing(day_col, window_days: int, today: date, prog: Program):
    """`day_col` (a specimen or visit date) opens a window closing within the lead time, for which
    the patient and the prescriber rows are not both recorded yet (the key names the close date,
    so it is a literal per lead day: no date arithmetic in SQL)."""
    arms = []
    for ahead in range(prog.window_closing_reminder_days + 1):
        closes = today + timedelta(days=ahead)
        key = literal("course:") + cast(Course.id, String) + literal(f":window:{closes.isoformat()}")
        arms.append(and_(day_col == closes - timedelta(days=window_days - 1),
                         ~and_(_sent(Patient.user_id, "window_closing", key),
                               _sent(Prescriber.user_id, "patient_window_closing", key))))
    return or_(*arms)


def _in_treatment(opening, category_clause, shard: Shard):
    """FROM the opening record joined to its course, patient and the patient's prescriber: every
    subquery below is then correlated one level deep (SQLAlchemy auto-correlation)."""
    return (select(Course.id).select_from(opening).join(Course, Course.id == opening.course_id)
            .join(Patient, Patient.id == Course.patient_id)
            .join(Prescriber, Prescriber.id == Patient.prescriber_id)
            .where(Course.status.in_(IN_TREATMENT), _latest_course(), category_clause,
                   _no_rma_after(opening), shard.courses(Course.id)))


def _window_candidates(now: datetime, today: date, prog: Program, shard: Shard = WHOLE):
    """Courses in treatment that may owe a window reminder today, narrowed in SQL to a superset of
    what the engine would remind (R-CYC-1..3, R-REM-1): the record opening the window must exist in
    the date range, with no unreversed RMA after it (else its cycle ended), and
    * window closing (CGP: negative confirmation/monthly test; CCGP: visit) dated so the window
      closes in 0..lead days, and not yet reminded for that close date; or
    * attestation pending (CGP): a negative confirmation/monthly test in the last window length
      (the window may be open), no attestation recorded after it (one recorded after it, in the
      same cycle, meets R-ATT-1), and no attestation_pending reminder for this course created
      after it (a reminder created after a test of the current cycle is this cycle's).
    The engine decides on each candidate; the SQL only removes courses that cannot remind today.
    tests/worker/test_reminder_candidates.py checks the superset against the engine on every course."""
    t = aliased(PregnancyTest)
    attest_key = literal("course:") + cast(Course.id, String) + literal(":cycle:%")
    attestation_pending = and_(
        ~exists().where(Attestation.course_id == Course.id, Attestation.recorded_at > t.recorded_at),
        ~exists().where(ReminderSent.recipient_id == Patient.user_id,
                        ReminderSent.kind == "attestation_pending", ReminderSent.subject_key.like(attest_key),
                        ReminderSent.created_at >= t.recorded_at))
    cgp = _in_treatment(t, Patient.category == CGP, shard).where(
        t.result == "negative", t.kind.in_(OPENING_TESTS),
        t.specimen_date.between(today - timedelta(days=prog.cgp_window_days - 1), today),
        or_(_closing(t.specimen_date, prog.cgp_window_days, today, prog), attestation_pending))
    v = aliased(Visit)
    ccgp_from = today - timedelta(days=prog.ccgp_window_days - 1)
    ccgp = _in_treatment(v, Patient.category != CGP, shard).where(
        v.visit_date.between(ccgp_from, ccgp_from + timedelta(days=prog.window_closing_reminder_days)),
        _closing(v.visit_date, prog.ccgp_window_days, today, prog))
    ids = union(cgp, ccgp).subquery()
    return select(ids.c.id).order_by(ids.c.id)


def window_reminders(now: datetime, today: date, prog: Program, shard: Shard = WHOLE) -> Iterator[Due]:
    """R-REM-1: window closes within the lead time and no RMA yet (patient; prescriber when
    requirements are unmet); monthly attestation pending (CGP, window open or test recorded).
    Candidates are streamed and evaluated by the engine in batches of ENGINE_BATCH."""
    candidates = (course_id for (course_id,) in _stream(_window_candidates(now, today, prog, shard)))
    batch = list(islice(candidates, ENGINE_BATCH))  # the first fetch plans and runs the candidates query
    with _serial_plans():
        while batch:
            yield from _evaluate(batch, now, today, prog)
            batch = list(islice(candidates, ENGINE_BATCH))


@contextmanager
def _serial_plans():
    """PostgreSQL: no parallel workers for the batches' two statements. Each reads ~5 ms of index
    scans, and launching Gather workers for it cost 20-50 ms a batch on the 2-core bench machine
    (bench/NOTES.md). Transaction-local, restored afterwards: the next_test_due query, planned
    later, keeps its parallel hash joins. (On an error the rollback restores it.)"""
    if db.session.get_bind().dialect.name != "postgresql":
        yield
        return
    setting = "max_parallel_workers_per_gather"
    before = db.session.scalar(select(func.current_setting(setting)))
    db.session.execute(select(func.set_config(setting, "0", True)))
    yield
    db.session.execute(select(func.set_config(setting, before, True)))


def _evaluate(ids: list[int], now: datetime, today: date, prog: Program) -> Iterator[Due]:
    """The engine on a batch of courses: two statements (course + patient + both users; the seven
    record tables in one UNION ALL, facts.batch_records_statement), plain rows rather than ORM objects."""
    dialect = db.session.get_bind().dialect.name
    rows = _rows(_actors_statement(dialect), ids, named=True)
    course_ids = [r.course_id for r in rows]
    records = records_by_course(_rows(batch_records_statement(dialect), course_ids), course_ids)
    for row in rows:
        yield from _for_course(row, records[row.course_id], now, today, prog)


@lru_cache(maxsize=2)
def _actors_statement(dialect: str):
    """A batch's courses with their patient and both users (`ids` bound by facts.in_batch)."""
    pres_user = aliased(User)
    return (select(Course.id.label("course_id"), Course.enrolled_at, Course.last_dose_date,
                   Course.pregnancy_reported_at, Patient.id, Patient.rems_id, Patient.first_name,
                   Patient.last_name, Patient.date_of_birth, Patient.category, Patient.prescriber_id,
                   Patient.consent_signed_at, Patient.home_testing_enabled, Patient.home_testing_enabled_on,
                   User.id.label("user_id"), User.status.label("user_status"),
                   pres_user.id.label("prescriber_user_id"),
                   pres_user.status.label("prescriber_user_status"))
            .join(Patient, Patient.id == Course.patient_id).join(User, User.id == Patient.user_id)
            .join(Prescriber, Prescriber.id == Patient.prescriber_id)
            .join(pres_user, pres_user.id == Prescriber.user_id)
            .where(in_batch(Course.id, dialect)).order_by(Course.id))


def _rows(stmt, ids: list[int], named: bool = False) -> list:
    """`stmt`'s rows for a batch of ids. On PostgreSQL one fetchall on the driver's cursor
    (rems.driver.rows): no SQLAlchemy Row or type processing per row, which was half the time of
    loading a batch's ~17,000 records (bench/NOTES.md). Instants then come back aware in the
    session's time zone (UTC on our servers), not UTCDateTime's `UTC`: the same instants, and the
    engine only compares them and converts them to program-local dates (R-TIME-1). `named`:
    attribute access by the columns' labels."""
    conn = db.session.connection()
    if conn.dialect.name != "postgresql":
        return conn.execute(stmt, {"ids": ids}).all()
    return driver.rows(conn, stmt, {"ids": ids}, named=named)


def _for_course(row, records: dict, now: datetime, today: date, prog: Program) -> Iterator[Due]:
    # the row carries the patient's and the course's columns under their model names
    status = evaluate_patient(patient_facts(row, row, records), prog, now)
    if status.course_status not in IN_TREATMENT:
        return
    window, course_id = status.window, row.course_id
    window_open = window is not None and window.contains(today)
    if window_open and (window.closes - today).days <= prog.window_closing_reminder_days:
        key = f"course:{course_id}:window:{window.closes.isoformat()}"
        if row.user_status != "suspended":
            yield Due(row.user_id, "window_closing", key,
                      {"closes": window.closes.isoformat(), "eligible": status.eligible,
                       "steps": [] if status.eligible else list(status.next_steps.get("patient", ()))})
        if not status.eligible and row.prescriber_user_status != "suspended":
            yield Due(row.prescriber_user_id, "patient_window_closing", key,
                      {"closes": window.closes.isoformat(), "patient": row.rems_id,
                       "patient_name": f"{row.first_name} {row.last_name}",
                       "reasons": [r.message for r in status.reasons]})
    rows = {r.code: r for r in status.requirements}
    attestation, test = rows.get("ATTESTATION_REQUIRED"), rows.get("PREGNANCY_TEST_REQUIRED")
    if (row.category == CGP and attestation is not None and not attestation.met
            and (window_open or (test is not None and test.met))
            and status.attestation_attempts_left > 0 and row.user_status != "suspended"):
        yield Due(row.user_id, "attestation_pending", f"course:{course_id}:cycle:{status.cycle_number}",
                  {"closes": window.closes.isoformat() if window_open else None})


def all_due(now: datetime, today: date, prog: Program, shard: Shard = WHOLE) -> Iterator[Due]:
    """Every reminder due today (of one part of the courses, `shard`)."""
    yield from window_reminders(now, today, prog, shard)
    yield from next_test_due(today, prog, shard)
    yield from post_treatment(today, prog, shard)
    if shard.part == 0:
        yield from certification_expiring(today, prog)
