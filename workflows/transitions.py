"""Which record may be added now: a table action -> guards, each guard returning a refusal or None.

The service calls `check_transition` before writing a record; the first guard that refuses wins
and its Verdict carries a stable code, a sentence and the offending field.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from .clock import age_on, clinical_date_problem, local_date
from .context import Context
from .facts import CCGP, CGP, PatientFacts
from .messages import KIND_LABELS, forms_phrase, short
from .program import Program
from .results import Verdict

_no = Verdict.refuse
Guard = Callable[[Context, dict], Verdict | None]
TEST_KINDS = ("screening", "confirmation", "monthly", "post_treatment")  # R-PT-1


def _no_pregnancy(ctx: Context, p: dict) -> Verdict | None:  # R-PT-4
    if ctx.pregnancy_reported:
        return _no("PREGNANCY_REPORTED", "A pregnancy was reported: treatment has stopped.")
    return None


def _not_ended(ctx: Context, p: dict) -> Verdict | None:  # R-END-1
    if ctx.treatment_ended:
        return _no(
            "TREATMENT_ENDED", f"Treatment ended with the last dose on {short(ctx.patient.last_dose_date, ctx.today)}."
        )
    return None


def _cgp_only(ctx: Context, p: dict) -> Verdict | None:  # R-PAT-2
    if not ctx.is_cgp:
        return _no(
            "VALIDATION_ERROR",
            "This record applies only to patients who can get pregnant; change the category first.",
            "category",
        )
    return None


def _clinical_date(name: str) -> Guard:
    def guard(ctx: Context, p: dict) -> Verdict | None:  # R-TIME-2
        value = p.get(name)
        if not isinstance(value, date) or isinstance(value, datetime):
            return _no("VALIDATION_ERROR", f"{name} must be a date.", name)
        problem = clinical_date_problem(value, ctx.today, ctx.program)
        if problem == "DATE_IN_FUTURE":
            return _no(problem, f"{short(value)}, {value.year} is in the future.", name)
        if problem == "DATE_TOO_OLD":
            return _no(
                problem,
                f"{short(value)}, {value.year} is more than {ctx.program.clinical_date_max_age_days} days ago.",
                name,
            )
        return None

    return guard


def _counseled_flag(ctx: Context, p: dict) -> Verdict | None:
    if not isinstance(p.get("counseled"), bool):
        return _no("VALIDATION_ERROR", "counseled must be true or false.", "counseled")
    return None


def _contraception_valid(ctx: Context, p: dict) -> Verdict | None:  # R-CON-1
    forms, abstinence = tuple(p.get("forms") or ()), bool(p.get("abstinence"))
    program = ctx.program
    if abstinence and not forms:
        return None
    if abstinence:
        return _no(
            "CONTRACEPTION_INVALID",
            "Document either two forms of contraception or a commitment to abstinence, not both.",
            "forms",
        )
    unknown = [f for f in forms if f not in program.primary_forms | program.secondary_forms]
    if unknown:
        mini_pill = any("mini" in f or "progestin" in f for f in unknown)
        return _no(
            "CONTRACEPTION_INVALID",
            f"Not an accepted form of contraception: {forms_phrase(tuple(unknown))}"
            + (" (the progestin-only mini-pill is not a primary form)." if mini_pill else "."),
            "forms",
        )
    if len(forms) != 2 or forms[0] == forms[1]:
        return _no("CONTRACEPTION_INVALID", "Two different forms of contraception are required.", "forms")
    if not set(forms) & program.primary_forms:
        return _no("CONTRACEPTION_INVALID", "At least one of the two forms must be a primary form.", "forms")
    return None


def _test_values(ctx: Context, p: dict) -> Verdict | None:  # R-PT-1
    if p.get("kind") not in TEST_KINDS:
        return _no("INVALID_TEST_KIND", f"Unknown pregnancy test kind {p.get('kind')!r}.", "kind")
    if p.get("result") not in ("negative", "positive"):
        return _no("VALIDATION_ERROR", "result must be negative or positive.", "result")
    if p.get("setting") not in ("medical", "home"):
        return _no("VALIDATION_ERROR", "setting must be medical or home.", "setting")
    return None


def _test_kind_now(ctx: Context, p: dict) -> Verdict | None:  # R-PT-1, R-END-1
    kind = p["kind"]
    if ctx.treatment_ended:
        if kind != "post_treatment":
            return _not_ended(ctx, p)
        return None
    if kind == "post_treatment":
        return _no(
            "INVALID_TEST_KIND", "A post-treatment test is recorded after the end of treatment.", "kind"
        )
    if p["result"] == "positive":  # a positive result is always recorded (R-PT-4)
        return None
    if kind == "screening" and ctx.has_rma and ctx.course.screening is not None:
        return _no("INVALID_TEST_KIND", "The screening test is done once, before treatment.", "kind")
    expected = ctx.cycle.expected_test_kind
    if kind in ("confirmation", "monthly") and kind != expected:
        return _no(
            "INVALID_TEST_KIND",
            f"This cycle needs a {KIND_LABELS[expected]} test, not a {KIND_LABELS[kind]} test.",
            "kind",
        )
    return None


def _test_setting(ctx: Context, p: dict) -> Verdict | None:  # R-PT-2, R-PT-3, R-CYC-4
    if p["setting"] != "home" or p["result"] == "positive":
        return None
    kind = p["kind"]
    if kind not in ctx.program.home_test_kinds:
        return _no(
            "HOME_TEST_NOT_ALLOWED",
            f"A {KIND_LABELS[kind]} test must be done in a medical setting.",
            "setting",
        )
    since = ctx.patient.home_testing_since
    if since is None:
        return _no("HOME_TEST_NOT_ALLOWED", "Home testing is not enabled for this patient.", "setting")
    if p["specimen_date"] < since:
        return _no(
            "HOME_TEST_NOT_ALLOWED",
            f"Home testing was enabled for this patient on {ctx.day(since)}: a home test collected "
            f"before then does not count.",
            "setting",
        )
    return None


def _test_counts_for_cycle(ctx: Context, p: dict) -> Verdict | None:  # R-CYC-1, R-CYC-4
    cyc = ctx.cycle
    if p["result"] != "negative" or p["kind"] != cyc.expected_test_kind or cyc.number == 1:
        return None
    if p["specimen_date"] < cyc.earliest_test_date:
        why = f"the current cycle started {ctx.day(cyc.start_date)}"
        if cyc.follows_missed is not None and ctx.program.missed_window_lockout_days:
            why = (
                f"after the window missed on {ctx.day(cyc.follows_missed.closes)} the new test "
                f"can be collected only after a {ctx.program.missed_window_lockout_days}-day waiting period"
            )
        return _no(
            "VALIDATION_ERROR",
            f"This test would not count: {why}; collect it on or after {ctx.day(cyc.earliest_test_date)}.",
            "specimen_date",
        )
    return None


def _consent_unsigned(ctx: Context, p: dict) -> Verdict | None:  # R-PAT-3
    if ctx.patient.consent_signed_at is not None:
        return _no("CONSENT_ALREADY_SIGNED", "The informed consent is already signed.")
    return None


def _signed_on(ctx: Context, p: dict) -> Verdict | None:
    value = p.get("signed_on")
    if not isinstance(value, date) or isinstance(value, datetime):
        return _no("VALIDATION_ERROR", "signed_on must be a date.", "signed_on")
    if value > ctx.today:  # R-TIME-2
        return _no("DATE_IN_FUTURE", f"{short(value)}, {value.year} is in the future.", "signed_on")
    return None


def _guardian(ctx: Context, p: dict) -> Verdict | None:  # R-PAT-3
    if (
        age_on(ctx.patient.date_of_birth, p["signed_on"]) < ctx.program.adult_age_years
        and not str(p.get("guardian_name") or "").strip()
    ):
        return _no(
            "GUARDIAN_REQUIRED",
            f"The patient is under {ctx.program.adult_age_years}: a parent "
            f"or guardian name is required on the consent.",
            "guardian_name",
        )
    return None


def _attestation_due(ctx: Context, p: dict) -> Verdict | None:  # R-ATT-1
    if not ctx.is_cgp:
        return _no("ATTESTATION_NOT_REQUIRED", "No monthly attestation for patients who cannot get pregnant.")
    if ctx.cycle.attestations:
        return _no("ATTESTATION_NOT_REQUIRED", "This cycle's monthly attestation is already signed.")
    return None


def _attempts_left(ctx: Context, p: dict) -> Verdict | None:  # R-ATT-2
    if ctx.attestation_attempts_left <= 0:
        limit = ctx.program.attestation_attempt_limit
        return _no(
            "ATTEMPTS_EXHAUSTED",
            f"{limit} attempts failed this cycle: the prescriber must counsel the patient again first.",
        )
    return None


def _home_testing_off(ctx: Context, p: dict) -> Verdict | None:  # R-PT-3
    since = ctx.patient.home_testing_since
    if since is not None:
        return _no("VALIDATION_ERROR", f"Home testing is already enabled (since {ctx.day(since)}).")
    return None


def _reversible(ctx: Context, p: dict) -> Verdict | None:  # R-RMA-4
    rma = p.get("rma")
    if not any(
        a.rma == rma and a.reversed_at is None and a.recorded_at <= ctx.now
        for a in ctx.patient.authorizations
    ):
        return _no("NOT_REVERSIBLE", f"No unreversed authorization {rma} for this patient.", "rma")
    return None


def _after_enrollment(ctx: Context, p: dict) -> Verdict | None:  # R-END-1
    if p["last_dose_date"] < local_date(ctx.patient.enrolled_at, ctx.program):
        return _no(
            "LAST_DOSE_BEFORE_ENROLLMENT", "The last dose cannot predate the enrollment.", "last_dose_date"
        )
    return None


def _category_change(ctx: Context, p: dict) -> Verdict | None:  # R-PAT-2
    category = p.get("category")
    if category not in (CGP, CCGP):
        return _no("VALIDATION_ERROR", f"Unknown category {category!r}.", "category")
    if category == ctx.patient.category:
        return _no("CATEGORY_UNCHANGED", "The patient is already in this category.", "category")
    return None


TRANSITIONS: dict[str, tuple[Guard, ...]] = {
    "record_visit": (_no_pregnancy, _clinical_date("visit_date"), _counseled_flag),
    "record_contraception": (
        _no_pregnancy,
        _not_ended,
        _cgp_only,
        _clinical_date("start_date"),
        _contraception_valid,
    ),
    "record_test": (
        _no_pregnancy,
        _cgp_only,
        _test_values,
        _clinical_date("specimen_date"),
        _test_kind_now,
        _test_setting,
        _test_counts_for_cycle,
    ),
    "sign_consent": (_no_pregnancy, _not_ended, _consent_unsigned, _signed_on, _guardian),
    "attempt_attestation": (_no_pregnancy, _not_ended, _attestation_due, _attempts_left),
    "enable_home_testing": (_no_pregnancy, _cgp_only, _home_testing_off),
    "reverse_authorization": (_reversible,),
    "end_treatment": (_not_ended, _clinical_date("last_dose_date"), _after_enrollment),
    "change_category": (_no_pregnancy, _not_ended, _category_change),
}


def check_transition(
    action: str, patient: PatientFacts, program: Program, now: datetime, **payload
) -> Verdict:
    """May `action` be recorded for `patient` now? The first refusing guard answers."""
    guards = TRANSITIONS.get(action)
    if guards is None:
        return _no("VALIDATION_ERROR", f"Unknown action {action!r}.")
    ctx = Context.build(patient, program, now)
    for guard in guards:
        verdict = guard(ctx, payload)
        if verdict is not None:
            return verdict
    return Verdict.allow()
