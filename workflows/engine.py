"""The two questions the service asks: where does this patient stand, and may this RMA be issued?"""

from __future__ import annotations

from datetime import datetime

from .clock import local_date
from .context import Context
from .facts import DispenseRequest, PatientFacts, PharmacyFacts, PrescriberFacts
from .messages import short
from .next_steps import next_steps
from .program import Program
from .requirements import evaluate_rows
from .results import Decision, PatientStatus, Reason, Requirement


def _course_reasons(ctx: Context) -> tuple[Reason, ...]:
    """R-PT-4 and R-END-1: a course that is over admits no authorization, whatever else holds."""
    reasons = []
    if ctx.pregnancy_reported:  # R-PT-4
        test = ctx.course.positive_test
        when = (
            f"a positive pregnancy test collected {ctx.day(test.specimen_date)}"
            if test
            else f"a pregnancy reported {ctx.day(local_date(ctx.patient.pregnancy_reported_at, ctx.program))}"
        )
        reasons.append(
            Reason("PREGNANCY_REPORTED", f"Treatment stopped after {when}: no authorization can be issued.")
        )
    if ctx.treatment_ended:  # R-END-1
        reasons.append(
            Reason(
                "TREATMENT_ENDED",
                f"Treatment ended with the last dose on "
                f"{short(ctx.patient.last_dose_date, ctx.today)}: no authorization "
                f"can be issued.",
            )
        )
    return tuple(reasons)


def _post_treatment_requirements(ctx: Context) -> tuple[Requirement, ...]:
    """R-END-1: after the last dose a CGP course waits for its post-treatment test."""
    if ctx.pregnancy_reported or not ctx.is_cgp or ctx.post_treatment_test_due is None:
        return ()
    test = ctx.post_treatment_test
    if test is not None:
        return (
            Requirement(
                "POST_TREATMENT_TEST",
                True,
                f"Negative post-treatment test collected {ctx.day(test.specimen_date)}.",
            ),
        )
    return (
        Requirement(
            "POST_TREATMENT_TEST",
            False,
            f"A negative post-treatment pregnancy test collected on or after "
            f"{ctx.day(ctx.post_treatment_test_due)} is due.",
        ),
    )


def evaluate_patient(patient: PatientFacts, program: Program, now: datetime) -> PatientStatus:
    """Where the patient stands today: every requirement of the current cycle, met or not (R-LOOP-1)."""
    ctx = Context.build(patient, program, now)
    reasons = _course_reasons(ctx)
    if reasons:
        requirements, window = _post_treatment_requirements(ctx), None
    else:
        requirements, reasons = evaluate_rows(ctx)
        window = ctx.cycle.window
    eligible = not reasons
    return PatientStatus(
        course_status=ctx.course_status,
        cycle_number=ctx.cycle.number,
        cycle_started_at=ctx.cycle.started_at,
        first_authorization_pending=not ctx.has_rma,
        window=window,
        requirements=requirements,
        eligible=eligible,
        reasons=reasons,
        next_steps=next_steps(ctx, reasons, eligible),
        attestation_attempts_left=ctx.attestation_attempts_left,
        comprehension_cycle_key=f"{patient.id}:{ctx.cycle.number}",
        post_treatment_test_due=(
            ctx.post_treatment_test_due if ctx.course_status == "post_treatment" else None
        ),
        category=patient.category,
        today=ctx.today,
        cycle_start_date=ctx.cycle.start_date if ctx.cycle.number > 1 else None,
    )


def _certified(actor: PrescriberFacts | PharmacyFacts, today) -> bool:
    """R-PRES-1, R-PHAR-1: certified, not suspended/revoked, and not past its certification end."""
    return actor.status == "certified" and (actor.certified_until is None or actor.certified_until >= today)


def _actor_reasons(request: DispenseRequest, today) -> list[Reason]:
    """R-LOOP-1: the closed loop of certified prescriber, certified pharmacy, member pharmacist."""
    reasons: list[Reason] = []
    patient, prescriber = request.patient, request.prescriber
    if prescriber is None or not _certified(prescriber, today):  # R-PRES-1
        reasons.append(
            Reason(
                "PRESCRIBER_NOT_CERTIFIED",
                "The prescriber on the prescription is not a certified prescriber today.",
            )
        )
    if patient is not None:  # R-RMA-6: nothing that depends on the patient when it is unknown
        if prescriber is None or prescriber.id != patient.prescriber_id:  # R-LOOP-1
            reasons.append(
                Reason(
                    "PRESCRIBER_MISMATCH",
                    "The prescriber on the prescription is not the patient's prescriber.",
                )
            )
        own = request.patient_prescriber
        # R-PRES-1: a suspension blocks all the prescriber's patients (said once when it is the same prescriber)
        if own is not None and own != prescriber and not _certified(own, today):
            reasons.append(
                Reason("PRESCRIBER_NOT_CERTIFIED", "The patient's prescriber is not certified today.")
            )
    if request.pharmacy is None or not _certified(request.pharmacy, today):  # R-PHAR-1
        reasons.append(Reason("PHARMACY_NOT_CERTIFIED", "The pharmacy is not certified today."))
    if not request.pharmacist_is_member:  # R-PHAR-1
        reasons.append(
            Reason(
                "PHARMACIST_NOT_MEMBER", "The requesting pharmacist is not an active member of this pharmacy."
            )
        )
    return reasons


def decide_dispense(request: DispenseRequest, program: Program, now: datetime) -> Decision:
    """R-LOOP-1, R-RMA-5: may an RMA be issued now? A refusal lists every code that applies."""
    today = local_date(now, program)
    reasons = _actor_reasons(request, today)
    window = cycle_number = None
    if request.patient is None:  # R-RMA-6: unknown ID and wrong birth date look the same
        reasons.append(Reason("PATIENT_NOT_FOUND", "No patient matches this REMS ID and date of birth."))
    else:
        status = evaluate_patient(request.patient, program, now)
        reasons.extend(status.reasons)
        window, cycle_number = status.window, status.cycle_number
    if request.days_supply is not None and request.days_supply > program.max_days_supply:  # R-RMA-2
        reasons.append(
            Reason(
                "DAYS_SUPPLY_EXCEEDS_LIMIT",
                f"{request.days_supply} days' supply requested: at most "
                f"{program.max_days_supply} days can be dispensed.",
            )
        )
    # R-RMA-5: every unmet requirement, even two under one code (the prescriber on the prescription
    # and the patient's own prescriber); only a reason repeated word for word is listed once
    unique = tuple(dict.fromkeys(reasons))
    allowed = not unique
    return Decision(
        allowed=allowed,
        reasons=unique,
        window=window,
        do_not_dispense_after=window.closes if allowed and window else None,
        cycle_number=cycle_number,
    )
