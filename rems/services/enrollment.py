"""Enrollment (R-PAT-1) and the patient's one-time activation code (R-PAT-3): REMS IDs with a
check digit, duplicate detection and transfer, a new code for a patient who lost theirs."""
from __future__ import annotations

import secrets

from sqlalchemy import select

from rems.clock import now, today
from rems.errors import ApiError
from rems.extensions import db
from rems.models import Course, Patient, User
from rems.services import accounts, audit
from rems.services.practice import require_certified
from rems.tasks import unit_of_work


def rems_id_check_digit(body: str) -> str:
    """Luhn check digit over the 9-digit body of a REMS patient ID (R-PAT-1)."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def _new_rems_id() -> str:
    while True:
        body = str(secrets.randbelow(9 * 10**8) + 10**8)
        candidate = body + rems_id_check_digit(body)
        if db.session.execute(select(Patient.id).where(Patient.rems_id == candidate)).first() is None:
            return candidate


def name_key(first: str, last: str) -> str:
    return f"{' '.join(first.split()).casefold()}|{' '.join(last.split()).casefold()}"


def by_rems_id(rems_id: str) -> Patient | None:
    if not isinstance(rems_id, str) or len(rems_id) > 12:
        return None
    return db.session.execute(select(Patient).where(Patient.rems_id == rems_id)).scalar_one_or_none()


def enroll(user: User, data: dict) -> tuple[Patient, str | None]:
    """R-PAT-1: enroll a patient with a unique REMS ID; a duplicate (same first and last name and
    date of birth) is refused unless the prescriber asks to transfer that patient."""
    require_certified(user)
    if data["date_of_birth"] > today():  # program-local date (R-TIME-1), not the UTC one
        raise ApiError.field("date_of_birth", "cannot be in the future", code="DATE_IN_FUTURE")
    if data["date_of_birth"].year < today().year - 120:  # a typo (1890 for 1990), not a patient
        raise ApiError.field("date_of_birth", "is more than 120 years ago: check the year")
    key = name_key(data["first_name"], data["last_name"])
    with unit_of_work():
        dup = db.session.execute(select(Patient).where(Patient.name_key == key,
                                                       Patient.date_of_birth == data["date_of_birth"])
                                 ).scalar_one_or_none()
        if dup is not None:
            if dup.prescriber_id == user.prescriber.id:  # e.g. the enrollment form sent twice
                raise ApiError(409, "DUPLICATE_PATIENT", f"{dup.first_name} {dup.last_name} is already enrolled "
                               f"in your care (REMS ID {dup.rems_id}).", rems_id=dup.rems_id)
            if not data.get("transfer"):
                raise ApiError(409, "DUPLICATE_PATIENT", "A patient with this name and date of birth is already "
                               "enrolled. If they are moving to your care, enroll again with transfer.")
            before = {"prescriber_id": dup.prescriber_id}
            dup.prescriber_id = user.prescriber.id
            audit.record("patient.transferred", "patient", dup.id, patient_id=dup.id, before=before,
                         after={"prescriber_id": user.prescriber.id}, actor=user)
            return dup, None
        account = accounts.new_user(data["email"], "patient", data["first_name"], data["last_name"],
                                    status="pending_activation")
        patient = Patient(rems_id=_new_rems_id(), user_id=account.id, prescriber_id=user.prescriber.id,
                          first_name=data["first_name"], last_name=data["last_name"], name_key=key,
                          date_of_birth=data["date_of_birth"], email=account.email, category=data["category"],
                          created_at=now())
        db.session.add(patient)
        db.session.flush()
        db.session.add(Course(patient_id=patient.id, enrolled_at=now(), status="enrolled"))
        code = accounts.new_activation(account)
        audit.record("patient.enrolled", "patient", patient.id, patient_id=patient.id,
                     after={"rems_id": patient.rems_id, "category": patient.category}, actor=user)
    return patient, code


def new_activation_code(user: User, patient: Patient) -> str:
    """A new one-time activation code for a patient who has not activated their account yet (the
    code was lost, or the enrollment page closed before it was handed over); earlier codes stop
    working. Only the patient's prescriber of record (policy "patient.record"), certified."""
    with unit_of_work():
        require_certified(user)
        account = db.session.get(User, patient.user_id, with_for_update=True)
        if account.status != "pending_activation":
            raise ApiError(409, "ALREADY_ACTIVATED",
                           f"{patient.first_name} {patient.last_name} has already activated their account "
                           "and signs in with their email and password.")
        code = accounts.replace_activation(account)
        audit.record("patient.activation_code_replaced", "patient", patient.id, patient_id=patient.id, actor=user)
    return code
