"""End of treatment and pregnancy: R-PT-4, R-END-1, R-END-2, R-CON-3."""

from dataclasses import replace
from datetime import date

from tests.workflows.factories import at, patient, request
from workflows import decide_dispense, evaluate_patient


def test_R_PT_4_positive_test_reports_pregnancy_and_blocks_rma(program):
    p = (
        patient()
        .cgp_ready()
        .rma("2026-10-21", "2026-10-26")
        .test("monthly", "2026-11-15", result="positive")
        .build()
    )
    s = evaluate_patient(p, program, at("2026-11-15"))
    assert s.course_status == "pregnancy_reported" and s.codes == ("PREGNANCY_REPORTED",) and s.window is None
    d = decide_dispense(request(p), program, at("2026-11-15"))
    assert d.codes == ("PREGNANCY_REPORTED",)
    assert "positive pregnancy test collected Nov 15" in d.reasons[0].message


def test_R_PT_4_reported_pregnancy_flag(program):
    p = replace(patient().cgp_ready().build(), pregnancy_reported_at=at("2026-10-21"))
    assert evaluate_patient(p, program, at("2026-10-22")).codes == ("PREGNANCY_REPORTED",)
    assert evaluate_patient(p, program, at("2026-10-20")).eligible  # not yet reported then


def test_R_END_1_ccgp_completed_and_no_rma(program):
    p = patient().ccgp_ready().ended("2026-10-15").build()
    s = evaluate_patient(p, program, at("2026-10-16"))
    assert (
        s.course_status == "completed"
        and s.codes == ("TREATMENT_ENDED",)
        and s.post_treatment_test_due is None
    )
    assert decide_dispense(request(p), program, at("2026-10-16")).codes == ("TREATMENT_ENDED",)


def test_R_END_1_cgp_post_treatment_until_test_30_days_after_last_dose(program):
    base = patient().cgp_ready().rma("2026-10-21", "2026-10-26").ended("2026-11-10")
    s = evaluate_patient(base.build(), program, at("2026-11-11"))
    assert s.course_status == "post_treatment" and s.post_treatment_test_due == date(2026, 12, 10)
    assert s.requirements[0].met is False and "Dec 10" in s.requirements[0].detail
    too_early = (
        patient()
        .cgp_ready()
        .rma("2026-10-21", "2026-10-26")
        .ended("2026-11-10")
        .test("post_treatment", "2026-12-09")
        .build()
    )
    assert evaluate_patient(too_early, program, at("2026-12-09")).course_status == "post_treatment"
    done = base.test("post_treatment", "2026-12-10").build()
    s2 = evaluate_patient(done, program, at("2026-12-10"))
    assert s2.course_status == "completed" and s2.post_treatment_test_due is None


def test_R_END_2_R_CON_3_patient_reminded_of_contraception_and_blood_donation(program):
    s = evaluate_patient(patient().cgp_ready().ended("2026-11-10").build(), program, at("2026-11-11"))
    steps = " ".join(s.next_steps["patient"])
    assert "contraception" in steps and "Do not donate blood until Thursday, Dec 10" in steps
    assert "post-treatment pregnancy test on or after Thursday, Dec 10" in steps
    ccgp = evaluate_patient(patient().ccgp_ready().ended("2026-11-10").build(), program, at("2026-11-11"))
    assert any("blood" in x for x in ccgp.next_steps["patient"])


def test_R_END_2_R_CON_3_no_stale_reminders_once_the_30_days_are_over(program):
    """R-END-2 / R-CON-3: after last dose + 30 days the patient is no longer told about past dates."""
    ccgp = evaluate_patient(patient().ccgp_ready().ended("2026-09-01").build(), program, at("2026-11-11"))
    assert not any("blood" in x or "contraception" in x for x in ccgp.next_steps["patient"])
    cgp = evaluate_patient(patient().cgp_ready().ended("2026-09-01").build(), program, at("2026-11-11"))
    steps = " ".join(cgp.next_steps["patient"])
    assert "blood" not in steps and "post-treatment pregnancy test" in steps


def test_R_END_1_patient_is_told_now_once_the_post_treatment_test_is_due(program):
    """R-END-1: once the post-treatment test's first day has come the patient reads "now", not a
    date in the past; the prescriber keeps the date that says which tests count."""
    s = evaluate_patient(patient().cgp_ready().ended("2026-11-10").build(), program, at("2026-12-15"))
    assert s.course_status == "post_treatment"
    assert "Take your post-treatment pregnancy test now." in s.next_steps["patient"]
    assert s.next_steps["prescriber"] == (
        "Record the negative post-treatment pregnancy test collected on or after Dec 10.",
    )
    on_the_day = evaluate_patient(patient().cgp_ready().ended("2026-11-10").build(), program, at("2026-12-10"))
    assert "Take your post-treatment pregnancy test now." in on_the_day.next_steps["patient"]
