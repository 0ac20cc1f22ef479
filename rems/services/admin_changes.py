"""What an administrator's change will do, and what changed under their form (R-ADMIN-1).

The confirmation page of a destructive change (suspend, revoke, close a pregnancy case) states its
consequences, taken from the rules (R-PRES-1, R-LOOP-1, R-PHAR-1, R-ATT-1, R-PT-4) and from what
the services do. A form opened on an older state of the account or question is refused with a
sentence naming who changed it, when, and what (optimistic concurrency: nothing is overwritten).
"""
from __future__ import annotations

from sqlalchemy import and_, func, or_, select

from rems.clock import local_time
from rems.errors import ApiError
from rems.extensions import db
from rems.models import AuditEntry, Course, Patient, PregnancyCase, User
from rems.services.canonical import canonical, sha256_hex
from rems.services.practice import account_version, effective_status

ROLE_NAMES = {"admin": "administrator", "prescriber": "prescriber", "pharmacist": "pharmacist",
              "patient": "patient"}
IN_TREATMENT = ("enrolled", "active")


def who(user: User | None, role: str | None = None) -> str:
    """'Ada Admin (administrator)'."""
    if user is None:
        return "someone"
    return f"{user.full_name} ({ROLE_NAMES.get(role or user.role, role or user.role)})"


# ----- consequences -----------------------------------------------------------------------------
def status_consequences(user: User, status: str) -> list[str]:
    """What suspending (`suspended`) or revoking (`revoked`) this account will do, in sentences."""
    name = user.full_name
    out = [f"{name} will be signed out everywhere (web pages and API tokens) and cannot sign in until an "
           "administrator reinstates the account."]
    if user.role == "prescriber" and user.prescriber is not None:
        out += _prescriber_consequences(user, status)
    elif user.role == "pharmacist":
        out += _pharmacist_consequences(user)
    elif user.role == "patient" and user.patient is not None:
        out += _patient_consequences(user)
    elif user.role == "admin":
        out.append(f"{name} will no longer be able to manage accounts, the question bank, the audit log or "
                   "pregnancy cases.")
    return out


def _prescriber_consequences(user: User, status: str) -> list[str]:
    pres, name = user.prescriber, user.full_name
    in_treatment = db.session.execute(
        select(func.count(func.distinct(Course.patient_id)))
        .join(Patient, Patient.id == Course.patient_id)
        .where(Patient.prescriber_id == pres.id, Course.status.in_(IN_TREATMENT))
    ).scalar_one()
    patients = f"{in_treatment} patient{'' if in_treatment == 1 else 's'} in treatment"
    out = [
        f"{name} will no longer be able to enroll patients or record their visits, counseling, contraception, "
        "pregnancy tests or end of treatment (R-PRES-1).",
        f"Every new RMA request for their {patients} will be refused with PRESCRIBER_NOT_CERTIFIED "
        "(R-LOOP-1); RMAs already issued can still be filled until their \"do not dispense after\" date.",
    ]
    if status == "revoked":
        end = pres.certified_until
        until = (f" (valid until {end:%b} {end.day}, {end.year})"
                 if end is not None and effective_status(pres) == "certified" else "")
        out.append(f"Their certification{until} is revoked. Reinstating the account later does not restore it: "
                   "they must sign the program attestation again (R-PRES-1).")
    else:
        out.append("Reinstating the account restores the certification they hold now; it is not revoked.")
    return out


def _pharmacist_consequences(user: User) -> list[str]:
    name = user.full_name
    memberships = [m for m in user.memberships if m.active]
    if not memberships:
        return []
    names = ", ".join(f"{m.pharmacy.name} (NCPDP {m.pharmacy.ncpdp_id})" for m in memberships)
    out = [f"{name} will no longer be able to check eligibility, obtain or reverse RMAs for {names} (R-PHAR-1)."]
    rsp_of = [m.pharmacy.name for m in memberships if m.is_rsp]
    if rsp_of:
        out.append(f"As Responsible Site Pharmacist of {', '.join(rsp_of)}, they cannot invite staff or sign the "
                   "pharmacy's attestation again.")
    out.append("The pharmacy stays certified: its other pharmacists can still obtain RMAs.")
    return out


def _patient_consequences(user: User) -> list[str]:
    patient, name = user.patient, user.full_name
    course = patient.courses[-1] if patient.courses else None
    cgp_in_treatment = patient.category == "can_get_pregnant" and course is not None and course.status in IN_TREATMENT
    blocked = ([] if patient.consent_signed_at else ["sign the consent"]) + (
        ["sign a monthly attestation"] if cgp_in_treatment else [])
    out = [f"{name} gets no reminders" + (f" and cannot {' or '.join(blocked)}" if blocked else "")
           + " while suspended."]
    if cgp_in_treatment:
        out.append("An RMA request for a cycle they have not attested will be refused with ATTESTATION_REQUIRED "
                   "(R-ATT-1).")
    return out


def case_consequences(case: PregnancyCase, patient: Patient) -> list[str]:
    """R-PT-4: what closing a pregnancy registry case does (and does not)."""
    return [
        f"Case #{case.id} of {patient.first_name} {patient.last_name} (REMS ID {patient.rems_id}) will be closed "
        "with your reason, recording that the registry follow-up is done.",
        "Closing does not restart treatment: the course stays ended (pregnancy reported), and no RMA can be "
        "issued for it (R-PT-4).",
        "A closed case cannot be reopened.",
    ]


# ----- optimistic concurrency -------------------------------------------------------------------
def _actor(entry: AuditEntry | None) -> tuple[str, str]:
    if entry is None:
        return "", ""
    actor = db.session.get(User, entry.actor_id) if entry.actor_id is not None else None
    return f" by {who(actor, entry.actor_role)}", f" at {local_time(entry.at)}"


_ACCOUNT_PARTS = ("account", "certification", "certified until")


def account_conflict(user: User, opened: str) -> ApiError:
    """The form was opened on `opened` (practice.account_version), and the account has changed since."""
    now = account_version(user)
    old, new = opened.split("."), now.split(".")
    if len(old) != len(new):  # not a version this service gave (a hand-made post): say what it is now
        what = f"it is now {_words(new[0])}" + (f", certification {_words(new[1])}" if new[1] else "")
        return ApiError(409, "VERSION_CONFLICT", f"This page did not say which state of {user.full_name}'s account "
                                                 f"({user.email}) it was opened on: {what}. Review and try again.",
                        version=now)
    pres = user.prescriber if user.role == "prescriber" else None
    status_of_user = and_(AuditEntry.action == "account.status_changed", AuditEntry.object_type == "user",
                          AuditEntry.object_id == str(user.id))
    cond = status_of_user if pres is None else or_(status_of_user, and_(
        AuditEntry.action == "prescriber.certified", AuditEntry.object_type == "prescriber",
        AuditEntry.object_id == str(pres.id)))
    entry = db.session.execute(select(AuditEntry).where(cond).order_by(AuditEntry.id.desc()).limit(1)).scalar()
    by, at = _actor(entry)
    what = "; ".join(f"{label} {_words(a)} → {_words(b)}"
                     for label, a, b in zip(_ACCOUNT_PARTS, old, new, strict=True) if a != b)
    return ApiError(409, "VERSION_CONFLICT", f"The account of {user.full_name} ({user.email}) was changed{by}{at} "
                                             f"since you opened this page: {what}. Review and try again.", version=now)


def _words(value: str) -> str:
    return value.replace("_", " ") if value else "none"


def question_version(question: dict) -> str:
    """A question's version: a hash of what the bank holds (admin.list_questions shape, without `version`)."""
    return sha256_hex(canonical({k: v for k, v in question.items() if k != "version"}))[:16]


_QUESTION_PARTS = (("text", "the question's text"), ("choices", "the answers"), ("explanation", "the explanation"))


def question_conflict(question_id: int, current: dict, opened: str) -> ApiError:
    """The editor was opened on version `opened`; the question has been saved since. The audit log
    (R-AUD-1) holds each save's before and after: the one that matches `opened` is what the page showed."""
    entries = db.session.execute(
        select(AuditEntry).where(AuditEntry.action == "question.saved",
                                 AuditEntry.object_type == "comprehension_question",
                                 AuditEntry.object_id == str(question_id))
        .order_by(AuditEntry.id.desc()).limit(100)).scalars().all()
    shown = None
    for e in entries:
        if e.after and question_version(e.after) == opened:
            shown = e.after
            break
        if e.before and question_version(e.before) == opened:
            shown = e.before
            break
    by, at = _actor(entries[0] if entries else None)
    what = [label for key, label in _QUESTION_PARTS if shown is not None and shown.get(key) != current.get(key)]
    if shown is not None and shown.get("active") != current.get("active"):
        what.append("it was " + ("reactivated" if current.get("active") else "deactivated"))
    detail = ", ".join(what) or "it was edited"
    return ApiError(409, "VERSION_CONFLICT", f"Question {question_id} was changed{by}{at} since you opened this "
                                             f"page: {detail}. Review and try again.",
                    version=question_version(current))


def case_closed(case: PregnancyCase) -> ApiError:
    """R-PT-4: a case is closed once; the second administrator is told by whom and when."""
    by = f" by {who(case.closed_by)}" if case.closed_by is not None else ""
    return ApiError(409, "CONFLICT", f"This case is already closed{by} at {local_time(case.closed_at)}.")
