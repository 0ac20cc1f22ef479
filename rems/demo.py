"""`rems demo seed`: a believable practice with patients in every state, built through the real
services at past dates (by moving the service clock), so every record is what the product would
have written."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from rems.clock import today
from rems.extensions import db
from rems.models import User

PASSWORD = "isotretinoin-demo-2026"  # noqa: S105 - the published demo password (demo data only)
DOMAIN = "demo.rems"


@contextmanager
def on_day(day: int):
    """Run the block with the service clock `day` days from the real today (negative: the past)."""
    base = current_app.config.get("CLOCK_OFFSET_DAYS", 0)
    current_app.config["CLOCK_OFFSET_DAYS"] = base + day
    try:
        yield today()
    finally:
        current_app.config["CLOCK_OFFSET_DAYS"] = base


def _npi(seed: int) -> str:
    from rems.services.practice import npi_valid

    base = f"19{seed:07d}"
    return next(base + str(d) for d in range(10) if npi_valid(base + str(d)))


class Practice:
    def __init__(self):
        from rems.services import accounts, practice

        self.admin = accounts.create_admin(f"admin@{DOMAIN}", PASSWORD, "Avery", "Admin")
        self.doctor = practice.register_prescriber({
            "email": f"dr.lee@{DOMAIN}", "password": PASSWORD, "first_name": "Morgan", "last_name": "Lee",
            "npi": _npi(1), "license_state": "NY", "license_number": "NY-209341"})
        self.pending_doctor = practice.register_prescriber({
            "email": f"dr.new@{DOMAIN}", "password": PASSWORD, "first_name": "Jordan", "last_name": "Novak",
            "npi": _npi(2), "license_state": "NJ", "license_number": "NJ-55120"})
        self.pharmacy = practice.register_pharmacy({
            "name": "Hudson Street Pharmacy", "ncpdp_id": "3312456", "npi": _npi(3),
            "address": {"line1": "214 Hudson St", "city": "New York", "state": "NY", "zip": "10013"},
            "rsp": {"email": f"rsp@{DOMAIN}", "password": PASSWORD, "first_name": "Riley", "last_name": "Chen",
                    "license_number": "RPH-88231"}})
        self.rsp = self.pharmacy.members[0].user
        self.other_pharmacy = practice.register_pharmacy({
            "name": "Riverside Care Pharmacy", "ncpdp_id": "3319870", "npi": _npi(4),
            "address": {"line1": "5 River Rd", "city": "Albany", "state": "NY", "zip": "12207"},
            "rsp": {"email": f"rsp.riverside@{DOMAIN}", "password": PASSWORD, "first_name": "Casey",
                    "last_name": "Ortiz", "license_number": "RPH-10022"}})

    def certify(self):
        from rems.services import accounts, practice

        practice.attest_prescriber(self.doctor.user, PASSWORD)
        practice.attest_pharmacy(self.rsp, self.pharmacy, PASSWORD)
        user, code = practice.invite_pharmacist(self.rsp, self.pharmacy, {
            "email": f"pharmacist@{DOMAIN}", "first_name": "Sam", "last_name": "Patel",
            "license_number": "RPH-77310"})
        accounts.activate(code, PASSWORD)
        self.pharmacist = user


def _patient(practice, first, last, dob, category, activate=True):
    from rems.services import accounts, enrollment, patient_self

    patient, code = enrollment.enroll(practice.doctor.user, {
        "first_name": first, "last_name": last, "date_of_birth": dob,
        "email": f"{first.lower()}@{DOMAIN}", "category": category})
    if activate:
        accounts.activate(code, PASSWORD, dob)
        patient_self.sign_consent(patient.user, PASSWORD, "Jamie " + last if _minor(dob) else None)
    return patient, code


def _minor(dob) -> bool:
    t = today()
    return (t.year - dob.year - ((t.month, t.day) < (dob.month, dob.day))) < 18


def _visit(practice, p, counseled=True):
    from rems.services import patients

    patients.record_visit(practice.doctor.user, p, {"visit_date": today(), "counseled": counseled,
                                                    "signature": {"password": PASSWORD}})


def _test(practice, p, kind, result="negative", setting="medical"):
    from rems.services import patients

    patients.record_test(practice.doctor.user, p, {"kind": kind, "specimen_date": today(), "result": result,
                                                   "setting": setting})


def _contraception(practice, p):
    from rems.services import patients

    patients.record_contraception(practice.doctor.user, p, {"start_date": today(), "forms": ["iud", "male_condom"]})


def _attest(p):
    from rems.services import patient_self

    questions, _ = patient_self.comprehension(p.user)
    answers = {str(q.id): next(c["id"] for c in q.choices if c["correct"]) for q in questions}
    patient_self.attest(p.user, {"answers": answers, "contraception": {"forms": ["iud", "male_condom"]},
                                 "signature": {"password": PASSWORD}})


def _rma(practice, p, days=30):
    from rems.services import dispensing

    status, body = dispensing.authorize(practice.pharmacist, {
        "rems_id": p.rems_id, "date_of_birth": p.date_of_birth, "prescriber_npi": practice.doctor.npi,
        "pharmacy_ncpdp_id": practice.pharmacy.ncpdp_id, "days_supply": days, "quantity": days})
    if status != 201:
        raise RuntimeError(f"demo RMA refused for {p.first_name}: {body}")
    return body["rma"]


def _cgp_start(practice, first, last, dob, start):
    """Enroll a CGP patient on day `start` with contraception, screening and counseling."""
    with on_day(start):
        p, _ = _patient(practice, first, last, dob, "can_get_pregnant")
        _contraception(practice, p)
        _test(practice, p, "screening")
        _visit(practice, p)
    return p


def _cgp_first_cycle(practice, p, day, rma=True):
    with on_day(day):
        _test(practice, p, "confirmation")
        _visit(practice, p)
    with on_day(day + 1):
        _attest(p)
        if rma:
            _rma(practice, p)


def seed() -> list[str]:
    from datetime import date

    if db.session.execute(select(User.id).where(User.email == f"admin@{DOMAIN}")).first():
        return ["demo data already present; nothing to do"]
    with on_day(-120):
        practice = Practice()
        practice.certify()

    # CGP, window open now, every step done: the pharmacy can fill today.
    alice = _cgp_start(practice, "Alice", "Moreau", date(1998, 3, 14), -45)
    _cgp_first_cycle(practice, alice, -2, rma=False)
    # CGP, first RMA 10 days ago; next monthly test due soon.
    bella = _cgp_start(practice, "Bella", "Santos", date(2001, 7, 2), -60)
    _cgp_first_cycle(practice, bella, -11)
    # CGP in the 30-day contraception lead-in.
    _cgp_start(practice, "Dana", "Okafor", date(2003, 11, 23), -10)
    # CGP, a minor with a guardian on the consent; missed first window (needs a new confirmation test).
    ivy = _cgp_start(practice, "Ivy", "Kowalski", (today() - timedelta(days=17 * 365)), -50)
    with on_day(-20):
        _test(practice, ivy, "confirmation")
        _visit(practice, ivy)
    # CGP, pregnancy reported in cycle 2.
    fay = _cgp_start(practice, "Fay", "Nguyen", date(1995, 1, 30), -70)
    _cgp_first_cycle(practice, fay, -35)
    with on_day(-3):
        _test(practice, fay, "monthly", result="positive")
    # CGP, treatment ended 10 days ago: post-treatment test due.
    hana = _cgp_start(practice, "Hana", "Ito", date(1997, 9, 9), -80)
    _cgp_first_cycle(practice, hana, -40)
    with on_day(-10):
        from rems.services import patients

        patients.end_treatment(practice.doctor.user, hana, {"last_dose_date": today(), "reason": "Course complete"})
    # CCGP, second cycle visit done: eligible now.
    with on_day(-40):
        carl, _ = _patient(practice, "Carl", "Brennan", date(1990, 4, 18), "cannot_get_pregnant")
        _visit(practice, carl)
        _rma(practice, carl)
    with on_day(-5):
        _visit(practice, carl, counseled=False)
    # CCGP, completed course.
    with on_day(-100):
        gus, _ = _patient(practice, "Gus", "Albers", date(1988, 12, 1), "cannot_get_pregnant")
        _visit(practice, gus)
        _rma(practice, gus)
    with on_day(-60):
        from rems.services import patients

        patients.end_treatment(practice.doctor.user, gus, {"last_dose_date": today(), "reason": "Acne cleared"})
    # CCGP enrolled today, counseled: first RMA possible.
    jon, _ = _patient(practice, "Jon", "Reyes", date(2000, 6, 6), "cannot_get_pregnant")
    _visit(practice, jon)
    # CGP enrolled today, not yet activated.
    _, eve_code = _patient(practice, "Eve", "Lindqvist", date(2002, 2, 2), "can_get_pregnant", activate=False)
    from flask import current_app

    from rems.services import audit

    try:  # R-AUD-1: the head, copied outside the database
        audit.anchor(current_app.config["AUDIT_ANCHOR_FILE"])
    except (OSError, audit.AnchorFileMismatch) as exc:  # the demo data stand; verify says what is wrong
        current_app.logger.warning("demo seed: the audit head was not copied: %s", exc)

    return [
        f"Demo data ready. Every demo account's password: {PASSWORD}",
        f"  administrator     admin@{DOMAIN}",
        f"  prescriber        dr.lee@{DOMAIN}   (certified; dr.new@{DOMAIN} is pending)",
        f"  pharmacist (RSP)  rsp@{DOMAIN}      (Hudson Street Pharmacy, NCPDP 3312456)",
        f"  pharmacist        pharmacist@{DOMAIN}",
        "  patients          alice@ (window open, ready to fill), bella@ (active), dana@ (lead-in),",
        "                    ivy@ (missed window), fay@ (pregnancy reported), hana@ (post-treatment),",
        f"                    carl@ / gus@ / jon@ (cannot get pregnant)  — all @{DOMAIN}",
        f"  activation        eve@{DOMAIN} has not activated: code {eve_code}, date of birth 2002-02-02",
        f"  Alice: REMS ID {alice.rems_id}, born {alice.date_of_birth}, prescriber NPI {practice.doctor.npi}",
    ]
