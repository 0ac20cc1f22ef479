"""Dispensing decisions: R-LOOP-1, R-PRES-1, R-PHAR-1, R-RMA-2..6."""

from dataclasses import replace
from datetime import date

from tests.workflows.factories import CGP, PHARMACY, PRESCRIBER, at, patient, request
from workflows import decide_dispense, evaluate_patient

NOW = at("2026-10-21")


def ready():
    return patient().cgp_ready().build()


def test_R_LOOP_1_R_RMA_1_everything_in_place_allows_with_do_not_dispense_after(program):
    d = decide_dispense(request(ready()), program, NOW)
    assert d.allowed and d.reasons == () and d.do_not_dispense_after == date(2026, 10, 26)


def test_R_PRES_1_prescriber_not_certified_suspended_revoked_or_expired(program):
    for changes in (
        {"status": "pending"},
        {"status": "suspended"},
        {"status": "revoked"},
        {"certified_until": date(2026, 10, 20)},
    ):
        other = replace(PRESCRIBER, **changes)
        d = decide_dispense(request(ready(), prescriber=other, patient_prescriber=other), program, NOW)
        assert d.codes == ("PRESCRIBER_NOT_CERTIFIED",)
    same_day = replace(PRESCRIBER, certified_until=date(2026, 10, 21))
    assert decide_dispense(
        request(ready(), prescriber=same_day, patient_prescriber=same_day), program, NOW
    ).allowed


def test_R_PRES_1_suspended_own_prescriber_blocks_even_with_other_npi(program):
    suspended = replace(PRESCRIBER, status="suspended")
    d = decide_dispense(request(ready(), patient_prescriber=suspended), program, NOW)
    assert d.codes == ("PRESCRIBER_NOT_CERTIFIED",)


def test_R_RMA_5_two_prescribers_not_certified_are_two_reasons(program):
    # the prescriber on the prescription is pending AND the patient's own prescriber is suspended
    pending = replace(PRESCRIBER, id=99, npi="1245319599", status="pending")
    suspended = replace(PRESCRIBER, status="suspended")
    d = decide_dispense(request(ready(), prescriber=pending, patient_prescriber=suspended), program, NOW)
    messages = [r.message for r in d.reasons if r.code == "PRESCRIBER_NOT_CERTIFIED"]
    assert messages == ["The prescriber on the prescription is not a certified prescriber today.",
                        "The patient's prescriber is not certified today."]
    assert d.codes == ("PRESCRIBER_NOT_CERTIFIED", "PRESCRIBER_MISMATCH", "PRESCRIBER_NOT_CERTIFIED")


def test_R_LOOP_1_prescriber_mismatch(program):
    other = replace(PRESCRIBER, id=99, npi="1245319599")
    assert decide_dispense(request(ready(), prescriber=other), program, NOW).codes == ("PRESCRIBER_MISMATCH",)
    unknown = decide_dispense(request(ready(), prescriber=None), program, NOW)
    assert set(unknown.codes) == {"PRESCRIBER_MISMATCH", "PRESCRIBER_NOT_CERTIFIED"}


def test_R_PHAR_1_pharmacy_not_certified_and_pharmacist_not_member(program):
    for pharmacy in (
        None,
        replace(PHARMACY, status="pending"),
        replace(PHARMACY, certified_until=date(2026, 10, 20)),
    ):
        assert decide_dispense(request(ready(), pharmacy=pharmacy), program, NOW).codes == (
            "PHARMACY_NOT_CERTIFIED",
        )
    assert decide_dispense(request(ready(), pharmacist_is_member=False), program, NOW).codes == (
        "PHARMACIST_NOT_MEMBER",
    )


def test_R_RMA_6_unknown_patient_answers_patient_not_found_only(program):
    d = decide_dispense(request(None), program, NOW)
    assert d.codes == ("PATIENT_NOT_FOUND",) and d.window is None and d.do_not_dispense_after is None
    d2 = decide_dispense(request(None, pharmacist_is_member=False), program, NOW)
    assert d2.codes == ("PHARMACIST_NOT_MEMBER", "PATIENT_NOT_FOUND")


def test_R_RMA_5_refusal_lists_all_codes_with_readable_dates(program):
    p = replace(patient().build(), consent_signed_at=None)
    d = decide_dispense(request(p, days_supply=31, pharmacist_is_member=False), program, at("2026-10-02"))
    assert set(d.codes) == {
        "PHARMACIST_NOT_MEMBER",
        "CONSENT_MISSING",
        "COUNSELING_REQUIRED",
        "CONTRACEPTION_MISSING",
        "SCREENING_TEST_MISSING",
        "PREGNANCY_TEST_REQUIRED",
        "ATTESTATION_REQUIRED",
        "DAYS_SUPPLY_EXCEEDS_LIMIT",
    }
    assert all(r.message for r in d.reasons) and len(set(d.codes)) == len(d.codes)


def test_R_RMA_2_days_supply_limit_boundary_and_eligibility_check(program):
    assert decide_dispense(request(ready(), days_supply=30), program, NOW).allowed
    assert decide_dispense(request(ready(), days_supply=31), program, NOW).codes == (
        "DAYS_SUPPLY_EXCEEDS_LIMIT",
    )
    assert decide_dispense(request(ready(), days_supply=None), program, NOW).allowed


def test_R_RMA_2_already_authorized_while_window_open(program):
    p = patient().cgp_ready().rma("2026-10-21", "2026-10-26").build()
    d = decide_dispense(request(p), program, at("2026-10-22"))
    assert "ALREADY_AUTHORIZED" in d.codes and not d.allowed
    # the date and validity, not the issuing pharmacy's RMA number (any pharmacy may ask)
    assert ("An RMA issued Oct 21 is valid until Oct 26; only one authorization per cycle."
            in [r.message for r in d.reasons])
    s = evaluate_patient(p, program, at("2026-10-22"))
    assert s.cycle_number == 2 and not s.eligible


def test_R_RMA_3_refill_too_soon_at_75_percent(program):
    # 30 days supplied Oct 21: 22.5 days must elapse -> next authorization from Nov 13
    def with_monthly(day):
        return (
            patient()
            .cgp_ready()
            .rma("2026-10-21", "2026-10-26")
            .visit(day)
            .test("monthly", day)
            .attest(day)
            .build()
        )

    early = decide_dispense(request(with_monthly("2026-11-12")), program, at("2026-11-12"))
    assert early.codes == ("REFILL_TOO_SOON",)
    assert "from Nov 13" in early.reasons[0].message
    assert decide_dispense(request(with_monthly("2026-11-13")), program, at("2026-11-13")).allowed


def test_R_RMA_3_refill_uses_previous_days_supply(program):
    p = (
        patient()
        .cgp_ready()
        .rma("2026-10-21", "2026-10-26", days_supply=8)
        .visit("2026-10-27")
        .test("monthly", "2026-10-27")
        .attest("2026-10-27")
        .build()
    )
    assert decide_dispense(request(p), program, at("2026-10-27")).allowed  # ceil(6) = Oct 27


def test_R_RMA_4_reversal_inside_window_reopens_the_cycle(program):
    p = patient().cgp_ready().rma("2026-10-21", "2026-10-26", reversed_on="2026-10-22").build()
    before = decide_dispense(request(p), program, at("2026-10-22T17:30"))
    assert "ALREADY_AUTHORIZED" in before.codes
    s = evaluate_patient(p, program, at("2026-10-22T19:00"))
    assert s.eligible and s.cycle_number == 1 and s.first_authorization_pending
    assert decide_dispense(request(p), program, at("2026-10-22T19:00")).allowed


def test_R_RMA_4_reversal_after_window_leaves_cycle_missed(program):
    p = patient().cgp_ready().rma("2026-10-21", "2026-10-26", reversed_on="2026-10-28").build()
    s = evaluate_patient(p, program, at("2026-10-29"))
    assert s.cycle_number == 2 and "WINDOW_EXPIRED" in s.codes and s.course_status == "enrolled"
    # [D] the rule sets no time limit on a reversal: an RMA never picked up and reversed after its
    # window makes that cycle a missed one, and the supply never received does not hold up the next
    # fill (no REFILL_TOO_SOON)
    assert "REFILL_TOO_SOON" not in s.codes


def test_R_RMA_2_R_RMA_3_the_next_fill_waits_for_the_previous_window_to_close(program):
    """A CCGP window is 30 days long: after an RMA on its first day, R-RMA-2 (one RMA while its
    window is open) holds the next fill back beyond R-RMA-3's 75% day, and every date the service
    gives says so (QA 2026-11-26: "possible from Dec 19" while ALREADY_AUTHORIZED held until Dec 25)."""
    def base():
        return patient().ccgp_ready().rma("2026-10-01", "2026-10-30")  # window Oct 1 - Oct 30

    p = base().visit("2026-10-23", counseled=False).build()  # opens cycle 2's window Oct 23 - Nov 21
    d = decide_dispense(request(p), program, at("2026-10-23"))
    assert d.codes == ("ALREADY_AUTHORIZED", "REFILL_TOO_SOON")
    refill = [r.message for r in d.reasons if r.code == "REFILL_TOO_SOON"][0]
    assert refill == ("Too soon after the 30-day supply authorized Oct 1: the next authorization is "
                      "possible from Oct 31.")
    for day in ("2026-10-24", "2026-10-30"):  # 75% of the supply has elapsed; the window is still open
        assert decide_dispense(request(p), program, at(day)).codes == ("ALREADY_AUTHORIZED",)
    # the checklist's met R-RMA-3 row says what it checked, not that the next RMA is possible (review)
    s = evaluate_patient(p, program, at("2026-10-25"))
    refill_row = next(r for r in s.requirements if r.code == "REFILL_TOO_SOON")
    assert refill_row.met
    assert refill_row.detail == "75% of the 30-day supply authorized Oct 1 has elapsed (since Oct 24)."
    assert decide_dispense(request(p), program, at("2026-10-31")).allowed

    # changed to CGP: the monthly test's 7-day window must reach Oct 31, not Oct 24 (R-RMA-3 alone)
    def cgp():
        return (base().change_category(CGP, "2026-10-10").visit("2026-10-20").attest("2026-10-24")
                .contraception("2026-09-01", recorded="2026-10-10")
                .test("screening", "2026-10-01", recorded="2026-10-10"))

    s = evaluate_patient(cgp().build(), program, at("2026-10-20"))
    assert ("No negative monthly pregnancy test (medical setting) collected on or after Oct 25 (its 7-day "
            "window must reach Oct 31, the first day the next fill is allowed) is recorded yet."
            in [r.message for r in s.reasons])
    early = evaluate_patient(cgp().test("monthly", "2026-10-24").build(), program, at("2026-10-24"))
    assert early.window is None  # Oct 24 - Oct 30 closes before Oct 31: it could only be missed
    ok = cgp().test("monthly", "2026-10-25").build()
    assert decide_dispense(request(ok), program, at("2026-10-31")).allowed


def test_R_RMA_3_R_RMA_2_the_patient_is_told_from_when_the_pharmacy_can_fill(program):
    """R-RMA-3, R-RMA-2: while only the first day of the next fill holds the RMA back, the patient's
    next steps name that day (QA 2026-11-26: every step done, the checklist rows read "not yet" and
    nothing told the patient when to go to the pharmacy); the pharmacist keeps the refusal sentence."""
    def cycle_2():  # RMA Oct 21 for 30 days: the next fill is allowed from Nov 13 (Fri)
        return patient().cgp_ready().rma("2026-10-21", "2026-10-26")

    s = evaluate_patient(cycle_2().build(), program, at("2026-10-22"))
    assert s.next_steps["patient"][-1] == (
        "Your pharmacy can fill your next prescription from Friday, Nov 13 at the earliest.")
    done = cycle_2().visit("2026-11-08").test("monthly", "2026-11-08").attest("2026-11-08").build()  # Nov 8-14
    s = evaluate_patient(done, program, at("2026-11-10"))
    assert s.codes == ("REFILL_TOO_SOON",)
    assert s.next_steps["patient"] == (
        "Your pharmacy can fill your next prescription from Friday, Nov 13 until Saturday, Nov 14.",)
    assert s.next_steps["pharmacist"] == (s.reasons[0].message,)
    last_day = cycle_2().visit("2026-11-07").test("monthly", "2026-11-07").attest("2026-11-07").build()  # Nov 7-13
    s = evaluate_patient(last_day, program, at("2026-11-10"))
    assert s.next_steps["patient"] == ("Your pharmacy can fill your next prescription on Friday, Nov 13 only.",)
    assert evaluate_patient(done, program, at("2026-11-13")).eligible
