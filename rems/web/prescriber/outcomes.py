"""What the prescriber is told after a record is saved: the engine's answer, not a green tick for
everything.

A saved record does not always meet the requirement it was entered for: a visit without
counseling, a confirmation test collected before the contraception lead-in ended (R-CON-2). The
engine already knows (the checklist shows it); a tired prescriber reads the message, not the
checklist. So the view asks the service for the patient status before and after the record and
says, with the engine's own sentences, when the checklist row the record was meant to fill is
still unmet. No rule lives here: which row a record is entered for is presentation, like the row
labels of the checklist.
"""

from __future__ import annotations

from rems.services import patients

# The checklist row a negative pregnancy test of each kind is entered for (R-PT-1, R-CYC-2, R-END-1).
TEST_ROWS = {
    "screening": "SCREENING_TEST_MISSING",
    "confirmation": "PREGNANCY_TEST_REQUIRED",
    "monthly": "PREGNANCY_TEST_REQUIRED",
    "post_treatment": "POST_TREATMENT_TEST",
}
# A visit documents counseling (R-PAT-4) and, for CCGP, confirms the cycle's visit (R-CYC-3).
VISIT_ROWS = ("COUNSELING_REQUIRED", "VISIT_REQUIRED")

NOT_COUNSELED = "Counseling was not documented: record it when you counsel the patient."
# What rems.services.patients.record_test does with a positive result (R-PT-4), and nothing more.
POSITIVE_TEST = (
    "Positive pregnancy test recorded. Treatment has stopped: no RMA will be issued, any RMA still "
    "open must not be dispensed (its pharmacy has been notified), and a pregnancy registry case is "
    "open. The administrator has been notified."
)


def _rows(action: str, payload: dict) -> tuple[str, ...]:
    """The checklist rows this record is entered for; none: nothing to check afterwards."""
    if action == "visit":
        return VISIT_ROWS
    if action == "test" and payload.get("result") == "negative":
        return (TEST_ROWS[payload["kind"]],)
    return ()


def _status(patient) -> dict:
    # not audited (R-AUD-1): the message is shown on the patient page the redirect opens, and that
    # page's read is the audited one
    return patients.patient_status(patient, "prescriber", audit_read=False)


def status_before(action: str, patient, payload: dict) -> dict | None:
    """The patient status before the record, when the outcome will be checked against it."""
    return _status(patient) if _rows(action, payload) else None


def _why_not_counted(before: dict, after: dict, unmet: dict[str, str]) -> list[str]:
    """The engine's reasons this record brought (they name it: "Confirmation test collected Mar 8
    is too early: ..."); when it brought none, the unmet rows' own sentences."""
    known = {(r["code"], r["message"]) for r in before["reasons"]}
    new = [r["message"] for r in after["reasons"] if (r["code"], r["message"]) not in known]
    return new or list(unmet.values())


def outcome(action: str, saved: str, patient, payload: dict, before: dict | None) -> tuple[str, str]:
    """The flash message and its category once the service has saved the record."""
    if action == "test" and payload.get("result") == "positive":
        return POSITIVE_TEST, "warning"  # R-PT-4: treatment stopped, never a green "success"
    if before is None:
        return saved, "success"
    rows = _rows(action, payload)
    after = _status(patient)
    unmet = {r["code"]: r["detail"] for r in after["requirements"] if r["code"] in rows and not r["met"]}
    if not unmet:
        return saved, "success"
    notes = []
    if not payload.get("counseled") and unmet.get("COUNSELING_REQUIRED"):  # R-PAT-4
        del unmet["COUNSELING_REQUIRED"]
        notes.append(NOT_COUNSELED)
    if unmet:
        notes[:0] = _why_not_counted(before, after, unmet)
        saved = f"{saved.rstrip('.')}, but it does not count."
    return " ".join([saved, *notes]), "warning"
