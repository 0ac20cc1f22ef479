"""A whole course of a patient who can get pregnant, over HTTP, across months (R-LOOP-1, R-CYC-*)."""

from __future__ import annotations

from tests.api.helpers import codes


def test_cgp_course_from_enrollment_to_completion(api, practice, go):
    ph, pharmacist, admin = practice.pharmacy, practice.pharmacist, practice.admin
    p = api.enroll(practice.prescriber, "can_get_pregnant")

    # Day 0: nothing but consent yet (R-RMA-5: every unmet requirement listed).
    first = api.eligibility(pharmacist, p, ph)
    assert first["eligible"] is False
    assert {
        "COUNSELING_REQUIRED",
        "CONTRACEPTION_MISSING",
        "SCREENING_TEST_MISSING",
        "PREGNANCY_TEST_REQUIRED",
        "ATTESTATION_REQUIRED",
    } <= codes(first)
    assert "CONSENT_MISSING" not in codes(first)
    api.contraception(p, -10)  # R-CYC-1: a start before enrollment counts in the first cycle
    api.test(p, "screening", 0)
    api.visit(p, 0, counseled=True)  # R-PAT-4
    me = api.call("GET", "/me", as_=p.email, expect=200).get_json()
    assert me["rems_id"] == p.rems_id and me["course_status"] == "enrolled"

    # Day 20: confirmation test >= 19 days after screening (R-PT-2), >= 30 after contraception (R-CON-2).
    go(20)
    api.test(p, "confirmation", 20)
    assert codes(api.eligibility(pharmacist, p, ph)) == {"ATTESTATION_REQUIRED"}
    failed = api.attest(p, admin, wrong=True, expect=422).get_json()  # R-ATT-1: all answers correct
    assert failed["code"] == "COMPREHENSION_FAILED" and failed["attempts_left"] == 2 and failed["incorrect"]
    api.attest(p, admin)
    again = api.attest(p, admin, expect=422).get_json()
    assert again["code"] == "ATTESTATION_NOT_REQUIRED"
    ok = api.eligibility(pharmacist, p, ph)
    assert ok["eligible"] is True and ok["reasons"] == []
    assert ok["window"] == {"opens": api.day(20), "closes": api.day(26)}  # R-CYC-2: 7 days
    rma1 = api.authorize(pharmacist, p, ph, days_supply=30).get_json()
    assert rma1["do_not_dispense_after"] == api.day(26) and rma1["days_supply"] == 30  # R-RMA-1
    assert codes(api.authorize(pharmacist, p, ph)) >= {"ALREADY_AUTHORIZED"}  # R-RMA-2
    detail = api.call("GET", f"/authorizations/{rma1['rma']}", as_=pharmacist, expect=200).get_json()
    assert detail["status"] == "authorized"
    assert api.call("GET", "/me", as_=p.email).get_json()["course_status"] == "active"

    # Cycle 2: home testing enabled (R-PT-3), monthly home test; RMA only after 75% of 30 days (R-RMA-3).
    go(40)
    status = api.status(p)
    assert status["cycle"] == 2 and not status["eligible"]
    api.call(
        "POST",
        f"/patients/{p.rems_id}/home-testing",
        as_=p.prescriber.email,
        json={"enabled": True, "procedure": "Photo of the test with today's newspaper, sent the same day."},
        expect=200,
    )
    api.test(p, "monthly", 40, setting="home")
    api.visit(p, 40, counseled=True)
    api.attest(p, admin)
    too_soon = api.authorize(pharmacist, p, ph)
    assert too_soon.status_code == 409 and codes(too_soon) == {"REFILL_TOO_SOON"}
    go(43)  # RMA 1 on day 20 + ceil(0.75 * 30) = day 43
    rma2 = api.authorize(pharmacist, p, ph, days_supply=30)
    assert rma2.status_code == 201 and rma2.get_json()["do_not_dispense_after"] == api.day(46)

    # Cycle 3: everything done but the window is missed (R-CYC-4).
    go(66)
    api.test(p, "monthly", 66)
    api.visit(p, 66)
    api.attest(p, admin)
    assert api.eligibility(pharmacist, p, ph)["eligible"] is True
    go(74)  # window day 66..72 closed
    missed = api.eligibility(pharmacist, p, ph)
    assert {
        "WINDOW_EXPIRED",
        "PREGNANCY_TEST_REQUIRED",
        "COUNSELING_REQUIRED",
        "ATTESTATION_REQUIRED",
    } <= codes(missed)
    assert any("window closed" in r["message"] for r in missed["reasons"])
    api.test(p, "monthly", 74)  # no waiting period in ipledge-2026
    api.visit(p, 74)
    api.attest(p, admin)
    rma3 = api.authorize(pharmacist, p, ph, quantity=90).get_json()["rma"]

    # Reversal inside the window reopens the cycle (R-RMA-4); a corrected RMA follows.
    rev = api.call(
        "POST",
        f"/authorizations/{rma3}/reversal",
        as_=pharmacist,
        json={"reason": "wrong quantity"},
        expect=200,
    ).get_json()
    assert rev["status"] == "reversed" and rev["reversal_reason"] == "wrong quantity"
    again = api.call("POST", f"/authorizations/{rma3}/reversal", as_=pharmacist, json={"reason": "twice"})
    assert again.status_code == 409
    rma4 = api.authorize(pharmacist, p, ph, quantity=60)
    assert rma4.status_code == 201 and rma4.get_json()["do_not_dispense_after"] == api.day(80)

    # End of treatment (R-END-1): post_treatment until a test >= 30 days after the last dose.
    go(100)
    ended = api.call(
        "POST",
        f"/patients/{p.rems_id}/end-of-treatment",
        as_=p.prescriber.email,
        json={"last_dose_date": api.day(100), "reason": "course complete"},
        expect=200,
    ).get_json()
    assert ended["course_status"] == "post_treatment"
    assert codes(api.authorize(pharmacist, p, ph)) >= {"TREATMENT_ENDED"}
    go(130)
    api.test(p, "post_treatment", 130)
    final = api.status(p)
    assert final["course_status"] == "completed"
    assert api.call("GET", "/me", as_=p.email).get_json()["course_status"] == "completed"
