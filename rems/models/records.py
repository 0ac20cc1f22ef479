"""Signatures, documents, audit entries, notifications, reminders and the question bank."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rems.extensions import db
from rems.models.types import UTCDateTime, enum_check, utcnow

DOC_STATUSES = ("pending", "ready", "failed")


class Signature(db.Model):
    """R-SIG-1: an e-signature. Never updated once written (database trigger on PostgreSQL)."""

    __tablename__ = "signatures"
    id: Mapped[int] = mapped_column(primary_key=True)
    signer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    printed_name: Mapped[str] = mapped_column(String(201))
    role: Mapped[str] = mapped_column(String(20))
    meaning: Mapped[str] = mapped_column(String(300))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    record_type: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[int] = mapped_column(Integer)
    record_sha256: Mapped[str] = mapped_column(String(64))
    record_canonical: Mapped[str] = mapped_column(Text)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("signatures.id"))

    signer = relationship("User", foreign_keys=[signer_id])


class Document(db.Model):
    """R-DOC-1: the PDF attestation of one signature, rendered in the background."""

    __tablename__ = "documents"
    __table_args__ = (enum_check("status", DOC_STATUSES),
                      # the sweep's look-up of PDFs never rendered (migration 0011)
                      Index("ix_documents_pending", "created_at", postgresql_where=text("status = 'pending'"),
                            sqlite_where=text("status = 'pending'")))
    id: Mapped[int] = mapped_column(primary_key=True)
    signature_id: Mapped[int] = mapped_column(ForeignKey("signatures.id"), unique=True)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    error: Mapped[str | None] = mapped_column(String(500))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    rendered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    signature = relationship("Signature")
    patient = relationship("Patient")  # read by policy._document_reader


class AuditEntry(db.Model):
    """R-AUD-1: append-only and hash-chained (each entry holds the previous entry's hash)."""

    __tablename__ = "audit_entries"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer, index=True)
    actor_role: Mapped[str | None] = mapped_column(String(20))
    ip: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(60), index=True)
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(40))
    patient_id: Mapped[int | None] = mapped_column(Integer, index=True)
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditEntryPatient(db.Model):
    """R-AUD-1: one patient a list entry showed, so the audit log's filter by patient finds the list
    views too. The entry's hashed `after["patient_ids"]` is the record; these rows are its index,
    written with the entry, append-only, and checked against it by `rems audit verify`."""

    __tablename__ = "audit_entry_patients"
    __table_args__ = (Index("ix_audit_entry_patients_patient_id", "patient_id", "entry_id"),)
    entry_id: Mapped[int] = mapped_column(ForeignKey("audit_entries.id"), primary_key=True)
    patient_id: Mapped[int] = mapped_column(Integer, primary_key=True)


class Notification(db.Model):
    """In-app notifications (R-REM-2, R-PT-4)."""

    __tablename__ = "notifications"
    # the sweep's look-up of notifications never emailed (migration 0011)
    __table_args__ = (Index("ix_notifications_unsent", "created_at", postgresql_where=text("emailed_at IS NULL"),
                            sqlite_where=text("emailed_at IS NULL")),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ReminderSent(db.Model):
    """R-REM-2: one row per (recipient, kind, subject); the unique constraint makes it once."""

    __tablename__ = "reminders_sent"
    __table_args__ = (UniqueConstraint("recipient_id", "kind", "subject_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(40))
    subject_key: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    email_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # not emailed because the day it names had passed before it could be (rems.services.reminders)
    dropped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    payload: Mapped[dict] = mapped_column(JSON, default=dict)


class ComprehensionQuestion(db.Model):
    """The comprehension question bank (R-ATT-1). `choices`: [{id, text, correct}]."""

    __tablename__ = "comprehension_questions"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(500))
    explanation: Mapped[str] = mapped_column(String(1000))
    choices: Mapped[list] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
