"""Prescriber views: thin (parse the form, call one service, render). Every write goes through
rems.services.patients / practice; a service refusal becomes a message on the right field."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from rems.errors import ApiError
from rems.services import enrollment, patients, practice, worklist
from rems.services.signatures import meaning as signature_meaning
from rems.services.timeline import patient_timeline
from rems.web import handover, messages
from rems.web.helpers import apply_api_error, require, role_required
from rems.web.patient.forms import form_label
from rems.web.prescriber import bp, outcomes
from rems.web.prescriber.forms import (
    AttestationForm,
    CategoryForm,
    ContraceptionForm,
    EndTreatmentForm,
    EnrollForm,
    HomeTestingForm,
    PregnancyTestForm,
    VisitForm,
)

# Plain names for the requirement codes of the patient page checklist (presentation only).
REQUIREMENT_LABELS = {
    "CONSENT_MISSING": "Informed consent signed by the patient",
    "COUNSELING_REQUIRED": "Counseling documented",
    "VISIT_REQUIRED": "Visit confirmed",
    "CONTRACEPTION_MISSING": "Two forms of contraception (or abstinence) documented",
    "CONTRACEPTION_LEAD_IN_INCOMPLETE": "Contraception lead-in before the confirmation test",
    "SCREENING_TEST_MISSING": "Screening pregnancy test",
    "CONFIRMATION_TEST_TOO_EARLY": "Confirmation test timing",
    "PREGNANCY_TEST_REQUIRED": "Negative pregnancy test for this cycle",
    "HOME_TEST_NOT_ALLOWED": "Test setting allowed",
    "ATTESTATION_REQUIRED": "Patient's monthly attestation",
    "WINDOW_EXPIRED": "Window still open",
    "ALREADY_AUTHORIZED": "No authorization yet this cycle",
    "REFILL_TOO_SOON": "Time since the last fill",
    "POST_TREATMENT_TEST": "Post-treatment pregnancy test",
}
COURSE_TONES = {
    "enrolled": "warn",
    "active": "ok",
    "pregnancy_reported": "bad",
    "post_treatment": "warn",
    "completed": "neutral",
}


def _user():
    return current_user._get_current_object()


# ----- certification -------------------------------------------------------------------------
@bp.route("/certification", methods=["GET", "POST"])
@role_required("prescriber.attest")
def certification():
    form = AttestationForm()
    if form.validate_on_submit():
        try:
            pres, _ = practice.attest_prescriber(_user(), form.password.data)
        except ApiError as err:
            apply_api_error(form, err)
        else:
            flash(
                f"You are certified until {pres.certified_until:%B} {pres.certified_until.day}, "
                f"{pres.certified_until.year}.",
                "success",
            )
            return redirect(url_for(".certification"))
    pres = _user().prescriber
    return render_template(
        "prescriber/certification.html",
        form=form,
        prescriber=pres,
        status=practice.effective_status(pres),
        attestation=signature_meaning("prescriber_attestation"),
        page_title="Certification",
    ), 422 if form.errors or form.form_errors else 200


# ----- worklist --------------------------------------------------------------------------------
@bp.get("/")
@role_required("patient.record")
def index():
    filters = worklist.Filters.from_args(request.args)
    rows = worklist.worklist(_user(), filters)
    pres = _user().prescriber
    return render_template(
        "prescriber/worklist.html",
        rows=rows,
        filters=filters,
        counts=worklist.summary(rows),
        tones=COURSE_TONES,
        cert_status=practice.effective_status(pres),
        prescriber=pres,
        page_title="My patients",
        new_messages=messages.newest_unread(),
    )


# ----- enrollment -----------------------------------------------------------------------------
@bp.route("/patients/new", methods=["GET", "POST"])
@role_required("patient.enroll")
def enroll():
    form = EnrollForm()
    duplicate = False
    if form.validate_on_submit():
        data = {
            k: form[k].data
            for k in ("first_name", "last_name", "date_of_birth", "email", "category", "transfer")
        }
        data["first_name"], data["last_name"] = data["first_name"].strip(), data["last_name"].strip()
        try:
            patient, code = enrollment.enroll(_user(), data)
        except ApiError as err:
            if err.code == "DUPLICATE_PATIENT" and err.extra.get("rems_id"):  # already this prescriber's
                flash(err.detail, "info")  # (a reloaded confirmation page sends the form again)
                return redirect(url_for(".patient", rems_id=err.extra["rems_id"]))
            duplicate = err.code == "DUPLICATE_PATIENT"
            apply_api_error(form, err)
        else:
            if code is None:
                flash(
                    f"{patient.first_name} {patient.last_name} ({patient.rems_id}) "
                    "was transferred to your care.",
                    "success",
                )
                return redirect(url_for(".patient", rems_id=patient.rems_id))
            # Post/Redirect/Get: a reload of the confirmation page sends nothing again
            handover.give(CODE_PURPOSE, patient.rems_id, code)
            return redirect(url_for(".enrolled", rems_id=patient.rems_id), 303)
    status = 422 if form.errors or form.form_errors else 200
    return render_template(
        "prescriber/enroll.html",
        form=form,
        duplicate=duplicate,
        cert_status=practice.effective_status(_user().prescriber),
        page_title="Enroll a patient",
    ), status


# ----- the one-time activation code (R-PAT-3) ---------------------------------------------------
# The code is shown once, on a page reached by a redirect after the POST that made it (enrollment
# or a replacement code), so reloading that page sends no form again. It crosses to that page
# encrypted in the session (rems.web.handover), bound to this patient, for one redirect.
CODE_PURPOSE = "patient_activation_code"


def _code_page(patient, new_code: bool):
    """The code, the first time; after that (a reload) how to give the patient a new one."""
    code = handover.take(CODE_PURPOSE, patient.rems_id)
    return render_template(
        "prescriber/enrolled.html",
        patient=patient,
        code=code,
        new_code=new_code,
        can_replace=patient.user.status == "pending_activation",
        page_title=("New activation code" if code else "Activation code") if new_code else "Patient enrolled",
    )


@bp.get("/patients/<rems_id>/enrolled")
@handover.shown_here
@role_required("patient.record")
def enrolled(rems_id):
    return _code_page(_own_patient(rems_id), new_code=False)


# ----- one patient ----------------------------------------------------------------------------
# Form fields that never reach the service: the CSRF token, the signing password (sent as the
# signature) and the web form's own confirmation boxes (forms.py; the JSON API has none).
WEB_ONLY_FIELDS = ("csrf_token", "password", "confirm")


@dataclass(frozen=True)
class Action:
    form: type
    service: Any
    message: str
    fields: dict[str, str] | None = None

    def payload(self, form) -> dict:
        if hasattr(form, "payload"):
            return form.payload()
        data = {
            name: (f.data.strip() or None) if isinstance(f.data, str) else f.data
            for name, f in form._fields.items()
            if name not in WEB_ONLY_FIELDS
        }
        if "password" in form:
            data["signature"] = {"password": form.password.data}
        return data


ACTIONS = {
    "visit": Action(VisitForm, patients.record_visit, "Visit recorded and signed."),
    "contraception": Action(
        ContraceptionForm,
        patients.record_contraception,
        "Contraception recorded.",
        {"forms": "form_1", "abstinence": "method"},
    ),
    "test": Action(PregnancyTestForm, patients.record_test, "Pregnancy test recorded."),
    "home_testing": Action(HomeTestingForm, patients.set_home_testing, "Home testing setting saved."),
    "category": Action(CategoryForm, patients.change_category, "Risk category changed."),
    "end": Action(EndTreatmentForm, patients.end_treatment, "End of treatment recorded."),
}


def _own_patient(rems_id: str):
    patient = enrollment.by_rems_id(rems_id)
    if patient is None:
        abort(404)
    require("patient.record", patient)
    return patient


def _blank_forms(patient) -> dict:
    forms = {name: a.form(prefix=name, formdata=None) for name, a in ACTIONS.items()}
    forms["home_testing"].enabled.data = patient.home_testing_enabled
    forms["home_testing"].procedure.data = patient.home_testing_procedure or ""
    forms["category"].category.data = patient.category
    return forms


def _render_patient(patient, forms: dict, active: str | None = None, status: int = 200):
    st = patients.patient_status(patient, "prescriber", reader=_user())  # R-AUD-1: the read is audited
    course = patient.courses[-1] if patient.courses else None
    return render_template(
        "prescriber/patient.html",
        patient=patient,
        st=st,
        course=course,
        forms=forms,
        active=active,
        timeline=patient_timeline(patient, form_label),
        labels=REQUIREMENT_LABELS,
        tones=COURSE_TONES,
        page_title=f"{patient.first_name} {patient.last_name}",
    ), status


@bp.get("/patients/<rems_id>")
@role_required("patient.record")
def patient(rems_id):
    p = _own_patient(rems_id)
    return _render_patient(p, _blank_forms(p))


@bp.route("/patients/<rems_id>/activation-code", methods=["GET", "POST"])
@handover.shown_here
@role_required("patient.record")
def activation_code(rems_id):
    """R-PAT-3: a new one-time code for a patient who lost theirs (CSRF: the app's CSRFProtect);
    shown by the GET the POST redirects to (a reload issues no further code)."""
    p = _own_patient(rems_id)
    if request.method == "GET":
        return _code_page(p, new_code=True)
    try:
        code = enrollment.new_activation_code(_user(), p)
    except ApiError as err:
        if err.status >= 500:
            raise
        flash(err.detail, "error")
        return redirect(url_for(".patient", rems_id=rems_id))
    handover.give(CODE_PURPOSE, p.rems_id, code)
    return redirect(url_for(".activation_code", rems_id=rems_id), 303)


@bp.post("/patients/<rems_id>/<action>")
@role_required("patient.record")
def record(rems_id, action):
    spec = ACTIONS.get(action)
    if spec is None:
        abort(404)
    p = _own_patient(rems_id)
    form = spec.form(prefix=action)
    if form.validate_on_submit():
        payload = spec.payload(form)
        try:
            result = spec.service(_user(), p, payload)
        except ApiError as err:
            apply_api_error(form, err, spec.fields)
        else:
            flash(*outcomes.outcome(action, spec.message, payload, result))
            return redirect(url_for(".patient", rems_id=rems_id))
    forms = _blank_forms(p)
    forms[action] = form
    return _render_patient(p, forms, active=action, status=422)
