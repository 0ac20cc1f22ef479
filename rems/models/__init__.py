"""All models; importing this package registers every table on the metadata."""
from rems.models.accounts import ActivationCode, ApiToken, User, WebSession
from rems.models.dispensing import Authorization, IdempotencyRecord
from rems.models.patients import (
    Attestation,
    AttestationFailure,
    CategoryChange,
    ContraceptionRecord,
    Course,
    Patient,
    PregnancyCase,
    PregnancyTest,
    Visit,
)
from rems.models.practice import Pharmacy, PharmacyMember, Prescriber
from rems.models.records import (
    AuditEntry,
    AuditEntryPatient,
    ComprehensionQuestion,
    Document,
    Notification,
    ReminderSent,
    Signature,
)

__all__ = [
    "ActivationCode", "ApiToken", "Attestation", "AttestationFailure", "AuditEntry", "AuditEntryPatient",
    "Authorization", "CategoryChange", "ComprehensionQuestion", "ContraceptionRecord", "Course", "Document",
    "IdempotencyRecord", "Notification", "Patient", "Pharmacy", "PharmacyMember", "PregnancyCase",
    "PregnancyTest", "Prescriber", "ReminderSent", "Signature", "User", "Visit", "WebSession",
]
