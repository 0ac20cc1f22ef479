"""Every refusal code of rems-rules.md, obtained through the HTTP API (R-RMA-5: all reasons listed).

Each test names the rule it proves; `test_every_refusal_code_is_exercised` keeps the list complete.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

from tests.api.helpers import codes, count_rows
from workflows.messages import kept, short

CGP, CCGP = "can_get_pregnant", "cannot_get_pregnant"


def _refused(resp, expected: set[str] | None = None, contains: set[str] | None = None) -> set[str]:
    assert resp.status_code == 409, resp.get_json()
    body = resp.get_json()
    assert body["code"] == "NOT_ELIGIBLE" and resp.mimetype == "application/problem+json"
    got = codes(body)
    assert all(r["message"] for r in body["reasons"])
    if expected is not None:
        assert got == expected
    if contains is not None:
        assert contains <= got, got
    return got


def _ccgp_ready(api, practice):
    p = api.enroll(practice.prescriber, CCGP)
    api.visit(p, 0, counseled=True)
    return p


def _cgp_first_rma(api, practice, go):
    """A CGP patient given their first RMA on day 20 (window day 20..26)."""
    p = api.enroll(practice.prescriber, CGP)
    api.contraception(p, -15)
    api.test(p, "screening", 0)
    api.visit(p, 0)
    go(20)
    api.test(p, "confirmation", 20)
    api.attest(p, practice.admin)
    assert api.authorize(practice.pharmacist, p, practice.pharmacy).status_code == 201
    return p


def test_r_pres_1_prescriber_not_certified(api, practice, client):
    p = _ccgp_ready(api, practice)
    pending = api.register_prescriber(certify=False)
    # A pending prescriber cannot enroll...
    resp = api.call(
        "POST",
        "/patients",
        as_=pending.email,
        json={
            "first_name": "A",
            "last_name": "B",
            "date_of_birth": "2001-01-01",
            "email": "ab@example.org",
            "category": CCGP,
        },
    )
    assert resp.status_code == 403 and resp.get_json()["code"] == "PRESCRIBER_NOT_CERTIFIED"
    # ...nor be on a prescription.
    _refused(
        api.authorize(practice.pharmacist, p, practice.pharmacy, prescriber_npi=pending.npi),
        {"PRESCRIBER_NOT_CERTIFIED", "PRESCRIBER_MISMATCH"},
    )
    # A suspended prescriber gets no new authorization for any patient.
    users = api.call("GET", "/admin/users", as_=practice.admin, expect=200).get_json()["users"]
    pres_id = next(u["id"] for u in users if u["email"] == practice.prescriber.email)
    api.call(
        "POST",
        f"/admin/users/{pres_id}/status",
        as_=practice.admin,
        json={"status": "suspended", "reason": "license under review"},
        expect=200,
    )
    _refused(api.authorize(practice.pharmacist, p, practice.pharmacy), {"PRESCRIBER_NOT_CERTIFIED"})


def test_r_loop_1_prescriber_mismatch(api, practice):
    p = _ccgp_ready(api, practice)
    other = api.register_prescriber()
    _refused(
        api.authorize(practice.pharmacist, p, practice.pharmacy, prescriber_npi=other.npi),
        {"PRESCRIBER_MISMATCH"},
    )


def test_r_phar_1_pharmacy_not_certified(api, practice):
    p = _ccgp_ready(api, practice)
    pending = api.register_pharmacy(certify=False)
    _refused(api.authorize(pending.rsp, p, pending), {"PHARMACY_NOT_CERTIFIED"})


def test_r_phar_1_pharmacist_not_member(api, practice):
    p = _ccgp_ready(api, practice)
    other = api.register_pharmacy()
    _refused(api.authorize(other.rsp, p, practice.pharmacy), {"PHARMACIST_NOT_MEMBER"})
    _refused(api.authorize(practice.pharmacist, p, other), {"PHARMACIST_NOT_MEMBER"})


def test_r_rma_6_unknown_id_and_wrong_dob_answer_the_same(api, practice):
    p = _ccgp_ready(api, practice)
    unknown = api.authorize(practice.pharmacist, p, practice.pharmacy, rems_id="1234567890")
    wrong_dob = api.authorize(practice.pharmacist, p, practice.pharmacy, date_of_birth="1999-03-15")
    assert unknown.status_code == wrong_dob.status_code == 409
    assert unknown.get_json() == wrong_dob.get_json()
    assert codes(unknown) == {"PATIENT_NOT_FOUND"}
    e1 = api.eligibility(practice.pharmacist, p, practice.pharmacy, rems_id="1234567890")
    e2 = api.eligibility(practice.pharmacist, p, practice.pharmacy, date_of_birth="1999-03-15")
    assert e1 == e2 and codes(e1) == {"PATIENT_NOT_FOUND"}


def test_r_rma_1_rems_id_with_spaces_or_dashes_is_the_same_id(api, practice):
    """R-RMA-1: a REMS ID sent as printed ("5568 799 828") finds the patient; R-RMA-6: an unknown ID
    written that way still answers exactly like a wrong date of birth."""
    p = _ccgp_ready(api, practice)
    r = p.rems_id
    spaced, dashed = f"{r[:4]} {r[4:7]} {r[7:]}", f"{r[:4]}-{r[4:7]}-{r[7:]}"
    assert api.eligibility(practice.pharmacist, p, practice.pharmacy, rems_id=spaced)["eligible"] is True
    unknown = api.eligibility(practice.pharmacist, p, practice.pharmacy, rems_id="1234-567-890")
    wrong_dob = api.eligibility(practice.pharmacist, p, practice.pharmacy, rems_id=spaced, date_of_birth="1999-03-15")
    assert unknown == wrong_dob and codes(unknown) == {"PATIENT_NOT_FOUND"}
    # the prescriber's NPI as printed on a prescription, too (QA: refused on the pharmacist's form)
    n = p.prescriber.npi
    spaced_npi = f"{n[:4]} {n[4:7]}-{n[7:]}"
    issued = api.authorize(practice.pharmacist, p, practice.pharmacy, rems_id=dashed, prescriber_npi=spaced_npi)
    assert issued.status_code == 201 and issued.get_json()["rems_id"] == r
    # nothing but separators is no ID at all; too many digits are refused as before
    for bad in (" - - ", "1234-5678-9012-3"):
        resp = api.call("GET", "/eligibility", as_=practice.pharmacist,
                        query=api.lookup(p, practice.pharmacy, rems_id=bad))
        assert resp.status_code == 422 and resp.get_json()["errors"][0]["field"] == "rems_id", bad


def test_r_pat_3_consent_missing(api, practice):
    p = api.enroll(practice.prescriber, CCGP, consent=False)
    api.visit(p, 0)
    _refused(api.authorize(practice.pharmacist, p, practice.pharmacy), {"CONSENT_MISSING"})


def test_r_pat_4_counseling_required(api, practice):
    p = api.enroll(practice.prescriber, CCGP)
    api.visit(p, 0, counseled=False)
    _refused(api.authorize(practice.pharmacist, p, practice.pharmacy), {"COUNSELING_REQUIRED"})


def test_r_con_1_contraception_missing_and_invalid(api, practice):
    p = api.enroll(practice.prescriber, CGP)
    _refused(api.authorize(practice.pharmacist, p, practice.pharmacy), contains={"CONTRACEPTION_MISSING"})
    before = count_rows(api.app, "contraception_records")
    for forms in (["male_condom", "vaginal_sponge"], ["iud"], ["iud", "iud"], ["mini_pill", "male_condom"]):
        resp = api.contraception(p, 0, forms=forms, expect=422)
        assert resp.get_json()["code"] == "CONTRACEPTION_INVALID"
        assert resp.get_json()["errors"][0]["field"] == "forms"
    assert count_rows(api.app, "contraception_records") == before


def test_r_con_2_contraception_lead_in_incomplete(api, practice):
    p = api.enroll(practice.prescriber, CGP)
    api.contraception(p, 0)
    api.test(p, "screening", -20)
    api.visit(p, 0)
    api.test(p, "confirmation", 0)
    api.attest(p, practice.admin)
    got = _refused(
        api.authorize(practice.pharmacist, p, practice.pharmacy),
        contains={"CONTRACEPTION_LEAD_IN_INCOMPLETE", "PREGNANCY_TEST_REQUIRED"},
    )
    assert "CONFIRMATION_TEST_TOO_EARLY" not in got


def test_r_pt_2_screening_test_missing(api, practice):
    p = api.enroll(practice.prescriber, CGP)
    _refused(api.authorize(practice.pharmacist, p, practice.pharmacy), contains={"SCREENING_TEST_MISSING"})


def test_r_pt_2_confirmation_test_too_early(api, practice):
    p = api.enroll(practice.prescriber, CGP)
    api.contraception(p, -40)
    api.test(p, "screening", -10)
    api.visit(p, 0)
    api.test(p, "confirmation", 0)
    api.attest(p, practice.admin)
    body = api.authorize(practice.pharmacist, p, practice.pharmacy).get_json()
    assert codes(body) == {"CONFIRMATION_TEST_TOO_EARLY", "PREGNANCY_TEST_REQUIRED"}
    too_early = next(r["message"] for r in body["reasons"] if r["code"] == "CONFIRMATION_TEST_TOO_EARLY")
    assert "19 days" in too_early


def test_r_cyc_2_pregnancy_test_required(api, practice):
    p = api.enroll(practice.prescriber, CGP)
    api.contraception(p, -40)
    api.test(p, "screening", -30)
    api.visit(p, 0)
    api.attest(p, practice.admin)
    _refused(api.authorize(practice.pharmacist, p, practice.pharmacy), {"PREGNANCY_TEST_REQUIRED"})


def test_r_pt_3_home_test_not_allowed(api, practice, go):
    p = api.enroll(practice.prescriber, CGP)
    api.contraception(p, -40)
    before = count_rows(api.app, "pregnancy_tests")
    # Screening and confirmation tests are medical-setting only (R-PT-2).
    r = api.test(p, "screening", 0, setting="home", expect=422).get_json()
    assert r["code"] == "HOME_TEST_NOT_ALLOWED" and r["errors"][0]["field"] == "setting"
    p2 = _cgp_first_rma(api, practice, go)
    go(45)
    # Home monthly tests need the prescriber's permission (R-PT-3).
    r = api.test(p2, "monthly", 45, setting="home", expect=422).get_json()
    assert r["code"] == "HOME_TEST_NOT_ALLOWED"
    assert count_rows(api.app, "pregnancy_tests")["pregnancy_tests"] == before["pregnancy_tests"] + 2
    path = f"/patients/{p2.rems_id}/home-testing"
    missing = api.call("POST", path, as_=p2.prescriber.email, json={"enabled": True}, expect=422).get_json()
    assert missing["errors"][0]["field"] == "procedure"
    api.call(
        "POST", path, as_=p2.prescriber.email, json={"enabled": True, "procedure": "Video call."}, expect=200
    )
    assert api.status(p2)["home_testing_enabled_on"] == api.day(45)
    # ... and only for tests collected from the day it was enabled (R-PT-3)
    early = api.test(p2, "monthly", 44, setting="home", expect=422).get_json()
    assert early["code"] == "HOME_TEST_NOT_ALLOWED" and early["errors"][0]["field"] == "setting"
    assert "before then does not count" in early["errors"][0]["message"]
    api.test(p2, "monthly", 45, setting="home")
    api.visit(p2, 45)
    api.attest(p2, practice.admin)
    assert api.eligibility(practice.pharmacist, p2, practice.pharmacy)["eligible"] is True
    # Permission withdrawn: the home test no longer opens the window.
    api.call("POST", path, as_=p2.prescriber.email, json={"enabled": False}, expect=200)
    _refused(
        api.authorize(practice.pharmacist, p2, practice.pharmacy),
        {"HOME_TEST_NOT_ALLOWED", "PREGNANCY_TEST_REQUIRED"},
    )


def test_r_att_1_attestation_required(api, practice):
    p = api.enroll(practice.prescriber, CGP)
    api.contraception(p, -40)
    api.test(p, "screening", -30)
    api.visit(p, 0)
    api.test(p, "confirmation", 0)
    _refused(api.authorize(practice.pharmacist, p, practice.pharmacy), {"ATTESTATION_REQUIRED"})


def test_r_att_1_answers_to_questions_not_asked_are_refused(api, practice):
    """R-ATT-1: the cycle's questions; an answer to another question id is a 422 on `answers` and
    uses up no attempt (it was accepted before)."""
    p = api.enroll(practice.prescriber, CGP)
    api.contraception(p, -40)
    questions = api.call("GET", "/me/comprehension", as_=p.email, expect=200).get_json()["questions"]
    key = api.correct_answers(practice.admin)
    answers = {q["id"]: key[q["id"]] for q in questions}
    other = next(qid for qid in key if qid not in answers)
    resp = api.call("POST", "/me/attestations", as_=p.email, json={
        "answers": {**answers, other: key[other]}, "contraception": {"forms": ["iud", "male_condom"]},
        "signature": api.sig()})
    assert resp.status_code == 422 and resp.get_json()["errors"][0]["field"] == "answers"
    assert api.attest(p, practice.admin).status_code == 201


def test_r_att_2_three_failures_need_new_counseling(api, practice):
    p = api.enroll(practice.prescriber, CGP)
    api.contraception(p, -40)
    for left in (2, 1, 0):
        assert api.attest(p, practice.admin, wrong=True, expect=422).get_json()["attempts_left"] == left
    assert api.attest(p, practice.admin, expect=422).get_json()["code"] == "ATTEMPTS_EXHAUSTED"
    api.visit(p, 0, counseled=True)
    api.attest(p, practice.admin)


def test_r_cyc_3_visit_required(api, practice):
    p = api.enroll(practice.prescriber, CCGP)
    _refused(
        api.authorize(practice.pharmacist, p, practice.pharmacy), {"COUNSELING_REQUIRED", "VISIT_REQUIRED"}
    )


def test_r_cyc_4_window_expired(api, practice, go):
    p = _ccgp_ready(api, practice)
    go(30)
    _refused(api.authorize(practice.pharmacist, p, practice.pharmacy), {"VISIT_REQUIRED", "WINDOW_EXPIRED"})


def test_r_rma_2_already_authorized(api, practice, go):
    p = _ccgp_ready(api, practice)
    assert api.authorize(practice.pharmacist, p, practice.pharmacy).status_code == 201
    # The next cycle's visit and the refill timing are also unmet: every reason is listed (R-RMA-5).
    _refused(
        api.authorize(practice.pharmacist, p, practice.pharmacy),
        {"ALREADY_AUTHORIZED", "VISIT_REQUIRED", "REFILL_TOO_SOON"},
    )
    # R-RMA-2/3 [D]: a visit dated the RMA's day would open a window closing (day 29) before the next
    # fill is allowed (day 30, when the enrollment visit's window has closed): it opens none (QA 2026-11-26)
    api.visit(p, 0, counseled=False)
    _refused(
        api.authorize(practice.pharmacist, p, practice.pharmacy),
        {"ALREADY_AUTHORIZED", "VISIT_REQUIRED", "REFILL_TOO_SOON"},
    )
    go(1)
    api.visit(p, 1, counseled=False)
    _refused(
        api.authorize(practice.pharmacist, p, practice.pharmacy), {"ALREADY_AUTHORIZED", "REFILL_TOO_SOON"}
    )


def test_r_rma_3_refill_too_soon(api, practice, go):
    p = _cgp_first_rma(api, practice, go)
    go(40)
    api.test(p, "monthly", 40)
    api.visit(p, 40)
    api.attest(p, practice.admin)
    _refused(api.authorize(practice.pharmacist, p, practice.pharmacy), {"REFILL_TOO_SOON"})
    go(42)
    _refused(api.authorize(practice.pharmacist, p, practice.pharmacy), {"REFILL_TOO_SOON"})
    go(43)  # day 20 + ceil(0.75 * 30)
    assert api.authorize(practice.pharmacist, p, practice.pharmacy).status_code == 201


def test_r_rma_2_days_supply_exceeds_limit(api, practice):
    p = _ccgp_ready(api, practice)
    resp = api.authorize(practice.pharmacist, p, practice.pharmacy, days_supply=31)
    _refused(resp, {"DAYS_SUPPLY_EXCEEDS_LIMIT"})
    assert count_rows(api.app, "authorizations")["authorizations"] == 0
    assert api.authorize(practice.pharmacist, p, practice.pharmacy, days_supply=30).status_code == 201


def test_r_pt_4_pregnancy_reported(api, practice):
    p = api.enroll(practice.prescriber, CGP)
    api.contraception(p, -40)
    api.test(p, "screening", 0, result="positive")
    status = api.status(p)
    assert status["course_status"] == "pregnancy_reported"
    _refused(api.authorize(practice.pharmacist, p, practice.pharmacy), contains={"PREGNANCY_REPORTED"})
    # No further clinical record once a pregnancy is reported.
    assert api.visit(p, 0, expect=422).get_json()["code"] == "PREGNANCY_REPORTED"
    # Only an administrator closes the registry case, with a reason.
    from rems.extensions import db
    from rems.models import PregnancyCase

    case_id = db.session.query(PregnancyCase.id).scalar()
    path = f"/admin/pregnancy-cases/{case_id}/close"
    assert api.call("POST", path, as_=p.prescriber.email, json={"reason": "x"}).status_code == 403
    closed = api.call(
        "POST", path, as_=practice.admin, json={"reason": "outcome recorded"}, expect=200
    ).get_json()
    assert closed["reason"] == "outcome recorded"
    assert api.call("POST", path, as_=practice.admin, json={"reason": "again"}).status_code == 409


def test_r_pt_4_a_positive_test_stops_an_rma_already_issued(api, practice, go):
    """R-PT-4 "ends treatment at once": an RMA issued before the positive test must not be filled;
    GET /authorizations/{rma} says so and the pharmacy's pharmacists are told."""
    from rems.extensions import db
    from rems.models import Notification, User

    p = _cgp_first_rma(api, practice, go)  # RMA on day 20, window day 20..26
    rma = db.session.execute(sa.text("SELECT rma FROM authorizations")).scalar()
    before = api.call("GET", f"/authorizations/{rma}", as_=practice.pharmacist, expect=200).get_json()
    assert before["status"] == "authorized" and before["dispense_allowed"] is True
    assert before["dispense_stop_reason"] is None
    go(22)
    api.test(p, "monthly", 22, result="positive")
    after = api.call("GET", f"/authorizations/{rma}", as_=practice.pharmacist, expect=200).get_json()
    assert after["status"] == "authorized" and after["dispense_allowed"] is False
    assert "pregnancy was reported" in after["dispense_stop_reason"]
    pharmacist = db.session.execute(sa.select(User).where(User.email == practice.pharmacist)).scalar_one()
    note = db.session.execute(sa.select(Notification).where(Notification.user_id == pharmacist.id,
                                                            Notification.kind == "rma_stopped")).scalar_one()
    assert note.title == f"Do not dispense {rma}" and p.rems_id in note.body
    assert after["dispense_stop_code"] == "PREGNANCY_REPORTED"
    # past its last day it may not be filled either; what stopped it is still the pregnancy report
    go(30)
    expired = api.call("GET", f"/authorizations/{rma}", as_=practice.pharmacist, expect=200).get_json()
    assert expired["dispense_allowed"] is False and expired["dispense_stop_code"] == "PREGNANCY_REPORTED"


def _end_treatment(api, p, last_dose_day: int) -> None:
    api.call("POST", f"/patients/{p.rems_id}/end-of-treatment", as_=p.prescriber.email,
             json={"last_dose_date": api.day(last_dose_day), "reason": "course complete"}, expect=200)


def _rma(api, practice) -> dict:
    from rems.extensions import db

    rma = db.session.execute(sa.text("SELECT rma FROM authorizations")).scalar_one()
    return api.call("GET", f"/authorizations/{rma}", as_=practice.pharmacist, expect=200).get_json()


def test_r_end_1_an_rma_issued_before_the_end_of_treatment_is_not_dispensed(api, practice, go):
    """R-END-1 "no RMA after the last dose": an RMA issued before the end of treatment was recorded and
    not filled yet must not be dispensed, inside its window and after it; the sentence names the last dose."""
    p = _ccgp_ready(api, practice)
    assert api.authorize(practice.pharmacist, p, practice.pharmacy).status_code == 201  # window day 0..29
    assert _rma(api, practice)["dispense_allowed"] is True
    go(5)
    _end_treatment(api, p, last_dose_day=4)
    stopped = _rma(api, practice)
    assert stopped["status"] == "authorized" and stopped["dispense_allowed"] is False
    assert stopped["dispense_stop_code"] == "TREATMENT_ENDED"
    last = api.t0 + timedelta(days=4)
    # one format for the last dose wherever it is named (workflows.messages.short: the year only
    # when it is not this year's)
    last_dose = short(last, api.today())
    assert stopped["dispense_stop_reason"] == (
        f"Treatment ended (last dose {last_dose}) after this RMA was issued. Do not dispense.")
    # the pharmacy holding it is told, as after a positive test (it may not look the RMA up again)
    from rems.extensions import db
    from rems.models import Notification, User

    pharmacist = db.session.execute(sa.select(User).where(User.email == practice.pharmacist)).scalar_one()
    note = db.session.execute(sa.select(Notification).where(Notification.user_id == pharmacist.id,
                                                            Notification.kind == "rma_stopped")).scalar_one()
    assert note.title == f"Do not dispense {stopped['rma']}"
    # a stored notice is read later, on a day not known now: its date always names the year
    assert note.body == (f"Do not dispense {stopped['rma']} (patient {p.rems_id}): treatment ended "
                         f"(last dose {kept(last)}).")
    go(40)  # past its last day: still the end of treatment that stopped it
    assert _rma(api, practice)["dispense_stop_code"] == "TREATMENT_ENDED"
    # the pharmacy can still reverse it (never picked up): R-RMA-4
    rev = api.call("POST", f"/authorizations/{stopped['rma']}/reversal", as_=practice.pharmacist,
                   json={"reason": "treatment ended before pick-up"}, expect=200).get_json()
    assert rev["dispense_stop_code"] == "REVERSED"
    again = api.call("POST", f"/authorizations/{stopped['rma']}/reversal", as_=practice.pharmacist,
                     json={"reason": "twice"}, expect=409).get_json()
    assert again["detail"] == "This RMA was already reversed: nothing was changed."


def test_r_end_1_a_last_dose_of_last_year_names_its_year_everywhere(api, travel):
    """R-END-1 / R-RMA-5: read in January, a last dose of December names its year, and the same way
    in the refusal, the pharmacist's next step, the RMA's stop sentence and the notice to the
    pharmacy (one format: workflows.messages.short with the day it is read on)."""
    from rems.extensions import db
    from rems.models import Notification, User

    t = api.today()
    dec_30 = date(t.year if (t.month, t.day) <= (12, 30) else t.year + 1, 12, 30)
    travel((dec_30 - t).days)  # the practice is registered then, so its certifications hold
    prescriber, pharmacy = api.register_prescriber(), api.register_pharmacy()
    pharmacist = api.add_pharmacist(pharmacy)
    p = api.enroll(prescriber, CCGP)
    api.call("POST", f"/patients/{p.rems_id}/visits", as_=prescriber.email,
             json={"visit_date": dec_30.isoformat(), "counseled": True, "signature": api.sig()}, expect=201)
    assert api.authorize(pharmacist, p, pharmacy).status_code == 201  # window Dec 30 .. Jan 28
    travel(3)
    assert api.today() == date(dec_30.year + 1, 1, 2)
    api.call("POST", f"/patients/{p.rems_id}/end-of-treatment", as_=prescriber.email,
             json={"last_dose_date": f"{dec_30.year}-12-31", "reason": "course complete"}, expect=200)
    named = f"Dec 31, {dec_30.year}"
    rma = db.session.execute(sa.text("SELECT rma FROM authorizations")).scalar_one()
    stopped = api.call("GET", f"/authorizations/{rma}", as_=pharmacist, expect=200).get_json()
    assert stopped["dispense_stop_code"] == "TREATMENT_ENDED"
    assert stopped["dispense_stop_reason"] == (
        f"Treatment ended (last dose {named}) after this RMA was issued. Do not dispense.")
    staff = db.session.execute(sa.select(User).where(User.email == pharmacist)).scalar_one()
    note = db.session.execute(sa.select(Notification).where(Notification.user_id == staff.id,
                                                            Notification.kind == "rma_stopped")).scalar_one()
    assert note.body.endswith(f"treatment ended (last dose {named}).")
    refusal = api.authorize(pharmacist, p, pharmacy).get_json()
    assert {"code": "TREATMENT_ENDED", "message": f"Treatment ended with the last dose on {named}: "
            "no authorization can be issued."} in refusal["reasons"]
    steps = api.status(p)["next_steps_by_role"]["pharmacist"]
    assert f"Do not dispense: treatment ended (last dose {named})." in steps
    # the same day read in its own year has no year: "Dec 31"
    assert short(date(dec_30.year, 12, 31), dec_30) == "Dec 31"


def test_r_rma_1_an_rma_expired_before_treatment_ended_stays_expired(api, practice, go):
    """R-RMA-1: past its "do not dispense after" day an RMA is expired; an end of treatment (R-END-1)
    recorded later did not stop it, so it is not reported as such."""
    p = _ccgp_ready(api, practice)
    assert api.authorize(practice.pharmacist, p, practice.pharmacy).status_code == 201  # window day 0..29
    go(29)  # its last day
    assert _rma(api, practice)["dispense_allowed"] is True
    go(30)
    expired = _rma(api, practice)
    assert expired["dispense_allowed"] is False and expired["dispense_stop_code"] == "EXPIRED"
    last = api.t0 + timedelta(days=29)
    assert expired["dispense_stop_reason"] == (
        f"This RMA's last day was {short(last, api.today())}: it has expired. Do not dispense.")
    _end_treatment(api, p, last_dose_day=29)
    assert _rma(api, practice)["dispense_stop_code"] == "EXPIRED"


def test_r_end_1_treatment_ended(api, practice):
    p = _ccgp_ready(api, practice)
    api.call(
        "POST",
        f"/patients/{p.rems_id}/end-of-treatment",
        as_=p.prescriber.email,
        json={"last_dose_date": api.day(0)},
        expect=200,
    )
    _refused(api.authorize(practice.pharmacist, p, practice.pharmacy), {"TREATMENT_ENDED"})


def test_every_refusal_code_is_exercised():
    rules = (Path(__file__).resolve().parents[2] / "docs" / "rems-rules.md").read_text()
    section = rules.split("## Refusal codes", 1)[1]
    all_codes = set(re.findall(r"`([A-Z_]+)`", section))
    assert len(all_codes) == 21
    source = Path(__file__).read_text()
    asserted = set(re.findall(r'"([A-Z_]+)"', source))
    assert all_codes <= asserted, sorted(all_codes - asserted)


def test_r_pt_1_the_same_test_recorded_twice_is_refused(api, practice):
    """R-PT-1: a test is kind, specimen date, result and setting; the same four again are a form
    sent twice (QA finding), refused with 409 DUPLICATE_RECORD and nothing added. A correction
    (another setting or date) is a new record."""
    p = api.enroll(practice.prescriber, "can_get_pregnant")
    api.test(p, "screening", 0)
    again = api.test(p, "screening", 0, expect=409).get_json()
    d = api.t0
    assert again["code"] == "DUPLICATE_RECORD"
    assert again["detail"] == (f"This negative screening pregnancy test collected {d:%b} {d.day} (medical setting) "
                               "is already recorded for this patient: nothing was added.")
    api.test(p, "screening", -1)  # another day: a record of its own
    from rems.extensions import db

    assert db.session.execute(sa.text("SELECT count(*) FROM pregnancy_tests")).scalar() == 2
