"""Dispense authorizations (RMAs) and idempotency records (R-RMA-1..6)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rems.extensions import db
from rems.models.types import UTCDateTime, enum_check, utcnow

RMA_STATUSES = ("authorized", "reversed")


class Authorization(db.Model):
    __tablename__ = "authorizations"
    __table_args__ = (
        enum_check("status", RMA_STATUSES),
        # R-RMA-2: never two unreversed RMAs in one cycle, whatever the race.
        Index("uq_authorizations_one_per_cycle", "course_id", "cycle_number", unique=True,
              postgresql_where=text("status = 'authorized'"), sqlite_where=text("status = 'authorized'")),
        # A pharmacy's RMAs newest first, a page at a time (keyset on recorded_at, id: the
        # pharmacist's RMA list); it also serves every look-up by pharmacy (migration 0010).
        Index("ix_authorizations_pharmacy_recent", "pharmacy_id", "recorded_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rma: Mapped[str] = mapped_column(String(20), unique=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    prescriber_id: Mapped[int] = mapped_column(ForeignKey("prescribers.id"), index=True)
    pharmacy_id: Mapped[int] = mapped_column(ForeignKey("pharmacies.id"))
    pharmacist_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    cycle_number: Mapped[int] = mapped_column(Integer)
    days_supply: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    do_not_dispense_after: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="authorized")
    reversed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reversed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reversal_reason: Mapped[str | None] = mapped_column(String(1000))

    pharmacy = relationship("Pharmacy")
    patient = relationship("Patient")
    course = relationship("Course", viewonly=True)  # read by dispensing.dispense_stop (R-PT-4)
    prescriber = relationship("Prescriber")


class IdempotencyRecord(db.Model):
    """The first answer to a request with an `Idempotency-Key`, replayed for repeats."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
