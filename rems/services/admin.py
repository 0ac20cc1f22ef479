"""Administrator services (R-ADMIN-1)."""
from __future__ import annotations

from sqlalchemy import func, select

from rems.clock import now, program
from rems.errors import ApiError
from rems.extensions import db
from rems.ids import parse_id
from rems.models import ComprehensionQuestion, Patient, PregnancyCase, User
from rems.services import admin_changes, audit, practice
from rems.services.patient_self import serialize_question
from rems.tasks import unit_of_work


def _by_id(model, raw, lock: bool = False):
    """The row, or 404. `lock`: FOR UPDATE (PostgreSQL), read again even if the session holds it, so a
    check made under the lock sees what another administrator committed meanwhile."""
    parsed = parse_id(raw)
    obj = (db.session.get(model, parsed, with_for_update=lock or None, populate_existing=lock)
           if parsed is not None else None)
    if obj is None:
        raise ApiError(404, "NOT_FOUND", "No such record.")
    return obj


def _with_version(question: dict) -> dict:
    return {**question, "version": admin_changes.question_version(question)}


def list_questions() -> list[dict]:
    """The bank, each question with its `version` (what an edit form sends back, optimistic concurrency)."""
    rows = db.session.execute(select(ComprehensionQuestion).order_by(ComprehensionQuestion.id)).scalars()
    return [_with_version(serialize_question(q, with_answers=True)) for q in rows]


def save_question(user: User, question_id, data: dict) -> dict:
    """Add (`question_id` None) or edit a question. An edit with `version` (the one it was opened on) is
    refused with 409 VERSION_CONFLICT when the question was saved since: no edit overwrites another
    unseen. Without `version` (the API's contract) the edit is saved as sent."""
    choices = data["choices"]
    if sum(1 for c in choices if c["correct"]) != 1:
        raise ApiError.field("choices", "exactly one choice must be correct")
    if len({c["id"] for c in choices}) != len(choices):
        raise ApiError.field("choices", "choice ids must be unique")
    texts = [" ".join(c["text"].split()).casefold() for c in choices]
    if len(set(texts)) != len(texts):  # R-ATT-1: a patient could not tell two such answers apart
        raise ApiError.field("choices", "two choices have the same text")
    with unit_of_work():
        q = ComprehensionQuestion() if question_id is None else _by_id(ComprehensionQuestion, question_id, lock=True)
        if q.id is not None and data.get("version") is not None:
            current = serialize_question(q, with_answers=True)
            if admin_changes.question_version(current) != data["version"]:
                raise admin_changes.question_conflict(q.id, current, data["version"])
        twin = _same_question(data["text"], q.id) if q.id is None or data["text"] != q.text else None
        if twin is not None:  # R-ATT-1: a form sent twice, or one cycle asking the same question twice
            raise ApiError.field("text", f"Question {twin} already asks this: edit or reactivate it instead.",
                                 code="CONFLICT", status=409)
        before = None if question_id is None else serialize_question(q, with_answers=True)
        q.text, q.explanation, q.choices = data["text"], data["explanation"], choices
        q.active = data.get("active", True)
        q.updated_at = now()
        db.session.add(q)
        db.session.flush()
        active = db.session.execute(select(func.count()).select_from(ComprehensionQuestion)
                                    .where(ComprehensionQuestion.active)).scalar()
        needed = program().comprehension_questions_per_cycle
        if not q.active and active < needed:  # R-ATT-1: every cycle asks this many questions
            raise ApiError.field("active", f"at least {needed} questions must stay active: each monthly "
                                           f"attestation asks {needed}", code="CONFLICT", status=409)
        after = serialize_question(q, with_answers=True)
        audit.record("question.saved", "comprehension_question", q.id, before=before, after=after, actor=user)
    return _with_version(after)


def _same_question(text: str, own_id: int | None) -> int | None:
    """The id of another question with this text (up to case and spaces), if any."""
    key = " ".join(text.split()).casefold()
    rows = db.session.execute(select(ComprehensionQuestion.id, ComprehensionQuestion.text)).all()
    return next((qid for qid, other in rows if qid != own_id and " ".join(other.split()).casefold() == key), None)


def serialize_user(u: User) -> dict:
    """An account, with the status changes that apply to it now and its `version` (R-ADMIN-1)."""
    out = {"id": u.id, "email": u.email, "role": u.role, "status": u.status, "first_name": u.first_name,
           "last_name": u.last_name, "status_changes": list(practice.status_changes(u)),
           "version": practice.account_version(u)}
    if u.role == "prescriber" and u.prescriber is not None:  # R-PRES-1
        out["prescriber_status"] = u.prescriber.status
    return out


def list_users() -> list[dict]:
    """Every account; R-AUD-1: the patients' among them (names, emails) are a read, audited as one
    entry naming those patients (not paginated: the entry names every patient account)."""
    rows = db.session.execute(select(User, Patient.id).outerjoin(Patient, Patient.user_id == User.id)
                              .order_by(User.id)).all()
    users = [serialize_user(u) for u, _ in rows]
    with unit_of_work():
        audit.record_list("users.listed", [pid for _, pid in rows if pid is not None], {"list": "users"})
    return users


def _check_status_change(admin: User, user: User, data: dict) -> None:
    """Refuse a status change that does not apply (R-ADMIN-1, R-PRES-1): one's own account; revoking
    a non-prescriber's certification; a form opened on another state than the account's now
    (`version`, when given); revoking a pending or revoked certification, suspending a suspended
    account, reinstating an active one, anything on an account not activated yet."""
    status = data["status"]
    if user.id == admin.id:
        raise ApiError(409, "CONFLICT", "You cannot change your own account's status.")
    if status == "revoked" and user.role != "prescriber":
        raise ApiError.field("status", "Only a prescriber's certification can be revoked (R-PRES-1).")
    if data.get("version") is not None and data["version"] != practice.account_version(user):
        raise admin_changes.account_conflict(user, data["version"])
    if status not in practice.status_changes(user):
        raise ApiError(409, "STATUS_CHANGE_NOT_ALLOWED", _not_applicable(user, status))


def _not_applicable(user: User, status: str) -> str:
    name = user.full_name
    if user.status == "pending_activation":
        return f"{name} has not activated the account yet: there is nothing to suspend or reinstate."
    if status == "revoked":
        held = user.prescriber.status
        return (f"{name}'s certification is already revoked." if held == "revoked" else
                f"{name} holds no certification to revoke ({held}: the program attestation is not signed).")
    return f"{name}'s account is already {'active' if status == 'active' else 'suspended'}."


def preview_status(admin: User, user_id, data: dict) -> dict:
    """What a suspension or revocation would do, for the confirmation page; refused as set_status
    would refuse it. Changes nothing."""
    user = _by_id(User, user_id)
    _check_status_change(admin, user, data)
    return {"user": user, "status": data["status"],
            "consequences": admin_changes.status_consequences(user, data["status"])}


def set_status(admin: User, user_id, data: dict) -> dict:
    """R-ADMIN-1 / R-PRES-1: suspend, revoke or reinstate. The account (and its prescriber row) is
    read again under a row lock, so two administrators at once cannot both act on the state they saw."""
    with unit_of_work():
        user = _by_id(User, user_id, lock=True)
        if user.role == "prescriber" and user.prescriber is not None:
            db.session.refresh(user.prescriber, with_for_update=True)
        _check_status_change(admin, user, data)
        practice.set_account_status(admin, user, data["status"], data["reason"])
    return serialize_user(user)


def preview_close(case_id) -> dict:
    """R-PT-4: the case and what closing it does, for the confirmation page. Changes nothing."""
    case = _by_id(PregnancyCase, case_id)
    if case.closed_at is not None:
        raise admin_changes.case_closed(case)
    patient = db.session.get(Patient, case.patient_id)
    return {"case": case, "patient": patient, "consequences": admin_changes.case_consequences(case, patient)}


def close_case(admin: User, case_id, reason: str) -> dict:
    """R-PT-4: only an administrator closes a pregnancy registry case, with a reason."""
    with unit_of_work():
        case = _by_id(PregnancyCase, case_id, lock=True)  # two administrators at once: one closes it
        if case.closed_at is not None:
            raise admin_changes.case_closed(case)
        case.closed_at, case.closed_by_id, case.close_reason = now(), admin.id, reason
        audit.record("pregnancy_case.closed", "pregnancy_case", case.id, patient_id=case.patient_id,
                     after={"reason": reason}, actor=admin)
    return {"id": case.id, "closed_at": case.closed_at.isoformat(), "reason": reason,
            "closed_by": {"id": admin.id, "name": admin.full_name, "role": admin.role}}
