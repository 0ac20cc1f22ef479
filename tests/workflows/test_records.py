"""Does a new clinical record count (workflows.records): the row(s) each record is entered for, and
the reasons it does not count, from the patient's status before and after it."""

import pytest

from tests.workflows.factories import at, d, patient
from workflows import CCGP, Reason, entered_for, evaluate_patient, not_counted_reasons


def _judge(before_facts, after_facts, program, day, action, **payload):
    before = evaluate_patient(before_facts, program, at(day, hour=16))
    after = evaluate_patient(after_facts, program, at(day, hour=18))
    return not_counted_reasons(entered_for(action, **payload), before, after)


def _pre_confirmation(contraception_start: str, screening: str):
    return patient().consent().visit("2026-10-01").contraception(contraception_start).test("screening", screening)


def test_R_CON_2_confirmation_test_inside_the_lead_in_does_not_count(program):
    """Only the reason the record brought (the lead-in row now names the test), not the test row's
    own 'No negative confirmation test ... is recorded yet'."""
    b = _pre_confirmation("2026-10-14", "2026-10-01")
    before = b.build()
    after = b.test("confirmation", "2026-10-20").build()
    reasons = _judge(before, after, program, "2026-10-20", "record_test", kind="confirmation", result="negative")
    assert reasons == (
        Reason(
            "CONTRACEPTION_LEAD_IN_INCOMPLETE",
            "Confirmation test collected Oct 20 is too early: contraception started Oct 14, so the "
            "confirmation test must be collected on or after Nov 13.",
        ),
    )


def test_R_PT_2_confirmation_test_too_soon_after_screening_does_not_count(program):
    b = _pre_confirmation("2026-09-01", "2026-10-10")
    before = b.build()
    after = b.test("confirmation", "2026-10-20").build()
    reasons = _judge(before, after, program, "2026-10-20", "record_test", kind="confirmation", result="negative")
    assert [r.code for r in reasons] == ["CONFIRMATION_TEST_TOO_EARLY"]
    assert "on or after Oct 29" in reasons[0].message


def test_R_CYC_2_confirmation_test_that_opens_the_window_counts(program):
    b = _pre_confirmation("2026-09-01", "2026-10-01")
    before = b.build()
    after = b.test("confirmation", "2026-10-20").build()
    assert evaluate_patient(after, program, at("2026-10-20", hour=18)).window is not None
    assert _judge(before, after, program, "2026-10-20", "record_test", kind="confirmation", result="negative") == ()


def test_R_PAT_4_visit_without_counseling_does_not_count_cgp(program):
    """CGP: the visit confirmation row does not apply (R-CYC-3); counseling is what a visit fills,
    and this one does not document it: the row's own sentence."""
    before = patient().consent().build()
    after = patient().consent().visit("2026-10-02", counseled=False).build()
    reasons = _judge(before, after, program, "2026-10-02", "record_visit", counseled=False)
    assert reasons == (Reason("COUNSELING_REQUIRED", "The prescriber has not documented counseling this cycle."),)
    counseled = patient().consent().visit("2026-10-02", counseled=True).build()
    assert _judge(before, counseled, program, "2026-10-02", "record_visit", counseled=True) == ()


def test_R_PAT_4_ccgp_visit_without_counseling_after_enrollment_counts(program):
    """CCGP: counseling at enrollment only (2026); a later visit without it confirms the cycle."""
    b = patient().ccgp_ready().rma("2026-10-02", closes="2026-10-30")
    before = b.build()
    after = b.visit("2026-11-05", counseled=False).build()
    assert _judge(before, after, program, "2026-11-05", "record_visit", counseled=False) == ()


def test_R_CYC_3_late_visit_without_counseling_lists_the_late_entry_then_counseling(program):
    """A CCGP visit entered after the window it would open had closed (R-CYC-1 [D]), never counseled:
    the reason the record brought first, the undocumented counseling last."""
    before = patient(category=CCGP).consent().build()
    after = patient(category=CCGP).consent().visit("2026-10-01", counseled=False, recorded="2026-11-10").build()
    reasons = _judge(before, after, program, "2026-11-10", "record_visit", counseled=False)
    assert [r.code for r in reasons] == ["VISIT_REQUIRED", "COUNSELING_REQUIRED"]
    assert "was entered Nov 10, after the window it would have opened had closed" in reasons[0].message
    assert reasons[1].message == "The prescriber has not documented counseling at enrollment."


def test_R_CYC_1_ccgp_visit_dated_before_the_cycle_says_so(program):
    """A visit dated before the current cycle's first day (R-CYC-1) is recorded but confirms nothing:
    the answer names its date and the cycle's, never "the prescriber has not confirmed this month's
    visit" right after the prescriber confirmed one."""
    b = patient().ccgp_ready().rma("2026-10-02", closes="2026-10-30")
    before = b.build()
    after = b.visit("2026-10-01", counseled=False, recorded="2026-11-05").build()
    reasons = _judge(before, after, program, "2026-11-05", "record_visit", counseled=False,
                     visit_date=d("2026-10-01"))
    assert reasons == (
        Reason("VISIT_REQUIRED", "The visit of Oct 1 is dated before this cycle began on Oct 2: it does not "
                                 "confirm this cycle's visit; record a visit dated on or after Oct 2."),
    )
    on_time = b.visit("2026-11-05", counseled=False).build()
    assert _judge(before, on_time, program, "2026-11-05", "record_visit", counseled=False,
                  visit_date=d("2026-11-05")) == ()


def test_R_CYC_1_cgp_counseling_dated_before_the_cycle_says_so(program):
    def in_cycle_2():
        return patient().cgp_ready().rma("2026-10-21", closes="2026-10-26")

    before = in_cycle_2().build()
    after = in_cycle_2().visit("2026-10-20", recorded="2026-10-25").build()
    reasons = _judge(before, after, program, "2026-10-25", "record_visit", counseled=True,
                     visit_date=d("2026-10-20"))
    assert reasons == (
        Reason("COUNSELING_REQUIRED", "The visit of Oct 20 is dated before this cycle began on Oct 21: the "
                                      "counseling it documents does not count for this cycle; record a visit "
                                      "dated on or after Oct 21."),
    )
    # the first cycle counts every record entered since enrollment, whatever its date (R-CYC-1)
    first = patient().consent()
    assert _judge(first.build(), first.visit("2026-09-20", recorded="2026-10-02").build(), program,
                  "2026-10-02", "record_visit", counseled=True, visit_date=d("2026-09-20")) == ()


def test_R_CYC_2_monthly_test_closing_before_the_next_fill_does_not_count(program):
    """R-RMA-3 [D]: a monthly test whose window would close before the next fill is allowed."""
    def in_cycle_2():
        return patient().cgp_ready().rma("2026-10-21", closes="2026-10-26").visit("2026-10-25")

    before = in_cycle_2().build()
    early = in_cycle_2().test("monthly", "2026-10-28").build()
    reasons = _judge(before, early, program, "2026-10-28", "record_test", kind="monthly", result="negative")
    assert [r.code for r in reasons] == ["PREGNANCY_TEST_REQUIRED"] and "is too early" in reasons[0].message
    on_time = in_cycle_2().test("monthly", "2026-11-14").build()
    assert _judge(before, on_time, program, "2026-11-14", "record_test", kind="monthly", result="negative") == ()


def test_R_END_1_post_treatment_test_before_it_is_due_does_not_count(program):
    b = patient().cgp_ready().ended("2026-10-25")
    before = b.build()
    after = b.test("post_treatment", "2026-11-01").build()
    reasons = _judge(before, after, program, "2026-11-01", "record_test", kind="post_treatment", result="negative")
    assert reasons == (
        Reason("POST_TREATMENT_TEST", "A negative post-treatment pregnancy test collected on or after Nov 24 is due."),
    )


def test_R_CON_1_contraception_counts_while_the_lead_in_runs(program):
    """The lead-in (R-CON-2) is a wait no record fills: contraception started today counts."""
    b = patient().consent()
    before = b.build()
    after = b.contraception("2026-10-02", recorded="2026-10-02").build()
    status = evaluate_patient(after, program, at("2026-10-02", hour=18))
    assert "CONTRACEPTION_LEAD_IN_INCOMPLETE" in status.codes
    assert _judge(before, after, program, "2026-10-02", "record_contraception") == ()


def test_R_PT_4_a_positive_test_is_entered_for_no_row():
    """A positive result always takes effect (treatment stops), so it always counts."""
    assert entered_for("record_test", kind="monthly", result="positive").rows == ()
    assert entered_for("record_test", kind="screening", result="negative").rows == ("SCREENING_TEST_MISSING",)
    assert entered_for("record_visit", counseled=True).not_documented == ()
    with pytest.raises(ValueError):
        entered_for("change_category")
