"""Patients in a given state, built through the real services (dates relative to the service's today)."""
from __future__ import annotations

from datetime import timedelta

from tests.support.factories import PASSWORD

SIG = {"password": PASSWORD}
FORMS = ["iud", "male_condom"]


def today():
    from rems.clock import today as service_today

    return service_today()


def ago(n: int):
    return today() - timedelta(days=n)


def cgp_in_window(factory, prescriber, confirmation_days_ago: int):
    """A CGP patient whose first window opened with a confirmation test `confirmation_days_ago`
    days ago; counseling, contraception and screening done, monthly attestation NOT signed."""
    from rems.services import patients

    patient = factory.patient(prescriber, "can_get_pregnant")
    user = prescriber.user
    patients.record_contraception(user, patient, {"start_date": ago(60), "forms": FORMS})
    patients.record_test(user, patient, {"kind": "screening", "specimen_date": ago(40), "result": "negative",
                                         "setting": "medical"})
    patients.record_visit(user, patient, {"visit_date": ago(confirmation_days_ago), "counseled": True,
                                          "signature": SIG})
    patients.record_test(user, patient, {"kind": "confirmation", "specimen_date": ago(confirmation_days_ago),
                                         "result": "negative", "setting": "medical"})
    return patient


def ccgp_in_window(factory, prescriber, visit_days_ago: int):
    """A CCGP patient whose window opened with a counseling visit `visit_days_ago` days ago (eligible)."""
    from rems.services import patients

    patient = factory.patient(prescriber, "cannot_get_pregnant")
    patients.record_visit(prescriber.user, patient, {"visit_date": ago(visit_days_ago), "counseled": True,
                                                     "signature": SIG})
    return patient


def authorize(patient, pharmacy, pharmacist, days_supply=30):
    from rems.services import dispensing

    status, body = dispensing.authorize(pharmacist, {
        "rems_id": patient.rems_id, "date_of_birth": patient.date_of_birth,
        "prescriber_npi": patient.prescriber.npi, "pharmacy_ncpdp_id": pharmacy.ncpdp_id,
        "days_supply": days_supply, "quantity": 60})
    assert status == 201, body
    return body


def cgp_authorized(factory, prescriber, pharmacy, pharmacist, days_supply=30):
    """A CGP patient whose first window opened yesterday, attested and given an RMA today:
    (patient, the authorization's body)."""
    patient = cgp_in_window(factory, prescriber, confirmation_days_ago=1)
    attest(patient)
    return patient, authorize(patient, pharmacy, pharmacist, days_supply)


def end_treatment(patient, last_dose_days_ago: int):
    from rems.services import patients

    patients.end_treatment(patient.prescriber.user, patient, {"last_dose_date": ago(last_dose_days_ago)})


def attest(patient):
    """The patient answers this cycle's questions correctly and signs (R-ATT-1)."""
    from rems.services import patient_self

    questions, _ = patient_self.comprehension(patient.user)
    answers = {str(q.id): next(c["id"] for c in q.choices if c["correct"]) for q in questions}
    return patient_self.attest(patient.user, {"answers": answers, "contraception": {"forms": FORMS},
                                              "signature": SIG})


def inbox(app) -> list:
    """Messages written to the instance mail folder (no REMS_SMTP_URL), oldest first."""
    from email import policy
    from email.parser import BytesParser
    from pathlib import Path

    folder = Path(app.config["MAIL_DIR"])
    if not folder.exists():
        return []
    return [BytesParser(policy=policy.default).parsebytes(p.read_bytes()) for p in sorted(folder.iterdir())]


def text_of(msg) -> str:
    return msg.get_body(preferencelist=("plain",)).get_content()
