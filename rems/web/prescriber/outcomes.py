"""What the prescriber is told after a record is saved: the engine's answer, not a green tick for
everything.

A saved record does not always meet the requirement it was entered for: a visit without
counseling, a confirmation test collected before the contraception lead-in ended (R-CON-2). The
service judges the record in its own transaction (rems.services.patients.RecordOutcome, from
workflows.records) and the view only words that verdict, with the engine's own sentences: a tired
prescriber reads the message, not the checklist. No rule lives here.
"""

from __future__ import annotations

from rems.services.patients import RecordOutcome

NOT_COUNSELED = "Counseling was not documented: record it when you counsel the patient."
# What rems.services.patients.record_test does with a positive result (R-PT-4), and nothing more.
POSITIVE_TEST = (
    "Positive pregnancy test recorded. Treatment has stopped: no RMA will be issued, any RMA still "
    "open must not be dispensed (its pharmacy has been notified), and a pregnancy registry case is "
    "open. The administrator has been notified."
)


def outcome(action: str, saved: str, payload: dict, result: object) -> tuple[str, str]:
    """The flash message and its category once the service has saved the record; `result` is what
    the service returned (a RecordOutcome for a visit, a test or contraception)."""
    if action == "test" and payload.get("result") == "positive":
        return POSITIVE_TEST, "warning"  # R-PT-4: treatment stopped, never a green "success"
    if not isinstance(result, RecordOutcome) or result.counts:
        return saved, "success"
    reasons = list(result.reasons)
    notes = []
    if action == "visit" and not payload.get("counseled"):  # R-PAT-4: the visit says so itself
        if any(r.code == "COUNSELING_REQUIRED" for r in reasons):
            reasons = [r for r in reasons if r.code != "COUNSELING_REQUIRED"]
            notes.append(NOT_COUNSELED)
    if reasons:
        notes[:0] = [r.message for r in reasons]
        saved = f"{saved.rstrip('.')}, but it does not count."
    return " ".join([saved, *notes]), "warning"
