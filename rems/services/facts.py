"""Build the engine's immutable facts from database rows (a constant number of queries)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from rems.extensions import db
from rems.models import Course, Patient, Pharmacy, Prescriber
from workflows import facts as f


def prescriber_facts(p: Prescriber | None) -> f.PrescriberFacts | None:
    if p is None:
        return None
    return f.PrescriberFacts(id=p.id, npi=p.npi, status=p.status, certified_until=p.certified_until)


def pharmacy_facts(ph: Pharmacy | None) -> f.PharmacyFacts | None:
    if ph is None:
        return None
    return f.PharmacyFacts(id=ph.id, ncpdp_id=ph.ncpdp_id, status=ph.status, certified_until=ph.certified_until)


def current_course(patient: Patient, lock: bool = False) -> Course:
    """The patient's latest course, with every record loaded in one round trip per table.

    `lock=True` takes a row lock on the course (SELECT ... FOR UPDATE on PostgreSQL) so concurrent
    writers for one patient are serialised (R-RMA-2)."""
    stmt = (select(Course).where(Course.patient_id == patient.id).order_by(Course.id.desc()).limit(1)
            .options(selectinload(Course.visits), selectinload(Course.contraception),
                     selectinload(Course.tests), selectinload(Course.attestations),
                     selectinload(Course.attestation_failures), selectinload(Course.authorizations)))
    if lock:
        stmt = stmt.with_for_update(of=Course)
    return db.session.execute(stmt).scalar_one()


def patient_facts(patient: Patient, course: Course) -> f.PatientFacts:
    return f.PatientFacts(
        id=patient.id, rems_id=patient.rems_id, first_name=patient.first_name, last_name=patient.last_name,
        date_of_birth=patient.date_of_birth, category=patient.category, prescriber_id=patient.prescriber_id,
        enrolled_at=course.enrolled_at, consent_signed_at=patient.consent_signed_at,
        home_testing_enabled=patient.home_testing_enabled, last_dose_date=course.last_dose_date,
        pregnancy_reported_at=course.pregnancy_reported_at,
        visits=tuple(f.Visit(id=v.id, recorded_at=v.recorded_at, visit_date=v.visit_date, counseled=v.counseled)
                     for v in course.visits),
        contraception=tuple(f.Contraception(id=c.id, recorded_at=c.recorded_at, start_date=c.start_date,
                                            forms=tuple(c.forms or ()), abstinence=c.abstinence)
                            for c in course.contraception),
        tests=tuple(f.PregnancyTest(id=t.id, recorded_at=t.recorded_at, kind=t.kind, specimen_date=t.specimen_date,
                                    result=t.result, setting=t.setting) for t in course.tests),
        attestations=tuple(f.Attestation(id=a.id, recorded_at=a.recorded_at) for a in course.attestations),
        attestation_failures=tuple(f.AttestationFailure(id=a.id, recorded_at=a.recorded_at)
                                   for a in course.attestation_failures),
        authorizations=tuple(f.Authorization(id=a.id, recorded_at=a.recorded_at, rma=a.rma, pharmacy_id=a.pharmacy_id,
                                             days_supply=a.days_supply, do_not_dispense_after=a.do_not_dispense_after,
                                             reversed_at=a.reversed_at) for a in course.authorizations),
    )
