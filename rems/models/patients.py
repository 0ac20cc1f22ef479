"""Patients, their courses and the clinical records the engine decides on.

Clinical records are append-only: a correction is a new record (R-SIG-1). Every record keeps
`recorded_at`, which R-CYC-1 uses to place it in a cycle.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rems.extensions import db
from rems.models.types import UTCDateTime, enum_check, utcnow

CATEGORIES = ("can_get_pregnant", "cannot_get_pregnant")
COURSE_STATUSES = ("enrolled", "active", "pregnancy_reported", "post_treatment", "completed")
TEST_KINDS = ("screening", "confirmation", "monthly", "post_treatment")
TEST_RESULTS = ("negative", "positive")
TEST_SETTINGS = ("medical", "home")


class Patient(db.Model):
    __tablename__ = "patients"
    __table_args__ = (enum_check("category", CATEGORIES), Index("ix_patients_name_dob", "name_key", "date_of_birth"))

    id: Mapped[int] = mapped_column(primary_key=True)
    rems_id: Mapped[str] = mapped_column(String(12), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    prescriber_id: Mapped[int] = mapped_column(ForeignKey("prescribers.id"), index=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    name_key: Mapped[str] = mapped_column(String(201))  # normalised "first|last" for R-PAT-1
    date_of_birth: Mapped[date] = mapped_column(Date)
    email: Mapped[str] = mapped_column(String(254))
    category: Mapped[str] = mapped_column(String(30))
    home_testing_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # R-PT-3: the program-local day home testing was (last) enabled; NULL while it is off
    home_testing_enabled_on: Mapped[date | None] = mapped_column(Date)
    home_testing_procedure: Mapped[str | None] = mapped_column(Text)
    consent_signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    guardian_name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user = relationship("User", back_populates="patient", foreign_keys=[user_id])
    prescriber = relationship("Prescriber", back_populates="patients")
    courses = relationship("Course", back_populates="patient", order_by="Course.id")


class Course(db.Model):
    """One treatment course. `status` caches the engine's answer for lists and reports;
    `version` serialises concurrent writers (optimistic lock, architecture.md example 10)."""

    __tablename__ = "courses"
    __table_args__ = (enum_check("status", COURSE_STATUSES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status: Mapped[str] = mapped_column(String(30), default="enrolled")
    last_dose_date: Mapped[date | None] = mapped_column(Date)
    end_reason: Mapped[str | None] = mapped_column(String(1000))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    pregnancy_reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)

    patient = relationship("Patient", back_populates="courses")
    visits = relationship("Visit", order_by="Visit.id")
    contraception = relationship("ContraceptionRecord", order_by="ContraceptionRecord.id")
    tests = relationship("PregnancyTest", order_by="PregnancyTest.id")
    attestations = relationship("Attestation", order_by="Attestation.id")
    attestation_failures = relationship("AttestationFailure", order_by="AttestationFailure.id")
    authorizations = relationship("Authorization", order_by="Authorization.id")
    category_changes = relationship("CategoryChange", order_by="CategoryChange.id")


class _Record:
    id: Mapped[int] = mapped_column(primary_key=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))


class Visit(_Record, db.Model):
    __tablename__ = "visits"
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    visit_date: Mapped[date] = mapped_column(Date, index=True)  # reminder sweep (bench/NOTES.md)
    counseled: Mapped[bool] = mapped_column(Boolean)
    signature_id: Mapped[int | None] = mapped_column(ForeignKey("signatures.id"))


class ContraceptionRecord(_Record, db.Model):
    __tablename__ = "contraception_records"
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    start_date: Mapped[date] = mapped_column(Date)
    forms: Mapped[list] = mapped_column(JSON, default=list)
    abstinence: Mapped[bool] = mapped_column(Boolean, default=False)


class PregnancyTest(_Record, db.Model):
    __tablename__ = "pregnancy_tests"
    __table_args__ = (enum_check("kind", TEST_KINDS), enum_check("result", TEST_RESULTS),
                      enum_check("setting", TEST_SETTINGS))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    specimen_date: Mapped[date] = mapped_column(Date, index=True)  # reminder sweep (bench/NOTES.md)
    result: Mapped[str] = mapped_column(String(10))
    setting: Mapped[str] = mapped_column(String(10))


class Attestation(_Record, db.Model):
    """A passed and signed monthly attestation (R-ATT-1)."""

    __tablename__ = "attestations"
    # reminder sweep: "no attestation recorded after this test" is an index-only probe (bench/NOTES.md)
    __table_args__ = (Index("ix_attestations_course_id_recorded_at", "course_id", "recorded_at"),)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    cycle_number: Mapped[int] = mapped_column(Integer)
    answers: Mapped[dict] = mapped_column(JSON)
    contraception: Mapped[dict] = mapped_column(JSON)
    signature_id: Mapped[int | None] = mapped_column(ForeignKey("signatures.id"))


class AttestationFailure(_Record, db.Model):
    """A failed comprehension attempt (R-ATT-2)."""

    __tablename__ = "attestation_failures"
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    cycle_number: Mapped[int] = mapped_column(Integer)
    incorrect: Mapped[list] = mapped_column(JSON)


class CategoryChange(_Record, db.Model):
    """R-PAT-2: every category change is kept with its reason."""

    __tablename__ = "category_changes"
    __table_args__ = (enum_check("from_category", CATEGORIES), enum_check("to_category", CATEGORIES))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)  # R-PAT-2: walked with it
    from_category: Mapped[str] = mapped_column(String(30))
    to_category: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str] = mapped_column(String(1000))


class PregnancyCase(db.Model):
    """R-PT-4: a registry case opened by a positive test; only an administrator closes it."""

    __tablename__ = "pregnancy_cases"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"))
    test_id: Mapped[int] = mapped_column(ForeignKey("pregnancy_tests.id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    close_reason: Mapped[str | None] = mapped_column(String(1000))

    closed_by = relationship("User", foreign_keys=[closed_by_id])  # shown with the closed case (R-PT-4)
