"""The patient-side requirements of the current cycle, as a table auditors can diff.

Each row: the rule it enforces, the requirement code (the refusal code when unmet), which
patients it applies to, and a check returning whether it is met, a sentence with dates, and the
refusal reasons when it is not (R-RMA-5: every unmet requirement is listed, with dates).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from .clock import days, local_date, window_from
from .context import Context
from .cycles import (
    candidate_tests,
    closed_when_entered,
    confirmation_earliest,
    home_test_allowed,
    lead_in_end,
    test_problems,
    visit_closes_before_refill,
)
from .facts import Visit
from .messages import KIND_LABELS, settings_phrase
from .results import Reason, Requirement


@dataclass(frozen=True)
class Check:
    met: bool
    detail: str
    reasons: tuple[Reason, ...] = ()  # unmet and empty: one reason (row code, detail)


@dataclass(frozen=True)
class Row:
    rule: str
    code: str
    applies: Callable[[Context], bool]
    check: Callable[[Context], Check]


def _consent(ctx: Context) -> Check:  # R-PAT-3
    signed = ctx.patient.consent_signed_at
    if signed is not None and signed <= ctx.now:
        return Check(True, f"Informed consent signed {ctx.day(local_date(signed, ctx.program))}.")
    return Check(False, "The informed consent is not signed yet.")


def _contraception(ctx: Context) -> Check:  # R-CON-1
    if ctx.course.has_contraception:
        return Check(True, f"Contraception documented (started {ctx.day(ctx.course.contraception_start)}).")
    return Check(False, "No contraception (two forms, or a commitment to abstinence) is documented.")


def _screening(ctx: Context) -> Check:  # R-PT-2
    test = ctx.course.screening
    if test is not None:
        return Check(
            True, f"Negative screening test collected {ctx.day(test.specimen_date)} (medical setting)."
        )
    return Check(False, "No negative screening pregnancy test from a medical setting is recorded.")


def _lead_in(ctx: Context) -> Check:  # R-CON-2
    start = ctx.course.contraception_start
    earliest = lead_in_end(start, ctx.program)
    n = ctx.program.contraception_lead_in_days
    opened = ctx.cycle.opened_by
    if opened is not None:
        return Check(
            True,
            f"Confirmation test collected {ctx.day(opened.specimen_date)}, "
            f"at least {n} days after contraception started {ctx.day(start)}.",
        )
    rejected = [
        t
        for t in candidate_tests(ctx.cycle)
        if "CONTRACEPTION_LEAD_IN_INCOMPLETE"
        in test_problems(t, ctx.cycle, ctx.patient, ctx.program, ctx.course)
    ]
    if rejected:
        return Check(
            False,
            f"Confirmation test collected {ctx.day(rejected[-1].specimen_date)} is too early: "
            f"contraception started {ctx.day(start)}, so the confirmation test must be "
            f"collected on or after {ctx.day(earliest)}.",
        )
    if ctx.today < earliest:
        return Check(
            False,
            f"Contraception started {ctx.day(start)}: the {n}-day lead-in is not complete; "
            f"the confirmation test can be collected on or after {ctx.day(earliest)}.",
        )
    return Check(
        True,
        f"{n}-day contraception lead-in complete; confirmation test can be collected from {ctx.day(earliest)}.",
    )


def _counseling(ctx: Context) -> Check:  # R-PAT-4
    per_cycle = ctx.is_cgp or ctx.program.ccgp_counseling_every_cycle
    visits = ctx.cycle.visits if per_cycle else [v for v in ctx.patient.visits if v.recorded_at <= ctx.now]
    counseled = [v for v in visits if v.counseled]
    if counseled:
        return Check(True, f"Counseling documented {ctx.day(counseled[-1].visit_date)}.")
    scope = "this cycle" if per_cycle else "at enrollment"
    return Check(False, f"The prescriber has not documented counseling {scope}.")


def _attestation(ctx: Context) -> Check:  # R-ATT-1, R-ATT-2
    done = ctx.cycle.attestations
    if done:
        signed = local_date(done[-1].recorded_at, ctx.program)
        return Check(True, f"Monthly attestation signed {ctx.day(signed)}.")
    left = ctx.attestation_attempts_left
    if left == 0:
        return Check(
            False,
            f"This cycle's monthly attestation is not signed yet and all "
            f"{ctx.program.attestation_attempt_limit} attempts are used: the prescriber must counsel "
            f"again before a new attempt.",
        )
    return Check(
        False, f"This cycle's monthly attestation is not signed yet ({left} attempts left)."
    )


def test_earliest(ctx: Context) -> tuple[date, str]:
    """The first specimen date that can count for this cycle's test, and why (R-CYC-4, R-PT-2, R-CON-2)."""
    cyc, program, why = ctx.cycle, ctx.program, ""
    # R-CYC-1: in the first cycle a test collected before enrollment counts too; [D] a test older than a
    # window's length would be entered after its window closed
    start = cyc.start_date if cyc.number > 1 else date.min
    earliest = max(start, cyc.earliest_test_date, ctx.today - days(program.cgp_window_days - 1))
    if cyc.follows_missed is not None and program.missed_window_lockout_days:
        why = (
            f" (after the window missed on {ctx.day(cyc.follows_missed.closes)} there is a "
            f"{program.missed_window_lockout_days}-day waiting period)"
        )
    if cyc.refill_from is not None:  # R-RMA-2/3 [D]: the window must reach the first day of the next fill
        fill = cyc.refill_from
        limit = fill - days(program.cgp_window_days - 1)
        if limit > earliest:
            earliest, why = limit, (f" (its {program.cgp_window_days}-day window must reach {ctx.day(fill)}, "
                                    f"the first day the next fill is allowed)")
    if cyc.expected_test_kind == "confirmation":
        screening, start = ctx.course.screening, ctx.course.contraception_start
        limits = [
            confirmation_earliest(screening, program) if screening else None,
            lead_in_end(start, program) if start else None,
        ]
        for limit in limits:
            if limit is not None and limit > earliest:
                earliest, why = limit, ""
    return earliest, why


def _missed(ctx: Context) -> Reason:
    """R-CYC-4: the previous cycle's missed window, named by what opened it (a test or, for CCGP, a
    visit; the category may have changed since, R-PAT-2)."""
    w = ctx.cycle.follows_missed
    opened_by = ctx.cycles[-2].opened_by
    what = "Visit of" if isinstance(opened_by, Visit) else "Pregnancy test collected"
    return Reason("WINDOW_EXPIRED", f"{what} {ctx.day(w.opens)}: the window closed {ctx.day(w.closes)}.")


def _home_test_refusal(ctx: Context, kind: str, specimen_date: date, since: date | None) -> str:
    """Why a home test does not count (R-PT-2, R-PT-3), the end of a sentence."""
    if kind in ctx.program.home_test_kinds and since is not None and specimen_date < since:
        return f"home testing was enabled for this patient only on {ctx.day(since)}."
    return "it must be done in a medical setting."


def test_wanted(ctx: Context) -> str:
    """The test that would open this cycle's window, where and from when (R-CYC-4, R-PT-2,
    R-PT-3, R-CON-2): "negative monthly pregnancy test (medical setting) collected on or after
    Nov 9". The refusal says it is missing (R-RMA-5, read to the patient); the prescriber's next
    step says to record it."""
    kind, program = ctx.cycle.expected_test_kind, ctx.program
    if ctx.confirmation_undated:  # R-PT-2, R-CON-2: the rule, not a date that means nothing
        return (f"negative confirmation pregnancy test (medical setting) collected at least "
                f"{program.confirmation_after_screening_days} days after the screening test and "
                f"{program.contraception_lead_in_days} days after contraception started")
    earliest, why = test_earliest(ctx)
    since = ctx.patient.home_testing_since
    settings = ("medical", "home") if home_test_allowed(ctx.patient, program, kind, earliest) else ("medical",)
    where = settings_phrase(settings)
    if "home" not in settings and home_test_allowed(ctx.patient, program, kind, since or earliest):
        where += f"; at home from {ctx.day(since)}"
    return f"negative {KIND_LABELS[kind]} pregnancy test ({where}) collected on or after {ctx.day(earliest)}{why}"


def _pregnancy_test(ctx: Context) -> Check:  # R-CYC-2, R-CYC-4, R-PT-2, R-PT-3
    cyc, program = ctx.cycle, ctx.program
    kind = cyc.expected_test_kind
    if cyc.opened_by is not None:
        w = cyc.window
        return Check(
            True,
            f"Negative {KIND_LABELS[kind]} pregnancy test collected {ctx.day(w.opens)}; "
            f"pharmacy can fill until {ctx.day(w.closes)}.",
        )
    since = ctx.patient.home_testing_since  # R-PT-3
    detail = f"No {test_wanted(ctx)} is recorded yet."
    reasons = [Reason("PREGNANCY_TEST_REQUIRED", detail)]
    if cyc.follows_missed is not None:  # R-CYC-4
        reasons.append(_missed(ctx))
    for test in candidate_tests(cyc):
        for code in test_problems(test, cyc, ctx.patient, program, ctx.course):
            if code == "HOME_TEST_NOT_ALLOWED":  # R-PT-2, R-PT-3
                reasons.append(
                    Reason(
                        code,
                        f"The {test.setting} {KIND_LABELS[kind]} test collected "
                        f"{ctx.day(test.specimen_date)} does not count: "
                        + _home_test_refusal(ctx, kind, test.specimen_date, since),
                    )
                )
            elif code == "ENTERED_AFTER_WINDOW":  # R-CYC-1 [D]
                late = closed_when_entered(test, program)
                reasons.append(
                    Reason(
                        "PREGNANCY_TEST_REQUIRED",
                        f"The {KIND_LABELS[kind]} test collected {ctx.day(test.specimen_date)} was entered "
                        f"{ctx.day(local_date(test.recorded_at, program))}, after the window it would "
                        f"have opened had closed ({ctx.day(late.closes)}): it cannot open a window.",
                    )
                )
            elif code == "CLOSES_BEFORE_REFILL":  # R-RMA-3 [D]
                fill = cyc.refill_from
                closes = window_from(test.specimen_date, program.cgp_window_days).closes
                reasons.append(
                    Reason(
                        "PREGNANCY_TEST_REQUIRED",
                        f"The {KIND_LABELS[kind]} test collected {ctx.day(test.specimen_date)} is too early: "
                        f"its window would close {ctx.day(closes)}, before {ctx.day(fill)}, the first day "
                        f"the next fill is allowed.",
                    )
                )
            elif code == "CONFIRMATION_TEST_TOO_EARLY":  # R-PT-2
                screening = ctx.course.screening
                reasons.append(
                    Reason(
                        code,
                        f"Confirmation test collected {ctx.day(test.specimen_date)} is too "
                        f"early: it must be collected on or after "
                        f"{ctx.day(confirmation_earliest(screening, program))}, "
                        f"{program.confirmation_after_screening_days} days after the "
                        f"screening test of {ctx.day(screening.specimen_date)}.",
                    )
                )
    return Check(False, detail, tuple(reasons))


def _visit(ctx: Context) -> Check:  # R-CYC-3, R-CYC-4
    cyc = ctx.cycle
    if cyc.window is not None:
        return Check(
            True,
            f"Visit confirmed {ctx.day(cyc.window.opens)}; pharmacy can fill until {ctx.day(cyc.window.closes)}.",
        )
    detail = "The prescriber has not confirmed this month's visit."
    reasons = [Reason("VISIT_REQUIRED", detail)]
    for visit in cyc.visits:  # R-CYC-1 [D]
        late = closed_when_entered(visit, ctx.program)
        if late:
            reasons.append(
                Reason(
                    "VISIT_REQUIRED",
                    f"The visit of {ctx.day(visit.visit_date)} was entered "
                    f"{ctx.day(local_date(visit.recorded_at, ctx.program))}, after the window it would "
                    f"have opened had closed ({ctx.day(late.closes)}): it cannot open a window.",
                )
            )
        elif early := visit_closes_before_refill(visit, cyc, ctx.program):  # R-RMA-2/3 [D]
            reasons.append(
                Reason(
                    "VISIT_REQUIRED",
                    f"The visit of {ctx.day(visit.visit_date)} is too early: its window would close "
                    f"{ctx.day(early.closes)}, before {ctx.day(cyc.refill_from)}, the first day the next "
                    f"fill is allowed.",
                )
            )
    if cyc.follows_missed is not None:
        reasons.append(_missed(ctx))
    return Check(False, detail, tuple(reasons))


def _no_open_rma(ctx: Context) -> Check:  # R-RMA-2
    rma = ctx.last_rma
    if rma.do_not_dispense_after >= ctx.today:
        issued = ctx.day(local_date(rma.recorded_at, ctx.program))
        return Check(
            False,
            # no RMA number: any certified pharmacy can ask, and the number is the issuing pharmacy's
            f"An RMA issued {issued} is valid until {ctx.day(rma.do_not_dispense_after)}; only one "
            f"authorization per cycle.",
        )
    return Check(True, f"The previous RMA ({rma.rma}) expired {ctx.day(rma.do_not_dispense_after)}.")


def _refill_timing(ctx: Context) -> Check:  # R-RMA-3
    rma = ctx.last_rma
    earliest = ctx.refill_earliest(rma)
    issued = ctx.day(local_date(rma.recorded_at, ctx.program))
    if ctx.today < earliest:
        return Check(
            False,
            f"Too soon after the {rma.days_supply}-day supply authorized {issued}: "
            f"the next authorization is possible from {ctx.day(ctx.next_fill_from(rma))}.",
        )
    # what this row checks, not when the next RMA is possible: R-RMA-2 may still hold it back
    return Check(
        True,
        f"{int(ctx.program.refill_too_soon_fraction * 100)}% of the {rma.days_supply}-day supply "
        f"authorized {issued} has elapsed (since {ctx.day(earliest)}).",
    )


def _cgp(ctx: Context) -> bool:
    return ctx.is_cgp


def _ccgp(ctx: Context) -> bool:
    return not ctx.is_cgp


def _lead_in_applies(ctx: Context) -> bool:
    # R-CON-2, R-PAT-2: before the first authorization only (excepted once treatment has started)
    return ctx.is_cgp and not ctx.has_rma and ctx.course.contraception_start is not None


ROWS: tuple[Row, ...] = (
    Row("R-PAT-3", "CONSENT_MISSING", lambda ctx: True, _consent),
    Row("R-PAT-4", "COUNSELING_REQUIRED", lambda ctx: True, _counseling),
    Row("R-CON-1", "CONTRACEPTION_MISSING", _cgp, _contraception),
    Row("R-CON-2", "CONTRACEPTION_LEAD_IN_INCOMPLETE", _lead_in_applies, _lead_in),
    Row("R-PT-2", "SCREENING_TEST_MISSING", _cgp, _screening),
    Row("R-CYC-2", "PREGNANCY_TEST_REQUIRED", _cgp, _pregnancy_test),
    Row("R-ATT-1", "ATTESTATION_REQUIRED", _cgp, _attestation),
    Row("R-CYC-3", "VISIT_REQUIRED", _ccgp, _visit),
    Row("R-RMA-2", "ALREADY_AUTHORIZED", lambda ctx: ctx.has_rma, _no_open_rma),
    Row("R-RMA-3", "REFILL_TOO_SOON", lambda ctx: ctx.has_rma, _refill_timing),
)


def evaluate_rows(ctx: Context) -> tuple[tuple[Requirement, ...], tuple[Reason, ...]]:
    """Every applicable row as a Requirement, and the reasons of the unmet ones, in table order."""
    requirements: list[Requirement] = []
    reasons: list[Reason] = []
    for row in ROWS:
        if not row.applies(ctx):
            continue
        result = row.check(ctx)
        requirements.append(Requirement(row.code, result.met, result.detail))
        if not result.met:
            reasons.extend(result.reasons or (Reason(row.code, result.detail),))
    return tuple(requirements), tuple(reasons)
