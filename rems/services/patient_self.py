"""The patient's own steps: informed consent (R-PAT-3) and the monthly attestation (R-ATT-1/2)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import select

from rems.clock import now, program, today
from rems.errors import ApiError
from rems.extensions import db
from rems.models import Attestation, AttestationFailure, ComprehensionQuestion, Patient, User
from rems.services import audit, signatures
from rems.services.facts import current_course, patient_facts
from rems.services.patients import evaluate
from rems.tasks import unit_of_work
from workflows import check_transition

CONSENT_VERSION = "2026-02"


def _guard(action: str, patient: Patient, course, **payload) -> None:
    verdict = check_transition(action, patient_facts(patient, course), program(), now(), **payload)
    if not verdict.ok:
        raise ApiError(422, verdict.code or "VALIDATION_ERROR", verdict.message,
                       errors=[{"field": verdict.field, "message": verdict.message}] if verdict.field else None)


def sign_consent(user: User, password: str, guardian_name: str | None):
    """R-PAT-3: e-signed informed consent; a parent or guardian is named for patients under 18."""
    patient = user.patient
    with unit_of_work():
        course = current_course(patient, lock=True)
        _guard("sign_consent", patient, course, signed_on=today(), guardian_name=guardian_name)
        _, doc = signatures.sign(user, password, "patient_consent", "consent", patient.id,
                                 {"rems_id": patient.rems_id, "name": user.full_name,
                                  "date_of_birth": patient.date_of_birth, "guardian_name": guardian_name,
                                  "consent_version": CONSENT_VERSION, "program": program().code},
                                 patient_id=patient.id)
        patient.consent_signed_at = now()
        patient.guardian_name = guardian_name
        audit.record("patient.consent_signed", "patient", patient.id, patient_id=patient.id,
                     after={"guardian_name": guardian_name}, actor=user)
    return doc


def cycle_questions(cycle_key: str) -> list[ComprehensionQuestion]:
    """The questions of this cycle: drawn from the active bank by a hash of the cycle key, so they
    stay the same within a cycle and change from one cycle to the next."""
    bank = db.session.execute(select(ComprehensionQuestion).where(ComprehensionQuestion.active)).scalars().all()
    ranked = sorted(bank, key=lambda q: hashlib.sha256(f"{cycle_key}:{q.id}".encode()).hexdigest())
    return ranked[: program().comprehension_questions_per_cycle]


def _require_cgp(patient: Patient) -> None:
    if patient.category != "can_get_pregnant":
        raise ApiError(403, "ATTESTATION_NOT_REQUIRED",
                       "Monthly attestations are only for patients who can get pregnant.")


def comprehension(user: User) -> tuple[list[ComprehensionQuestion], object]:
    patient = user.patient
    _require_cgp(patient)
    st, _ = evaluate(patient)
    return cycle_questions(st.comprehension_cycle_key), st


@dataclass(frozen=True)
class LastTry:
    """The patient's last failed try of this cycle (R-ATT-2): which questions were wrong and why,
    never which choice is right. The monthly page shows it after its redirect (Post/Redirect/Get,
    so that reloading the page cannot send the answers again and use up another try) and on
    every later visit, until the patient signs or is counseled again."""

    incorrect: frozenset[str]
    message: str
    explanations: dict[str, str]


@dataclass(frozen=True)
class MonthlyQuestions:
    """What the monthly page needs, as the engine says it: this cycle's questions, whether the
    attestation is already signed, the tries left (0: locked out, R-ATT-2) and the last failed try."""

    questions: list[ComprehensionQuestion]
    done: bool
    attempts_left: int
    last_try: LastTry | None


def monthly_questions(user: User) -> MonthlyQuestions:
    """The patient's monthly page (R-ATT-1, R-ATT-2), read only: nothing here uses up a try."""
    patient = user.patient
    _require_cgp(patient)
    st, course = evaluate(patient)
    questions = cycle_questions(st.comprehension_cycle_key)
    done = any(r.code == "ATTESTATION_REQUIRED" and r.met for r in st.requirements)
    return MonthlyQuestions(questions=questions, done=done, attempts_left=st.attestation_attempts_left,
                            last_try=None if done else _last_try(course, st, questions))


def _last_try(course, st, questions: list[ComprehensionQuestion]) -> LastTry | None:
    """The latest failure of this cycle while it still counts (R-ATT-2: only failures since the last
    counseling use up tries, and the latest counts whenever any does)."""
    if st.attestation_attempts_left >= program().attestation_attempt_limit:
        return None
    row = db.session.execute(
        select(AttestationFailure)
        .where(AttestationFailure.course_id == course.id, AttestationFailure.cycle_number == st.cycle_number)
        .order_by(AttestationFailure.recorded_at.desc(), AttestationFailure.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    asked = {str(q.id): q for q in questions}
    incorrect = [i for i in (row.incorrect if row else ()) if i in asked]  # the bank may have changed since
    if not incorrect:
        return None
    return LastTry(incorrect=frozenset(incorrect),
                   message=failure_message(len(incorrect), st.attestation_attempts_left),
                   explanations={i: asked[i].explanation for i in incorrect if asked[i].explanation})


def failure_message(wrong: int, attempts_left: int) -> str:
    """R-ATT-2: how many answers were wrong and what the patient can do now (one sentence for the
    API's COMPREHENSION_FAILED and the patient's page)."""
    said = f"{wrong} answer{'s are' if wrong != 1 else ' is'} not correct."
    if attempts_left:
        return f"{said} Read the explanations and try again."
    return f"{said} Your prescriber must counsel you again before you can retry."


def serialize_question(q: ComprehensionQuestion, with_answers: bool = False) -> dict:
    out = {"id": str(q.id), "text": q.text,
           "choices": [{"id": c["id"], "text": c["text"], **({"correct": c["correct"]} if with_answers else {})}
                       for c in q.choices]}
    if with_answers:
        out["explanation"] = q.explanation
        out["active"] = q.active
    return out


def _as_answered(questions, answers: dict) -> list[dict]:
    """R-SIG-1: what the patient read and chose, word for word, inside the signed record: the bank's
    questions can be edited later (R-ADMIN-1), and a signed record must keep its meaning (QA finding:
    it held the question ids only)."""
    out = []
    for q in questions:
        chosen = answers.get(str(q.id))
        text = next((c["text"] for c in q.choices if c["id"] == chosen), None)
        out.append({"id": str(q.id), "question": q.text, "answer": text})
    return out


def attest(user: User, data: dict):
    """R-ATT-1: all answers correct, contraception confirmed, signed. R-ATT-2: attempts limited."""
    patient = user.patient
    _require_cgp(patient)
    contraception = data["contraception"]
    forms = tuple(contraception.get("forms") or ())
    abstinence = bool(contraception.get("abstinence"))
    course = current_course(patient)
    st, _ = evaluate(patient, course)
    _guard("attempt_attestation", patient, course)
    # R-CON-1: the patient confirms two valid forms (one primary) or abstinence.
    _guard("record_contraception", patient, course, start_date=today(), forms=forms, abstinence=abstinence)
    signatures.check_password(user, data["signature"]["password"])
    questions = cycle_questions(st.comprehension_cycle_key)
    answers = {str(k): str(v) for k, v in data["answers"].items()}
    asked = {str(q.id) for q in questions}
    if set(answers) - asked:  # R-ATT-1: this cycle's questions only (the attempt is not used up)
        raise ApiError.field("answers", f"answer this month's questions only (ids {', '.join(sorted(asked))})")
    incorrect = [str(q.id) for q in questions
                 if not any(c["correct"] and c["id"] == answers.get(str(q.id)) for c in q.choices)]
    if incorrect:
        with unit_of_work():
            db.session.add(AttestationFailure(course_id=course.id, cycle_number=st.cycle_number,
                                              incorrect=incorrect, recorded_at=now(), recorded_by_id=user.id))
            audit.record("attestation.failed", "patient", patient.id, patient_id=patient.id,
                         after={"incorrect": incorrect, "cycle": st.cycle_number}, actor=user)
        left = max(0, st.attestation_attempts_left - 1)
        explanations = [{"id": str(q.id), "explanation": q.explanation} for q in questions if str(q.id) in incorrect]
        raise ApiError(422, "COMPREHENSION_FAILED", failure_message(len(incorrect), left),
                       incorrect=incorrect, attempts_left=left, explanations=explanations)
    with unit_of_work():
        course = current_course(patient, lock=True)
        att = Attestation(course_id=course.id, cycle_number=st.cycle_number,
                          answers={str(q.id): answers.get(str(q.id)) for q in questions},
                          contraception={"forms": list(forms), "abstinence": abstinence},
                          recorded_at=now(), recorded_by_id=user.id)
        db.session.add(att)
        db.session.flush()
        sig, doc = signatures.sign(user, data["signature"]["password"], "monthly_attestation", "attestation", att.id,
                                   {"rems_id": patient.rems_id, "cycle": st.cycle_number,
                                    "questions": _as_answered(questions, answers),
                                    "contraception": att.contraception}, patient_id=patient.id)
        att.signature_id = sig.id
        audit.record("attestation.signed", "attestation", att.id, patient_id=patient.id,
                     after={"cycle": st.cycle_number}, actor=user)
    return att, doc
