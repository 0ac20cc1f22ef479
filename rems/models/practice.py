"""Prescribers, pharmacies and pharmacy membership (R-PRES-1, R-PHAR-1)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rems.extensions import db
from rems.models.types import UTCDateTime, enum_check, utcnow

CERT_STATUSES = ("pending", "certified", "suspended", "revoked")


class Prescriber(db.Model):
    __tablename__ = "prescribers"
    __table_args__ = (enum_check("status", CERT_STATUSES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    npi: Mapped[str] = mapped_column(String(10), unique=True)
    license_state: Mapped[str] = mapped_column(String(2))
    license_number: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    certified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    certified_until: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user = relationship("User", back_populates="prescriber")
    patients = relationship("Patient", back_populates="prescriber")


class Pharmacy(db.Model):
    __tablename__ = "pharmacies"
    __table_args__ = (enum_check("status", CERT_STATUSES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    ncpdp_id: Mapped[str] = mapped_column(String(7), unique=True)
    npi: Mapped[str] = mapped_column(String(10))
    address_line1: Mapped[str] = mapped_column(String(100))
    city: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(2))
    zip: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    certified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    certified_until: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    members = relationship("PharmacyMember", back_populates="pharmacy")


class PharmacyMember(db.Model):
    __tablename__ = "pharmacy_members"
    __table_args__ = (UniqueConstraint("pharmacy_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pharmacy_id: Mapped[int] = mapped_column(ForeignKey("pharmacies.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    is_rsp: Mapped[bool] = mapped_column(Boolean, default=False)
    license_number: Mapped[str] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    pharmacy = relationship("Pharmacy", back_populates="members")
    user = relationship("User", back_populates="memberships")
