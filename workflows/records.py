"""Does a new clinical record count? The checklist row(s) each kind of record is entered for, and
the engine's reasons when, once it is recorded, they are still unmet.

A saved record does not always meet the requirement it was entered for: a confirmation test
collected before the contraception lead-in ended (R-CON-2), a visit without counseling (R-PAT-4).
The service evaluates the patient before and after the record, in the record's own transaction,
and asks `not_counted_reasons`; the API answers it and the prescriber's page words it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .messages import short
from .results import PatientStatus, Reason

# The requirement row a negative pregnancy test of each kind is entered for (R-PT-1): the screening
# test (R-PT-2), the test that opens the cycle's window (R-CYC-2: confirmation in the first cycle,
# monthly after) and the post-treatment test (R-END-1).
TEST_ROWS = {
    "screening": "SCREENING_TEST_MISSING",
    "confirmation": "PREGNANCY_TEST_REQUIRED",
    "monthly": "PREGNANCY_TEST_REQUIRED",
    "post_treatment": "POST_TREATMENT_TEST",
}
# A visit documents counseling (R-PAT-4) and, for CCGP, confirms the cycle's visit (R-CYC-3).
VISIT_ROWS = ("COUNSELING_REQUIRED", "VISIT_REQUIRED")
# Contraception documents two forms or abstinence (R-CON-1). The lead-in it starts (R-CON-2) is a
# wait that no record fills, so a contraception started today counts.
CONTRACEPTION_ROWS = ("CONTRACEPTION_MISSING",)


@dataclass(frozen=True)
class EnteredFor:
    """The requirement rows a record is entered for; `not_documented`: those of them the record
    itself says it does not document (a visit without counseling, R-PAT-4); `visit_date`: the
    clinical date of a visit, which counts for a later cycle only from that cycle's first day on
    (R-CYC-1; a test dated earlier is refused before it is recorded, workflows.transitions)."""

    rows: tuple[str, ...]
    not_documented: tuple[str, ...] = ()
    visit_date: date | None = None


def entered_for(action: str, **payload) -> EnteredFor:
    """The rows a record of `action` (the transition's name, `check_transition`) is entered for."""
    if action == "record_visit":
        return EnteredFor(VISIT_ROWS, () if payload["counseled"] else ("COUNSELING_REQUIRED",),
                          payload.get("visit_date"))
    if action == "record_test":
        if payload["result"] != "negative":
            # R-PT-4: a positive result fills no row; it always takes effect (treatment stops)
            return EnteredFor(())
        return EnteredFor((TEST_ROWS[payload["kind"]],))
    if action == "record_contraception":
        return EnteredFor(CONTRACEPTION_ROWS)
    raise ValueError(f"not a clinical record: {action!r}")


def not_counted_reasons(entered: EnteredFor, before: PatientStatus, after: PatientStatus) -> tuple[Reason, ...]:
    """Why the record does not count; empty when it does.

    A record counts when every row it is entered for that applies to the patient after it is met
    (a row that does not apply, such as the visit confirmation of a CGP patient, R-CYC-3, or the
    cycle's rows once treatment ended, R-END-1, asks nothing of it). When some row is unmet, the
    reasons are those the record brought (they name it: "Confirmation test collected Mar 8 is too
    early: ..."), or, when it brought none, the unmet rows' own sentences; an unmet row the record
    does not document is always its own sentence, last."""
    unmet = [r for r in after.requirements if r.code in entered.rows and not r.met]
    others = [r for r in unmet if r.code not in entered.not_documented]
    missing = tuple(Reason(r.code, r.detail) for r in unmet if r.code in entered.not_documented)
    if not others:
        return missing
    known = set(before.reasons)
    brought = tuple(r for r in after.reasons if r not in known)
    return (brought or _dated_before_cycle(entered, after, others)
            or tuple(Reason(r.code, r.detail) for r in others)) + missing


# What a visit dated before the current cycle's first day does not do (R-CYC-1), row by row: the
# row's own sentence ("has not documented counseling this cycle") would deny the record just made.
_BEFORE_CYCLE = {
    "COUNSELING_REQUIRED": "the counseling it documents does not count for this cycle",
    "VISIT_REQUIRED": "it does not confirm this cycle's visit",
}


def _dated_before_cycle(entered: EnteredFor, after: PatientStatus, unmet) -> tuple[Reason, ...]:
    start = after.cycle_start_date
    if entered.visit_date is None or start is None or entered.visit_date >= start:
        return ()
    return tuple(
        Reason(r.code, f"The visit of {short(entered.visit_date, after.today)} is dated before this cycle "
                       f"began on {short(start, after.today)}: {_BEFORE_CYCLE[r.code]}; record a visit "
                       f"dated on or after {short(start, after.today)}.")
        for r in unmet if r.code in _BEFORE_CYCLE
    )
