"""CGP requirements of a cycle: R-CYC-2, R-PAT-3, R-PAT-4, R-CON-1, R-CON-2, R-PT-1..3, R-ATT-1..2."""

from datetime import date

from tests.workflows.factories import at, patient, request
from workflows import decide_dispense, evaluate_patient
from workflows.results import Window


def codes(p, program, day):
    return evaluate_patient(p, program, at(day)).codes


def test_R_CYC_2_window_is_seven_days_day_7_open_day_8_closed(program):
    p = patient().cgp_ready().build()
    assert decide_dispense(request(p), program, at("2026-10-26")).allowed  # day 7
    d8 = decide_dispense(request(p), program, at("2026-10-27"))  # day 8
    assert not d8.allowed and "WINDOW_EXPIRED" in d8.codes
    assert "Pregnancy test collected Oct 20: the window closed Oct 26." in [r.message for r in d8.reasons]


def test_R_CYC_2_status_requirements_have_sentences_with_dates(program):
    s = evaluate_patient(patient().cgp_ready().build(), program, at("2026-10-21"))
    assert s.eligible and s.reasons == ()
    assert all(r.met for r in s.requirements)
    details = {r.code: r.detail for r in s.requirements}
    assert details["PREGNANCY_TEST_REQUIRED"] == (
        "Negative confirmation pregnancy test collected Oct 20; pharmacy can fill until Oct 26."
    )
    assert s.course_status == "enrolled" and s.first_authorization_pending
    assert s.window.opens == date(2026, 10, 20) and s.window.closes == date(2026, 10, 26)
    assert any("Oct 26" in step for step in s.next_steps["pharmacist"])
    assert s.comprehension_cycle_key == "1:1"


def test_R_LOOP_1_empty_enrollment_lists_every_cgp_requirement(program):
    s = evaluate_patient(patient().build(), program, at("2026-10-02"))
    assert s.codes == (
        "CONSENT_MISSING",
        "COUNSELING_REQUIRED",
        "CONTRACEPTION_MISSING",
        "SCREENING_TEST_MISSING",
        "PREGNANCY_TEST_REQUIRED",
        "ATTESTATION_REQUIRED",
    )
    assert not s.eligible and s.window is None
    assert s.next_steps["patient"] and s.next_steps["prescriber"]


def test_R_PAT_3_consent_missing(program):
    p = patient().cgp_ready().build()
    from dataclasses import replace

    p = replace(p, consent_signed_at=None)
    assert codes(p, program, "2026-10-21") == ("CONSENT_MISSING",)


def test_R_PAT_4_counseling_required_each_cgp_cycle(program):
    p = (
        patient()
        .cgp_ready()
        .rma("2026-10-21", "2026-10-26")
        .test("monthly", "2026-11-15")
        .attest("2026-11-15")
        .build()
    )
    assert codes(p, program, "2026-11-15") == ("COUNSELING_REQUIRED",)
    p2 = (
        patient()
        .cgp_ready()
        .rma("2026-10-21", "2026-10-26")
        .test("monthly", "2026-11-15")
        .attest("2026-11-15")
        .visit("2026-11-15", counseled=True)
        .build()
    )
    assert codes(p2, program, "2026-11-15") == ()


def test_R_CON_1_contraception_missing(program):
    p = (
        patient()
        .consent()
        .visit("2026-10-01")
        .test("screening", "2026-10-01")
        .test("confirmation", "2026-10-20")
        .attest("2026-10-20")
        .build()
    )
    assert codes(p, program, "2026-10-21") == ("CONTRACEPTION_MISSING",)


def test_R_CON_2_lead_in_30_days_boundary(program):
    base = patient().consent().visit("2026-10-01").test("screening", "2026-10-01")
    # contraception from Sep 20: confirmation on Oct 20 is exactly 30 days later -> ok
    ok = base.contraception("2026-09-20").test("confirmation", "2026-10-20").attest("2026-10-20").build()
    assert codes(ok, program, "2026-10-21") == ()
    base = patient().consent().visit("2026-10-01").test("screening", "2026-10-01")
    early = base.contraception("2026-09-21").test("confirmation", "2026-10-20").attest("2026-10-20").build()
    s = evaluate_patient(early, program, at("2026-10-21"))
    assert "CONTRACEPTION_LEAD_IN_INCOMPLETE" in s.codes and s.window is None
    assert any("on or after Oct 21" in r.message for r in s.reasons)


def test_R_CON_2_the_latest_record_documents_the_start_even_when_it_moves_it_earlier(program):
    # a record entered Oct 1 says Oct 1; the correction entered Oct 2 says Sep 1 (corrections are new records)
    base = patient().consent().visit("2026-10-01").test("screening", "2026-10-01")
    corrected = (base.contraception("2026-10-01", recorded="2026-10-01")
                 .contraception("2026-09-01", recorded="2026-10-02")
                 .test("confirmation", "2026-10-20").attest("2026-10-20").build())
    assert codes(corrected, program, "2026-10-21") == ()
    # and the other way round: a later start entered last is the one that counts
    base = patient().consent().visit("2026-10-01").test("screening", "2026-10-01")
    moved = (base.contraception("2026-09-01", recorded="2026-10-01")
             .contraception("2026-10-01", recorded="2026-10-02")
             .test("confirmation", "2026-10-20").attest("2026-10-20").build())
    s = evaluate_patient(moved, program, at("2026-10-21"))
    assert "CONTRACEPTION_LEAD_IN_INCOMPLETE" in s.codes and s.window is None
    assert "Oct 31" in dict((r.code, r.message) for r in s.reasons)["CONTRACEPTION_LEAD_IN_INCOMPLETE"]


def test_R_CYC_2_patient_is_told_now_once_the_first_day_for_the_test_has_come(program):
    """The patient's next step says "now" when the first day a test can count is today or past
    (QA: Eve read "on or after Fri, Nov 20" on Nov 26); the prescriber keeps the date, which says
    which tests already collected count. A first day still ahead keeps its date for both."""
    def enrolled(on):
        return (patient(enrolled=on).consent(on).visit(on).contraception("2026-10-20", recorded=on)
                .test("screening", "2026-11-01", recorded=on).build())

    s = evaluate_patient(enrolled("2026-11-26"), program, at("2026-11-26T20:00"))  # Nov 20 is past
    assert s.next_steps["patient"] == (
        "Get your confirmation pregnancy test now.",
        "Answer this cycle's questions and sign your monthly attestation.",
    )
    assert s.next_steps["prescriber"] == (
        "Record a negative confirmation pregnancy test (medical setting) collected on or after Nov 20.",
    )
    # the first day itself is "now" too; the day before it keeps the date
    today = evaluate_patient(enrolled("2026-11-20"), program, at("2026-11-20T20:00"))
    assert "Get your confirmation pregnancy test now." in today.next_steps["patient"]
    ahead = evaluate_patient(enrolled("2026-11-19"), program, at("2026-11-19T20:00"))
    assert "Get your confirmation pregnancy test on or after Friday, Nov 20." in ahead.next_steps["patient"]
    assert (
        "Record a negative confirmation pregnancy test (medical setting) collected on or after Nov 20."
        in ahead.next_steps["prescriber"]
    )


def test_R_PT_2_R_CON_2_no_date_for_a_confirmation_test_before_screening_and_contraception(program):
    """Without a screening test or a contraception start there is no first day for the confirmation
    test, and "now" would send the patient to a test that cannot count (QA: Eve, enrolled with
    neither, was told "now"). The patient is told what comes first instead."""
    wait = ("Your confirmation pregnancy test comes at least 19 days after your screening test and after "
            "30 days of birth control. Your prescriber records those first; then this page tells you the date.")
    bare = patient(enrolled="2026-11-26").consent("2026-11-26").visit("2026-11-26")
    s = evaluate_patient(bare.build(), program, at("2026-11-26T20:00"))
    assert wait in s.next_steps["patient"]
    # the refusal and the prescriber's step give the rule, not a date that means nothing (review)
    wanted = ("negative confirmation pregnancy test (medical setting) collected at least 19 days after the "
              "screening test and 30 days after contraception started")
    assert f"No {wanted} is recorded yet." in [r.message for r in s.reasons]
    assert f"Record a {wanted}." in s.next_steps["prescriber"]
    assert not any(step.startswith("Get your confirmation") for step in s.next_steps["patient"])
    only_screening = (patient(enrolled="2026-11-26").consent("2026-11-26").visit("2026-11-26")
                      .test("screening", "2026-11-26").build())
    assert wait in evaluate_patient(only_screening, program, at("2026-11-26T20:00")).next_steps["patient"]
    both = (patient(enrolled="2026-11-26").consent("2026-11-26").visit("2026-11-26")
            .test("screening", "2026-11-26").contraception("2026-11-26").build())
    steps = evaluate_patient(both, program, at("2026-11-26T20:00")).next_steps["patient"]
    assert "Get your confirmation pregnancy test on or after Saturday, Dec 26." in steps and wait not in steps


def test_R_CYC_1_first_cycle_guidance_allows_a_confirmation_test_collected_before_enrollment(program):
    # enrolled Nov 26 with screening Nov 1 and abstinence since Oct 20: a confirmation test collected
    # Nov 20 (screening + 19, lead-in done Nov 19) counts in the first cycle, so that is the date to say
    p = (patient(enrolled="2026-11-26").consent("2026-11-26").visit("2026-11-26")
         .contraception("2026-10-20", recorded="2026-11-26").test("screening", "2026-11-01", recorded="2026-11-26")
         .build())
    s = evaluate_patient(p, program, at("2026-11-26T20:00"))
    assert ("No negative confirmation pregnancy test (medical setting) collected on or after Nov 20 is recorded yet."
            in [r.message for r in s.reasons])
    done = (patient(enrolled="2026-11-26").consent("2026-11-26").visit("2026-11-26")
            .contraception("2026-10-20", recorded="2026-11-26").test("screening", "2026-11-01", recorded="2026-11-26")
            .test("confirmation", "2026-11-20", recorded="2026-11-26T18:00").attest("2026-11-26").build())
    assert evaluate_patient(done, program, at("2026-11-26T20:00")).window == Window(date(2026, 11, 20),
                                                                                 date(2026, 11, 26))


def test_R_CON_2_lead_in_incomplete_before_any_test(program):
    p = (
        patient()
        .consent()
        .visit("2026-10-01")
        .contraception("2026-10-01")
        .test("screening", "2026-10-01")
        .build()
    )
    s = evaluate_patient(p, program, at("2026-10-10"))
    assert "CONTRACEPTION_LEAD_IN_INCOMPLETE" in s.codes
    assert "Oct 31" in dict((r.code, r.message) for r in s.reasons)["CONTRACEPTION_LEAD_IN_INCOMPLETE"]


def test_R_PT_2_screening_missing(program):
    p = (
        patient()
        .consent()
        .visit("2026-10-01")
        .contraception("2026-09-01")
        .test("confirmation", "2026-10-20")
        .attest("2026-10-20")
        .build()
    )
    assert codes(p, program, "2026-10-21") == ("SCREENING_TEST_MISSING",)


def test_R_PT_2_confirmation_19_days_after_screening_boundary(program):
    def build(confirmation):
        return (
            patient()
            .consent()
            .visit("2026-10-01")
            .contraception("2026-09-01")
            .test("screening", "2026-10-02")
            .test("confirmation", confirmation)
            .attest(confirmation)
            .build()
        )

    assert codes(build("2026-10-21"), program, "2026-10-21") == ()  # screening + 19
    s = evaluate_patient(build("2026-10-20"), program, at("2026-10-20"))  # screening + 18
    assert "CONFIRMATION_TEST_TOO_EARLY" in s.codes and "PREGNANCY_TEST_REQUIRED" in s.codes
    assert any("on or after Oct 21" in r.message for r in s.reasons)


def test_R_PT_2_too_early_confirmation_does_not_block_a_later_one(program):
    p = (
        patient()
        .consent()
        .visit("2026-10-01")
        .contraception("2026-09-01")
        .test("screening", "2026-10-02")
        .test("confirmation", "2026-10-15")
        .test("confirmation", "2026-10-22")
        .attest("2026-10-22")
        .build()
    )
    s = evaluate_patient(p, program, at("2026-10-22"))
    assert s.eligible and s.window.opens == date(2026, 10, 22)


def test_R_PT_2_home_confirmation_does_not_count(program):
    p = (
        patient()
        .consent()
        .visit("2026-10-01")
        .contraception("2026-09-01")
        .home_testing()
        .test("screening", "2026-10-01")
        .test("confirmation", "2026-10-20", setting="home")
        .attest("2026-10-20")
        .build()
    )
    s = evaluate_patient(p, program, at("2026-10-21"))
    assert set(s.codes) == {"PREGNANCY_TEST_REQUIRED", "HOME_TEST_NOT_ALLOWED"}


def test_R_PT_3_home_monthly_counts_only_when_enabled(program):
    def build(enabled):
        b = patient().cgp_ready().rma("2026-10-21", "2026-10-26").visit("2026-11-15")
        b = b.test("monthly", "2026-11-15", setting="home").attest("2026-11-15")
        return (b.home_testing() if enabled else b).build()

    assert codes(build(True), program, "2026-11-15") == ()
    s = evaluate_patient(build(False), program, at("2026-11-15"))
    assert set(s.codes) == {"PREGNANCY_TEST_REQUIRED", "HOME_TEST_NOT_ALLOWED"}
    assert "(medical setting)" in s.reasons[0].message


def test_R_PT_3_a_home_test_collected_before_home_testing_was_enabled_does_not_count(program):
    def build(since):
        b = patient().cgp_ready().rma("2026-10-21", "2026-10-26").visit("2026-11-15")
        return b.test("monthly", "2026-11-15", setting="home").attest("2026-11-15").home_testing(since).build()

    assert codes(build("2026-11-15"), program, "2026-11-15") == ()  # enabled the day it was collected
    s = evaluate_patient(build("2026-11-16"), program, at("2026-11-16"))
    assert set(s.codes) == {"PREGNANCY_TEST_REQUIRED", "HOME_TEST_NOT_ALLOWED"}
    refusal = next(r.message for r in s.reasons if r.code == "HOME_TEST_NOT_ALLOWED")
    assert refusal == ("The home monthly test collected Nov 15 does not count: "
                       "home testing was enabled for this patient only on Nov 16.")
    # the guidance names where a new test may be collected: at home only from the day it was enabled
    guidance = next(r.message for r in s.reasons if r.code == "PREGNANCY_TEST_REQUIRED")
    assert "(medical setting; at home from Nov 16)" in guidance


def test_R_PT_1_monthly_test_needed_after_first_rma(program):
    p = patient().cgp_ready().rma("2026-10-21", "2026-10-26").visit("2026-11-15").attest("2026-11-15").build()
    s = evaluate_patient(p, program, at("2026-11-15"))
    assert s.codes == ("PREGNANCY_TEST_REQUIRED",)
    # Nov 9: a test collected earlier would be entered after its 7-day window closed (R-CYC-1 [D])
    assert s.reasons[0].message == (
        "No negative monthly pregnancy test (medical setting) collected on or after Nov 9 is recorded yet."
    )
    # R-RMA-5: the refusal states what is missing (a pharmacist reads it to the patient); the
    # prescriber's next step says what to do
    assert s.next_steps["prescriber"] == (
        "Record a negative monthly pregnancy test (medical setting) collected on or after Nov 9.",
    )
    assert s.course_status == "active" and not s.first_authorization_pending and s.cycle_number == 2


def test_R_RMA_3_a_monthly_test_whose_window_closes_before_the_refill_day_opens_none(program):
    # RMA Oct 21 for 30 days: the next fill is allowed from Nov 13, so the test's window (specimen + 6)
    # must reach Nov 13: collected Nov 7 or later
    base = patient().cgp_ready().rma("2026-10-21", "2026-10-26").visit("2026-11-05").attest("2026-11-05")
    s = evaluate_patient(base.build(), program, at("2026-11-05"))
    assert s.reasons[0].message == (
        "No negative monthly pregnancy test (medical setting) collected on or after Nov 7 "
        "(its 7-day window must reach Nov 13, the first day the next fill is allowed) is recorded yet."
    )
    assert s.next_steps["patient"][0].startswith("Get your monthly pregnancy test on or after Saturday, Nov 7.")
    early = base.test("monthly", "2026-11-06").build()
    s = evaluate_patient(early, program, at("2026-11-06"))
    assert s.window is None
    assert s.codes == ("PREGNANCY_TEST_REQUIRED", "PREGNANCY_TEST_REQUIRED", "REFILL_TOO_SOON")
    assert ("The monthly test collected Nov 6 is too early: its window would close Nov 12, before Nov 13, "
            "the first day the next fill is allowed.") in [r.message for r in s.reasons]
    # it was not a missed window: the cycle goes on, and a test collected Nov 7 opens Nov 7 - Nov 13
    s = evaluate_patient(early, program, at("2026-11-14"))
    assert "WINDOW_EXPIRED" not in s.codes and s.cycle_number == 2
    base = patient().cgp_ready().rma("2026-10-21", "2026-10-26").visit("2026-11-05").attest("2026-11-05")
    in_time = base.test("monthly", "2026-11-07").build()
    assert evaluate_patient(in_time, program, at("2026-11-07")).window == Window(date(2026, 11, 7), date(2026, 11, 13))
    assert decide_dispense(request(in_time), program, at("2026-11-13")).allowed


def test_R_ATT_1_attestation_required_each_cycle(program):
    p = (
        patient()
        .cgp_ready()
        .rma("2026-10-21", "2026-10-26")
        .visit("2026-11-15")
        .test("monthly", "2026-11-15")
        .build()
    )
    assert codes(p, program, "2026-11-15") == ("ATTESTATION_REQUIRED",)


def test_R_ATT_2_three_failures_need_recounseling(program):
    b = (
        patient()
        .consent()
        .visit("2026-10-01")
        .contraception("2026-09-01")
        .test("screening", "2026-10-01")
        .test("confirmation", "2026-10-20")
    )
    for _ in range(3):
        b = b.fail_attestation("2026-10-20")
    s = evaluate_patient(b.build(), program, at("2026-10-20T20:00"))
    assert s.attestation_attempts_left == 0 and s.codes == ("ATTESTATION_REQUIRED",)
    assert any("Counsel the patient again" in x for x in s.next_steps["prescriber"])
    s2 = evaluate_patient(
        b.visit("2026-10-21", recorded="2026-10-21").build(), program, at("2026-10-21T20:00")
    )
    assert s2.attestation_attempts_left == 3


def test_R_ATT_2_locked_out_patient_is_told_to_ask_the_prescriber(program):
    """After 3 failed attempts the patient's next step is the way out (the prescriber goes over the
    questions again), not "answer the questions"; once counseled again, answering is the step."""
    b = (patient().consent().visit("2026-10-01").contraception("2026-09-01").test("screening", "2026-10-01")
         .test("confirmation", "2026-10-20"))
    for _ in range(3):
        b = b.fail_attestation("2026-10-20")
    s = evaluate_patient(b.build(), program, at("2026-10-21"))
    assert s.attestation_attempts_left == 0
    assert s.next_steps["patient"] == (
        "You have used all 3 tries at this month's questions. Ask your prescriber to go over the "
        "questions with you again; then you can try again.",
    )
    assert s.next_steps["prescriber"] == (
        "Counsel the patient again: the monthly attestation attempts of this cycle are used up.",
    )
    again = evaluate_patient(b.visit("2026-10-21", recorded="2026-10-21").build(), program, at("2026-10-21T20:00"))
    assert again.next_steps["patient"] == ("Answer this cycle's questions and sign your monthly attestation.",)
    assert again.next_steps["prescriber"] == ()


def test_R_REM_1_the_test_step_names_its_first_day_and_the_reminder_day(program):
    """The page's first useful day for the monthly test (R-RMA-3 [D]: its window must reach the
    first day of the next fill) and the reminder's day (R-REM-1: previous RMA + 23 days) differ; the
    patient's step names both while the reminder is still to come (QA: "on or after Jan 13" on the
    page, "due Jan 19" in the reminder, unexplained). No reminder is promised once a test was
    recorded since the RMA (the sweep sends none then), nor from the reminder's day on."""
    reminder = " If no test is recorded before Friday, Nov 13, we will remind you that day."
    base = patient().cgp_ready().rma("2026-10-21", "2026-10-26").visit("2026-11-05").attest("2026-11-05")
    assert program.next_test_reminder_after_rma_days == 23  # Oct 21 + 23 = Nov 13

    def step(p, day):
        return evaluate_patient(p.build(), program, at(day)).next_steps["patient"][0]

    assert step(base, "2026-11-05") == "Get your monthly pregnancy test on or after Saturday, Nov 7." + reminder
    assert step(base, "2026-11-09") == "Get your monthly pregnancy test now." + reminder
    assert step(base, "2026-11-12") == "Get your monthly pregnancy test now." + reminder
    assert step(base, "2026-11-13") == "Get your monthly pregnancy test now."  # the reminder's day
    too_early = base.test("monthly", "2026-11-06")  # recorded, does not count: no reminder will come
    assert step(too_early, "2026-11-09") == "Get your monthly pregnancy test now."
    # the first cycle has no RMA before it: no such reminder (R-REM-1 counts from the previous RMA)
    first = evaluate_patient(patient().consent().contraception("2026-09-01").test("screening", "2026-10-01")
                             .build(), program, at("2026-10-02"))
    assert not any("remind" in x for x in first.next_steps["patient"])
