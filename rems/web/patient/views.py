"""Patient pages. Every route names its policy action; the services own the rules."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from rems import health
from rems.clock import program, today
from rems.errors import ApiError
from rems.extensions import db
from rems.models import Document, Signature
from rems.services import documents as document_service
from rems.services import notify, patient_self, patients
from rems.web import messages
from rems.web.helpers import apply_api_error, days_until, long_date, role_required
from rems.web.patient import bp
from rems.web.patient.forms import ConsentForm, attestation_form
from workflows.clock import age_on

# Plain-language names for the requirement codes of the patient's checklist (presentation only).
LABELS = {
    "CONSENT_MISSING": "Informed consent",
    "SCREENING_TEST_MISSING": "Screening pregnancy test",
    "CONTRACEPTION_MISSING": "Birth control recorded by your prescriber",
    "CONTRACEPTION_LEAD_IN_INCOMPLETE": "Birth control used long enough before starting",
    "PREGNANCY_TEST_REQUIRED": "This month's pregnancy test",
    "VISIT_REQUIRED": "Visit with your prescriber",
    "COUNSELING_REQUIRED": "Counseling by your prescriber",
    "ATTESTATION_REQUIRED": "This month's questions and birth control confirmation",
    "REFILL_TOO_SOON": "Time since your last fill",
    "ALREADY_AUTHORIZED": "Your current prescription is still valid",
    "POST_TREATMENT_TEST": "Pregnancy test after your last dose",
}
DOCUMENT_TITLES = {
    "consent": "Informed consent",
    "attestation": "Monthly questions and birth control confirmation",
}
# Unmet rows the patient can do nothing about but wait for their date (R-RMA-2, R-RMA-3): shown as
# "not yet", not as a task (QA: "Time since your last fill" read as something to do)
WAIT = {"REFILL_TOO_SOON", "ALREADY_AUTHORIZED"}
ACTIONS = {
    "CONSENT_MISSING": ("patient.consent", "Sign the consent"),
    "ATTESTATION_REQUIRED": ("patient.monthly", "Answer the questions"),
}


def _me():
    return current_user._get_current_object()


def _action(requirement: dict, st: dict) -> tuple[str, str] | None:
    """The link to do a missing step, when the patient can do it now: none for the questions while
    the engine says no tries are left (R-ATT-2: the prescriber counsels first; the next steps say so)."""
    if requirement["met"] or requirement["code"] not in ACTIONS:
        return None
    if requirement["code"] == "ATTESTATION_REQUIRED" and st["attestation_attempts_left"] == 0:
        return None
    return ACTIONS[requirement["code"]]


def countdown_sentence(window: dict | None, eligible: bool = True,
                       waiting: bool = False) -> tuple[str | None, int | None]:
    """'Your pharmacy can fill your prescription until Tuesday, Dec 2' and the days left; while
    steps are still missing, the date they must be done by. `waiting`: nothing is missing but the
    first day of the next fill (R-RMA-2, R-RMA-3): no deadline for steps that are all done, the
    next steps give that day (QA 2026-11-26: "Finish the steps below" with none left)."""
    if not window or waiting:
        return None, None
    opens, closes = window["opens"], window["closes"]
    left = days_until(closes)
    if left < 0:
        return f"The time to fill this month's prescription ended on {long_date(closes)}.", None
    if days_until(opens) > 0:
        return (
            f"Your pharmacy can fill your prescription from {long_date(opens)} until {long_date(closes)}."
        ), None
    if not eligible:
        return (f"Finish the steps below by {long_date(closes)}: after that, this month's window closes "
                f"and this month's steps must be done again."), left
    return f"Your pharmacy can fill your prescription until {long_date(closes)}.", left


@bp.get("/patient")
@role_required("patient.self")
def index():
    user = _me()
    # read before the status: its audit commit (R-AUD-1) expires what the session holds
    unread = notify.unread_count(user)
    st = patients.patient_status(user.patient, "patient", reader=user)
    items = [dict(r, label=LABELS.get(r["code"]), action=_action(r, st), wait=r["code"] in WAIT)
             for r in st["requirements"]]
    waiting = not st["eligible"] and all(r["met"] or r["code"] in WAIT for r in st["requirements"])
    sentence, left = countdown_sentence(st["window"], st["eligible"], waiting)
    return render_template(
        "patient/index.html", st=st, items=items, sentence=sentence, days_left=left, unread=unread
    )


def _is_minor(patient) -> bool:
    return age_on(patient.date_of_birth, today()) < program().adult_age_years  # R-PAT-3


@bp.route("/patient/consent", methods=["GET", "POST"])
@role_required("patient.self")
def consent():
    user = _me()
    patient = user.patient
    minor = _is_minor(patient)
    form = ConsentForm()
    if patient.consent_signed_at is None and form.validate_on_submit():
        try:
            patient_self.sign_consent(
                user, form.password.data, (form.guardian_name.data or "").strip() or None
            )
        except ApiError as err:
            apply_api_error(form, err)
        else:
            flash("Thank you. Your consent is signed. A copy is in My documents.", "success")
            return redirect(url_for("patient.index"))
    return render_template(
        "patient/consent.html",
        form=form,
        minor=minor,
        patient=patient,
        adult_age=program().adult_age_years,
        meaning=_consent_meaning(),
    ), 200 if not form.errors else 400


def _consent_meaning() -> str:
    from rems.services.signatures import meaning as signature_meaning

    return signature_meaning("patient_consent")


@bp.route("/patient/monthly", methods=["GET", "POST"])
@role_required("patient.self")
def monthly():
    """This month's questions. A failed try and a signature both answer with a redirect
    (Post/Redirect/Get): reloading the page then shows the outcome again instead of sending the
    answers again, which would use up another of the tries (R-ATT-2). Form problems that use up
    no try (a missing answer, the password) are shown on the form, with what was typed."""
    user = _me()
    if user.patient.category != "can_get_pregnant":
        return render_template("patient/monthly_not_needed.html")
    page = patient_self.monthly_questions(user)
    prog = program()
    form = attestation_form(page.questions, prog.primary_forms, prog.secondary_forms)
    if form.validate_on_submit():
        try:
            patient_self.attest(user, _attestation(form, page.questions))
        except ApiError as err:
            if err.code == "COMPREHENSION_FAILED":  # the try is recorded: the page shows it (LastTry)
                return redirect(url_for("patient.monthly"), code=303)
            apply_api_error(
                form,
                err,
                {"forms": "primary_forms", "abstinence": "primary_forms", "start_date": "primary_forms"},
            )
        else:
            flash("Done. Your answers and birth control confirmation are signed for this month.", "success")
            return redirect(url_for("patient.index"), code=303)
    return render_template("patient/monthly.html", form=form, page=page), 200 if not form.errors else 400


def _attestation(form, questions) -> dict:
    """The form's answers in the shape of the API's POST /me/attestations body."""
    return {
        "answers": {str(q.id): form[f"q{q.id}"].data for q in questions},
        "contraception": {
            "forms": [*(form.primary_forms.data or []), *(form.secondary_forms.data or [])],
            "abstinence": bool(form.abstinence.data),
        },
        "signature": {"password": form.password.data},
    }


@bp.get("/patient/notifications")
@role_required("patient.self")
def notifications():
    return messages.page("patient.notifications_read")


@bp.post("/patient/notifications/read")
@role_required("patient.self")
def notifications_read():
    return messages.mark_read("patient.notifications")


@bp.get("/patient/documents")
@role_required("patient.self")
def documents():
    rows = db.session.execute(
        select(Document, Signature)
        .join(Signature, Document.signature_id == Signature.id)
        .where(Document.patient_id == _me().patient.id)
        .order_by(Signature.signed_at.desc())
    ).all()
    # R-DOC-1: what a PDF still pending waits for; Redis is asked only when one is (health.pdf_workers)
    pdf_workers = health.pdf_workers() if any(doc.status == "pending" for doc, _ in rows) else None
    return render_template("patient/documents.html", rows=rows, TITLES=DOCUMENT_TITLES, pdf_workers=pdf_workers,
                           late=document_service.late)


@bp.get("/documents/<doc_id>/pdf")
@role_required("document.read")
def document_pdf(doc_id):
    """Any role may download a signed document it may read (policy "document.read")."""
    doc = document_service.readable(_me(), doc_id)
    if doc.status != "ready":
        raise ApiError(409, "DOCUMENT_NOT_READY", document_service.not_ready(doc))
    pdf = db.session.scalar(select(Document.pdf).where(Document.id == doc.id))
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="rems-document-{doc.id}.pdf"'},
    )
