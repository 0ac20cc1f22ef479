"""Patients: the prescriber's side and the patient's own side."""
from __future__ import annotations

from flask import g, jsonify

from rems import policy
from rems.api import F, endpoint
from rems.api.schema import NAME, REASON, RECORDED, SIGNATURE
from rems.models.patients import CATEGORIES, TEST_KINDS, TEST_RESULTS, TEST_SETTINGS
from rems.services import enrollment, patient_self, patients

FORM = F("string", max_len=40, min_len=1)
ENROLL = {"first_name": NAME, "last_name": NAME, "date_of_birth": F("date"), "email": F("email"),
          "category": F("string", enum=CATEGORIES), "transfer": F("boolean", required=False)}
VISIT = {"visit_date": F("date"), "counseled": F("boolean"), "signature": SIGNATURE}
CONTRACEPTION = {"start_date": F("date"), "forms": F("array", items=FORM, required=False, max_items=2),
                 "abstinence": F("boolean", required=False)}
TEST = {"kind": F("string", enum=TEST_KINDS), "specimen_date": F("date"), "result": F("string", enum=TEST_RESULTS),
        "setting": F("string", enum=TEST_SETTINGS)}
HOME = {"enabled": F("boolean"), "procedure": F("string", max_len=4000, required=False)}
CATEGORY = {"category": F("string", enum=CATEGORIES), "reason": REASON}
END = {"last_dose_date": F("date"), "reason": F("string", max_len=1000, required=False)}
CONSENT = {"signature": SIGNATURE, "guardian_name": F("string", max_len=100, required=False)}
ATTEST = {"answers": F("object"),
          "contraception": F("object", props={"forms": F("array", items=FORM, required=False, max_items=2),
                                              "abstinence": F("boolean", required=False)}),
          "signature": SIGNATURE}


def _patient(action: str, rems_id: str):
    p = enrollment.by_rems_id(rems_id)
    policy.require(g.user, action, p)
    return p


@endpoint("POST", "/patients", action="patient.enroll", summary="Enroll a patient (R-PAT-1)", body=ENROLL,
          status=201)
def enroll(body):
    patient, code = enrollment.enroll(g.user, body)
    status = patients.patient_status(patient, "prescriber", audit_read=False)
    return jsonify(rems_id=patient.rems_id, activation_code=code, status=status["course_status"],
                   transferred=code is None), 201


@endpoint("POST", "/patients/<rems_id>/activation-code", action="patient.record",
          summary="A new one-time activation code for a patient who has not activated yet", status=201)
def activation_code(rems_id):
    p = _patient("patient.record", rems_id)
    return jsonify(rems_id=p.rems_id, activation_code=enrollment.new_activation_code(g.user, p)), 201


@endpoint("GET", "/patients/<rems_id>", action="patient.read", summary="A patient's status and what is left")
def read(rems_id):
    p = _patient("patient.read", rems_id)
    return jsonify(patients.patient_status(p, g.user.role if g.user.role != "admin" else "prescriber",
                                           reader=g.user))


def _write(fn, rems_id, body):
    p = _patient("patient.record", rems_id)
    fn(g.user, p, body)
    return jsonify(patients.patient_status(p, "prescriber", audit_read=False))


def _record(fn, rems_id, body):
    """A clinical record: its id, and whether it counts (the service's verdict, workflows.records)."""
    p = _patient("patient.record", rems_id)
    outcome = fn(g.user, p, body)
    return jsonify(id=outcome.record.id, counts=outcome.counts,
                   not_counted_reasons=[{"code": r.code, "message": r.message} for r in outcome.reasons]), 201


@endpoint("POST", "/patients/<rems_id>/visits", action="patient.record", summary="Record a signed visit",
          body=VISIT, status=201, response=RECORDED)
def visits(rems_id, body):
    return _record(patients.record_visit, rems_id, body)


@endpoint("POST", "/patients/<rems_id>/contraception", action="patient.record",
          summary="Record contraception (two forms or abstinence)", body=CONTRACEPTION, status=201,
          response=RECORDED)
def contraception(rems_id, body):
    return _record(patients.record_contraception, rems_id, body)


@endpoint("POST", "/patients/<rems_id>/pregnancy-tests", action="patient.record",
          summary="Record a pregnancy test result", body=TEST, status=201, response=RECORDED)
def pregnancy_tests(rems_id, body):
    return _record(patients.record_test, rems_id, body)


@endpoint("POST", "/patients/<rems_id>/home-testing", action="patient.record",
          summary="Enable or disable home pregnancy testing", body=HOME)
def home_testing(rems_id, body):
    return _write(patients.set_home_testing, rems_id, body)


@endpoint("POST", "/patients/<rems_id>/category", action="patient.record", summary="Change the risk category",
          body=CATEGORY)
def category(rems_id, body):
    return _write(patients.change_category, rems_id, body)


@endpoint("POST", "/patients/<rems_id>/end-of-treatment", action="patient.record",
          summary="Record the end of treatment", body=END)
def end_of_treatment(rems_id, body):
    return _write(patients.end_treatment, rems_id, body)


@endpoint("POST", "/me/consent", action="patient.self", summary="Sign the informed consent", body=CONSENT,
          status=201)
def consent(body):
    doc = patient_self.sign_consent(g.user, body["signature"]["password"], body.get("guardian_name"))
    return jsonify(document_id=doc.id), 201


@endpoint("GET", "/me/comprehension", action="patient.self", summary="This cycle's comprehension questions")
def comprehension():
    questions, st = patient_self.comprehension(g.user)
    return jsonify(questions=[patient_self.serialize_question(q) for q in questions], cycle=st.cycle_number,
                   attempts_left=st.attestation_attempts_left)


@endpoint("POST", "/me/attestations", action="patient.self", summary="Sign this cycle's attestation",
          body=ATTEST, status=201)
def attestations(body):
    att, doc = patient_self.attest(g.user, body)
    return jsonify(id=att.id, document_id=doc.id), 201
