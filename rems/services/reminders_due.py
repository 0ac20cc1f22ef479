"""R-REM-1: which reminders are due today. The database is the schedule (architecture.md example 8).

Each function answers one kind with set-based SQL (a constant number of queries, whatever the
number of patients); only the window reminders, which need the per-patient cycle walk, evaluate
a small, date-bounded candidate set through the engine in batches. Every lead time comes from the
program definition (workflows/program.py). Each due reminder is a `Due` value; the caller records
it once (R-REM-2).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import String, and_, cast, exists, literal, or_, select
from sqlalchemy.orm import aliased, selectinload

from rems.extensions import db
from rems.models import (
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
from rems.services.facts import patient_facts
from workflows import CGP, Program, evaluate_patient, local_date, window_close_instant

IN_TREATMENT = ("enrolled", "active")
ENGINE_BATCH = 200


@dataclass(frozen=True)
class Due:
    recipient_id: int
    kind: str
    subject_key: str
    payload: dict = field(default_factory=dict)


def _reachable(user_id_col):
    """Suspended accounts get no reminders."""
    return exists().where(User.id == user_id_col, User.status != "suspended")


def _not_sent(recipient_col, kind: str, key_expr):
    """Anti-join on the R-REM-2 unique key, so old candidates are not re-read every sweep."""
    return ~exists().where(ReminderSent.recipient_id == recipient_col, ReminderSent.kind == kind,
                           ReminderSent.subject_key == key_expr)


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


def next_test_due(today: date, prog: Program) -> Iterator[Due]:
    """R-REM-1: the next monthly test is due on the previous RMA's day + N (CGP, in treatment),
    and no test was recorded since that RMA."""
    kind = "next_test_due"
    # local_date(rma.recorded_at) + N <= today  <=>  recorded before local midnight ending today - N
    issued_before = window_close_instant(today - timedelta(days=prog.next_test_reminder_after_rma_days), prog)
    later_rma = aliased(Authorization)
    key = literal("rma:") + cast(Authorization.id, String)
    rows = db.session.execute(
        select(Authorization.id, Authorization.recorded_at, Patient.user_id)
        .join(Course, Course.id == Authorization.course_id).join(Patient, Patient.id == Course.patient_id)
        .where(Authorization.status == "authorized", Authorization.recorded_at < issued_before,
               Course.status == "active", Course.last_dose_date.is_(None),
               Course.pregnancy_reported_at.is_(None), Patient.category == CGP,
               ~exists().where(later_rma.course_id == Authorization.course_id,
                               later_rma.id > Authorization.id, later_rma.status == "authorized"),
               ~exists().where(PregnancyTest.course_id == Course.id,
                               PregnancyTest.recorded_at > Authorization.recorded_at),
               _reachable(Patient.user_id), _not_sent(Patient.user_id, kind, key)))
    for rma_id, issued, user_id in rows:
        due = local_date(issued, prog) + timedelta(days=prog.next_test_reminder_after_rma_days)
        yield Due(user_id, kind, f"rma:{rma_id}", {"due": due.isoformat()})


def post_treatment(today: date, prog: Program) -> Iterator[Due]:
    """R-CON-3, R-END-2: contraception and no blood donation until last dose + N days (once, at the
    end of treatment); R-END-1: the post-treatment test is due from last dose + N days."""
    precautions_from = today - timedelta(days=prog.post_treatment_contraception_days)
    rows = db.session.execute(
        select(Course.id, Course.last_dose_date, Patient.user_id, Patient.category)
        .join(Patient, Patient.id == Course.patient_id)
        .where(Course.last_dose_date > precautions_from, Course.last_dose_date <= today,
               Course.pregnancy_reported_at.is_(None), _reachable(Patient.user_id)))
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
               _reachable(Patient.user_id), _not_sent(Patient.user_id, kind, key)))
    for course_id, last_dose, user_id in rows:
        due = last_dose + timedelta(days=prog.post_treatment_test_after_days)
        yield Due(user_id, kind, f"course:{course_id}", {"due": due.isoformat()})


def _window_candidates(today: date, prog: Program) -> list[int]:
    """Courses in treatment whose current window may be open: a negative test or a visit recent
    enough to have opened one (R-CYC-2, R-CYC-3). Date-bounded, so the set stays small."""
    cgp_from = today - timedelta(days=prog.cgp_window_days - 1)
    ccgp_from = today - timedelta(days=prog.ccgp_window_days - 1)
    ccgp_to = ccgp_from + timedelta(days=prog.window_closing_reminder_days)
    recent_test = exists().where(PregnancyTest.course_id == Course.id, PregnancyTest.result == "negative",
                                 PregnancyTest.specimen_date.between(cgp_from, today))
    recent_visit = exists().where(Visit.course_id == Course.id, Visit.visit_date.between(ccgp_from, ccgp_to))
    return list(db.session.execute(
        select(Course.id).where(Course.status.in_(IN_TREATMENT), _latest_course(),
                                or_(recent_test, recent_visit)).order_by(Course.id)).scalars())


def window_reminders(now: datetime, today: date, prog: Program) -> Iterator[Due]:
    """R-REM-1: window closes within the lead time and no RMA yet (patient; prescriber when
    requirements are unmet); monthly attestation pending (CGP, window open or test recorded)."""
    ids = _window_candidates(today, prog)
    for start in range(0, len(ids), ENGINE_BATCH):
        courses = db.session.execute(
            select(Course).where(Course.id.in_(ids[start:start + ENGINE_BATCH]))
            .options(selectinload(Course.visits), selectinload(Course.contraception),
                     selectinload(Course.tests), selectinload(Course.attestations),
                     selectinload(Course.attestation_failures), selectinload(Course.authorizations),
                     selectinload(Course.patient).selectinload(Patient.user),
                     selectinload(Course.patient).selectinload(Patient.prescriber)
                     .selectinload(Prescriber.user))).scalars().all()
        for course in courses:
            yield from _for_course(course, now, today, prog)
        del courses  # the identity map holds rows weakly: a finished batch can be collected


def _for_course(course: Course, now: datetime, today: date, prog: Program) -> Iterator[Due]:
    patient = course.patient
    status = evaluate_patient(patient_facts(patient, course), prog, now)
    if status.course_status not in IN_TREATMENT:
        return
    window, patient_user, prescriber_user = status.window, patient.user, patient.prescriber.user
    window_open = window is not None and window.contains(today)
    if window_open and (window.closes - today).days <= prog.window_closing_reminder_days:
        key = f"course:{course.id}:window:{window.closes.isoformat()}"
        if patient_user.status != "suspended":
            yield Due(patient_user.id, "window_closing", key,
                      {"closes": window.closes.isoformat(), "eligible": status.eligible,
                       "steps": [] if status.eligible else list(status.next_steps.get("patient", ()))})
        if not status.eligible and prescriber_user.status != "suspended":
            yield Due(prescriber_user.id, "patient_window_closing", key,
                      {"closes": window.closes.isoformat(), "patient": patient.rems_id,
                       "patient_name": f"{patient.first_name} {patient.last_name}",
                       "reasons": [r.message for r in status.reasons]})
    rows = {r.code: r for r in status.requirements}
    attestation, test = rows.get("ATTESTATION_REQUIRED"), rows.get("PREGNANCY_TEST_REQUIRED")
    if (patient.category == CGP and attestation is not None and not attestation.met
            and (window_open or (test is not None and test.met))
            and status.attestation_attempts_left > 0 and patient_user.status != "suspended"):
        yield Due(patient_user.id, "attestation_pending", f"course:{course.id}:cycle:{status.cycle_number}",
                  {"closes": window.closes.isoformat() if window_open else None})


def all_due(now: datetime, today: date, prog: Program) -> Iterator[Due]:
    yield from window_reminders(now, today, prog)
    yield from next_test_due(today, prog)
    yield from post_treatment(today, prog)
    yield from certification_expiring(today, prog)
