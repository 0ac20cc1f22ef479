"""Cycles and windows: R-CYC-1, R-CYC-3, R-CYC-4, R-PAT-2 (category changes)."""

from datetime import date

from tests.workflows.factories import at, patient, request
from workflows import CCGP, CGP, check_transition, decide_dispense, evaluate_patient
from workflows.results import Window


def test_R_CYC_1_first_cycle_counts_records_with_earlier_clinical_dates(program):
    # screening collected and contraception started before enrollment (entered after it)
    p = (
        patient(enrolled="2026-10-10")
        .consent("2026-10-10")
        .visit("2026-10-10")
        .contraception("2026-09-01", recorded="2026-10-10")
        .test("screening", "2026-10-01", recorded="2026-10-10")
        .test("confirmation", "2026-10-20")
        .attest("2026-10-20")
        .build()
    )
    s = evaluate_patient(p, program, at("2026-10-20"))
    assert s.eligible and s.cycle_number == 1 and s.cycle_started_at == at("2026-10-10", hour=15)


def test_R_CYC_1_a_test_entered_after_its_window_closed_opens_none_and_voids_nothing(program):
    # confirmation collected Oct 1 but entered Oct 16: its window (Oct 1-7) had closed when it was entered
    base = (
        patient(enrolled="2026-10-01")
        .consent("2026-10-01")
        .contraception("2026-08-01", recorded="2026-10-01")
        .test("screening", "2026-09-10", recorded="2026-10-01")
        .visit("2026-10-15")
        .attest("2026-10-15")
        .test("confirmation", "2026-10-01", recorded="2026-10-16")
    )
    s = evaluate_patient(base.build(), program, at("2026-10-16T20:00"))
    assert s.cycle_number == 1 and s.window is None
    assert s.codes == ("PREGNANCY_TEST_REQUIRED", "PREGNANCY_TEST_REQUIRED")  # R-RMA-5: two reasons, one code
    assert [r.message for r in s.reasons] == [
        "No negative confirmation pregnancy test (medical setting) collected on or after Oct 10 is recorded yet.",
        "The confirmation test collected Oct 1 was entered Oct 16, after the window it would have opened "
        "had closed (Oct 7): it cannot open a window.",
    ]
    # the counseling and attestation of Oct 15 still count: a new confirmation test is all that is left
    p = base.test("confirmation", "2026-10-16", recorded="2026-10-16T20:00").build()
    assert decide_dispense(request(p), program, at("2026-10-16T21:00")).allowed
    # entered on the window's last day it still opens it (Oct 7 is day 7)
    on_time = patient(enrolled="2026-10-01").consent("2026-10-01").contraception(
        "2026-08-01", recorded="2026-10-01").test("screening", "2026-09-10", recorded="2026-10-01").visit(
        "2026-10-01").attest("2026-10-07").test("confirmation", "2026-10-01", recorded="2026-10-07T23:00").build()
    assert decide_dispense(request(on_time), program, at("2026-10-07T23:30")).allowed


def test_R_CYC_1_a_ccgp_visit_entered_after_its_window_closed_opens_none(program):
    p = patient().ccgp_ready().build()  # enrollment visit Oct 1, window Oct 1-30
    late = patient(enrolled="2026-10-01").consent("2026-10-01").visit("2026-10-01", recorded="2026-10-31").build()
    from dataclasses import replace

    late = replace(late, category=p.category)
    s = evaluate_patient(late, program, at("2026-10-31T20:00"))
    assert s.window is None and s.cycle_number == 1 and "WINDOW_EXPIRED" not in s.codes
    assert ("The visit of Oct 1 was entered Oct 31, after the window it would have opened had closed (Oct 30): "
            "it cannot open a window.") in [r.message for r in s.reasons]


def test_R_CYC_1_later_cycles_ignore_records_dated_before_the_cycle(program):
    # RMA Oct 21 ends cycle 1; a visit entered Nov 15 but dated Oct 20 does not count for cycle 2
    p = (
        patient()
        .cgp_ready()
        .rma("2026-10-21", "2026-10-26")
        .visit("2026-10-20", recorded="2026-11-15")
        .test("monthly", "2026-11-15")
        .attest("2026-11-15")
        .build()
    )
    s = evaluate_patient(p, program, at("2026-11-15"))
    assert s.codes == ("COUNSELING_REQUIRED",) and s.cycle_number == 2
    assert s.cycle_started_at == at("2026-10-21")


def test_R_CYC_1_records_before_the_rma_belong_to_the_previous_cycle(program):
    p = patient().cgp_ready().rma("2026-10-21", "2026-10-26").build()
    s = evaluate_patient(p, program, at("2026-11-15"))
    assert set(s.codes) == {"COUNSELING_REQUIRED", "PREGNANCY_TEST_REQUIRED", "ATTESTATION_REQUIRED"}


def test_R_CYC_3_ccgp_window_30_days_day_30_open_day_31_closed(program):
    p = patient().ccgp_ready().build()
    s = evaluate_patient(p, program, at("2026-10-30"))
    assert s.eligible and s.window.closes == date(2026, 10, 30)
    assert [r.code for r in s.requirements] == ["CONSENT_MISSING", "COUNSELING_REQUIRED", "VISIT_REQUIRED"]
    d31 = decide_dispense(request(p), program, at("2026-10-31"))
    assert set(d31.codes) == {"VISIT_REQUIRED", "WINDOW_EXPIRED"}
    assert "Visit of Oct 1: the window closed Oct 30." in [r.message for r in d31.reasons]


def test_R_CYC_3_R_PAT_4_ccgp_counseling_only_at_enrollment_in_2026(program, program_2021):
    p = patient().ccgp_ready().rma("2026-10-20", "2026-10-30").visit("2026-11-01", counseled=False).build()
    assert evaluate_patient(p, program, at("2026-11-01")).codes == ("REFILL_TOO_SOON",)
    assert evaluate_patient(p, program, at("2026-11-01T20:00")).cycle_number == 2
    s21 = evaluate_patient(p, program_2021, at("2026-11-01"))
    assert set(s21.codes) == {"COUNSELING_REQUIRED", "REFILL_TOO_SOON"}


def test_R_CYC_4_missed_first_window_needs_new_medical_confirmation(program):
    p = patient().cgp_ready().visit("2026-10-28").attest("2026-10-28").test("monthly", "2026-10-28").build()
    s = evaluate_patient(p, program, at("2026-10-28T20:00"))
    assert s.cycle_number == 2 and "PREGNANCY_TEST_REQUIRED" in s.codes
    assert "confirmation" in dict((r.code, r.message) for r in s.reasons)["PREGNANCY_TEST_REQUIRED"]
    v = check_transition(
        "record_test",
        p,
        program,
        at("2026-10-28T20:00"),
        kind="confirmation",
        specimen_date=date(2026, 10, 28),
        result="negative",
        setting="home",
    )
    assert v.code == "HOME_TEST_NOT_ALLOWED"
    ok = (
        patient()
        .cgp_ready()
        .visit("2026-10-28")
        .attest("2026-10-28")
        .test("confirmation", "2026-10-28")
        .build()
    )
    s2 = evaluate_patient(ok, program, at("2026-10-28T20:00"))
    assert s2.eligible and s2.cycle_number == 2 and s2.window.opens == date(2026, 10, 28)


def test_R_CYC_4_no_lockout_in_2026(program):
    p = (
        patient()
        .cgp_ready()
        .visit("2026-10-27")
        .attest("2026-10-27")
        .test("confirmation", "2026-10-27")
        .build()
    )
    assert evaluate_patient(p, program, at("2026-10-27")).eligible


def test_R_CYC_4_19_day_lockout_in_2021_boundary(program_2021):
    # window Oct 20-26 missed; lockout: new test on or after Oct 26 + 1 + 19 = Nov 15
    too_soon = (
        patient().cgp_ready().visit("2026-11-14").attest("2026-11-14").test("confirmation", "2026-11-14")
    )
    s = evaluate_patient(too_soon.build(), program_2021, at("2026-11-14"))
    assert "PREGNANCY_TEST_REQUIRED" in s.codes and s.window is None
    msg = dict((r.code, r.message) for r in s.reasons)["PREGNANCY_TEST_REQUIRED"]
    assert "on or after Nov 15" in msg and "19-day waiting period" in msg
    v = check_transition(
        "record_test",
        patient().cgp_ready().build(),
        program_2021,
        at("2026-11-14"),
        kind="confirmation",
        specimen_date=date(2026, 11, 14),
        result="negative",
        setting="medical",
    )
    assert not v.ok and v.field == "specimen_date" and "Nov 15" in v.message
    ok = (
        patient()
        .cgp_ready()
        .visit("2026-11-15")
        .attest("2026-11-15")
        .test("confirmation", "2026-11-15")
        .build()
    )
    assert evaluate_patient(ok, program_2021, at("2026-11-15")).eligible


def test_R_CYC_4_counseling_and_attestation_must_be_redone(program):
    p = patient().cgp_ready().test("confirmation", "2026-10-28").build()
    s = evaluate_patient(p, program, at("2026-10-28"))
    assert set(s.codes) == {"COUNSELING_REQUIRED", "ATTESTATION_REQUIRED"}
    assert s.comprehension_cycle_key == "1:2"


def test_R_PAT_2_a_change_does_not_rewrite_the_cycles_before_it(program):
    # CGP: RMA Oct 21, counseling visit Oct 22 (cycle 2); changed to CCGP on Nov 25
    base = patient().cgp_ready().rma("2026-10-21", "2026-10-26").visit("2026-10-22")
    s = evaluate_patient(base.change_category(CCGP, "2026-11-25").build(), program, at("2026-11-25T20:00"))
    # the visit of Oct 22 was a CGP counseling visit: its 30-day window would have closed Nov 20,
    # before the change, so it opens none and nothing was "missed"
    assert s.cycle_number == 2 and s.window is None and s.category == CCGP
    assert s.codes == ("VISIT_REQUIRED",)
    assert not any("Nov 20" in r.message for r in s.reasons)
    # a visit recorded after the change opens the CCGP window of this cycle
    p = (patient().cgp_ready().rma("2026-10-21", "2026-10-26").visit("2026-10-22")
         .change_category(CCGP, "2026-11-25").visit("2026-11-26", counseled=False).build())
    s = evaluate_patient(p, program, at("2026-11-26T20:00"))
    assert s.eligible and s.window == Window(date(2026, 11, 26), date(2026, 12, 25))


def test_R_PAT_2_a_missed_ccgp_window_stays_missed_after_a_change_to_cgp(program):
    # CCGP: visit Oct 1, window Oct 1-30 missed; changed to CGP on Nov 2
    p = (patient().ccgp_ready().change_category(CGP, "2026-11-02")
         .contraception("2026-09-01", recorded="2026-11-02").test("screening", "2026-10-01", recorded="2026-11-02")
         .build())
    s = evaluate_patient(p, program, at("2026-11-02T20:00"))
    assert s.cycle_number == 2 and s.category == CGP
    # the voided cycle's counseling does not count again (R-CYC-4), and the missed window is named
    assert "COUNSELING_REQUIRED" in s.codes and "WINDOW_EXPIRED" in s.codes
    assert "Visit of Oct 1: the window closed Oct 30." in [r.message for r in s.reasons]


def test_R_PAT_2_change_inside_an_open_window_reopens_it_the_new_way(program):
    # CCGP window opened by the Oct 1 visit; changed to CGP on Oct 5: the next RMA needs the CGP
    # requirements, and a visit cannot open a CGP window
    p = patient().ccgp_ready().change_category(CGP, "2026-10-05").build()
    s = evaluate_patient(p, program, at("2026-10-05T20:00"))
    assert s.window is None and "PREGNANCY_TEST_REQUIRED" in s.codes
    # CGP -> CCGP with the window open: the cycle's counseling visit opens the CCGP window
    p = patient().cgp_ready().change_category(CCGP, "2026-10-22").build()
    s = evaluate_patient(p, program, at("2026-10-22T20:00"))
    assert s.eligible and s.window == Window(date(2026, 10, 1), date(2026, 10, 30))


def test_R_PAT_2_change_to_cgp_mid_course_brings_cgp_requirements_but_no_lead_in(program):
    p = (
        patient()
        .ccgp_ready()
        .rma("2026-10-20", "2026-10-30")
        .category(CGP)
        .visit("2026-11-01")
        .contraception("2026-10-30", recorded="2026-11-01")
        .test("monthly", "2026-11-01")
        .attest("2026-11-01")
        .build()
    )
    s = evaluate_patient(p, program, at("2026-11-01"))
    # the Nov 1 monthly test's window (Nov 1-7) would close before the next fill (Nov 12, R-RMA-3)
    assert set(s.codes) == {"SCREENING_TEST_MISSING", "REFILL_TOO_SOON", "PREGNANCY_TEST_REQUIRED"}
    assert "CONTRACEPTION_LEAD_IN_INCOMPLETE" not in [r.code for r in s.requirements]
    assert check_transition(
        "record_test",
        p,
        program,
        at("2026-11-01"),
        kind="screening",
        specimen_date=date(2026, 11, 1),
        result="negative",
        setting="medical",
    ).ok


def test_R_PAT_2_change_to_cgp_without_contraception(program):
    p = patient().ccgp_ready().rma("2026-10-20", "2026-10-30").category(CGP).build()
    assert "CONTRACEPTION_MISSING" in evaluate_patient(p, program, at("2026-11-01")).codes


def test_R_CYC_3_R_RMA_3_a_ccgp_visit_whose_window_closes_before_the_next_fill_opens_none(program):
    """R-CYC-3 with R-RMA-2/3 [D], like a monthly test (CLOSES_BEFORE_REFILL): after an RMA on the day
    of the enrollment visit (window Oct 1 - Oct 30, next fill from Oct 31), a visit dated that day
    again would open a window closing Oct 30, which could only be missed and void the cycle (QA
    2026-11-26: it counted, and the reminders then said "can fill until Oct 30" and asked the
    prescriber for requirements nobody could meet)."""
    def cycle_2():
        return patient().ccgp_ready().rma("2026-10-01", "2026-10-30")

    early = cycle_2().visit("2026-10-01", counseled=False, recorded="2026-10-01T20:00").build()
    s = evaluate_patient(early, program, at("2026-10-02"))
    assert s.cycle_number == 2 and s.window is None
    assert ("The visit of Oct 1 is too early: its window would close Oct 30, before Oct 31, the first day "
            "the next fill is allowed.") in [r.message for r in s.reasons]
    assert "WINDOW_EXPIRED" not in evaluate_patient(early, program, at("2026-10-31")).codes  # nothing missed
    ok = cycle_2().visit("2026-10-01", counseled=False, recorded="2026-10-01T20:00").visit(
        "2026-10-02", counseled=False).build()
    s = evaluate_patient(ok, program, at("2026-10-02"))
    assert s.window is not None and (s.window.opens, s.window.closes) == (date(2026, 10, 2), date(2026, 10, 31))
    assert decide_dispense(request(ok), program, at("2026-10-31")).allowed
