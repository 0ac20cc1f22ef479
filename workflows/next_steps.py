"""Plain sentences telling each party what to do next, derived from the unmet requirements."""

from __future__ import annotations

from datetime import date

from .clock import days, local_date
from .context import Context
from .messages import KIND_LABELS, long, short
from .requirements import test_earliest, test_wanted
from .results import Reason

ROLES = ("patient", "prescriber", "pharmacist")


def _when_for_patient(earliest: date, today: date) -> str:
    """When the patient can take a test, in the patient's words: "now" once its first day has
    come, the date while it is still ahead. A first day in the past ("on or after Fri, Nov 20"
    on Nov 26) reads as a deadline already missed. The prescriber keeps the date: it says which
    tests already collected count (R-CYC-1, R-CYC-2, R-END-1)."""
    return "now" if earliest <= today else f"on or after {long(earliest, today)}"


def _course_over(ctx: Context) -> dict[str, list[str]]:
    steps: dict[str, list[str]] = {role: [] for role in ROLES}
    if ctx.pregnancy_reported:  # R-PT-4
        steps["patient"].append("Stop taking isotretinoin and contact your prescriber right away.")
        steps["prescriber"].append(
            "A pregnancy was reported: follow up with the patient and the pregnancy registry."
        )
        steps["pharmacist"].append("Do not dispense: a pregnancy was reported.")
        return steps
    last = ctx.patient.last_dose_date
    until = last + days(ctx.program.post_treatment_contraception_days)
    over = until < ctx.today  # the 30 days after the last dose are over
    if ctx.is_cgp and not over:  # R-CON-3, R-END-2
        steps["patient"].append(
            f"Keep using your two forms of contraception (or abstinence) until "
            f"{long(until, ctx.today)}, {ctx.program.post_treatment_contraception_days} days after "
            f"your last dose."
        )
    if not over:
        steps["patient"].append(f"Do not donate blood until {long(until, ctx.today)}.")  # R-END-2
    due = ctx.post_treatment_test_due
    if ctx.course_status == "post_treatment":  # R-END-1
        steps["patient"].append(
            f"Take your post-treatment pregnancy test {_when_for_patient(due, ctx.today)}."
        )
        steps["prescriber"].append(
            f"Record the negative post-treatment pregnancy test collected on or after {ctx.day(due)}."
        )
    steps["pharmacist"].append(f"Do not dispense: treatment ended (last dose {short(last, ctx.today)}).")
    return steps


_BY_CODE: dict[str, tuple[str, str]] = {
    "CONSENT_MISSING": ("patient", "Sign the informed consent in your account."),
    "COUNSELING_REQUIRED": ("prescriber", "Counsel the patient and record the counseling."),
    "CONTRACEPTION_MISSING": (
        "prescriber",
        "Record the patient's two forms of contraception (or commitment to abstinence).",
    ),
    "SCREENING_TEST_MISSING": (
        "prescriber",
        "Record a negative screening pregnancy test done in a medical setting.",
    ),
    "ATTESTATION_REQUIRED": ("patient", "Answer this cycle's questions and sign your monthly attestation."),
    "VISIT_REQUIRED": ("prescriber", "Record this month's visit."),
}


def _attempts_used_up(ctx: Context) -> str:
    """R-ATT-2: the patient's way out of the lockout, in plain words (a new counseling record
    gives the tries back)."""
    return (
        f"You have used all {ctx.program.attestation_attempt_limit} tries at this month's questions. "
        "Ask your prescriber to go over the questions with you again; then you can try again."
    )


def _patient_test_step(ctx: Context) -> str:
    """When to take this cycle's test. The first day of a confirmation test depends on the screening
    test (R-PT-2) and the contraception start (R-CON-2): until both are recorded there is no date to
    give, and "now" would send the patient to a test that cannot count."""
    kind = KIND_LABELS[ctx.cycle.expected_test_kind]
    if ctx.confirmation_undated:
        p = ctx.program
        return (
            f"Your {kind} pregnancy test comes at least {p.confirmation_after_screening_days} days after "
            f"your screening test and after {p.contraception_lead_in_days} days of birth control. Your "
            "prescriber records those first; then this page tells you the date."
        )
    earliest, _ = test_earliest(ctx)
    step = f"Get your {kind} pregnancy test {_when_for_patient(earliest, ctx.today)}."
    reminder = _test_reminder_day(ctx)
    if reminder is not None:  # the page's first useful day and the reminder's day, side by side (QA)
        step += f" If no test is recorded before {long(reminder, ctx.today)}, we will remind you that day."
    return step


def _test_reminder_day(ctx: Context) -> date | None:
    """R-REM-1: the day the service reminds the patient of the monthly test (the previous RMA's day
    + N, rems.services.reminders_due.next_test_due), while that reminder is still to come. It is
    sent only when no test was recorded since that RMA: a test that did not count (too early, say)
    stops it too, so the step then promises none."""
    rma = ctx.last_rma
    if rma is None or ctx.cycle.expected_test_kind != "monthly":
        return None
    day = local_date(rma.recorded_at, ctx.program) + days(ctx.program.next_test_reminder_after_rma_days)
    tested = any(rma.recorded_at < t.recorded_at <= ctx.now for t in ctx.patient.tests)
    return day if day > ctx.today and not tested else None


def _patient_fill_step(ctx: Context) -> str:
    """R-RMA-2, R-RMA-3: the first day the pharmacy can fill again, in the patient's words. The
    checklist's rows for it only say "not yet"; without this date a patient whose own steps are
    all done was told nothing about when to go to the pharmacy (QA 2026-11-26)."""
    fill, window, today = ctx.next_fill_from(ctx.last_rma), ctx.cycle.window, ctx.today
    if window is not None and window.closes == fill:
        return f"Your pharmacy can fill your next prescription on {long(fill, today)} only."
    if window is not None and window.closes > fill:
        return (f"Your pharmacy can fill your next prescription from {long(fill, today)} "
                f"until {long(window.closes, today)}.")
    return f"Your pharmacy can fill your next prescription from {long(fill, today)} at the earliest."


def next_steps(ctx: Context, reasons: tuple[Reason, ...], eligible: bool) -> dict[str, tuple[str, ...]]:
    if ctx.pregnancy_reported or ctx.treatment_ended:
        steps = _course_over(ctx)
        return {role: tuple(s) for role, s in steps.items()}
    steps = {role: [] for role in ROLES}
    # the first PREGNANCY_TEST_REQUIRED reason names the test wanted (requirements.py); the others
    # say why a test that was entered does not count
    wanted = next((r for r in reasons if r.code == "PREGNANCY_TEST_REQUIRED"), None)
    for reason in reasons:
        if reason.code in _BY_CODE:
            role, sentence = _BY_CODE[reason.code]
            if reason.code == "ATTESTATION_REQUIRED" and ctx.attestation_attempts_left == 0:  # R-ATT-2
                # both sides are told: the patient cannot try again until the prescriber counsels
                steps["patient"].append(_attempts_used_up(ctx))
                role, sentence = (
                    "prescriber",
                    (
                        "Counsel the patient again: the monthly attestation "
                        "attempts of this cycle are used up."
                    ),
                )
            steps[role].append(sentence)
        elif reason.code == "PREGNANCY_TEST_REQUIRED":
            steps["prescriber"].append(f"Record a {test_wanted(ctx)}." if reason is wanted else reason.message)
            steps["patient"].append(_patient_test_step(ctx))
        elif reason.code in (
            "CONTRACEPTION_LEAD_IN_INCOMPLETE",
            "CONFIRMATION_TEST_TOO_EARLY",
            "HOME_TEST_NOT_ALLOWED",
            "WINDOW_EXPIRED",
        ):
            steps["prescriber"].append(reason.message)
        elif reason.code in ("ALREADY_AUTHORIZED", "REFILL_TOO_SOON"):
            steps["pharmacist"].append(reason.message)
            steps["patient"].append(_patient_fill_step(ctx))
    if eligible and ctx.cycle.window is not None:
        closes = ctx.cycle.window.closes
        steps["pharmacist"].append(f"Request an RMA and dispense by {long(closes, ctx.today)} at the latest.")
        steps["patient"].append(f"Pick up your prescription by {long(closes, ctx.today)}.")
    return {role: tuple(dict.fromkeys(s)) for role, s in steps.items()}
