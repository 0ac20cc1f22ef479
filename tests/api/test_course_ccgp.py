"""A whole course of a patient who cannot get pregnant, over HTTP (R-PAT-4, R-CYC-3, R-END-1)."""

from __future__ import annotations

from tests.api.helpers import codes


def test_ccgp_course_visit_each_cycle_thirty_day_window(api, practice, go):
    ph, pharmacist = practice.pharmacy, practice.pharmacist
    p = api.enroll(practice.prescriber, "cannot_get_pregnant")
    assert codes(api.eligibility(pharmacist, p, ph)) == {"COUNSELING_REQUIRED", "VISIT_REQUIRED"}
    # No monthly attestation for CCGP patients (R-ATT-1 applies to CGP only).
    assert api.call("GET", "/me/comprehension", as_=p.email).status_code == 403

    api.visit(p, 0, counseled=True)  # R-PAT-4: counseling at enrollment
    ok = api.eligibility(pharmacist, p, ph)
    assert ok["eligible"] is True and ok["window"] == {"opens": api.day(0), "closes": api.day(29)}  # R-CYC-3
    assert api.authorize(pharmacist, p, ph).get_json()["do_not_dispense_after"] == api.day(29)

    # Cycle 2: a visit without counseling is enough (R-PAT-4, 2026 change).
    go(30)
    assert codes(api.eligibility(pharmacist, p, ph)) == {"VISIT_REQUIRED"}
    api.visit(p, 30, counseled=False)
    rma2 = api.authorize(pharmacist, p, ph)
    assert rma2.status_code == 201 and rma2.get_json()["do_not_dispense_after"] == api.day(59)

    # Cycle 3: visit on day 60, window missed (R-CYC-4).
    go(60)
    api.visit(p, 60, counseled=False)
    go(90)  # window day 60..89 closed
    assert codes(api.eligibility(pharmacist, p, ph)) == {"VISIT_REQUIRED", "WINDOW_EXPIRED"}
    api.visit(p, 90, counseled=False)
    rma3 = api.authorize(pharmacist, p, ph).get_json()["rma"]
    api.call(
        "POST",
        f"/authorizations/{rma3}/reversal",
        as_=pharmacist,
        json={"reason": "never picked up"},
        expect=200,
    )
    assert api.authorize(pharmacist, p, ph, days_supply=28).status_code == 201  # R-RMA-4

    go(95)
    done = api.call(
        "POST",
        f"/patients/{p.rems_id}/end-of-treatment",
        as_=p.prescriber.email,
        json={"last_dose_date": api.day(94)},
        expect=200,
    ).get_json()
    assert done["course_status"] == "completed"  # R-END-1: CCGP completes at once
    assert codes(api.authorize(pharmacist, p, ph)) >= {"TREATMENT_ENDED"}
