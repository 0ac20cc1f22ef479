"""A patient's status and the prescriber's clinical records (R-PAT-2, R-PAT-4, R-CON-*, R-PT-*, R-END-1).
Enrollment and activation codes: rems.services.enrollment."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from sqlalchemy import select

from rems.clock import now, program, today
from rems.errors import ApiError
from rems.extensions import db
from rems.models import (
    Authorization,
    CategoryChange,
    ContraceptionRecord,
    Course,
    Patient,
    PharmacyMember,
    PregnancyCase,
    PregnancyTest,
    User,
    Visit,
)
from rems.services import audit, signatures
from rems.services.facts import course_records, current_course, patient_facts
from rems.services.practice import require_certified
from rems.tasks import unit_of_work
from workflows import (
    EnteredFor,
    PatientFacts,
    PatientStatus,
    Reason,
    check_transition,
    entered_for,
    evaluate_patient,
    not_counted_reasons,
)
from workflows.messages import KIND_LABELS, kept, short


def _iso(d):
    return d.isoformat() if d else None


def serialize_status(patient: Patient, st, role: str) -> dict:
    return {
        "rems_id": patient.rems_id,
        "first_name": patient.first_name,
        "last_name": patient.last_name,
        "category": patient.category,
        "course_status": st.course_status,
        "cycle": st.cycle_number,
        "eligible": st.eligible,
        "requirements": [{"code": r.code, "met": r.met, "detail": r.detail} for r in st.requirements],
        "reasons": [{"code": r.code, "message": r.message} for r in st.reasons],
        "window": {"opens": _iso(st.window.opens), "closes": _iso(st.window.closes)} if st.window else None,
        "next_steps": list(st.next_steps.get(role, ())),
        "next_steps_by_role": {k: list(v) for k, v in st.next_steps.items()},
        "attestation_attempts_left": st.attestation_attempts_left,  # R-ATT-2: 0 = locked out
        "home_testing_enabled": patient.home_testing_enabled,
        "home_testing_enabled_on": _iso(patient.home_testing_enabled_on),
        "consent_signed": patient.consent_signed_at is not None,
    }


def evaluate(patient: Patient, course: Course | None = None):
    course = course or current_course(patient)
    return evaluate_patient(patient_facts(patient, course), program(), now()), course


def patient_status(patient: Patient, role: str = "patient", audit_read: bool = True,
                   reader: User | None = None) -> dict:
    """The api.md "Patient status"; R-AUD-1: a read of a patient record is audited.

    The course's records are read in one statement (facts.course_records), and the answer is built
    before the audit commit expires the patient (tests/perf: page statement budget)."""
    course = db.session.execute(select(Course).where(Course.patient_id == patient.id)
                                .order_by(Course.id.desc()).limit(1)).scalar_one()
    st = evaluate_patient(patient_facts(patient, course, course_records(course.id)), program(), now())
    body = serialize_status(patient, st, role)
    if audit_read:
        with unit_of_work():
            audit.record("patient.read", "patient", patient.id, patient_id=patient.id, actor=reader)
    return body


def _guard(action: str, patient: Patient, course: Course, **payload) -> PatientFacts:
    """Refuse the action (check_transition) with a 422 naming the field; else the facts it was
    judged on, a snapshot of the locked course from before the record."""
    facts = patient_facts(patient, course)
    verdict = check_transition(action, facts, program(), now(), **payload)
    if not verdict.ok:
        field = verdict.field
        raise ApiError(422, verdict.code or "VALIDATION_ERROR", verdict.message,
                       errors=[{"field": field, "message": verdict.message}] if field else None)
    return facts


def _refresh_status(patient: Patient, course: Course) -> PatientStatus:
    db.session.flush()
    db.session.expire(course)
    st = evaluate_patient(patient_facts(patient, current_course(patient)), program(), now())
    course.status = st.course_status
    return st


RecordT = TypeVar("RecordT", Visit, ContraceptionRecord, PregnancyTest)


@dataclass(frozen=True)
class RecordOutcome(Generic[RecordT]):
    """A clinical record as saved, and whether it counts: once recorded, the checklist row(s) it
    was entered for are met (workflows.records), or the engine's reasons they are not (a
    confirmation test inside the lead-in, R-CON-2; a visit without counseling, R-PAT-4)."""

    record: RecordT
    reasons: tuple[Reason, ...] = ()
    pregnancy: PregnancyReport | None = None  # a positive test: what R-PT-4 did

    @property
    def counts(self) -> bool:
        return not self.reasons


@dataclass(frozen=True)
class PregnancyReport:
    """What recording a positive test did (R-PT-4), for the message that tells the prescriber: the
    registry case opened, and the open RMAs whose pharmacies were told not to fill them."""

    case_id: int
    stopped_rmas: tuple[str, ...] = ()
    admins_notified: int = 0


def _judged(record: RecordT, entered: EnteredFor, before: PatientStatus, patient: Patient,
            course: Course) -> RecordOutcome[RecordT]:
    """The course status refreshed with the record, and the record judged against the status
    before it: both evaluations inside the record's transaction, after the course lock."""
    return RecordOutcome(record, not_counted_reasons(entered, before, _refresh_status(patient, course)))


def _clinical_write(user: User, patient: Patient):
    """Common start of every prescriber write: certified prescriber and a locked course."""
    require_certified(user)
    return current_course(patient, lock=True)


def record_visit(user: User, patient: Patient, data: dict) -> RecordOutcome[Visit]:
    """R-PAT-4 / R-CYC-3: a signed visit confirmation, with counseling when `counseled`."""
    with unit_of_work():
        course = _clinical_write(user, patient)
        facts = _guard("record_visit", patient, course, visit_date=data["visit_date"],
                       counseled=data["counseled"])
        before = evaluate_patient(facts, program(), now())
        visit = Visit(course_id=course.id, visit_date=data["visit_date"], counseled=data["counseled"],
                      recorded_at=now(), recorded_by_id=user.id)
        db.session.add(visit)
        db.session.flush()
        sig, _ = signatures.sign(user, data["signature"]["password"],
                                 "counseling" if visit.counseled else "visit", "visit", visit.id,
                                 {"patient": patient.rems_id, "visit_date": visit.visit_date,
                                  "counseled": visit.counseled}, patient_id=patient.id)
        visit.signature_id = sig.id
        audit.record("visit.recorded", "visit", visit.id, patient_id=patient.id,
                     after={"visit_date": visit.visit_date, "counseled": visit.counseled}, actor=user)
        outcome = _judged(visit, entered_for("record_visit", counseled=visit.counseled, visit_date=visit.visit_date),
                          before, patient, course)
    return outcome


def record_contraception(user: User, patient: Patient, data: dict) -> RecordOutcome[ContraceptionRecord]:
    """R-CON-1: two forms (at least one primary) or abstinence; R-CON-2 uses its start date."""
    forms = tuple(data.get("forms") or ())
    abstinence = bool(data.get("abstinence"))
    with unit_of_work():
        course = _clinical_write(user, patient)
        facts = _guard("record_contraception", patient, course, start_date=data["start_date"], forms=forms,
                       abstinence=abstinence)
        before = evaluate_patient(facts, program(), now())
        rec = ContraceptionRecord(course_id=course.id, start_date=data["start_date"], forms=list(forms),
                                  abstinence=abstinence, recorded_at=now(), recorded_by_id=user.id)
        db.session.add(rec)
        db.session.flush()
        audit.record("contraception.recorded", "contraception", rec.id, patient_id=patient.id,
                     after={"start_date": rec.start_date, "forms": list(forms), "abstinence": abstinence},
                     actor=user)
        outcome = _judged(rec, entered_for("record_contraception"), before, patient, course)
    return outcome


def record_test(user: User, patient: Patient, data: dict) -> RecordOutcome[PregnancyTest]:
    """R-PT-1..3; R-PT-4: a positive result ends treatment at once and opens a registry case."""
    with unit_of_work():
        course = _clinical_write(user, patient)
        facts = _guard("record_test", patient, course, kind=data["kind"], specimen_date=data["specimen_date"],
                       result=data["result"], setting=data["setting"])
        _refuse_same_test(course, data)
        before = evaluate_patient(facts, program(), now())
        test = PregnancyTest(course_id=course.id, kind=data["kind"], specimen_date=data["specimen_date"],
                             result=data["result"], setting=data["setting"], recorded_at=now(),
                             recorded_by_id=user.id)
        db.session.add(test)
        db.session.flush()
        audit.record("pregnancy_test.recorded", "pregnancy_test", test.id, patient_id=patient.id,
                     after={"kind": test.kind, "specimen_date": test.specimen_date, "result": test.result,
                            "setting": test.setting}, actor=user)
        report = _report_pregnancy(user, patient, course, test) if test.result == "positive" else None
        outcome = _judged(test, entered_for("record_test", kind=test.kind, result=test.result), before, patient,
                          course)
    return replace(outcome, pregnancy=report)


def _refuse_same_test(course: Course, data: dict) -> None:
    """R-PT-1: a test is its kind, specimen date, result and setting. The same test recorded twice
    in a course adds nothing but a second row that looks like a second test: a form sent twice, not
    a new result (QA 2026-11-26). Refused, with what is already there. A correction differs in some
    field."""
    same = db.session.execute(select(PregnancyTest.id).where(
        PregnancyTest.course_id == course.id, PregnancyTest.kind == data["kind"],
        PregnancyTest.specimen_date == data["specimen_date"], PregnancyTest.result == data["result"],
        PregnancyTest.setting == data["setting"]).limit(1)).first()
    if same is not None:
        raise ApiError(409, "DUPLICATE_RECORD",
                       f"This {data['result']} {KIND_LABELS[data['kind']]} pregnancy test collected "
                       f"{short(data['specimen_date'], today())} "
                       f"({data['setting']} setting) is already recorded for this patient: nothing was added.")


def _report_pregnancy(user: User, patient: Patient, course: Course, test: PregnancyTest) -> PregnancyReport:
    from rems.services import notify

    course.pregnancy_reported_at = now()
    case = PregnancyCase(patient_id=patient.id, course_id=course.id, test_id=test.id, opened_at=now())
    db.session.add(case)
    db.session.flush()
    audit.record("pregnancy.reported", "pregnancy_case", case.id, patient_id=patient.id,
                 after={"test_id": test.id, "specimen_date": test.specimen_date}, actor=user)
    admins = db.session.execute(select(User).where(User.role == "admin", User.status == "active")).scalars().all()
    text = (f"A positive pregnancy test (collected {kept(test.specimen_date)}) was recorded for patient "
            f"{patient.rems_id}. Treatment has stopped and a pregnancy registry case (#{case.id}) is open.")
    for recipient in [patient.prescriber.user, *admins]:
        notify.notify(recipient, "pregnancy_reported", "Pregnancy reported", text, subject_key=f"case:{case.id}")
    # R-PT-4 "ends treatment at once": an RMA issued before the test must not be filled any more
    stopped = _tell_pharmacies(course, patient, "a positive pregnancy test was recorded and treatment has stopped")
    return PregnancyReport(case.id, stopped, len(admins))


def _tell_pharmacies(course: Course, patient: Patient, why: str) -> tuple[str, ...]:
    """Treatment stopped (R-PT-4, R-END-1): the pharmacists of each pharmacy holding an RMA that could
    still be filled are told not to fill it (GET /authorizations/{rma} answers dispense_allowed
    false; this reaches a pharmacy that will not look it up again). Returns those RMAs' numbers."""
    from rems.services import notify

    open_rmas = db.session.execute(select(Authorization).where(
        Authorization.course_id == course.id, Authorization.status == "authorized",
        Authorization.do_not_dispense_after >= today())).scalars().all()
    for rma in open_rmas:
        members = db.session.execute(select(User).join(PharmacyMember, PharmacyMember.user_id == User.id).where(
            PharmacyMember.pharmacy_id == rma.pharmacy_id, PharmacyMember.active, User.status == "active")).scalars()
        stop = f"Do not dispense {rma.rma} (patient {patient.rems_id}): {why}."
        for member in members:
            notify.notify(member, "rma_stopped", f"Do not dispense {rma.rma}", stop)
    return tuple(rma.rma for rma in open_rmas)


def set_home_testing(user: User, patient: Patient, data: dict) -> Patient:
    """R-PT-3: home tests need the prescriber's permission with a written anti-falsification procedure."""
    if data["enabled"] and not (data.get("procedure") or "").strip():
        raise ApiError.field("procedure", "is required to enable home testing")
    with unit_of_work():
        course = _clinical_write(user, patient)
        if data["enabled"]:
            _guard("enable_home_testing", patient, course)
        before = {"enabled": patient.home_testing_enabled}
        patient.home_testing_enabled = data["enabled"]
        patient.home_testing_enabled_on = today() if data["enabled"] else None
        patient.home_testing_procedure = data.get("procedure") if data["enabled"] else None
        audit.record("patient.home_testing", "patient", patient.id, patient_id=patient.id, before=before,
                     after={"enabled": data["enabled"], "since": patient.home_testing_enabled_on,
                            "procedure": data.get("procedure")}, actor=user)
    return patient


def change_category(user: User, patient: Patient, data: dict) -> Patient:
    """R-PAT-2: category change with a reason; audited; applies from the next authorization."""
    with unit_of_work():
        course = _clinical_write(user, patient)
        _guard("change_category", patient, course, category=data["category"])
        db.session.add(CategoryChange(patient_id=patient.id, course_id=course.id, from_category=patient.category,
                                      to_category=data["category"], reason=data["reason"], recorded_at=now(),
                                      recorded_by_id=user.id))
        audit.record("patient.category_changed", "patient", patient.id, patient_id=patient.id,
                     before={"category": patient.category},
                     after={"category": data["category"], "reason": data["reason"]}, actor=user)
        patient.category = data["category"]
        _refresh_status(patient, course)
    return patient


def end_treatment(user: User, patient: Patient, data: dict) -> Patient:
    """R-END-1: last dose recorded; no RMA afterwards."""
    with unit_of_work():
        course = _clinical_write(user, patient)
        _guard("end_treatment", patient, course, last_dose_date=data["last_dose_date"])
        course.last_dose_date = data["last_dose_date"]
        course.end_reason = data.get("reason")
        course.ended_at = now()
        audit.record("course.ended", "course", course.id, patient_id=patient.id,
                     after={"last_dose_date": course.last_dose_date, "reason": course.end_reason}, actor=user)
        _refresh_status(patient, course)
        # R-END-1: no RMA after the end, and one not filled yet is not dispensed (dispensing.dispense_stop)
        _tell_pharmacies(course, patient, f"treatment ended (last dose {kept(course.last_dose_date)})")
    return patient
