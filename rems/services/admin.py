"""Administrator services (R-ADMIN-1)."""
from __future__ import annotations

from sqlalchemy import func, select

from rems.clock import now, program
from rems.errors import ApiError
from rems.extensions import db
from rems.ids import parse_id
from rems.models import ComprehensionQuestion, PregnancyCase, User
from rems.services import audit, practice
from rems.services.patient_self import serialize_question
from rems.tasks import unit_of_work


def _by_id(model, raw, lock: bool = False):
    parsed = parse_id(raw)
    obj = db.session.get(model, parsed, with_for_update=lock or None) if parsed is not None else None
    if obj is None:
        raise ApiError(404, "NOT_FOUND", "No such record.")
    return obj


def list_questions() -> list[dict]:
    rows = db.session.execute(select(ComprehensionQuestion).order_by(ComprehensionQuestion.id)).scalars()
    return [serialize_question(q, with_answers=True) for q in rows]


def save_question(user: User, question_id, data: dict) -> dict:
    choices = data["choices"]
    if sum(1 for c in choices if c["correct"]) != 1:
        raise ApiError.field("choices", "exactly one choice must be correct")
    if len({c["id"] for c in choices}) != len(choices):
        raise ApiError.field("choices", "choice ids must be unique")
    texts = [" ".join(c["text"].split()).casefold() for c in choices]
    if len(set(texts)) != len(texts):  # R-ATT-1: a patient could not tell two such answers apart
        raise ApiError.field("choices", "two choices have the same text")
    with unit_of_work():
        q = ComprehensionQuestion() if question_id is None else _by_id(ComprehensionQuestion, question_id)
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
    return after


def _same_question(text: str, own_id: int | None) -> int | None:
    """The id of another question with this text (up to case and spaces), if any."""
    key = " ".join(text.split()).casefold()
    rows = db.session.execute(select(ComprehensionQuestion.id, ComprehensionQuestion.text)).all()
    return next((qid for qid, other in rows if qid != own_id and " ".join(other.split()).casefold() == key), None)


def serialize_user(u: User) -> dict:
    out = {"id": u.id, "email": u.email, "role": u.role, "status": u.status, "first_name": u.first_name,
           "last_name": u.last_name}
    if u.role == "prescriber" and u.prescriber is not None:  # R-PRES-1
        out["prescriber_status"] = u.prescriber.status
    return out


def list_users() -> list[dict]:
    return [serialize_user(u) for u in db.session.execute(select(User).order_by(User.id)).scalars()]


def set_status(admin: User, user_id, data: dict) -> dict:
    user = _by_id(User, user_id)
    if user.id == admin.id:
        raise ApiError(409, "CONFLICT", "You cannot change your own account's status.")
    return serialize_user(practice.set_account_status(admin, user, data["status"], data["reason"]))


def close_case(admin: User, case_id, reason: str) -> dict:
    """R-PT-4: only an administrator closes a pregnancy registry case, with a reason."""
    with unit_of_work():
        case = _by_id(PregnancyCase, case_id, lock=True)  # two administrators at once: one closes it
        if case.closed_at is not None:
            raise ApiError(409, "CONFLICT", "This case is already closed.")
        case.closed_at, case.closed_by_id, case.close_reason = now(), admin.id, reason
        audit.record("pregnancy_case.closed", "pregnancy_case", case.id, patient_id=case.patient_id,
                     after={"reason": reason}, actor=admin)
    return {"id": case.id, "closed_at": case.closed_at.isoformat(), "reason": reason}
